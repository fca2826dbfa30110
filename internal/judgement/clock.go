package judgement

import (
	"fmt"
	"strings"

	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/policy"
)

// eventDate returns the date of event ev on the invoice. applicable is false
// for an event the contract does not make a condition (acceptance when it is
// not required, settlement when none was confirmed); pending is true when
// acceptance is required but neither passed nor bounded by an agreed
// period or the policy's AcceptanceMaxDays, so the clock cannot have
// started.
func (e *eval) eventDate(ev policy.ClockEvent) (d civil.Date, applicable, pending bool) {
	inv := e.inv
	switch ev {
	case policy.EventIssue:
		return inv.IssuedOn, true, false
	case policy.EventDelivery:
		return inv.DeliveredOn, true, false
	case policy.EventReceipt:
		// Receipt of the invoice, or of the goods if later; without a
		// recorded receipt the event is missing and the fallback decides.
		if inv.ReceivedOn.IsZero() {
			return civil.Date{}, true, false
		}
		return civil.Max(inv.ReceivedOn, inv.DeliveredOn), true, false
	case policy.EventSettlement:
		return inv.SettlementConfirmedOn, !inv.SettlementConfirmedOn.IsZero(), false
	case policy.EventAcceptance:
		deemed := e.pol.AcceptanceDeemed
		if !inv.AcceptanceRequired && !deemed {
			return civil.Date{}, false, false
		}
		var periodEnd civil.Date
		period, statutory := inv.AcceptancePeriodDays, false
		if deemed {
			period, statutory = e.deemedDays(), period < e.pol.AcceptanceMaxDays
		} else if period == 0 && e.pol.AcceptanceMaxDays > 0 {
			period, statutory = e.pol.AcceptanceMaxDays, true
		}
		switch {
		case deemed && inv.DeliveredOn.IsZero():
			// No delivery to count from: an acceptance recorded starts
			// the clock; without one the event is missing and the other
			// events (invoice receipt) decide.
			return inv.AcceptancePassedOn, true, false
		case deemed:
			// Deemed on that calendar day, not moved off a weekend.
			periodEnd = inv.DeliveredOn.AddDays(period)
		case !inv.DeliveredOn.IsZero() && period > 0:
			periodEnd = e.acceptanceEnd(inv.DeliveredOn, period)
		}
		switch {
		case !inv.AcceptancePassedOn.IsZero() && !periodEnd.IsZero() && inv.AcceptancePassedOn.After(periodEnd):
			// The buyer accepted late: the clock ran from the end of the
			// agreed acceptance period.
			return periodEnd, true, false
		case !inv.AcceptancePassedOn.IsZero():
			return inv.AcceptancePassedOn, true, false
		case !periodEnd.IsZero():
			// Said only if the clock starts on it (computeDueDate): of
			// the latest of several events, a later receipt may win. A
			// deemed acceptance is not pending: the law dates it.
			if !deemed {
				e.pendingEnd = pendingAcceptance{periodEnd, period, statutory}
			}
			return periodEnd, true, false
		}
		return civil.Date{}, true, true
	}
	return civil.Date{}, false, false
}

// deemedDays is how many days after delivery acceptance is deemed under a
// policy that deems it: the law's days, unless the contract gives the
// buyer longer.
func (e *eval) deemedDays() int { return max(e.inv.AcceptancePeriodDays, e.pol.AcceptanceMaxDays) }

// acceptanceEnd is the last day of an acceptance period of n days from
// delivery. It is a period like the term (Civil Code Art. 203; Reg.
// 1182/71), so where the policy moves a due date off a non-working day it
// moves this last day too: a period ending on 1 October in China ends
// after the National Day holiday, and a buyer accepting then is not late.
func (e *eval) acceptanceEnd(delivered civil.Date, n int) civil.Date {
	end := delivered.AddDays(n)
	if e.pol.Adjust != policy.AdjustNextWorkingDay {
		return end
	}
	adjusted, provisional := e.nextWorkingDay(end)
	if provisional {
		e.provisionalEnd = adjusted // said if the clock starts on it
	}
	return adjusted
}

var eventWords = map[policy.ClockEvent]string{
	policy.EventIssue:      "the invoice date",
	policy.EventDelivery:   "delivery",
	policy.EventReceipt:    "receipt of the invoice",
	policy.EventSettlement: "settlement confirmation",
	policy.EventAcceptance: "acceptance",
}

// startWords names an event as the judgement dated it. Receipt is of the
// invoice, or of the goods when they came later: say which.
func (e *eval) startWords(ev policy.ClockEvent) string {
	if ev == policy.EventReceipt && e.inv.DeliveredOn.After(e.inv.ReceivedOn) {
		return "receipt of the goods (after the invoice's)"
	}
	if ev == policy.EventAcceptance && e.pol.AcceptanceDeemed && !e.inv.DeliveredOn.IsZero() {
		days := e.deemedDays()
		if passed := e.inv.AcceptancePassedOn; passed.IsZero() || passed.After(e.inv.DeliveredOn.AddDays(days)) {
			return fmt.Sprintf("acceptance, deemed %d days after delivery,", days)
		}
	}
	return eventWords[ev]
}

