package service

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/judgement"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/policy"
	"github.com/arrears/arrears/internal/store"
)

// Band is a range of days to pay, From to To inclusive (To < 0: open-ended).
type Band struct {
	Label    string
	From, To int
}

// PracticeBands are the day bands a payment-practice report can use: the
// UK's half-yearly reporting bands and the Australian payment-times bands.
var PracticeBands = map[string][]Band{
	"UK": {{"0-30", 0, 30}, {"31-60", 31, 60}, {"61+", 61, -1}},
	"AU": {{"0-20", 0, 20}, {"21-30", 21, 30}, {"31-60", 31, 60}, {"61-90", 61, 90}, {"91-120", 91, 120}, {"121+", 121, -1}},
}

// PracticeQuery asks for one debtor's payment practice over a period.
type PracticeQuery struct {
	Debtor   PartyRef
	From, To civil.Date // the reporting period, both inclusive
	Bands    string     // a key of PracticeBands; default UK
	KnownAt  time.Time  // which recorded facts count; zero: now
}

// BandTotal counts the payments made within one band.
type BandTotal struct {
	Band   Band
	Count  int64
	Amount int64
}

// PracticeReport is a debtor's payment practice over a period in one
// currency, computed from the ledger rather than declared by the debtor.
//
// The unit is the payment: every payment recorded against the debtor's
// invoices and settled in the period (on the date the invoice's policy
// counts it, as the judgement does: a bill at its maturity only where the
// policy says so), as known at KnownAt; a payment reversed (as known then)
// does not count. Days to pay run from the invoice's receipt (its issue
// date when receipt is not recorded); a payment before receipt counts as 0
// days.
//
// The Australian report (Bands "AU") is of payment times to small-business
// suppliers, by invoice: it counts only invoices whose supplier was micro
// or small at signing (the scheme's small business turns over under AUD 10
// million; MEDIUM is not counted), and its bands count each invoice once,
// in the band of its last payment in the period, with the value of its
// payments in the period.
type PracticeReport struct {
	Debtor   *ledger.Party
	From, To civil.Date
	KnownAt  time.Time
	Currency string

	Payments int64
	Amount   int64
	// DaysToPaySum is the sum of days to pay over Payments: the mean is
	// DaysToPaySum / Payments, left to the reader to round.
	DaysToPaySum int64
	Bands        []BandTotal
	// Late counts the payments settled after the invoice's due date, and
	// LateDisputed those of them on an invoice with a dispute open on its
	// due date (opened by then, not resolved by then): paid late because of
	// a dispute.
	LateCount, LateAmount                 int64
	LateDisputedCount, LateDisputedAmount int64
	// Unpaid counts the invoices that fell due in the period and were
	// overdue at its end (due before its last day, so late by then), and
	// what was outstanding.
	UnpaidPastDueCount, UnpaidPastDueAmount int64
	// Due counts the invoices that fell due in the period and what was
	// owed on them then (their amount less credit notes by the due date);
	// NotWithinTerms those of them not paid in full by the due date,
	// whether paid later or still owed, and the part unpaid on it: the UK
	// report's "not paid within agreed terms" (SI 2017/395), whose
	// population is the payments due in the period, not those made in it.
	DueCount, DueAmount                       int64
	NotWithinTermsCount, NotWithinTermsAmount int64

	// Terms: over the invoices whose payment clock started in the period,
	// the most common term in days (the shorter on a tie), the longest, and
	// how many exceeded the statutory cap of their policy. A term is the
	// agreed one, or the policy's default: not the due date, which a
	// holiday may have moved.
	Contracts        int64
	StandardTermDays int
	LongestTermDays  int
	TermsOverCap     int64

	terms map[int]int64 // contracts by term in days, for StandardTermDays
	sum   exactSum      // whether an amount total left the int64 range
}

