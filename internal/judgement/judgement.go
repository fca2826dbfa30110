package judgement

import (
	"errors"
	"fmt"

	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/money"
	"github.com/arrears/arrears/internal/policy"
)

// RulesVersion numbers the judging rules' code, as the policy data's
// fingerprint stands for their data. Raise it with a change that judges an
// existing invoice differently (its due date, balances or aging): the
// summary aggregates counted under the old rules are then known stale, and
// summaries judge invoice by invoice until `arrearsd summary rebuild`.
// 1: an acceptance period's last day moves off a non-working day.
const RulesVersion = 1

// ErrInvalidInput is wrapped by Evaluate's error when the facts cannot be
// judged as given (a missing issue date, a payment in another currency);
// the caller has a data problem, not a legal question.
var ErrInvalidInput = errors.New("judgement: invalid input")

// ErrMissingData is wrapped when a rate table has no value for a date the
// judgement needs: interest cannot be computed honestly without it, so the
// caller must extend the table rather than receive a guess.
var ErrMissingData = errors.New("judgement: reference data missing")

// ErrInterestOverflow is wrapped when the interest itself is beyond int64
// minor units (an agreed daily rate over centuries): what is owed and how
// late can still be judged without it.
var ErrInterestOverflow = errors.New("judgement: interest beyond int64 minor units")

// Tables gives the reference rates and working-day calendars a policy
// names. *policy.Registry implements it; tests may use a fake.
type Tables interface {
	// RateOn returns the percent per annum in force on d, as decimal text.
	RateOn(table string, d civil.Date) (percent string, ok bool)
	// RateConfirmedThrough is the last day a table is known to be
	// complete (zero: not stated); a rate for a later day assumes no
	// change since.
	RateConfirmedThrough(table string) civil.Date
	// IsWorkingDay reports whether d is a working day, and whether the
	// calendar is published for d's year.
	IsWorkingDay(calendar string, d civil.Date) (working, published bool)
}

// Input is everything a judgement depends on. Facts dated after AsOf may
// be included: they are ignored for AsOf (a payment dated later does not
// count yet, a reversal dated later has not happened yet) but inform
// NextChange. The invoice's own dates (delivery, receipt, acceptance) are
// taken as recorded. Policy is a policy as the registry returns it:
// validated, with its defaults filled in.
type Input struct {
	Invoice     ledger.Invoice
	Payments    []ledger.Payment
	CreditNotes []ledger.CreditNote
	Disputes    []ledger.Dispute
	Policy      policy.Policy
	// PolicyValidated says the caller took Policy from a registry that
	// validated it on load, so it is not checked again: the ledger judges
	// every invoice it writes, and checking the policy each time took
	// about 7% of the server's CPU in a bulk sync's profile.
	PolicyValidated bool
	Tables          Tables
	AsOf            civil.Date
}

// Judgement is the state of one debt as of one date.
type Judgement struct {
	PolicyID      string
	PolicyVersion int
	AsOf          civil.Date
	// Currency is the invoice's; every int64 amount below is in its minor
	// units. Compensation carries its own currency.
	Currency string

	// ClockStart is the date the payment term runs from, and
	// ClockStartEvent the event it is the date of; both are zero when the
	// clock has not started (acceptance pending with no agreed period).
	ClockStart      civil.Date
	ClockStartEvent policy.ClockEvent
	// DueDate is the last day for payment; the debt is overdue from the day
	// after. Zero when there is none (no agreed term and no statutory
	// default, or the clock has not started).
	DueDate civil.Date
	// Provisional is true when the due date was computed on a calendar year
	// not yet published: it may move when the holidays are announced.
	Provisional bool
	// DueDateRule says in words how DueDate was computed.
	DueDateRule string

	// Outstanding is what is owed as of AsOf, never negative.
	Outstanding int64
	// DisputedOpen is the part of Outstanding held in disputes open on
	// AsOf; it is held out of escalation.
	DisputedOpen int64
	// DaysOverdue counts days after the due date while anything is
	// outstanding; DaysOverdueNet is the same but 0 when all of it is
	// disputed.
	DaysOverdue    int
	DaysOverdueNet int
	// Bucket and BucketNet name the aging bucket of Outstanding and of
	// Outstanding less DisputedOpen (see BucketOf).
	Bucket    string
	BucketNet string

	// Interest is the late-payment interest owed as of AsOf, and
	// ContingentInterest the interest on the part in open disputes, owed
	// only if the dispute is rejected or withdrawn. Interest, what is owed
	// now, is its exact amount rounded once; ContingentInterest is the
	// exact total rounded once less Interest, so the two add up to the
	// total and the total never falls as interest accrues (rounding the
	// contingent part first could leave Interest most of a unit short).
	Interest           int64
	ContingentInterest int64
	// InterestRule says in words which rate applied and why.
	InterestRule string
	// Accruals show the computation: one line per run of days with the same
	// base and rate.
	Accruals []Accrual

	// Compensation is the fixed sum per late debt in the policy's currency
	// (which may differ from Currency: it is never added to the amounts
	// above); the zero Money when none is due.
	Compensation money.Money

	// EscalationLevel is 0 (NONE) or the 1-based rung of the policy's
	// ladder reached on the net figures; EscalationName names it.
	EscalationLevel int
	EscalationName  string
	// NextChange is the first date after AsOf on which the bucket (gross or
	// net) or the escalation level would change if nothing else happened,
	// or on which a fact already recorded takes effect; zero if none.
	NextChange civil.Date

	Findings []Finding
}

