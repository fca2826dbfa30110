package ledger

import (
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/money"
)

// InvoiceStatus is the life-cycle state of an invoice as recorded now.
type InvoiceStatus string

const (
	StatusOpen      InvoiceStatus = "OPEN"
	StatusSettled   InvoiceStatus = "SETTLED"
	StatusCancelled InvoiceStatus = "CANCELLED"
)

// Rate is an interest rate agreed in a contract, kept as the decimal string
// the contract states so that no binary rounding creeps in.
type Rate struct {
	Percent string `json:"percent"`
	PerDay  bool   `json:"per_day"`
}

// Invoice is one debt. Amount is in minor units of Currency; every payment,
// credit note and dispute on it uses the same currency.
type Invoice struct {
	ID          uuid.UUID   `json:"id"`
	DebtorID    uuid.UUID   `json:"debtor_id"`
	CreditorID  uuid.UUID   `json:"creditor_id"`
	DocumentRef string      `json:"document_ref"`
	ContractRef string      `json:"contract_ref"`
	Amount      money.Money `json:"amount"`

	ContractSignedOn      civil.Date `json:"contract_signed_on"`
	IssuedOn              civil.Date `json:"issued_on"`
	ReceivedOn            civil.Date `json:"received_on"`
	DeliveredOn           civil.Date `json:"delivered_on"`
	AcceptanceRequired    bool       `json:"acceptance_required"`
	AcceptancePeriodDays  int        `json:"acceptance_period_days"`
	AcceptancePassedOn    civil.Date `json:"acceptance_passed_on"`
	SettlementConfirmedOn civil.Date `json:"settlement_confirmed_on"`

	AgreedTermDays        int        `json:"agreed_term_days"`
	AgreedDueDate         civil.Date `json:"agreed_due_date"`
	AgreedRate            *Rate      `json:"agreed_rate"`
	CreditorSizeAtSigning SizeClass  `json:"creditor_size_at_signing"`

	// Derived by Derive, stored for filtering.
	Status  InvoiceStatus `json:"status"`
	DueDate civil.Date    `json:"due_date"`

	// Running totals in minor units, kept by the service in the same
	// transaction as the facts they sum.
	Credited int64 `json:"credited"`
	Paid     int64 `json:"paid"`
	Disputed int64 `json:"disputed"`
	// Contested counts the supplier's unresolved contests of this record:
	// zero means both sides agree on it.
	Contested int `json:"contested"`
	// CorrectedOn is the latest date from which a correction of the
	// invoice's own fields (amount, dates, terms) takes effect; before it,
	// the fields as they then stood apply.
	CorrectedOn civil.Date `json:"corrected_on"`

	// The payment policy the invoice is judged under, and why; kept with
	// the invoice so that a later policy version does not change it.
	PolicyID      string `json:"policy_id"`
	PolicyVersion int    `json:"policy_version"`
	PolicyReason  string `json:"policy_reason"`

	CancelledOn  civil.Date `json:"cancelled_on"`
	CancelReason string     `json:"cancel_reason"`

	Version    int64     `json:"version"`
	CreateTime time.Time `json:"create_time"`
	UpdateTime time.Time `json:"update_time"`
}

// Outstanding is what is owed as recorded now: nothing once cancelled.
func (inv *Invoice) Outstanding() int64 {
	if inv.Status == StatusCancelled {
		return 0
	}
	return inv.Amount.Minor - inv.Credited - inv.Paid
}

// ClockStart is the event from which the contractual term runs: acceptance
// where it is a condition of payment (or the end of the agreed acceptance
// period if the buyer has not accepted by then), else the confirmed
// settlement, delivery, receipt of the invoice, or its issue, whichever is
// known first in that order. The jurisdiction's policy may choose otherwise;
// this is the contract's own reading.
func (inv *Invoice) ClockStart() civil.Date {
	if inv.AcceptanceRequired {
		if !inv.AcceptancePassedOn.IsZero() {
			if !inv.DeliveredOn.IsZero() && inv.AcceptancePeriodDays > 0 {
				end := inv.DeliveredOn.AddDays(inv.AcceptancePeriodDays)
				if inv.AcceptancePassedOn.After(end) {
					return end
				}
			}
			return inv.AcceptancePassedOn
		}
		if !inv.DeliveredOn.IsZero() && inv.AcceptancePeriodDays > 0 {
			return inv.DeliveredOn.AddDays(inv.AcceptancePeriodDays)
		}
		return civil.Date{}
	}
	for _, d := range []civil.Date{inv.SettlementConfirmedOn, inv.DeliveredOn, inv.ReceivedOn, inv.IssuedOn} {
		if !d.IsZero() {
			return d
		}
	}
	return civil.Date{}
}

