package service

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/judgement"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/money"
	"github.com/arrears/arrears/internal/policy"
	"github.com/arrears/arrears/internal/store"
)

// SummaryQuery asks for the state of arrears across the debtors the caller
// may see, as of a date, on the facts known at an instant.
type SummaryQuery struct {
	AsOf    civil.Date
	KnownAt time.Time
	// GroupBy names the grouping dimensions: debtor, debtor_kind, region
	// (cut to RegionDigits characters when positive), industry,
	// creditor_size, currency. Currency always separates groups: amounts of
	// different currencies are never added.
	GroupBy      []string
	RegionDigits int
	// Filters; empty means any.
	DebtorKind   ledger.PartyKind
	RegionPrefix string
	Industry     string
	CreditorSize ledger.SizeClass
	Currency     string
	MinOverdue   int64 // minimum overdue amount of an invoice, in its minor units
	MinLevel     int   // minimum escalation level
	// Detail asks for the per-invoice figures: interest, oldest days
	// overdue and highest escalation level. They need every invoice judged.
	Detail bool
}

// BucketTotal is a count and an amount.
type BucketTotal struct {
	Count  int64
	Amount int64
}

// SummaryGroup totals one group in one currency.
type SummaryGroup struct {
	Key      map[string]string
	Currency string
	Invoices int64
	// Outstanding and Overdue totals, gross and net of open disputes.
	Outstanding, Overdue, OverdueNet int64
	// Interest is the sum of the per-invoice rounded interest.
	Interest int64
	// Buckets by aging bucket, gross and net.
	Buckets, BucketsNet map[string]BucketTotal
	// OverdueInvoices counts the overdue ones, OldestDaysOverdue is the
	// most days overdue among them, MaxLevel the highest escalation level.
	OverdueInvoices   int64
	OldestDaysOverdue int
	MaxLevel          int
}

// SummaryDimensions are the groupings GroupBy accepts.
var SummaryDimensions = []string{"debtor", "debtor_kind", "region", "industry", "creditor_size", "currency"}

// OverdueSummary totals outstanding and overdue debt by aging bucket, and
// reports whether the groups carry the per-invoice detail. It reads the
// summary aggregates when the request allows (see fromAggregates), and
// otherwise judges every invoice in scope; both are exact for any as-of
// date and known-at instant.
func (l *Ledger) OverdueSummary(ctx context.Context, q SummaryQuery) ([]*SummaryGroup, bool, error) {
	for _, g := range q.GroupBy {
		if !contains(SummaryDimensions, g) {
			return nil, false, ledger.Invalid("group_by", "%q is not one of %s", g, strings.Join(SummaryDimensions, ", "))
		}
	}
	if q.KnownAt.IsZero() {
		q.KnownAt = l.now()
	}
	if q.AsOf.IsZero() {
		return nil, false, ledger.Invalid("as_of", "is required")
	}
	groups, ok, err := l.fromAggregates(ctx, q)
	if err != nil || ok {
		return groups, false, err
	}
	groups, err = l.judgedSummary(ctx, q)
	return groups, true, err
}

// judgedSummary computes the summary by judging every invoice in scope.
func (l *Ledger) judgedSummary(ctx context.Context, q SummaryQuery) ([]*SummaryGroup, error) {
	parties := map[uuid.UUID]*ledger.Party{}
	party := func(id uuid.UUID) (*ledger.Party, error) {
		if p, ok := parties[id]; ok {
			return p, nil
		}
		p, err := l.store.GetParty(ctx, id)
		if err != nil {
			return nil, err
		}
		parties[id] = p
		return p, nil
	}
	groups := map[string]*SummaryGroup{}
	// The currency is filtered on the fields judged (addToSummary), which
	// a correction effective later may have changed since.
	iq := store.InvoiceQuery{Scope: scope(ctx)}
	err := l.judgeEach(ctx, iq, q.AsOf, q.KnownAt, func(j *Judged) error {
		return l.addToSummary(groups, q, j, party)
	})
	if err != nil {
		return nil, err
	}
	return sortedGroups(groups), nil
}

