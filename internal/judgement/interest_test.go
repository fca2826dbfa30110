package judgement

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/money"
	"github.com/arrears/arrears/internal/policy"
)

// cnInvoice is CNY 1,000.00 delivered 2025-07-10 under a contract signed
// 2025-07-01 (LPR 3.00): under CN 802 for a large enterprise it is due
// 2025-09-08, and 0.05% per day on it is CNY 0.50.
func cnInvoice() ledger.Invoice {
	inv := invoice("CNY 1000.00", "2025-07-10")
	inv.ContractSignedOn = d("2025-07-01")
	return inv
}

func TestInterestCN(t *testing.T) {
	rev := payment(100000, "2025-09-01")
	rev.State, rev.ReversedOn = ledger.PaymentReversed, d("2025-09-11")
	tests := []struct {
		desc     string
		payments []ledger.Payment
		rate     *ledger.Rate
		noSigned bool
		asOf     string
		want     int64
		finding  string
	}{
		{desc: "due today: no interest", asOf: "2025-09-08", want: 0},
		{desc: "one day late: the as-of day accrues", asOf: "2025-09-09", want: 50},
		{desc: "ten days late", asOf: "2025-09-18", want: 500},
		{desc: "paid in full on the due date: none", payments: []ledger.Payment{payment(100000, "2025-09-08")}, asOf: "2025-09-18", want: 0},
		{desc: "paid in full the day after: the payment lowers the base from its date", payments: []ledger.Payment{payment(100000, "2025-09-09")}, asOf: "2025-09-18", want: 0},
		{desc: "partial payment on the due date lowers the base throughout", payments: []ledger.Payment{payment(40000, "2025-09-08")}, asOf: "2025-09-18", want: 300},
		{desc: "partial payment mid-period: 4 days on 1000 then 6 on 500", payments: []ledger.Payment{payment(50000, "2025-09-13")}, asOf: "2025-09-18", want: 350},
		{desc: "a payment after the as-of date does not lower it yet", payments: []ledger.Payment{payment(50000, "2025-09-19")}, asOf: "2025-09-18", want: 500},
		{desc: "a reversal restores the base from its date", payments: []ledger.Payment{rev}, asOf: "2025-09-18", want: 400},
		{desc: "agreed 4% p.a. above the LPR: 36 days x 1000 x 0.04 / 360", rate: &ledger.Rate{Percent: "4"}, asOf: "2025-10-14", want: 400},
		{desc: "agreed 2% p.a. below the LPR 3.00 at signing: floored", rate: &ledger.Rate{Percent: "2"}, asOf: "2025-10-14", want: 300, finding: FindingInterestRateFloored},
		{desc: "agreed 0.01% per day (3.6% p.a.) stands", rate: &ledger.Rate{Percent: "0.01", PerDay: true}, asOf: "2025-10-14", want: 360},
		{desc: "agreed 0.005% per day (1.8% p.a.) is floored", rate: &ledger.Rate{Percent: "0.005", PerDay: true}, asOf: "2025-10-14", want: 300, finding: FindingInterestRateFloored},
		{desc: "no contract date: the floor is the LPR on the invoice date", rate: &ledger.Rate{Percent: "2"}, noSigned: true, asOf: "2025-10-14", want: 300, finding: FindingInterestRateFloored},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			inv := cnInvoice()
			inv.AgreedRate = tc.rate
			if tc.noSigned {
				inv.ContractSignedOn = d("")
			}
			in := input(t, policy.IDCN802LargeEnterprise, inv, tc.asOf)
			in.Payments = tc.payments
			j := evaluate(t, in)
			if j.Interest != tc.want || j.ContingentInterest != 0 {
				t.Errorf("Interest = %d (+%d contingent), want %d; rule %s; accruals %+v", j.Interest, j.ContingentInterest, tc.want, j.InterestRule, j.Accruals)
			}
			if tc.finding != "" && !hasFinding(j, tc.finding) {
				t.Errorf("findings %v lack %s", codes(j.Findings), tc.finding)
			}
			if j.Compensation != (money.Money{}) {
				t.Errorf("Compensation = %v, want none under Chinese law", j.Compensation)
			}
		})
	}
}

