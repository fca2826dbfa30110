package policy

import (
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strings"

	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/money"
	"github.com/arrears/arrears/internal/regid"
)

// Policy is one version of one payment rule set. It is plain data, loaded
// from JSON, so that a change in the law is a new file rather than a new
// release; the judgement package interprets it.
type Policy struct {
	// ID names the rule set, e.g. "CN-802-LARGE-ENTERPRISE". Together with
	// Version it is what an invoice records as the policy it is judged under.
	ID string `json:"id"`
	// Version starts at 1 and grows with every change, so that an invoice
	// judged under an earlier version can still be judged the same way.
	Version int `json:"version"`
	// Name is a short human title.
	Name string `json:"name"`
	// Jurisdictions lists the ISO 3166 codes the policy is written for; "EU"
	// stands for every member state and is only a fallback for states
	// without a national policy of their own.
	Jurisdictions []string `json:"jurisdictions"`
	// DebtorKinds lists the kinds of debtor the policy is written for; the
	// registry uses it to pick a national EU policy by debtor kind.
	DebtorKinds []ledger.PartyKind `json:"debtor_kinds"`
	// Source cites the legal text, so that every figure can be checked.
	Source string `json:"source"`
	// Notes explains choices and figures still to verify.
	Notes string `json:"notes,omitempty"`

	ClockStart ClockStart `json:"clock_start"`
	// DefaultTermDays applies when the invoice has no agreed term or date;
	// 0 means the law sets none (the invoice then has no due date).
	DefaultTermDays int `json:"default_term_days"`
	// DefaultTermIncludesEventDay counts the statutory default period from
	// the event's own day: the UK Act's "period of 30 days beginning with"
	// the relevant day ends on the 29th day after it. Elsewhere (and for an
	// agreed term, which a contract counts "from" the event) the event's
	// day is not counted.
	DefaultTermIncludesEventDay bool `json:"default_term_includes_event_day,omitempty"`
	// CapDays bounds an agreed term; CapKind says what happens above it.
	CapDays int     `json:"cap_days"`
	CapKind CapKind `json:"cap_kind"`
	// CapFrom, when set, is the event the cap counts from where the law
	// measures it from another day than the payment clock (France's 60
	// days run from the invoice date, L441-10, whatever starts the
	// clock). Empty: from the clock's start. An invoice without that
	// event's date is measured from the clock's start.
	CapFrom ClockEvent `json:"cap_from,omitempty"`
	// CapIncludesEventDay counts the cap as a period beginning with the
	// event's own day, as DefaultTermIncludesEventDay counts the default:
	// the UK Act bounds an agreed payment day by the last day of "the
	// relevant 30-day (or 60-day) period", which begins with the relevant
	// day, so an agreed "30 days" counted from the day after runs one day
	// past it.
	CapIncludesEventDay bool `json:"cap_includes_event_day,omitempty"`
	// Adjust says whether a due date on a non-working day of Calendar moves.
	Adjust Adjustment `json:"adjust"`
	// AcceptanceMaxDays, when positive, is how long an acceptance the
	// contract requires may take when no period is agreed: it ends that
	// many days after delivery (Directive 2011/7/EU Arts. 3(4), 4(3)(b):
	// at most 30 days unless expressly agreed). Zero: the law sets none,
	// and an acceptance neither passed nor bounded keeps the clock stopped.
	AcceptanceMaxDays int `json:"acceptance_max_days,omitempty"`
	// AcceptanceDeemed makes acceptance a condition of every invoice, and
	// AcceptanceMaxDays the day it is deemed to occur whatever the buyer
	// did after it, counted in calendar days and not moved off a
	// non-working day: the US Prompt Payment rules deem acceptance on the
	// 7th day after delivery for the payment due date and its interest
	// (5 CFR 1315.4(g); FAR 52.232-25(a)(6)), whether or not the contract
	// names an acceptance. An acceptance recorded earlier starts the clock
	// on its own day.
	AcceptanceDeemed bool `json:"acceptance_deemed,omitempty"`

	Interest     Interest     `json:"interest"`
	Compensation Compensation `json:"compensation"`
	// BillCounts says when a commercial bill or receivable certificate
	// settles the debt: when handed over, or at its maturity.
	BillCounts BillCounting `json:"bill_counts"`
	// MaxBillTenorMonths, when positive, is the longest bill tenor the rules
	// allow; a longer one is reported.
	MaxBillTenorMonths int `json:"max_bill_tenor_months,omitempty"`

	// Escalation is the ladder of levels above level 0 (NONE), in order.
	// Omitted in a file, it defaults to [DefaultEscalation].
	Escalation []EscalationLevel `json:"escalation"`
	// BucketEdges are the upper edges, in days overdue, of the aging
	// buckets after "not due"; omitted, they default to [DefaultBucketEdges].
	BucketEdges []int `json:"bucket_edges"`
	// Rounding is how the exact interest is rounded to minor units, once;
	// omitted, HALF_EVEN.
	Rounding Rounding `json:"rounding"`
	// TimeZone is the IANA zone whose civil dates the policy counts in;
	// empty means the debtor's own jurisdiction's zone (for a policy such as
	// the EU minimum that spans several zones).
	TimeZone string `json:"time_zone,omitempty"`
	// Calendar names the working-day calendar used by Adjust.
	Calendar string `json:"calendar"`
}