// Finding is something the supplier, the debtor or a regulator should see
// about the debt, beyond the numbers.
type Finding struct {
	Code    string
	Message string
}

// Accrual is one run of days, From to To inclusive, on which the interest
// base and the rate were constant.
type Accrual struct {
	From, To civil.Date
	Days     int
	// Base is the amount bearing interest and Disputed the part of it in
	// disputes open as of AsOf (its interest is contingent).
	Base     int64
	Disputed int64
	// Compounded is the interest added to Base at the last compounding
	// date before the run, exact to six decimals ("" for none): it bears
	// interest too.
	Compounded string
	// Percent is the rate; PerDay says whether per day or per annum, and
	// DayCount is the denominator of an annual rate.
	Percent  string
	PerDay   bool
	DayCount int64
	// Amount is the exact interest of the run in minor units, to six
	// decimals, for audit; only the total is rounded.
	Amount string
}

// Finding codes. A code is stable, for filtering and reporting; the message
// says the particulars.
const (
	// FindingTermExceedsCap: the agreed term is longer than the statutory
	// cap (replaced under a hard cap, reportable under a soft one).
	FindingTermExceedsCap = "TERM_EXCEEDS_CAP"
	// FindingClockStartFallback: the policy's clock event has no date, so
	// the next event of the fallback chain started the clock.
	FindingClockStartFallback = "CLOCK_START_FALLBACK"
	// FindingClockNotStarted: no event that starts the clock has happened.
	FindingClockNotStarted = "CLOCK_NOT_STARTED"
	// FindingAcceptancePending: acceptance is a condition and not recorded;
	// the end of the agreed acceptance period, or of the longest the law
	// allows without one (the policy's AcceptanceMaxDays), stands in for it.
	FindingAcceptancePending = "ACCEPTANCE_PENDING"
	// FindingRateUnconfirmed: a reference rate was needed for a day after
	// its table is known to be complete; the last known rate was used.
	FindingRateUnconfirmed = "RATE_UNCONFIRMED"
	// FindingNoDueDate: nothing is agreed and the law sets no default.
	FindingNoDueDate = "NO_DUE_DATE"
	// FindingProvisionalCalendar: the due date, or the acceptance period's
	// end the clock started on, was moved on a calendar year not yet
	// published, and may change.
	FindingProvisionalCalendar = "PROVISIONAL_CALENDAR"
	// FindingBillMaturesAfterDue: a bill or receivable certificate matures
	// after the due date, stretching the term.
	FindingBillMaturesAfterDue = "BILL_MATURES_AFTER_DUE_DATE"
	// FindingBillTenorExceeded: a bill's tenor is longer than allowed.
	FindingBillTenorExceeded = "BILL_TENOR_EXCEEDS_LIMIT"
	// FindingBillMaturityMissing: a bill has no maturity date recorded.
	FindingBillMaturityMissing = "BILL_MATURITY_MISSING"
	// FindingInterestRateFloored: the agreed rate was below the statutory
	// floor, which applies instead.
	FindingInterestRateFloored = "INTEREST_RATE_FLOORED"
	// FindingAgreedRateNotApplied: an agreed rate exists but the policy
	// applies its statutory rate.
	FindingAgreedRateNotApplied = "AGREED_RATE_NOT_APPLIED"
	// FindingOverpaid: payments and credits exceed the invoice.
	FindingOverpaid = "OVERPAID"
	// FindingCancelled: the invoice was cancelled by AsOf.
	FindingCancelled = "INVOICE_CANCELLED"
	// FindingCompensationContingent: only a disputed part was ever late.
	FindingCompensationContingent = "COMPENSATION_CONTINGENT"
	// FindingCompensationBand: the compensation band could not be chosen
	// by amount because the invoice is in another currency.
	FindingCompensationBand = "COMPENSATION_BAND_ASSUMED"
	// FindingCreditedWithoutNote: a dispute was resolved CREDITED but its
	// credit note is not among the facts.
	FindingCreditedWithoutNote = "CREDITED_DISPUTE_WITHOUT_CREDIT_NOTE"
	// FindingInterestPeriodEnded: the policy lets interest accrue for a
	// limited number of days, and they ended before AsOf.
	FindingInterestPeriodEnded = "INTEREST_PERIOD_ENDED"
	// FindingDisputeExceeds: open disputes exceed what is outstanding.
	FindingDisputeExceeds = "DISPUTES_EXCEED_OUTSTANDING"
)

