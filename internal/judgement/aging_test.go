package judgement

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/policy"
)

func TestBucketOf(t *testing.T) {
	def := policy.DefaultBucketEdges()
	tests := []struct {
		desc  string
		edges []int
		days  int
		want  string
	}{
		{"not yet due (negative)", def, -5, BucketNotDue},
		{"due today", def, 0, BucketNotDue},
		{"first day late", def, 1, "1-30"},
		{"day 30 closes 1-30", def, 30, "1-30"},
		{"day 31 opens 31-60", def, 31, "31-60"},
		{"day 60", def, 60, "31-60"},
		{"day 61", def, 61, "61-90"},
		{"day 90", def, 90, "61-90"},
		{"day 91", def, 91, "91-180"},
		{"day 180", def, 180, "91-180"},
		{"day 181", def, 181, "181-365"},
		{"day 365", def, 365, "181-365"},
		{"day 366", def, 366, "OVER_365"},
		{"custom edges: day 7", []int{7, 14}, 7, "1-7"},
		{"custom edges: day 8", []int{7, 14}, 8, "8-14"},
		{"custom edges: day 15", []int{7, 14}, 15, "OVER_14"},
		{"no edges: any late day", nil, 1, "OVER_0"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			if got := BucketOf(tc.edges, tc.days); got != tc.want {
				t.Errorf("BucketOf(%v, %d) = %q, want %q", tc.edges, tc.days, got, tc.want)
			}
		})
	}
	want := []string{"NOT_DUE", "1-30", "31-60", "61-90", "91-180", "181-365", "OVER_365"}
	if diff := cmp.Diff(want, BucketNames(def)); diff != "" {
		t.Errorf("BucketNames (-want +got):\n%s", diff)
	}
}

// TestBucketEdgesEvaluated walks a CN invoice due 2025-09-08 across every
// edge of the default buckets and ladder.
func TestBucketEdgesEvaluated(t *testing.T) {
	due := d("2025-09-08")
	tests := []struct {
		desc   string
		days   int
		bucket string
		level  int
		name   string
	}{
		{"day 0", 0, BucketNotDue, 0, policy.LevelNone},
		{"day 1", 1, "1-30", 1, "OVERDUE"},
		{"day 29", 29, "1-30", 1, "OVERDUE"},
		{"day 30: formal notice, still 1-30", 30, "1-30", 2, "FORMAL_NOTICE"},
		{"day 31", 31, "31-60", 2, "FORMAL_NOTICE"},
		{"day 59", 59, "31-60", 2, "FORMAL_NOTICE"},
		{"day 60", 60, "31-60", 3, "REGULATOR_WATCH"},
		{"day 61", 61, "61-90", 3, "REGULATOR_WATCH"},
		{"day 90", 90, "61-90", 4, "REFERRAL"},
		{"day 91", 91, "91-180", 4, "REFERRAL"},
		{"day 180", 180, "91-180", 4, "REFERRAL"},
		{"day 181", 181, "181-365", 4, "REFERRAL"},
		{"day 365", 365, "181-365", 4, "REFERRAL"},
		{"day 366", 366, "OVER_365", 4, "REFERRAL"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			asOf := due.AddDays(tc.days)
			j := evaluate(t, input(t, policy.IDCN802LargeEnterprise, cnInvoice(), asOf.String()))
			if j.DaysOverdue != tc.days || j.Bucket != tc.bucket || j.BucketNet != tc.bucket || j.EscalationLevel != tc.level || j.EscalationName != tc.name {
				t.Errorf("got %d days %s/%s level %d %s; want %d %s level %d %s", j.DaysOverdue, j.Bucket, j.BucketNet, j.EscalationLevel, j.EscalationName, tc.days, tc.bucket, tc.level, tc.name)
			}
		})
	}
}