// ClockEvent names an event on an invoice that can start the payment clock.
type ClockEvent string

const (
	// EventDelivery is the delivery of the goods or services.
	EventDelivery ClockEvent = "DELIVERY"
	// EventAcceptance is acceptance passed; if the buyer is late accepting,
	// the end of the agreed acceptance period. It applies only to an invoice
	// whose contract makes acceptance a condition of payment.
	EventAcceptance ClockEvent = "ACCEPTANCE"
	// EventSettlement is the confirmation of a periodic or progress
	// settlement amount by both sides; it applies only when recorded.
	EventSettlement ClockEvent = "SETTLEMENT"
	// EventReceipt is receipt of the invoice, or of the goods if later.
	EventReceipt ClockEvent = "RECEIPT"
	// EventIssue is the invoice date, the last resort of a fallback chain.
	EventIssue ClockEvent = "ISSUE"
	// EventLatestOf takes the latest known date of ClockStart.Of.
	EventLatestOf ClockEvent = "LATEST_OF"
)

func (e ClockEvent) valid(allowLatest bool) bool {
	switch e {
	case EventDelivery, EventAcceptance, EventSettlement, EventReceipt, EventIssue:
		return true
	case EventLatestOf:
		return allowLatest
	}
	return false
}

// ClockStart says which event starts the payment clock. Overrides are
// events that, when the invoice's contract makes them apply (acceptance as a
// condition of payment, a confirmed settlement), take precedence over Event,
// as Chinese law has it. When the preferred event's date is missing, the
// first known date of Fallback is used and the judgement reports that it
// fell back: for example delivery missing -> receipt -> issue.
type ClockStart struct {
	Event     ClockEvent   `json:"event"`
	Of        []ClockEvent `json:"of,omitempty"`
	Overrides []ClockEvent `json:"overrides,omitempty"`
	Fallback  []ClockEvent `json:"fallback,omitempty"`
	// FallbackLatest takes the latest recorded of the fallback events
	// rather than the first: the UK Act has no rule for an unknown receipt
	// of the invoice (unlike the EU Directive's goods receipt), and the
	// notice of the amount it stands for cannot come before the invoice.
	FallbackLatest bool `json:"fallback_latest,omitempty"`
}

// CapKind says what an agreed term longer than the cap does.
type CapKind string

const (
	// CapNone: no statutory cap.
	CapNone CapKind = "NONE"
	// CapHard: the longer term is void and the cap replaces it.
	CapHard CapKind = "HARD"
	// CapSoft: the agreed term stands, and the excess is reported.
	CapSoft CapKind = "SOFT"
)

// Adjustment says what happens to a due date on a non-working day.
type Adjustment string

