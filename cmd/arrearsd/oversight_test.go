package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"google.golang.org/protobuf/types/known/timestamppb"

	arrearsv1 "github.com/arrears/arrears/gen/arrears/v1"
	"github.com/arrears/arrears/internal/clock"
	"github.com/arrears/arrears/internal/money"
	"github.com/arrears/arrears/internal/policy"
	"github.com/arrears/arrears/internal/store/pgtest"
)

func TestOverdueSummarySQLite(t *testing.T) { overdueSummary(t, config{}) }
func TestOverdueSummaryPostgres(t *testing.T) {
	overdueSummary(t, config{DatabaseURL: pgtest.URL(t)})
}

// overdueSummary checks the regulators' figures on a small ledger whose
// totals are counted by hand (today is 20 November 2025):
//
//	A (large, 350100) -> S1  100,000.00 due 10 Oct   41 days  31-60
//	A -> S1                   50,000.00 due 28 Nov   not due
//	A -> S2                   30,000.00 due 10 Jun, 10,000.00 paid 1 Nov: 20,000.00, 163 days, 91-180
//	A -> L (not an SME)       70,000.00 due 10 Sep   71 days  61-90
//	B (public, 440300) -> S1  40,000.00 agreed 10 Oct, 15,000.00 disputed
//	B -> S2                   20,000.00 agreed 10 Oct, paid in full 5 Nov
//
// A's agreed dates stand (Decree 802's cap for large enterprises is soft).
// B is a public body: the hard cap of 60 days from delivery on 3 June
// replaces the agreed date, so B's invoices fell due on Saturday 2 August,
// moved to Monday 4 August: 108 days overdue, bucket 91-180, net 25,000.00.
func overdueSummary(t *testing.T, cfg config) {
	clk, conn, h, admin := oversightServer(t, cfg)
	party := func(name, body, region, industry string, kind arrearsv1.PartyKind, size arrearsv1.SizeClass) string {
		return createParty(t, admin, &arrearsv1.Party{DisplayName: name, Kind: kind, SizeClass: size,
			Jurisdiction: "CN", RegistrationId: uscc(body), RegionCode: region, IndustryCode: industry})
	}
	a := party("A", "91350100MA2QWK001", "350100", "C34", arrearsv1.PartyKind_PARTY_KIND_LARGE_ENTERPRISE, 0)
	b := party("B", "11440300MB0QWK002", "440300", "S92", arrearsv1.PartyKind_PARTY_KIND_PUBLIC_BODY, 0)
	s1 := party("S1", "92350121MA0QWK003", "350121", "C33", arrearsv1.PartyKind_PARTY_KIND_SME, arrearsv1.SizeClass_SIZE_CLASS_SMALL)
	s2 := party("S2", "92350121MA0QWK004", "350121", "C33", arrearsv1.PartyKind_PARTY_KIND_SME, arrearsv1.SizeClass_SIZE_CLASS_MEDIUM)
	l := party("L", "91350121MA0QWK005", "350121", "C33", arrearsv1.PartyKind_PARTY_KIND_LARGE_ENTERPRISE, 0)
	inv := func(d, c, ref string, amount int64, due *arrearsv1.Date) string {
		var r arrearsv1.CreateInvoiceResponse
		contract := "HT-" + ref
		if ref == "OV-1" || ref == "OV-2" || ref == "OV-3" {
			contract = "HT-A" // two invoices of S1's HT-A, one of S2's
		}
		call(t, admin, "CreateInvoice", &arrearsv1.CreateInvoiceRequest{Invoice: &arrearsv1.Invoice{Debtor: d, Creditor: c, DocumentRef: ref, ContractRef: contract,
			Amount: cny(amount), ContractSignedOn: date(2025, 6, 2), IssuedOn: date(2025, 6, 3), DeliveredOn: date(2025, 6, 3), AgreedDueDate: due}}, &r)
		return r.Invoice.Name
	}
	inv(a, s1, "OV-1", 10000000, date(2025, 10, 10))
	inv(a, s1, "OV-2", 5000000, date(2025, 11, 28))
	a3 := inv(a, s2, "OV-3", 3000000, date(2025, 6, 10))
	inv(a, l, "OV-4", 7000000, date(2025, 9, 10))
	b1 := inv(b, s1, "OV-5", 4000000, date(2025, 10, 10))
	b2 := inv(b, s2, "OV-6", 2000000, date(2025, 10, 10))
	call(t, admin, "RecordPayment", &arrearsv1.RecordPaymentRequest{Parent: a3, Payment: &arrearsv1.Payment{Amount: cny(1000000), PaidOn: date(2025, 11, 1), Reference: "OV-P3"}}, &arrearsv1.RecordPaymentResponse{})
	call(t, admin, "RecordPayment", &arrearsv1.RecordPaymentRequest{Parent: b2, Payment: &arrearsv1.Payment{Amount: cny(2000000), PaidOn: date(2025, 11, 5), Reference: "OV-P6"}}, &arrearsv1.RecordPaymentResponse{})
	call(t, admin, "OpenDispute", &arrearsv1.OpenDisputeRequest{Parent: b1, Dispute: &arrearsv1.Dispute{Amount: cny(1500000), Reason: "quality", OpenedOn: date(2025, 10, 1)}}, &arrearsv1.OpenDisputeResponse{})

	var sum arrearsv1.GetOverdueSummaryResponse
	call(t, admin, "GetOverdueSummary", &arrearsv1.GetOverdueSummaryRequest{AsOf: date(2025, 11, 20), GroupBy: []string{"debtor_kind"}, IncludeDetail: true}, &sum)
	// Without detail the same figures come from the aggregates.
	sameWithoutDetail(t, admin, &arrearsv1.GetOverdueSummaryRequest{AsOf: date(2025, 11, 20), GroupBy: []string{"debtor_kind"}}, &sum)
	var fast arrearsv1.GetOverdueSummaryResponse
	call(t, admin, "GetOverdueSummary", &arrearsv1.GetOverdueSummaryRequest{AsOf: date(2025, 11, 20), GroupBy: []string{"debtor_kind"}}, &fast)
	if fast.DetailIncluded || fast.Groups[0].Interest != nil {
		t.Errorf("a summary by debtor kind without detail was judged invoice by invoice: %v", &fast)
	}
	if len(sum.Groups) != 2 {
		t.Fatalf("groups = %v", sum.Groups)
	}
	large, public := sum.Groups[0], sum.Groups[1]
	if large.Key["debtor_kind"] != "LARGE_ENTERPRISE" || large.Invoices != 4 || large.Outstanding.MinorUnits != 24000000 || large.Overdue.MinorUnits != 19000000 {
		t.Errorf("large enterprises = %v", large)
	}
	wantBuckets := map[string]int64{"NOT_DUE": 5000000, "31-60": 10000000, "61-90": 7000000, "91-180": 2000000}
	for _, bt := range large.Buckets {
		if wantBuckets[bt.Bucket] != bt.Amount.MinorUnits || bt.Count != 1 {
			t.Errorf("large bucket %s = %d x %d", bt.Bucket, bt.Count, bt.Amount.MinorUnits)
		}
	}
	if len(large.Buckets) != 4 {
		t.Errorf("large buckets = %v", large.Buckets)
	}
	if public.Key["debtor_kind"] != "PUBLIC_BODY" || public.Invoices != 1 || public.Overdue.MinorUnits != 4000000 || public.OverdueNet.MinorUnits != 2500000 ||
		len(public.BucketsNet) != 1 || public.BucketsNet[0].Bucket != "91-180" || public.BucketsNet[0].Amount.MinorUnits != 2500000 {
		t.Errorf("public bodies = %v", public)
	}
	// Interest is the sum of the invoices' own rounded interest.
	var list arrearsv1.ListInvoicesResponse
	call(t, admin, "ListInvoices", &arrearsv1.ListInvoicesRequest{AsOf: date(2025, 11, 20), Filter: `debtor = "` + a + `"`}, &list)
	var interest int64
	for _, i := range list.Invoices {
		interest += i.Judgement.Interest.GetMinorUnits()
	}
	if interest == 0 || large.Interest.MinorUnits != interest {
		t.Errorf("summary interest %d, sum of the invoices' %d", large.Interest.MinorUnits, interest)
	}

	// As of 31 October the later payments had not been made.
	call(t, admin, "GetOverdueSummary", &arrearsv1.GetOverdueSummaryRequest{AsOf: date(2025, 10, 31), GroupBy: []string{"debtor_kind"}}, &sum)
	if sum.DetailIncluded {
		t.Error("a past as_of was judged invoice by invoice")
	}
	for _, g := range sum.Groups {
		if g.Key["debtor_kind"] == "PUBLIC_BODY" && (g.Invoices != 2 || g.Outstanding.MinorUnits != 6000000) {
			t.Errorf("public bodies as of 31 October = %v", g)
		}
		if g.Key["debtor_kind"] == "LARGE_ENTERPRISE" && g.Outstanding.MinorUnits != 25000000 {
			t.Errorf("large enterprises as of 31 October = %v", g)
		}
	}

	// By region and creditor size, with filters.
	call(t, admin, "GetOverdueSummary", &arrearsv1.GetOverdueSummaryRequest{AsOf: date(2025, 11, 20), GroupBy: []string{"region", "creditor_size"},
		RegionDigits: 2, RegionPrefix: "35", MinOverdueMinorUnits: 1}, &sum)
	got := map[string]int64{}
	for _, g := range sum.Groups {
		got[g.Key["region"]+"/"+g.Key["creditor_size"]] = g.Overdue.MinorUnits
	}
	if len(got) != 3 || got["35/SMALL"] != 10000000 || got["35/MEDIUM"] != 2000000 || got["35/LARGE"] != 7000000 {
		t.Errorf("by region and creditor size: %v", got)
	}
	expect(t, admin, "GetOverdueSummary", &arrearsv1.GetOverdueSummaryRequest{GroupBy: []string{"colour"}}, &arrearsv1.GetOverdueSummaryResponse{}, codes.InvalidArgument, "group_by")
	// A grouping asked twice, and a cut of a region not grouped by, are
	// refused rather than taken silently.
	expect(t, admin, "GetOverdueSummary", &arrearsv1.GetOverdueSummaryRequest{GroupBy: []string{"region,region"}}, &arrearsv1.GetOverdueSummaryResponse{}, codes.InvalidArgument, "group_by")
	expect(t, admin, "GetOverdueSummary", &arrearsv1.GetOverdueSummaryRequest{GroupBy: []string{"debtor"}, RegionDigits: 2}, &arrearsv1.GetOverdueSummaryResponse{}, codes.InvalidArgument, "region_digits")
	expect(t, admin, "GetOverdueSummary", &arrearsv1.GetOverdueSummaryRequest{Currency: "XYZ", MinOverdueMinorUnits: -5, MinEscalationLevel: -1},
		&arrearsv1.GetOverdueSummaryResponse{}, codes.InvalidArgument, "currency", "min_overdue_minor_units", "min_escalation_level")
	expect(t, admin, "GetWatchList", &arrearsv1.GetWatchListRequest{Currency: "XYZ"}, &arrearsv1.GetWatchListResponse{}, codes.InvalidArgument, "currency")
	// What will be known later is not known yet; a clock a little ahead
	// of the server's is read as now.
	later := timestamppb.New(clk.Now().Add(time.Hour))
	expect(t, admin, "GetOverdueSummary", &arrearsv1.GetOverdueSummaryRequest{KnownAt: later}, &arrearsv1.GetOverdueSummaryResponse{}, codes.InvalidArgument, "known_at")
	expect(t, admin, "GetWatchList", &arrearsv1.GetWatchListRequest{KnownAt: later}, &arrearsv1.GetWatchListResponse{}, codes.InvalidArgument, "known_at")
	expect(t, admin, "ListInvoices", &arrearsv1.ListInvoicesRequest{KnownAt: later}, &arrearsv1.ListInvoicesResponse{}, codes.InvalidArgument, "known_at")
	// The zero time (0001-01-01T00:00:00Z) is not read as now.
	epoch0 := timestamppb.New(time.Time{})
	expect(t, admin, "GetWatchList", &arrearsv1.GetWatchListRequest{KnownAt: epoch0}, &arrearsv1.GetWatchListResponse{}, codes.InvalidArgument, "known_at")
	expect(t, admin, "ListInvoices", &arrearsv1.ListInvoicesRequest{KnownAt: epoch0}, &arrearsv1.ListInvoicesResponse{}, codes.InvalidArgument, "known_at")
	expect(t, admin, "GetInvoice", &arrearsv1.GetInvoiceRequest{Name: list.Invoices[0].Name, KnownAt: epoch0}, &arrearsv1.GetInvoiceResponse{}, codes.InvalidArgument, "known_at")
	var ahead arrearsv1.GetOverdueSummaryResponse
	call(t, admin, "GetOverdueSummary", &arrearsv1.GetOverdueSummaryRequest{KnownAt: timestamppb.New(clk.Now().Add(30 * time.Second))}, &ahead)
	if !ahead.KnownAt.AsTime().Equal(clk.Now()) {
		t.Errorf("known_at 30 s ahead answered as known at %v, want now (%v)", ahead.KnownAt.AsTime(), clk.Now())
	}
	expect(t, admin, "ListInvoices", &arrearsv1.ListInvoicesRequest{Filter: "currency = XYZ"}, &arrearsv1.ListInvoicesResponse{}, codes.InvalidArgument, "filter")
	expect(t, admin, "ListInvoices", &arrearsv1.ListInvoicesRequest{Filter: "document_ref = \"A\x00\""}, &arrearsv1.ListInvoicesResponse{}, codes.InvalidArgument, "filter")
	expect(t, admin, "ListInvoices", &arrearsv1.ListInvoicesRequest{Filter: "due_date > 0000-01-01"}, &arrearsv1.ListInvoicesResponse{}, codes.InvalidArgument, "filter")
	expect(t, admin, "ListComplaints", &arrearsv1.ListComplaintsRequest{Filter: "state = SUBMITED"}, &arrearsv1.ListComplaintsResponse{}, codes.InvalidArgument, "filter")
	expect(t, admin, "ListClaims", &arrearsv1.ListClaimsRequest{Filter: "state = IN_HANDLING"}, &arrearsv1.ListClaimsResponse{}, codes.InvalidArgument, "filter")
	var byCurrency arrearsv1.ListInvoicesResponse
	expect(t, admin, "ListInvoices", &arrearsv1.ListInvoicesRequest{Filter: "currency = cny"}, &byCurrency, codes.OK)
	if len(byCurrency.Invoices) == 0 {
		t.Error("ListInvoices(currency = cny) found nothing")
	}

	// A regulator sees its remit only.
	var k arrearsv1.CreateApiKeyResponse
	call(t, admin, "CreateApiKey", &arrearsv1.CreateApiKeyRequest{ApiKey: &arrearsv1.ApiKey{Role: arrearsv1.Role_ROLE_REGULATOR, RemitJurisdiction: "CN", RemitRegionPrefix: "44"}}, &k)
	call(t, &grpcTransport{conn: conn, token: k.Token}, "GetOverdueSummary", &arrearsv1.GetOverdueSummaryRequest{AsOf: date(2025, 11, 20), GroupBy: []string{"debtor"}}, &sum)
	if len(sum.Groups) != 1 || sum.Groups[0].Key["debtor"] != b {
		t.Errorf("regulator of 44 sees %v", sum.Groups)
	}

	// The export streams the same groups over gRPC and as CSV.
	exportMatches(t, conn, admin.token, "http://"+h, &arrearsv1.GetOverdueSummaryRequest{AsOf: date(2025, 11, 20), GroupBy: []string{"debtor", "creditor_size"}})
	exportMatches(t, conn, k.Token, "http://"+h, &arrearsv1.GetOverdueSummaryRequest{AsOf: date(2025, 11, 20), GroupBy: []string{"region"}})
	// The export names a bad field by its path in the export's request.
	sctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+admin.token)
	bad, err := arrearsv1.NewOversightServiceClient(conn).ExportOverdueSummary(sctx, &arrearsv1.ExportOverdueSummaryRequest{Query: &arrearsv1.GetOverdueSummaryRequest{
		KnownAt: timestamppb.New(clk.Now().Add(time.Hour))}})
	if err == nil {
		_, err = bad.Recv()
	}
	if got := fieldsOf(err); status.Code(err) != codes.InvalidArgument || got != "query.known_at" {
		t.Errorf("an export known at an hour ahead: %v (fields %q), want query.known_at", err, got)
	}

	// The watch list, against 21 October (30 days back): A then owed
	// 200,000.00 overdue on 3 invoices (the 10,000.00 payment came on
	// 1 November), B 60,000.00 on 2 (paid on 5 November).
	var maxLevelA int32
	for _, i := range list.Invoices {
		maxLevelA = max(maxLevelA, i.Judgement.EscalationLevel)
	}
	var watch arrearsv1.GetWatchListResponse
	for _, tr := range []transport{admin, &restTransport{base: "http://" + h, token: admin.token}} {
		call(t, tr, "GetWatchList", &arrearsv1.GetWatchListRequest{AsOf: date(2025, 11, 20)}, &watch)
		if len(watch.Entries) != 2 || watch.Since.GetDay() != 21 || watch.Since.GetMonth() != 10 {
			t.Fatalf("watch list = %v", &watch)
		}
		wa, wb := watch.Entries[0], watch.Entries[1]
		if wa.Debtor != a || wa.Rank != 1 || wa.OverdueInvoices != 3 || wa.Overdue.MinorUnits != 19000000 || wa.OldestDaysOverdue != 163 ||
			wa.MaxEscalationLevel != maxLevelA || maxLevelA == 0 || wa.RankSince != 1 || wa.OverdueInvoicesSince != 3 ||
			wa.OverdueSince.MinorUnits != 20000000 || wa.OverdueChange.MinorUnits != -1000000 || wa.DisplayName != "A" {
			t.Errorf("watch list A = %v", wa)
		}
		if wb.Debtor != b || wb.Rank != 2 || wb.OverdueInvoices != 1 || wb.Overdue.MinorUnits != 4000000 || wb.OldestDaysOverdue != 108 ||
			wb.RankSince != 2 || wb.OverdueInvoicesSince != 2 || wb.OverdueSince.MinorUnits != 6000000 || wb.OverdueChange.MinorUnits != -2000000 {
			t.Errorf("watch list B = %v", wb)
		}
	}
	// The CSV export of the watch list holds the same rows.
	rows := csvGet(t, "http://"+h+"/v1/watchList:export?asOf.year=2025&asOf.month=11&asOf.day=20", admin.token)
	if len(rows) != 2 || rows[0]["debtor"] != a || rows[0]["rank"] != "1" || rows[0]["overdue"] != "190000.00" || rows[0]["overdue_change"] != "-10000.00" ||
		rows[0]["oldest_days_overdue"] != "163" || rows[1]["debtor"] != b || rows[1]["overdue_since"] != "60000.00" || rows[1]["since"] != "2025-10-21" {
		t.Errorf("watch list CSV = %v", rows)
	}
	call(t, admin, "GetWatchList", &arrearsv1.GetWatchListRequest{AsOf: date(2025, 11, 20), Limit: 1}, &watch)
	if len(watch.Entries) != 1 || watch.Entries[0].Debtor != a {
		t.Errorf("watch list of 1 = %v", watch.Entries)
	}
	call(t, &grpcTransport{conn: conn, token: k.Token}, "GetWatchList", &arrearsv1.GetWatchListRequest{AsOf: date(2025, 11, 20)}, &watch)
	if len(watch.Entries) != 1 || watch.Entries[0].Debtor != b || watch.Entries[0].Rank != 1 {
		t.Errorf("regulator of 44's watch list = %v", watch.Entries)
	}
	expect(t, admin, "GetWatchList", &arrearsv1.GetWatchListRequest{AsOf: date(2025, 11, 20), Since: date(2025, 11, 21)}, &arrearsv1.GetWatchListResponse{}, codes.InvalidArgument, "since")
	expect(t, admin, "GetWatchList", &arrearsv1.GetWatchListRequest{Limit: 501}, &arrearsv1.GetWatchListResponse{}, codes.InvalidArgument, "limit")

	// The year-end disclosure: overdue SME debts on 31 December 2025, once
	// the year has ended (in the debtor's zone); three invoices of two
	// contracts.
	expect(t, admin, "GetAnnualDisclosure", &arrearsv1.GetAnnualDisclosureRequest{Debtor: a, Year: 2025}, &arrearsv1.GetAnnualDisclosureResponse{}, codes.InvalidArgument, "year")
	clk.Advance(time.Date(2025, 12, 31, 16, 0, 0, 0, time.UTC).Sub(clk.Now())) // 1 January 2026 in Beijing
	var disc arrearsv1.GetAnnualDisclosureResponse
	call(t, admin, "GetAnnualDisclosure", &arrearsv1.GetAnnualDisclosureRequest{Debtor: a, Year: 2025}, &disc)
	if len(disc.Disclosures) != 1 || disc.Disclosures[0].Count != 3 || disc.Disclosures[0].ContractCount != 2 || disc.Disclosures[0].Amount.MinorUnits != 17000000 {
		t.Errorf("disclosure = %v", disc.Disclosures)
	}
	if rows := csvGet(t, "http://"+h+"/v1/"+a+"/annualDisclosure:export?year=2025", admin.token); len(rows) != 1 ||
		rows[0]["count"] != "3" || rows[0]["contract_count"] != "2" || rows[0]["amount"] != "170000.00" || rows[0]["as_of"] != "2025-12-31" || rows[0]["currency"] != "CNY" {
		t.Errorf("disclosure CSV = %v", rows)
	}
	expect(t, &grpcTransport{conn: conn, token: k.Token}, "GetAnnualDisclosure", &arrearsv1.GetAnnualDisclosureRequest{Debtor: a, Year: 2025}, &arrearsv1.GetAnnualDisclosureResponse{}, codes.NotFound)
	expect(t, admin, "GetAnnualDisclosure", &arrearsv1.GetAnnualDisclosureRequest{Debtor: s1, Year: 2025}, &arrearsv1.GetAnnualDisclosureResponse{}, codes.FailedPrecondition)

	// Pages of one summary are one snapshot: a payment recorded between
	// them does not show on the second page, nor shift the groups. By
	// debtor alone, from the aggregates: the later pages are cut from the
	// first's groups, not judged invoice by invoice for the changes
	// recorded since (detail_included stays as the first page had it).
	for _, tr := range []transport{admin, &restTransport{base: "http://" + h, token: admin.token}} {
		for _, groupBy := range [][]string{{"debtor", "creditor_size"}, {"debtor"}} {
			var whole, page arrearsv1.GetOverdueSummaryResponse
			req := &arrearsv1.GetOverdueSummaryRequest{AsOf: date(2025, 11, 20), GroupBy: groupBy}
			call(t, tr, "GetOverdueSummary", req, &whole)
			if len(whole.Groups) < 2 || whole.NextPageToken != "" {
				t.Fatalf("whole summary by %v: %d groups, token %q", groupBy, len(whole.Groups), whole.NextPageToken)
			}
			req.PageSize = int32(len(whole.Groups) - 1)
			call(t, tr, "GetOverdueSummary", req, &page)
			got, detailed := page.Groups, page.DetailIncluded
			clk.Advance(time.Minute)
			call(t, admin, "RecordPayment", &arrearsv1.RecordPaymentRequest{Parent: b1, Payment: &arrearsv1.Payment{Amount: cny(100000),
				PaidOn: date(2025, 11, 20), Reference: "OV-PAGE-" + fmt.Sprint(clk.Now().Unix())}}, &arrearsv1.RecordPaymentResponse{})
			for page.NextPageToken != "" {
				req.PageToken = page.NextPageToken
				page.Reset()
				call(t, tr, "GetOverdueSummary", req, &page)
				got = append(got, page.Groups...)
				if page.DetailIncluded != detailed {
					t.Errorf("by %v: a later page has detail_included %v, the first %v", groupBy, page.DetailIncluded, detailed)
				}
			}
			if len(got) != len(whole.Groups) {
				t.Fatalf("paged %d groups, whole %d", len(got), len(whole.Groups))
			}
			for i := range got {
				if !proto.Equal(got[i], whole.Groups[i]) {
					t.Errorf("page group %d = %v, want %v", i, got[i], whole.Groups[i])
				}
			}
			// The token is bound to its query.
			req.GroupBy = []string{"region"}
			expect(t, tr, "GetOverdueSummary", req, &arrearsv1.GetOverdueSummaryResponse{}, codes.InvalidArgument, "page_token")
		}
	}

	// A first page is computed afresh, not cut from the groups an earlier
	// request with the same as_of and known_at kept for its later pages.
	first := func() *arrearsv1.SummaryGroup {
		t.Helper()
		var page arrearsv1.GetOverdueSummaryResponse
		call(t, admin, "GetOverdueSummary", &arrearsv1.GetOverdueSummaryRequest{AsOf: date(2025, 11, 20), GroupBy: []string{"debtor"}, PageSize: 1}, &page)
		if len(page.Groups) != 1 || page.NextPageToken == "" {
			t.Fatalf("first page by debtor: %d groups, token %q", len(page.Groups), page.NextPageToken)
		}
		return page.Groups[0]
	}
	before := first()
	call(t, admin, "RecordPayment", &arrearsv1.RecordPaymentRequest{Parent: a3, Payment: &arrearsv1.Payment{Amount: cny(100000),
		PaidOn: date(2025, 11, 20), Reference: "OV-FRESH"}}, &arrearsv1.RecordPaymentResponse{})
	if after := first(); proto.Equal(after, before) {
		t.Errorf("a first page after a payment, at the same instant, shows the groups from before it: %v", after)
	}

	// "Today" is the caller's: at 01:00 in Beijing on 21 November, a
	// regulator of Chinese debtors judges as of the 21st, an operator (UTC)
	// as of the 20th.
	clk.Set(time.Date(2025, 11, 20, 17, 0, 0, 0, time.UTC))
	for _, tc := range []struct {
		token string
		day   int32
	}{{k.Token, 21}, {admin.token, 20}} {
		var def arrearsv1.GetOverdueSummaryResponse
		call(t, &grpcTransport{conn: conn, token: tc.token}, "GetOverdueSummary", &arrearsv1.GetOverdueSummaryRequest{}, &def)
		if def.AsOf.GetDay() != tc.day {
			t.Errorf("default as_of = %v, want November %d", def.AsOf, tc.day)
		}
	}
}

