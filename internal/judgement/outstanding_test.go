package judgement

import (
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/policy"
)

// The CN 802 large-enterprise invoice of CNY 1,000.00 delivered 2025-07-10
// is due 2025-09-08; the tables below judge it on various dates.
func TestOutstanding(t *testing.T) {
	reversed := func(p ledger.Payment, on string) ledger.Payment {
		p.State, p.ReversedOn = ledger.PaymentReversed, d(on)
		return p
	}
	bill := func(amount int64, paid, matures string) ledger.Payment {
		p := payment(amount, paid)
		p.Instrument, p.MaturityOn = ledger.InstrumentCommercialBill, d(matures)
		return p
	}
	tests := []struct {
		desc     string
		policy   string
		payments []ledger.Payment
		credits  []ledger.CreditNote
		cancel   string
		asOf     string
		want     int64
		findings []string
	}{
		{desc: "nothing paid", asOf: "2025-10-01", want: 100000},
		{desc: "a payment dated on the as-of date counts", payments: []ledger.Payment{payment(30000, "2025-10-01")}, asOf: "2025-10-01", want: 70000},
		{desc: "a payment dated after the as-of date does not count", payments: []ledger.Payment{payment(30000, "2025-10-02")}, asOf: "2025-10-01", want: 100000},
		{desc: "a payment recorded later but dated earlier counts from its date", payments: []ledger.Payment{payment(30000, "2025-08-01")}, asOf: "2025-09-01", want: 70000},
		{desc: "a payment reversed on or before the as-of date does not count", payments: []ledger.Payment{reversed(payment(30000, "2025-09-01"), "2025-09-20")}, asOf: "2025-09-20", want: 100000},
		{desc: "a payment reversed after the as-of date still counts then", payments: []ledger.Payment{reversed(payment(30000, "2025-09-01"), "2025-09-21")}, asOf: "2025-09-20", want: 70000},
		{desc: "a reversed payment with no reversal date never counts", payments: []ledger.Payment{{ID: uuid.New(), Amount: 30000, PaidOn: d("2025-09-01"), State: ledger.PaymentReversed}}, asOf: "2025-09-20", want: 100000},
		{desc: "credit notes issued on or before the as-of date count", credits: []ledger.CreditNote{{ID: uuid.New(), Amount: 10000, IssuedOn: d("2025-09-01")}, {ID: uuid.New(), Amount: 5000, IssuedOn: d("2025-09-02")}}, asOf: "2025-09-01", want: 90000},
		{desc: "overpayment owes nothing, never a negative sum", payments: []ledger.Payment{payment(60000, "2025-08-01"), payment(60000, "2025-08-02")}, asOf: "2025-09-01", want: 0, findings: []string{FindingOverpaid}},
		{desc: "paid in full", payments: []ledger.Payment{payment(100000, "2025-08-01")}, asOf: "2025-09-01", want: 0},
		{desc: "cancelled: owes nothing from the cancellation date", cancel: "2025-09-15", asOf: "2025-09-15", want: 0, findings: []string{FindingCancelled}},
		{desc: "cancelled later: owes the amount before", cancel: "2025-09-15", asOf: "2025-09-14", want: 100000},
		{desc: "CN: a bill counts at maturity, not when handed over", payments: []ledger.Payment{bill(100000, "2025-08-01", "2025-10-01")}, asOf: "2025-09-30", want: 100000, findings: []string{FindingBillMaturesAfterDue}},
		{desc: "CN: a bill counts from its maturity date", payments: []ledger.Payment{bill(100000, "2025-08-01", "2025-09-01")}, asOf: "2025-09-01", want: 0},
		{desc: "CN: a bill over six months is reported", payments: []ledger.Payment{bill(100000, "2025-08-01", "2026-02-02")}, asOf: "2025-09-01", want: 100000, findings: []string{FindingBillMaturesAfterDue, FindingBillTenorExceeded}},
		{desc: "CN: a bill with no maturity counts when handed over and is reported", payments: []ledger.Payment{bill(100000, "2025-08-01", "")}, asOf: "2025-09-01", want: 0, findings: []string{FindingBillMaturityMissing}},
		{desc: "contract terms only: a bill counts when handed over", policy: policy.IDContractTermsOnly, payments: []ledger.Payment{bill(100000, "2025-08-01", "2025-10-01")}, asOf: "2025-09-01", want: 0, findings: []string{FindingNoDueDate}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			inv := invoice("CNY 1000.00", "2025-07-10")
			inv.CancelledOn = d(tc.cancel)
			id := policy.IDCN802LargeEnterprise
			if tc.policy != "" {
				id = tc.policy
			}
			in := input(t, id, inv, tc.asOf)
			in.Payments, in.CreditNotes = tc.payments, tc.credits
			j := evaluate(t, in)
			if j.Outstanding != tc.want {
				t.Errorf("Outstanding = %d, want %d", j.Outstanding, tc.want)
			}
			got := codes(j.Findings)
			if len(got) != len(tc.findings) {
				t.Errorf("findings = %v, want %v", got, tc.findings)
			}
			for i := range min(len(got), len(tc.findings)) {
				if got[i] != tc.findings[i] {
					t.Errorf("findings = %v, want %v", got, tc.findings)
				}
			}
		})
	}
}