const (
	// AdjustNone keeps the date (the UK sets no rule).
	AdjustNone Adjustment = "NONE"
	// AdjustNextWorkingDay moves it to the next working day of the
	// policy's calendar (China: Civil Code Art. 203; EU: Reg. 1182/71).
	AdjustNextWorkingDay Adjustment = "NEXT_WORKING_DAY"
)

// InterestMethod is how statutory late-payment interest is set.
type InterestMethod string

const (
	// InterestNone: no statutory interest; only an agreed rate, if used.
	InterestNone InterestMethod = "NONE"
	// InterestDailyRate: a fixed percent per day (China: 0.05).
	InterestDailyRate InterestMethod = "DAILY_RATE"
	// InterestReferencePlus: a reference rate table plus fixed points.
	InterestReferencePlus InterestMethod = "REFERENCE_PLUS"
)

// Fixing says which reference-rate value applies to which day.
type Fixing string

const (
	// FixingAtStart: the rate in force on the 31 December or 30 June
	// immediately before interest starts, for the life of the debt (UK).
	FixingAtStart Fixing = "AT_START"
	// FixingHalfYearly: the rate in force on 1 January applies to days in
	// January-June, the rate on 1 July to days in July-December (EU).
	FixingHalfYearly Fixing = "HALF_YEARLY"
	// FixingOnStart: the rate in force on the day interest starts (the day
	// after the due date), for the life of the debt (US Prompt Payment
	// Act, 5 CFR 1315.10(a)(1)).
	FixingOnStart Fixing = "ON_START"
)

// DayCount is the denominator for an annual rate.
type DayCount string

const (
	// DayCountAct365 divides an annual rate by 365 (UK, EU).
	DayCountAct365 DayCount = "ACT_365"
	// DayCountAct360 also converts an agreed annual rate to a daily one in
	// the PBoC convention (annual / 360).
	DayCountAct360 DayCount = "ACT_360"
)

// Days returns the denominator of the day count.
func (d DayCount) Days() int64 {
	if d == DayCountAct360 {
		return 360
	}
	return 365
}

// Interest describes late-payment interest.
type Interest struct {
	Method InterestMethod `json:"method"`
	// DailyPercent is the percent per day for DAILY_RATE, e.g. "0.05".
	DailyPercent string `json:"daily_percent,omitempty"`
	// Reference is the rate table id for REFERENCE_PLUS, and Points the
	// percentage points added to it (e.g. "8").
	Reference string `json:"reference,omitempty"`
	Points    string `json:"points,omitempty"`
	Fixing    Fixing `json:"fixing,omitempty"`
	// DayCount divides annual rates, statutory and agreed alike.
	DayCount DayCount `json:"day_count"`
	// UseAgreedRate makes an agreed rate on the invoice replace the
	// statutory method. When false an agreed rate is reported as not applied.
	UseAgreedRate bool `json:"use_agreed_rate"`
	// AgreedRateIfHigher applies an agreed rate on the days it is higher
	// than the statutory one, which stands on the others: Germany's BGB s.
	// 288(3) lets the creditor claim higher interest on another legal
	// ground, such as the contract. Not with UseAgreedRate, which replaces
	// the statutory rate outright.
	AgreedRateIfHigher bool `json:"agreed_rate_if_higher,omitempty"`
	// AgreedRateFloor, when set, names a rate table whose value in force on
	// the contract date (the issue date if there is none) is the lowest
	// agreed annual rate allowed (China: the 1-year LPR at signing).
	AgreedRateFloor string `json:"agreed_rate_floor,omitempty"`
	// CompoundDays, when positive, adds the interest accrued and unpaid to
	// the sum that bears interest at the end of every such period since
	// interest started (US Prompt Payment: every 30 days, 5 CFR
	// 1315.10(a)(3)); zero: simple interest.
	CompoundDays int `json:"compound_days,omitempty"`
	// ThroughPaymentDay counts the day a payment is made as a day of
	// interest on what it pays: the US rules compute interest "through the
	// payment date" (5 CFR 1315.10(a)(1)), so a payment 10 days late bears
	// 10 days. Otherwise a payment stops interest on its own day, and one
	// made on the due date bears none.
	ThroughPaymentDay bool `json:"through_payment_day,omitempty"`
	// MaxDays, when positive, is how many days from its start interest
	// accrues at most (US Prompt Payment: not for more than one year, 5 CFR
	// 1315.10(a)(5)); zero: for as long as the debt is late.
	MaxDays int `json:"max_days,omitempty"`
}