// TestRateUnconfirmed: a reference rate needed for a day after its table
// is known to be complete is the last one known, and the judgement says so;
// within it, nothing is said.
func TestRateUnconfirmed(t *testing.T) {
	reg := registry(t)
	for _, tc := range []struct {
		desc, asOf string
		want       bool
	}{
		{"EU: interest within the confirmed half-years", "2026-02-05", false},
		{"EU: interest into a half-year the ECB table is not confirmed for", "2026-07-15", true},
		{"EU: forty years into unconfirmed half-years, said once", "2066-07-15", true},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			in := input(t, policy.IDEUB2B, invoice("EUR 10000.00", "2025-11-03"), tc.asOf) // due 2025-12-03
			j := evaluate(t, in)
			if got := hasFinding(j, FindingRateUnconfirmed); got != tc.want {
				t.Errorf("RATE_UNCONFIRMED %v, want %v (ECB confirmed through %s); findings %v", got, tc.want, reg.RateConfirmedThrough("ECB-MRO"), codes(j.Findings))
			}
			if n := strings.Count(strings.Join(codes(j.Findings), " "), FindingRateUnconfirmed); n > 1 {
				t.Errorf("RATE_UNCONFIRMED %d times, want once", n)
			}
			if j.Interest <= 0 {
				t.Errorf("interest %d, want some either way", j.Interest)
			}
		})
	}
}

// TestFixing compares the UK rule (the rate before interest starts, fixed)
// with half-yearly re-fixing on the same debt across the 2023 rise in Bank
// Rate: GBP 10,000.00 received 2023-05-01, due 2023-05-31, judged on
// 2023-07-31 (61 days late).
func TestFixing(t *testing.T) {
	tests := []struct {
		desc   string
		fixing policy.Fixing
		want   int64
	}{
		// 31 Dec 2022: 3.50 -> 11.50%: 10,000 x 0.115 x 61 / 365 = 192.19
		{desc: "AT_START: the 31 December rate for the life of the debt", fixing: policy.FixingAtStart, want: 19219},
		// June at 1 Jan rate 3.50 -> 11.5% (30 days), July at 1 Jul rate 5.00 -> 13% (31 days):
		// (34,500 + 40,300) / 365 = 204.93
		{desc: "HALF_YEARLY: each half-year's rate on its own days", fixing: policy.FixingHalfYearly, want: 20493},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			// Received 2 May: the 30 days beginning with it end on 31 May.
			inv := invoice("GBP 10000.00", "2023-05-02")
			in := input(t, policy.IDUKB2B, inv, "2023-07-31")
			in.Policy.Interest.Fixing = tc.fixing
			j := evaluate(t, in)
			if j.DueDate != d("2023-05-31") || j.Interest != tc.want {
				t.Errorf("due %s interest %d, want 2023-05-31 %d; %s; %+v", j.DueDate, j.Interest, tc.want, j.InterestRule, j.Accruals)
			}
		})
	}
}

func TestAtStartFixingDate(t *testing.T) {
	// Interest starting on 30 June uses the 31 December before; starting on
	// 1 July, the 30 June just before.
	tests := []struct {
		desc, received, wantRule string
	}{
		// The 30 days begin with the day of receipt.
		{desc: "interest starts 30 June", received: "2023-05-31", wantRule: "in force on 2022-12-31"},   // due 06-29
		{desc: "interest starts 1 July", received: "2023-06-01", wantRule: "in force on 2023-06-30"},    // due 06-30
		{desc: "interest starts 1 January", received: "2023-12-02", wantRule: "in force on 2023-12-31"}, // due 12-31, starts 2024-01-01
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			j := evaluate(t, input(t, policy.IDUKB2B, invoice("GBP 100.00", tc.received), "2024-03-01"))
			if !strings.Contains(j.InterestRule, tc.wantRule) {
				t.Errorf("rule %q lacks %q", j.InterestRule, tc.wantRule)
			}
		})
	}
}

