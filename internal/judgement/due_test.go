package judgement

import (
	"slices"
	"strings"
	"testing"

	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/policy"
)

func TestDueDate(t *testing.T) {
	tests := []struct {
		desc        string
		policy      string
		edit        func(*ledger.Invoice)
		want        string
		wantStart   string
		wantEvent   policy.ClockEvent
		provisional bool
		findings    []string
		says        string // in a finding's message, when given
	}{
		{
			desc:   "60 days from delivery on 10 January ends on 11 March in a non-leap year",
			policy: policy.IDContractTermsOnly,
			edit: func(i *ledger.Invoice) {
				i.DeliveredOn, i.AgreedTermDays = d("2025-01-10"), 60
			},
			want: "2025-03-11", wantStart: "2025-01-10", wantEvent: policy.EventDelivery,
		},
		{
			desc:   "leap year: 60 days from 10 January 2024 ends on 10 March",
			policy: policy.IDContractTermsOnly,
			edit: func(i *ledger.Invoice) {
				i.DeliveredOn, i.AgreedTermDays = d("2024-01-10"), 60
			},
			want: "2024-03-10", wantStart: "2024-01-10", wantEvent: policy.EventDelivery,
		},
		{
			desc:   "leap day itself: 30 days from 30 January 2024 is 29 February",
			policy: policy.IDContractTermsOnly,
			edit: func(i *ledger.Invoice) {
				i.DeliveredOn, i.AgreedTermDays = d("2024-01-30"), 30
			},
			want: "2024-02-29", wantStart: "2024-01-30", wantEvent: policy.EventDelivery,
		},
		{
			desc:   "CN: due date on a Sunday moves to Monday",
			policy: policy.IDCN802LargeEnterprise,
			edit:   func(i *ledger.Invoice) { i.DeliveredOn = d("2024-01-10") },
			want:   "2024-03-11", wantStart: "2024-01-10", wantEvent: policy.EventDelivery,
		},
		{
			desc:   "CN: due date in the Spring Festival holiday moves to the day after it ends",
			policy: policy.IDCN802LargeEnterprise,
			edit:   func(i *ledger.Invoice) { i.DeliveredOn = d("2024-11-29") }, // + 60 = 2025-01-28
			want:   "2025-02-05", wantStart: "2024-11-29", wantEvent: policy.EventDelivery,
		},
		{
			desc:   "CN: due date on an adjusted working Saturday stays",
			policy: policy.IDCN802LargeEnterprise,
			edit:   func(i *ledger.Invoice) { i.DeliveredOn = d("2024-12-10") }, // + 60 = Saturday 2025-02-08, worked
			want:   "2025-02-08", wantStart: "2024-12-10", wantEvent: policy.EventDelivery,
		},
		{
			desc:   "CN: due date on National Day 2025 moves past the 8-day holiday",
			policy: policy.IDCN802PublicBody,
			edit:   func(i *ledger.Invoice) { i.DeliveredOn = d("2025-09-01") }, // + 30 = 2025-10-01
			want:   "2025-10-09", wantStart: "2025-09-01", wantEvent: policy.EventDelivery,
		},
		{
			desc:   "CN: a year the calendar does not cover counts weekends only and is provisional",
			policy: policy.IDCN802LargeEnterprise,
			edit: func(i *ledger.Invoice) {
				i.DeliveredOn = d("2027-01-05") // + 60 = Saturday 2027-03-06
			},
			want: "2027-03-08", wantStart: "2027-01-05", wantEvent: policy.EventDelivery,
			provisional: true, findings: []string{FindingProvisionalCalendar},
		},
		{
			desc:   "CN public body: an agreed term over the hard cap is replaced by the cap",
			policy: policy.IDCN802PublicBody,
			edit: func(i *ledger.Invoice) {
				i.DeliveredOn, i.AgreedTermDays = d("2025-07-01"), 90 // cap: + 60 = 2025-08-30, Saturday
			},
			want: "2025-09-01", wantStart: "2025-07-01", wantEvent: policy.EventDelivery,
			findings: []string{FindingTermExceedsCap},
		},
		{
			desc:   "CN public body: an agreed due date past the hard cap is replaced by the cap",
			policy: policy.IDCN802PublicBody,
			edit: func(i *ledger.Invoice) {
				i.DeliveredOn, i.AgreedDueDate = d("2025-07-01"), d("2025-12-31")
			},
			want: "2025-09-01", wantStart: "2025-07-01", wantEvent: policy.EventDelivery,
			findings: []string{FindingTermExceedsCap},
		},
		{
			desc:   "CN public body: an agreed term within the cap stands",
			policy: policy.IDCN802PublicBody,
			edit: func(i *ledger.Invoice) {
				i.DeliveredOn, i.AgreedTermDays = d("2025-07-01"), 45 // 2025-08-15, Friday
			},
			want: "2025-08-15", wantStart: "2025-07-01", wantEvent: policy.EventDelivery,
		},
		{
			desc:   "CN public body: a term of exactly the cap is not over it",
			policy: policy.IDCN802PublicBody,
			edit: func(i *ledger.Invoice) {
				i.DeliveredOn, i.AgreedTermDays = d("2025-07-02"), 60 // 2025-08-31 Sunday -> 09-01
			},
			want: "2025-09-01", wantStart: "2025-07-02", wantEvent: policy.EventDelivery,
		},
		{
			desc:   "CN large enterprise: an agreed term over the soft cap stands and is reported",
			policy: policy.IDCN802LargeEnterprise,
			edit: func(i *ledger.Invoice) {
				i.DeliveredOn, i.AgreedTermDays = d("2025-07-01"), 90 // 2025-09-29, Monday
			},
			want: "2025-09-29", wantStart: "2025-07-01", wantEvent: policy.EventDelivery,
			findings: []string{FindingTermExceedsCap},
		},
		{
			desc:   "CN 728 large enterprise: a long agreed term stands without a finding (no cap)",
			policy: policy.IDCN728LargeEnterprise,
			edit: func(i *ledger.Invoice) {
				i.DeliveredOn, i.AgreedTermDays = d("2024-07-01"), 120 // 2024-10-29, Tuesday
			},
			want: "2024-10-29", wantStart: "2024-07-01", wantEvent: policy.EventDelivery,
		},
		{
			desc:   "CN 728 large enterprise: no agreed term and no default: no due date",
			policy: policy.IDCN728LargeEnterprise,
			edit:   func(i *ledger.Invoice) {},
			want:   "", wantStart: "2024-07-01", wantEvent: policy.EventDelivery,
			findings: []string{FindingNoDueDate},
		},
		{
			desc:   "CN: delivery missing falls back to receipt, and says so",
			policy: policy.IDCN802LargeEnterprise,
			edit: func(i *ledger.Invoice) {
				i.DeliveredOn, i.ReceivedOn = civil.Date{}, d("2025-07-03") // + 60 = 2025-09-01, Monday
			},
			want: "2025-09-01", wantStart: "2025-07-03", wantEvent: policy.EventReceipt,
			findings: []string{FindingClockStartFallback},
		},
		{
			desc:   "CN: delivery and receipt missing fall back to the invoice date",
			policy: policy.IDCN802LargeEnterprise,
			edit: func(i *ledger.Invoice) {
				i.DeliveredOn, i.ReceivedOn = civil.Date{}, civil.Date{} // issued 2024-07-01 + 60 = 2024-08-30, Friday
			},
			want: "2024-08-30", wantStart: "2024-07-01", wantEvent: policy.EventIssue,
			findings: []string{FindingClockStartFallback},
		},
		{
			desc:   "CN: acceptance as a condition of payment starts the clock at acceptance",
			policy: policy.IDCN802LargeEnterprise,
			edit: func(i *ledger.Invoice) {
				i.AcceptanceRequired, i.AcceptancePeriodDays, i.AcceptancePassedOn = true, 15, d("2024-07-10") // + 60 = 2024-09-08 Sunday
			},
			want: "2024-09-09", wantStart: "2024-07-10", wantEvent: policy.EventAcceptance,
		},
		{
			desc:   "CN: late acceptance: the clock runs from the end of the agreed acceptance period",
			policy: policy.IDCN802LargeEnterprise,
			edit: func(i *ledger.Invoice) {
				// delivered 2024-07-01, period 10 days ends 2024-07-11; accepted 2024-08-20.
				i.AcceptanceRequired, i.AcceptancePeriodDays, i.AcceptancePassedOn = true, 10, d("2024-08-20")
			},
			want: "2024-09-09", wantStart: "2024-07-11", wantEvent: policy.EventAcceptance, // 07-11 + 60 = 09-09, Monday
		},
		{
			desc:   "CN: acceptance not yet recorded: the end of the agreed period bounds the clock",
			policy: policy.IDCN802LargeEnterprise,
			edit: func(i *ledger.Invoice) {
				i.AcceptanceRequired, i.AcceptancePeriodDays = true, 10
			},
			want: "2024-09-09", wantStart: "2024-07-11", wantEvent: policy.EventAcceptance,
			findings: []string{FindingAcceptancePending},
		},
		{
			desc:   "CN: an acceptance period ending in the National Day holiday ends after it, so acceptance then is not late",
			policy: policy.IDCN802PublicBody,
			edit: func(i *ledger.Invoice) {
				// delivered 2025-09-01 + 30 = 2025-10-01, in the holiday to 10-08; accepted on 10-09.
				i.DeliveredOn, i.AcceptanceRequired, i.AcceptancePeriodDays, i.AcceptancePassedOn = d("2025-09-01"), true, 30, d("2025-10-09")
			},
			want: "2025-11-10", wantStart: "2025-10-09", wantEvent: policy.EventAcceptance, // + 30 = Saturday 11-08
		},
		{
			desc:   "CN: accepted late after a period ending in the holiday: the clock runs from the holiday's end",
			policy: policy.IDCN802PublicBody,
			edit: func(i *ledger.Invoice) {
				i.DeliveredOn, i.AcceptanceRequired, i.AcceptancePeriodDays, i.AcceptancePassedOn = d("2025-09-01"), true, 30, d("2025-10-20")
			},
			want: "2025-11-10", wantStart: "2025-10-09", wantEvent: policy.EventAcceptance,
		},
		{
			desc:   "EU: a statutory acceptance period ending on a Sunday ends on Monday",
			policy: policy.IDEUB2B,
			edit: func(i *ledger.Invoice) {
				// delivered 2024-08-02 + 30 = Sunday 09-01; pending: the clock runs from Monday 09-02.
				i.DeliveredOn, i.AcceptanceRequired = d("2024-08-02"), true
			},
			want: "2024-10-02", wantStart: "2024-09-02", wantEvent: policy.EventAcceptance,
			findings: []string{FindingAcceptancePending},
		},
		{
			desc:   "UK: no rule moves a period's end, the acceptance period's neither",
			policy: policy.IDUKB2B,
			edit: func(i *ledger.Invoice) {
				i.DeliveredOn, i.AcceptanceRequired, i.AcceptancePeriodDays = d("2024-08-02"), true, 30 // Sunday 09-01
			},
			want: "2024-09-30", wantStart: "2024-09-01", wantEvent: policy.EventAcceptance, // 30 days beginning with it
			findings: []string{FindingAcceptancePending},
		},
		{
			desc:   "CN: an acceptance period ending in a year the calendar does not cover: provisional when the clock starts on its end",
			policy: policy.IDCN728LargeEnterprise,
			edit: func(i *ledger.Invoice) {
				// delivered 2019-11-20 + 30 = Friday 2019-12-20, on weekends only (2019 is not covered);
				// + 60 = Tuesday 2020-02-18, a working day of the published 2020.
				i.DeliveredOn, i.AcceptanceRequired, i.AcceptancePeriodDays, i.AgreedTermDays = d("2019-11-20"), true, 30, 60
			},
			want: "2020-02-18", wantStart: "2019-12-20", wantEvent: policy.EventAcceptance,
			provisional: true, findings: []string{FindingAcceptancePending, FindingProvisionalCalendar},
		},
		{
			desc:   "CN: accepted within a period ending on an unpublished year, with an agreed due date: nothing provisional",
			policy: policy.IDCN802LargeEnterprise,
			edit: func(i *ledger.Invoice) {
				i.DeliveredOn, i.AcceptanceRequired, i.AcceptancePeriodDays, i.AcceptancePassedOn = d("2026-12-10"), true, 30, d("2026-12-15")
				i.AgreedDueDate = d("2026-12-31")
			},
			want: "2026-12-31", wantStart: "2026-12-15", wantEvent: policy.EventAcceptance,
		},
		{
			desc:   "EU: acceptance pending, but the invoice received later: the clock runs from receipt, and nothing says it runs from the period's end",
			policy: policy.IDEUB2B,
			edit: func(i *ledger.Invoice) {
				// delivered 2024-08-02 + 30 = Sunday 09-01, so Monday 09-02;
				// received 09-20, later: + 30 = Sunday 10-20, so 10-21.
				i.DeliveredOn, i.AcceptanceRequired, i.ReceivedOn = d("2024-08-02"), true, d("2024-09-20")
			},
			want: "2024-10-21", wantStart: "2024-09-20", wantEvent: policy.EventReceipt,
		},
		{
			desc:   "CN: an agreed acceptance period, but no delivery recorded: the clock has not started for want of the delivery date",
			policy: policy.IDCN802LargeEnterprise,
			edit: func(i *ledger.Invoice) {
				i.DeliveredOn, i.AcceptanceRequired, i.AcceptancePeriodDays = civil.Date{}, true, 15
			},
			want: "", wantStart: "", wantEvent: "",
			findings: []string{FindingClockNotStarted}, says: "the delivery date, from which the acceptance period runs, is not recorded",
		},
		{
			desc:   "CN: acceptance pending with no agreed period: the clock has not started",
			policy: policy.IDCN802LargeEnterprise,
			edit: func(i *ledger.Invoice) {
				i.AcceptanceRequired = true
			},
			want: "", wantStart: "", wantEvent: "",
			findings: []string{FindingClockNotStarted},
		},
		{
			desc:   "CN: a confirmed settlement starts the clock",
			policy: policy.IDCN802PublicBody,
			edit: func(i *ledger.Invoice) {
				i.SettlementConfirmedOn = d("2024-07-15") // + 30 = 2024-08-14, Wednesday
			},
			want: "2024-08-14", wantStart: "2024-07-15", wantEvent: policy.EventSettlement,
		},
		{
			desc:   "CN, Decree 728: a confirmed settlement does not start the clock (no such rule before Decree 802)",
			policy: policy.IDCN728PublicBody,
			edit: func(i *ledger.Invoice) {
				i.SettlementConfirmedOn = d("2024-07-15") // delivered 2024-07-01 + 30 = 2024-07-31, Wednesday
			},
			want: "2024-07-31", wantStart: "2024-07-01", wantEvent: policy.EventDelivery,
		},
		{
			desc:   "EU: goods received after the invoice: the clock runs from the goods",
			policy: policy.IDEUB2B,
			edit: func(i *ledger.Invoice) {
				i.ReceivedOn, i.DeliveredOn = d("2024-07-01"), d("2024-07-05") // + 30 = 2024-08-04 Sunday
			},
			want: "2024-08-05", wantStart: "2024-07-05", wantEvent: policy.EventReceipt,
		},
		{
			desc:   "EU: acceptance later than receipt is the latest event",
			policy: policy.IDEUB2B,
			edit: func(i *ledger.Invoice) {
				i.AcceptanceRequired, i.AcceptancePassedOn = true, d("2024-07-16") // + 30 = 2024-08-15 Thursday
			},
			want: "2024-08-15", wantStart: "2024-07-16", wantEvent: policy.EventAcceptance,
		},
		{
			desc:   "EU: acceptance pending with no agreed period ends 30 days after delivery, as the Directive allows",
			policy: policy.IDEUB2B,
			edit: func(i *ledger.Invoice) {
				i.AcceptanceRequired = true // delivered 2024-07-01 + 30 = 2024-07-31; + 30 = 2024-08-30 Friday
			},
			want: "2024-08-30", wantStart: "2024-07-31", wantEvent: policy.EventAcceptance,
			findings: []string{FindingAcceptancePending},
		},
		{
			desc:   "EU: acceptance passed late with no agreed period: the clock ran from the 30th day",
			policy: policy.IDEUB2B,
			edit: func(i *ledger.Invoice) {
				i.AcceptanceRequired, i.AcceptancePassedOn = true, d("2024-09-15")
			},
			want: "2024-08-30", wantStart: "2024-07-31", wantEvent: policy.EventAcceptance,
		},
		{
			desc:   "EU: an agreed acceptance period stands over the statutory 30 days",
			policy: policy.IDEUB2B,
			edit: func(i *ledger.Invoice) {
				i.AcceptanceRequired, i.AcceptancePeriodDays = true, 45 // 2024-08-15; + 30 = 2024-09-14 Saturday
			},
			want: "2024-09-16", wantStart: "2024-08-15", wantEvent: policy.EventAcceptance,
			findings: []string{FindingAcceptancePending},
		},
		{
			desc:   "EU: invoice receipt unknown: goods receipt stands in and is reported",
			policy: policy.IDEUB2B,
			edit: func(i *ledger.Invoice) {
				i.ReceivedOn = civil.Date{}
			},
			want: "2024-07-31", wantStart: "2024-07-01", wantEvent: policy.EventDelivery,
			findings: []string{FindingClockStartFallback},
		},
		{
			desc:   "EU public authority: the hard cap of 60 days replaces a 90-day term",
			policy: policy.IDEUPublic,
			edit: func(i *ledger.Invoice) {
				i.AgreedTermDays = 90 // cap: 2024-07-01 + 60 = 2024-08-30 Friday
			},
			want: "2024-08-30", wantStart: "2024-07-01", wantEvent: policy.EventReceipt,
			findings: []string{FindingTermExceedsCap},
		},
		{
			desc:   "DE: due date on a public holiday (3 October) moves to the next working day",
			policy: "DE-BGB-B2B",
			edit: func(i *ledger.Invoice) {
				i.ReceivedOn = d("2024-09-03") // + 30 = Thursday 2024-10-03
			},
			want: "2024-10-04", wantStart: "2024-09-03", wantEvent: policy.EventReceipt,
		},
		{
			desc:   "UK: no day adjustment: a Saturday due date stays",
			policy: policy.IDUKB2B,
			edit: func(i *ledger.Invoice) {
				i.ReceivedOn = d("2024-07-02") // + 30 = Thursday 08-01; use an agreed date on a Saturday
				i.AgreedDueDate = d("2024-08-03")
			},
			want: "2024-08-03", wantStart: "2024-07-02", wantEvent: policy.EventReceipt,
		},
		{
			desc:   "UK public buyer: an agreed term past the 30-day default is cut to it",
			policy: policy.IDUKPublic,
			edit: func(i *ledger.Invoice) {
				i.AgreedTermDays = 45
			},
			want: "2024-07-30", wantStart: "2024-07-01", wantEvent: policy.EventReceipt,
			findings: []string{FindingTermExceedsCap},
		},
		// The Act's 30-day period begins with the day of receipt: an
		// agreed "30 days" (counted from the day after) ends a day past it.
		{
			desc:   "UK public buyer: an agreed 30 days runs a day past the 30 days beginning with receipt",
			policy: policy.IDUKPublic,
			edit: func(i *ledger.Invoice) {
				i.AgreedTermDays = 30
			},
			want: "2024-07-30", wantStart: "2024-07-01", wantEvent: policy.EventReceipt,
			findings: []string{FindingTermExceedsCap},
		},
		{
			desc:   "UK public buyer: an agreed 29 days ends on the period's last day",
			policy: policy.IDUKPublic,
			edit: func(i *ledger.Invoice) {
				i.AgreedTermDays = 29
			},
			want: "2024-07-30", wantStart: "2024-07-01", wantEvent: policy.EventReceipt,
		},
		{
			desc:   "UK business: an agreed date on the last of the 60 days beginning with receipt stands unreported",
			policy: policy.IDUKB2B,
			edit: func(i *ledger.Invoice) {
				i.AgreedDueDate = d("2024-08-29")
			},
			want: "2024-08-29", wantStart: "2024-07-01", wantEvent: policy.EventReceipt,
		},
		{
			desc:   "UK business: an agreed 60 days runs a day past the 60-day period, reported",
			policy: policy.IDUKB2B,
			edit: func(i *ledger.Invoice) {
				i.AgreedTermDays = 60
			},
			want: "2024-08-30", wantStart: "2024-07-01", wantEvent: policy.EventReceipt,
			findings: []string{FindingTermExceedsCap},
		},
		{
			desc:   "UK business: an agreed 90 days stands but is reported",
			policy: policy.IDUKB2B,
			edit: func(i *ledger.Invoice) {
				i.AgreedTermDays = 90
			},
			want: "2024-09-29", wantStart: "2024-07-01", wantEvent: policy.EventReceipt,
			findings: []string{FindingTermExceedsCap},
		},
		// France measures its 60 days from the invoice date, whatever
		// starts the clock (delivery here).
		{
			desc:   "France: 75 days from delivery but 56 from the invoice date is within the cap",
			policy: "FR-L441-B2B",
			edit: func(i *ledger.Invoice) {
				i.DeliveredOn, i.IssuedOn, i.AgreedDueDate = d("2025-03-01"), d("2025-03-20"), d("2025-05-15")
			},
			want: "2025-05-15", wantStart: "2025-03-01", wantEvent: policy.EventDelivery,
		},
		{
			desc:   "France: 61 days from the invoice date is over the cap, reported",
			policy: "FR-L441-B2B",
			edit: func(i *ledger.Invoice) {
				i.DeliveredOn, i.IssuedOn, i.AgreedDueDate = d("2025-03-01"), d("2025-03-20"), d("2025-05-20")
			},
			want: "2025-05-20", wantStart: "2025-03-01", wantEvent: policy.EventDelivery,
			findings: []string{FindingTermExceedsCap},
		},
		{
			// Agreed before the delivery that starts the clock (a term
			// negative from it), still 98 days after the invoice date.
			desc:   "France: a date agreed before delivery is still measured from the invoice date",
			policy: "FR-L441-B2B",
			edit: func(i *ledger.Invoice) {
				i.IssuedOn, i.DeliveredOn, i.AgreedDueDate = d("2025-01-02"), d("2025-04-15"), d("2025-04-10")
			},
			want: "2025-04-10", wantStart: "2025-04-15", wantEvent: policy.EventDelivery,
			findings: []string{FindingTermExceedsCap},
		},
		{
			desc:   "contract terms only: no agreed term means no due date",
			policy: policy.IDContractTermsOnly,
			edit:   func(i *ledger.Invoice) {},
			want:   "", wantStart: "2024-07-01", wantEvent: policy.EventDelivery,
			findings: []string{FindingNoDueDate},
		},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			inv := invoice("CNY 1000.00", "2024-07-01")
			tc.edit(&inv)
			j := evaluate(t, input(t, tc.policy, inv, "2024-07-01"))
			if j.DueDate != d(tc.want) {
				t.Errorf("DueDate = %s, want %s (rule: %s)", j.DueDate, tc.want, j.DueDateRule)
			}
			if j.ClockStart != d(tc.wantStart) || j.ClockStartEvent != tc.wantEvent {
				t.Errorf("clock start = %s %s, want %s %s", j.ClockStartEvent, j.ClockStart, tc.wantEvent, tc.wantStart)
			}
			if j.Provisional != tc.provisional {
				t.Errorf("Provisional = %v, want %v", j.Provisional, tc.provisional)
			}
			got := codes(j.Findings)
			for _, f := range tc.findings {
				if !slices.Contains(got, f) {
					t.Errorf("findings %v lack %s", got, f)
				}
			}
			if tc.says != "" && !slices.ContainsFunc(j.Findings, func(f Finding) bool { return strings.Contains(f.Message, tc.says) }) {
				t.Errorf("no finding says %q: %+v", tc.says, j.Findings)
			}
			if len(tc.findings) == 0 && len(got) > 0 {
				t.Errorf("unexpected findings %+v", j.Findings)
			}
			if j.DueDateRule == "" {
				t.Error("DueDateRule is empty")
			}
		})
	}
}