// Derive recomputes the stored derived fields: the contractual due date
// (the agreed date, or the agreed term counted from ClockStart with the
// event's own day not counted) and the status.
func (inv *Invoice) Derive() {
	inv.DueDate = civil.Date{}
	switch {
	case !inv.AgreedDueDate.IsZero():
		inv.DueDate = inv.AgreedDueDate
	case inv.AgreedTermDays > 0:
		if start := inv.ClockStart(); !start.IsZero() {
			inv.DueDate = start.AddDays(inv.AgreedTermDays)
		}
	}
	switch {
	case !inv.CancelledOn.IsZero():
		inv.Status = StatusCancelled
	case inv.Amount.Minor-inv.Credited-inv.Paid <= 0:
		inv.Status = StatusSettled
	default:
		inv.Status = StatusOpen
	}
}

var rateRE = regexp.MustCompile(`^[0-9]{1,3}(\.[0-9]{1,6})?$`)

// refPunct are the characters a reference may hold besides letters and
// digits (not first).
const refPunct = " ._/#:()-"

// isRef reports whether ref starts with a letter or digit (Unicode
// categories L and N) and holds only letters, digits, combining marks
// (category M: the vowel signs of Devanagari or Thai, an accent sent
// decomposed) and refPunct. It is written out rather than a regular
// expression because every document and payment reference of a bulk sync
// passes here; the expression took a few percent of the sync's CPU.
func isRef(ref string) bool {
	for i, r := range ref {
		if !unicode.IsLetter(r) && !unicode.IsNumber(r) && (i == 0 || !unicode.IsMark(r) && !strings.ContainsRune(refPunct, r)) {
			return false
		}
	}
	return ref != ""
}

// MaxTermDays bounds agreed terms and acceptance periods: ten years is far
// beyond any lawful term and catches unit mistakes (minutes, cents).
const MaxTermDays = 3650

// ValidateText checks free text (a reason, a comment, a name): it may not
// hold control characters other than line breaks and tabs, which some
// databases refuse and no reader expects.
func ValidateText(v *ValidationError, field, text string) {
	for _, r := range text {
		if r < 0x20 && r != '\n' && r != '\t' && r != '\r' || r == 0x7f {
			v.Add(field, "contains a control character (U+%04X)", r)
			return
		}
	}
	if !utf8.ValidString(text) {
		v.Add(field, "is not valid UTF-8")
	}
}

// ValidateAgreedDueDate bounds an agreed due date (field) by the invoice
// date: at most as far as the longest acceptance period and term could
// take it, 2 × MaxTermDays. Beyond, the dates the engine derives from it
// run out of the calendar.
func ValidateAgreedDueDate(v *ValidationError, field string, due, issued civil.Date) {
	if !due.IsZero() && !issued.IsZero() && due.After(issued.AddDays(2*MaxTermDays)) {
		v.Add(field, "%s is more than %d days after issued_on %s", due, 2*MaxTermDays, issued)
	}
}

// MaxRefLength bounds a reference, in characters.
const MaxRefLength = 128

// ValidateRef checks a document, contract or payment reference.
func ValidateRef(v *ValidationError, field, ref string, required bool) {
	switch n := utf8.RuneCountInString(ref); {
	case n == 0 && required:
		v.Add(field, "is required")
	case n == 0:
	case n > MaxRefLength:
		v.Add(field, "is %d characters long, at most %d are allowed", n, MaxRefLength)
	case !isRef(ref):
		v.Add(field, "must start with a letter or digit and contain only letters (with their combining marks), digits, spaces and . _ / # : ( ) -")
	}
}

// MaxMinorUnits bounds every amount the ledger accepts (10^14 minor units,
// a trillion in a two-digit currency): far above any real invoice, and low
// enough that sums over a whole ledger cannot overflow and the judgement
// can always compute interest on it.
const MaxMinorUnits = 100_000_000_000_000

// MaxFactsPerKind bounds an invoice's payments, its credit notes and its
// disputes, each: with MaxMinorUnits, it keeps every sum the judgement makes
// within an int64. An invoice beyond it could not be judged, and would drop
// out of every figure, so the ledger refuses the fact that would cross it.
const MaxFactsPerKind = 10_000

// ValidateAmount checks that m is a positive amount in a known currency.
func ValidateAmount(v *ValidationError, field string, m money.Money) {
	if m.Currency == "" {
		v.Add(field+".currency_code", "is required")
	} else if !money.IsCurrency(m.Currency) {
		v.Add(field+".currency_code", "%q is not an ISO 4217 currency", m.Currency)
	}
	switch {
	case m.Minor <= 0:
		v.Add(field+".minor_units", "must be positive, got %d", m.Minor)
	case m.Minor > MaxMinorUnits:
		v.Add(field+".minor_units", "%d is more than the ledger accepts (%d)", m.Minor, int64(MaxMinorUnits))
	}
}