// Compensation is the fixed sum owed per late debt once interest starts.
type Compensation struct {
	// Currency is the currency the law states the sum in; empty when the
	// policy has no compensation.
	Currency string `json:"currency,omitempty"`
	// Bands are ordered by FromDebtMinor, the first starting at 0; the band
	// is chosen by the debt that was late (the largest sum interest ran
	// on), in Currency.
	Bands []CompensationBand `json:"bands,omitempty"`
}

// CompensationBand: debts of at least FromDebtMinor (minor units of the
// compensation currency) are owed AmountMinor.
type CompensationBand struct {
	FromDebtMinor int64 `json:"from_debt_minor"`
	AmountMinor   int64 `json:"amount_minor"`
}

// BillCounting says when a bill or receivable certificate settles a debt.
type BillCounting string

const (
	// BillAtIssue: the payment counts when the bill is handed over.
	BillAtIssue BillCounting = "AT_ISSUE"
	// BillAtMaturity: the payment counts at the bill's maturity (China).
	BillAtMaturity BillCounting = "AT_MATURITY"
)

// EscalationLevel is one rung of the ladder: reached when the days overdue
// net of disputes are at least Days and, if MinNetOverdue is set, the net
// overdue amount in that currency is at least its amount.
type EscalationLevel struct {
	Name          string  `json:"name"`
	Days          int     `json:"days"`
	MinNetOverdue *Amount `json:"min_net_overdue,omitempty"`
}

// Amount is a sum of money in a policy file: minor units and an ISO 4217
// code, spelled out so that the file reads unambiguously.
type Amount struct {
	Minor    int64  `json:"minor"`
	Currency string `json:"currency"`
}

// Money converts a to the ledger's money type.
func (a Amount) Money() money.Money { return money.Money{Minor: a.Minor, Currency: a.Currency} }

// Rounding is how an exact amount becomes minor units.
type Rounding string

const (
	// RoundHalfEven rounds a tie to the even unit, so that ties do not
	// drift one way across many invoices; the default.
	RoundHalfEven Rounding = "HALF_EVEN"
	// RoundHalfUp rounds a tie away from zero, for laws that say so.
	RoundHalfUp Rounding = "HALF_UP"
	// RoundDown truncates, never charging a fraction not owed.
	RoundDown Rounding = "DOWN"
)

// DefaultEscalation is the ladder every shipped policy uses: a warning on
// the first day overdue, a formal notice at 30 days, regulator attention at
// 60 and a referral at 90.
func DefaultEscalation() []EscalationLevel {
	return []EscalationLevel{
		{Name: "OVERDUE", Days: 1},
		{Name: "FORMAL_NOTICE", Days: 30},
		{Name: "REGULATOR_WATCH", Days: 60},
		{Name: "REFERRAL", Days: 90},
	}
}

// DefaultBucketEdges gives the buckets not due, 1-30, 31-60, 61-90, 91-180,
// 181-365 and over 365 days overdue.
func DefaultBucketEdges() []int { return []int{30, 60, 90, 180, 365} }

// withDefaults fills the settings a file may omit.
func (p *Policy) withDefaults() {
	if p.CapKind == "" {
		p.CapKind = CapNone
	}
	if p.Adjust == "" {
		p.Adjust = AdjustNone
	}
	if p.Interest.Method == "" {
		p.Interest.Method = InterestNone
	}
	if p.BillCounts == "" {
		p.BillCounts = BillAtIssue
	}
	if p.Escalation == nil {
		p.Escalation = DefaultEscalation()
	}
	if p.BucketEdges == nil {
		p.BucketEdges = DefaultBucketEdges()
	}
	if p.Rounding == "" {
		p.Rounding = RoundHalfEven
	}
}

