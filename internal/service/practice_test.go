package service_test

import (
	"errors"
	"testing"
	"time"

	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/money"
	"github.com/arrears/arrears/internal/service"
)

// TestPracticeOwedOnTheDueDate: a payment report's "not paid within terms"
// compares what was paid by the due date with what was owed on it: a
// correction lowering the amount afterwards does not make a short payment
// timely.
func TestPracticeOwedOnTheDueDate(t *testing.T) {
	f := newFixture(t, engines(t)["SQLite"], d(2025, 9, 1))
	inv := f.invoice(t, "PR-1", d(2025, 7, 1)) // CNY 100,000.00 due 31 July
	if _, _, err := f.a.RecordPayment(admin, inv.ID, &ledger.Payment{Amount: 8000000, Currency: "CNY", PaidOn: d(2025, 7, 30), Reference: "PR-P1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.a.UpdateInvoice(admin, inv.ID, &ledger.Invoice{Amount: money.Money{Minor: 8000000, Currency: "CNY"}}, []string{"amount"}, "", d(2025, 8, 15), ""); err != nil {
		t.Fatal(err)
	}
	rs, err := f.a.PaymentPractice(admin, service.PracticeQuery{Debtor: f.debtor, From: d(2025, 7, 1), To: d(2025, 8, 31)})
	if err != nil || len(rs) != 1 {
		t.Fatalf("report: %v, %d currencies", err, len(rs))
	}
	if r := rs[0]; r.DueCount != 1 || r.DueAmount != 10000000 || r.NotWithinTermsCount != 1 || r.NotWithinTermsAmount != 2000000 {
		t.Errorf("due %d (%d), not within terms %d (%d); want 1 (10000000) and 1 (2000000)", r.DueCount, r.DueAmount, r.NotWithinTermsCount, r.NotWithinTermsAmount)
	}
	// A period with nothing paid or due: the currency owed in is reported,
	// as zeros, rather than an empty answer.
	rs, err = f.a.PaymentPractice(admin, service.PracticeQuery{Debtor: f.debtor, From: d(2025, 1, 1), To: d(2025, 3, 31)})
	if err != nil || len(rs) != 1 || rs[0].Currency != "CNY" || rs[0].Payments != 0 || rs[0].DueCount != 0 {
		t.Errorf("a quiet period: %+v, %v; want one CNY report of zeros", rs, err)
	}
}

// TestPracticeReversedPaymentNeverPaid: a payment reversed after the
// period (a cheque that bounced) did not pay the invoice, for every figure
// of the report alike: not among the payments, not paid within terms, and
// unpaid at the period's end.
func TestPracticeReversedPaymentNeverPaid(t *testing.T) {
	f := newFixture(t, engines(t)["SQLite"], d(2025, 9, 1))
	inv := f.invoice(t, "PR-2", d(2025, 7, 1)) // CNY 100,000.00 due 31 July
	pay, _, err := f.a.RecordPayment(admin, inv.ID, &ledger.Payment{Amount: 10000000, Currency: "CNY", PaidOn: d(2025, 7, 20), Reference: "PR-P2",
		Instrument: ledger.InstrumentCheque})
	if err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(5 * 24 * time.Hour)
	if _, _, err := f.a.ReversePayment(admin, inv.ID, pay.ID, d(2025, 9, 5), "the cheque bounced", ""); err != nil {
		t.Fatal(err)
	}
	rs, err := f.a.PaymentPractice(admin, service.PracticeQuery{Debtor: f.debtor, From: d(2025, 7, 1), To: d(2025, 8, 31)})
	if err != nil || len(rs) != 1 {
		t.Fatalf("report: %v, %d currencies", err, len(rs))
	}
	if r := rs[0]; r.Payments != 0 || r.NotWithinTermsCount != 1 || r.NotWithinTermsAmount != 10000000 || r.UnpaidPastDueCount != 1 || r.UnpaidPastDueAmount != 10000000 {
		t.Errorf("payments %d, not within terms %d (%d), unpaid past due %d (%d); want 0, 1 (10000000), 1 (10000000)",
			r.Payments, r.NotWithinTermsCount, r.NotWithinTermsAmount, r.UnpaidPastDueCount, r.UnpaidPastDueAmount)
	}
}

// TestPracticeTermsLeaveCancelledInvoicesOut: an invoice cancelled within
// the period (recorded in error) is no contract of the period's term
// figures: not counted, not the longest term, not over the cap.
func TestPracticeTermsLeaveCancelledInvoicesOut(t *testing.T) {
	f := newFixture(t, engines(t)["SQLite"], d(2025, 9, 1))
	f.invoice(t, "PR-3", d(2025, 7, 1)) // a 30-day term
	wrong, err := f.a.CreateInvoice(admin, service.CreateInvoiceInput{Debtor: f.debtor, Creditor: f.creditor, Invoice: &ledger.Invoice{
		DocumentRef: "PR-4", Amount: money.Money{Minor: 10000000, Currency: "CNY"}, ContractSignedOn: d(2025, 6, 20),
		DeliveredOn: d(2025, 7, 1), IssuedOn: d(2025, 7, 1), AgreedTermDays: 180}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.a.CancelInvoice(admin, wrong.ID, d(2025, 7, 2), "recorded in error", ""); err != nil {
		t.Fatal(err)
	}
	rs, err := f.a.PaymentPractice(admin, service.PracticeQuery{Debtor: f.debtor, From: d(2025, 7, 1), To: d(2025, 8, 31)})
	if err != nil || len(rs) != 1 {
		t.Fatalf("report: %v, %d currencies", err, len(rs))
	}
	if r := rs[0]; r.Contracts != 1 || r.LongestTermDays != 30 || r.TermsOverCap != 0 {
		t.Errorf("contracts %d, longest term %d, over the cap %d; want 1, 30, 0", r.Contracts, r.LongestTermDays, r.TermsOverCap)
	}
}

// TestPracticeCoversEndedPeriods: a period that has not ended, as the facts
// are known, is refused naming period_end: its invoices falling due after
// that day could not have been paid yet, and would count as paid late.
func TestPracticeCoversEndedPeriods(t *testing.T) {
	f := newFixture(t, engines(t)["SQLite"], d(2025, 9, 1))
	f.invoice(t, "PR-4", d(2025, 8, 20)) // due 19 September
	for _, c := range []struct {
		to      civil.Date
		knownAt time.Time
	}{
		{d(2025, 9, 1), time.Time{}},                            // ends today
		{d(2025, 12, 31), time.Time{}},                          // the current half-year
		{d(2025, 8, 31), f.clk.Now().Add(-15 * 24 * time.Hour)}, // ended, but not as known mid-August
	} {
		_, err := f.a.PaymentPractice(admin, service.PracticeQuery{Debtor: f.debtor, From: d(2025, 7, 1), To: c.to, KnownAt: c.knownAt})
		var ve *ledger.ValidationError
		if !errors.As(err, &ve) || ve.Violations[0].Field != "period_end" {
			t.Errorf("a period to %s, known at %v: %v; want refused naming period_end", c.to, c.knownAt, err)
		}
	}
	if _, err := f.a.PaymentPractice(admin, service.PracticeQuery{Debtor: f.debtor, From: d(2025, 7, 1), To: d(2025, 8, 31)}); err != nil {
		t.Errorf("a period that ended yesterday: %v", err)
	}
	// A missing end is named as the end.
	_, err := f.a.PaymentPractice(admin, service.PracticeQuery{Debtor: f.debtor, From: d(2025, 7, 1)})
	if ve := (*ledger.ValidationError)(nil); !errors.As(err, &ve) || len(ve.Violations) != 1 || ve.Violations[0].Field != "period_end" {
		t.Errorf("a period without an end: %v; want period_end named", err)
	}
}
