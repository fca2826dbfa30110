package ledger

import (
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/money"
)

// CreditNote reduces what is owed on an invoice from IssuedOn. It is a fact:
// once recorded it is never changed or removed.
type CreditNote struct {
	ID         uuid.UUID  `json:"id"`
	InvoiceID  uuid.UUID  `json:"invoice_id"`
	Amount     int64      `json:"amount"`
	IssuedOn   civil.Date `json:"issued_on"`
	Reference  string     `json:"reference"`
	Reason     string     `json:"reason"`
	CreateTime time.Time  `json:"create_time"`
}

// PaymentInstrument says how a payment was made; a commercial bill settles at
// its maturity under Chinese law, so the instrument matters to the judgement.
type PaymentInstrument string

const (
	InstrumentTransfer              PaymentInstrument = "TRANSFER"
	InstrumentCommercialBill        PaymentInstrument = "COMMERCIAL_BILL"
	InstrumentReceivableCertificate PaymentInstrument = "RECEIVABLE_CERTIFICATE"
	InstrumentCheque                PaymentInstrument = "CHEQUE"
	InstrumentSetOff                PaymentInstrument = "SET_OFF"
)

// HasMaturity reports whether the instrument is paid at a later maturity.
func (i PaymentInstrument) HasMaturity() bool {
	return i == InstrumentCommercialBill || i == InstrumentReceivableCertificate
}

// PaymentState says whether a payment counts.
type PaymentState string

const (
	PaymentRecorded PaymentState = "RECORDED"
	PaymentReversed PaymentState = "REVERSED"
)

// Payment is money the debtor paid against one invoice. Reference is the
// debtor's payment reference, unique per debtor: the idempotency key.
type Payment struct {
	ID             uuid.UUID         `json:"id"`
	InvoiceID      uuid.UUID         `json:"invoice_id"`
	DebtorID       uuid.UUID         `json:"debtor_id"`
	Amount         int64             `json:"amount"`
	Currency       string            `json:"currency"`
	PaidOn         civil.Date        `json:"paid_on"`
	Reference      string            `json:"reference"`
	Instrument     PaymentInstrument `json:"instrument"`
	MaturityOn     civil.Date        `json:"maturity_on"`
	State          PaymentState      `json:"state"`
	ReversedOn     civil.Date        `json:"reversed_on"`
	ReversalReason string            `json:"reversal_reason"`
	Version        int64             `json:"version"`
	CreateTime     time.Time         `json:"create_time"`
	UpdateTime     time.Time         `json:"update_time"`
}

// SameContent reports whether p and o record the same payment, so that a
// retried RecordPayment returns the first instead of failing.
func (p *Payment) SameContent(o *Payment) bool {
	return p.InvoiceID == o.InvoiceID && p.Reference == o.Reference && p.differences(o) == ([4]bool{})
}

// differences says, field by field (amount and currency, paid_on,
// instrument, maturity_on), where o records another payment than p: the
// one list of a payment's content SameContent and ContentDiffers share.
func (p *Payment) differences(o *Payment) [4]bool {
	return [4]bool{p.Amount != o.Amount || p.Currency != o.Currency, p.PaidOn != o.PaidOn, p.Instrument != o.Instrument, p.MaturityOn != o.MaturityOn}
}

// ContentDiffers lists, as RecordPayment's request names them, the fields
// in which o records another payment than p under the same reference: what
// a caller must be told it cannot change.
func (p *Payment) ContentDiffers(o *Payment) []FieldViolation {
	var out []FieldViolation
	add := func(field string, differs bool, held, sent any) {
		if differs {
			out = append(out, FieldViolation{Field: field, Description: fmt.Sprintf(
				"payment %q is recorded with %s %s, not %s: a recorded payment is not changed; reverse it and record the right one under a new reference",
				p.Reference, field, shown(held), shown(sent))})
		}
	}
	d := p.differences(o)
	add("amount", d[0], money.Money{Minor: p.Amount, Currency: p.Currency}, money.Money{Minor: o.Amount, Currency: o.Currency})
	add("paid_on", d[1], p.PaidOn, o.PaidOn)
	add("instrument", d[2], p.Instrument, o.Instrument)
	add("maturity_on", d[3], p.MaturityOn, o.MaturityOn)
	return out
}

// shown is a value as a message gives it: "none" when unset.
func shown(v any) string {
	if s := fmt.Sprint(v); s != "" {
		return s
	}
	return "none"
}