// clockStart applies the policy's ClockStart: an applicable override wins,
// then the preferred event (or the latest of several), then the fallback
// chain, which is reported. ok is false when the clock has not started.
func (e *eval) clockStart() (civil.Date, policy.ClockEvent, bool) {
	cs := e.pol.ClockStart
	notStarted := func() (civil.Date, policy.ClockEvent, bool) {
		why := "no acceptance period is agreed"
		if e.inv.AcceptancePeriodDays > 0 || e.pol.AcceptanceMaxDays > 0 {
			why = "the delivery date, from which the acceptance period runs, is not recorded"
		}
		e.find(FindingClockNotStarted, "acceptance is a condition of payment but has not passed and %s: the payment clock has not started", why)
		return civil.Date{}, "", false
	}
	for _, ev := range cs.Overrides {
		d, applicable, pending := e.eventDate(ev)
		switch {
		case !applicable:
			continue
		case pending:
			return notStarted()
		case !d.IsZero():
			return d, ev, true
		}
	}
	preferred := []policy.ClockEvent{cs.Event}
	if cs.Event == policy.EventLatestOf {
		preferred = cs.Of
	}
	var best civil.Date
	var bestEv policy.ClockEvent
	var missing []policy.ClockEvent // applicable events without a date
	for _, ev := range preferred {
		d, applicable, pending := e.eventDate(ev)
		if pending {
			return notStarted()
		}
		if applicable && d.IsZero() {
			missing = append(missing, ev)
		}
		if applicable && !d.IsZero() && (best.IsZero() || d.After(best)) {
			best, bestEv = d, ev
		}
	}
	if !best.IsZero() && !(len(missing) > 0 && cs.FallbackLatest) {
		return best, bestEv, true
	}
	var fb civil.Date
	var fbEv policy.ClockEvent
	for _, ev := range cs.Fallback {
		if d, applicable, _ := e.eventDate(ev); applicable && !d.IsZero() && (fb.IsZero() || d.After(fb)) {
			fb, fbEv = d, ev
			if !cs.FallbackLatest {
				break
			}
		}
	}
	if !best.IsZero() && !fb.After(best) {
		// With FallbackLatest, a missing event's stand-ins count only
		// when later than what is recorded: the latest of all starts it.
		return best, bestEv, true
	}
	if !fb.IsZero() {
		var want []string
		for _, p := range missing {
			want = append(want, eventWords[p])
		}
		if len(want) == 0 {
			for _, p := range preferred {
				want = append(want, eventWords[p])
			}
		}
		e.find(FindingClockStartFallback, "the policy starts the clock at %s, which is not recorded; %s on %s is used instead", strings.Join(want, " or "), eventWords[fbEv], fb)
		return fb, fbEv, true
	}
	e.find(FindingClockNotStarted, "none of the events that start the payment clock is recorded")
	return civil.Date{}, "", false
}

