package complaint

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/policy"
)

func d(y, m, day int) civil.Date { return civil.MustNew(y, time.Month(m), day) }

var allStates = []State{Submitted, Accepted, Rejected, Forwarded, InHandling, DebtorResponded, Resolved, Withdrawn, Closed}
var allActors = []Actor{ByReceiver, ByHandler, ByDebtor, ByComplainant, BySystem}

// TestStateMachine tries every action from every state by every actor and
// checks it against the table of the issue, written out here independently.
func TestStateMachine(t *testing.T) {
	type key struct {
		from State
		a    Action
	}
	allowed := map[key]struct {
		to State
		by []Actor
	}{
		{Submitted, Accept}:        {Accepted, []Actor{ByReceiver}},
		{Submitted, Reject}:        {Rejected, []Actor{ByReceiver}},
		{Accepted, Forward}:        {Forwarded, []Actor{ByReceiver}},
		{Forwarded, Handle}:        {InHandling, []Actor{ByHandler}},
		{InHandling, Respond}:      {DebtorResponded, []Actor{ByDebtor}},
		{InHandling, Resolve}:      {Resolved, []Actor{ByHandler}},
		{DebtorResponded, Resolve}: {Resolved, []Actor{ByHandler}},
		{Resolved, Close}:          {Closed, []Actor{ByReceiver, ByHandler}},
		{Rejected, Close}:          {Closed, []Actor{ByReceiver, ByHandler}},
		{Withdrawn, Close}:         {Closed, []Actor{ByReceiver, ByHandler}},
		{Resolved, Reopen}:         {InHandling, []Actor{BySystem}},
	}
	for _, s := range []State{Submitted, Accepted, Forwarded, InHandling, DebtorResponded} {
		allowed[key{s, Withdraw}] = struct {
			to State
			by []Actor
		}{Withdrawn, []Actor{ByComplainant}}
	}
	actions := []Action{Accept, Reject, Forward, Handle, Respond, Resolve, Withdraw, Close, Reopen}
	for _, s := range allStates {
		for _, a := range actions {
			for _, who := range allActors {
				got, err := Next(s, a, []Actor{who})
				want, ok := allowed[key{s, a}]
				by := false
				for _, b := range want.by {
					by = by || b == who
				}
				switch {
				case ok && by:
					if err != nil || got != want.to {
						t.Errorf("%s --%s by %s--> %s, %v; want %s", s, a, who, got, err, want.to)
					}
				case ok:
					if !errors.Is(err, ErrNotYours) {
						t.Errorf("%s --%s by %s: err %v, want ErrNotYours", s, a, who, err)
					}
				default:
					if !errors.Is(err, ErrNotAllowed) {
						t.Errorf("%s --%s by %s: err %v, want ErrNotAllowed", s, a, who, err)
					}
				}
			}
		}
	}
}

func cnCalendar(t *testing.T) Calendar {
	reg, err := policy.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	return calendarFunc(func(day civil.Date) (bool, bool) { return reg.IsWorkingDay("CN", day) })
}

type calendarFunc func(civil.Date) (bool, bool)

func (f calendarFunc) IsWorkingDay(day civil.Date) (bool, bool) { return f(day) }

// Deadlines across China's holidays, counted by hand on the State Council
// notice for 2025.
func TestDeadlinesAcrossHolidays(t *testing.T) {
	cal := cnCalendar(t)
	for _, tc := range []struct {
		desc string
		from civil.Date
		want civil.Date
	}{
		// Fri 24 Jan: Sun 26 Jan is a make-up working day (1), Mon 27 (2),
		// 28 Jan-4 Feb Spring Festival, 5, 6, 7 Feb (3-5), Sat 8 Feb make-up
		// day (6), 10-13 Feb (7-10).
		{"just before the Spring Festival", d(2025, 1, 24), d(2025, 2, 13)},
		// Fri 26 Sep: Sun 28 Sep make-up (1), 29, 30 Sep (2, 3), 1-8 Oct
		// holiday, 9, 10 Oct (4, 5), Sat 11 Oct make-up (6), 13-16 Oct (7-10).
		{"just before National Day", d(2025, 9, 26), d(2025, 10, 16)},
		// An ordinary fortnight: Mon 3 Mar + 10 working days = Mon 17 Mar.
		{"ordinary weeks", d(2025, 3, 3), d(2025, 3, 17)},
		// Qingming 4-6 Apr (Fri-Sun): Tue 1 Apr -> 2, 3 Apr (1, 2), 7-11 Apr
		// (3-7), 14, 15, 16 Apr (8-10).
		{"over Qingming", d(2025, 4, 1), d(2025, 4, 16)},
	} {
		got, provisional := AddWorkingDays(cal, tc.from, ReviewWorkingDays)
		if got != tc.want || provisional {
			t.Errorf("%s: 10 working days after %s = %s (provisional %v), want %s", tc.desc, tc.from, got, provisional, tc.want)
		}
	}
	if _, provisional := AddWorkingDays(cal, d(2027, 12, 24), 10); !provisional {
		t.Error("a deadline counted into an unpublished year is not marked provisional")
	}
}

