package summary

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/arrears/arrears/internal/civil"
)

// TestAppendJSONIsMarshal compares AppendJSON with json.Marshal on random
// profiles: empty and nil ones, unset dates, zero and negative amounts, and
// keys with characters json.Marshal escapes.
func TestAppendJSONIsMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	words := []string{"", "CN", "EU", "350100", "ENTERPRISE", "CNY", "a\"b", `back\slash`, "<tag>", "A&B", "línea", "tab\t", "\u2028"}
	word := func() string {
		if r.IntN(4) == 0 {
			return words[r.IntN(len(words))]
		}
		return words[r.IntN(6)]
	}
	date := func() civil.Date {
		if r.IntN(5) == 0 {
			return civil.Date{}
		}
		return civil.MustNew(2000+r.IntN(30), time.Month(1+r.IntN(12)), 1+r.IntN(28))
	}
	amount := func() int64 {
		switch r.IntN(4) {
		case 0:
			return 0
		case 1:
			return -r.Int64N(1e12)
		}
		return r.Int64N(1e15)
	}
	for i := range 5000 {
		var p Profile
		if i%50 == 1 {
			p = Profile{}
		}
		for range r.IntN(5) {
			p = append(p, Segment{Key: Key{Debtor: word(), Jurisdiction: word(), Region: word(), Kind: word(), Currency: word()},
				From: date(), Due: date(), Outstanding: amount(), Net: amount()})
		}
		want, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		prefix := []byte("x")
		if got := p.AppendJSON(prefix); !bytes.Equal(got[1:], want) || got[0] != 'x' {
			t.Fatalf("profile %d: AppendJSON wrote\n%s\njson.Marshal writes\n%s", i, got, want)
		}
	}
}