func TestEscalate(t *testing.T) {
	def := policy.DefaultEscalation()
	withMin := []policy.EscalationLevel{
		{Name: "OVERDUE", Days: 1},
		{Name: "FORMAL_NOTICE", Days: 30, MinNetOverdue: &policy.Amount{Minor: 100000, Currency: "CNY"}},
		{Name: "REFERRAL", Days: 90, MinNetOverdue: &policy.Amount{Minor: 1000000, Currency: "CNY"}},
	}
	tests := []struct {
		desc     string
		ladder   []policy.EscalationLevel
		days     int
		net      int64
		currency string
		want     int
	}{
		{"nothing net outstanding", def, 100, 0, "CNY", 0},
		{"day 0", def, 0, 1, "CNY", 0},
		{"day 1", def, 1, 1, "CNY", 1},
		{"day 29", def, 29, 1, "CNY", 1},
		{"day 30", def, 30, 1, "CNY", 2},
		{"day 89", def, 89, 1, "CNY", 3},
		{"day 90", def, 90, 1, "CNY", 4},
		{"day 1000", def, 1000, 1, "CNY", 4},
		{"minimum amount not met holds the level", withMin, 100, 99999, "CNY", 1},
		{"minimum amount met", withMin, 100, 100000, "CNY", 2},
		{"both minimums met", withMin, 100, 1000000, "CNY", 3},
		{"a minimum in another currency is ignored", withMin, 100, 5, "EUR", 3},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			if got, _ := Escalate(tc.ladder, tc.days, tc.net, tc.currency); got != tc.want {
				t.Errorf("Escalate = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestNextChange(t *testing.T) {
	due := d("2025-09-08")
	day := func(n int) civil.Date { return due.AddDays(n) }
	tests := []struct {
		desc     string
		days     int
		payments []ledger.Payment
		disputes []ledger.Dispute
		ladder   []policy.EscalationLevel
		want     civil.Date
	}{
		{desc: "not yet due: the day after the due date", days: -10, want: day(1)},
		{desc: "due today: tomorrow", days: 0, want: day(1)},
		{desc: "day 5: formal notice at day 30", days: 5, want: day(30)},
		{desc: "day 30: the bucket changes at day 31", days: 30, want: day(31)},
		{desc: "day 31: level 3 at day 60", days: 31, want: day(60)},
		{desc: "day 90: bucket at day 91", days: 90, want: day(91)},
		{desc: "day 200: last bucket edge at 366", days: 200, want: day(366)},
		{desc: "day 400: nothing left to change", days: 400, want: civil.Date{}},
		{desc: "a recorded payment dated later comes first", days: 5, payments: []ledger.Payment{payment(100, day(10).String())}, want: day(10)},
		{desc: "fully paid: nothing changes", days: 5, payments: []ledger.Payment{payment(100000, day(1).String())}, want: civil.Date{}},
		{desc: "fully disputed: only the gross bucket moves", days: 5,
			disputes: []ledger.Dispute{{ID: uuid.New(), Amount: 100000, OpenedOn: day(2)}}, want: day(31)},
		{desc: "a level held by its minimum amount is not scheduled", days: 5,
			ladder: []policy.EscalationLevel{{Name: "OVERDUE", Days: 1}, {Name: "BIG", Days: 10, MinNetOverdue: &policy.Amount{Minor: 1 << 40, Currency: "CNY"}}},
			want:   day(31)},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			in := input(t, policy.IDCN802LargeEnterprise, cnInvoice(), day(tc.days).String())
			in.Payments, in.Disputes = tc.payments, tc.disputes
			if tc.ladder != nil {
				in.Policy.Escalation = tc.ladder
			}
			j := evaluate(t, in)
			if j.NextChange != tc.want {
				t.Errorf("NextChange = %s, want %s", j.NextChange, tc.want)
			}
			// Nothing changes between AsOf and NextChange.
			if !j.NextChange.IsZero() && j.NextChange.DaysSince(j.AsOf) > 1 {
				in.AsOf = j.NextChange.AddDays(-1)
				k := evaluate(t, in)
				if k.Bucket != j.Bucket || k.BucketNet != j.BucketNet || k.EscalationLevel != j.EscalationLevel {
					t.Errorf("changed before NextChange: %s/%s/%d -> %s/%s/%d", j.Bucket, j.BucketNet, j.EscalationLevel, k.Bucket, k.BucketNet, k.EscalationLevel)
				}
			}
		})
	}
}