var (
	idRE      = regexp.MustCompile(`^[A-Z0-9][A-Z0-9-]{0,63}$`)
	decimalRE = regexp.MustCompile(`^-?[0-9]{1,4}(\.[0-9]{1,8})?$`)
	zoneRE    = regexp.MustCompile(`^[A-Za-z_]+(/[A-Za-z0-9_+-]+)*$`)
)

// ParseDecimal reads a decimal such as "0.05" or "-0.88" exactly. Rates are
// kept as text in files so that no binary rounding enters the arithmetic.
func ParseDecimal(s string) (*big.Rat, error) {
	if !decimalRE.MatchString(s) {
		return nil, fmt.Errorf("%q is not a decimal number such as 3.45 or -0.88", s)
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil, fmt.Errorf("%q is not a decimal number", s)
	}
	return r, nil
}

// Validate checks the policy on its own (rate tables and calendars it names
// are checked by the registry) and reports every problem at once.
func (p *Policy) Validate() error {
	var v ledger.ValidationError
	if !idRE.MatchString(p.ID) {
		v.Add("id", "%q must be upper-case letters, digits and dashes", p.ID)
	}
	if p.Version < 1 {
		v.Add("version", "must be at least 1, got %d", p.Version)
	}
	if strings.TrimSpace(p.Name) == "" {
		v.Add("name", "is required")
	}
	if strings.TrimSpace(p.Source) == "" {
		v.Add("source", "is required: cite the legal text")
	}
	if len(p.Jurisdictions) == 0 {
		v.Add("jurisdictions", "is required")
	}
	for i, j := range p.Jurisdictions {
		if j != JurisdictionEU && j != JurisdictionAny && !regid.IsJurisdiction(j) {
			v.Add(fmt.Sprintf("jurisdictions[%d]", i), "%q is not a supported jurisdiction", j)
		}
	}
	if len(p.DebtorKinds) == 0 {
		v.Add("debtor_kinds", "is required")
	}
	for i, k := range p.DebtorKinds {
		if !k.Valid() {
			v.Add(fmt.Sprintf("debtor_kinds[%d]", i), "%q is not a party kind", k)
		}
	}
	p.validateClock(&v)
	if p.DefaultTermDays < 0 || p.DefaultTermDays > ledger.MaxTermDays {
		v.Add("default_term_days", "must be between 0 and %d", ledger.MaxTermDays)
	}
	if p.AcceptanceMaxDays < 0 || p.AcceptanceMaxDays > ledger.MaxTermDays {
		v.Add("acceptance_max_days", "must be between 0 and %d", ledger.MaxTermDays)
	}
	if p.AcceptanceDeemed && p.AcceptanceMaxDays == 0 {
		v.Add("acceptance_deemed", "needs acceptance_max_days, the day after delivery acceptance is deemed on")
	}
	switch {
	case p.CapKind != CapNone && p.CapKind != CapHard && p.CapKind != CapSoft:
		v.Add("cap_kind", "%q must be NONE, HARD or SOFT", p.CapKind)
	case p.CapKind == CapNone && p.CapDays != 0:
		v.Add("cap_days", "is set but cap_kind is NONE")
	case p.CapKind != CapNone && (p.CapDays < 1 || p.CapDays > ledger.MaxTermDays):
		v.Add("cap_days", "must be between 1 and %d for a %s cap", ledger.MaxTermDays, p.CapKind)
	}
	if p.CapIncludesEventDay && p.CapKind == CapNone {
		v.Add("cap_includes_event_day", "is set but cap_kind is NONE")
	}
	switch p.CapFrom {
	case "":
	case EventIssue, EventDelivery, EventReceipt:
		if p.CapKind == CapNone {
			v.Add("cap_from", "is set but cap_kind is NONE")
		}
	default:
		v.Add("cap_from", "%q must be ISSUE, DELIVERY or RECEIPT", p.CapFrom)
	}
	switch p.Adjust {
	case AdjustNone:
	case AdjustNextWorkingDay:
		if p.Calendar == "" {
			v.Add("calendar", "is required when adjust is NEXT_WORKING_DAY")
		}
	default:
		v.Add("adjust", "%q must be NONE or NEXT_WORKING_DAY", p.Adjust)
	}
	p.validateInterest(&v)
	p.validateCompensation(&v)
	if p.BillCounts != BillAtIssue && p.BillCounts != BillAtMaturity {
		v.Add("bill_counts", "%q must be AT_ISSUE or AT_MATURITY", p.BillCounts)
	}
	if p.MaxBillTenorMonths < 0 {
		v.Add("max_bill_tenor_months", "must not be negative")
	}
	p.validateEscalation(&v)
	for i, e := range p.BucketEdges {
		if e < 1 || e > MaxLadderDays || (i > 0 && e <= p.BucketEdges[i-1]) {
			v.Add("bucket_edges", "must be between 1 and %d and strictly increasing, got %v", MaxLadderDays, p.BucketEdges)
			break
		}
	}
	if p.Rounding != RoundHalfEven && p.Rounding != RoundHalfUp && p.Rounding != RoundDown {
		v.Add("rounding", "%q must be HALF_EVEN, HALF_UP or DOWN", p.Rounding)
	}
	if p.TimeZone != "" && !zoneRE.MatchString(p.TimeZone) {
		v.Add("time_zone", "%q is not an IANA zone name such as Asia/Shanghai", p.TimeZone)
	}
	if err := v.Err(); err != nil {
		return fmt.Errorf("policy %s v%d: %w", p.ID, p.Version, err)
	}
	return nil
}