// sortedGroups lists the groups by currency, then largest overdue first;
// the key breaks ties so the order is stable. By currency first: minor
// units of different currencies do not compare (KWD 1,234.567 is 1,234,567
// units, as many as JPY 1,234,567, and both ranked above USD 10,000.00), as
// the watch list ranks within a currency.
func sortedGroups(groups map[string]*SummaryGroup) []*SummaryGroup {
	out := make([]*SummaryGroup, 0, len(groups))
	for _, g := range groups {
		out = append(out, g)
	}
	sort.Slice(out, func(i, k int) bool {
		if out[i].Currency != out[k].Currency {
			return out[i].Currency < out[k].Currency
		}
		if out[i].Overdue != out[k].Overdue {
			return out[i].Overdue > out[k].Overdue
		}
		return groupKey(out[i].Key, out[i].Currency) < groupKey(out[k].Key, out[k].Currency)
	})
	return out
}

// groupOf returns the group of key in currency, added if new.
func groupOf(groups map[string]*SummaryGroup, key map[string]string, currency string) *SummaryGroup {
	k := groupKey(key, currency)
	g, ok := groups[k]
	if !ok {
		g = &SummaryGroup{Key: key, Currency: currency, Buckets: map[string]BucketTotal{}, BucketsNet: map[string]BucketTotal{}}
		groups[k] = g
	}
	return g
}

func groupKey(k map[string]string, currency string) string {
	var parts []string
	for _, d := range SummaryDimensions {
		if v, ok := k[d]; ok {
			parts = append(parts, d+"="+v)
		}
	}
	return strings.Join(parts, "|") + "|" + currency
}

// summaryEdges are the aging buckets' edges in every summary and list
// filter: the default ones, which the API names buckets by.
var summaryEdges = policy.DefaultBucketEdges()

// APIBuckets are a judgement's gross and net aging buckets on summaryEdges,
// the ones the API names: an invoice under a policy with its own edges is
// judged in its own buckets, but summaries, filters and the judgement the
// API shows age every invoice on the same edges, so that they agree.
func APIBuckets(j judgement.Judgement) (gross, net string) {
	gross, net = judgement.BucketNone, judgement.BucketNone
	if j.Outstanding > 0 {
		gross = judgement.BucketOf(summaryEdges, j.DaysOverdue)
	}
	if j.Outstanding-j.DisputedOpen > 0 {
		net = judgement.BucketOf(summaryEdges, j.DaysOverdueNet)
	}
	return gross, net
}

func (l *Ledger) addToSummary(groups map[string]*SummaryGroup, q SummaryQuery, j *Judged, party func(uuid.UUID) (*ledger.Party, error)) error {
	jd, inv := j.Judgement, j.Invoice
	if jd.Outstanding <= 0 || inv.IssuedOn.After(jd.AsOf) {
		// An invoice counts from its issue date: before it, nothing was
		// owed yet.
		return nil
	}
	debtor, err := party(inv.DebtorID)
	if err != nil {
		return err
	}
	switch {
	case q.DebtorKind != "" && debtor.Kind != q.DebtorKind,
		q.RegionPrefix != "" && !strings.HasPrefix(debtor.RegionCode, q.RegionPrefix),
		q.Industry != "" && debtor.IndustryCode != q.Industry,
		q.CreditorSize != "" && inv.CreditorSizeAtSigning != q.CreditorSize,
		q.Currency != "" && inv.Amount.Currency != q.Currency,
		jd.EscalationLevel < q.MinLevel:
		return nil
	}
	overdue := int64(0)
	if jd.DaysOverdue > 0 {
		overdue = jd.Outstanding
	}
	if overdue < q.MinOverdue {
		return nil
	}
	key := map[string]string{}
	for _, d := range q.GroupBy {
		switch d {
		case "debtor":
			key[d] = "parties/" + debtor.ID.String()
		case "debtor_kind":
			key[d] = string(debtor.Kind)
		case "region":
			r := debtor.RegionCode
			if q.RegionDigits > 0 && len(r) > q.RegionDigits {
				r = r[:q.RegionDigits]
			}
			key[d] = r
		case "industry":
			key[d] = debtor.IndustryCode
		case "creditor_size":
			key[d] = string(inv.CreditorSizeAtSigning)
		case "currency":
			key[d] = inv.Amount.Currency
		}
	}
	g := groupOf(groups, key, inv.Amount.Currency)
	net := jd.Outstanding - jd.DisputedOpen
	var sum exactSum
	add := sum.add
	g.Invoices++
	add(&g.Outstanding, jd.Outstanding)
	add(&g.Overdue, overdue)
	if jd.DaysOverdueNet > 0 {
		add(&g.OverdueNet, net)
	}
	// The interest is shown only with the detail: past the range, it
	// refuses only the figures that show it (an agreed daily rate over
	// years reaches the range where the amounts owed are far from it).
	var interest exactSum
	interest.add(&g.Interest, jd.Interest)
	sum.overflow = sum.overflow || interest.overflow && q.Detail
	if jd.DaysOverdue > 0 {
		g.OverdueInvoices++
	}
	g.OldestDaysOverdue = max(g.OldestDaysOverdue, jd.DaysOverdue)
	g.MaxLevel = max(g.MaxLevel, jd.EscalationLevel)
	bucket, bucketNet := APIBuckets(jd)
	b := g.Buckets[bucket]
	b.Count++
	add(&b.Amount, jd.Outstanding)
	g.Buckets[bucket] = b
	if net > 0 {
		bn := g.BucketsNet[bucketNet]
		bn.Count++
		add(&bn.Amount, net)
		g.BucketsNet[bucketNet] = bn
	}
	return sum.err(key, inv.Amount.Currency)
}

