// Package complaint holds the supplier's side of the ledger: claims of
// unreported debts, contests of a debtor's records, and complaints to the
// authority with the deadlines the law sets (China Decree 802 Art. 25; the
// MIIT interim measures of 2021). It is pure: the state machines, who may
// move them, the deadlines counted on a working-day calendar, and payment
// plans checked against payments. Storage and transport are elsewhere.
package complaint

import (
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/civil"
)

// State is where a complaint stands.
type State string

const (
	Submitted       State = "SUBMITTED"
	Accepted        State = "ACCEPTED"
	Rejected        State = "REJECTED"
	Forwarded       State = "FORWARDED"
	InHandling      State = "IN_HANDLING"
	DebtorResponded State = "DEBTOR_RESPONDED"
	Resolved        State = "RESOLVED"
	Withdrawn       State = "WITHDRAWN"
	Closed          State = "CLOSED"
)

// States are all of a complaint's states.
var States = []State{Submitted, Accepted, Rejected, Forwarded, InHandling, DebtorResponded, Resolved, Withdrawn, Closed}

// Open reports whether the complaint is still being dealt with (it may be
// withdrawn).
func (s State) Open() bool {
	switch s {
	case Submitted, Accepted, Forwarded, InHandling, DebtorResponded:
		return true
	}
	return false
}

// Outcome is how a resolved complaint ended.
type Outcome string

const (
	OutcomePaid        Outcome = "PAID"
	OutcomePaymentPlan Outcome = "PAYMENT_PLAN"
	OutcomeDismissed   Outcome = "DISMISSED"
)

// Valid reports whether o is one of the outcomes.
func (o Outcome) Valid() bool {
	return o == OutcomePaid || o == OutcomePaymentPlan || o == OutcomeDismissed
}

// Action is a request to move a complaint.
type Action string

const (
	Accept   Action = "ACCEPT"
	Reject   Action = "REJECT"
	Forward  Action = "FORWARD"
	Handle   Action = "START_HANDLING"
	Respond  Action = "RESPOND"
	Resolve  Action = "RESOLVE"
	Withdraw Action = "WITHDRAW"
	Close    Action = "CLOSE"
	// Reopen is the automatic return to handling when an instalment of an
	// agreed payment plan is missed; no caller may ask for it.
	Reopen Action = "REOPEN"
)

// Actions are the actions a caller may ask for, in the order a complaint
// meets them (Reopen is the system's).
var Actions = []Action{Accept, Reject, Forward, Handle, Respond, Resolve, Withdraw, Close}

// Actor is the caller's relation to a complaint.
type Actor string

const (
	ByReceiver    Actor = "RECEIVING_REGULATOR"
	ByHandler     Actor = "HANDLING_REGULATOR"
	ByRegulator   Actor = "REGULATOR" // any regulator of the complaint (receiving or handling)
	ByDebtor      Actor = "DEBTOR"
	ByComplainant Actor = "COMPLAINANT"
	BySystem      Actor = "SYSTEM"
)

// rule is one allowed transition.
type rule struct {
	from []State
	to   State
	by   Actor
}

// rules is the table of the issue, one line per row.
var rules = map[Action]rule{
	Accept:   {from: []State{Submitted}, to: Accepted, by: ByReceiver},
	Reject:   {from: []State{Submitted}, to: Rejected, by: ByReceiver},
	Forward:  {from: []State{Accepted}, to: Forwarded, by: ByReceiver},
	Handle:   {from: []State{Forwarded}, to: InHandling, by: ByHandler},
	Respond:  {from: []State{InHandling}, to: DebtorResponded, by: ByDebtor},
	Resolve:  {from: []State{InHandling, DebtorResponded}, to: Resolved, by: ByHandler},
	Withdraw: {from: []State{Submitted, Accepted, Forwarded, InHandling, DebtorResponded}, to: Withdrawn, by: ByComplainant},
	Close:    {from: []State{Resolved, Rejected, Withdrawn}, to: Closed, by: ByRegulator},
	Reopen:   {from: []State{Resolved}, to: InHandling, by: BySystem},
}

// ErrNotAllowed: the action is not possible from the current state.
// ErrNotYours: the caller is not the party the action belongs to.
var (
	ErrNotAllowed = fmt.Errorf("not allowed from this state")
	ErrNotYours   = fmt.Errorf("not allowed for this caller")
)