// TestNotOverdueOnDueDate: the debt is not overdue on its due date, and is
// one day overdue on the next.
func TestNotOverdueOnDueDate(t *testing.T) {
	inv := invoice("CNY 1000.00", "2025-07-10") // CN 802 LE: due 2025-09-08
	tests := []struct {
		desc    string
		asOf    string
		days    int
		bucket  string
		level   int
		next    string
		hasRate bool
	}{
		{desc: "a day before the due date", asOf: "2025-09-07", days: 0, bucket: BucketNotDue, next: "2025-09-09"},
		{desc: "due today", asOf: "2025-09-08", days: 0, bucket: BucketNotDue, next: "2025-09-09"},
		{desc: "the day after the due date", asOf: "2025-09-09", days: 1, bucket: "1-30", level: 1, next: "2025-10-08", hasRate: true},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			j := evaluate(t, input(t, policy.IDCN802LargeEnterprise, inv, tc.asOf))
			if j.DueDate != d("2025-09-08") {
				t.Fatalf("DueDate = %s", j.DueDate)
			}
			if j.DaysOverdue != tc.days || j.Bucket != tc.bucket || j.EscalationLevel != tc.level || j.NextChange != d(tc.next) {
				t.Errorf("days %d bucket %s level %d next %s, want %d %s %d %s", j.DaysOverdue, j.Bucket, j.EscalationLevel, j.NextChange, tc.days, tc.bucket, tc.level, tc.next)
			}
			if (j.Interest > 0) != tc.hasRate {
				t.Errorf("Interest = %d", j.Interest)
			}
		})
	}
}