func (p *Policy) validateClock(v *ledger.ValidationError) {
	c := p.ClockStart
	if !c.Event.valid(true) {
		v.Add("clock_start.event", "%q must be DELIVERY, ACCEPTANCE, SETTLEMENT, RECEIPT, ISSUE or LATEST_OF", c.Event)
	}
	if c.Event == EventLatestOf && len(c.Of) < 2 {
		v.Add("clock_start.of", "LATEST_OF needs at least two events")
	}
	if c.Event != EventLatestOf && len(c.Of) > 0 {
		v.Add("clock_start.of", "is only used with LATEST_OF")
	}
	for name, list := range map[string][]ClockEvent{"of": c.Of, "overrides": c.Overrides, "fallback": c.Fallback} {
		for i, e := range list {
			if !e.valid(false) {
				v.Add(fmt.Sprintf("clock_start.%s[%d]", name, i), "%q is not an event", e)
			}
		}
	}
}

func (p *Policy) validateInterest(v *ledger.ValidationError) {
	in := p.Interest
	switch in.Method {
	case InterestNone:
	case InterestDailyRate:
		if r, err := ParseDecimal(in.DailyPercent); err != nil || r.Sign() <= 0 {
			v.Add("interest.daily_percent", "%q must be a positive decimal", in.DailyPercent)
		}
	case InterestReferencePlus:
		if in.Reference == "" {
			v.Add("interest.reference", "is required for REFERENCE_PLUS")
		}
		if _, err := ParseDecimal(in.Points); err != nil {
			v.Add("interest.points", "%v", err)
		}
		if in.Fixing != FixingAtStart && in.Fixing != FixingHalfYearly && in.Fixing != FixingOnStart {
			v.Add("interest.fixing", "%q must be AT_START, HALF_YEARLY or ON_START", in.Fixing)
		}
	default:
		v.Add("interest.method", "%q must be NONE, DAILY_RATE or REFERENCE_PLUS", in.Method)
	}
	if in.Method != InterestReferencePlus && (in.Reference != "" || in.Points != "" || in.Fixing != "") {
		v.Add("interest", "reference, points and fixing are only used with REFERENCE_PLUS")
	}
	if in.DayCount != DayCountAct365 && in.DayCount != DayCountAct360 {
		v.Add("interest.day_count", "%q must be ACT_365 or ACT_360", in.DayCount)
	}
	if in.CompoundDays < 0 || in.CompoundDays > ledger.MaxTermDays {
		v.Add("interest.compound_days", "must be between 0 and %d", ledger.MaxTermDays)
	}
	if in.MaxDays < 0 {
		v.Add("interest.max_days", "must be 0 (no limit) or more")
	}
	if in.AgreedRateIfHigher && (in.UseAgreedRate || in.Method == InterestNone) {
		v.Add("interest.agreed_rate_if_higher", "compares an agreed rate with the statutory one: it needs a statutory method and no use_agreed_rate")
	}
	if in.AgreedRateFloor != "" && !in.UseAgreedRate {
		v.Add("interest.agreed_rate_floor", "is set but use_agreed_rate is false")
	}
}

