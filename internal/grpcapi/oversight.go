package grpcapi

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	arrearsv1 "github.com/arrears/arrears/gen/arrears/v1"
	"github.com/arrears/arrears/internal/auth"
	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/money"
	"github.com/arrears/arrears/internal/service"
)

// Oversight implements arrearsv1.OversightServiceServer.
type Oversight struct {
	arrearsv1.UnimplementedOversightServiceServer
	s         *Server
	summaries *summaryCache
}

// NewOversight returns the regulators' figures service.
func NewOversight(s *Server) *Oversight { return &Oversight{s: s, summaries: newSummaryCache()} }

func bucketsToProto(m map[string]service.BucketTotal, currency string) []*arrearsv1.BucketTotal {
	var out []*arrearsv1.BucketTotal
	for _, name := range bucketNames {
		if b, ok := m[name]; ok {
			out = append(out, &arrearsv1.BucketTotal{Bucket: name, Count: b.Count, Amount: moneyToProto(b.Amount, currency)})
		}
	}
	return out
}

// summaryQuery validates a summary request and fixes its defaults (see
// reportTimes).
func (o *Oversight) summaryQuery(ctx context.Context, req *arrearsv1.GetOverdueSummaryRequest, prefix string) (service.SummaryQuery, error) {
	var v ledger.ValidationError
	f := func(name string) string { return prefix + name }
	q := service.SummaryQuery{
		AsOf: judgedDateFromProto(&v, f("as_of"), req.GetAsOf(), o.s.svc.Now()), KnownAt: knownAtFromProto(&v, f("known_at"), req.GetKnownAt(), o.s.svc.Now()), GroupBy: splitList(req.GetGroupBy()),
		RegionDigits: int(req.GetRegionDigits()), DebtorKind: debtorKindFrom(&v, f("debtor_kind"), req.GetDebtorKind()),
		RegionPrefix: strings.ToUpper(req.GetRegionPrefix()), Industry: strings.ToUpper(req.GetIndustry()),
		CreditorSize: ledger.SizeClass(strings.ToUpper(req.GetCreditorSize())), Currency: money.CodeUpper(req.GetCurrency()),
		MinOverdue: req.GetMinOverdueMinorUnits(), MinLevel: int(req.GetMinEscalationLevel()), Detail: req.GetIncludeDetail(),
	}
	if q.CreditorSize != "" && !q.CreditorSize.Valid() {
		v.Add(f("creditor_size"), "must be MICRO, SMALL, MEDIUM or LARGE")
	}
	ledger.ValidateRegionPrefix(&v, f("region_prefix"), q.RegionPrefix)
	checkCurrency(&v, f("currency"), q.Currency)
	if q.MinOverdue < 0 {
		v.Add(f("min_overdue_minor_units"), "must not be negative, got %d", q.MinOverdue)
	}
	if q.MinLevel < 0 {
		v.Add(f("min_escalation_level"), "must not be negative, got %d", q.MinLevel)
	}
	for i, g := range q.GroupBy {
		switch {
		case !slices.Contains(service.SummaryDimensions, g):
			v.Add(f("group_by"), "%q is not one of %s", g, strings.Join(service.SummaryDimensions, ", "))
		case slices.Contains(q.GroupBy[:i], g):
			v.Add(f("group_by"), "%q is listed twice", g)
		}
	}
	switch {
	case req.GetRegionDigits() < 0:
		v.Add(f("region_digits"), "must not be negative")
	case req.GetRegionDigits() > 0 && !slices.Contains(q.GroupBy, "region"):
		// Taken silently, it cut nothing: the caller meant a grouping it
		// did not ask for.
		v.Add(f("region_digits"), "cuts the region grouping: add region to group_by")
	}
	if err := v.Err(); err != nil {
		return q, err
	}
	return q, o.reportTimes(ctx, &q.AsOf, &q.KnownAt)
}

// reportTimes fixes a report's defaults: as_of today in the caller's
// jurisdiction, known_at now.
func (o *Oversight) reportTimes(ctx context.Context, asOf *civil.Date, knownAt *time.Time) error {
	if asOf.IsZero() {
		today, err := o.s.svc.CallerToday(ctx)
		if err != nil {
			return err
		}
		*asOf = today
	}
	if knownAt.IsZero() {
		*knownAt = o.s.svc.Now()
	}
	return nil
}

