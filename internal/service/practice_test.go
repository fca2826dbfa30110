package service_test

import (
	"testing"

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
}
