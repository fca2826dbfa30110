package summary

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/arrears/arrears/internal/civil"
)

// bucketOf is the bucket of a debt age days past due (the judgement's
// rule, restated: 0 or less is not due, each edge closes its bucket).
func bucketOf(age int) int {
	for b, e := range Edges {
		if age <= e {
			return b
		}
	}
	return len(Edges)
}

// direct totals the profiles' buckets on d by reading each one's segment.
func direct(ps []Profile, d civil.Date) map[Key]*[Levels][measures]int64 {
	out := map[Key]*[Levels][measures]int64{}
	for _, p := range ps {
		var cur *Segment
		for i := range p {
			if !p[i].From.After(d) {
				cur = &p[i]
			}
		}
		if cur == nil || (cur.Outstanding <= 0 && cur.Net <= 0) {
			continue
		}
		age := 0
		if !cur.Due.IsZero() {
			age = d.DaysSince(cur.Due)
		}
		b := bucketOf(age)
		t := out[cur.Key]
		if t == nil {
			t = new([Levels][measures]int64)
			out[cur.Key] = t
		}
		if cur.Outstanding > 0 {
			t[b][Count]++
			t[b][Amount] += cur.Outstanding
		}
		if cur.Net > 0 {
			t[b][NetCount]++
			t[b][NetAmount] += cur.Net
		}
	}
	return out
}

// tree is the stored aggregates: node rows per group.
type tree map[point]*Measures

func (t tree) apply(cs []NodeChange) {
	for _, c := range cs {
		m := t[point{c.Key, int(c.Node)}]
		if m == nil {
			m = new(Measures)
			t[point{c.Key, int(c.Node)}] = m
		}
		m.Add(&c.M)
	}
}

func (t tree) buckets(d civil.Date) map[Key]*[Levels][measures]int64 {
	sums := map[Key]*Measures{}
	for _, n := range Path(d) {
		for p, m := range t {
			if p.idx == int(n) {
				s := sums[p.key]
				if s == nil {
					s = new(Measures)
					sums[p.key] = s
				}
				s.Add(m)
			}
		}
	}
	out := map[Key]*[Levels][measures]int64{}
	for k, s := range sums {
		if s[Levels-1][Count] == 0 && s[Levels-1][NetCount] == 0 {
			continue // a group whose invoices are all settled on d
		}
		var b [Levels][measures]int64
		for i := range Levels {
			b[i] = s.Bucket(i)
		}
		out[k] = &b
	}
	return out
}

func randomProfile(r *rand.Rand, start civil.Date) Profile {
	keys := []Key{{"d1", "CN", "110101", "LARGE_ENTERPRISE", "CNY"}, {"d2", "CN", "310101", "PUBLIC_BODY", "CNY"},
		{"d3", "CN", "110101", "LARGE_ENTERPRISE", "USD"}, {"d4", "CN", "110101", "LARGE_ENTERPRISE", "CNY"}}
	var p Profile
	d := start.AddDays(r.IntN(2000))
	due := d.AddDays(r.IntN(120))
	key := keys[r.IntN(len(keys))]
	amount := int64(1 + r.IntN(100000))
	for range 1 + r.IntN(5) {
		s := Segment{Key: key, From: d, Due: due, Outstanding: amount}
		if r.IntN(6) == 0 {
			s.Due = civil.Date{} // no due date yet
		}
		s.Net = s.Outstanding - int64(r.IntN(3))*s.Outstanding/2
		p = p.Add(s)
		d = d.AddDays(1 + r.IntN(400))
		switch r.IntN(5) {
		case 0:
			amount = 0 // settled
		case 1:
			due = due.AddDays(r.IntN(30) - 10) // a corrected term
		case 2:
			key = keys[r.IntN(len(keys))] // a debtor that moved
		default:
			amount -= amount / int64(2+r.IntN(3))
		}
	}
	return p
}