// exactSum adds to totals and remembers whether one left the int64 range.
// Each amount the ledger holds is bounded, but not their sum over a group:
// a total is exact or the figure is refused (interest makes it reachable:
// an agreed daily rate over centuries nears the range on its own).
type exactSum struct{ overflow bool }

func (e *exactSum) add(total *int64, v int64) {
	s, ok := money.AddMinor(*total, v)
	e.overflow = e.overflow || !ok
	*total = s
}

// err is the refusal of a group's figures whose total overflowed.
func (e *exactSum) err(key map[string]string, currency string) error {
	if !e.overflow {
		return nil
	}
	return fmt.Errorf("%w: a total of the group %s is beyond %d minor units of %s; narrow the figures (group by debtor, or filter)",
		ledger.ErrFailedPrecondition, groupName(key), int64(math.MaxInt64), currency)
}

// groupName says which group a summary key is, for an error message.
func groupName(key map[string]string) string {
	if len(key) == 0 {
		return "of everything"
	}
	parts := make([]string, 0, len(key))
	for _, d := range slices.Sorted(maps.Keys(key)) {
		parts = append(parts, d+"="+key[d])
	}
	return strings.Join(parts, ", ")
}

// Disclosure is what a large enterprise or public body must publish about
// its late payments to SMEs (China Decree 802 Art. 18): overdue unpaid SME
// debts at the end of the year, per currency.
type Disclosure struct {
	Debtor *ledger.Party
	Year   int
	AsOf   civil.Date
	// KnownAt is the instant whose knowledge counted: a disclosure as
	// published, before later corrections and reversals, is the one
	// computed as known at its publication.
	KnownAt  time.Time
	Currency string
	Count    int64 // invoices
	Amount   int64
	// Contracts counts the distinct contracts of those invoices (by supplier
	// and contract reference; an invoice without one is its own): Decree
	// 728 Art. 24 and the annual-report form ask for the number of
	// contracts.
	Contracts int64

	contracts map[string]bool // the keys Contracts counts
}

// partyKindAt is a party's kind as its revisions knew it at an instant:
// that of the latest revision recorded by then; for a party recorded only
// later, its kind as first recorded (what the ledger first knew of it, not
// a reclassification since); its kind now if it has no revisions.
func (l *Ledger) partyKindAt(ctx context.Context, p *ledger.Party, at time.Time) (ledger.PartyKind, error) {
	revs, err := l.store.RevisionsOf(ctx, []uuid.UUID{p.ID})
	if err != nil {
		return "", err
	}
	var latest, first *ledger.Revision
	for _, r := range revs[p.ID] {
		if !r.RecordTime.After(at) && (latest == nil || r.Revision > latest.Revision) {
			latest = r
		}
		if first == nil || r.Revision < first.Revision {
			first = r
		}
	}
	if latest == nil {
		latest = first
	}
	if latest == nil {
		return p.Kind, nil
	}
	var then ledger.Party
	if err := json.Unmarshal(latest.Snapshot, &then); err != nil {
		return "", fmt.Errorf("party %s revision %d: %w", p.ID, latest.Revision, err)
	}
	return then.Kind, nil
}

