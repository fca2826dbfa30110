package complaint

import (
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/civil"
)

// ClaimState is where a supplier's claim stands.
type ClaimState string

const (
	ClaimSubmitted    ClaimState = "SUBMITTED"
	ClaimAcknowledged ClaimState = "ACKNOWLEDGED"
	ClaimDisputed     ClaimState = "DISPUTED"
	ClaimWithdrawn    ClaimState = "WITHDRAWN"
)

// ClaimStates are all of a claim's states.
var ClaimStates = []ClaimState{ClaimSubmitted, ClaimAcknowledged, ClaimDisputed, ClaimWithdrawn}

// Claim is a debt a supplier registers because its debtor never reported
// it. Until the debtor answers it is unconfirmed: it ages, and regulators
// see it apart from confirmed debts.
type Claim struct {
	ID          uuid.UUID  `json:"id"`
	Creditor    uuid.UUID  `json:"creditor"`
	Debtor      uuid.UUID  `json:"debtor"`
	DocumentRef string     `json:"document_ref"`
	Description string     `json:"description"`
	Amount      int64      `json:"amount"`
	Currency    string     `json:"currency"`
	IssuedOn    civil.Date `json:"issued_on"`
	DeliveredOn civil.Date `json:"delivered_on"`
	DueOn       civil.Date `json:"due_on"`
	Evidence    []string   `json:"evidence"`
	State       ClaimState `json:"state"`
	SubmittedOn civil.Date `json:"submitted_on"`
	AnsweredOn  civil.Date `json:"answered_on"`
	Answer      string     `json:"answer"`
	// Invoice is the ledger invoice an acknowledged claim became.
	Invoice    uuid.UUID `json:"invoice"`
	Version    int64     `json:"version"`
	CreateTime time.Time `json:"create_time"`
	UpdateTime time.Time `json:"update_time"`
}

// AnswerClaim moves a claim on the debtor's answer, or the creditor's
// withdrawal.
func AnswerClaim(c *Claim, to ClaimState, by Actor) error {
	if c.State != ClaimSubmitted {
		return fmt.Errorf("%w: the claim was already %s on %s", ErrNotAllowed, c.State, c.AnsweredOn)
	}
	switch to {
	case ClaimAcknowledged, ClaimDisputed:
		if by != ByDebtor {
			return fmt.Errorf("%w: only the debtor acknowledges or disputes a claim", ErrNotYours)
		}
	case ClaimWithdrawn:
		if by != ByComplainant {
			return fmt.Errorf("%w: only the supplier withdraws its claim", ErrNotYours)
		}
	default:
		return fmt.Errorf("%w: unknown answer %q", ErrNotAllowed, to)
	}
	c.State = to
	return nil
}

// ContestState is where a contest of a debtor's record stands.
type ContestState string

const (
	ContestOpen      ContestState = "OPEN"
	ContestCorrected ContestState = "CORRECTED"
	ContestAccepted  ContestState = "ACCEPTED"
	ContestWithdrawn ContestState = "WITHDRAWN"
	ContestDecided   ContestState = "DECIDED"
)

// ContestStates are all of a contest's states.
var ContestStates = []ContestState{ContestOpen, ContestCorrected, ContestAccepted, ContestWithdrawn, ContestDecided}

// Unresolved reports whether the two sides still disagree, by the state
// alone (see Contest.Disagreed).
func (s ContestState) Unresolved() bool { return s == ContestOpen || s == ContestCorrected }

// ContestKind says what the supplier disputes in the debtor's record.
type ContestKind string

const (
	PaymentNotReceived ContestKind = "PAYMENT_NOT_RECEIVED"
	AmountDiffers      ContestKind = "AMOUNT_DIFFERS"
	DatesDiffer        ContestKind = "DATES_DIFFER"
	OtherDifference    ContestKind = "OTHER"
)

// Valid reports whether k is a known kind.
func (k ContestKind) Valid() bool {
	return k == PaymentNotReceived || k == AmountDiffers || k == DatesDiffer || k == OtherDifference
}