// Normalize trims the invoice's text fields and validates it against the
// facts of the calendar: today is the current date in the debtor's
// jurisdiction, since a recorded fact (delivery, acceptance) cannot lie in
// the future. A due date before the invoice date is legal (in China the term
// runs from delivery and invoices are often issued late).
func (inv *Invoice) Normalize(today civil.Date) error {
	var v ValidationError
	inv.DocumentRef = strings.TrimSpace(inv.DocumentRef)
	inv.ContractRef = strings.TrimSpace(inv.ContractRef)
	inv.Amount.Currency = money.CodeUpper(strings.TrimSpace(inv.Amount.Currency))

	ValidateRef(&v, "document_ref", inv.DocumentRef, true)
	ValidateRef(&v, "contract_ref", inv.ContractRef, false)
	ValidateAmount(&v, "amount", inv.Amount)
	if inv.DebtorID != uuid.Nil && inv.DebtorID == inv.CreditorID {
		v.Add("creditor", "must differ from debtor")
	}

	facts := []struct {
		field string
		d     civil.Date
	}{
		{"contract_signed_on", inv.ContractSignedOn},
		{"issued_on", inv.IssuedOn},
		{"received_on", inv.ReceivedOn},
		{"delivered_on", inv.DeliveredOn},
		{"acceptance_passed_on", inv.AcceptancePassedOn},
		{"settlement_confirmed_on", inv.SettlementConfirmedOn},
	}
	for _, f := range facts {
		if !f.d.IsZero() && f.d.After(today) {
			v.Add(f.field, "%s is in the future (today is %s)", f.d, today)
		}
	}
	if inv.IssuedOn.IsZero() {
		v.Add("issued_on", "is required")
	}
	if !inv.ReceivedOn.IsZero() && !inv.IssuedOn.IsZero() && inv.ReceivedOn.Before(inv.IssuedOn) {
		v.Add("received_on", "%s is before issued_on %s", inv.ReceivedOn, inv.IssuedOn)
	}
	if !inv.AcceptancePassedOn.IsZero() && !inv.DeliveredOn.IsZero() && inv.AcceptancePassedOn.Before(inv.DeliveredOn) {
		v.Add("acceptance_passed_on", "%s is before delivered_on %s", inv.AcceptancePassedOn, inv.DeliveredOn)
	}
	if !inv.AcceptanceRequired && inv.AcceptancePeriodDays != 0 {
		v.Add("acceptance_period_days", "is set but acceptance_required is false")
	}
	if inv.AcceptancePeriodDays < 0 || inv.AcceptancePeriodDays > MaxTermDays {
		v.Add("acceptance_period_days", "must be between 0 and %d, got %d", MaxTermDays, inv.AcceptancePeriodDays)
	}
	if inv.AgreedTermDays < 0 || inv.AgreedTermDays > MaxTermDays {
		v.Add("agreed_term_days", "must be between 0 and %d, got %d", MaxTermDays, inv.AgreedTermDays)
	}
	if inv.AgreedTermDays > 0 && !inv.AgreedDueDate.IsZero() {
		v.Add("agreed_due_date", "cannot be set together with agreed_term_days")
	}
	ValidateAgreedDueDate(&v, "agreed_due_date", inv.AgreedDueDate, inv.IssuedOn)
	if r := inv.AgreedRate; r != nil {
		switch {
		case !rateRE.MatchString(r.Percent):
			v.Add("agreed_interest_rate.percent", "%q must be a decimal number of percent, at most 100, with at most 6 decimal places", r.Percent)
		case strings.Trim(r.Percent, "0.") == "":
			v.Add("agreed_interest_rate.percent", "must be positive")
		case rateOver100(r.Percent):
			v.Add("agreed_interest_rate.percent", "must be at most 100")
		}
	}
	if inv.CreditorSizeAtSigning != "" && !inv.CreditorSizeAtSigning.Valid() {
		v.Add("creditor_size_class_at_signing", "must be MICRO, SMALL, MEDIUM or LARGE")
	}
	return v.Err()
}

// rateOver100 reports whether a well-formed percent string exceeds 100.
func rateOver100(p string) bool {
	whole, frac, _ := strings.Cut(p, ".")
	n, _ := strconv.Atoi(whole)
	return n > 100 || (n == 100 && strings.Trim(frac, "0") != "")
}

// MoneyOf pairs an amount in minor units with its currency.
func MoneyOf(minor int64, currency string) money.Money {
	return money.Money{Minor: minor, Currency: currency}
}