// minTime is the earlier of two instants.
func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// AnnualDisclosure computes a debtor's year-end disclosure from the ledger.
func (l *Ledger) AnnualDisclosure(ctx context.Context, debtorRef PartyRef, year int, knownAt time.Time) ([]*Disclosure, error) {
	debtor, err := visibleDebtor(ctx, l.store, debtorRef)
	if err != nil {
		return nil, err
	}
	asOf, err := civil.New(year, 12, 31)
	if err != nil {
		return nil, ledger.Invalid("year", "%v", err)
	}
	if today := l.Today(l.now(), debtor.Jurisdiction); !asOf.Before(today) {
		return nil, ledger.Invalid("year", "%d has not ended (today is %s): a disclosure is of the position on 31 December", year, today)
	}
	if !knownAt.IsZero() {
		// Known before the year was out, the position on 31 December
		// was not known: an empty answer would read as nothing overdue.
		if then := l.Today(knownAt, debtor.Jurisdiction); !asOf.Before(then) {
			return nil, ledger.Invalid("known_at", "%s is before %d ended in the debtor's time zone (it was %s there): a disclosure is of the position on 31 December, known after it",
				knownAt.UTC().Format(time.RFC3339), year, then)
		}
	} else {
		knownAt = l.now()
	}
	// The debtor's kind at the year's end, as known at knownAt: a party's
	// change takes effect when it is made, so the kind recorded by the end
	// of 31 December (or by knownAt, if earlier) decides whether it
	// disclosed; a reclassification since changes neither the duty nor a
	// disclosure as published.
	yearEnd := time.Date(year+1, time.January, 1, 0, 0, 0, 0, l.location(debtor.Jurisdiction)).Add(-time.Nanosecond)
	kind, err := l.partyKindAt(ctx, debtor, minTime(knownAt, yearEnd))
	if err != nil {
		return nil, err
	}
	if kind != ledger.KindLargeEnterprise && kind != ledger.KindPublicBody {
		return nil, fmt.Errorf("%w: only large enterprises and public bodies disclose overdue SME debts (the debtor was %s at the end of %d)", ledger.ErrFailedPrecondition, kind, year)
	}
	byCurrency := map[string]*Disclosure{}
	disclosure := func(currency string) *Disclosure {
		d, ok := byCurrency[currency]
		if !ok {
			d = &Disclosure{Debtor: debtor, Year: year, AsOf: asOf, KnownAt: knownAt, Currency: currency, contracts: map[string]bool{}}
			byCurrency[currency] = d
		}
		return d
	}
	iq := store.InvoiceQuery{Scope: scope(ctx), DebtorID: debtor.ID}
	err = l.judgeEach(ctx, iq, asOf, knownAt, func(j *Judged) error {
		// As in the overdue summary, an invoice counts from its issue date.
		if !j.Invoice.CreditorSizeAtSigning.IsSME() || j.Invoice.IssuedOn.After(asOf) {
			return nil
		}
		// Nothing overdue is a figure too: a debtor that owed its SME
		// suppliers in a currency discloses zero in it, a dated record
		// of that, rather than an empty answer.
		d := disclosure(j.Invoice.Amount.Currency)
		if j.Judgement.DaysOverdue <= 0 || j.Judgement.Outstanding <= 0 {
			return nil
		}
		d.Count++
		// A contract is the supplier's: two suppliers' "HT-1" are two.
		contract := "c:" + j.Invoice.CreditorID.String() + ":" + strings.TrimSpace(j.Invoice.ContractRef)
		if strings.TrimSpace(j.Invoice.ContractRef) == "" {
			contract = "i:" + j.Invoice.ID.String()
		}
		d.contracts[contract] = true
		d.Contracts = int64(len(d.contracts))
		var sum exactSum
		sum.add(&d.Amount, j.Judgement.Outstanding)
		return sum.err(map[string]string{"debtor": "parties/" + debtor.ID.String()}, d.Currency)
	})
	if err != nil {
		return nil, err
	}
	out := make([]*Disclosure, 0, len(byCurrency))
	for _, d := range byCurrency {
		out = append(out, d)
	}
	sort.Slice(out, func(i, k int) bool { return out[i].Currency < out[k].Currency })
	return out, nil
}

