package ledger

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/jsonenc"
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
	b = append(b, '{')
	for i, f := range snapshotFields {
		key := f.key
		if i == 0 {
			key = key[1:] // no comma before the first
		}
		b = f.put(append(b, key...), inv)
	}
	return append(b, '}'), nil
}

// snapField is one member of an invoice snapshot: its key as written after
// the member before it (`,"name":`), and how AppendSnapshot writes and
// readSnapshot reads its value. optional members may be missing, as in
// snapshots written before they existed.
type snapField struct {
	key      string
	optional bool
	put      func(b []byte, inv *Invoice) []byte
	get      func(r *snapReader, inv *Invoice)
}

// snapshotFields are an invoice snapshot's members in the order
// json.Marshal writes them (Invoice's), the one list both directions use.
var snapshotFields = []snapField{
	uuidField("id", func(inv *Invoice) *uuid.UUID { return &inv.ID }),
	uuidField("debtor_id", func(inv *Invoice) *uuid.UUID { return &inv.DebtorID }),
	uuidField("creditor_id", func(inv *Invoice) *uuid.UUID { return &inv.CreditorID }),
	stringField("document_ref", func(inv *Invoice) *string { return &inv.DocumentRef }),
	stringField("contract_ref", func(inv *Invoice) *string { return &inv.ContractRef }),
	{key: `,"amount":`, put: func(b []byte, inv *Invoice) []byte {
		b = strconv.AppendInt(append(b, `{"minor":`...), inv.Amount.Minor, 10)
		return append(jsonenc.AppendString(append(b, `,"currency":`...), inv.Amount.Currency), '}')
	}, get: func(r *snapReader, inv *Invoice) {
		r.byte('{')
		r.key(`"minor":`)
		inv.Amount.Minor = r.int()
		r.key(`,"currency":`)
		inv.Amount.Currency = string(r.str())
		r.byte('}')
	}},
	dateField("contract_signed_on", func(inv *Invoice) *civil.Date { return &inv.ContractSignedOn }),
	dateField("issued_on", func(inv *Invoice) *civil.Date { return &inv.IssuedOn }),
	dateField("received_on", func(inv *Invoice) *civil.Date { return &inv.ReceivedOn }),
	dateField("delivered_on", func(inv *Invoice) *civil.Date { return &inv.DeliveredOn }),
	boolField("acceptance_required", func(inv *Invoice) *bool { return &inv.AcceptanceRequired }),
	intField("acceptance_period_days", func(inv *Invoice) *int { return &inv.AcceptancePeriodDays }),
	dateField("acceptance_passed_on", func(inv *Invoice) *civil.Date { return &inv.AcceptancePassedOn }),
	dateField("settlement_confirmed_on", func(inv *Invoice) *civil.Date { return &inv.SettlementConfirmedOn }),
	intField("agreed_term_days", func(inv *Invoice) *int { return &inv.AgreedTermDays }),
	dateField("agreed_due_date", func(inv *Invoice) *civil.Date { return &inv.AgreedDueDate }),
	{key: `,"agreed_rate":`, put: func(b []byte, inv *Invoice) []byte {
		r := inv.AgreedRate
		if r == nil {
			return append(b, "null"...)
		}
		b = jsonenc.AppendString(append(b, `{"percent":`...), r.Percent)
		return append(strconv.AppendBool(append(b, `,"per_day":`...), r.PerDay), '}')
	}, get: func(r *snapReader, inv *Invoice) {
		if r.literal("null") {
			return
		}
		rate := &Rate{}
		r.byte('{')
		r.key(`"percent":`)
		rate.Percent = string(r.str())
		r.key(`,"per_day":`)
		rate.PerDay = r.bool()
		r.byte('}')
		inv.AgreedRate = rate
	}},
	stringField("creditor_size_at_signing", func(inv *Invoice) *SizeClass { return &inv.CreditorSizeAtSigning }),
	stringField("status", func(inv *Invoice) *InvoiceStatus { return &inv.Status }),
	dateField("due_date", func(inv *Invoice) *civil.Date { return &inv.DueDate }),
	intField("credited", func(inv *Invoice) *int64 { return &inv.Credited }),
	intField("paid", func(inv *Invoice) *int64 { return &inv.Paid }),
	intField("disputed", func(inv *Invoice) *int64 { return &inv.Disputed }),
	optional(intField("contested", func(inv *Invoice) *int { return &inv.Contested })),
	optional(dateField("corrected_on", func(inv *Invoice) *civil.Date { return &inv.CorrectedOn })),
	stringField("policy_id", func(inv *Invoice) *string { return &inv.PolicyID }),
	intField("policy_version", func(inv *Invoice) *int { return &inv.PolicyVersion }),
	stringField("policy_reason", func(inv *Invoice) *string { return &inv.PolicyReason }),
	dateField("cancelled_on", func(inv *Invoice) *civil.Date { return &inv.CancelledOn }),
	stringField("cancel_reason", func(inv *Invoice) *string { return &inv.CancelReason }),
	intField("version", func(inv *Invoice) *int64 { return &inv.Version }),
	timeField("create_time", func(inv *Invoice) *time.Time { return &inv.CreateTime }),
	timeField("update_time", func(inv *Invoice) *time.Time { return &inv.UpdateTime }),
}