func TestRounding(t *testing.T) {
	// CNY 10.00 at 0.05% per day is exactly half a fen a day.
	tests := []struct {
		desc string
		mode policy.Rounding
		asOf string
		want int64
	}{
		{"half even, 0.5 -> 0", policy.RoundHalfEven, "2025-09-09", 0},
		{"half even, 1.5 -> 2", policy.RoundHalfEven, "2025-09-11", 2},
		{"half even, 2.5 -> 2", policy.RoundHalfEven, "2025-09-13", 2},
		{"half up, 0.5 -> 1", policy.RoundHalfUp, "2025-09-09", 1},
		{"half up, 2.5 -> 3", policy.RoundHalfUp, "2025-09-13", 3},
		{"down, 1.5 -> 1", policy.RoundDown, "2025-09-11", 1},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			inv := invoice("CNY 10.00", "2025-07-10")
			in := input(t, policy.IDCN802LargeEnterprise, inv, tc.asOf)
			in.Policy.Rounding = tc.mode
			if j := evaluate(t, in); j.Interest != tc.want {
				t.Errorf("Interest = %d, want %d (%+v)", j.Interest, tc.want, j.Accruals)
			}
		})
	}
}

func TestAgreedRateOutsideChina(t *testing.T) {
	tests := []struct {
		desc    string
		policy  string
		inv     ledger.Invoice
		asOf    string
		want    int64
		finding string
	}{
		{
			desc:   "UK: an agreed rate is reported but the statutory rate applies",
			policy: policy.IDUKB2B,
			inv: func() ledger.Invoice {
				i := invoice("GBP 10000.00", "2023-05-02") // due 05-31
				i.AgreedRate = &ledger.Rate{Percent: "2"}
				return i
			}(),
			asOf: "2023-07-31", want: 19219, finding: FindingAgreedRateNotApplied,
		},
		// EUR 10,000.00 received on 3 September 2025: due 3 October, German
		// Unity Day, so Monday 6 October; 96 days late on 10 January 2026.
		{
			desc:   "Germany: an agreed 15% higher than base + 9 (10.27%) applies (BGB s. 288(3))",
			policy: "DE-BGB-B2B",
			inv: func() ledger.Invoice {
				i := invoice("EUR 10000.00", "2025-09-03")
				i.AgreedRate = &ledger.Rate{Percent: "15"}
				return i
			}(),
			asOf: "2026-01-10", want: 39452, // 1,000,000 x 0.15 x 96 / 365 = 39,452.05
		},
		{
			desc:   "Germany: an agreed 5%, lower, does not",
			policy: "DE-BGB-B2B",
			inv: func() ledger.Invoice {
				i := invoice("EUR 10000.00", "2025-09-03")
				i.AgreedRate = &ledger.Rate{Percent: "5"}
				return i
			}(),
			asOf: "2026-01-10", want: 27012, // 1,000,000 x 0.1027 x 96 / 365 = 27,011.51
		},
		{
			desc:   "contract terms only: the agreed 5% p.a. over 365 days",
			policy: policy.IDContractTermsOnly,
			inv: func() ledger.Invoice {
				i := invoice("USD 3650.00", "2025-01-01")
				i.AgreedTermDays, i.AgreedRate = 30, &ledger.Rate{Percent: "5"}
				return i
			}(),
			asOf: "2025-02-10", want: 500, // due 01-31; 10 days x 3650 x 0.05 / 365 = 5.00
		},
		{
			desc:   "contract terms only, no agreed rate: no interest",
			policy: policy.IDContractTermsOnly,
			inv: func() ledger.Invoice {
				i := invoice("USD 3650.00", "2025-01-01")
				i.AgreedTermDays = 30
				return i
			}(),
			asOf: "2025-02-10", want: 0,
		},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			j := evaluate(t, input(t, tc.policy, tc.inv, tc.asOf))
			if j.Interest != tc.want {
				t.Errorf("Interest = %d, want %d; %s", j.Interest, tc.want, j.InterestRule)
			}
			if tc.finding != "" && !hasFinding(j, tc.finding) {
				t.Errorf("findings %v lack %s", codes(j.Findings), tc.finding)
			}
			if tc.finding == "" && hasFinding(j, FindingAgreedRateNotApplied) {
				t.Errorf("findings %v: the agreed rate was weighed, not set aside", codes(j.Findings))
			}
		})
	}
	// An invoice judged under the German policy's version 1 keeps it: the
	// statutory rate, the agreed one reported as not applied.
	v1, ok := registry(t).Get("DE-BGB-B2B", 1)
	if !ok {
		t.Fatal("DE-BGB-B2B@1 missing")
	}
	i := invoice("EUR 10000.00", "2025-09-03")
	i.AgreedRate = &ledger.Rate{Percent: "15"}
	if j := evaluate(t, Input{Invoice: i, Policy: v1, Tables: registry(t), AsOf: d("2026-01-10")}); j.Interest != 27012 || !hasFinding(j, FindingAgreedRateNotApplied) {
		t.Errorf("under DE-BGB-B2B@1: interest %d, findings %v; want 27012 and %s", j.Interest, codes(j.Findings), FindingAgreedRateNotApplied)
	}
}

