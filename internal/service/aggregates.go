package service

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/judgement"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/policy"
	"github.com/arrears/arrears/internal/store"
	"github.com/arrears/arrears/internal/summary"
)

// aggregateDimensions are the groupings the summary aggregates keep apart.
var aggregateDimensions = []string{"debtor", "debtor_kind", "region", "currency"}

// fromAggregates answers a summary from the summary aggregates, and
// reports whether it could. It cannot when the request needs what only
// the invoices have (per-invoice detail and filters, the industry or
// creditor size), when the caller's scope is not the whole ledger, a
// regulator's remit or a debtor's own, when facts were recorded after known_at (the
// aggregates hold them; judging the invoices as known then leaves them
// out), or until every invoice's profile is counted.
func (l *Ledger) fromAggregates(ctx context.Context, q SummaryQuery) ([]*SummaryGroup, bool, error) {
	if !l.summaryReady.Load() || q.Detail || q.MinOverdue > 0 || q.MinLevel > 0 ||
		q.Industry != "" || q.CreditorSize != "" || !summary.Covers(q.AsOf) {
		return nil, false, nil
	}
	for _, g := range q.GroupBy {
		if !slices.Contains(aggregateDimensions, g) {
			return nil, false, nil
		}
	}
	nq := store.NodeQuery{Nodes: summary.Path(q.AsOf), RegionPrefix: q.RegionPrefix, DebtorKind: string(q.DebtorKind), Currency: q.Currency,
		ByDebtor: slices.Contains(q.GroupBy, "debtor")}
	switch sc := scope(ctx); {
	case sc.All:
	case len(sc.Debtors) > 0 && len(sc.Creditors) == 0 && sc.Portal == "" && sc.Remit == nil:
		// A debtor's own: its rows of the aggregates per debtor.
		nq.ByDebtor, nq.Debtors = true, sc.Debtors
	case sc.Remit != nil && sc.Remit.Jurisdiction != "" && len(sc.Debtors) == 0 && len(sc.Creditors) == 0 && sc.Portal == "":
		nq.Jurisdiction = sc.Remit.Jurisdiction
		// Both prefixes must hold: the longer, if one extends the other.
		switch r, f := sc.Remit.RegionPrefix, q.RegionPrefix; {
		case strings.HasPrefix(f, r):
			nq.RegionPrefix = f
		case strings.HasPrefix(r, f):
			nq.RegionPrefix = r
		default:
			return nil, true, nil
		}
	default:
		return nil, false, nil
	}
	// Counted under other policy data (a calendar since published, another
	// policy file), the due dates in the profiles may not be this server's.
	if fp, err := l.store.SummaryState(ctx, fingerprintState); err != nil || fp != l.fingerprint {
		return nil, false, err
	}
	sums, err := l.store.SummaryNodes(ctx, nq)
	if err != nil {
		return nil, false, err
	}
	// After the read: a change committed before it, and recorded after
	// known_at, is seen here (checking first would miss one committed in
	// between).
	if changed, err := l.store.SummaryChangedAfter(ctx, q.KnownAt); err != nil || changed {
		return nil, false, err
	}
	// A change left out of a stored figure (it would have passed the int64
	// range) leaves the aggregates without the group's total for good:
	// the invoices give it, or say it is beyond the range.
	for _, s := range sums {
		if s.Marked {
			return nil, false, nil
		}
	}
	names := judgement.BucketNames(policy.DefaultBucketEdges())
	groups := map[string]*SummaryGroup{}
	for _, s := range sums {
		if s.M[summary.Levels-1][summary.Count] == 0 {
			continue // everything in the group settled by as_of
		}
		key := map[string]string{}
		for _, d := range q.GroupBy {
			switch d {
			case "debtor":
				key[d] = "parties/" + s.Key.Debtor
			case "debtor_kind":
				key[d] = s.Key.Kind
			case "region":
				r := s.Key.Region
				if q.RegionDigits > 0 && len(r) > q.RegionDigits {
					r = r[:q.RegionDigits]
				}
				key[d] = r
			case "currency":
				key[d] = s.Key.Currency
			}
		}
		g := groupOf(groups, key, s.Key.Currency)
		sum := exactSum{overflow: s.Overflow}
		for b, name := range names {
			t := s.M.Bucket(b)
			if t[summary.Count] != 0 {
				bt := g.Buckets[name]
				bt.Count += t[summary.Count]
				sum.add(&bt.Amount, t[summary.Amount])
				g.Buckets[name] = bt
			}
			if t[summary.NetCount] != 0 {
				bt := g.BucketsNet[name]
				bt.Count += t[summary.NetCount]
				sum.add(&bt.Amount, t[summary.NetAmount])
				g.BucketsNet[name] = bt
			}
			g.Invoices += t[summary.Count]
			sum.add(&g.Outstanding, t[summary.Amount])
			if b > 0 {
				sum.add(&g.Overdue, t[summary.Amount])
				sum.add(&g.OverdueNet, t[summary.NetAmount])
				g.OverdueInvoices += t[summary.Count]
			}
		}
		if err := sum.err(key, s.Key.Currency); err != nil {
			return nil, false, err
		}
	}
	return sortedGroups(groups), true, nil
}

