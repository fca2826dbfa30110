package judgement

import "github.com/arrears/arrears/internal/civil"

// Schedule is the part of a judgement an escalation sweeper keeps: the due
// date, the escalation level reached and the next date anything may
// change.
type Schedule struct {
	DueDate         civil.Date
	EscalationLevel int
	EscalationName  string
	NextChange      civil.Date
}

// ScheduleOf is Evaluate's due date, escalation level and next change,
// without the interest and the words: none of them depends on those, and
// the sweeper, which walks an invoice's levels judging it on each date one
// may change, and a write that schedules its invoice's first check (every
// invoice a bulk sync creates) pay for neither. It reads no rates, so it
// answers where Evaluate reports missing data (a policy on reference rates
// still needs its tables, as validation asks).
func ScheduleOf(in Input) (Schedule, error) {
	if err := validate(&in); err != nil {
		return Schedule{}, err
	}
	e := &eval{in: in, pol: &in.Policy, inv: &in.Invoice, asOf: in.AsOf, quiet: true}
	e.j.Currency = in.Invoice.Amount.Currency
	e.computeDueDate()
	e.timeline = e.buildTimeline()
	e.computeBalances()
	e.computeAging()
	return Schedule{DueDate: e.j.DueDate, EscalationLevel: e.j.EscalationLevel, EscalationName: e.j.EscalationName,
		NextChange: e.j.NextChange}, nil
}