// TestUnknownReceiptFallback: with no recorded receipt of the invoice, the
// EU Directive starts the clock at receipt of the goods (Art. 3(3)(b)(ii));
// the UK Act has no such rule, and notice of the amount cannot come before
// the invoice was issued, so the later of delivery and issue starts it.
func TestUnknownReceiptFallback(t *testing.T) {
	for _, tc := range []struct {
		policy, wantStart, wantDue string
	}{
		{policy.IDEUB2B, "2025-07-01", "2025-07-31"},
		{policy.IDUKB2B, "2025-07-20", "2025-08-18"}, // 30 days beginning with 20 July
	} {
		inv := invoice("EUR 1000.00", "2025-07-01")
		if tc.policy == policy.IDUKB2B {
			inv.Amount = m("GBP 1000.00")
		}
		inv.IssuedOn, inv.ReceivedOn = d("2025-07-20"), civil.Date{}
		j := evaluate(t, input(t, tc.policy, inv, "2025-08-31"))
		if j.ClockStart != d(tc.wantStart) || j.DueDate != d(tc.wantDue) || !hasFinding(j, FindingClockStartFallback) {
			t.Errorf("%s: clock from %s, due %s (%v); want %s, %s and the fallback reported", tc.policy, j.ClockStart, j.DueDate, codes(j.Findings), tc.wantStart, tc.wantDue)
		}
	}
	// UK, with an acceptance recorded (5 July) but not the receipt: the
	// invoice issued on 20 July still starts the clock, the latest of all.
	inv := invoice("GBP 1000.00", "2025-07-01")
	inv.IssuedOn, inv.ReceivedOn = d("2025-07-20"), civil.Date{}
	inv.AcceptanceRequired, inv.AcceptancePeriodDays, inv.AcceptancePassedOn = true, 10, d("2025-07-05")
	j := evaluate(t, input(t, policy.IDUKB2B, inv, "2025-08-31"))
	if j.ClockStart != d("2025-07-20") || j.DueDate != d("2025-08-18") {
		t.Errorf("UK, accepted 5 July, issued 20 July, receipt unknown: clock from %s, due %s; want 2025-07-20, 2025-08-18", j.ClockStart, j.DueDate)
	}
	// Recorded events later than the stand-ins keep their place.
	inv.AcceptancePassedOn = d("2025-07-10")
	inv.IssuedOn = d("2025-07-02")
	if j := evaluate(t, input(t, policy.IDUKB2B, inv, "2025-08-31")); j.ClockStart != d("2025-07-10") {
		t.Errorf("UK, accepted 10 July, issued 2 July, receipt unknown: clock from %s, want 2025-07-10", j.ClockStart)
	}
}