// Next returns the state an action leads to from s when taken by one of
// actors (the caller's relations to the complaint). It names the rule it
// applied in its errors, so the refusal says why.
func Next(s State, a Action, actors []Actor) (State, error) {
	r, ok := rules[a]
	if !ok {
		return "", fmt.Errorf("%w: unknown action %q", ErrNotAllowed, a)
	}
	allowed := false
	for _, f := range r.from {
		allowed = allowed || f == s
	}
	if !allowed {
		return "", fmt.Errorf("%w: %s is possible only from %v, and the complaint is %s", ErrNotAllowed, a, r.from, s)
	}
	for _, x := range actors {
		if x == r.by || (r.by == ByRegulator && (x == ByReceiver || x == ByHandler)) {
			return r.to, nil
		}
	}
	return "", fmt.Errorf("%w: %s is done by the %s", ErrNotYours, a, humanActor(r.by))
}

func humanActor(a Actor) string {
	switch a {
	case ByReceiver:
		return "receiving regulator"
	case ByHandler:
		return "handling regulator"
	case ByRegulator:
		return "receiving or handling regulator"
	case ByDebtor:
		return "debtor"
	case ByComplainant:
		return "complainant"
	}
	return "system"
}

// Instalment is one payment due under an agreed plan.
type Instalment struct {
	DueOn  civil.Date `json:"due_on"`
	Amount int64      `json:"amount"`
}

// Complaint is a supplier's complaint against a debtor.
type Complaint struct {
	ID                 uuid.UUID   `json:"id"`
	Complainant        uuid.UUID   `json:"complainant"`
	Debtor             uuid.UUID   `json:"debtor"`
	ReceivingRegulator uuid.UUID   `json:"receiving_regulator"`
	HandlingRegulator  uuid.UUID   `json:"handling_regulator"`
	Invoices           []uuid.UUID `json:"invoices"`
	Claims             []uuid.UUID `json:"claims"`
	Summary            string      `json:"summary"`
	State              State       `json:"state"`
	Outcome            Outcome     `json:"outcome"`
	RejectReason       string      `json:"reject_reason"`
	SubmittedOn        civil.Date  `json:"submitted_on"`
	StateSince         civil.Date  `json:"state_since"`
	HandlerReceivedOn  civil.Date  `json:"handler_received_on"`
	ExtensionDays      int         `json:"extension_days"`
	// MissedDue is the deadline of the current state already recorded as
	// missed, so a missed deadline is flagged once.
	MissedDue       civil.Date `json:"missed_due"`
	ExtensionReason string     `json:"extension_reason"`
	Currency        string     `json:"currency"`
	PlanAgreedOn    civil.Date `json:"plan_agreed_on"`
	// PlanAgreedAt is when the plan was agreed (recorded): the credits
	// recorded after it count towards its instalments. Zero for a plan
	// agreed before 28 November 2026, whose credits count by their date.
	PlanAgreedAt time.Time    `json:"plan_agreed_at,omitzero"`
	Plan         []Instalment `json:"plan"`
	// NextCheck is the next date on which something happens by itself: a
	// deadline passes, an instalment falls due, the automatic close.
	NextCheck  civil.Date `json:"next_check"`
	Version    int64      `json:"version"`
	CreateTime time.Time  `json:"create_time"`
	UpdateTime time.Time  `json:"update_time"`
}

// Event is one line of a complaint's timeline.
type Event struct {
	ID          uuid.UUID  `json:"id"`
	ComplaintID uuid.UUID  `json:"complaint_id"`
	Kind        string     `json:"kind"` // TRANSITION, DEADLINE_MISSED, EXTENDED, INSTALMENT_MISSED
	FromState   State      `json:"from_state"`
	ToState     State      `json:"to_state"`
	Actor       string     `json:"actor"`
	Comment     string     `json:"comment"`
	OccurredOn  civil.Date `json:"occurred_on"`
	RecordTime  time.Time  `json:"record_time"`
	// Outcome is a resolution's (a transition to RESOLVED), kept with the
	// event: the complaint's own outcome is its latest, and a complaint
	// reopened and resolved again would otherwise rewrite its past.
	Outcome Outcome `json:"outcome,omitempty"`
}

// Event kinds.
const (
	EventTransition       = "TRANSITION"
	EventDeadlineMissed   = "DEADLINE_MISSED"
	EventExtended         = "EXTENDED"
	EventInstalmentMissed = "INSTALMENT_MISSED"
)

// AutoCloseDays is how long a resolved, rejected or withdrawn complaint
// stays before it closes by itself.
const AutoCloseDays = 30

// PlanGraceDays is how long after an instalment's due date the sweeper
// waits before it finds the instalment missed. A payment made on the day
// reaches the ledger later (the debtor's ERP and bank runs), and a plan
// found missed reopens the complaint for good: so an instalment counts as
// missed only when, this many days having passed (it is judged on the day
// after them, the sixth after the due date), no payment dated by its due
// date has been recorded. The reopening is still dated the day after the due
// date.
const PlanGraceDays = 5
