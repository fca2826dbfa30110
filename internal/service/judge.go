package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/judgement"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/money"
	"github.com/arrears/arrears/internal/policy"
	"github.com/arrears/arrears/internal/store"
)

// Judged is an invoice as known at KnownAt, with its judgement as of AsOf.
type Judged struct {
	Invoice   *ledger.Invoice
	Judgement judgement.Judgement
	KnownAt   time.Time
	// Facts are the payments, credit notes and disputes the judgement
	// counted, as known at KnownAt.
	Facts *store.Facts
	// Outstanding is what the invoice shown leaves owed as known at
	// KnownAt: its amount as known then, less what was paid and credited.
	// Shown with fields as they stood before a later correction, the
	// amount is the older one, and the difference would not be what is
	// owed (negative, for an amount raised and then paid beyond the old).
	Outstanding int64
}

// explicitReason marks a policy the creator named, so that later
// corrections do not re-select it.
const explicitReason = "set explicitly when the invoice was recorded"

// choosePolicy picks the policy for a new or corrected invoice: the one
// named (id or id@version), or the one the law selects for these parties
// and this contract.
func (l *Ledger) choosePolicy(v *ledger.ValidationError, named string, debtor *ledger.Party, inv *ledger.Invoice) {
	if named != "" {
		id, ver, _ := strings.Cut(named, "@")
		version := 0
		if ver != "" {
			n, err := strconv.Atoi(ver)
			if err != nil || n < 1 {
				v.Add("invoice.policy", "%q: the version after @ must be a positive number", named)
				return
			}
			version = n
		}
		p, ok := l.policies.Get(id, version)
		if !ok {
			v.Add("invoice.policy", "no payment policy %q; see ListPaymentPolicies", named)
			return
		}
		inv.PolicyID, inv.PolicyVersion, inv.PolicyReason = p.ID, p.Version, explicitReason
		return
	}
	p, reason := l.policies.Select(debtor.Kind, debtor.Jurisdiction, debtor.RegionCode, inv.CreditorSizeAtSigning.IsSME(), inv.ContractSignedOn, inv.IssuedOn)
	inv.PolicyID, inv.PolicyVersion, inv.PolicyReason = p.ID, p.Version, reason
}

// policyOf returns the policy an invoice is judged under. Its lists are the
// registry's (Lookup): the judgement and the summaries only read them.
func (l *Ledger) policyOf(inv *ledger.Invoice) (policy.Policy, error) {
	p, ok := l.policies.Lookup(inv.PolicyID, inv.PolicyVersion)
	if !ok {
		return policy.Policy{}, fmt.Errorf("invoice %s is judged under %s@%d, which this server does not have", inv.ID, inv.PolicyID, inv.PolicyVersion)
	}
	return *p, nil
}

// zoneOf is the zone of an invoice's business dates: its policy's, or for a
// policy spanning several states, its debtor's jurisdiction's.
func (l *Ledger) zoneOf(p policy.Policy, debtorJurisdiction string) *time.Location {
	if p.TimeZone != "" {
		if loc, err := l.loadZone(p.TimeZone); err == nil {
			return loc
		}
	}
	return l.location(debtorJurisdiction)
}