// DisputeState is open or resolved.
type DisputeState string

const (
	DisputeOpen     DisputeState = "OPEN"
	DisputeResolved DisputeState = "RESOLVED"
)

// DisputeResolution says how a dispute ended.
type DisputeResolution string

const (
	ResolutionRejected  DisputeResolution = "REJECTED"
	ResolutionCredited  DisputeResolution = "CREDITED"
	ResolutionWithdrawn DisputeResolution = "WITHDRAWN"
)

// Valid reports whether r is one of the resolutions above.
func (r DisputeResolution) Valid() bool {
	return r == ResolutionRejected || r == ResolutionCredited || r == ResolutionWithdrawn
}

// Dispute holds all or part of an invoice in contention. While open, the
// disputed amount is held out of escalation (the engine's concern).
type Dispute struct {
	ID           uuid.UUID         `json:"id"`
	InvoiceID    uuid.UUID         `json:"invoice_id"`
	Amount       int64             `json:"amount"`
	Reason       string            `json:"reason"`
	OpenedOn     civil.Date        `json:"opened_on"`
	State        DisputeState      `json:"state"`
	Resolution   DisputeResolution `json:"resolution"`
	ResolvedOn   civil.Date        `json:"resolved_on"`
	Comment      string            `json:"comment"`
	CreditNoteID uuid.UUID         `json:"credit_note_id"`
	// OpenedBy is the side that raised the dispute: DEBTOR, CREDITOR or
	// ADMIN (an operator on someone's behalf).
	OpenedBy   string    `json:"opened_by"`
	Version    int64     `json:"version"`
	CreateTime time.Time `json:"create_time"`
	UpdateTime time.Time `json:"update_time"`
}

// ResourceType names the kinds of record that keep revisions.
type ResourceType string

const (
	ResourceParty     ResourceType = "party"
	ResourceInvoice   ResourceType = "invoice"
	ResourcePayment   ResourceType = "payment"
	ResourceDispute   ResourceType = "dispute"
	ResourceClaim     ResourceType = "claim"
	ResourceContest   ResourceType = "contest"
	ResourceComplaint ResourceType = "complaint"
)

// Revision is one recorded version of a resource: its snapshot after a
// change, the business date the change takes effect (EffectiveOn) and when it
// was recorded (RecordTime). Together they answer "as of D, as known at K".
type Revision struct {
	ResourceType ResourceType `json:"resource_type"`
	ResourceID   uuid.UUID    `json:"resource_id"`
	Revision     int64        `json:"revision"`
	EffectiveOn  civil.Date   `json:"effective_on"`
	RecordTime   time.Time    `json:"record_time"`
	Method       string       `json:"method"`
	Snapshot     []byte       `json:"snapshot"`
}

// Valid reports whether i is one of the instruments above.
func (i PaymentInstrument) Valid() bool {
	switch i {
	case InstrumentTransfer, InstrumentCommercialBill, InstrumentReceivableCertificate, InstrumentCheque, InstrumentSetOff:
		return true
	}
	return false
}

// Escalation is the sweeper's bookkeeping for one invoice: the level last
// recorded and the next date on which it may change. NextCheck is indexed,
// so the sweeper visits only invoices whose change is due.
type Escalation struct {
	InvoiceID  uuid.UUID  `json:"invoice_id"`
	DebtorID   uuid.UUID  `json:"debtor_id"`
	CreditorID uuid.UUID  `json:"creditor_id"`
	Level      int        `json:"level"`
	NextCheck  civil.Date `json:"next_check"`
	CheckedOn  civil.Date `json:"checked_on"`
	Version    int64      `json:"version"`
}

// Escalation event kinds.
const (
	EscalationChanged   = "CHANGED"
	EscalationCorrected = "CORRECTED"
)

// EscalationEvent records a change of level on the date it happened, or the
// correction of such a record that a backdated fact proved wrong.
type EscalationEvent struct {
	ID          uuid.UUID  `json:"id"`
	InvoiceID   uuid.UUID  `json:"invoice_id"`
	Kind        string     `json:"kind"`
	FromLevel   int        `json:"from_level"`
	ToLevel     int        `json:"to_level"`
	ToLevelName string     `json:"to_level_name"`
	ChangedOn   civil.Date `json:"changed_on"`
	Corrects    uuid.UUID  `json:"corrects"`
	RecordTime  time.Time  `json:"record_time"`
}
