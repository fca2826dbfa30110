// Package audit is the tamper-evident trail of every change. Events are
// hash-chained per debtor (each event's hash covers the previous one's), so
// chains spread across a distributed database like the rest of the data and
// no single row is hot. A checkpoint signs the heads of all chains with a key
// held outside the database: someone who can write to the database can
// change, delete or recompute events, but not without a chain or a
// checkpoint failing verification.
//
// The package is pure: hashing, diffing, signing and verifying. The store
// appends events; `arrearsd audit verify` reads them back.
package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/civil"
)

// SystemChain holds events that belong to no debtor (API keys).
var SystemChain = uuid.Nil

// Event is one change.
type Event struct {
	Chain          uuid.UUID // the debtor (or the party itself, or SystemChain)
	Seq            int64     // 1, 2, ... within the chain
	EventID        uuid.UUID // ordered by RecordTime (EventIDAt); the change feed's cursor
	Debtor         uuid.UUID // for scoping; Nil when none
	Creditor       uuid.UUID
	RecordTime     time.Time
	Actor          string
	Method         string
	ResourceType   string
	ResourceID     uuid.UUID
	Revision       int64
	SnapshotDigest string // SHA-256 of the revision's snapshot: revisions are covered too
	Changes        string // JSON {"field": [old, new]}, the record itself for a creation, or InRevision
	// EffectiveOn is the business date the revision it records takes
	// effect, which decides which correction counts on a past date; zero
	// for a change with no revision, and in events written before 28
	// November 2026 (their hash left it out).
	EffectiveOn civil.Date
	PrevHash    string
	Hash        string
}

// EventIDAt is a new event id ordered by the event's record time, then by
// n, its place among the events of its transaction: a version 7 UUID whose
// timestamp is t's millisecond, whose next 26 bits (the 12 of rand_a, and 14
// after the variant) hold n (a counter, as RFC 9562 allows), and whose last
// 48 bits are random, to tell transactions of one millisecond apart. The
// change feed pages by id and hides what is younger than a settling delay;
// were ids stamped when the event is made, late in a transaction whose
// record time was read at its start, a slow transaction's event could sort
// after a later one still hidden, and the cursor would pass that one for
// good. With ids from record times, hiding and paging use one order, and a
// transaction's events keep the order they were made in.
func EventIDAt(t time.Time, n int) uuid.UUID {
	id := EventIDFloor(t)
	if _, err := rand.Read(id[10:]); err != nil {
		panic(fmt.Sprintf("audit: event id: %v", err)) // crypto/rand does not fail
	}
	c := uint32(n) & (1<<26 - 1)
	id[6] = 0x70 | byte(c>>22)     // version 7, then the counter's top 4 bits
	id[7] = byte(c >> 14)          // its next 8
	id[8] = 0x80 | byte(c>>8)&0x3f // the RFC 4122 variant, then 6 more
	id[9] = byte(c)                // its last 8
	return id
}

// EventIDAfter is id, or if that does not sort after prev (the newest
// event id of the same chain; uuid.Nil for none) the next id after prev.
//
// Ids order by the millisecond of their record time and then by their
// place in their transaction, so two transactions of one chain in the same
// millisecond (two quick changes of one invoice; or a replica whose clock
// lags, whose record time is pinned to the record's last change) had the
// later one's first event sort before the earlier one's second: a feed
// reader saw an invoice's revision 3 before its revision 2. The chain's
// sequence is commit order; ids kept increasing along it keep the feed in
// that order. Such an id may be later than its record time, never
// earlier, so it is hidden no sooner by the feed's settling delay.
//
// A chain's newest id more than maxCarry ahead of id is a clock gone wrong
// (a replica's running fast, or one stepped back), not a transaction of the
// same moment: followed, every later event of the chain (a whole debtor's)
// would carry that future time, and the feed hide them all until it
// passed. id stands then, out of order only against that one.
func EventIDAfter(id, prev uuid.UUID) uuid.UUID {
	if bytes.Compare(id[:], prev[:]) > 0 || idMilli(prev) > idMilli(id)+maxCarry.Milliseconds() {
		return id
	}
	next := prev
	// Add one to the 48 random bits; should they be all ones, to the
	// counter (26 bits, around the version and variant), and past that to
	// the millisecond.
	for i := 15; i >= 10; i-- {
		if next[i]++; next[i] != 0 {
			return next
		}
	}
	// The counter as EventIDAt lays it out, read back.
	c := int(next[6]&0x0f)<<22 | int(next[7])<<14 | int(next[8]&0x3f)<<8 | int(next[9])
	if c+1 < 1<<26 {
		return EventIDAt(time.UnixMilli(idMilli(next)), c+1)
	}
	return EventIDAt(time.UnixMilli(idMilli(next)+1), 0)
}

