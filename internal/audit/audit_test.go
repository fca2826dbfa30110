package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/civil"
)

func chain(n int) []*Event {
	c := uuid.Must(uuid.NewV7())
	var prev *Head
	var out []*Event
	for i := 0; i < n; i++ {
		e := &Event{Chain: c, EventID: uuid.Must(uuid.NewV7()), RecordTime: time.Unix(int64(i), 0), Actor: "ADMIN:x",
			Method: "M", ResourceType: "invoice", ResourceID: c, Revision: int64(i + 1), Changes: "{}"}
		e.Seal(prev)
		prev = &Head{Chain: c, Seq: e.Seq, Hash: e.Hash}
		out = append(out, e)
	}
	return out
}

func verify(evs []*Event) []string {
	v := &ChainVerifier{Chain: evs[0].Chain}
	for _, e := range evs {
		v.Add(e)
	}
	return v.Problems
}

func TestChainDetectsEveryKindOfTampering(t *testing.T) {
	if p := verify(chain(4)); len(p) != 0 {
		t.Fatalf("intact chain: %v", p)
	}
	for _, tc := range []struct {
		desc   string
		tamper func([]*Event) []*Event
		want   string
	}{
		{"field changed", func(e []*Event) []*Event { e[1].Actor = "ADMIN:y"; return e }, "altered"},
		{"middle deleted", func(e []*Event) []*Event { return append(e[:1], e[2:]...) }, "missing"},
		{"reordered", func(e []*Event) []*Event { e[1], e[2] = e[2], e[1]; return e }, "missing"},
		{"relinked", func(e []*Event) []*Event { e[2].PrevHash = strings.Repeat("0", 64); return e }, "does not link"},
	} {
		if p := verify(tc.tamper(chain(4))); len(p) == 0 || !strings.Contains(strings.Join(p, "\n"), tc.want) {
			t.Errorf("%s: problems %v, want one containing %q", tc.desc, p, tc.want)
		}
	}
}

func TestCheckpointSignature(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	evs := chain(3)
	heads := []Head{{Chain: evs[2].Chain, Seq: 3, Hash: evs[2].Hash}}
	cp := Sign(priv, uuid.Must(uuid.NewV7()), time.Unix(100, 0), heads)
	if err := cp.Verify(pub); err != nil {
		t.Fatalf("fresh checkpoint: %v", err)
	}
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	if err := cp.Verify(other); err == nil {
		t.Error("checkpoint verified under another key")
	}
	forged := cp
	forged.Heads = []Head{{Chain: heads[0].Chain, Seq: 3, Hash: strings.Repeat("f", 64)}}
	if err := forged.Verify(pub); err == nil {
		t.Error("checkpoint with replaced heads verified")
	}
	if cp.EventCount != 3 || cp.ChainCount != 1 {
		t.Errorf("counts = %d events, %d chains", cp.EventCount, cp.ChainCount)
	}
}