// debtorKindFrom reads a debtor-kind filter; empty means any.
func debtorKindFrom(v *ledger.ValidationError, field, s string) ledger.PartyKind {
	k := ledger.PartyKind(strings.ToUpper(s))
	if k != "" && !k.Valid() {
		v.Add(field, "must be LARGE_ENTERPRISE, PUBLIC_BODY, SME or REGULATOR")
	}
	return k
}

func summaryGroupToProto(g *service.SummaryGroup) *arrearsv1.SummaryGroup {
	return &arrearsv1.SummaryGroup{
		Key: g.Key, Invoices: g.Invoices, Outstanding: moneyToProto(g.Outstanding, g.Currency),
		Overdue: moneyToProto(g.Overdue, g.Currency), OverdueNet: moneyToProto(g.OverdueNet, g.Currency),
		Interest: moneyToProto(g.Interest, g.Currency), Buckets: bucketsToProto(g.Buckets, g.Currency),
		BucketsNet: bucketsToProto(g.BucketsNet, g.Currency), OverdueInvoices: g.OverdueInvoices,
		OldestDaysOverdue: int32(g.OldestDaysOverdue), MaxEscalationLevel: int32(g.MaxLevel),
	}
}

func (o *Oversight) GetOverdueSummary(ctx context.Context, req *arrearsv1.GetOverdueSummaryRequest) (*arrearsv1.GetOverdueSummaryResponse, error) {
	const method = "GetOverdueSummary"
	size := int(req.PageSize)
	switch {
	case size < 0:
		return nil, o.s.fail(ctx, method, "", badField("page_size", "must not be negative, got %d", size))
	case size == 0:
		size = 500
	case size > 1000:
		size = 1000 // AIP-158: larger sizes are coerced to the maximum
	}
	if kt := req.GetKnownAt(); kt != nil && (kt.GetSeconds() < 0 || kt.AsTime().Year() >= 2262) {
		// The page token carries known_at in Unix nanoseconds.
		return nil, o.s.fail(ctx, method, "", badField("known_at", "must be between 1970 and 2262"))
	}
	// A token is bound to the request less its paging fields.
	bare := proto.Clone(req).(*arrearsv1.GetOverdueSummaryRequest)
	bare.PageSize, bare.PageToken = 0, ""
	key, err := proto.MarshalOptions{Deterministic: true}.Marshal(bare)
	if err != nil {
		return nil, o.s.fail(ctx, method, "", err)
	}
	// Bound to the caller too: a token handed to another key is refused.
	scope := method + "|" + callerKey(ctx) + "|" + string(key)
	var pos summaryPos
	if req.PageToken != "" {
		raw, err := o.s.tokens.Decode(scope, req.PageToken)
		if err != nil {
			return nil, o.s.fail(ctx, method, "", pageTokenError())
		}
		pos = decodeSummaryPos(raw)
	}
	q, err := o.summaryQuery(ctx, req, "")
	if err != nil {
		return nil, o.s.fail(ctx, method, "", err)
	}
	if req.PageToken != "" {
		q.AsOf, q.KnownAt = pos.asOf, pos.knownAt
	}
	// The groups of one request, caller, as_of and known_at never change:
	// a later page is cut from those its first page computed. A first
	// page always computes them (a transaction in flight then may have
	// committed since). Keyed by a digest: the request is the client's.
	sum := sha256.Sum256([]byte(scope + "|" + summaryPos{asOf: q.AsOf, knownAt: q.KnownAt}.encode().String()))
	cacheKey, now := string(sum[:]), o.s.svc.Now()
	var groups []*service.SummaryGroup
	var detailed, cached bool
	// Not for a portal: what it sees is its suppliers' grants as they
	// stand, and a supplier that withdrew one is out of its sight at once,
	// later pages of a summary begun before included (they were cut from
	// the groups kept, the withdrawn supplier's debtors with them).
	keep := true
	if p := auth.FromContext(ctx); p != nil && p.Role == auth.RolePortal {
		keep = false
	}
	if req.PageToken != "" && keep {
		groups, detailed, cached = o.summaries.get(cacheKey, now)
	}
	if !cached {
		if groups, detailed, err = o.s.svc.OverdueSummary(ctx, q); err != nil {
			return nil, o.s.fail(ctx, method, "", err)
		}
	}
	// The detail is given as asked, though the groups were judged (which
	// gives it): so that one request answers alike however its groups
	// were computed, and the pages of one summary alike (a later page
	// computed again, on another replica or once the first page's groups
	// expired, is judged when the ledger changed meanwhile).
	withDetail := detailed && q.Detail
	out := &arrearsv1.GetOverdueSummaryResponse{AsOf: dateToProto(q.AsOf), KnownAt: timestamppb.New(q.KnownAt), DetailIncluded: withDetail}
	start := min(pos.offset, len(groups))
	end := min(start+size, len(groups))
	for _, g := range groups[start:end] {
		pg := summaryGroupToProto(g)
		if !withDetail {
			// Absent, not zero: "interest": {"currencyCode": "CNY"} read
			// as no interest owed.
			pg.Interest, pg.OldestDaysOverdue, pg.MaxEscalationLevel = nil, 0, 0
		}
		out.Groups = append(out.Groups, pg)
	}
	if end < len(groups) {
		out.NextPageToken = o.s.tokens.Encode(scope, summaryPos{asOf: q.AsOf, knownAt: q.KnownAt, offset: end}.encode())
		if !cached && keep {
			o.summaries.put(cacheKey, groups, detailed, now)
		}
	}
	return out, nil
}