func TestDisputes(t *testing.T) {
	note := ledger.CreditNote{ID: uuid.New(), Amount: 40000, IssuedOn: d("2025-10-01")}
	open := ledger.Dispute{ID: uuid.New(), Amount: 40000, OpenedOn: d("2025-09-20"), State: ledger.DisputeOpen}
	resolved := func(res ledger.DisputeResolution, on string, noteID uuid.UUID) ledger.Dispute {
		x := open
		x.State, x.Resolution, x.ResolvedOn, x.CreditNoteID = ledger.DisputeResolved, res, d(on), noteID
		return x
	}
	// Judged on 2025-10-08, 30 days late: 1000 x 0.0005 x 30 = 15.00 on the whole.
	tests := []struct {
		desc       string
		disputes   []ledger.Dispute
		credits    []ledger.CreditNote
		out, disp  int64
		netDays    int
		bucketNet  string
		level      int
		interest   int64
		contingent int64
		finding    string
	}{
		{desc: "no dispute", out: 100000, netDays: 30, bucketNet: "1-30", level: 2, interest: 1500},
		{desc: "open on part: that part's interest is contingent, the rest escalates",
			disputes: []ledger.Dispute{open}, out: 100000, disp: 40000, netDays: 30, bucketNet: "1-30", level: 2, interest: 900, contingent: 600},
		{desc: "open on all: held out of escalation",
			disputes: []ledger.Dispute{{ID: uuid.New(), Amount: 100000, OpenedOn: d("2025-09-20")}}, out: 100000, disp: 100000, netDays: 0, bucketNet: BucketNone, level: 0, interest: 0, contingent: 1500},
		{desc: "credited: the credited part never bore interest",
			disputes: []ledger.Dispute{resolved(ledger.ResolutionCredited, "2025-10-01", note.ID)}, credits: []ledger.CreditNote{note},
			out: 60000, netDays: 30, bucketNet: "1-30", level: 2, interest: 900},
		{desc: "credited without a credit note among the facts: credited anyway, and reported",
			disputes: []ledger.Dispute{resolved(ledger.ResolutionCredited, "2025-10-01", uuid.Nil)},
			out:      60000, netDays: 30, bucketNet: "1-30", level: 2, interest: 900, finding: FindingCreditedWithoutNote},
		{desc: "rejected: the contingent interest becomes ordinary",
			disputes: []ledger.Dispute{resolved(ledger.ResolutionRejected, "2025-10-01", uuid.Nil)}, out: 100000, netDays: 30, bucketNet: "1-30", level: 2, interest: 1500},
		{desc: "withdrawn: the contingent interest becomes ordinary",
			disputes: []ledger.Dispute{resolved(ledger.ResolutionWithdrawn, "2025-10-01", uuid.Nil)}, out: 100000, netDays: 30, bucketNet: "1-30", level: 2, interest: 1500},
		{desc: "resolved after the as-of date: still open then",
			disputes: []ledger.Dispute{resolved(ledger.ResolutionCredited, "2025-10-10", note.ID)}, credits: []ledger.CreditNote{{ID: note.ID, Amount: 40000, IssuedOn: d("2025-10-10")}},
			out: 100000, disp: 40000, netDays: 30, bucketNet: "1-30", level: 2, interest: 900, contingent: 600},
		{desc: "opened after the as-of date: not yet disputed",
			disputes: []ledger.Dispute{{ID: uuid.New(), Amount: 40000, OpenedOn: d("2025-10-09")}}, out: 100000, netDays: 30, bucketNet: "1-30", level: 2, interest: 1500},
		{desc: "disputes larger than what is outstanding are capped and reported",
			disputes: []ledger.Dispute{{ID: uuid.New(), Amount: 150000, OpenedOn: d("2025-09-20")}}, out: 100000, disp: 100000, bucketNet: BucketNone, contingent: 1500, finding: FindingDisputeExceeds},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			in := input(t, policy.IDCN802LargeEnterprise, cnInvoice(), "2025-10-08")
			in.Disputes, in.CreditNotes = tc.disputes, tc.credits
			j := evaluate(t, in)
			if j.Outstanding != tc.out || j.DisputedOpen != tc.disp {
				t.Errorf("outstanding %d disputed %d, want %d %d", j.Outstanding, j.DisputedOpen, tc.out, tc.disp)
			}
			if j.DaysOverdue != 30 || j.Bucket != "1-30" {
				t.Errorf("gross: %d days, %s; want 30, 1-30", j.DaysOverdue, j.Bucket)
			}
			if j.DaysOverdueNet != tc.netDays || j.BucketNet != tc.bucketNet || j.EscalationLevel != tc.level {
				t.Errorf("net: %d days, %s, level %d; want %d %s %d", j.DaysOverdueNet, j.BucketNet, j.EscalationLevel, tc.netDays, tc.bucketNet, tc.level)
			}
			if j.Interest != tc.interest || j.ContingentInterest != tc.contingent {
				t.Errorf("interest %d contingent %d, want %d %d; %+v", j.Interest, j.ContingentInterest, tc.interest, tc.contingent, j.Accruals)
			}
			if tc.finding != "" && !hasFinding(j, tc.finding) {
				t.Errorf("findings %v lack %s", codes(j.Findings), tc.finding)
			}
		})
	}
}