func (l *Ledger) loadZone(name string) (*time.Location, error) {
	l.zonesMu.Lock()
	defer l.zonesMu.Unlock()
	if loc, ok := l.zones["tz:"+name]; ok {
		return loc, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	l.zones["tz:"+name] = loc
	return loc, nil
}

// findingUnavailable marks an invoice the server could not judge: its
// policy is not loaded, or the judgement failed. It has no figures.
const findingUnavailable = "JUDGEMENT_UNAVAILABLE"

// findingNotYetIssued marks an invoice judged as of a date before its
// issue date. The judgement still says what the facts give (a delivery
// may have started the clock), but the overdue summaries count an invoice
// from its issue date, and a list filtered on the judgement passes it
// over too, so that the list and the summary of one date agree.
const findingNotYetIssued = "NOT_YET_ISSUED"

// judge evaluates one invoice. A judgement that cannot be made (a rate
// table that does not reach the dates needed) is reported as a finding, so
// that reading an invoice never fails on it.
func (l *Ledger) judge(inv *ledger.Invoice, f *store.Facts, p policy.Policy, asOf civil.Date) judgement.Judgement {
	if f == nil {
		f = &store.Facts{}
	}
	in := judgement.Input{Invoice: *inv, Payments: f.Payments, CreditNotes: f.CreditNotes,
		Disputes: f.Disputes, Policy: p, PolicyValidated: true, Tables: l.policies, AsOf: asOf}
	j, err := judgement.Evaluate(in)
	if errors.Is(err, judgement.ErrMissingData) || errors.Is(err, judgement.ErrInterestOverflow) {
		// What is owed and how late does not need the rate that is
		// missing, or the interest too large to count: judge without
		// interest, and say why there is none, rather than leave the
		// invoice out of every figure.
		in.Policy.Interest = policy.Interest{Method: policy.InterestNone, DayCount: p.Interest.DayCount}
		in.Invoice.AgreedRate = nil
		if j, err2 := judgement.Evaluate(in); err2 == nil {
			j.PolicyID, j.PolicyVersion = p.ID, p.Version
			j.InterestRule = "interest not computed: " + err.Error()
			j.Findings = append(j.Findings, judgement.Finding{Code: "INTEREST_UNAVAILABLE", Message: err.Error()})
			return j
		}
	}
	if err != nil {
		return judgement.Judgement{PolicyID: p.ID, PolicyVersion: p.Version, AsOf: asOf, Currency: inv.Amount.Currency,
			Findings: []judgement.Finding{{Code: findingUnavailable, Message: err.Error()}}}
	}
	return j
}

// asKnownAt rewinds an invoice and its facts to what was recorded at or
// before k: the invoice's fields from its revision then, facts recorded by
// then, and reversals and resolutions only if recorded by then.
func asKnownAt(ctx context.Context, r store.Reader, inv *ledger.Invoice, f *store.Facts, k time.Time) (*ledger.Invoice, *store.Facts, error) {
	if !inv.UpdateTime.After(k) && !factsAfter(f, k) {
		return inv, f, nil
	}
	if inv.CreateTime.After(k) {
		return nil, nil, ledger.ErrNotFound
	}
	revs, err := r.ListRevisions(ctx, inv.ID, 0, 100000)
	if err != nil {
		return nil, nil, err
	}
	var then *ledger.Invoice
	for _, rev := range revs {
		if rev.RecordTime.After(k) {
			break
		}
		var snap ledger.Invoice
		if err := json.Unmarshal(rev.Snapshot, &snap); err != nil {
			return nil, nil, fmt.Errorf("invoice %s revision %d: %w", inv.ID, rev.Revision, err)
		}
		then = &snap
	}
	if then == nil {
		return nil, nil, ledger.ErrNotFound
	}
	out := &store.Facts{}
	for _, p := range f.Payments {
		if p.CreateTime.After(k) {
			continue
		}
		if p.State == ledger.PaymentReversed && p.UpdateTime.After(k) {
			p.State, p.ReversedOn, p.ReversalReason = ledger.PaymentRecorded, civil.Date{}, ""
		}
		out.Payments = append(out.Payments, p)
	}
	for _, c := range f.CreditNotes {
		if !c.CreateTime.After(k) {
			out.CreditNotes = append(out.CreditNotes, c)
		}
	}
	for _, d := range f.Disputes {
		if d.CreateTime.After(k) {
			continue
		}
		if d.State == ledger.DisputeResolved && d.UpdateTime.After(k) {
			d.State, d.Resolution, d.ResolvedOn, d.CreditNoteID = ledger.DisputeOpen, "", civil.Date{}, uuid.Nil
		}
		out.Disputes = append(out.Disputes, d)
	}
	return then, out, nil
}

func factsAfter(f *store.Facts, k time.Time) bool {
	for _, p := range f.Payments {
		if p.UpdateTime.After(k) {
			return true
		}
	}
	for _, c := range f.CreditNotes {
		if c.CreateTime.After(k) {
			return true
		}
	}
	for _, d := range f.Disputes {
		if d.UpdateTime.After(k) {
			return true
		}
	}
	return false
}

// judgePage reads a page of invoices and judges them, the page and its
// facts in one snapshot, as JudgeInvoice reads one: read statement by
// statement, a dispute resolved with a credit note between the reads of
// credit notes and of disputes showed as credited without its note.
func (l *Ledger) judgePage(ctx context.Context, q store.InvoiceQuery, asOf civil.Date, knownAt time.Time) (rows []*ledger.Invoice, js []*Judged, err error) {
	err = l.store.SnapshotRead(ctx, func(ctx context.Context, r store.Reader) error {
		var err error
		if rows, err = r.ListInvoices(ctx, q); err != nil {
			return err
		}
		js, err = l.judgeAll(ctx, r, rows, asOf, knownAt)
		return err
	})
	return rows, js, err
}

// judgeAll judges a batch of invoices as of asOf (zero: each one's today)
// on the facts known at knownAt; invoices that did not exist then are
// dropped.
func (l *Ledger) judgeAll(ctx context.Context, r store.Reader, invs []*ledger.Invoice, asOf civil.Date, knownAt time.Time) ([]*Judged, error) {
	facts, err := r.Facts(ctx, invoiceIDs(invs))
	if err != nil {
		return nil, err
	}
	zones := map[uuid.UUID]string{}
	out := make([]*Judged, 0, len(invs))
	for _, inv := range invs {
		cur, f, err := asKnownAt(ctx, r, inv, facts[inv.ID], knownAt)
		if errors.Is(err, ledger.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		owed := cur.Outstanding()
		d := asOf
		if !d.IsZero() && cur.CorrectedOn.After(d) {
			// A correction takes effect after the date judged: judge the
			// fields, and the policy they chose, as they stood then.
			if cur, err = fieldsAsOf(ctx, r, cur, d, knownAt); err != nil {
				return nil, err
			}
		}
		p, perr := l.policyOf(cur)
		if d.IsZero() {
			j, ok := zones[cur.DebtorID]
			if !ok {
				debtor, err := r.GetParty(ctx, cur.DebtorID)
				if err != nil {
					return nil, err
				}
				j = debtor.Jurisdiction
				zones[cur.DebtorID] = j
			}
			// Today in the policy's zone (the debtor's without one),
			// whatever known_at says: "as of today, as known then".
			d = civil.DateOf(l.now(), l.zoneOf(p, j))
		}
		if perr != nil {
			// A policy this server lacks (a newer replica's, during an
			// upgrade): this invoice is shown unjudged, saying why, and the
			// others of the page are judged, as the sweeper and the
			// summaries skip it rather than fail.
			out = append(out, &Judged{Invoice: cur, KnownAt: knownAt, Facts: f, Outstanding: owed, Judgement: judgement.Judgement{PolicyID: cur.PolicyID,
				PolicyVersion: cur.PolicyVersion, AsOf: d, Currency: cur.Amount.Currency,
				Findings: []judgement.Finding{{Code: findingUnavailable, Message: perr.Error()}}}})
			continue
		}
		j := l.judge(cur, f, p, d)
		if cur.IssuedOn.After(d) {
			j.Findings = append(j.Findings, judgement.Finding{Code: findingNotYetIssued, Message: fmt.Sprintf(
				"issued on %s, after %s: the overdue summaries and reports count an invoice from its issue date, and filters on the judgement pass it over", cur.IssuedOn, d)})
		}
		out = append(out, &Judged{Invoice: cur, Judgement: j, KnownAt: knownAt, Facts: f, Outstanding: owed})
	}
	return out, nil
}

// JudgeInvoice returns an invoice the caller may see, as known at knownAt
// (zero: now), judged as of asOf (zero: today in its policy's zone).
//
// The invoice and its facts are read in one snapshot: a payment committed
// between two separate reads, recorded before knownAt, would count in the
// judgement but not in the invoice's paid total read before it.
func (l *Ledger) JudgeInvoice(ctx context.Context, id uuid.UUID, asOf civil.Date, knownAt time.Time) (*Judged, error) {
	if knownAt.IsZero() {
		knownAt = l.now()
	}
	var out *Judged
	err := l.store.SnapshotRead(ctx, func(ctx context.Context, r store.Reader) error {
		inv, err := visibleInvoice(ctx, r, id, nil)
		if err != nil {
			return err
		}
		js, err := l.judgeAll(ctx, r, []*ledger.Invoice{inv}, asOf, knownAt)
		if err != nil {
			return err
		}
		if len(js) == 0 {
			return ledger.ErrNotFound
		}
		out = js[0]
		return nil
	})
	return out, err
}

// JudgementFilter is a condition on the judgement of a listed invoice.
type JudgementFilter struct {
	Field string // bucket, bucket_net, escalation_level, days_overdue
	Op    string // = != < <= > >=
	Value string
}

func (f JudgementFilter) match(j judgement.Judgement) bool {
	for _, fd := range j.Findings {
		if fd.Code == findingUnavailable || fd.Code == findingNotYetIssued {
			// No figures to compare: not "NONE" or "0 days", unknown; or
			// not yet issued, which the summaries do not count.
			return false
		}
	}
	var n int
	switch f.Field {
	case "bucket":
		gross, _ := APIBuckets(j)
		return (gross == f.Value) == (f.Op == "=")
	case "bucket_net":
		_, net := APIBuckets(j)
		return (net == f.Value) == (f.Op == "=")
	case "escalation_level":
		n = j.EscalationLevel
	case "days_overdue":
		n = j.DaysOverdue
	default:
		return false
	}
	want, _ := strconv.Atoi(f.Value)
	switch f.Op {
	case "=":
		return n == want
	case "!=":
		return n != want
	case "<":
		return n < want
	case "<=":
		return n <= want
	case ">":
		return n > want
	case ">=":
		return n >= want
	}
	return false
}

// maxJudgedScan bounds how many invoices one list call judges to fill a
// page under judgement filters; a page may then come back short, with a
// token to continue (AIP-158 allows it).
const maxJudgedScan = 2000

// ListJudged lists invoices matching q and every judgement filter, judged as
// of asOf on the facts known at knownAt. It returns up to want matches and
// the id of the last invoice examined, from which the next page continues
// (Nil at the end of the list).
func (l *Ledger) ListJudged(ctx context.Context, q store.InvoiceQuery, want int, asOf civil.Date, knownAt time.Time, filters []JudgementFilter) ([]*Judged, uuid.UUID, error) {
	q.Scope = scope(ctx)
	// Filters on stored fields select on the invoices as shown, as known
	// at knownAt. (As of a date before a correction, the invoice shown
	// keeps its stored status, currency and due date; the judgement has
	// the due date then.)
	// Unset, it is now as the call begins: batches read after it, and rows
	// written by a replica whose clock runs ahead, are shown as known then,
	// and so are selected on that too.
	rechecked := len(q.Status)+len(q.Currency)+len(q.DueDate) > 0 && !knownAt.IsZero()
	if knownAt.IsZero() {
		knownAt = l.now()
	}
	q.ChangedAfter = knownAt
	var out []*Judged
	scanned := 0
	batch := want + 1
	if len(filters) > 0 || rechecked {
		batch = min(max(4*want, 100), 500)
	}
	for {
		q.Page.Limit = batch
		rows, js, err := l.judgePage(ctx, q, asOf, knownAt)
		if err != nil {
			return nil, uuid.Nil, err
		}
		byID := map[uuid.UUID]*Judged{}
		for _, j := range js {
			byID[j.Invoice.ID] = j
		}
		for _, row := range rows {
			scanned++
			q.Page.AfterID = row.ID
			j, ok := byID[row.ID]
			if ok && q.Unsettled(row) && !q.MatchStored(j.Invoice) {
				ok = false
			}
			if ok && matchAll(filters, j.Judgement) {
				out = append(out, j)
				if len(out) == want {
					if row.ID == rows[len(rows)-1].ID && len(rows) < batch {
						return out, uuid.Nil, nil // that was the last invoice
					}
					// More may follow: the caller asks again from here.
					return out, row.ID, nil
				}
			}
		}
		if len(rows) < batch {
			return out, uuid.Nil, nil
		}
		if scanned >= maxJudgedScan {
			return out, q.Page.AfterID, nil
		}
	}
}

func matchAll(fs []JudgementFilter, j judgement.Judgement) bool {
	for _, f := range fs {
		if !f.match(j) {
			return false
		}
	}
	return true
}

// Policies lists the payment policies this server judges by.
func (l *Ledger) Policies() []policy.Policy { return l.policies.Versions() }

// ListEscalationEvents lists an invoice's escalation history.
func (l *Ledger) ListEscalationEvents(ctx context.Context, invoiceID uuid.UUID, p store.Page) ([]*ledger.EscalationEvent, error) {
	if _, err := visibleInvoice(ctx, l.store, invoiceID, nil); err != nil {
		return nil, err
	}
	return l.store.ListEscalationEvents(ctx, invoiceID, p)
}

// fieldsAsOf returns inv with its own fields (amount, dates, terms and the
// policy they chose) as they stood on d: the creation's, then what each
// correction effective on or before d changed, replayed in the order they
// were recorded (up to knownAt). Each correction contributes only the
// fields it changed, so one recorded earlier but effective later does not
// ride along in a later revision's snapshot.
func fieldsAsOf(ctx context.Context, r store.Reader, inv *ledger.Invoice, d civil.Date, knownAt time.Time) (*ledger.Invoice, error) {
	revs, err := r.ListRevisions(ctx, inv.ID, 0, 100000)
	if err != nil {
		return nil, err
	}
	return fieldsFrom(revs, inv, d, knownAt)
}

// fieldsFrom is fieldsAsOf on the invoice's revisions, already read.
func fieldsFrom(revs []*ledger.Revision, inv *ledger.Invoice, d civil.Date, knownAt time.Time) (*ledger.Invoice, error) {
	var fields, prev *ledger.Invoice
	var inCurrency *money.Money // the amount of the first revision in the invoice's currency
	for i, rev := range revs {
		if rev.RecordTime.After(knownAt) {
			break
		}
		var snap ledger.Invoice
		if err := ledger.ReadSnapshot(rev.Snapshot, &snap); err != nil {
			return nil, fmt.Errorf("invoice %s revision %d: %w", inv.ID, rev.Revision, err)
		}
		switch {
		case i == 0:
			first := snap
			fields = &first
		case rev.Method == "UpdateInvoice" && !rev.EffectiveOn.After(d):
			copyChangedFields(fields, prev, &snap)
		}
		switch {
		case snap.Amount.Currency != inv.Amount.Currency:
			inCurrency = nil // the latest run in the current currency counts
		case inCurrency == nil:
			a := snap.Amount
			inCurrency = &a
		}
		prev = &snap
	}
	if fields == nil {
		return inv, nil
	}
	out := *inv
	copyFields(&out, fields)
	// The currency is not a fact that changes with time: a correction of
	// it (allowed only before any payment, credit or dispute) mends a
	// mistake in the whole record, and an earlier date judged in the old
	// currency would not match the facts recorded since in the new. An
	// amount in the old currency means nothing in the new, so the amount
	// corrected with it applies throughout too.
	if out.Amount.Currency != inv.Amount.Currency {
		out.Amount = inv.Amount
		if inCurrency != nil {
			out.Amount = *inCurrency // as the currency correction set it
		}
	}
	return &out, nil
}

// ownFields are the invoice's own fields a correction may change, as
// pointers into inv, in a fixed order.
func ownFields(inv *ledger.Invoice) []any {
	return []any{&inv.ContractRef, &inv.Amount, &inv.ContractSignedOn, &inv.IssuedOn, &inv.ReceivedOn, &inv.DeliveredOn,
		&inv.AcceptanceRequired, &inv.AcceptancePeriodDays, &inv.AcceptancePassedOn, &inv.SettlementConfirmedOn,
		&inv.AgreedTermDays, &inv.AgreedDueDate, &inv.AgreedRate, &inv.CreditorSizeAtSigning,
		&inv.PolicyID, &inv.PolicyVersion, &inv.PolicyReason}
}

// copyChangedFields sets in dst each own field that differs between before
// and after to its value in after.
func copyChangedFields(dst, before, after *ledger.Invoice) {
	d, b, a := ownFields(dst), ownFields(before), ownFields(after)
	for i := range d {
		av := reflect.ValueOf(a[i]).Elem()
		if !reflect.DeepEqual(reflect.ValueOf(b[i]).Elem().Interface(), av.Interface()) {
			reflect.ValueOf(d[i]).Elem().Set(av)
		}
	}
}

// copyFields sets every own field of dst to its value in src.
func copyFields(dst, src *ledger.Invoice) {
	d, s := ownFields(dst), ownFields(src)
	for i := range d {
		reflect.ValueOf(d[i]).Elem().Set(reflect.ValueOf(s[i]).Elem())
	}
}