// PrepareSummaries counts in the summary aggregates every invoice not yet
// in them (recorded before they existed, or by a version without them),
// then lets summaries read them. A server runs it at start; replicas
// running it together do not count an invoice twice, since each profile
// is replaced under the invoice's lock.
func (l *Ledger) PrepareSummaries(ctx context.Context) error {
	// The first server claims the aggregates for its policy data; one with
	// other data judges invoices until "arrearsd summary rebuild".
	fp := l.fingerprint
	if err := l.store.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.PutSummaryState(ctx, fingerprintState, fp, false)
	}); err != nil {
		return err
	}
	if stored, err := l.store.SummaryState(ctx, fingerprintState); err != nil {
		return err
	} else if stored != fp {
		l.log.Warn("the summary aggregates were counted under other policy data: summaries judge every invoice until \"arrearsd summary rebuild\" runs with this data")
	}
	total := 0
	var after uuid.UUID
	for {
		ids, err := l.store.InvoicesWithoutProfile(ctx, after, 500)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			break
		}
		invs := make([]*ledger.Invoice, len(ids))
		for i, id := range ids {
			invs[i] = &ledger.Invoice{ID: id}
		}
		if err := l.recount(ctx, invs); err != nil {
			return err
		}
		total += len(ids)
		after = ids[len(ids)-1]
		l.log.Info("counted invoices in the summary aggregates", "invoices", total)
	}
	l.summaryReady.Store(true)
	return nil
}

// RebuildSummaries recomputes every invoice's profile and corrects the
// aggregates by the difference: after the policy data changed (a holiday
// calendar published, a policy file replaced), due dates may have moved.
// For the same reason it makes every invoice's escalation check due, so
// the sweeper judges each again under the new data (recording or correcting
// its levels) and schedules it anew: a row the old data left with no next
// check would otherwise never be looked at again.
func (l *Ledger) RebuildSummaries(ctx context.Context) (int, error) {
	q := store.InvoiceQuery{Scope: scope(ctx)}
	q.Page.Limit = 500
	n := 0
	for {
		invs, err := l.store.ListInvoices(ctx, q)
		if err != nil {
			return n, err
		}
		if len(invs) == 0 {
			// Every profile is this data's now.
			return n, l.store.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
				return tx.PutSummaryState(ctx, fingerprintState, l.fingerprint, true)
			})
		}
		if err := l.recount(ctx, invs); err != nil {
			return n, err
		}
		if err := l.recheckEscalations(ctx, invs); err != nil {
			return n, err
		}
		n += len(invs)
		q.Page.AfterID = invs[len(invs)-1].ID
	}
}

// recheckEscalations makes the invoices' escalation checks due today in
// every time zone (the earliest date anywhere), unless they already are.
func (l *Ledger) recheckEscalations(ctx context.Context, invs []*ledger.Invoice) error {
	earliest := civil.DateOf(l.now(), time.FixedZone("UTC-12", -12*3600))
	return l.store.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
		escs, err := tx.EscalationsOf(ctx, invoiceIDs(invs))
		if err != nil {
			return err
		}
		var due []*ledger.Escalation
		for _, e := range escs {
			if e.NextCheck.IsZero() || e.NextCheck.After(earliest) {
				e.NextCheck = earliest
				due = append(due, e)
			}
		}
		return tx.PutEscalations(ctx, due)
	})
}

// fingerprintState names the policy data's fingerprint in the summary
// state.
const fingerprintState = "policy_fingerprint"

// mixedFingerprint stands for the fingerprint when profiles were counted
// under two servers' policy data: it is no server's, so none reads the
// aggregates until a rebuild claims them.
const mixedFingerprint = "mixed"

// recount recomputes the profiles of a batch of invoices in a transaction
// of its own, each locked and read again first.
func (l *Ledger) recount(ctx context.Context, invs []*ledger.Invoice) error {
	return l.store.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
		// The debtors' rows are shared before their invoices are locked,
		// as every writer of an invoice takes them (lockWithDebtor). The
		// invoices are read for their debtors first: callers may know
		// them by id alone (PrepareSummaries).
		invIDs := make([]uuid.UUID, len(invs))
		for i, inv := range invs {
			invIDs[i] = inv.ID
		}
		read, err := tx.InvoicesOf(ctx, invIDs)
		if err != nil {
			return err
		}
		debtors := map[uuid.UUID]bool{}
		var ids []uuid.UUID
		for _, inv := range read {
			if !debtors[inv.DebtorID] {
				debtors[inv.DebtorID] = true
				ids = append(ids, inv.DebtorID)
			}
		}
		slices.SortFunc(ids, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
		for _, id := range ids {
			if _, err := tx.ShareParty(ctx, id); err != nil {
				return err
			}
		}
		locked, err := lockAll(ctx, tx, invs)
		if err != nil {
			return err
		}
		return l.resummarize(ctx, tx, locked, l.now())
	})
}

// lockAll locks invoices (in the order given: callers list them by id) and
// returns them as they now stand.
func lockAll(ctx context.Context, tx store.Tx, invs []*ledger.Invoice) ([]*ledger.Invoice, error) {
	out := make([]*ledger.Invoice, len(invs))
	for i, inv := range invs {
		cur, err := tx.LockInvoice(ctx, inv.ID)
		if err != nil {
			return nil, err
		}
		out[i] = cur
	}
	return out, nil
}