func TestCompensation(t *testing.T) {
	tests := []struct {
		desc     string
		policy   string
		amount   string
		payments []ledger.Payment
		disputes []ledger.Dispute
		asOf     string
		want     money.Money
		finding  string
	}{
		{desc: "UK: under 1,000 -> GBP 40", policy: policy.IDUKB2B, amount: "GBP 999.99", asOf: "2024-08-15", want: m("GBP 40.00")},
		{desc: "UK: exactly 1,000 -> GBP 70", policy: policy.IDUKB2B, amount: "GBP 1000.00", asOf: "2024-08-15", want: m("GBP 70.00")},
		{desc: "UK: just under 10,000 -> GBP 70", policy: policy.IDUKB2B, amount: "GBP 9999.99", asOf: "2024-08-15", want: m("GBP 70.00")},
		{desc: "UK: exactly 10,000 -> GBP 100", policy: policy.IDUKB2B, amount: "GBP 10000.00", asOf: "2024-08-15", want: m("GBP 100.00")},
		// The UK's 30 days begin with the day of receipt: due 2024-07-30.
		{desc: "UK: not yet late -> none", policy: policy.IDUKB2B, amount: "GBP 10000.00", asOf: "2024-07-30", want: money.Money{}},
		{desc: "UK: late from the day after -> owed", policy: policy.IDUKB2B, amount: "GBP 10000.00", asOf: "2024-07-31", want: m("GBP 100.00")},
		{desc: "UK: paid on the due date -> none", policy: policy.IDUKB2B, amount: "GBP 10000.00", payments: []ledger.Payment{payment(1000000, "2024-07-30")}, asOf: "2024-08-15", want: money.Money{}},
		{desc: "UK: paid the day after the due date -> owed", policy: policy.IDUKB2B, amount: "GBP 5000.00", payments: []ledger.Payment{payment(500000, "2024-07-31")}, asOf: "2024-08-15", want: m("GBP 70.00")},
		// The band is sized by the debt that was late, not the invoice's
		// face: GBP 1,200.00 less GBP 300.00 paid before the due date.
		{desc: "UK: part paid on time, 900 late -> GBP 40", policy: policy.IDUKB2B, amount: "GBP 1200.00", payments: []ledger.Payment{payment(30000, "2024-07-20")}, asOf: "2024-08-15", want: m("GBP 40.00")},
		{desc: "UK: part paid late, 1,200 late -> GBP 70", policy: policy.IDUKB2B, amount: "GBP 1200.00", payments: []ledger.Payment{payment(30000, "2024-08-01")}, asOf: "2024-08-15", want: m("GBP 70.00")},
		{desc: "EU: paid the day after the due date -> owed", policy: policy.IDEUB2B, amount: "EUR 5000.00", payments: []ledger.Payment{payment(500000, "2024-08-01")}, asOf: "2024-08-15", want: m("EUR 40.00")},
		{desc: "UK: a EUR invoice gets the lowest band, reported", policy: policy.IDUKB2B, amount: "EUR 50000.00", asOf: "2024-08-15", want: m("GBP 40.00"), finding: FindingCompensationBand},
		{desc: "EU: a PLN invoice owes EUR 40, kept apart", policy: policy.IDEUB2B, amount: "PLN 5000.00", asOf: "2024-08-15", want: m("EUR 40.00")},
		{desc: "EU: only a disputed part late: contingent", policy: policy.IDEUB2B, amount: "EUR 5000.00",
			disputes: []ledger.Dispute{{ID: uuid.New(), Amount: 500000, OpenedOn: d("2024-07-20")}}, asOf: "2024-08-15", want: m("EUR 40.00"), finding: FindingCompensationContingent},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			in := input(t, tc.policy, invoice(tc.amount, "2024-07-01"), tc.asOf) // due 2024-07-31 (Wednesday); UK 2024-07-30
			in.Payments, in.Disputes = tc.payments, tc.disputes
			j := evaluate(t, in)
			if j.Compensation != tc.want {
				t.Errorf("Compensation = %v, want %v", j.Compensation, tc.want)
			}
			if j.Currency != in.Invoice.Amount.Currency {
				t.Errorf("Currency = %s", j.Currency)
			}
			if tc.finding != "" && !hasFinding(j, tc.finding) {
				t.Errorf("findings %v lack %s", codes(j.Findings), tc.finding)
			}
		})
	}
}