func TestCurrentDeadlineAndExtension(t *testing.T) {
	cal := cnCalendar(t)
	c := &Complaint{State: Submitted, SubmittedOn: d(2025, 9, 26)}
	if dl := CurrentDeadline(c, cal); dl.Due != d(2025, 10, 16) {
		t.Errorf("review deadline = %v", dl)
	}
	c.State, c.StateSince = Accepted, d(2025, 10, 9)
	// Thu 9 Oct: Fri 10 (1), Sat 11 make-up (2), 13-17 (3-7), 20-22 (8-10).
	if dl := CurrentDeadline(c, cal); dl.Due != d(2025, 10, 22) {
		t.Errorf("forwarding deadline = %v, want 2025-10-22", dl)
	}
	c.State, c.HandlerReceivedOn = InHandling, d(2025, 10, 20)
	if dl := CurrentDeadline(c, cal); dl.Due != d(2025, 11, 19) {
		t.Errorf("handling deadline = %v, want 30 calendar days later, 2025-11-19", dl)
	}
	if err := Extend(c, cal, d(2025, 11, 1), 30, "debtor's accounts under audit"); err != nil {
		t.Fatal(err)
	}
	if err := Extend(c, cal, d(2025, 11, 1), 31, "more"); err == nil || errors.Is(err, ErrNotAllowed) {
		t.Errorf("extension past 90 days in total: %v", err)
	}
	if err := Extend(c, cal, d(2025, 11, 1), 30, ""); err == nil {
		t.Error("extension without a reason accepted")
	}
	if err := Extend(c, cal, d(2025, 11, 1), 30, "still under audit"); err != nil {
		t.Errorf("extension to exactly 90 days: %v", err)
	}
	// With the 90 days used up, no number of days is granted: the step
	// itself is refused.
	if err := Extend(c, cal, d(2025, 11, 1), 1, "more"); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("extension past 90 days used up: %v", err)
	}
	// 90 days after 2025-10-20 is Sunday 2026-01-18: the period ends on the
	// next working day (Civil Code Art. 203).
	if dl := CurrentDeadline(c, cal); dl.Due != d(2026, 1, 19) {
		t.Errorf("extended deadline = %v, want Monday 2026-01-19, the working day after 90 days from 2025-10-20", dl)
	}
	// Granted only while the period runs: after it ended, the deadline
	// stays missed.
	late := &Complaint{State: InHandling, HandlerReceivedOn: d(2025, 10, 20)}
	if err := Extend(late, cal, d(2025, 11, 20), 10, "too late"); !errors.Is(err, ErrNotAllowed) || late.ExtensionDays != 0 {
		t.Errorf("extension the day after the deadline: %v, %d days", err, late.ExtensionDays)
	}
	if err := Extend(late, cal, d(2025, 11, 19), 10, "on the last day"); err != nil {
		t.Errorf("extension on the deadline's day: %v", err)
	}
	// A handling period ending in the National Day break ends after it.
	c.HandlerReceivedOn, c.ExtensionDays = d(2025, 9, 1), 0
	if dl := CurrentDeadline(c, cal); dl.Due != d(2025, 10, 9) {
		t.Errorf("handling deadline from 2025-09-01 = %v, want 2025-10-09 (30 days end on 1 October, a holiday to the 8th)", dl)
	}
	c.State = Closed
	if dl := CurrentDeadline(c, cal); !dl.Due.IsZero() {
		t.Errorf("a closed complaint has deadline %v", dl)
	}
}

func TestPlanStatus(t *testing.T) {
	plan := []Instalment{{DueOn: d(2025, 11, 30), Amount: 100}, {DueOn: d(2025, 12, 31), Amount: 100}}
	paid := func(upTo civil.Date, amounts map[civil.Date]int64) func(civil.Date) int64 {
		return func(by civil.Date) int64 {
			var s int64
			for day, a := range amounts {
				if !day.After(by) {
					s += a
				}
			}
			return s
		}
	}
	for _, tc := range []struct {
		desc     string
		asOf     civil.Date
		payments map[civil.Date]int64
		missed   bool
		next     civil.Date
	}{
		{"before anything is due", d(2025, 11, 15), nil, false, d(2025, 12, 1)},
		{"on the first due date itself", d(2025, 11, 30), nil, false, d(2025, 12, 1)},
		{"first missed", d(2025, 12, 1), nil, true, civil.Date{}},
		{"first paid on its day", d(2025, 12, 1), map[civil.Date]int64{d(2025, 11, 30): 100}, false, d(2026, 1, 1)},
		{"first paid late", d(2025, 12, 1), map[civil.Date]int64{d(2025, 12, 1): 100}, true, civil.Date{}},
		{"paid ahead covers both", d(2026, 1, 5), map[civil.Date]int64{d(2025, 11, 1): 200}, false, civil.Date{}},
		{"second short", d(2026, 1, 1), map[civil.Date]int64{d(2025, 11, 1): 150}, true, civil.Date{}},
	} {
		missed, next := PlanStatus(plan, tc.asOf, paid(tc.asOf, tc.payments))
		if (missed != nil) != tc.missed || next != tc.next {
			t.Errorf("%s: missed %v next %v; want missed %v next %v", tc.desc, missed, next, tc.missed, tc.next)
		}
	}
}