// maxCarry is how far ahead of an event's own time EventIDAfter follows its
// chain: beyond it, the chain's newest id is a clock's fault.
const maxCarry = time.Second

// idMilli is the millisecond an event id carries.
func idMilli(id uuid.UUID) int64 {
	return int64(uint64(id[0])<<40 | uint64(id[1])<<32 | uint64(id[2])<<24 | uint64(id[3])<<16 | uint64(id[4])<<8 | uint64(id[5]))
}

// EventIDFloor is the smallest event id EventIDAt gives at t's millisecond
// or later: ids below it were recorded before that millisecond.
func EventIDFloor(t time.Time) uuid.UUID {
	var id uuid.UUID
	ms := uint64(t.UnixMilli())
	for i := 5; i >= 0; i-- {
		id[i], ms = byte(ms), ms>>8
	}
	id[6], id[8] = 0x70, 0x80
	return id
}

// InRevision is the Changes stored for the creation of a record whose first
// revision holds the same snapshot: the snapshot is kept once, in the
// revision, and the change feed reads it from there. The event still covers
// it, through SnapshotDigest. A bulk sync creating invoices by the million
// otherwise stored each one's snapshot, a kilobyte, twice.
const InRevision = ""

// appendCanonical appends the byte string an event's hash covers: every
// field, in a fixed order, unambiguously separated (each length-prefixed,
// so no field can borrow another's bytes). ComputeHash builds it in a
// buffer on its stack and hashes it at once: writing the fields into the
// hash one by one made 42 small writes, each costing far more than its
// bytes, and was most of the hashing's cost in a bulk sync.
func (e *Event) appendCanonical(b []byte) []byte {
	var tmp [64]byte // each value before its length is known
	b = appendField(b, appendUUID(tmp[:0], e.Chain))
	b = appendField(b, strconv.AppendInt(tmp[:0], e.Seq, 10))
	b = appendField(b, appendUUID(tmp[:0], e.EventID))
	b = appendField(b, appendUUID(tmp[:0], e.Debtor))
	b = appendField(b, appendUUID(tmp[:0], e.Creditor))
	b = appendField(b, e.RecordTime.UTC().AppendFormat(tmp[:0], time.RFC3339Nano))
	b = appendStringField(b, e.Actor)
	b = appendStringField(b, e.Method)
	b = appendStringField(b, e.ResourceType)
	b = appendField(b, appendUUID(tmp[:0], e.ResourceID))
	b = appendField(b, strconv.AppendInt(tmp[:0], e.Revision, 10))
	b = appendStringField(b, e.SnapshotDigest)
	b = appendStringField(b, e.Changes)
	b = appendStringField(b, e.PrevHash)
	if !e.EffectiveOn.IsZero() {
		// Last, and only when set: an event without it hashes as events
		// did before it was covered.
		b = appendStringField(b, e.EffectiveOn.String())
	}
	return b
}

// appendField appends one length-prefixed field of the canonical form.
func appendField(b, v []byte) []byte {
	b = append(strconv.AppendInt(b, int64(len(v)), 10), ':')
	return append(append(b, v...), ';')
}

func appendStringField(b []byte, s string) []byte {
	b = append(strconv.AppendInt(b, int64(len(s)), 10), ':')
	return append(append(b, s...), ';')
}

// appendUUID appends u in its canonical text form, as uuid.UUID.String
// writes it, without the string.
func appendUUID(b []byte, u uuid.UUID) []byte {
	b = hex.AppendEncode(b, u[0:4])
	b = hex.AppendEncode(append(b, '-'), u[4:6])
	b = hex.AppendEncode(append(b, '-'), u[6:8])
	b = hex.AppendEncode(append(b, '-'), u[8:10])
	return hex.AppendEncode(append(b, '-'), u[10:16])
}

// ComputeHash is the event's chain hash (hex).
func (e *Event) ComputeHash() string {
	// Room for an event whose Changes is a small diff; a creation's whole
	// snapshot grows it onto the heap.
	var buf [1024]byte
	sum := sha256.Sum256(e.appendCanonical(buf[:0]))
	return hex.EncodeToString(sum[:])
}

