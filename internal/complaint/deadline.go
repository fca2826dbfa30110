package complaint

import (
	"fmt"

	"github.com/arrears/arrears/internal/civil"
)

// Calendar says which days are working days.
type Calendar interface {
	IsWorkingDay(d civil.Date) (working, published bool)
}

// Statutory periods (RULES.md: MIIT interim measures; Decree 802 Art. 25).
const (
	ReviewWorkingDays  = 10 // receiving department reviews a submission
	ForwardWorkingDays = 10 // forwards an accepted complaint
	HandlingDays       = 30 // handler deals with it, calendar days
	MaxHandlingDays    = 90 // with extensions, in total
)

// AddWorkingDays returns the n-th working day after d: d itself is not
// counted, and weekends and holidays are skipped while adjusted working
// weekend days count. Provisional is true when a year on the way has no
// published calendar (weekends only were assumed).
func AddWorkingDays(cal Calendar, d civil.Date, n int) (civil.Date, bool) {
	provisional := false
	for n > 0 {
		d = d.AddDays(1)
		working, published := cal.IsWorkingDay(d)
		provisional = provisional || !published
		if working {
			n--
		}
	}
	return d, provisional
}

// Deadline is the date by which the next step is due in the complaint's
// current state, and which step it is; zero when no deadline runs.
type Deadline struct {
	Due         civil.Date
	Step        string
	Provisional bool
}

// CurrentDeadline computes the deadline of the complaint's state.
func CurrentDeadline(c *Complaint, cal Calendar) Deadline {
	switch c.State {
	case Submitted:
		due, p := AddWorkingDays(cal, c.SubmittedOn, ReviewWorkingDays)
		return Deadline{Due: due, Step: "review (accept or reject)", Provisional: p}
	case Accepted:
		due, p := AddWorkingDays(cal, c.StateSince, ForwardWorkingDays)
		return Deadline{Due: due, Step: "forward to the handling department", Provisional: p}
	case Forwarded, InHandling, DebtorResponded:
		due, p := nextWorkingDay(cal, c.HandlerReceivedOn.AddDays(HandlingDays+c.ExtensionDays))
		return Deadline{Due: due, Step: "handle and resolve", Provisional: p}
	}
	return Deadline{}
}

// nextWorkingDay moves a period's last day off rest days and holidays to
// the next working day (Civil Code Art. 203): the handling period is
// counted in calendar days, but it may not end on a holiday.
func nextWorkingDay(cal Calendar, d civil.Date) (civil.Date, bool) {
	provisional := false
	for {
		working, published := cal.IsWorkingDay(d)
		provisional = provisional || !published
		if working {
			return d, provisional
		}
		d = d.AddDays(1)
	}
}

// Extendable says whether a complaint in state st is being handled, the
// only time its handling deadline can be extended (ErrNotAllowed if not).
func Extendable(st State) error {
	if st != Forwarded && st != InHandling && st != DebtorResponded {
		return fmt.Errorf("%w: only a complaint being handled can have its deadline extended, and it is %s", ErrNotAllowed, st)
	}
	return nil
}

// Extend lengthens the handling period by days, with a reason, on today,
// while the period runs (granted after it ended, an extension would unmake
// a deadline already missed); the total may not pass MaxHandlingDays.
func Extend(c *Complaint, cal Calendar, today civil.Date, days int, reason string) error {
	if err := Extendable(c.State); err != nil {
		return err
	}
	due := CurrentDeadline(c, cal).Due
	switch {
	case due.Before(today):
		return fmt.Errorf("%w: the handling deadline passed on %s; an extension is granted before the period ends", ErrNotAllowed, due)
	case days <= 0:
		return fmt.Errorf("days must be positive")
	case reason == "":
		return fmt.Errorf("a reason is required")
	case HandlingDays+c.ExtensionDays >= MaxHandlingDays:
		return fmt.Errorf("%w: handling has its %d days in total already; no further extension is granted", ErrNotAllowed, MaxHandlingDays)
	case HandlingDays+c.ExtensionDays+days > MaxHandlingDays:
		// A refusal of the number asked for, not of the step: a shorter
		// extension may still be granted.
		return fmt.Errorf("handling may take at most %d days in total; %d are already allowed, so at most %d more",
			MaxHandlingDays, HandlingDays+c.ExtensionDays, MaxHandlingDays-HandlingDays-c.ExtensionDays)
	}
	c.ExtensionDays += days
	if c.ExtensionReason != "" {
		c.ExtensionReason += "; "
	}
	c.ExtensionReason += reason
	return nil
}

// PlanStatus compares an agreed plan with what was paid: paidBy returns the
// total paid (on the complaint's invoices, from the plan's agreement) up to
// and including a date. It returns the first instalment missed as of
// asOf (its due date has passed and cumulative payments fall short), and
// the next instalment due date after asOf.
func PlanStatus(plan []Instalment, asOf civil.Date, paidBy func(civil.Date) int64) (missed *Instalment, next civil.Date) {
	var due int64
	for i := range plan {
		in := plan[i]
		due += in.Amount
		if !in.DueOn.Before(asOf) {
			if next.IsZero() || in.DueOn.Before(next) {
				next = in.DueOn.AddDays(1) // checked the day after it falls due
			}
			continue
		}
		if paidBy(in.DueOn) < due {
			return &in, civil.Date{}
		}
	}
	return nil, next
}