// TestFindingsShowAmounts: a finding names amounts in the invoice's
// currency, not in minor units.
func TestFindingsShowAmounts(t *testing.T) {
	in := input(t, policy.IDCN802LargeEnterprise, invoice("CNY 1000.00", "2025-07-10"), "2025-09-01")
	in.Payments = []ledger.Payment{payment(60000, "2025-08-01"), payment(60000, "2025-08-02")}
	j := evaluate(t, in)
	for _, f := range j.Findings {
		if f.Code == FindingOverpaid && !strings.Contains(f.Message, "by CNY 200.00") {
			t.Errorf("overpayment finding %q does not say CNY 200.00", f.Message)
		}
	}
}

// TestRatesShownAsGiven: an accrual's rate reads as the rate was given, to
// its eighth decimal.
func TestRatesShownAsGiven(t *testing.T) {
	r, _ := new(big.Rat).SetString("0.0328767")
	if got := pctText(r); got != "0.0328767" {
		t.Errorf("pctText(0.0328767) = %s", got)
	}
	if got := pctText(big.NewRat(8, 1)); got != "8.00" {
		t.Errorf("pctText(8) = %s", got)
	}
}

func TestInvalidInput(t *testing.T) {
	tests := []struct {
		desc string
		edit func(*Input)
	}{
		{"no as-of date", func(in *Input) { in.AsOf = d("") }},
		{"no issue date", func(in *Input) { in.Invoice.IssuedOn = d("") }},
		{"unknown currency", func(in *Input) { in.Invoice.Amount.Currency = "XXX" }},
		{"zero amount", func(in *Input) { in.Invoice.Amount.Minor = 0 }},
		{"payment in another currency", func(in *Input) {
			p := payment(100, "2025-08-01")
			p.Currency = "EUR"
			in.Payments = []ledger.Payment{p}
		}},
		{"negative payment", func(in *Input) { in.Payments = []ledger.Payment{payment(-1, "2025-08-01")} }},
		{"payment without a date", func(in *Input) { in.Payments = []ledger.Payment{payment(1, "")} }},
		{"credit note without a date", func(in *Input) { in.CreditNotes = []ledger.CreditNote{{Amount: 1}} }},
		{"resolved dispute without a date", func(in *Input) {
			in.Disputes = []ledger.Dispute{{Amount: 1, OpenedOn: d("2025-08-01"), State: ledger.DisputeResolved, Resolution: ledger.ResolutionRejected}}
		}},
		{"dispute resolved before it opened", func(in *Input) {
			in.Disputes = []ledger.Dispute{{Amount: 1, OpenedOn: d("2025-08-01"), ResolvedOn: d("2025-07-01"), Resolution: ledger.ResolutionRejected}}
		}},
		{"bad agreed rate", func(in *Input) { in.Invoice.AgreedRate = &ledger.Rate{Percent: "abc"} }},
		{"invalid policy", func(in *Input) { in.Policy.Version = 0 }},
		{"no tables for a policy that needs them", func(in *Input) { in.Tables = nil }},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			in := input(t, policy.IDCN802LargeEnterprise, invoice("CNY 1000.00", "2025-07-10"), "2025-10-01")
			tc.edit(&in)
			if _, err := Evaluate(in); !errors.Is(err, ErrInvalidInput) {
				t.Errorf("Evaluate error = %v, want ErrInvalidInput", err)
			}
		})
	}
}

func TestMissingRate(t *testing.T) {
	// The ECB table starts in May 2013: a debt overdue in 2012 cannot be
	// judged.
	inv := invoice("EUR 1000.00", "2012-03-02")
	_, err := Evaluate(input(t, policy.IDEUB2B, inv, "2012-06-30"))
	if !errors.Is(err, ErrMissingData) {
		t.Errorf("Evaluate error = %v, want ErrMissingData", err)
	}
	// One overdue in 2015 is judged at the ECB rate of 31 December 2014
	// (0.05) plus 8 points.
	j, err := Evaluate(input(t, policy.IDEUB2B, invoice("EUR 1000.00", "2015-03-02"), "2015-06-30"))
	if err != nil {
		t.Fatalf("a debt overdue in 2015: %v", err)
	}
	if len(j.Accruals) == 0 || j.Accruals[0].Percent != "8.05" {
		t.Errorf("a debt overdue in 2015 accrues %+v, want 8.05%% a year", j.Accruals)
	}
}
