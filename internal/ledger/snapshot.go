package ledger

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

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

// ReadSnapshot decodes an invoice snapshot into inv, as json.Unmarshal
// into a zero Invoice would. Recomputing summary profiles decodes every
// revision of each corrected invoice, and by reflection that was a seventh
// of the server's CPU in a sync of corrections. Snapshots in the form
// AppendSnapshot writes are read by hand; anything else (escapes, keys of
// another version, extra spaces) goes to encoding/json, which also gives
// the error for input that is not a snapshot.
func ReadSnapshot(b []byte, inv *Invoice) error {
	*inv = Invoice{}
	if readSnapshot(b, inv) {
		return nil
	}
	*inv = Invoice{}
	return json.Unmarshal(b, inv)
}

// snapReader reads the compact JSON AppendSnapshot writes; ok turns false
// at the first byte it does not expect, and stays false.
type snapReader struct {
	b  []byte
	i  int
	ok bool
}

func (r *snapReader) byte(c byte) {
	if r.ok && r.i < len(r.b) && r.b[r.i] == c {
		r.i++
		return
	}
	r.ok = false
}

func (r *snapReader) literal(s string) bool {
	if r.ok && len(r.b)-r.i >= len(s) && string(r.b[r.i:r.i+len(s)]) == s {
		r.i += len(s)
		return true
	}
	return false
}

// str reads a string without escapes or control characters, in valid
// UTF-8 (encoding/json would replace what is not).
func (r *snapReader) str() []byte {
	r.byte('"')
	if !r.ok {
		return nil
	}
	start, ascii := r.i, true
	for r.i < len(r.b) {
		switch c := r.b[r.i]; {
		case c == '"':
			r.i++
			s := r.b[start : r.i-1]
			if !ascii && !utf8.Valid(s) {
				r.ok = false
			}
			return s
		case c == '\\' || c < 0x20:
			r.ok = false
			return nil
		case c >= 0x80:
			ascii = false
		}
		r.i++
	}
	r.ok = false
	return nil
}

func (r *snapReader) int() int64 {
	if !r.ok {
		return 0
	}
	neg := r.i < len(r.b) && r.b[r.i] == '-'
	if neg {
		r.i++
	}
	start := r.i
	var n uint64
	for r.i < len(r.b) && r.b[r.i] >= '0' && r.b[r.i] <= '9' {
		n = n*10 + uint64(r.b[r.i]-'0')
		r.i++
	}
	// At most 19 digits, no leading zero: what strconv writes for an int64.
	if digits := r.i - start; digits == 0 || digits > 19 || (digits > 1 && r.b[start] == '0') || n > 1<<63 || (!neg && n == 1<<63) {
		r.ok = false
		return 0
	}
	if neg {
		return -int64(n)
	}
	return int64(n)
}

func (r *snapReader) bool() bool {
	if r.literal("true") {
		return true
	}
	if !r.literal("false") {
		r.ok = false
	}
	return false
}

func (r *snapReader) date() civil.Date {
	if r.literal("null") {
		return civil.Date{}
	}
	s := r.str()
	if !r.ok {
		return civil.Date{}
	}
	d, err := civil.Parse(string(s))
	if err != nil {
		r.ok = false
	}
	return d
}

func (r *snapReader) uuid() uuid.UUID {
	s := r.str()
	if !r.ok {
		return uuid.UUID{}
	}
	id, err := uuid.ParseBytes(s)
	if err != nil || len(s) != 36 {
		r.ok = false
	}
	return id
}

func (r *snapReader) instant() time.Time {
	s := r.str()
	if !r.ok {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, string(s))
	// Only the text AppendSnapshot writes: time.Parse takes some forms
	// the stricter json.Unmarshal refuses.
	var buf [48]byte
	if err != nil || string(t.AppendFormat(buf[:0], time.RFC3339Nano)) != string(s) {
		r.ok = false
	}
	return t
}

// next reads the comma before the next key, and the key.
func (r *snapReader) next(name string) {
	r.byte(',')
	r.key(name)
}

func (r *snapReader) key(name string) {
	r.byte('"')
	if !r.literal(name) {
		r.ok = false
	}
	r.byte('"')
	r.byte(':')
}

// readSnapshot reads the snapshot's fields in AppendSnapshot's order. The
// two fields added after the first release (contested, corrected_on) may
// be missing, as in snapshots written before them.
func readSnapshot(b []byte, inv *Invoice) bool {
	r := &snapReader{b: b, ok: true}
	r.byte('{')
	r.key("id")
	inv.ID = r.uuid()
	r.next("debtor_id")
	inv.DebtorID = r.uuid()
	r.next("creditor_id")
	inv.CreditorID = r.uuid()
	r.next("document_ref")
	inv.DocumentRef = string(r.str())
	r.next("contract_ref")
	inv.ContractRef = string(r.str())
	r.next("amount")
	r.byte('{')
	r.key("minor")
	inv.Amount.Minor = r.int()
	r.next("currency")
	inv.Amount.Currency = string(r.str())
	r.byte('}')
	for _, f := range [...]struct {
		name string
		d    *civil.Date
	}{{"contract_signed_on", &inv.ContractSignedOn}, {"issued_on", &inv.IssuedOn}, {"received_on", &inv.ReceivedOn}, {"delivered_on", &inv.DeliveredOn}} {
		r.next(f.name)
		*f.d = r.date()
	}
	r.next("acceptance_required")
	inv.AcceptanceRequired = r.bool()
	r.next("acceptance_period_days")
	inv.AcceptancePeriodDays = r.smallInt()
	r.next("acceptance_passed_on")
	inv.AcceptancePassedOn = r.date()
	r.next("settlement_confirmed_on")
	inv.SettlementConfirmedOn = r.date()
	r.next("agreed_term_days")
	inv.AgreedTermDays = r.smallInt()
	r.next("agreed_due_date")
	inv.AgreedDueDate = r.date()
	r.next("agreed_rate")
	if !r.literal("null") {
		rate := &Rate{}
		r.byte('{')
		r.key("percent")
		rate.Percent = string(r.str())
		r.next("per_day")
		rate.PerDay = r.bool()
		r.byte('}')
		inv.AgreedRate = rate
	}
	r.next("creditor_size_at_signing")
	inv.CreditorSizeAtSigning = SizeClass(r.str())
	r.next("status")
	inv.Status = InvoiceStatus(r.str())
	r.next("due_date")
	inv.DueDate = r.date()
	r.next("credited")
	inv.Credited = r.int()
	r.next("paid")
	inv.Paid = r.int()
	r.next("disputed")
	inv.Disputed = r.int()
	r.byte(',')
	if r.literal(`"contested":`) {
		inv.Contested = r.smallInt()
		r.byte(',')
	}
	if r.literal(`"corrected_on":`) {
		inv.CorrectedOn = r.date()
		r.byte(',')
	}
	r.key("policy_id")
	inv.PolicyID = string(r.str())
	r.next("policy_version")
	inv.PolicyVersion = r.smallInt()
	r.next("policy_reason")
	inv.PolicyReason = string(r.str())
	r.next("cancelled_on")
	inv.CancelledOn = r.date()
	r.next("cancel_reason")
	inv.CancelReason = string(r.str())
	r.next("version")
	inv.Version = r.int()
	r.next("create_time")
	inv.CreateTime = r.instant()
	r.next("update_time")
	inv.UpdateTime = r.instant()
	r.byte('}')
	return r.ok && r.i == len(b)
}

// smallInt is int for a Go int field.
func (r *snapReader) smallInt() int {
	n := r.int()
	if int64(int(n)) != n {
		r.ok = false
	}
	return int(n)
}