// TestInterestOwedRoundedOnce: the interest owed now is the exact interest
// on the undisputed part rounded once, and the contingent part is the rest
// of the rounded total. 13.60 overdue 30 days at 0.05% a day bears 0.204,
// 0.006 of it on the 0.40 disputed: owed 0.198, rounded 0.20 (rounding the
// contingent 0.006 first to 0.01 would leave 0.19).
func TestInterestOwedRoundedOnce(t *testing.T) {
	inv := cnInvoice()
	inv.Amount.Minor = 1360
	in := input(t, policy.IDCN802LargeEnterprise, inv, "2025-10-08")
	in.Disputes = []ledger.Dispute{{ID: uuid.New(), Amount: 40, OpenedOn: d("2025-09-20"), State: ledger.DisputeOpen}}
	j := evaluate(t, in)
	if j.Interest != 20 || j.ContingentInterest != 0 {
		t.Errorf("interest %d contingent %d, want 20 and 0; %+v", j.Interest, j.ContingentInterest, j.Accruals)
	}
}

// TestUKRateBefore2016: a UK debt whose interest was fixed before the cut
// of August 2016 takes the 0.50% Bank Rate in force since March 2009, plus
// 8: GBP 10,000.00 received 2016-05-02, due 2016-05-31, interest from 1
// June at 8.5% (fixed on 2015-12-31) for 30 days is GBP 69.86.
func TestUKRateBefore2016(t *testing.T) {
	j := evaluate(t, input(t, policy.IDUKB2B, invoice("GBP 10000.00", "2016-05-02"), "2016-06-30"))
	if !strings.Contains(j.InterestRule, "in force on 2015-12-31") || j.Interest != 6986 {
		t.Errorf("interest %d, rule %q; want 6986 at the rate in force on 2015-12-31", j.Interest, j.InterestRule)
	}
}
