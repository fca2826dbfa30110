// Package summary keeps the overdue summary's aggregates: what every
// invoice contributes to the aging buckets of its group, as of any date,
// in a form whose reading cost depends on the number of groups and not on
// the number of invoices.
//
// An invoice's state as a function of the date judged is its Profile: a
// run of segments, each a span of dates over which its due date, what is
// outstanding and what is outstanding net of open disputes stay the same.
// The service computes profiles with the judgement itself (so both paths
// agree by construction) and stores, beside each profile, the change it
// made to the aggregates; this package turns a change of profile into
// that change of aggregates.
//
// The aggregates are cumulative levels rather than buckets. For an aging
// edge E (0 for "not due", then 30, 60, 90, 180, 365, and no edge at all
// for the last level), level E on date D totals the debts outstanding on
// D whose age D - due is at most E. A segment [from, to) with due date u
// counts in level E on the dates from..min(to-1, u+E): one interval of
// dates per level, which is +v at its start and -v after its end. Each
// bucket is the difference of two neighbouring levels. The point weights
// are summed in a Fenwick tree over the date axis, one row per (group,
// node): the value on D is the sum over the at most 15 nodes of D's prefix
// path, and a point changes at most 15 nodes. So a summary reads about
// groups × 15 rows whatever the size of the ledger, and a write changes a
// few dozen rows of its own group.
package summary

import (
	"cmp"
	"slices"

	"github.com/arrears/arrears/internal/civil"
)

// Edges are the upper ages, in days, of the levels but the last: the
// aging edges the API reports (policy.DefaultBucketEdges) after 0 for
// "not due". A policy with other edges cannot be summarised from these
// aggregates.
var Edges = [...]int{0, 30, 60, 90, 180, 365}

// Levels is the number of levels: one per edge and the last, unbounded.
const Levels = len(Edges) + 1

// Measure indexes the four figures kept per level.
const (
	Count     = iota // invoices with something outstanding
	Amount           // what is outstanding
	NetCount         // invoices with something outstanding beyond open disputes
	NetAmount        // what is outstanding beyond open disputes
	measures
)

// Measures are the four figures of every level.
type Measures [Levels][measures]int64

func (m *Measures) add(o *Measures, sign int64) {
	for l := range m {
		for k := range m[l] {
			m[l][k] += sign * o[l][k]
		}
	}
}

// Add adds o to m.
func (m *Measures) Add(o *Measures) { m.add(o, 1) }

// IsZero reports whether every figure is 0.
func (m *Measures) IsZero() bool { return *m == Measures{} }

// Bucket returns the figures of bucket b (0: not due, then one per edge,
// the last past the last edge): level b less level b-1.
func (m *Measures) Bucket(b int) [measures]int64 {
	out := m[b]
	if b > 0 {
		for k := range out {
			out[k] -= m[b-1][k]
		}
	}
	return out
}

// Key is the group an invoice's contributions are kept under: the
// debtor, its jurisdiction, region code and kind, and the currency. The
// aggregates are kept twice: per debtor, and rolled up without the debtor
// (Rollup), which is what summaries by region, kind and currency read.
type Key struct {
	// Debtor is the debtor's id; it is not stored in a profile (an
	// invoice's debtor never changes), so the reader sets it again.
	Debtor                               string `json:"-"`
	Jurisdiction, Region, Kind, Currency string
}

func (k Key) compare(o Key) int {
	return cmp.Or(cmp.Compare(k.Debtor, o.Debtor), cmp.Compare(k.Jurisdiction, o.Jurisdiction), cmp.Compare(k.Region, o.Region),
		cmp.Compare(k.Kind, o.Kind), cmp.Compare(k.Currency, o.Currency))
}

// Segment is a span of dates from From over which an invoice has the same
// group, due date (zero: none, never overdue) and amounts. It runs until
// the next segment's From; the last runs on.
type Segment struct {
	Key         Key        `json:"k"`
	From        civil.Date `json:"f"`
	Due         civil.Date `json:"d,omitzero"`
	Outstanding int64      `json:"o,omitempty"`
	Net         int64      `json:"n,omitempty"`
}

// Profile is an invoice's segments in date order. Before the first, and in
// a segment with nothing outstanding, the invoice contributes nothing.
type Profile []Segment

// Add appends the state from from on, merging it into the last segment
// when nothing changed. States must be added in date order.
func (p Profile) Add(s Segment) Profile {
	if len(p) == 0 {
		if s.Outstanding <= 0 && s.Net <= 0 {
			return p
		}
		return append(p, s)
	}
	last := p[len(p)-1]
	if s.Outstanding <= 0 && s.Net <= 0 {
		s = Segment{From: s.From}
		if last.Outstanding <= 0 && last.Net <= 0 {
			return p
		}
	} else if last.Key == s.Key && last.Due == s.Due && last.Outstanding == s.Outstanding && last.Net == s.Net {
		return p
	}
	return append(p, s)
}

// The Fenwick tree's date axis: day 1 is 2000-01-01 and the last day,
// MaxNode, is in 2089. Points before the first day are counted on it (they
// count for every date the tree answers for); points after the last are
// never reached.
const MaxNode = 1 << 15

var origin = civil.MustNew(1999, 12, 31)

func index(d civil.Date) int { return d.DaysSince(origin) }