// TestTreeMatchesDirectTotals checks the aggregates against the profiles
// read one by one, on random ledgers and dates, after every profile is
// replaced by another through Changes (as a correction does). Every
// other round starts before the tree's first day, whose node then counts
// everything earlier.
func TestTreeMatchesDirectTotals(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	first := civil.MustNew(2000, 1, 1)
	for round := range 40 {
		start := civil.MustNew(2019, 1, 1)
		if round%2 == 1 {
			start = civil.MustNew(1999, 3, 1)
		}
		ps := make([]Profile, 1+r.IntN(30))
		for i := range ps {
			ps[i] = randomProfile(r, start)
		}
		// The aggregates per debtor, and rolled up over debtors (d1 and d4
		// share their group).
		tr, rolled := tree{}, tree{}
		apply := func(cs []NodeChange) {
			tr.apply(cs)
			rolled.apply(Rollup(cs))
		}
		apply(Changes(nil, ps))
		for i := range ps {
			if r.IntN(2) == 0 {
				next := randomProfile(r, start)
				apply(Changes([]Profile{ps[i]}, []Profile{next}))
				ps[i] = next
			}
		}
		for q := range 26 {
			d := start.AddDays(r.IntN(3200) - 100)
			if q == 0 {
				d = first
			}
			if !Covers(d) {
				continue
			}
			want := direct(ps, d)
			wantRolled := map[Key]*[Levels][measures]int64{}
			for k, w := range want {
				k.Debtor = ""
				if wantRolled[k] == nil {
					wantRolled[k] = new([Levels][measures]int64)
				}
				for l := range w {
					for x := range w[l] {
						wantRolled[k][l][x] += w[l][x]
					}
				}
			}
			for _, c := range []struct {
				name string
				want map[Key]*[Levels][measures]int64
				tr   tree
			}{{"per debtor", want, tr}, {"rolled up", wantRolled, rolled}} {
				got := c.tr.buckets(d)
				if len(c.want) != len(got) {
					t.Fatalf("round %d, %s, %s: %d groups, want %d", round, d, c.name, len(got), len(c.want))
				}
				for k, w := range c.want {
					if g := got[k]; g == nil || *g != *w {
						t.Fatalf("round %d, %s, %s, %v:\n got %v\nwant %v", round, d, c.name, k, g, *w)
					}
				}
			}
		}
	}
}

func TestUnchangedProfileChangesNothing(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	p := randomProfile(r, civil.MustNew(2024, 1, 1))
	if cs := Changes([]Profile{p}, []Profile{p}); len(cs) != 0 {
		t.Fatalf("%d node changes for an unchanged profile", len(cs))
	}
}

func TestAddMergesAndEnds(t *testing.T) {
	k := Key{"d", "CN", "1101", "PUBLIC_BODY", "CNY"}
	d := civil.MustNew(2025, 3, 1)
	var p Profile
	p = p.Add(Segment{Key: k, From: d})                                     // nothing owed yet: no segment
	p = p.Add(Segment{Key: k, From: d.AddDays(1), Outstanding: 5, Net: 5})  // starts
	p = p.Add(Segment{Key: k, From: d.AddDays(2), Outstanding: 5, Net: 5})  // same: merged
	p = p.Add(Segment{Key: k, From: d.AddDays(3)})                          // settled: ends
	p = p.Add(Segment{Key: k, From: d.AddDays(4)})                          // still settled: merged
	p = p.Add(Segment{Key: k, From: d.AddDays(5), Outstanding: 1, Net: -1}) // reopened
	if len(p) != 3 || p[0].From != d.AddDays(1) || p[1].Outstanding != 0 || p[1].From != d.AddDays(3) || p[2].From != d.AddDays(5) {
		t.Fatalf("profile %+v", p)
	}
}

// TestStoredProfileReadsBackEqual: a profile stored as JSON (without the
// debtor) and read back with WithDebtor equals the one computed, settled
// spans included, so an unchanged invoice is not rewritten.
func TestStoredProfileReadsBackEqual(t *testing.T) {
	k := Key{"d9", "CN", "1101", "PUBLIC_BODY", "CNY"}
	d := civil.MustNew(2025, 3, 1)
	var p Profile
	p = p.Add(Segment{Key: k, From: d, Due: d.AddDays(30), Outstanding: 5, Net: 5})
	p = p.Add(Segment{Key: k, From: d.AddDays(40)})
	p = p.Add(Segment{Key: k, From: d.AddDays(50), Due: d.AddDays(30), Outstanding: 2, Net: 2})
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back Profile
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back = back.WithDebtor("d9"); !slices.Equal(back, p) {
		t.Fatalf("read back %+v, stored %+v", back, p)
	}
}