func TestDiff(t *testing.T) {
	got, err := Diff([]byte(`{"a":1,"b":"x","c":true}`), []byte(`{"a":2,"b":"x","d":null}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a":[1,2],"c":[true,null]}`; got != want {
		t.Errorf("Diff = %s, want %s", got, want)
	}
	created, _ := Diff(nil, []byte(`{"a":1}`))
	if created != `{"a":1}` {
		t.Errorf("Diff(creation) = %s, want the created object", created)
	}
}

// TestDiffMatchesDecodedDiff: the scanning Diff gives, byte for byte, what
// decoding both objects gives, on random snapshots as json.Marshal writes
// them (nested values, escapes, HTML characters, unicode, removed and added
// members), and falls back to decoding for text it does not take apart.
func TestDiffMatchesDecodedDiff(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(7, 11))
	strs := []string{"", "a", `quo"te`, `back\slash`, "<tag>&amp;", "línea\nnueva", "\u2028", "日本", "}", "],[", ":"}
	var value func(depth int) any
	value = func(depth int) any {
		switch rng.IntN(8) {
		case 0:
			return nil
		case 1:
			return rng.IntN(2) == 0
		case 2:
			return rng.Int64N(1<<53) - 1<<52
		case 3:
			return rng.Float64() * 1e6
		case 4, 5:
			return strs[rng.IntN(len(strs))]
		case 6:
			if depth > 2 {
				return "leaf"
			}
			xs := make([]any, rng.IntN(4))
			for i := range xs {
				xs[i] = value(depth + 1)
			}
			return xs
		default:
			if depth > 2 {
				return 1
			}
			m := map[string]any{}
			for i := rng.IntN(4); i > 0; i-- {
				m[strs[rng.IntN(len(strs))]] = value(depth + 1)
			}
			return m
		}
	}
	keys := []string{"id", "amount", "due_date", "notes", "a", "b", "z_last", "nested", "list"}
	for n := 0; n < 3000; n++ {
		a := map[string]any{}
		for _, k := range keys {
			if rng.IntN(4) > 0 {
				a[k] = value(0)
			}
		}
		b := map[string]any{}
		for k, v := range a {
			switch rng.IntN(5) {
			case 0: // removed
			case 1:
				b[k] = value(0)
			default:
				b[k] = v
			}
		}
		if rng.IntN(3) == 0 {
			b[keys[rng.IntN(len(keys))]] = value(0)
		}
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		got, err := Diff(ja, jb)
		want, werr := diffDecoded(ja, jb)
		if err != nil || werr != nil || got != want {
			t.Fatalf("Diff(%s, %s)\n got %s (%v)\nwant %s (%v)", ja, jb, got, err, want, werr)
		}
	}
	for _, odd := range [][2]string{
		{`{ "a": 1 }`, `{"a":2}`},
		{`{"a\u0062":1}`, `{"ab":2}`},
		{`{"a":1,"a":2}`, `{"a":3}`},
		{`{}`, `{"a":[1,{"b":"}"}]}`},
	} {
		got, err := Diff([]byte(odd[0]), []byte(odd[1]))
		want, werr := diffDecoded([]byte(odd[0]), []byte(odd[1]))
		if got != want || (err == nil) != (werr == nil) {
			t.Errorf("Diff(%s, %s) = %s, %v; decoded %s, %v", odd[0], odd[1], got, err, want, werr)
		}
	}
	if _, err := Diff([]byte(`{"a":1`), []byte(`{"a":2}`)); err == nil {
		t.Error("Diff of a truncated object: no error")
	}
}

// TestHashCoversTheCanonicalForm pins what an event's hash covers, since
// stored chains are verified against it: the SHA-256 of every field in a
// fixed order, each as its length, a colon, its bytes and a semicolon.
func TestHashCoversTheCanonicalForm(t *testing.T) {
	e := &Event{Chain: uuid.MustParse("0190f3a2-7b1c-7000-8000-000000000001"), Seq: 42,
		EventID: uuid.MustParse("0190f3a2-7b1c-7000-8000-000000000002"), Debtor: uuid.MustParse("0190f3a2-7b1c-7000-8000-000000000003"),
		Creditor:   uuid.MustParse("0190f3a2-7b1c-7000-8000-000000000005"),
		RecordTime: time.Date(2026, 11, 27, 21, 0, 0, 123456000, time.FixedZone("CST", 8*3600)), Actor: "API_KEY:k1",
		Method: "SyncPayables", ResourceType: "invoice", ResourceID: uuid.MustParse("0190f3a2-7b1c-7000-8000-000000000004"),
		Revision: 3, SnapshotDigest: "ab12", Changes: `{"amount":{"from":1,"to":2}};:é`, PrevHash: "cd34"}
	var b strings.Builder
	for _, f := range []string{e.Chain.String(), "42", e.EventID.String(), e.Debtor.String(), e.Creditor.String(),
		"2026-11-27T13:00:00.123456Z", "API_KEY:k1", "SyncPayables", "invoice", e.ResourceID.String(), "3", "ab12", e.Changes, "cd34"} {
		fmt.Fprintf(&b, "%d:%s;", len(f), f)
	}
	sum := sha256.Sum256([]byte(b.String()))
	if got, want := e.ComputeHash(), hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("ComputeHash = %s, want %s, the hash of\n%s", got, want, b.String())
	}
	// An effective date, where the event has one, comes last; without
	// one the form is as above, as events before it was covered hashed.
	e.EffectiveOn = civil.MustNew(2026, 3, 1)
	b.WriteString("10:2026-03-01;")
	sum = sha256.Sum256([]byte(b.String()))
	if got, want := e.ComputeHash(), hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("with an effective date: ComputeHash = %s, want %s, the hash of\n%s", got, want, b.String())
	}
}