// Covers reports whether the aggregates answer for date d.
func Covers(d civil.Date) bool { i := index(d); return i >= 1 && i <= MaxNode }

// Path returns the nodes whose sum is the value on d (Covers(d) must hold).
func Path(d civil.Date) []int32 {
	var out []int32
	for i := index(d); i > 0; i -= i & -i {
		out = append(out, int32(i))
	}
	return out
}

// NodeChange is what a change of profiles adds to one node of one group.
type NodeChange struct {
	Key  Key
	Node int32
	M    Measures
}

type point struct {
	key Key
	idx int
}

// Changes returns what replacing the profiles before with after (pairwise;
// either may be nil) adds to the aggregates, sorted by group and node so
// that writers take row locks in one order, without the nodes left as
// they were.
func Changes(before, after []Profile) []NodeChange {
	a := accumulator{keyIndex: map[Key]int32{}, points: map[keyedNode]*Measures{}}
	for i := range before {
		before[i].points(&a, -1)
	}
	for i := range after {
		after[i].points(&a, 1)
	}
	nodes := map[point]*Measures{}
	for p, m := range a.points {
		if m.IsZero() {
			continue
		}
		key := a.keys[p.key]
		for j := int(p.idx); j <= MaxNode; j += j & -j {
			n := nodes[point{key, j}]
			if n == nil {
				n = new(Measures)
				nodes[point{key, j}] = n
			}
			n.Add(m)
		}
	}
	return sorted(nodes)
}

// accumulator gathers the interval ends of profiles by group and date
// index. A chunk's profiles name few groups, each many times: the points
// are keyed by the group's number, so each lookup hashes two integers
// rather than the group's five strings (that hashing was a twentieth of a
// bulk sync's CPU in arrearsd).
type accumulator struct {
	keys     []Key
	keyIndex map[Key]int32
	points   map[keyedNode]*Measures
}

type keyedNode struct{ key, idx int32 }

func (a *accumulator) key(k Key) int32 {
	n, ok := a.keyIndex[k]
	if !ok {
		n = int32(len(a.keys))
		a.keys = append(a.keys, k)
		a.keyIndex[k] = n
	}
	return n
}

// Rollup sums node changes over debtors: the changes to the aggregates
// kept without the debtor, sorted as Changes sorts.
func Rollup(cs []NodeChange) []NodeChange { return sumNodes(cs, true) }

// Coalesce sums node changes of the same group and node (several changes
// made in one transaction), sorted as Changes sorts, zeros left out.
func Coalesce(cs []NodeChange) []NodeChange { return sumNodes(cs, false) }

func sumNodes(cs []NodeChange, overDebtors bool) []NodeChange {
	sums := map[point]*Measures{}
	for i := range cs {
		p := point{cs[i].Key, int(cs[i].Node)}
		if overDebtors {
			p.key.Debtor = ""
		}
		m := sums[p]
		if m == nil {
			m = new(Measures)
			sums[p] = m
		}
		m.Add(&cs[i].M)
	}
	return sorted(sums)
}

func sorted(nodes map[point]*Measures) []NodeChange {
	out := make([]NodeChange, 0, len(nodes))
	for p, m := range nodes {
		if !m.IsZero() {
			out = append(out, NodeChange{Key: p.key, Node: int32(p.idx), M: *m})
		}
	}
	slices.SortFunc(out, func(a, b NodeChange) int {
		return cmp.Or(a.Key.compare(b.Key), cmp.Compare(a.Node, b.Node))
	})
	return out
}

// WithDebtor sets the debtor of every segment (after reading a stored
// profile, which leaves it out).
func (p Profile) WithDebtor(debtor string) Profile {
	for i := range p {
		if p[i].Key != (Key{}) { // a settled span has no group (Add)
			p[i].Key.Debtor = debtor
		}
	}
	return p
}

// points adds the profile's interval ends, times sign, to a.
func (p Profile) points(a *accumulator, sign int64) {
	at := func(k int32, d civil.Date, level int, v *[measures]int64, s int64) {
		i := max(index(d), 1) // days before the first count on it
		if i > MaxNode {
			return
		}
		m := a.points[keyedNode{k, int32(i)}]
		if m == nil {
			m = new(Measures)
			a.points[keyedNode{k, int32(i)}] = m
		}
		for x := range v {
			m[level][x] += s * sign * v[x]
		}
	}
	for i, s := range p {
		var v [measures]int64
		if s.Outstanding > 0 {
			v[Count], v[Amount] = 1, s.Outstanding
		}
		if s.Net > 0 {
			v[NetCount], v[NetAmount] = 1, s.Net
		}
		if v == [measures]int64{} {
			continue
		}
		var to civil.Date // zero: runs on
		if i+1 < len(p) {
			to = p[i+1].From
		}
		k := a.key(s.Key)
		for l := range Levels {
			// The last day the segment counts in level l.
			var last civil.Date
			if l < len(Edges) && !s.Due.IsZero() {
				last = s.Due.AddDays(Edges[l])
				if last.Before(s.From) {
					continue
				}
			}
			if !to.IsZero() && (last.IsZero() || !last.Before(to)) {
				last = to.AddDays(-1)
			}
			at(k, s.From, l, &v, 1)
			if !last.IsZero() {
				at(k, last.AddDays(1), l, &v, -1)
			}
		}
	}
}