func key(name string) string { return `,"` + name + `":` }

func optional(f snapField) snapField {
	f.optional = true
	return f
}

func uuidField(name string, at func(*Invoice) *uuid.UUID) snapField {
	return snapField{key: key(name), put: func(b []byte, inv *Invoice) []byte { return appendUUID(b, *at(inv)) },
		get: func(r *snapReader, inv *Invoice) { *at(inv) = r.uuid() }}
}

func stringField[T ~string](name string, at func(*Invoice) *T) snapField {
	return snapField{key: key(name), put: func(b []byte, inv *Invoice) []byte { return jsonenc.AppendString(b, string(*at(inv))) },
		get: func(r *snapReader, inv *Invoice) { *at(inv) = T(r.str()) }}
}

func dateField(name string, at func(*Invoice) *civil.Date) snapField {
	return snapField{key: key(name), put: func(b []byte, inv *Invoice) []byte { return at(inv).AppendJSON(b) },
		get: func(r *snapReader, inv *Invoice) { *at(inv) = r.date() }}
}

func boolField(name string, at func(*Invoice) *bool) snapField {
	return snapField{key: key(name), put: func(b []byte, inv *Invoice) []byte { return strconv.AppendBool(b, *at(inv)) },
		get: func(r *snapReader, inv *Invoice) { *at(inv) = r.bool() }}
}

// intField is an int or int64 member; a value that does not fit the
// field's type is not read by hand (json.Unmarshal refuses it).
func intField[T int | int64](name string, at func(*Invoice) *T) snapField {
	return snapField{key: key(name), put: func(b []byte, inv *Invoice) []byte { return strconv.AppendInt(b, int64(*at(inv)), 10) },
		get: func(r *snapReader, inv *Invoice) {
			n := r.int()
			if int64(T(n)) != n {
				r.ok = false
			}
			*at(inv) = T(n)
		}}
}

// timeField is an instant, as time.Time.MarshalJSON writes it (AppendSnapshot
// has already sent the years it refuses to encoding/json).
func timeField(name string, at func(*Invoice) *time.Time) snapField {
	return snapField{key: key(name), put: func(b []byte, inv *Invoice) []byte {
		return append(at(inv).AppendFormat(append(b, '"'), time.RFC3339Nano), '"')
	}, get: func(r *snapReader, inv *Invoice) { *at(inv) = r.instant() }}
}

// Snapshot is AppendSnapshot into a new slice, sized for a synced
// invoice's snapshot (about 1.2 KB) so that it is not grown on the way.
func (inv *Invoice) Snapshot() ([]byte, error) { return inv.AppendSnapshot(make([]byte, 0, 2048)) }

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

// key reads a member's key as written (with its comma, if any).
func (r *snapReader) key(k string) {
	if !r.literal(k) {
		r.ok = false
	}
}

// readSnapshot reads the members of snapshotFields in their order; an
// optional one may be missing.
func readSnapshot(b []byte, inv *Invoice) bool {
	r := &snapReader{b: b, ok: true}
	r.byte('{')
	for i, f := range snapshotFields {
		k := f.key
		if i == 0 {
			k = k[1:]
		}
		if f.optional && !r.literal(k) {
			continue
		}
		if !f.optional {
			r.key(k)
		}
		f.get(r, inv)
	}
	r.byte('}')
	return r.ok && r.i == len(b)
}