// maxMinor bounds every amount (10^14 minor units, a trillion in a
// two-digit currency), and maxFacts the facts of each kind, so that no sum
// of them can overflow an int64.
const (
	maxMinor = ledger.MaxMinorUnits
	maxFacts = ledger.MaxFactsPerKind
)

// eval carries one evaluation's working state.
type eval struct {
	in       Input
	pol      *policy.Policy
	inv      *ledger.Invoice
	asOf     civil.Date
	j        Judgement
	timeline timeline
	// quiet skips the words (findings, rules) for callers that want only
	// the figures, such as Balances, which the summaries call for every
	// version of every invoice they count.
	quiet bool
	// found holds the findings made, to record each once.
	found map[Finding]bool
	// unconfirmed holds the rate tables already reported as read past
	// their confirmed date: one finding per table, not one per day read.
	unconfirmed map[string]bool
	// provisionalEnd is an acceptance period's last day found on a
	// calendar year not yet published: provisional only if the clock
	// starts on it.
	provisionalEnd civil.Date
	// pendingEnd is the end of an acceptance period that bounds a
	// pending acceptance: reported only if the clock starts on it.
	pendingEnd pendingAcceptance
}

// pendingAcceptance is an acceptance period standing in for an acceptance
// not recorded: its last day, its length, and whether the law set it.
type pendingAcceptance struct {
	end       civil.Date
	days      int
	statutory bool
}

// say formats words for a rule, or returns "" when e is quiet.
func (e *eval) say(format string, args ...any) string {
	if e.quiet {
		return ""
	}
	return fmt.Sprintf(format, args...)
}

// find records a finding once, however often the rule that raises it runs.
func (e *eval) find(code, format string, args ...any) {
	if e.quiet {
		return
	}
	f := Finding{Code: code, Message: fmt.Sprintf(format, args...)}
	if e.found == nil {
		e.found = map[Finding]bool{}
	}
	if !e.found[f] {
		e.found[f] = true
		e.j.Findings = append(e.j.Findings, f)
	}
}

// Evaluate judges one invoice as of in.AsOf. It returns an error wrapping
// ErrInvalidInput for facts that cannot be judged, or ErrMissingData when a
// rate the policy needs is missing from the tables.
func Evaluate(in Input) (Judgement, error) {
	if err := validate(&in); err != nil {
		return Judgement{}, err
	}
	e := &eval{in: in, pol: &in.Policy, inv: &in.Invoice, asOf: in.AsOf}
	e.j = Judgement{
		PolicyID:      in.Policy.ID,
		PolicyVersion: in.Policy.Version,
		AsOf:          in.AsOf,
		Currency:      in.Invoice.Amount.Currency,
	}
	e.computeDueDate()
	e.timeline = e.buildTimeline()
	e.computeBalances()
	if err := e.computeInterest(); err != nil {
		return Judgement{}, err
	}
	e.computeAging()
	return e.j, nil
}