func (p *Policy) validateCompensation(v *ledger.ValidationError) {
	c := p.Compensation
	if len(c.Bands) == 0 {
		if c.Currency != "" {
			v.Add("compensation.bands", "are required when a currency is set")
		}
		return
	}
	if !money.IsCurrency(c.Currency) {
		v.Add("compensation.currency", "%q is not an ISO 4217 currency", c.Currency)
	}
	for i, b := range c.Bands {
		switch {
		case i == 0 && b.FromDebtMinor != 0:
			v.Add("compensation.bands[0].from_debt_minor", "must be 0 so that every debt has a band")
		case i > 0 && b.FromDebtMinor <= c.Bands[i-1].FromDebtMinor:
			v.Add(fmt.Sprintf("compensation.bands[%d].from_debt_minor", i), "must be greater than the band before")
		}
		if b.AmountMinor <= 0 {
			v.Add(fmt.Sprintf("compensation.bands[%d].amount_minor", i), "must be positive")
		}
	}
}

// MaxLadderDays bounds the days overdue at which an aging bucket ends or an
// escalation level is reached: a hundred years. The engine dates the next
// change of bucket or level by adding such a count to the due date; past
// the int range that addition wrapped, and the date it gave meant nothing.
const MaxLadderDays = 36500

func (p *Policy) validateEscalation(v *ledger.ValidationError) {
	var names []string
	var lastMin *Amount
	for i, l := range p.Escalation {
		f := fmt.Sprintf("escalation[%d]", i)
		if !idRE.MatchString(strings.ReplaceAll(l.Name, "_", "-")) || l.Name == LevelNone {
			v.Add(f+".name", "%q must be upper-case letters, digits and underscores, and not NONE", l.Name)
		}
		if slices.Contains(names, l.Name) {
			v.Add(f+".name", "%q is used twice", l.Name)
		}
		names = append(names, l.Name)
		if l.Days < 1 || l.Days > MaxLadderDays || (i > 0 && l.Days <= p.Escalation[i-1].Days) {
			v.Add(f+".days", "must be between 1 and %d and greater than the level before", MaxLadderDays)
		}
		// Thresholds must not fall as levels rise, so that the levels reached
		// are always a prefix of the ladder and a level is never skipped.
		switch m := l.MinNetOverdue; {
		case m == nil && lastMin != nil:
			v.Add(f+".min_net_overdue", "is required because a lower level sets one")
		case m != nil && !money.IsCurrency(m.Currency):
			v.Add(f+".min_net_overdue.currency", "%q is not an ISO 4217 currency", m.Currency)
		case m != nil && m.Minor < 0:
			v.Add(f+".min_net_overdue.minor", "must not be negative")
		case m != nil && lastMin != nil && (m.Currency != lastMin.Currency || m.Minor < lastMin.Minor):
			v.Add(f+".min_net_overdue", "must be in the same currency as, and at least, the level before")
		}
		if l.MinNetOverdue != nil {
			lastMin = l.MinNetOverdue
		}
	}
}

// LevelNone is the name of escalation level 0: nothing to escalate.
const LevelNone = "NONE"

// Jurisdiction markers usable in Policy.Jurisdictions besides ISO codes.
const (
	// JurisdictionEU covers every EU member state.
	JurisdictionEU = "EU"
	// JurisdictionAny marks a policy usable anywhere (contract terms only).
	JurisdictionAny = "ANY"
)