// summaryPos is where the next page of a summary starts, and the as_of and
// known_at its first page was computed on: the groups of one known_at
// never change, so an offset into them is stable.
type summaryPos struct {
	asOf    civil.Date
	knownAt time.Time
	offset  int
}

var epoch = civil.MustNew(1970, 1, 1)

// encode packs the position into a page token's 16 bytes: known_at in
// Unix nanoseconds, as_of in days since 1970, the offset.
func (p summaryPos) encode() uuid.UUID {
	var b uuid.UUID
	binary.BigEndian.PutUint64(b[0:8], uint64(p.knownAt.UnixNano()))
	binary.BigEndian.PutUint32(b[8:12], uint32(int32(p.asOf.DaysSince(epoch))))
	binary.BigEndian.PutUint32(b[12:16], uint32(p.offset))
	return b
}

func decodeSummaryPos(b uuid.UUID) summaryPos {
	return summaryPos{
		knownAt: time.Unix(0, int64(binary.BigEndian.Uint64(b[0:8]))).UTC(),
		asOf:    epoch.AddDays(int(int32(binary.BigEndian.Uint32(b[8:12])))),
		offset:  int(binary.BigEndian.Uint32(b[12:16])),
	}
}

// exportChunk is how many groups one streamed message carries.
const exportChunk = 500

func (o *Oversight) ExportOverdueSummary(req *arrearsv1.ExportOverdueSummaryRequest, stream arrearsv1.OversightService_ExportOverdueSummaryServer) error {
	const method = "ExportOverdueSummary"
	ctx := stream.Context()
	q, err := o.summaryQuery(ctx, req.GetQuery(), "query.")
	if err != nil {
		return o.s.fail(ctx, method, "", err)
	}
	// An export carries every figure, interest included.
	q.Detail = true
	groups, _, err := o.s.svc.OverdueSummary(ctx, q)
	if err != nil {
		return o.s.fail(ctx, method, "", err)
	}
	for start := 0; start == 0 || start < len(groups); start += exportChunk {
		msg := &arrearsv1.ExportOverdueSummaryResponse{AsOf: dateToProto(q.AsOf), KnownAt: timestamppb.New(q.KnownAt)}
		for _, g := range groups[start:min(start+exportChunk, len(groups))] {
			msg.Groups = append(msg.Groups, summaryGroupToProto(g))
		}
		if err := stream.Send(msg); err != nil {
			return err
		}
	}
	return nil
}