func validate(in *Input) error {
	var v ledger.ValidationError
	inv := &in.Invoice
	if in.AsOf.IsZero() {
		v.Add("as_of", "is required")
	}
	if !money.IsCurrency(inv.Amount.Currency) {
		v.Add("invoice.amount.currency_code", "%q is not an ISO 4217 currency", inv.Amount.Currency)
	}
	if inv.Amount.Minor <= 0 || inv.Amount.Minor > maxMinor {
		v.Add("invoice.amount.minor_units", "must be between 1 and %d, got %d", int64(maxMinor), inv.Amount.Minor)
	}
	if inv.IssuedOn.IsZero() {
		v.Add("invoice.issued_on", "is required")
	}
	if inv.AgreedTermDays < 0 || inv.AgreedTermDays > ledger.MaxTermDays {
		v.Add("invoice.agreed_term_days", "must be between 0 and %d", ledger.MaxTermDays)
	}
	if inv.AcceptancePeriodDays < 0 || inv.AcceptancePeriodDays > ledger.MaxTermDays {
		v.Add("invoice.acceptance_period_days", "must be between 0 and %d", ledger.MaxTermDays)
	}
	if r := inv.AgreedRate; r != nil {
		if p, err := policy.ParseDecimal(r.Percent); err != nil || p.Sign() <= 0 {
			v.Add("invoice.agreed_rate.percent", "%q must be a positive decimal", r.Percent)
		}
	}
	if len(in.Payments) > maxFacts || len(in.CreditNotes) > maxFacts || len(in.Disputes) > maxFacts {
		v.Add("facts", "at most %d payments, credit notes and disputes each", maxFacts)
	}
	for i, p := range in.Payments {
		f := fmt.Sprintf("payments[%d]", i)
		if p.Amount <= 0 || p.Amount > maxMinor {
			v.Add(f+".amount", "must be between 1 and %d, got %d", int64(maxMinor), p.Amount)
		}
		if p.Currency != "" && p.Currency != inv.Amount.Currency {
			v.Add(f+".currency", "is %s but the invoice is in %s", p.Currency, inv.Amount.Currency)
		}
		if p.PaidOn.IsZero() {
			v.Add(f+".paid_on", "is required")
		}
	}
	for i, c := range in.CreditNotes {
		f := fmt.Sprintf("credit_notes[%d]", i)
		if c.Amount <= 0 || c.Amount > maxMinor {
			v.Add(f+".amount", "must be between 1 and %d, got %d", int64(maxMinor), c.Amount)
		}
		if c.IssuedOn.IsZero() {
			v.Add(f+".issued_on", "is required")
		}
	}
	for i, d := range in.Disputes {
		f := fmt.Sprintf("disputes[%d]", i)
		if d.Amount <= 0 || d.Amount > maxMinor {
			v.Add(f+".amount", "must be between 1 and %d, got %d", int64(maxMinor), d.Amount)
		}
		if d.OpenedOn.IsZero() {
			v.Add(f+".opened_on", "is required")
		}
		if d.State == ledger.DisputeResolved && d.ResolvedOn.IsZero() {
			v.Add(f+".resolved_on", "is required for a resolved dispute")
		}
		if !d.ResolvedOn.IsZero() {
			if !d.Resolution.Valid() {
				v.Add(f+".resolution", "%q must be REJECTED, CREDITED or WITHDRAWN", d.Resolution)
			}
			if d.ResolvedOn.Before(d.OpenedOn) {
				v.Add(f+".resolved_on", "%s is before opened_on %s", d.ResolvedOn, d.OpenedOn)
			}
		}
	}
	pol := in.Policy
	if !in.PolicyValidated {
		if err := pol.Validate(); err != nil {
			v.Add("policy", "%v", err)
		}
	}
	needsTables := pol.Adjust == policy.AdjustNextWorkingDay || pol.Interest.Method == policy.InterestReferencePlus ||
		pol.Interest.AgreedRateFloor != ""
	if needsTables && in.Tables == nil {
		v.Add("tables", "are required by policy %s", pol.ID)
	}
	if err := v.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidInput, err)
	}
	return nil
}