// exportMatches checks that ExportOverdueSummary streams the groups that
// GetOverdueSummary returns, and that the CSV export has the same rows and
// totals, to the cent.
// sameWithoutDetail checks that the summary without detail (read from the
// aggregates where the request allows) has the groups, counts and amounts
// of the detailed one, judged invoice by invoice.
func sameWithoutDetail(t *testing.T, tr transport, req *arrearsv1.GetOverdueSummaryRequest, detailed *arrearsv1.GetOverdueSummaryResponse) {
	t.Helper()
	req = proto.Clone(req).(*arrearsv1.GetOverdueSummaryRequest)
	req.IncludeDetail = false
	var fast arrearsv1.GetOverdueSummaryResponse
	call(t, tr, "GetOverdueSummary", req, &fast)
	if len(fast.Groups) != len(detailed.Groups) {
		t.Fatalf("without detail %d groups, with %d", len(fast.Groups), len(detailed.Groups))
	}
	// Without the detail asked for, it is not given, whether the groups
	// came from the aggregates or were judged.
	if fast.DetailIncluded {
		t.Error("detail included though not asked for")
	}
	for i, g := range detailed.Groups {
		g = proto.Clone(g).(*arrearsv1.SummaryGroup)
		g.Interest, g.OldestDaysOverdue, g.MaxEscalationLevel = nil, 0, 0
		if !proto.Equal(fast.Groups[i], g) {
			t.Errorf("group %d without detail: %v, want %v", i, fast.Groups[i], g)
		}
	}
}

