package judgement

import (
	"fmt"
	"slices"

	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/policy"
)

// Bucket names outside the day ranges.
const (
	// BucketNotDue holds a debt on or before its due date, or one with no
	// due date: something is owed but nothing is late.
	BucketNotDue = "NOT_DUE"
	// BucketNone holds a debt with nothing outstanding (for BucketNet:
	// nothing outstanding beyond what is disputed).
	BucketNone = "NONE"
)

// BucketOf names the aging bucket of a debt days overdue, given the upper
// edges of the buckets (policy.DefaultBucketEdges: 30, 60, 90, 180, 365).
//
// Edge rules: 0 days (due today, or not yet due) is NOT_DUE, since a debt
// is not overdue on its due date. Each edge belongs to the bucket it closes:
// with edges 30 and 60, days 1 to 30 are "1-30" and days 31 to 60 are
// "31-60". Past the last edge E the bucket is "OVER_E": day 365 is
// "181-365" and day 366 "OVER_365".
func BucketOf(edges []int, days int) string {
	if days <= 0 {
		return BucketNotDue
	}
	lower := 1
	for _, e := range edges {
		if days <= e {
			return fmt.Sprintf("%d-%d", lower, e)
		}
		lower = e + 1
	}
	return fmt.Sprintf("OVER_%d", lower-1)
}

// BucketNames lists every bucket name for the edges, in aging order, after
// NOT_DUE, so that a report has a column for each even when it is empty.
func BucketNames(edges []int) []string {
	names := []string{BucketNotDue}
	lower := 1
	for _, e := range edges {
		names = append(names, fmt.Sprintf("%d-%d", lower, e))
		lower = e + 1
	}
	return append(names, fmt.Sprintf("OVER_%d", lower-1))
}

// Escalate returns the escalation level reached by a debt overdue net days
// with net outstanding, 0 (NONE) when nothing is reached. A level is
// reached when days >= its threshold and, if it sets a minimum amount in
// the debt's currency, net >= that minimum; a minimum in another currency
// cannot be compared and is ignored. Validation keeps the thresholds non-
// decreasing, so the levels reached are a prefix of the ladder: the result
// depends only on (days, net), and as days grow one at a time the level
// never skips a rung.
func Escalate(ladder []policy.EscalationLevel, days int, net int64, currency string) (int, string) {
	level, name := 0, policy.LevelNone
	if net <= 0 {
		return level, name
	}
	for i, l := range ladder {
		if days < l.Days || !amountReached(l, net, currency) {
			break
		}
		level, name = i+1, l.Name
	}
	return level, name
}

func amountReached(l policy.EscalationLevel, net int64, currency string) bool {
	m := l.MinNetOverdue
	return m == nil || m.Currency != currency || net >= m.Minor
}

// computeAging fills days overdue, buckets, escalation and NextChange.
func (e *eval) computeAging() {
	j, asOf, pol := &e.j, e.asOf, e.pol
	net := j.Outstanding - j.DisputedOpen
	if !j.DueDate.IsZero() && asOf.After(j.DueDate) && j.Outstanding > 0 {
		j.DaysOverdue = asOf.DaysSince(j.DueDate)
	}
	if net > 0 {
		j.DaysOverdueNet = j.DaysOverdue
	}
	j.Bucket, j.BucketNet = BucketNone, BucketNone
	if j.Outstanding > 0 {
		j.Bucket = BucketOf(pol.BucketEdges, j.DaysOverdue)
	}
	if net > 0 {
		j.BucketNet = BucketOf(pol.BucketEdges, j.DaysOverdueNet)
	}
	j.EscalationLevel, j.EscalationName = Escalate(pol.Escalation, j.DaysOverdueNet, net, j.Currency)
	j.NextChange = e.nextChange(net)
}

// defaultEdges are the edges summaries and the API age every invoice on.
var defaultEdges = policy.DefaultBucketEdges()

// nextChange is the first date after AsOf on which the gross or net bucket
// or the escalation level would change by the passing of days alone, or on
// which a fact already recorded takes effect (a later payment, bill
// maturity, reversal, credit note, dispute or cancellation). A sweeper that
// re-evaluates on it misses no transition; re-evaluating early is harmless.
func (e *eval) nextChange(net int64) civil.Date {
	j, asOf := &e.j, e.asOf
	var next civil.Date
	consider := func(d civil.Date) {
		if d.After(asOf) && (next.IsZero() || d.Before(next)) {
			next = d
		}
	}
	for _, d := range e.timeline.later {
		consider(d)
	}
	if j.DueDate.IsZero() || j.Outstanding <= 0 {
		return next
	}
	days := max(asOf.DaysSince(j.DueDate), 0)
	// A bucket changes on the day the days overdue pass an edge (0 counts
	// as the edge of NOT_DUE): the policy's edges, and the default ones,
	// on which summaries and the API age every invoice.
	nextEdge := func(edges []int) {
		if days == 0 {
			consider(j.DueDate.AddDays(1))
			return
		}
		for _, edge := range edges {
			if edge >= days {
				consider(j.DueDate.AddDays(edge + 1))
				return
			}
		}
	}
	nextEdge(e.pol.BucketEdges)
	if !slices.Equal(e.pol.BucketEdges, defaultEdges) {
		nextEdge(defaultEdges)
	}
	if net > 0 {
		for _, l := range e.pol.Escalation {
			if l.Days > days {
				if amountReached(l, net, j.Currency) {
					consider(j.DueDate.AddDays(l.Days))
				}
				break
			}
		}
	}
	return next
}