func TestContestMachine(t *testing.T) {
	c := &Contest{State: ContestOpen}
	steps := []struct {
		a    ContestAction
		by   Actor
		want ContestState
		err  error
	}{
		{ContestAccept, ByComplainant, "", ErrNotAllowed}, // nothing corrected yet
		{ContestAccept, ByDebtor, "", ErrNotYours},        // never the debtor's, whatever the state
		{ContestCorrect, ByComplainant, "", ErrNotYours},
		{ContestCorrect, ByDebtor, ContestCorrected, nil},
		{ContestAgain, ByComplainant, ContestOpen, nil},
		{ContestCorrect, ByDebtor, ContestCorrected, nil},
		{ContestDecideUphold, ByDebtor, "", ErrNotYours},
		{ContestAccept, ByComplainant, ContestAccepted, nil},
		{ContestWithdraw, ByComplainant, "", ErrNotAllowed},
	}
	for i, s := range steps {
		err := MoveContest(c, s.a, s.by)
		if s.err != nil {
			if !errors.Is(err, s.err) {
				t.Errorf("step %d %s by %s: err %v, want %v", i, s.a, s.by, err, s.err)
			}
			if errors.Is(err, ErrNotYours) && (strings.Contains(err.Error(), "complainant") || strings.Contains(err.Error(), "handling")) {
				t.Errorf("step %d: %v, in a complaint's words", i, err)
			}
			continue
		}
		if err != nil || c.State != s.want {
			t.Errorf("step %d %s by %s: %s, %v; want %s", i, s.a, s.by, c.State, err, s.want)
		}
	}
	r := &Contest{State: ContestCorrected}
	if err := MoveContest(r, ContestDecideReject, ByRegulator); err != nil || r.State != ContestDecided || r.Decision != "REJECTED" {
		t.Errorf("regulator decision: %+v, %v", r, err)
	}
	// A rejected contest is over; an upheld one waits for the debtor's
	// correction, which the supplier then accepts or contests again.
	if r.Disagreed() || !errors.Is(MoveContest(r, ContestCorrect, ByDebtor), ErrNotAllowed) {
		t.Errorf("rejected contest: disagreed %v, or corrected", r.Disagreed())
	}
	u := &Contest{State: ContestOpen}
	if err := MoveContest(u, ContestDecideUphold, ByRegulator); err != nil || !u.AwaitsCorrection() || !u.Disagreed() {
		t.Errorf("upheld contest: %+v, %v", u, err)
	}
	if err := MoveContest(u, ContestCorrect, ByDebtor); err != nil || u.State != ContestCorrected || u.AwaitsCorrection() || !u.Disagreed() {
		t.Errorf("upheld contest corrected: %+v, %v", u, err)
	}
	// The supplier may drop a finding in its favour, not a rejected one.
	w := &Contest{State: ContestOpen}
	if err := MoveContest(w, ContestDecideUphold, ByRegulator); err != nil {
		t.Fatal(err)
	}
	if err := MoveContest(w, ContestWithdraw, ByComplainant); err != nil || w.State != ContestWithdrawn || w.Disagreed() {
		t.Errorf("upheld contest withdrawn: %+v, %v", w, err)
	}
	if err := MoveContest(r, ContestWithdraw, ByComplainant); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("rejected contest withdrawn: %+v, %v", r, err)
	}
}

func TestClaimAnswers(t *testing.T) {
	for _, tc := range []struct {
		to  ClaimState
		by  Actor
		err error
	}{
		{ClaimAcknowledged, ByDebtor, nil},
		{ClaimDisputed, ByDebtor, nil},
		{ClaimWithdrawn, ByComplainant, nil},
		{ClaimAcknowledged, ByComplainant, ErrNotYours},
		{ClaimWithdrawn, ByDebtor, ErrNotYours},
		{ClaimSubmitted, ByDebtor, ErrNotAllowed},
	} {
		c := &Claim{State: ClaimSubmitted}
		err := AnswerClaim(c, tc.to, tc.by)
		if !errors.Is(err, tc.err) || (err == nil && c.State != tc.to) {
			t.Errorf("%s by %s: %s, %v; want err %v", tc.to, tc.by, c.State, err, tc.err)
		}
		if err == nil {
			if again := AnswerClaim(c, ClaimDisputed, ByDebtor); !errors.Is(again, ErrNotAllowed) {
				t.Errorf("second answer after %s: %v", tc.to, again)
			}
		}
	}
}
