package judgement

import (
	"strings"
	"testing"

	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/policy"
)

// flatRate is the shipped tables with one table's rate fixed, for sums
// checked against published worked examples.
type flatRate struct {
	Tables
	table, pct string
}

func (f flatRate) RateOn(table string, d civil.Date) (string, bool) {
	if table == f.table {
		return f.pct, true
	}
	return f.Tables.RateOn(table, d)
}

// TestPromptPaymentInterest checks the US policy's interest against the
// Treasury's own formulas (5 CFR 1315.17): simple daily interest P(r/360*d),
// and, past 30 days, P(1+r/12)^n * (1+r/360*d) - P; and that it stops
// accruing after a year.
func TestPromptPaymentInterest(t *testing.T) {
	p := pol(t, policy.IDUSPromptPayment)
	tables := flatRate{registry(t), "US-PPA", "6.5"}
	// USD 1,500.00 received and accepted on 2025-03-03 (a Monday): due 30
	// days after, 2025-04-02 (a Wednesday, a working day).
	inv := invoice("USD 1500.00", "2025-03-03")
	inv.AcceptanceRequired, inv.AcceptancePassedOn = true, d("2025-03-03")
	for _, tc := range []struct {
		desc, asOf string
		want       int64
	}{
		// The Treasury's simple-interest example: 10 days late at 6.5%,
		// 1,500 x .065/360 x 10 = 2.7083.
		{"10 days late", "2025-04-12", 271},
		// 75 days late: two 30-day periods compounded, then 15 days:
		// 1,500 x (1+.065/12)^2 x (1+.065/360 x 15) - 1,500 = 20.4006.
		{"75 days late", "2025-06-16", 2040},
		// A year is the most interest accrues for: 365 days, twelve
		// periods compounded and 5 days, 1,500 x (1+.065/12)^12 x
		// (1+.065/360 x 5) - 1,500 = 101.9038; the same a year later.
		{"365 days late", "2026-04-02", 10190},
		{"two years late", "2027-04-02", 10190},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			j := evaluate(t, Input{Invoice: inv, Policy: p, Tables: tables, AsOf: d(tc.asOf)})
			if j.DueDate != d("2025-04-02") || j.Interest != tc.want {
				t.Errorf("due %s (%s), interest %d, want 2025-04-02 and %d; %s; %+v", j.DueDate, j.DueDateRule, j.Interest, tc.want, j.InterestRule, j.Accruals)
			}
			if ended := hasFinding(j, FindingInterestPeriodEnded); ended != (tc.asOf == "2027-04-02") {
				t.Errorf("INTEREST_PERIOD_ENDED %v; findings %v", ended, codes(j.Findings))
			}
		})
	}
	// Paid 10 days late: the interest stops with the payment, its day
	// counted ("April 2 through April 11 = 10 days" in the Treasury's
	// example of a payment due on April 1).
	j := evaluate(t, Input{Invoice: inv, Payments: []ledger.Payment{payment(150000, "2025-04-12")}, Policy: p, Tables: tables, AsOf: d("2027-09-30")})
	if j.Interest != 271 || hasFinding(j, FindingInterestPeriodEnded) {
		t.Errorf("paid 10 days late, judged years later: interest %d, findings %v; want 271, and no year of interest ended", j.Interest, codes(j.Findings))
	}
	// Paid on the due date: on time, though its day counts for interest
	// on what a later payment pays; a day later, late. (The US policy has
	// no fixed compensation; a copy with one tells on-time from late.)
	withComp := p
	withComp.Compensation = policy.Compensation{Currency: "USD", Bands: []policy.CompensationBand{{FromDebtMinor: 0, AmountMinor: 4000}}}
	for paidOn, want := range map[string]int64{"2025-04-02": 0, "2025-04-03": 4000} {
		j := evaluate(t, Input{Invoice: inv, Payments: []ledger.Payment{payment(150000, paidOn)}, Policy: withComp, Tables: tables, AsOf: d("2025-09-30")})
		if j.Compensation.Minor != want {
			t.Errorf("paid on %s (due 2025-04-02): compensation %d, want %d", paidOn, j.Compensation.Minor, want)
		}
	}
	// Part-paid on day 19: the payment takes the interest on what it pays
	// (the Treasury computes interest payment by payment), and the rest
	// compounds alone. 1,000 x .065/360 x 19 = 3.4306 paid with it; the
	// other 500, from day 1 to day 35 (2025-05-07): 500 x (1+.065/12) x
	// (1+.065/360 x 5) - 500 = 3.1621; total 6.5927.
	j = evaluate(t, Input{Invoice: inv, Payments: []ledger.Payment{payment(100000, "2025-04-21")}, Policy: p, Tables: tables, AsOf: d("2025-05-07")})
	if j.Interest != 659 {
		t.Errorf("part-paid on day 19: interest %d, want 659; %+v", j.Interest, j.Accruals)
	}
}

