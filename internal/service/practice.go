package service

import (
	"context"
	"sort"
	"time"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/judgement"
	"github.com/arrears/arrears/internal/ledger"
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
// invoices and settled in the period (a commercial bill or receivable
// certificate settles at its maturity, as Decree 802 counts it; other
// instruments on the paid-on date), as known at KnownAt; a payment
// reversed (as known then) does not count. Days to pay run from the invoice's receipt (its issue date when
// receipt is not recorded); a payment before receipt counts as 0 days.
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
	// LateDisputed those of them on an invoice with a dispute opened on or
	// before the day of payment: paid late because of a dispute.
	LateCount, LateAmount                 int64
	LateDisputedCount, LateDisputedAmount int64
	// Unpaid counts the invoices that fell due in the period and were
	// overdue at its end (due before its last day, so late by then), and
	// what was outstanding.
	UnpaidPastDueCount, UnpaidPastDueAmount int64

	// Terms: over the invoices whose payment clock started in the period,
	// the most common term in days (the shorter on a tie), the longest, and
	// how many exceeded the statutory cap of their policy.
	Contracts        int64
	StandardTermDays int
	LongestTermDays  int
	TermsOverCap     int64

	terms map[int]int64 // contracts by term in days, for StandardTermDays
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
	if q.From.IsZero() || q.To.IsZero() {
		return nil, ledger.Invalid("period_start", "the period start and end are required")
	}
	if q.To.Before(q.From) {
		return nil, ledger.Invalid("period_end", "%s is before the start %s", q.To, q.From)
	}
	if q.To.DaysSince(q.From) > 365 { // 366 days inclusive at most
		return nil, ledger.Invalid("period_end", "a reporting period is at most a year long")
	}
	debtor, err := visibleParty(ctx, l.store, q.Debtor)
	if err != nil {
		return nil, err
	}
	if q.KnownAt.IsZero() {
		q.KnownAt = l.now()
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
	err = l.judgeEach(ctx, iq, q.To, q.KnownAt, func(j *Judged) error {
		r := report(j.Invoice.Amount.Currency)
		addPractice(r, j.Invoice, j.Facts, j.Judgement, q.From, q.To)
		return nil
	})
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
		if r.Payments == 0 && r.Contracts == 0 && r.UnpaidPastDueCount == 0 {
			continue
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, k int) bool { return out[i].Currency < out[k].Currency })
	return out, nil
}

func invoiceIDs(invs []*ledger.Invoice) []uuid.UUID {
	ids := make([]uuid.UUID, len(invs))
	for i, inv := range invs {
		ids[i] = inv.ID
	}
	return ids
}

// addPractice adds one invoice's payments, term and arrears to r.
func addPractice(r *PracticeReport, inv *ledger.Invoice, f *store.Facts, j judgement.Judgement, from, to civil.Date) {
	if f == nil {
		f = &store.Facts{}
	}
	inPeriod := func(d civil.Date) bool { return !d.IsZero() && !d.Before(from) && !d.After(to) }
	received := inv.ReceivedOn
	if received.IsZero() {
		received = inv.IssuedOn
	}
	for _, p := range f.Payments {
		if p.State != ledger.PaymentRecorded {
			continue
		}
		settled := p.PaidOn
		if p.Instrument.HasMaturity() && !p.MaturityOn.IsZero() {
			settled = p.MaturityOn
		}
		if !inPeriod(settled) {
			continue
		}
		days := 0
		if !received.IsZero() && settled.After(received) {
			days = settled.DaysSince(received)
		}
		r.Payments++
		r.Amount += p.Amount
		r.DaysToPaySum += int64(days)
		for i := range r.Bands {
			if b := r.Bands[i].Band; days >= b.From && (b.To < 0 || days <= b.To) {
				r.Bands[i].Count++
				r.Bands[i].Amount += p.Amount
				break
			}
		}
		if j.DueDate.IsZero() || !settled.After(j.DueDate) {
			continue
		}
		r.LateCount++
		r.LateAmount += p.Amount
		for _, d := range f.Disputes {
			if !d.OpenedOn.After(settled) {
				r.LateDisputedCount++
				r.LateDisputedAmount += p.Amount
				break
			}
		}
	}
	if inPeriod(j.DueDate) && j.DueDate.Before(to) && j.Outstanding > 0 {
		r.UnpaidPastDueCount++
		r.UnpaidPastDueAmount += j.Outstanding
	}
	if inPeriod(j.ClockStart) && !j.DueDate.IsZero() {
		term := j.DueDate.DaysSince(j.ClockStart)
		if !inv.AgreedDueDate.IsZero() {
			term = inv.AgreedDueDate.DaysSince(j.ClockStart)
		} else if inv.AgreedTermDays > 0 {
			term = inv.AgreedTermDays
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
