package grpcapi

import (
	"context"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	arrearsv1 "github.com/arrears/arrears/gen/arrears/v1"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/service"
)

// Oversight implements arrearsv1.OversightServiceServer.
type Oversight struct {
	arrearsv1.UnimplementedOversightServiceServer
	s *Server
}

// NewOversight returns the regulators' figures service.
func NewOversight(s *Server) *Oversight { return &Oversight{s: s} }

func bucketsToProto(m map[string]service.BucketTotal, currency string) []*arrearsv1.BucketTotal {
	var out []*arrearsv1.BucketTotal
	for _, name := range bucketNames {
		if b, ok := m[name]; ok {
			out = append(out, &arrearsv1.BucketTotal{Bucket: name, Count: b.Count, Amount: moneyToProto(b.Amount, currency)})
		}
	}
	return out
}

func (o *Oversight) GetOverdueSummary(ctx context.Context, req *arrearsv1.GetOverdueSummaryRequest) (*arrearsv1.GetOverdueSummaryResponse, error) {
	const method = "GetOverdueSummary"
	var v ledger.ValidationError
	q := service.SummaryQuery{
		AsOf: dateFromProto(&v, "as_of", req.AsOf), KnownAt: knownAtFromProto(&v, req.KnownAt), GroupBy: req.GroupBy,
		RegionDigits: int(req.RegionDigits), DebtorKind: ledger.PartyKind(strings.ToUpper(req.DebtorKind)),
		RegionPrefix: strings.ToUpper(req.RegionPrefix), Industry: strings.ToUpper(req.Industry),
		CreditorSize: ledger.SizeClass(strings.ToUpper(req.CreditorSize)), Currency: strings.ToUpper(req.Currency),
		MinOverdue: req.MinOverdueMinorUnits, MinLevel: int(req.MinEscalationLevel),
	}
	if q.DebtorKind != "" && !q.DebtorKind.Valid() {
		v.Add("debtor_kind", "must be LARGE_ENTERPRISE, PUBLIC_BODY, SME or REGULATOR")
	}
	if q.CreditorSize != "" && !q.CreditorSize.Valid() {
		v.Add("creditor_size", "must be MICRO, SMALL, MEDIUM or LARGE")
	}
	if req.RegionDigits < 0 {
		v.Add("region_digits", "must not be negative")
	}
	if err := v.Err(); err != nil {
		return nil, o.s.fail(ctx, method, "", err)
	}
	if q.AsOf.IsZero() {
		q.AsOf = o.s.svc.TodayUTC()
	}
	if q.KnownAt.IsZero() {
		q.KnownAt = o.s.svc.Now()
	}
	groups, err := o.s.svc.OverdueSummary(ctx, q)
	if err != nil {
		return nil, o.s.fail(ctx, method, "", err)
	}
	out := &arrearsv1.GetOverdueSummaryResponse{AsOf: dateToProto(q.AsOf), KnownAt: timestamppb.New(q.KnownAt)}
	for _, g := range groups {
		out.Groups = append(out.Groups, &arrearsv1.SummaryGroup{
			Key: g.Key, Invoices: g.Invoices, Outstanding: moneyToProto(g.Outstanding, g.Currency),
			Overdue: moneyToProto(g.Overdue, g.Currency), OverdueNet: moneyToProto(g.OverdueNet, g.Currency),
			Interest: moneyToProto(g.Interest, g.Currency), Buckets: bucketsToProto(g.Buckets, g.Currency),
			BucketsNet: bucketsToProto(g.BucketsNet, g.Currency),
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
	if err := v.Err(); err != nil {
		return nil, o.s.fail(ctx, "GetAnnualDisclosure", "", err)
	}
	ds, err := o.s.svc.AnnualDisclosure(ctx, ref, int(req.Year))
	if err != nil {
		return nil, o.s.fail(ctx, "GetAnnualDisclosure", req.Debtor, err)
	}
	out := &arrearsv1.GetAnnualDisclosureResponse{}
	for _, d := range ds {
		out.Disclosures = append(out.Disclosures, &arrearsv1.AnnualDisclosure{Debtor: partyName(d.Debtor.ID), Year: int32(d.Year),
			AsOf: dateToProto(d.AsOf), Count: d.Count, Amount: moneyToProto(d.Amount, d.Currency)})
	}
	return out, nil
}