// TestPromptPaymentDueDate: 30 days after the later of receipt and
// acceptance, acceptance deemed on the 7th day after delivery whether or
// not the contract names one, a due date off a weekend or federal holiday
// moved to the next business day, and the rate the one in force on the day
// after the due date.
func TestPromptPaymentDueDate(t *testing.T) {
	p := pol(t, policy.IDUSPromptPayment)
	for _, tc := range []struct {
		desc                        string
		delivered, received, issued string
		required                    bool
		period                      int
		accepted, wantDue, ruleHas  string
	}{
		{"acceptance deemed on the 7th day after delivery, no acceptance in the contract",
			"2025-03-03", "2025-03-03", "2025-03-03", false, 0, "", "2025-04-09", "deemed 7 days after delivery"},
		{"accepted before the 7th day: from the acceptance",
			"2025-03-03", "2025-03-03", "2025-03-03", true, 0, "2025-03-05", "2025-04-04", "acceptance on 2025-03-05"},
		{"accepted after the 7th day: still from the 7th",
			"2025-03-03", "2025-03-03", "2025-03-03", true, 0, "2025-03-20", "2025-04-09", "deemed 7 days"},
		{"a longer acceptance period in the contract",
			"2025-03-03", "2025-03-03", "2025-03-03", true, 15, "", "2025-04-17", "deemed 15 days"},
		{"an invoice received after acceptance: from receipt",
			"2025-03-03", "2025-03-24", "2025-03-24", false, 0, "", "2025-04-23", "receipt"},
		// Due on 2025-07-04, Independence Day (a Friday): Monday 7 July.
		{"due on a federal holiday",
			"2025-05-28", "2025-05-28", "2025-05-28", false, 0, "", "2025-07-07", "deemed 7 days"},
		// Receipt not recorded: the invoice's date (2025-03-20) counts;
		// 30 days after is Saturday 19 April, so Monday 21 April.
		{"receipt not recorded: the invoice date",
			"2025-03-03", "", "2025-03-20", false, 0, "", "2025-04-21", "the invoice date"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			inv := invoice("USD 1000.00", tc.issued)
			inv.DeliveredOn, inv.ReceivedOn = d(tc.delivered), d(tc.received)
			inv.AcceptanceRequired, inv.AcceptancePeriodDays, inv.AcceptancePassedOn = tc.required, tc.period, d(tc.accepted)
			j := evaluate(t, Input{Invoice: inv, Policy: p, Tables: registry(t), AsOf: d("2025-09-30")})
			if j.DueDate != d(tc.wantDue) || !strings.Contains(j.DueDateRule, tc.ruleHas) {
				t.Errorf("due %s (%s), want %s with %q", j.DueDate, j.DueDateRule, tc.wantDue, tc.ruleHas)
			}
			if hasFinding(j, FindingAcceptancePending) {
				t.Errorf("a deemed acceptance reported pending: %v", j.Findings)
			}
		})
	}
	// The rate is the one in force on the day after the due date: due on
	// Friday 30 June 2023, the July notice's 4-7/8; due a day earlier, the
	// first half-year's 4-5/8.
	for due, want := range map[string]string{"2023-06-30": "4.875%", "2023-06-29": "4.625%"} {
		inv := invoice("USD 1000.00", "2023-05-01")
		inv.AgreedDueDate = d(due)
		j := evaluate(t, Input{Invoice: inv, Policy: p, Tables: registry(t), AsOf: d("2023-08-31")})
		if !strings.Contains(j.InterestRule, "US-PPA "+want) || !strings.Contains(j.InterestRule, "compounded every 30 days") {
			t.Errorf("due %s: interest rule %q, want the rate %s fixed for the debt, compounded", due, j.InterestRule, want)
		}
	}
}
