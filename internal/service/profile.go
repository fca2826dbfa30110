package service

import (
	"context"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/auth"
	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/judgement"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/store"
	"github.com/arrears/arrears/internal/summary"
)

// summaryKey is the group an invoice's contributions to the summary
// aggregates are kept under.
func summaryKey(debtor *ledger.Party, currency string) summary.Key {
	return summary.Key{Debtor: debtor.ID.String(), Jurisdiction: debtor.Jurisdiction, Region: debtor.RegionCode, Kind: string(debtor.Kind), Currency: currency}
}

// fieldVersion is an invoice's own fields as they stand from a date on
// (zero: from the start) until the next version's date.
type fieldVersion struct {
	from   civil.Date
	fields *ledger.Invoice
}

// profileOf computes an invoice's summary profile on its fields and facts
// as recorded now: for every date, its due date and what it owes, gross
// and net of open disputes, as the judgement gives them on that date. An
// invoice counts from its issue date. A correction effective from a date
// splits the profile there, the fields before it being those that stood
// then, as the judgement of an earlier date uses them.
func (l *Ledger) profileOf(inv *ledger.Invoice, revs []*ledger.Revision, debtor *ledger.Party, f *store.Facts) (summary.Profile, error) {
	versions, err := fieldVersions(inv, revs)
	if err != nil {
		return nil, err
	}
	if f == nil {
		f = &store.Facts{}
	}
	var p summary.Profile
	for i, v := range versions {
		var to civil.Date
		if i+1 < len(versions) {
			to = versions[i+1].from
		}
		in := func(d civil.Date) bool {
			return !d.Before(v.from) && (to.IsZero() || d.Before(to))
		}
		cur := v.fields
		var due civil.Date
		var bs []judgement.Balance
		if pol, err := l.policyOf(cur); err == nil {
			// An invoice the judgement cannot judge owes nothing in the
			// summary, as its judgement reports nothing outstanding.
			due, bs, _ = judgement.Balances(judgement.Input{Invoice: *cur, Payments: f.Payments,
				CreditNotes: f.CreditNotes, Disputes: f.Disputes, Policy: pol, PolicyValidated: true, Tables: l.policies})
		}
		dates := []civil.Date{cur.IssuedOn}
		if !v.from.IsZero() {
			dates = append(dates, v.from)
		}
		for _, b := range bs {
			if !b.On.IsZero() {
				dates = append(dates, b.On)
			}
		}
		slices.SortFunc(dates, civil.Date.Compare)
		key := summaryKey(debtor, cur.Amount.Currency)
		for _, d := range slices.Compact(dates) {
			if !in(d) {
				continue
			}
			s := summary.Segment{Key: key, From: d}
			if !d.Before(cur.IssuedOn) {
				var b judgement.Balance
				for _, x := range bs {
					if !x.On.After(d) {
						b = x
					}
				}
				s.Due, s.Outstanding, s.Net = due, b.Outstanding, b.Outstanding-b.DisputedOpen
			}
			p = p.Add(s)
		}
	}
	return p, nil
}

// fieldVersions lists the versions of an invoice's own fields over dates:
// one for an invoice never corrected from a date, else one from each date
// a correction takes effect, the last (from the latest) being the fields
// as they are now. revs are the invoice's revisions, needed only if it
// was corrected.
func fieldVersions(inv *ledger.Invoice, revs []*ledger.Revision) ([]fieldVersion, error) {
	if inv.CorrectedOn.IsZero() {
		return []fieldVersion{{fields: inv}}, nil
	}
	var bounds []civil.Date
	for _, rev := range revs {
		if rev.Method == "UpdateInvoice" && rev.EffectiveOn.Before(inv.CorrectedOn) {
			bounds = append(bounds, rev.EffectiveOn)
		}
	}
	bounds = append(bounds, inv.CorrectedOn)
	slices.SortFunc(bounds, civil.Date.Compare)
	bounds = slices.Compact(bounds)
	forever := time.Unix(1<<40, 0)
	first, err := fieldsFrom(revs, inv, bounds[0].AddDays(-1), forever)
	if err != nil {
		return nil, err
	}
	out := []fieldVersion{{fields: first}}
	for _, b := range bounds {
		fields := inv
		if b.Before(inv.CorrectedOn) {
			if fields, err = fieldsFrom(revs, inv, b, forever); err != nil {
				return nil, err
			}
		}
		out = append(out, fieldVersion{from: b, fields: fields})
	}
	return out, nil
}