// Seal sets PrevHash and Hash to follow the given head (nil for the first
// event of a chain).
func (e *Event) Seal(prev *Head) {
	e.Seq, e.PrevHash = 1, ""
	if prev != nil {
		e.Seq, e.PrevHash = prev.Seq+1, prev.Hash
	}
	e.Hash = e.ComputeHash()
}

// Digest is the SHA-256 (hex) of a revision snapshot.
func Digest(snapshot []byte) string {
	sum := sha256.Sum256(snapshot)
	return hex.EncodeToString(sum[:])
}

// Diff lists the top-level fields that differ between two JSON objects, as
// {"field": [old, new]}. A creation (nil old) is the new object itself: all
// of it is new, and the snapshot text is reused rather than rebuilt, which
// matters when a bulk sync creates records by the hundred thousand.
func Diff(old, new []byte) (string, error) {
	if old == nil {
		return string(new), nil
	}
	a, okA := topLevel(old)
	b, okB := topLevel(new)
	if !okA || !okB {
		return diffDecoded(old, new)
	}
	null := []byte("null")
	type change struct {
		key      string
		old, new []byte
	}
	var out []change
	for k, nv := range b {
		ov, ok := a[k]
		if !ok {
			ov = null
		}
		if !bytes.Equal(ov, nv) {
			out = append(out, change{k, ov, nv})
		}
	}
	for k, ov := range a {
		if _, ok := b[k]; !ok {
			out = append(out, change{k, ov, null})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	buf := []byte{'{'}
	for i, c := range out {
		if i > 0 {
			buf = append(buf, ',')
		}
		key, err := json.Marshal(c.key)
		if err != nil {
			return "", err
		}
		buf = append(buf, key...)
		buf = append(buf, ":["...)
		buf = append(append(append(buf, c.old...), ','), c.new...)
		buf = append(buf, ']')
	}
	return string(append(buf, '}')), nil
}

// diffDecoded is Diff through encoding/json, for objects topLevel does not
// take apart (whitespace, escaped keys, or not valid JSON at all).
func diffDecoded(old, new []byte) (string, error) {
	var a, b map[string]json.RawMessage
	if err := json.Unmarshal(old, &a); err != nil {
		return "", err
	}
	if err := json.Unmarshal(new, &b); err != nil {
		return "", err
	}
	out := map[string][2]json.RawMessage{}
	null := json.RawMessage("null")
	for k, nv := range b {
		ov, ok := a[k]
		if !ok {
			ov = null
		}
		if !bytes.Equal(ov, nv) {
			out[k] = [2]json.RawMessage{ov, nv}
		}
	}
	for k, ov := range a {
		if _, ok := b[k]; !ok {
			out[k] = [2]json.RawMessage{ov, null}
		}
	}
	// encoding/json sorts map keys, so the text is deterministic.
	enc, err := json.Marshal(out)
	return string(enc), err
}

// topLevel splits a compact JSON object, as json.Marshal writes snapshots,
// into its members' raw values without decoding them: Diff runs for every
// change a bulk sync makes. It declines (false) anything else: whitespace,
// keys with escapes, duplicate keys, or text that is not such an object.
func topLevel(doc []byte) (map[string][]byte, bool) {
	if len(doc) < 2 || doc[0] != '{' || doc[len(doc)-1] != '}' {
		return nil, false
	}
	out := make(map[string][]byte, 48)
	i := 1
	if doc[i] == '}' {
		return out, i == len(doc)-1
	}
	for {
		// "key":
		if doc[i] != '"' {
			return nil, false
		}
		j := i + 1
		for j < len(doc) && doc[j] != '"' {
			if doc[j] == '\\' || doc[j] < 0x20 {
				return nil, false
			}
			j++
		}
		if j+1 >= len(doc) || doc[j+1] != ':' {
			return nil, false
		}
		key := string(doc[i+1 : j])
		start := j + 2
		end, ok := valueEnd(doc, start)
		if !ok || end >= len(doc) {
			return nil, false
		}
		if _, dup := out[key]; dup {
			return nil, false
		}
		out[key] = doc[start:end]
		switch doc[end] {
		case ',':
			i = end + 1
		case '}':
			return out, end == len(doc)-1
		default:
			return nil, false
		}
	}
}

// valueEnd finds where the compact JSON value at doc[i] ends: the index
// of the ',' or '}' that follows it at the object's level.
func valueEnd(doc []byte, i int) (int, bool) {
	depth, inString, start := 0, false, i
	for ; i < len(doc); i++ {
		c := doc[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i, c == '}' && i > start
			}
			depth--
		case ',':
			if depth == 0 {
				return i, i > start
			}
		case ' ', '\t', '\n', '\r':
			return 0, false
		}
	}
	return 0, false
}

// Head is the last event of a chain.
type Head struct {
	Chain uuid.UUID `json:"chain"`
	Seq   int64     `json:"seq"`
	Hash  string    `json:"hash"`
}

// HeadsDigest hashes the heads in chain order.
func HeadsDigest(heads []Head) string {
	sorted := append([]Head(nil), heads...)
	sort.Slice(sorted, func(i, j int) bool { return bytes.Compare(sorted[i].Chain[:], sorted[j].Chain[:]) < 0 })
	h := sha256.New()
	for _, x := range sorted {
		fmt.Fprintf(h, "%s %d %s\n", x.Chain, x.Seq, x.Hash)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Checkpoint is a signed statement of every chain head at one moment.
type Checkpoint struct {
	ID          uuid.UUID
	CreateTime  time.Time
	ChainCount  int64
	EventCount  int64
	HeadsDigest string
	Heads       []Head
	Statement   string
	Signature   string // base64
	PublicKey   string // base64
}

// statement is the exact text signed.
func statement(t time.Time, chains, events int64, digest string) string {
	return fmt.Sprintf("arrears audit checkpoint v1\ntime %s\nchains %d\nevents %d\nheads %s\n",
		t.UTC().Format(time.RFC3339Nano), chains, events, digest)
}

// Sign makes a checkpoint over heads.
func Sign(key ed25519.PrivateKey, id uuid.UUID, now time.Time, heads []Head) Checkpoint {
	var events int64
	for _, h := range heads {
		events += h.Seq
	}
	digest := HeadsDigest(heads)
	st := statement(now, int64(len(heads)), events, digest)
	return Checkpoint{
		ID: id, CreateTime: now, ChainCount: int64(len(heads)), EventCount: events, HeadsDigest: digest, Heads: heads,
		Statement: st,
		Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(key, []byte(st))),
		PublicKey: base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey)),
	}
}

