package judgement

import (
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/money"
	"github.com/arrears/arrears/internal/policy"
)

// step changes an amount from a date on, that day included.
type step struct {
	on    civil.Date
	delta int64
}

// timeline is the invoice's dated facts reduced to changes of what is owed.
// owed drives Outstanding; interest drives the interest base, which differs
// only in that credit for a dispute resolved CREDITED is taken out from the
// start (neverOwed) instead of from its date: that part was never owed, so
// it never bore interest.
type timeline struct {
	amount      int64
	owed        []step
	interest    []step
	neverOwed   int64
	cancelledOn civil.Date
	// openDisputed sums the disputes open on AsOf.
	openDisputed int64
	// later holds the dates after AsOf on which a recorded fact takes
	// effect, for NextChange.
	later []civil.Date
}

// at sums amount and the steps up to t, never below zero (an overpayment
// owes nothing, it does not owe a negative sum), and zero from cancellation.
func (tl *timeline) at(steps []step, base int64, t civil.Date) int64 {
	if !tl.cancelledOn.IsZero() && !tl.cancelledOn.After(t) {
		return 0
	}
	for _, s := range steps {
		if !s.on.After(t) {
			base += s.delta
		}
	}
	return max(base, 0)
}

func (tl *timeline) outstandingAt(t civil.Date) int64 { return tl.at(tl.owed, tl.amount, t) }

func (tl *timeline) interestBaseAt(t civil.Date) int64 {
	return tl.at(tl.interest, tl.amount-tl.neverOwed, t)
}

// rawOutstandingAt is outstandingAt without the floor at zero, to detect
// an overpayment.
func (tl *timeline) rawOutstandingAt(t civil.Date) int64 {
	v := tl.amount
	for _, s := range tl.owed {
		if !s.on.After(t) {
			v += s.delta
		}
	}
	return v
}

// paymentCounts returns the date from which a payment reduces the debt: the
// day it was paid or, for a bill under a policy where bills settle at
// maturity, the maturity date.
func (e *eval) paymentCounts(p *ledger.Payment) civil.Date { return PaymentCounts(e.pol, p) }

// PaymentCounts is the date from which a payment reduces the debt under a
// policy: the day it was paid or, for a bill where the policy settles bills
// at maturity, the later of that and the maturity date. Reports that date
// payments (the payment-practice report) use it, so that they and the
// judgement agree on when a debt was paid.
func PaymentCounts(pol *policy.Policy, p *ledger.Payment) civil.Date {
	if pol.BillCounts == policy.BillAtMaturity && p.Instrument.HasMaturity() && !p.MaturityOn.IsZero() {
		return civil.Max(p.PaidOn, p.MaturityOn)
	}
	return p.PaidOn
}

func (e *eval) buildTimeline() timeline {
	asOf := e.asOf
	tl := timeline{amount: e.inv.Amount.Minor, cancelledOn: e.inv.CancelledOn}
	later := func(d civil.Date) {
		if d.After(asOf) {
			tl.later = append(tl.later, d)
		}
	}
	later(tl.cancelledOn)

	for i := range e.in.Payments {
		p := &e.in.Payments[i]
		if p.State == ledger.PaymentReversed && p.ReversedOn.IsZero() {
			continue // reversed with no date: it never counted
		}
		from := e.paymentCounts(p)
		reversed := !p.ReversedOn.IsZero()
		if reversed && !p.ReversedOn.After(from) {
			continue // reversed before it took effect
		}
		s := []step{{from, -p.Amount}}
		later(from)
		if reversed {
			s = append(s, step{p.ReversedOn, p.Amount})
			later(p.ReversedOn)
		}
		tl.owed = append(tl.owed, s...)
		if e.pol.Interest.ThroughPaymentDay {
			// The payment's own day bears interest on what it pays; one
			// reversed by the next day never stopped any.
			paid := step{from.AddDays(1), -p.Amount}
			later(paid.on)
			if reversed && !p.ReversedOn.After(paid.on) {
				s = nil
			} else {
				s = append([]step{paid}, s[1:]...)
			}
		}
		tl.interest = append(tl.interest, s...)
		e.billFindings(p, from)
	}

	backdated := map[uuid.UUID]bool{}
	notes := map[uuid.UUID]*ledger.CreditNote{}
	for i := range e.in.CreditNotes {
		if c := &e.in.CreditNotes[i]; c.ID != uuid.Nil {
			notes[c.ID] = c
		}
	}
	for i := range e.in.Disputes {
		d := &e.in.Disputes[i]
		later(d.OpenedOn)
		later(d.ResolvedOn)
		resolved := !d.ResolvedOn.IsZero() && !d.ResolvedOn.After(asOf)
		if !d.OpenedOn.After(asOf) && !resolved {
			tl.openDisputed += d.Amount
		}
		if !resolved || d.Resolution != ledger.ResolutionCredited {
			continue
		}
		if c := notes[d.CreditNoteID]; d.CreditNoteID != uuid.Nil && c != nil {
			backdated[c.ID] = true
			tl.neverOwed += c.Amount
			continue
		}
		// Credited with no credit note among the facts: credit the disputed
		// amount from the resolution date, and report the gap.
		tl.owed = append(tl.owed, step{d.ResolvedOn, -d.Amount})
		tl.neverOwed += d.Amount
		e.find(FindingCreditedWithoutNote, "the dispute resolved as CREDITED on %s has no credit note among the facts; its amount %s is treated as credited on that date", d.ResolvedOn, e.money(d.Amount))
	}
	for i := range e.in.CreditNotes {
		c := &e.in.CreditNotes[i]
		later(c.IssuedOn)
		s := step{c.IssuedOn, -c.Amount}
		tl.owed = append(tl.owed, s)
		if !backdated[c.ID] {
			tl.interest = append(tl.interest, s)
		}
	}
	return tl
}