func exportMatches(t *testing.T, conn *grpc.ClientConn, token, base string, req *arrearsv1.GetOverdueSummaryRequest) {
	t.Helper()
	var want arrearsv1.GetOverdueSummaryResponse
	req = proto.Clone(req).(*arrearsv1.GetOverdueSummaryRequest)
	req.IncludeDetail = true // an export carries the detail
	call(t, &grpcTransport{conn: conn, token: token}, "GetOverdueSummary", req, &want)
	if !want.DetailIncluded {
		t.Fatal("include_detail: detail not included")
	}
	sameWithoutDetail(t, &grpcTransport{conn: conn, token: token}, req, &want)
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token)
	stream, err := arrearsv1.NewOversightServiceClient(conn).ExportOverdueSummary(ctx, &arrearsv1.ExportOverdueSummaryRequest{Query: req})
	if err != nil {
		t.Fatal(err)
	}
	var streamed []*arrearsv1.SummaryGroup
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("ExportOverdueSummary: %v", err)
		}
		streamed = append(streamed, msg.Groups...)
	}
	if len(streamed) != len(want.Groups) || len(want.Groups) == 0 {
		t.Fatalf("streamed %d groups, GetOverdueSummary %d", len(streamed), len(want.Groups))
	}
	for i := range streamed {
		if !proto.Equal(streamed[i], want.Groups[i]) {
			t.Errorf("group %d: streamed %v, want %v", i, streamed[i], want.Groups[i])
		}
	}

	u := fmt.Sprintf("%s/v1/overdueSummary:export?bom=true&asOf.year=%d&asOf.month=%d&asOf.day=%d&groupBy=%s",
		base, req.AsOf.Year, req.AsOf.Month, req.AsOf.Day, strings.Join(req.GroupBy, "&groupBy="))
	hreq, _ := http.NewRequest("GET", u, nil)
	hreq.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(hreq)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" || !bytes.HasPrefix(raw, []byte("\uFEFF")) {
		t.Fatalf("CSV export: HTTP %d %s: %.200s", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(raw, []byte("\uFEFF")))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(want.Groups)+1 {
		t.Fatalf("CSV has %d rows, want a header and %d", len(rows), len(want.Groups))
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	for i, g := range want.Groups {
		row := rows[i+1]
		cur := g.Outstanding.CurrencyCode
		for _, f := range []struct {
			name string
			want *arrearsv1.Money
		}{{"outstanding", g.Outstanding}, {"overdue", g.Overdue}, {"overdue_net", g.OverdueNet}, {"interest", g.Interest}} {
			m, err := money.Parse(cur + " " + row[col[f.name]])
			if err != nil || m.Minor != f.want.GetMinorUnits() {
				t.Errorf("CSV row %d %s = %q, API %d", i, f.name, row[col[f.name]], f.want.GetMinorUnits())
			}
		}
		for _, b := range g.Buckets {
			if row[col["bucket_"+b.Bucket+"_count"]] != fmt.Sprint(b.Count) {
				t.Errorf("CSV row %d bucket %s count %q, API %d", i, b.Bucket, row[col["bucket_"+b.Bucket+"_count"]], b.Count)
			}
		}
		for _, d := range req.GroupBy {
			if row[col[d]] != g.Key[d] {
				t.Errorf("CSV row %d %s = %q, API %q", i, d, row[col[d]], g.Key[d])
			}
		}
		if row[col["as_of"]] != "2025-11-20" || row[col["currency"]] != cur || row[col["invoices"]] != fmt.Sprint(g.Invoices) {
			t.Errorf("CSV row %d = %v", i, row)
		}
		for name, v := range map[string]any{"overdue_invoices": g.OverdueInvoices, "oldest_days_overdue": g.OldestDaysOverdue, "max_escalation_level": g.MaxEscalationLevel} {
			if c, ok := col[name]; !ok || row[c] != fmt.Sprint(v) {
				t.Errorf("CSV row %d %s = %q, API %v", i, name, row[c], v)
			}
		}
	}

	// Without a key: 401; a bad parameter: 400 naming it, as JSON.
	resp, err = http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("CSV export without a key: HTTP %d", resp.StatusCode)
	}
	hreq, _ = http.NewRequest("GET", base+"/v1/overdueSummary:export?groupBy=colour", nil)
	hreq.Header.Set("Authorization", "Bearer "+token)
	resp, err = http.DefaultClient.Do(hreq)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(raw), `"field":"group_by"`) {
		t.Errorf("CSV export with a bad group: HTTP %d %s", resp.StatusCode, raw)
	}
}