// PaymentPractice computes a debtor's payment-practice report for a
// period, one per currency the debtor owes in.
func (l *Ledger) PaymentPractice(ctx context.Context, q PracticeQuery) ([]*PracticeReport, error) {
	if q.Bands == "" {
		q.Bands = "UK"
	}
	bands, ok := PracticeBands[q.Bands]
	if !ok {
		return nil, ledger.Invalid("bands", "must be UK or AU, got %q", q.Bands)
	}
	var v ledger.ValidationError
	if q.From.IsZero() {
		v.Add("period_start", "is required")
	}
	if q.To.IsZero() {
		v.Add("period_end", "is required")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if q.To.Before(q.From) {
		return nil, ledger.Invalid("period_end", "%s is before the start %s", q.To, q.From)
	}
	if q.From.Year >= 9999 {
		// Its anniversary, and the dates the report counts to, would be
		// past the calendar.
		return nil, ledger.Invalid("period_start", "must be before 9999-01-01, got %s", q.From)
	}
	// At most a year: up to the day before the start's anniversary (365
	// days inclusive, 366 across a 29 February).
	anniversary, err := civil.New(q.From.Year+1, q.From.Month, q.From.Day)
	if err != nil { // from 29 February: the anniversary is 1 March
		anniversary = civil.MustNew(q.From.Year+1, time.March, 1)
	}
	if !q.To.Before(anniversary) {
		return nil, ledger.Invalid("period_end", "a reporting period is at most a year long (to %s)", anniversary.AddDays(-1))
	}
	debtor, err := visibleDebtor(ctx, l.store, q.Debtor)
	if err != nil {
		return nil, err
	}
	if q.KnownAt.IsZero() {
		q.KnownAt = l.now()
	}
	// A period that has not ended, as the facts are known, is not
	// reported: a payment cannot be dated after the day it is known, so
	// every invoice falling due between then and the period's end would
	// count as not paid within its terms, and as unpaid past its due date.
	if known := l.Today(q.KnownAt, debtor.Jurisdiction); !q.To.Before(known) {
		return nil, ledger.Invalid("period_end", "%s has not passed (as known at %s it is %s): a report covers a period that has ended", q.To, q.KnownAt.UTC().Format(time.RFC3339), known)
	}
	reports := map[string]*PracticeReport{}
	report := func(currency string) *PracticeReport {
		r, ok := reports[currency]
		if !ok {
			r = &PracticeReport{Debtor: debtor, From: q.From, To: q.To, KnownAt: q.KnownAt, Currency: currency, terms: map[int]int64{}}
			for _, b := range bands {
				r.Bands = append(r.Bands, BandTotal{Band: b})
			}
			reports[currency] = r
		}
		return r
	}
	// Judged as of the period's end: the due dates, and the arrears
	// outstanding then.
	iq := store.InvoiceQuery{Scope: scope(ctx), DebtorID: debtor.ID}
	perInvoice := q.Bands == "AU"
	type judged struct {
		j *Judged
		p policy.Policy
	}
	// What was owed on a due date in the period is the amount that stood
	// then: a correction effective later does not make a late payment
	// timely. The invoices corrected since their due date wait here to have
	// their revisions read together.
	var later []judged
	flush := func() error {
		ids := make([]uuid.UUID, len(later))
		for i, x := range later {
			ids[i] = x.j.Invoice.ID
		}
		revs, err := l.store.RevisionsOf(ctx, ids)
		if err != nil {
			return err
		}
		for _, x := range later {
			inv := x.j.Invoice
			dueAmount := inv.Amount.Minor
			then, err := fieldsFrom(revs[inv.ID], inv, x.j.Judgement.DueDate, q.KnownAt)
			if err != nil {
				return err
			}
			if then.Amount.Currency == inv.Amount.Currency {
				dueAmount = then.Amount.Minor
			}
			addPractice(report(inv.Amount.Currency), inv, x.j.Facts, l.unreversed(x.j, x.p, q.To), &x.p, q.From, q.To, perInvoice, dueAmount)
		}
		later = later[:0]
		return nil
	}
	err = l.judgeEach(ctx, iq, q.To, q.KnownAt, func(j *Judged) error {
		if perInvoice && !smallBusiness(j.Invoice.CreditorSizeAtSigning) {
			return nil
		}
		p, err := l.policyOf(j.Invoice)
		if err != nil {
			return nil // judged without a policy this server has: no dates to report
		}
		if d := j.Judgement.DueDate; !d.IsZero() && !d.Before(q.From) && !d.After(q.To) && j.Invoice.CorrectedOn.After(d) {
			if later = append(later, judged{j, p}); len(later) == 200 {
				return flush()
			}
			return nil
		}
		addPractice(report(j.Invoice.Amount.Currency), j.Invoice, j.Facts, l.unreversed(j, p, q.To), &p, q.From, q.To, perInvoice, j.Invoice.Amount.Minor)
		return nil
	})
	if err == nil && len(later) > 0 {
		err = flush()
	}
	if err != nil {
		return nil, err
	}
	out := make([]*PracticeReport, 0, len(reports))
	for _, r := range reports {
		// The most common term; the shorter on a tie.
		for days, n := range r.terms {
			if best := r.StandardTermDays; r.terms[best] < n || r.terms[best] == n && days < best {
				r.StandardTermDays = days
			}
		}
		if r.sum.overflow {
			return nil, fmt.Errorf("%w: a total of the report in %s is beyond %d minor units; report a shorter period",
				ledger.ErrFailedPrecondition, r.Currency, int64(math.MaxInt64))
		}
		// A currency with nothing in the period is reported too, as
		// zeros: a dated record that nothing was paid or due, rather
		// than an empty answer.
		out = append(out, r)
	}
	sort.Slice(out, func(i, k int) bool { return out[i].Currency < out[k].Currency })
	return out, nil
}

// unreversed is the invoice's judgement as the report reads payments: one
// reversed, whenever (a cheque that bounced), never paid the invoice. The
// payments, the late ones and "paid within terms" leave it out; the
// judgement counts it until its reversal, so without this an invoice whose
// payment bounced after the period would be neither paid nor unpaid at its
// end. Judged again only for the few invoices holding a reversed payment.
func (l *Ledger) unreversed(j *Judged, p policy.Policy, asOf civil.Date) judgement.Judgement {
	reversed := func(p ledger.Payment) bool { return p.State != ledger.PaymentRecorded }
	if j.Facts == nil || !slices.ContainsFunc(j.Facts.Payments, reversed) {
		return j.Judgement
	}
	f := *j.Facts
	f.Payments = slices.DeleteFunc(slices.Clone(f.Payments), reversed)
	return l.judge(j.Invoice, &f, p, asOf)
}

func invoiceIDs(invs []*ledger.Invoice) []uuid.UUID {
	ids := make([]uuid.UUID, len(invs))
	for i, inv := range invs {
		ids[i] = inv.ID
	}
	return ids
}

// smallBusiness is a supplier the Australian report counts.
func smallBusiness(s ledger.SizeClass) bool { return s == ledger.SizeMicro || s == ledger.SizeSmall }

// addPractice adds one invoice's payments, term and arrears to r; with
// perInvoice, the bands count the invoice once (see PracticeReport).
func addPractice(r *PracticeReport, inv *ledger.Invoice, f *store.Facts, j judgement.Judgement, pol *policy.Policy, from, to civil.Date, perInvoice bool, dueAmount int64) {
	if f == nil {
		f = &store.Facts{}
	}
	inPeriod := func(d civil.Date) bool { return !d.IsZero() && !d.Before(from) && !d.After(to) }
	received := inv.ReceivedOn
	if received.IsZero() {
		received = inv.IssuedOn
	}
	daysTo := func(settled civil.Date) int {
		if !received.IsZero() && settled.After(received) {
			return settled.DaysSince(received)
		}
		return 0
	}
	band := func(days int, amount int64) {
		for i := range r.Bands {
			if b := r.Bands[i].Band; days >= b.From && (b.To < 0 || days <= b.To) {
				r.Bands[i].Count++
				r.sum.add(&r.Bands[i].Amount, amount)
				return
			}
		}
	}
	// A dispute open when the invoice fell due is what made a later
	// payment late because of it.
	disputedWhenDue := false
	for _, d := range f.Disputes {
		if !j.DueDate.IsZero() && !d.OpenedOn.After(j.DueDate) && (d.ResolvedOn.IsZero() || d.ResolvedOn.After(j.DueDate)) {
			disputedWhenDue = true
		}
	}
	var last civil.Date // perInvoice: the invoice's last payment in the period
	var paidInPeriod int64
	for _, p := range f.Payments {
		if p.State != ledger.PaymentRecorded {
			continue
		}
		settled := judgement.PaymentCounts(pol, &p)
		if !inPeriod(settled) {
			continue
		}
		days := daysTo(settled)
		r.Payments++
		r.sum.add(&r.Amount, p.Amount)
		r.DaysToPaySum += int64(days)
		if perInvoice {
			last = civil.Max(last, settled)
			r.sum.add(&paidInPeriod, p.Amount)
		} else {
			band(days, p.Amount)
		}
		if j.DueDate.IsZero() || !settled.After(j.DueDate) {
			continue
		}
		r.LateCount++
		r.sum.add(&r.LateAmount, p.Amount)
		if disputedWhenDue {
			r.LateDisputedCount++
			r.sum.add(&r.LateDisputedAmount, p.Amount)
		}
	}
	if perInvoice && !last.IsZero() {
		band(daysTo(last), paidInPeriod)
	}
	// As in the overdue summary, an invoice counts from its issue date.
	if inPeriod(j.DueDate) && j.DueDate.Before(to) && j.Outstanding > 0 && !inv.IssuedOn.After(to) {
		r.UnpaidPastDueCount++
		r.sum.add(&r.UnpaidPastDueAmount, j.Outstanding)
	}
	if inPeriod(j.DueDate) && !inv.IssuedOn.After(to) && (inv.CancelledOn.IsZero() || inv.CancelledOn.After(j.DueDate)) {
		// What was owed: less credit notes issued by the due date, and
		// those of disputes resolved by credit whenever issued, which the
		// judgement holds were never owed.
		credited := map[uuid.UUID]bool{}
		for _, dsp := range f.Disputes {
			if dsp.Resolution == ledger.ResolutionCredited && dsp.CreditNoteID != uuid.Nil {
				credited[dsp.CreditNoteID] = true
			}
		}
		owed := dueAmount
		for _, c := range f.CreditNotes {
			if !c.IssuedOn.After(j.DueDate) || credited[c.ID] {
				owed -= c.Amount
			}
		}
		var paid int64
		for _, p := range f.Payments {
			if p.State == ledger.PaymentRecorded && !judgement.PaymentCounts(pol, &p).After(j.DueDate) {
				r.sum.add(&paid, p.Amount)
			}
		}
		if owed > 0 {
			r.DueCount++
			r.sum.add(&r.DueAmount, owed)
			if paid < owed {
				r.NotWithinTermsCount++
				r.sum.add(&r.NotWithinTermsAmount, owed-paid)
			}
		}
	}
	// A contract whose invoice was cancelled within the period (recorded in
	// error, or withdrawn) agreed no term the period's figures hold, as it
	// is no debt of the other figures either.
	if inPeriod(j.ClockStart) && !j.DueDate.IsZero() && (inv.CancelledOn.IsZero() || inv.CancelledOn.After(to)) {
		term := j.DueDate.DaysSince(j.ClockStart)
		switch {
		case !inv.AgreedDueDate.IsZero():
			term = inv.AgreedDueDate.DaysSince(j.ClockStart)
		case inv.AgreedTermDays > 0:
			term = inv.AgreedTermDays
		case pol.DefaultTermDays > 0:
			term = pol.DefaultTermDays
		}
		r.Contracts++
		r.terms[term]++
		r.LongestTermDays = max(r.LongestTermDays, term)
		for _, fd := range j.Findings {
			if fd.Code == judgement.FindingTermExceedsCap {
				r.TermsOverCap++
				break
			}
		}
	}
}