func (o *Oversight) GetWatchList(ctx context.Context, req *arrearsv1.GetWatchListRequest) (*arrearsv1.GetWatchListResponse, error) {
	const method = "GetWatchList"
	var v ledger.ValidationError
	q := service.WatchQuery{
		AsOf: judgedDateFromProto(&v, "as_of", req.AsOf, o.s.svc.Now()), Since: judgedDateFromProto(&v, "since", req.Since, o.s.svc.Now()), KnownAt: knownAtFromProto(&v, "known_at", req.KnownAt, o.s.svc.Now()),
		Limit: int(req.Limit), DebtorKind: debtorKindFrom(&v, "debtor_kind", req.DebtorKind),
		RegionPrefix: strings.ToUpper(req.RegionPrefix), Currency: money.CodeUpper(req.Currency),
	}
	checkCurrency(&v, "currency", q.Currency)
	ledger.ValidateRegionPrefix(&v, "region_prefix", q.RegionPrefix)
	switch {
	case req.Limit < 0 || req.Limit > 500:
		v.Add("limit", "must be from 1 to 500, got %d", req.Limit)
	case req.Limit == 0:
		q.Limit = 20
	}
	if err := v.Err(); err != nil {
		return nil, o.s.fail(ctx, method, "", err)
	}
	if err := o.reportTimes(ctx, &q.AsOf, &q.KnownAt); err != nil {
		return nil, o.s.fail(ctx, method, "", err)
	}
	if q.Since.IsZero() {
		q.Since = q.AsOf.AddDays(-30)
	}
	entries, err := o.s.svc.WatchList(ctx, q)
	if err != nil {
		return nil, o.s.fail(ctx, method, "", err)
	}
	out := &arrearsv1.GetWatchListResponse{AsOf: dateToProto(q.AsOf), Since: dateToProto(q.Since), KnownAt: timestamppb.New(q.KnownAt)}
	for _, e := range entries {
		then := e.Then
		if then == nil {
			then = &service.SummaryGroup{}
		}
		out.Entries = append(out.Entries, &arrearsv1.WatchEntry{
			Debtor: partyName(e.Debtor.ID), DisplayName: e.Debtor.DisplayName, RegionCode: e.Debtor.RegionCode,
			Rank: int32(e.Rank), OverdueInvoices: e.Now.OverdueInvoices, Overdue: moneyToProto(e.Now.Overdue, e.Currency),
			OldestDaysOverdue: int32(e.Now.OldestDaysOverdue), MaxEscalationLevel: int32(e.Now.MaxLevel),
			RankSince: int32(e.RankSince), OverdueInvoicesSince: then.OverdueInvoices, OverdueSince: moneyToProto(then.Overdue, e.Currency),
			MaxEscalationLevelSince: int32(then.MaxLevel), OverdueChange: moneyToProto(e.Now.Overdue-then.Overdue, e.Currency),
		})
	}
	return out, nil
}

func (o *Oversight) GetAnnualDisclosure(ctx context.Context, req *arrearsv1.GetAnnualDisclosureRequest) (*arrearsv1.GetAnnualDisclosureResponse, error) {
	var v ledger.ValidationError
	ref := parsePartyName(&v, "debtor", req.Debtor)
	if req.Year < 2000 || req.Year > 9999 {
		v.Add("year", "must be a year from 2000, got %d", req.Year)
	}
	knownAt := knownAtFromProto(&v, "known_at", req.KnownAt, o.s.svc.Now())
	if err := v.Err(); err != nil {
		return nil, o.s.fail(ctx, "GetAnnualDisclosure", "", err)
	}
	ds, err := o.s.svc.AnnualDisclosure(ctx, ref, int(req.Year), knownAt)
	if err != nil {
		return nil, o.s.fail(ctx, "GetAnnualDisclosure", req.Debtor, err)
	}
	out := &arrearsv1.GetAnnualDisclosureResponse{}
	for _, d := range ds {
		out.Disclosures = append(out.Disclosures, &arrearsv1.AnnualDisclosure{Debtor: partyName(d.Debtor.ID), Year: int32(d.Year),
			AsOf: dateToProto(d.AsOf), Count: d.Count, Amount: moneyToProto(d.Amount, d.Currency), ContractCount: d.Contracts,
			KnownAt: timestamppb.New(d.KnownAt)})
	}
	return out, nil
}