// csvGet downloads a CSV export and returns its rows by column name.
func csvGet(t *testing.T, url, token string) []map[string]string {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: HTTP %d %s", url, resp.StatusCode, raw)
	}
	recs, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil || len(recs) == 0 {
		t.Fatalf("GET %s: %v, %d records", url, err, len(recs))
	}
	var out []map[string]string
	for _, rec := range recs[1:] {
		row := map[string]string{}
		for i, name := range recs[0] {
			row[name] = rec[i]
		}
		out = append(out, row)
	}
	return out
}

// oversightServer starts arrearsd on cfg with a fake clock at now and
// returns the clock, a gRPC connection, the HTTP address and an admin
// caller over gRPC.
func oversightServer(t *testing.T, cfg config) (*clock.Fake, *grpc.ClientConn, string, *grpcTransport) {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	clk := clock.NewFake(now)
	g, h := startServer(t, cfg, clk)
	conn, err := grpc.NewClient(g, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return clk, conn, h, &grpcTransport{conn: conn, token: adminToken(t, cfg.DataDir)}
}

// createParty registers p and returns its name.
func createParty(t *testing.T, tr transport, p *arrearsv1.Party) string {
	t.Helper()
	var r arrearsv1.CreatePartyResponse
	call(t, tr, "CreateParty", &arrearsv1.CreatePartyRequest{Party: p}, &r)
	return r.Party.Name
}

// TestBucketsOnTheAPIsEdges: an invoice under a deployment's policy with
// its own bucket edges is shown, filtered and summarized in the buckets the
// API names (the default edges), the same bucket everywhere.
func TestBucketsOnTheAPIsEdges(t *testing.T) {
	reg, err := policy.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	base, ok := reg.Lookup(policy.IDCN802LargeEnterprise, 1)
	if !ok {
		t.Fatal("no CN-802 policy")
	}
	custom := *base
	custom.ID, custom.Version, custom.BucketEdges = "TEST-EDGES", 1, []int{15, 45, 90}
	b, err := json.Marshal(map[string]any{"policies": []policy.Policy{custom}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "edges.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, _, admin := oversightServer(t, config{DataDir: dir, PolicyFile: file})
	d := createParty(t, admin, &arrearsv1.Party{DisplayName: "D", Kind: arrearsv1.PartyKind_PARTY_KIND_LARGE_ENTERPRISE, Jurisdiction: "CN",
		RegistrationId: uscc("91350100MA2EDG001"), RegionCode: "350100"})
	s := createParty(t, admin, &arrearsv1.Party{DisplayName: "S", Kind: arrearsv1.PartyKind_PARTY_KIND_SME, SizeClass: arrearsv1.SizeClass_SIZE_CLASS_SMALL,
		Jurisdiction: "CN", RegistrationId: uscc("92350121MA0EDG002"), RegionCode: "350121"})
	// Due 2025-09-19, 62 days overdue on 2025-11-20: "46-90" on the
	// policy's edges, "61-90" on the API's.
	var created arrearsv1.CreateInvoiceResponse
	call(t, admin, "CreateInvoice", &arrearsv1.CreateInvoiceRequest{Invoice: &arrearsv1.Invoice{Debtor: d, Creditor: s, DocumentRef: "EDG-1",
		Amount: cny(500000), ContractSignedOn: date(2025, 7, 1), IssuedOn: date(2025, 7, 21), DeliveredOn: date(2025, 7, 21),
		AgreedDueDate: date(2025, 9, 19), Policy: "TEST-EDGES@1"}}, &created)
	var got arrearsv1.GetInvoiceResponse
	call(t, admin, "GetInvoice", &arrearsv1.GetInvoiceRequest{Name: created.Invoice.Name, AsOf: date(2025, 11, 20)}, &got)
	if j := got.Invoice.Judgement; j.DaysOverdue != 62 || j.Bucket != "61-90" || j.BucketNet != "61-90" {
		t.Errorf("shown: %d days overdue, bucket %s / %s; want 62, 61-90", j.DaysOverdue, j.Bucket, j.BucketNet)
	}
	var list arrearsv1.ListInvoicesResponse
	call(t, admin, "ListInvoices", &arrearsv1.ListInvoicesRequest{Filter: "bucket = 61-90", AsOf: date(2025, 11, 20)}, &list)
	if len(list.Invoices) != 1 {
		t.Errorf("filtered by bucket 61-90: %d invoices, want the one", len(list.Invoices))
	}
}

// TestPortalSummaryPagesFollowItsGrants: a portal reading a summary page by
// page loses a supplier's debts at once when the supplier withdraws its
// authorisation, on the pages it has still to read too (they were cut from
// groups kept since the first page).
func TestPortalSummaryPagesFollowItsGrants(t *testing.T) {
	f := newSyncFixture(t, config{})
	admin := &grpcTransport{conn: f.conn, token: f.admin}
	key := func(k *arrearsv1.ApiKey) *grpcTransport {
		var r arrearsv1.CreateApiKeyResponse
		call(t, admin, "CreateApiKey", &arrearsv1.CreateApiKeyRequest{ApiKey: k}, &r)
		return &grpcTransport{conn: f.conn, token: r.Token}
	}
	var s arrearsv1.CreatePartyResponse
	call(t, admin, "CreateParty", &arrearsv1.CreatePartyRequest{Party: &arrearsv1.Party{DisplayName: "S", Kind: arrearsv1.PartyKind_PARTY_KIND_SME,
		SizeClass: arrearsv1.SizeClass_SIZE_CLASS_SMALL, Jurisdiction: "CN", RegistrationId: uscc("92350121MA0PWG001"), RegionCode: "350121"}}, &s)
	for i, erp := range []string{f.erp, f.other} {
		debtor := []string{f.debtor, f.debtor2}[i]
		call(t, &grpcTransport{conn: f.conn, token: erp}, "CreateInvoice", &arrearsv1.CreateInvoiceRequest{Invoice: &arrearsv1.Invoice{Debtor: debtor,
			Creditor: s.Party.Name, DocumentRef: fmt.Sprintf("PSG-%d", i), Amount: cny(1000000), IssuedOn: date(2025, 7, 1), DeliveredOn: date(2025, 7, 1),
			AgreedTermDays: 30}}, &arrearsv1.CreateInvoiceResponse{})
	}
	supplier := key(&arrearsv1.ApiKey{Role: arrearsv1.Role_ROLE_CREDITOR, Parties: []string{s.Party.Name}})
	portal := key(&arrearsv1.ApiKey{Role: arrearsv1.Role_ROLE_PORTAL, Portal: "sme-portal.example"})
	call(t, supplier, "AuthorizePortal", &arrearsv1.AuthorizePortalRequest{Creditor: s.Party.Name, Portal: "sme-portal.example"}, &arrearsv1.AuthorizePortalResponse{})
	req := &arrearsv1.GetOverdueSummaryRequest{GroupBy: []string{"debtor"}, AsOf: date(2025, 10, 1), PageSize: 1}
	var first arrearsv1.GetOverdueSummaryResponse
	call(t, portal, "GetOverdueSummary", req, &first)
	if len(first.Groups) != 1 || first.NextPageToken == "" {
		t.Fatalf("first page: %d groups, token %q; want one and a next page", len(first.Groups), first.NextPageToken)
	}
	call(t, supplier, "RevokePortalAuthorization", &arrearsv1.RevokePortalAuthorizationRequest{Creditor: s.Party.Name, Portal: "sme-portal.example"},
		&arrearsv1.RevokePortalAuthorizationResponse{})
	next := proto.Clone(req).(*arrearsv1.GetOverdueSummaryRequest)
	next.PageToken = first.NextPageToken
	var second arrearsv1.GetOverdueSummaryResponse
	call(t, portal, "GetOverdueSummary", next, &second)
	if len(second.Groups) != 0 {
		t.Errorf("the next page after the supplier withdrew the portal's authorisation: %v, want nothing of its debts", second.Groups)
	}
}