// resummarize brings the summary aggregates up to date with invoices as
// they now stand in tx (after a change to them or to their facts), in the
// same transaction.
func (l *Ledger) resummarize(ctx context.Context, tx store.Tx, invs []*ledger.Invoice, now time.Time) error {
	if len(invs) == 0 {
		return nil
	}
	if later, ok := ctx.Value(laterKey{}).(*summarizeLater); ok {
		later.add(invs)
		return nil
	}
	// The profiles first: holding them, the facts and the debtor read next
	// are those any concurrent change to the same profiles committed.
	ids := invoiceIDs(invs)
	olds, err := tx.LockSummaryProfiles(ctx, ids)
	if err != nil {
		return err
	}
	facts, err := tx.Facts(ctx, ids)
	if err != nil {
		return err
	}
	return l.putProfiles(ctx, tx, invs, facts, olds, now)
}

// resummarizeNew counts invoices just created, with the facts given (nil:
// none), in the summary aggregates: they have no profile yet, and their
// facts are known, so nothing is read.
func (l *Ledger) resummarizeNew(ctx context.Context, tx store.Tx, invs []*ledger.Invoice, facts map[uuid.UUID]*store.Facts, now time.Time) error {
	if len(invs) == 0 {
		return nil
	}
	return l.putProfiles(ctx, tx, invs, facts, nil, now)
}

// putProfiles computes the invoices' profiles and stores those that differ
// from olds, with their change to the aggregates.
func (l *Ledger) putProfiles(ctx context.Context, tx store.Tx, invs []*ledger.Invoice, facts map[uuid.UUID]*store.Facts, olds map[uuid.UUID]summary.Profile, now time.Time) error {
	pc, err := l.profileChanges(ctx, tx, invs, facts, olds)
	if err != nil {
		return err
	}
	return l.putBatch(ctx, tx, pc, now)
}

// profileBatch is computed profiles and their change to the aggregates,
// not yet stored: the bulk sync computes them before it takes its turn to
// write.
type profileBatch struct {
	changes []store.ProfileChange
	nodes   []summary.NodeChange
}

// putBatch stores computed profiles and their change to the aggregates.
// Profiles counted under other policy data than the aggregates' (replicas
// of two versions side by side during an upgrade) make the aggregates no
// one data's: they are then marked so, and every server judges summaries
// invoice by invoice until "arrearsd summary rebuild" runs.
func (l *Ledger) putBatch(ctx context.Context, tx store.Tx, pc profileBatch, now time.Time) error {
	if len(pc.changes) == 0 {
		return nil
	}
	stored, err := tx.SummaryState(ctx, fingerprintState)
	if err != nil {
		return err
	}
	if stored != "" && stored != l.fingerprint && stored != mixedFingerprint {
		if err := tx.PutSummaryState(ctx, fingerprintState, mixedFingerprint, true); err != nil {
			return err
		}
	}
	return tx.PutSummaryProfiles(ctx, pc.changes, pc.nodes, now)
}