// Contest is a supplier's objection to the debtor's record of an invoice
// (or one of its payments).
type Contest struct {
	ID        uuid.UUID    `json:"id"`
	InvoiceID uuid.UUID    `json:"invoice_id"`
	Creditor  uuid.UUID    `json:"creditor"`
	Debtor    uuid.UUID    `json:"debtor"`
	Payment   uuid.UUID    `json:"payment"`
	Kind      ContestKind  `json:"kind"`
	Detail    string       `json:"detail"`
	State     ContestState `json:"state"`
	Decision  string       `json:"decision"` // UPHELD or REJECTED, by a regulator
	// Uncorrected: upheld, and the debtor has not changed its record since.
	// (Contests upheld before 28 November 2026 lack it: their invoices
	// stopped counting them when they were decided.)
	Uncorrected bool       `json:"uncorrected,omitempty"`
	Comment     string     `json:"comment"`
	OpenedOn    civil.Date `json:"opened_on"`
	Version     int64      `json:"version"`
	CreateTime  time.Time  `json:"create_time"`
	UpdateTime  time.Time  `json:"update_time"`
}

// AwaitsCorrection reports whether a regulator upheld the contest and the
// debtor has not yet changed its record since: the record stands found
// wrong.
func (c *Contest) AwaitsCorrection() bool {
	return c.State == ContestDecided && c.Decision == "UPHELD" && c.Uncorrected
}

// Disagreed reports whether the debtor's record is in question: the two
// sides disagree, or a regulator found the record wrong and it has not
// been corrected.
func (c *Contest) Disagreed() bool { return c.State.Unresolved() || c.AwaitsCorrection() }

// ContestAction moves a contest.
type ContestAction string

const (
	ContestCorrect      ContestAction = "CORRECT"
	ContestAccept       ContestAction = "ACCEPT"
	ContestAgain        ContestAction = "CONTEST_AGAIN"
	ContestWithdraw     ContestAction = "WITHDRAW"
	ContestDecideUphold ContestAction = "DECIDE_UPHELD"
	ContestDecideReject ContestAction = "DECIDE_REJECTED"
)

// ContestActions are all the actions on a contest.
var ContestActions = []ContestAction{ContestCorrect, ContestAccept, ContestAgain, ContestWithdraw, ContestDecideUphold, ContestDecideReject}

// contestActor names who moves a contest, in a contest's words: the
// supplier (not a complaint's complainant) and any regulator.
func contestActor(a Actor) string {
	switch a {
	case ByComplainant:
		return "supplier (or a portal it authorised)"
	case ByRegulator:
		return "regulator"
	}
	return humanActor(a)
}

// MoveContest applies an action by an actor.
func MoveContest(c *Contest, a ContestAction, by Actor) error {
	type rule struct {
		from []ContestState
		to   ContestState
		by   Actor
	}
	rules := map[ContestAction]rule{
		// From DECIDED only when upheld (checked below): the debtor
		// corrects a record a regulator found wrong, and the supplier
		// accepts the correction or contests it again.
		ContestCorrect: {[]ContestState{ContestOpen, ContestDecided}, ContestCorrected, ByDebtor},
		ContestAccept:  {[]ContestState{ContestCorrected}, ContestAccepted, ByComplainant},
		ContestAgain:   {[]ContestState{ContestCorrected}, ContestOpen, ByComplainant},
		// From DECIDED only when upheld and uncorrected: the supplier
		// drops a finding in its favour (the two sides settled).
		ContestWithdraw:     {[]ContestState{ContestOpen, ContestCorrected, ContestDecided}, ContestWithdrawn, ByComplainant},
		ContestDecideUphold: {[]ContestState{ContestOpen, ContestCorrected}, ContestDecided, ByRegulator},
		ContestDecideReject: {[]ContestState{ContestOpen, ContestCorrected}, ContestDecided, ByRegulator},
	}
	r, ok := rules[a]
	if !ok {
		return fmt.Errorf("%w: unknown action %q", ErrNotAllowed, a)
	}
	from := false
	for _, s := range r.from {
		from = from || s == c.State
	}
	if (a == ContestCorrect || a == ContestWithdraw) && c.State == ContestDecided && !c.AwaitsCorrection() {
		from = false // a rejected contest leaves nothing to correct or drop
	}
	// Whose move it is first: a caller that may never take it is told so,
	// whatever state the contest is in (it was told 400 in one state and
	// 403 in another).
	if by != r.by {
		return fmt.Errorf("%w: %s is done by the %s", ErrNotYours, a, contestActor(r.by))
	}
	if !from {
		return fmt.Errorf("%w: %s is possible only from %v, and the contest is %s", ErrNotAllowed, a, r.from, c.State)
	}
	c.State = r.to
	switch a {
	case ContestDecideUphold:
		c.Decision, c.Uncorrected = "UPHELD", true
	case ContestDecideReject:
		c.Decision, c.Uncorrected = "REJECTED", false
	case ContestCorrect, ContestWithdraw:
		c.Uncorrected = false
	}
	return nil
}