// billFindings reports, for a bill handed over by AsOf and not reversed by
// then, a maturity after the due date (the bill stretches the term, which
// Chinese law forbids) and a tenor over the policy's limit.
func (e *eval) billFindings(p *ledger.Payment, counts civil.Date) {
	if !p.Instrument.HasMaturity() || p.PaidOn.After(e.asOf) || (!p.ReversedOn.IsZero() && !p.ReversedOn.After(e.asOf)) {
		return
	}
	if p.MaturityOn.IsZero() {
		if e.pol.BillCounts == policy.BillAtMaturity {
			e.find(FindingBillMaturityMissing, "the %s paid on %s has no maturity date; it is counted from the day it was handed over", p.Instrument, p.PaidOn)
		}
		return
	}
	if e.pol.BillCounts == policy.BillAtMaturity && !e.j.DueDate.IsZero() && counts.After(e.j.DueDate) {
		e.find(FindingBillMaturesAfterDue, "the %s handed over on %s matures on %s, after the due date %s: it settles the debt only at maturity", p.Instrument, p.PaidOn, p.MaturityOn, e.j.DueDate)
	}
	if n := e.pol.MaxBillTenorMonths; n > 0 && p.MaturityOn.After(addMonths(p.PaidOn, n)) {
		e.find(FindingBillTenorExceeded, "the %s handed over on %s matures on %s, more than %d months later", p.Instrument, p.PaidOn, p.MaturityOn, n)
	}
}

// addMonths adds n calendar months, keeping the day of the month or the
// last day of a shorter month (31 August + 6 months is 28 or 29 February).
func addMonths(d civil.Date, n int) civil.Date {
	t := time.Date(d.Year, d.Month+time.Month(n), 1, 0, 0, 0, 0, time.UTC)
	last := t.AddDate(0, 1, -1).Day()
	return civil.Date{Year: t.Year(), Month: t.Month(), Day: min(d.Day, last)}
}

// money is an amount of the invoice's currency as a finding shows it
// ("CNY 5.00").
func (e *eval) money(minor int64) string {
	return money.Money{Minor: minor, Currency: e.inv.Amount.Currency}.String()
}

// computeBalances fills Outstanding and DisputedOpen as of AsOf.
func (e *eval) computeBalances() {
	tl, asOf := &e.timeline, e.asOf
	if !tl.cancelledOn.IsZero() && !tl.cancelledOn.After(asOf) {
		e.find(FindingCancelled, "the invoice was cancelled on %s and owes nothing from that day", tl.cancelledOn)
	} else if raw := tl.rawOutstandingAt(asOf); raw < 0 {
		e.find(FindingOverpaid, "payments and credits exceed the invoice by %s", e.money(-raw))
	}
	out := tl.outstandingAt(asOf)
	e.j.Outstanding = out
	e.j.DisputedOpen = min(tl.openDisputed, out)
	if tl.openDisputed > out && out > 0 {
		e.find(FindingDisputeExceeds, "open disputes total %s but only %s is outstanding", e.money(tl.openDisputed), e.money(out))
	}
}

// Balance is what is owed from a date on, until the next Balance.
type Balance struct {
	On           civil.Date
	Outstanding  int64
	DisputedOpen int64
}

// Balances returns the due date of an invoice (which does not depend on
// the date judged) and what it owes on every date: the balance before any
// dated fact (On zero), then one on each date a fact changes it. It is the
// judgement's own timeline read at each of its steps, so Evaluate on any
// date agrees with it, without the interest (which changes daily and is
// not needed to total what is owed). in.AsOf is ignored.
func Balances(in Input) (civil.Date, []Balance, error) {
	in.AsOf = civil.MustNew(9999, 12, 31)
	if err := validate(&in); err != nil {
		return civil.Date{}, nil, err
	}
	e := &eval{in: in, pol: &in.Policy, inv: &in.Invoice, asOf: in.AsOf, quiet: true}
	e.computeDueDate()
	e.timeline = e.buildTimeline()
	dates := []civil.Date{e.timeline.cancelledOn}
	for _, s := range e.timeline.owed {
		dates = append(dates, s.on)
	}
	for _, d := range in.Disputes {
		dates = append(dates, d.OpenedOn, d.ResolvedOn)
	}
	slices.SortFunc(dates, civil.Date.Compare)
	dates = slices.Compact(dates)
	if len(dates) == 0 || !dates[0].IsZero() {
		dates = append([]civil.Date{{}}, dates...)
	}
	out := make([]Balance, 0, len(dates))
	for _, d := range dates {
		at := d
		if at.IsZero() {
			at = civil.MustNew(1, 1, 1)
		}
		owed := e.timeline.outstandingAt(at)
		out = append(out, Balance{On: d, Outstanding: owed, DisputedOpen: min(disputedOn(in.Disputes, at), owed)})
	}
	return e.j.DueDate, out, nil
}

// disputedOn totals the disputes open on t: opened by then and not yet
// resolved, as buildTimeline counts them for its as-of date. The balance
// holds at most what is outstanding, as computeBalances caps it.
func disputedOn(ds []ledger.Dispute, t civil.Date) int64 {
	var sum int64
	for _, d := range ds {
		resolved := !d.ResolvedOn.IsZero() && !d.ResolvedOn.After(t)
		if !d.OpenedOn.After(t) && !resolved {
			sum += d.Amount
		}
	}
	return sum
}