// profileChanges computes the invoices' profiles, keeping those that differ
// from olds, with their change to the aggregates. It writes nothing, and
// holds the debtors' rows against change (ShareParty) until tx ends.
func (l *Ledger) profileChanges(ctx context.Context, tx store.Tx, invs []*ledger.Invoice, facts map[uuid.UUID]*store.Facts, olds map[uuid.UUID]summary.Profile) (profileBatch, error) {
	// The revisions of corrected invoices, in one read: their profiles
	// follow the corrections' dates.
	var corrected []uuid.UUID
	for _, inv := range invs {
		if !inv.CorrectedOn.IsZero() {
			corrected = append(corrected, inv.ID)
		}
	}
	var revs map[uuid.UUID][]*ledger.Revision
	if len(corrected) > 0 {
		var err error
		if revs, err = tx.RevisionsOf(ctx, corrected); err != nil {
			return profileBatch{}, err
		}
	}
	debtors := map[uuid.UUID]*ledger.Party{}
	var changes []store.ProfileChange
	var before, after []summary.Profile
	for _, inv := range invs {
		debtor, ok := debtors[inv.DebtorID]
		if !ok {
			var err error
			// Shared-locked: a change of the debtor's region or kind
			// waits for these profiles to commit, then recounts them.
			if debtor, err = tx.ShareParty(ctx, inv.DebtorID); err != nil {
				return profileBatch{}, err
			}
			debtors[inv.DebtorID] = debtor
		}
		p, err := l.profileOf(inv, revs[inv.ID], debtor, facts[inv.ID])
		if err != nil {
			return profileBatch{}, err
		}
		old, had := olds[inv.ID]
		old = old.WithDebtor(inv.DebtorID.String())
		if had && slices.Equal(old, p) {
			continue
		}
		changes = append(changes, store.ProfileChange{InvoiceID: inv.ID, DebtorID: inv.DebtorID, Profile: p, New: !had})
		before, after = append(before, old), append(after, p)
	}
	if len(changes) == 0 {
		return profileBatch{}, nil
	}
	return profileBatch{changes, summary.Changes(before, after)}, nil
}

// resummarizeDebtor recomputes the profiles of all of a debtor's invoices
// in tx, page by page. Each invoice is locked and read again first, as
// every writer of an invoice does, so a change committed meanwhile is in
// the profile.
func (l *Ledger) resummarizeDebtor(ctx context.Context, tx store.Tx, debtor uuid.UUID, now time.Time) error {
	q := store.InvoiceQuery{Scope: auth.Scope{All: true}, DebtorID: debtor}
	q.Page.Limit = 500
	for {
		invs, err := tx.ListInvoices(ctx, q)
		if err != nil {
			return err
		}
		locked, err := lockAll(ctx, tx, invs)
		if err != nil {
			return err
		}
		if err := l.resummarize(ctx, tx, locked, now); err != nil {
			return err
		}
		if len(invs) < q.Page.Limit {
			return nil
		}
		q.Page.AfterID = invs[len(invs)-1].ID
	}
}

// summarizeLater collects the invoices a bulk transaction changes one by
// one, so that their profiles are recomputed together at its end: one read
// of profiles, facts and debtors for the lot instead of one per change.
type summarizeLater struct {
	latest map[uuid.UUID]*ledger.Invoice
	order  []uuid.UUID
	// log records the additions, so that a record rolled back to its
	// savepoint can take its own back (undo).
	log []laterEntry
}

type laterEntry struct {
	id   uuid.UUID
	prev *ledger.Invoice // nil: not collected before
}

type laterKey struct{}

func withSummarizeLater(ctx context.Context) (context.Context, *summarizeLater) {
	s := &summarizeLater{latest: map[uuid.UUID]*ledger.Invoice{}}
	return context.WithValue(ctx, laterKey{}, s), s
}

func (s *summarizeLater) add(invs []*ledger.Invoice) {
	for _, inv := range invs {
		prev, seen := s.latest[inv.ID]
		if !seen {
			s.order = append(s.order, inv.ID)
		}
		s.log = append(s.log, laterEntry{inv.ID, prev})
		c := *inv
		s.latest[inv.ID] = &c
	}
}

// mark is a position to undo to.
func (s *summarizeLater) mark() int { return len(s.log) }

// undo takes back what was collected after mark m.
func (s *summarizeLater) undo(m int) {
	for i := len(s.log) - 1; i >= m; i-- {
		e := s.log[i]
		if e.prev == nil {
			delete(s.latest, e.id)
			s.order = s.order[:len(s.order)-1] // added last, so removed first
		} else {
			s.latest[e.id] = e.prev
		}
	}
	s.log = s.log[:m]
}

// flush recomputes the collected invoices' profiles in tx.
func (l *Ledger) flushSummarizeLater(ctx context.Context, tx store.Tx, s *summarizeLater, now time.Time) error {
	invs := make([]*ledger.Invoice, 0, len(s.order))
	for _, id := range s.order {
		invs = append(invs, s.latest[id])
	}
	s.latest, s.order, s.log = map[uuid.UUID]*ledger.Invoice{}, nil, nil
	return l.resummarize(ctx, tx, invs, now)
}
