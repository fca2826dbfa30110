package audit

import (
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
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