func (o *Oversight) GetPaymentPracticeReport(ctx context.Context, req *arrearsv1.GetPaymentPracticeReportRequest) (*arrearsv1.GetPaymentPracticeReportResponse, error) {
	const method = "GetPaymentPracticeReport"
	var v ledger.ValidationError
	q := service.PracticeQuery{
		Debtor: parsePartyName(&v, "debtor", req.Debtor), From: dateFromProto(&v, "period_start", req.PeriodStart),
		To: judgedDateFromProto(&v, "period_end", req.PeriodEnd, o.s.svc.Now()), Bands: strings.ToUpper(req.Bands), KnownAt: knownAtFromProto(&v, "known_at", req.KnownAt, o.s.svc.Now()),
	}
	if req.PeriodStart == nil {
		v.Add("period_start", "is required")
	}
	if req.PeriodEnd == nil {
		v.Add("period_end", "is required")
	}
	if err := v.Err(); err != nil {
		return nil, o.s.fail(ctx, method, "", err)
	}
	rs, err := o.s.svc.PaymentPractice(ctx, q)
	if err != nil {
		return nil, o.s.fail(ctx, method, req.Debtor, err)
	}
	out := &arrearsv1.GetPaymentPracticeReportResponse{}
	for _, r := range rs {
		m := func(n int64) *arrearsv1.Money { return moneyToProto(n, r.Currency) }
		pr := &arrearsv1.PaymentPracticeReport{
			Debtor: partyName(r.Debtor.ID), PeriodStart: dateToProto(r.From), PeriodEnd: dateToProto(r.To),
			KnownAt: timestamppb.New(r.KnownAt), Payments: r.Payments, Amount: m(r.Amount),
			AverageDaysToPay: int32(shareOf(r.DaysToPaySum, r.Payments, 1)),
			LateCount:        r.LateCount, LateAmount: m(r.LateAmount),
			LateCountShareBp: int32(shareOf(r.LateCount, r.Payments, 10000)), LateValueShareBp: int32(shareOf(r.LateAmount, r.Amount, 10000)),
			DueCount: r.DueCount, DueAmount: m(r.DueAmount), NotWithinTermsCount: r.NotWithinTermsCount, NotWithinTermsAmount: m(r.NotWithinTermsAmount),
			NotWithinTermsCountShareBp: int32(shareOf(r.NotWithinTermsCount, r.DueCount, 10000)),
			NotWithinTermsValueShareBp: int32(shareOf(r.NotWithinTermsAmount, r.DueAmount, 10000)),
			LateDisputedCount:          r.LateDisputedCount, LateDisputedAmount: m(r.LateDisputedAmount),
			UnpaidPastDueCount: r.UnpaidPastDueCount, UnpaidPastDueAmount: m(r.UnpaidPastDueAmount),
			Contracts: r.Contracts, StandardTermDays: int32(r.StandardTermDays), LongestTermDays: int32(r.LongestTermDays),
			TermsOverCap: r.TermsOverCap,
		}
		// Shares of what the bands count: payments (UK), or invoices (AU).
		var count, amount int64
		for _, b := range r.Bands {
			count, amount = count+b.Count, amount+b.Amount
		}
		counts, amounts := make([]int64, len(r.Bands)), make([]int64, len(r.Bands))
		for i, b := range r.Bands {
			counts[i], amounts[i] = b.Count, b.Amount
		}
		countShares, valueShares := apportion(counts, count, 10000), apportion(amounts, amount, 10000)
		for i, b := range r.Bands {
			pr.Bands = append(pr.Bands, &arrearsv1.PracticeBand{Band: b.Band.Label, Count: b.Count, Amount: m(b.Amount),
				CountShareBp: int32(countShares[i]), ValueShareBp: int32(valueShares[i])})
		}
		out.Reports = append(out.Reports, pr)
	}
	return out, nil
}

// shareOf is n/of scaled by unit, rounded half up; 0 when of is 0. Sums
// of amounts can reach 10^18, so the product is taken in big integers.
func shareOf(n, of, unit int64) int64 {
	if of <= 0 {
		return 0
	}
	num := new(big.Int).Mul(big.NewInt(n), big.NewInt(2*unit))
	num.Add(num, big.NewInt(of))
	return num.Quo(num, new(big.Int).Mul(big.NewInt(of), big.NewInt(2))).Int64()
}

// apportion shares unit among parts (which sum to total) in proportion,
// by largest remainder: each part gets its share rounded down, and what
// that leaves of unit goes one each to the parts with the largest
// remainders (the earlier part on a tie). The shares sum to unit exactly
// whenever total is positive, as a report's bands must (rounding each
// half up gave 9,999 for three equal bands and 10,001 for 4:1:1); all are
// 0 when it is not.
func apportion(parts []int64, total, unit int64) []int64 {
	out := make([]int64, len(parts))
	if total <= 0 {
		return out
	}
	rems := make([]*big.Int, len(parts))
	left := unit
	for i, n := range parts {
		q, r := new(big.Int).QuoRem(new(big.Int).Mul(big.NewInt(n), big.NewInt(unit)), big.NewInt(total), new(big.Int))
		out[i], rems[i] = q.Int64(), r
		left -= out[i]
	}
	order := make([]int, len(parts))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return rems[b].Cmp(rems[a]) })
	for _, i := range order[:min(int(left), len(order))] {
		out[i]++
	}
	return out
}

// splitList reads a repeated string field whose values may also be
// comma-separated lists, as REST clients tend to write them
// (groupBy=region,currency as well as groupBy=region&groupBy=currency).
func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, part := range strings.Split(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

// checkCurrency checks an optional currency filter: a code no ledger amount
// can have would only ever match nothing.
func checkCurrency(v *ledger.ValidationError, field, code string) {
	if code != "" && !money.IsCurrency(code) {
		v.Add(field, "%q is not an ISO 4217 currency", code)
	}
}