// WatchQuery asks for the debtors with the most overdue.
type WatchQuery struct {
	AsOf, Since civil.Date
	KnownAt     time.Time
	Limit       int // per currency
	// Filters, as in SummaryQuery.
	DebtorKind   ledger.PartyKind
	RegionPrefix string
	Currency     string
}

// WatchEntry is one debtor's overdue debt in one currency as of AsOf and
// as of Since; Now is never nil, Then is nil when nothing was overdue.
type WatchEntry struct {
	Debtor          *ledger.Party
	Currency        string
	Rank, RankSince int
	Now, Then       *SummaryGroup
}

// WatchList ranks the debtors in scope by overdue amount, per currency,
// and sets beside each its figures as of an earlier date: the overdue
// summary by debtor, taken twice on the same known-at instant.
func (l *Ledger) WatchList(ctx context.Context, q WatchQuery) ([]*WatchEntry, error) {
	if q.Since.IsZero() || q.AsOf.IsZero() {
		return nil, ledger.Invalid("as_of", "as_of and since are required")
	}
	if !q.Since.Before(q.AsOf) {
		return nil, ledger.Invalid("since", "%s is not before as_of %s", q.Since, q.AsOf)
	}
	if q.KnownAt.IsZero() {
		q.KnownAt = l.now()
	}
	sq := SummaryQuery{KnownAt: q.KnownAt, GroupBy: []string{"debtor"}, DebtorKind: q.DebtorKind,
		RegionPrefix: q.RegionPrefix, Currency: q.Currency, MinOverdue: 1}
	ranked := func(asOf civil.Date) ([]*SummaryGroup, map[string]int, error) {
		sq.AsOf = asOf
		groups, _, err := l.OverdueSummary(ctx, sq)
		if err != nil {
			return nil, nil, err
		}
		// Groups come largest overdue first; rank within each currency.
		ranks, next := map[string]int{}, map[string]int{}
		for _, g := range groups {
			next[g.Currency]++
			ranks[g.Key["debtor"]+"|"+g.Currency] = next[g.Currency]
		}
		return groups, ranks, nil
	}
	now, nowRanks, err := ranked(q.AsOf)
	if err != nil {
		return nil, err
	}
	then, thenRanks, err := ranked(q.Since)
	if err != nil {
		return nil, err
	}
	thenBy := map[string]*SummaryGroup{}
	for _, g := range then {
		thenBy[g.Key["debtor"]+"|"+g.Currency] = g
	}
	var out []*WatchEntry
	for _, g := range now {
		k := g.Key["debtor"] + "|" + g.Currency
		if nowRanks[k] > q.Limit {
			continue
		}
		id, err := uuid.Parse(strings.TrimPrefix(g.Key["debtor"], "parties/"))
		if err != nil {
			return nil, err
		}
		debtor, err := l.store.GetParty(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, &WatchEntry{Debtor: debtor, Currency: g.Currency, Rank: nowRanks[k], RankSince: thenRanks[k], Now: g, Then: thenBy[k]})
	}
	sort.SliceStable(out, func(i, k int) bool {
		if out[i].Currency != out[k].Currency {
			return out[i].Currency < out[k].Currency
		}
		return out[i].Rank < out[k].Rank
	})
	return out, nil
}

// judgeEach judges every invoice iq finds, a page at a time, as of asOf on
// the facts known at knownAt, and hands each judgement to fn.
func (l *Ledger) judgeEach(ctx context.Context, iq store.InvoiceQuery, asOf civil.Date, knownAt time.Time, fn func(*Judged) error) error {
	iq.Page.Limit = 500
	for {
		rows, js, err := l.judgePage(ctx, iq, asOf, knownAt)
		if err != nil {
			return err
		}
		for _, j := range js {
			if err := fn(j); err != nil {
				return err
			}
		}
		if len(rows) < iq.Page.Limit {
			return nil
		}
		iq.Page.AfterID = rows[len(rows)-1].ID
	}
}