// computeDueDate counts the term from the clock start, the event's own day
// not counted (Civil Code Art. 201; Reg. 1182/71): 60 days from 10 January
// ends on 11 March in a non-leap year. An agreed date or term is compared
// with the cap (a hard cap replaces it, a soft one reports it); without one
// the statutory default applies. Last, a due date on a non-working day moves
// to the next working day when the policy says so.
func (e *eval) computeDueDate() {
	start, ev, ok := e.clockStart()
	if !ok {
		e.j.DueDateRule = "no due date: the payment clock has not started"
		return
	}
	e.j.ClockStart, e.j.ClockStartEvent = start, ev
	inv, pol := e.inv, e.pol
	if p := e.pendingEnd; ev == policy.EventAcceptance && start == p.end {
		if p.statutory {
			e.find(FindingAcceptancePending, "acceptance is a condition of payment and is not recorded, and no period is agreed; the clock runs from the end of the %d days the law allows for it, %s", p.days, p.end)
		} else {
			e.find(FindingAcceptancePending, "acceptance is a condition of payment and is not recorded; the clock runs from the end of the agreed %d-day acceptance period, %s", p.days, p.end)
		}
	}
	if ev == policy.EventAcceptance && start == e.provisionalEnd && inv.AgreedDueDate.IsZero() {
		e.j.Provisional = true
		e.find(FindingProvisionalCalendar, "calendar %s is not published for %d: the acceptance period's end %s, from which the clock runs, counts weekends only and may move when holidays are announced", pol.Calendar, start.Year, start)
	}
	from := e.say("%s on %s", e.startWords(ev), start)

	var due civil.Date
	var rule string
	term := -1 // the agreed term in days, for the cap; -1 when none is agreed
	agreed := false
	switch {
	case !inv.AgreedDueDate.IsZero():
		// Before the clock's start the term is negative: agreed all the
		// same, and measured from the cap's own event where there is one.
		due, term, agreed = inv.AgreedDueDate, inv.AgreedDueDate.DaysSince(start), true
		rule = e.say("agreed due date %s (%d days from %s)", due, term, from)
	case inv.AgreedTermDays > 0:
		due, term, agreed = start.AddDays(inv.AgreedTermDays), inv.AgreedTermDays, true
		rule = e.say("agreed term of %d days from %s: %s", term, from, due)
	case pol.DefaultTermDays > 0 && pol.DefaultTermIncludesEventDay:
		due = start.AddDays(pol.DefaultTermDays - 1)
		rule = e.say("no agreed term; statutory default of %d days beginning with %s (that day counts): %s", pol.DefaultTermDays, from, due)
	case pol.DefaultTermDays > 0:
		due = start.AddDays(pol.DefaultTermDays)
		rule = e.say("no agreed term; statutory default of %d days from %s: %s", pol.DefaultTermDays, from, due)
	default:
		e.find(FindingNoDueDate, "no term or due date is agreed and policy %s sets no default: the invoice has no due date and is never overdue", pol.ID)
		e.j.DueDateRule = "no due date: nothing agreed and no statutory default"
		return
	}
	// The cap counts from the clock's start, or from the event the policy
	// names (its day not counted either).
	capStart, capFrom := start, from
	if pol.CapFrom != "" {
		if d, _, _ := e.eventDate(pol.CapFrom); !d.IsZero() && d != start {
			capStart, capFrom = d, e.say("%s on %s", e.startWords(pol.CapFrom), d)
			if agreed {
				term = due.DaysSince(capStart)
				rule += e.say(" (%d days from %s)", term, capFrom)
			}
		}
	}
	switch {
	case pol.CapKind == policy.CapNone:
	case pol.CapIncludesEventDay && agreed && due.After(capStart.AddDays(pol.CapDays-1)):
		// The cap's period begins with its event's day: its last day is
		// the (N-1)th after it.
		last := capStart.AddDays(pol.CapDays - 1)
		switch pol.CapKind {
		case policy.CapHard:
			e.find(FindingTermExceedsCap, "the agreed due date %s is after %s, the last of the %d days beginning with %s, the statutory cap, and is void beyond it: the debt is due on %s", due, last, pol.CapDays, capFrom, last)
			rule += e.say("; after the last of the %d days beginning with %s, the hard cap, so the cap applies: %s", pol.CapDays, capFrom, last)
			due = last
		case policy.CapSoft:
			e.find(FindingTermExceedsCap, "term exceeds statutory cap: the agreed due date %s is after %s, the last of the %d days beginning with %s; it stands but is reportable", due, last, pol.CapDays, capFrom)
			rule += e.say("; after the last of the %d days beginning with %s, the soft cap (reported, the agreed term stands)", pol.CapDays, capFrom)
		}
	case !pol.CapIncludesEventDay && term > pol.CapDays:
		switch pol.CapKind {
		case policy.CapHard:
			capped := capStart.AddDays(pol.CapDays)
			e.find(FindingTermExceedsCap, "the agreed term of %d days exceeds the statutory cap of %d days and is void beyond it: the debt is due on %s, not %s", term, pol.CapDays, capped, due)
			due = capped
			rule += e.say("; over the hard cap of %d days, so the cap applies: %s", pol.CapDays, due)
		case policy.CapSoft:
			e.find(FindingTermExceedsCap, "term exceeds statutory cap: the agreed term of %d days is longer than %d days; it stands but is reportable", term, pol.CapDays)
			rule += e.say("; over the soft cap of %d days (reported, the agreed term stands)", pol.CapDays)
		}
	}
	if pol.Adjust == policy.AdjustNextWorkingDay {
		adjusted, provisional := e.nextWorkingDay(due)
		if adjusted != due {
			rule += e.say("; %s %s is not a working day on calendar %s, so it moves to %s", due.Weekday(), due, pol.Calendar, adjusted)
		}
		if provisional {
			e.j.Provisional = true
			e.find(FindingProvisionalCalendar, "calendar %s is not published for %d: the due date %s counts weekends only and may move when holidays are announced", pol.Calendar, adjusted.Year, adjusted)
			rule += " (provisional)"
		}
		due = adjusted
	}
	e.j.DueDate, e.j.DueDateRule = due, rule
}

// nextWorkingDay returns d, or the first working day after it; provisional
// is true when any day consulted is in a year the calendar does not cover.
func (e *eval) nextWorkingDay(d civil.Date) (civil.Date, bool) {
	provisional := false
	// No published calendar has a run of a month without a working day; the
	// bound only guards against a corrupt calendar.
	for range 60 {
		working, published := e.in.Tables.IsWorkingDay(e.pol.Calendar, d)
		if !published {
			provisional = true
		}
		if working {
			break
		}
		d = d.AddDays(1)
	}
	return d, provisional
}