// Verify checks the checkpoint's own consistency and its signature by pub.
func (c *Checkpoint) Verify(pub ed25519.PublicKey) error {
	var events int64
	for _, h := range c.Heads {
		events += h.Seq
	}
	digest := HeadsDigest(c.Heads)
	if digest != c.HeadsDigest || events != c.EventCount || int64(len(c.Heads)) != c.ChainCount {
		return fmt.Errorf("checkpoint %s: its heads do not match its digest or counts", c.ID)
	}
	if st := statement(c.CreateTime, c.ChainCount, c.EventCount, c.HeadsDigest); st != c.Statement {
		return fmt.Errorf("checkpoint %s: statement does not match its fields", c.ID)
	}
	sig, err := base64.StdEncoding.DecodeString(c.Signature)
	if err != nil || !ed25519.Verify(pub, []byte(c.Statement), sig) {
		return fmt.Errorf("checkpoint %s: signature does not verify with the audit key", c.ID)
	}
	return nil
}

// ChainVerifier checks one chain's events, fed in sequence order.
type ChainVerifier struct {
	Chain    uuid.UUID
	last     *Head
	Problems []string
}

// Add checks the next event: contiguous sequence, link to the previous
// hash, and its own hash.
func (v *ChainVerifier) Add(e *Event) {
	want := int64(1)
	prev := ""
	if v.last != nil {
		want, prev = v.last.Seq+1, v.last.Hash
	}
	switch {
	case e.Seq != want:
		v.Problems = append(v.Problems, fmt.Sprintf("chain %s: event %d follows %d: events are missing", v.Chain, e.Seq, want-1))
	case e.PrevHash != prev:
		v.Problems = append(v.Problems, fmt.Sprintf("chain %s: event %d does not link to event %d", v.Chain, e.Seq, want-1))
	}
	if got := e.ComputeHash(); got != e.Hash {
		v.Problems = append(v.Problems, fmt.Sprintf("chain %s: event %d was altered (hash %.12s…, recomputed %.12s…)", v.Chain, e.Seq, e.Hash, got))
	}
	v.last = &Head{Chain: v.Chain, Seq: e.Seq, Hash: e.Hash}
}

// Head is the last event seen.
func (v *ChainVerifier) Head() *Head { return v.last }

// FormatProblems joins problems for a report.
func FormatProblems(ps []string) string { return strings.Join(ps, "\n") }
