package ledger

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/civil"
)

// AppendSnapshot appends the invoice's snapshot, the bytes json.Marshal
// writes for it, to b. Revisions and audit events keep snapshots, and a bulk
// sync writes one for every invoice it creates or corrects: by reflection
// that was a tenth of the server's CPU. The output is byte for byte
// json.Marshal's (a randomized test compares them); what this does not
// write by hand (a string needing escapes, a time json.Marshal refuses) it
// hands to encoding/json.
func (inv *Invoice) AppendSnapshot(b []byte) ([]byte, error) {
	for _, t := range [...]time.Time{inv.CreateTime, inv.UpdateTime} {
		if y := t.Year(); y < 0 || y > 9999 {
			// json.Marshal's error, not a snapshot of our own.
			out, err := json.Marshal(inv)
			return append(b, out...), err
		}
	}
	b = append(b, `{"id":`...)
	b = appendUUID(b, inv.ID)
	b = append(b, `,"debtor_id":`...)
	b = appendUUID(b, inv.DebtorID)
	b = append(b, `,"creditor_id":`...)
	b = appendUUID(b, inv.CreditorID)
	b = append(b, `,"document_ref":`...)
	b = appendString(b, inv.DocumentRef)
	b = append(b, `,"contract_ref":`...)
	b = appendString(b, inv.ContractRef)
	b = append(b, `,"amount":{"minor":`...)
	b = strconv.AppendInt(b, inv.Amount.Minor, 10)
	b = append(b, `,"currency":`...)
	b = appendString(b, inv.Amount.Currency)
	b = append(b, `},"contract_signed_on":`...)
	b = appendDate(b, inv.ContractSignedOn)
	b = append(b, `,"issued_on":`...)
	b = appendDate(b, inv.IssuedOn)
	b = append(b, `,"received_on":`...)
	b = appendDate(b, inv.ReceivedOn)
	b = append(b, `,"delivered_on":`...)
	b = appendDate(b, inv.DeliveredOn)
	b = append(b, `,"acceptance_required":`...)
	b = strconv.AppendBool(b, inv.AcceptanceRequired)
	b = append(b, `,"acceptance_period_days":`...)
	b = strconv.AppendInt(b, int64(inv.AcceptancePeriodDays), 10)
	b = append(b, `,"acceptance_passed_on":`...)
	b = appendDate(b, inv.AcceptancePassedOn)
	b = append(b, `,"settlement_confirmed_on":`...)
	b = appendDate(b, inv.SettlementConfirmedOn)
	b = append(b, `,"agreed_term_days":`...)
	b = strconv.AppendInt(b, int64(inv.AgreedTermDays), 10)
	b = append(b, `,"agreed_due_date":`...)
	b = appendDate(b, inv.AgreedDueDate)
	b = append(b, `,"agreed_rate":`...)
	if r := inv.AgreedRate; r == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"percent":`...)
		b = appendString(b, r.Percent)
		b = append(b, `,"per_day":`...)
		b = strconv.AppendBool(b, r.PerDay)
		b = append(b, '}')
	}
	b = append(b, `,"creditor_size_at_signing":`...)
	b = appendString(b, string(inv.CreditorSizeAtSigning))
	b = append(b, `,"status":`...)
	b = appendString(b, string(inv.Status))
	b = append(b, `,"due_date":`...)
	b = appendDate(b, inv.DueDate)
	b = append(b, `,"credited":`...)
	b = strconv.AppendInt(b, inv.Credited, 10)
	b = append(b, `,"paid":`...)
	b = strconv.AppendInt(b, inv.Paid, 10)
	b = append(b, `,"disputed":`...)
	b = strconv.AppendInt(b, inv.Disputed, 10)
	b = append(b, `,"contested":`...)
	b = strconv.AppendInt(b, int64(inv.Contested), 10)
	b = append(b, `,"corrected_on":`...)
	b = appendDate(b, inv.CorrectedOn)
	b = append(b, `,"policy_id":`...)
	b = appendString(b, inv.PolicyID)
	b = append(b, `,"policy_version":`...)
	b = strconv.AppendInt(b, int64(inv.PolicyVersion), 10)
	b = append(b, `,"policy_reason":`...)
	b = appendString(b, inv.PolicyReason)
	b = append(b, `,"cancelled_on":`...)
	b = appendDate(b, inv.CancelledOn)
	b = append(b, `,"cancel_reason":`...)
	b = appendString(b, inv.CancelReason)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, inv.Version, 10)
	b = append(b, `,"create_time":"`...)
	b = inv.CreateTime.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","update_time":"`...)
	b = inv.UpdateTime.AppendFormat(b, time.RFC3339Nano)
	return append(b, `"}`...), nil
}

// Snapshot is AppendSnapshot into a new slice.
func (inv *Invoice) Snapshot() ([]byte, error) { return inv.AppendSnapshot(make([]byte, 0, 1024)) }

// appendUUID writes id as its quoted canonical text, without the
// allocation of id.String.
func appendUUID(b []byte, id uuid.UUID) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i, c := range id {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hex[c>>4], hex[c&0xf])
	}
	return append(b, '"')
}

func appendDate(b []byte, d civil.Date) []byte {
	if d.IsZero() {
		return append(b, "null"...)
	}
	return appendString(b, d.String())
}

// appendString writes s as encoding/json does. Printable ASCII other than
// the quote, the backslash and the three characters json.Marshal escapes
// for HTML is copied as is; anything else goes through encoding/json.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			out, _ := json.Marshal(s) // a string always marshals
			return append(b, out...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