// TestReceiptNamesWhatCameLater: the EU clock runs from receipt of the
// invoice, or of the goods if they came later; the due-date rule says
// which it was.
func TestReceiptNamesWhatCameLater(t *testing.T) {
	for _, tc := range []struct {
		delivered, want string
	}{{"2024-07-05", "receipt of the goods (after the invoice's) on 2024-07-05"}, {"2024-06-28", "receipt of the invoice on 2024-07-01"}} {
		inv := invoice("EUR 1000.00", "2024-07-01")
		inv.ReceivedOn, inv.DeliveredOn = d("2024-07-01"), d(tc.delivered)
		j := evaluate(t, input(t, policy.IDEUB2B, inv, "2024-07-01"))
		if j.ClockStartEvent != policy.EventReceipt || !strings.Contains(j.DueDateRule, tc.want) {
			t.Errorf("delivered %s: %s, rule %q; want it to name %q", tc.delivered, j.ClockStartEvent, j.DueDateRule, tc.want)
		}
	}
}

// TestUKCapVersions: invoices keep the policy version they were first
// judged under. Version 1 of the UK policies counted the cap from the day
// after receipt; version 2 counts the Act's period, beginning with it.
func TestUKCapVersions(t *testing.T) {
	inv := invoice("GBP 1000.00", "2024-07-01")
	inv.ReceivedOn, inv.AgreedTermDays = d("2024-07-01"), 45
	for version, want := range map[int]string{1: "2024-07-31", 2: "2024-07-30"} {
		p, ok := registry(t).Get(policy.IDUKPublic, version)
		if !ok {
			t.Fatalf("%s v%d not found", policy.IDUKPublic, version)
		}
		in := input(t, policy.IDUKPublic, inv, "2024-07-01")
		in.Policy = p
		if j := evaluate(t, in); j.DueDate != d(want) {
			t.Errorf("v%d: due %s, want %s (%s)", version, j.DueDate, want, j.DueDateRule)
		}
	}
}