// TestEventIDAt: ids are version 7 UUIDs ordered by their time's
// millisecond, then by their place in a transaction, and EventIDFloor
// bounds each millisecond from below.
func TestEventIDAt(t *testing.T) {
	t0 := time.Date(2025, 7, 1, 8, 0, 0, 0, time.UTC)
	prev := EventIDFloor(t0)
	for i := range 1000 {
		at := t0.Add(time.Duration(i) * 1700 * time.Microsecond)
		id := EventIDAt(at, i)
		if id.Version() != 7 || id.Variant() != uuid.RFC4122 {
			t.Fatalf("id %s: version %d, variant %v", id, id.Version(), id.Variant())
		}
		if sec, nsec := id.Time().UnixTime(); time.Unix(sec, nsec).UnixMilli() != at.UnixMilli() {
			t.Fatalf("id %s carries %v, want %v's millisecond", id, time.Unix(sec, nsec), at)
		}
		floor, next := EventIDFloor(at), EventIDFloor(at.Add(time.Millisecond))
		if bytes.Compare(floor[:], id[:]) > 0 || bytes.Compare(id[:], next[:]) >= 0 || bytes.Compare(prev[:], floor[:]) > 0 {
			t.Fatalf("id %s not within [%s, %s) or floors out of order", id, floor, next)
		}
		prev = floor
	}
}

// TestEventIDAtKeepsTransactionOrder: events of one transaction, all of one
// record time, sort in the order they were made, past the 12 bits of rand_a.
func TestEventIDAtKeepsTransactionOrder(t *testing.T) {
	at := time.Date(2025, 7, 1, 8, 0, 0, 0, time.UTC)
	prev := EventIDAt(at, 0)
	for n := 1; n < 20000; n++ {
		id := EventIDAt(at, n)
		if bytes.Compare(prev[:], id[:]) >= 0 || id.Version() != 7 || id.Variant() != uuid.RFC4122 {
			t.Fatalf("event %d: id %s does not follow %s", n, id, prev)
		}
		prev = id
	}
}

// TestEventIDAfterFollowsItsChain: an id that already sorts after the
// chain's newest stands; one that does not becomes the next id after it,
// carrying from the random bits into the counter and on into the
// millisecond, a version 7 RFC 4122 id each time.
func TestEventIDAfterFollowsItsChain(t *testing.T) {
	at := time.Date(2025, 7, 1, 8, 0, 0, 0, time.UTC)
	early, late := EventIDAt(at, 0), EventIDAt(at, 1)
	if got := EventIDAfter(late, early); got != late {
		t.Errorf("an id after the chain's newest: %s, want it unchanged %s", got, late)
	}
	if got := EventIDAfter(early, uuid.Nil); got != early {
		t.Errorf("the first id of a chain: %s, want %s", got, early)
	}
	// A chain's newest id an hour ahead is a clock's fault, not followed.
	if ahead := EventIDAt(at.Add(time.Hour), 0); EventIDAfter(early, ahead) != early {
		t.Errorf("after an id an hour ahead: %s, want %s unchanged", EventIDAfter(early, ahead), early)
	}
	near := EventIDAt(at.Add(500*time.Millisecond), 0)
	if got := EventIDAfter(early, near); bytes.Compare(got[:], near[:]) <= 0 {
		t.Errorf("after an id half a second ahead: %s does not follow %s", got, near)
	}
	withTail := func(id uuid.UUID, tail byte) uuid.UUID {
		for i := 10; i < 16; i++ {
			id[i] = tail
		}
		return id
	}
	maxCounter := EventIDAt(at, 1<<26-1)
	for _, c := range []struct {
		desc        string
		prev        uuid.UUID
		wantCounter bool // carried into the counter
		wantMilli   bool // carried into the millisecond
	}{
		{"the random bits", withTail(late, 0x00), false, false},
		{"the random bits all ones", withTail(late, 0xff), true, false},
		{"random bits and counter all ones", withTail(maxCounter, 0xff), true, true},
	} {
		got := EventIDAfter(early, c.prev)
		if bytes.Compare(got[:], c.prev[:]) <= 0 || got.Version() != 7 || got.Variant() != uuid.RFC4122 {
			t.Errorf("%s: %s does not follow %s as a version 7 id", c.desc, got, c.prev)
		}
		sameCounter := bytes.Equal(got[6:10], c.prev[6:10])
		if sameCounter == c.wantCounter && !c.wantMilli {
			t.Errorf("%s: %s from %s: counter carried %v, want %v", c.desc, got, c.prev, !sameCounter, c.wantCounter)
		}
		if milli := !bytes.Equal(got[:6], c.prev[:6]); milli != c.wantMilli {
			t.Errorf("%s: %s from %s: millisecond carried %v, want %v", c.desc, got, c.prev, milli, c.wantMilli)
		}
	}
}
