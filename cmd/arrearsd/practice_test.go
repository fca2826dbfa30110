package main

import (
	"encoding/csv"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	arrearsv1 "github.com/arrears/arrears/gen/arrears/v1"
	"github.com/arrears/arrears/internal/store/pgtest"
)

func TestPaymentPracticeSQLite(t *testing.T) { paymentPractice(t, config{}) }
func TestPaymentPracticePostgres(t *testing.T) {
	paymentPractice(t, config{DatabaseURL: pgtest.URL(t)})
}

// paymentPractice checks a debtor's report for the third quarter of 2025
// on a ledger counted by hand. Every invoice is signed for, issued,
// received and delivered on the same day, its due date agreed (those from
// June under Decree 802, whose 60-day cap for a large enterprise is soft:
// the agreed dates stand, moved past holidays):
//
//	I1 100,000.00 received 1 Jul, due 31 Jul (30 days): 40,000.00 paid 21 Jul (20 days),
//	   60,000.00 paid 15 Aug (45 days, late)
//	I2  20,000.00 received 1 Jun, due 30 Aug: disputed from 20 Aug, paid 5 Sep (96 days, late,
//	   late because of a dispute)
//	I3  50,000.00 received 1 Aug, due 30 Oct (90 days, over the 60-day cap): a bill handed over
//	   on 10 Aug maturing 15 Oct settles outside the quarter
//	I4  30,000.00 received 10 Jul, due 9 Aug (30 days): unpaid
//	I5  10,000.00 received 1 Sep, due 1 Oct (30 days): 5,000.00 paid 25 Sep (24 days)
//	I6  10,000.00 received 1 May, due 31 May: paid 20 Jun, before the quarter
//
// Payments in the quarter: 4, CNY 125,000.00, days 20+45+96+24 = 185,
// mean 46.25 -> 46. UK bands: 0-30 2 (45,000.00), 31-60 1 (60,000.00), 61+
// 1 (20,000.00). AU bands count invoices, each at its last payment in the
// quarter: I1 at 45 days (100,000.00), I2 at 96 (20,000.00), I5 at 24
// (5,000.00), a third each by count. Late 2 (80,000.00), one disputed (20,000.00). Unpaid past
// due: I4. Contracts starting in the quarter: I1, I3, I4, I5; standard term
// 30, longest 90, one over the cap.
func paymentPractice(t *testing.T, cfg config) {
	clk, conn, h, admin := oversightServer(t, cfg)
	token := admin.token
	party := func(name, body, region string, kind arrearsv1.PartyKind, size arrearsv1.SizeClass) string {
		return createParty(t, admin, &arrearsv1.Party{DisplayName: name, Kind: kind, SizeClass: size,
			Jurisdiction: "CN", RegistrationId: uscc(body), RegionCode: region})
	}
	d := party("D", "91350100MA2PPR001", "350100", arrearsv1.PartyKind_PARTY_KIND_LARGE_ENTERPRISE, 0)
	s := party("S", "92350121MA0PPR002", "350121", arrearsv1.PartyKind_PARTY_KIND_SME, arrearsv1.SizeClass_SIZE_CLASS_SMALL)
	inv := func(ref string, amount int64, received, due *arrearsv1.Date) string {
		var r arrearsv1.CreateInvoiceResponse
		call(t, admin, "CreateInvoice", &arrearsv1.CreateInvoiceRequest{Invoice: &arrearsv1.Invoice{Debtor: d, Creditor: s, DocumentRef: ref,
			Amount: cny(amount), ContractSignedOn: received, IssuedOn: received, ReceivedOn: received, DeliveredOn: received,
			AgreedDueDate: due}}, &r)
		return r.Invoice.Name
	}
	pay := func(parent, ref string, amount int64, on *arrearsv1.Date) string {
		var r arrearsv1.RecordPaymentResponse
		call(t, admin, "RecordPayment", &arrearsv1.RecordPaymentRequest{Parent: parent, Payment: &arrearsv1.Payment{Amount: cny(amount), PaidOn: on, Reference: ref}}, &r)
		return r.Payment.Name
	}
	i1 := inv("PP-1", 10000000, date(2025, 7, 1), date(2025, 7, 31))
	i2 := inv("PP-2", 2000000, date(2025, 6, 1), date(2025, 8, 30))
	i3 := inv("PP-3", 5000000, date(2025, 8, 1), date(2025, 10, 30))
	inv("PP-4", 3000000, date(2025, 7, 10), date(2025, 8, 9))
	i5 := inv("PP-5", 1000000, date(2025, 9, 1), date(2025, 10, 1))
	i6 := inv("PP-6", 1000000, date(2025, 5, 1), date(2025, 5, 31))
	pay(i1, "PP-P1a", 4000000, date(2025, 7, 21))
	pay(i1, "PP-P1b", 6000000, date(2025, 8, 15))
	call(t, admin, "OpenDispute", &arrearsv1.OpenDisputeRequest{Parent: i2, Dispute: &arrearsv1.Dispute{Amount: cny(500000), Reason: "short delivery", OpenedOn: date(2025, 8, 20)}}, &arrearsv1.OpenDisputeResponse{})
	pay(i2, "PP-P2", 2000000, date(2025, 9, 5))
	call(t, admin, "RecordPayment", &arrearsv1.RecordPaymentRequest{Parent: i3, Payment: &arrearsv1.Payment{Amount: cny(1000000), PaidOn: date(2025, 8, 10),
		Reference: "PP-P3", Instrument: arrearsv1.PaymentInstrument_PAYMENT_INSTRUMENT_COMMERCIAL_BILL, MaturityOn: date(2025, 10, 15)}}, &arrearsv1.RecordPaymentResponse{})
	p5 := pay(i5, "PP-P5", 500000, date(2025, 9, 25))
	pay(i6, "PP-P6", 1000000, date(2025, 6, 20))

	q3 := &arrearsv1.GetPaymentPracticeReportRequest{Debtor: d, PeriodStart: date(2025, 7, 1), PeriodEnd: date(2025, 9, 30)}
	var rep arrearsv1.GetPaymentPracticeReportResponse
	call(t, admin, "GetPaymentPracticeReport", q3, &rep)
	// The debtor's own key gets its report; asked for its supplier's, it
	// finds nothing, rather than a report of the supplier's payables made
	// from the few invoices it sees (none of which the supplier pays).
	var dk arrearsv1.CreateApiKeyResponse
	call(t, admin, "CreateApiKey", &arrearsv1.CreateApiKeyRequest{ApiKey: &arrearsv1.ApiKey{Role: arrearsv1.Role_ROLE_DEBTOR, Parties: []string{d}}}, &dk)
	debtorKey := &grpcTransport{conn: conn, token: dk.Token}
	expect(t, debtorKey, "GetPaymentPracticeReport", q3, &arrearsv1.GetPaymentPracticeReportResponse{}, codes.OK)
	ofSupplier := proto.Clone(q3).(*arrearsv1.GetPaymentPracticeReportRequest)
	ofSupplier.Debtor = s
	expect(t, debtorKey, "GetPaymentPracticeReport", ofSupplier, &arrearsv1.GetPaymentPracticeReportResponse{}, codes.NotFound)
	expect(t, debtorKey, "GetAnnualDisclosure", &arrearsv1.GetAnnualDisclosureRequest{Debtor: s, Year: 2024}, &arrearsv1.GetAnnualDisclosureResponse{}, codes.NotFound)
	if len(rep.Reports) != 1 {
		t.Fatalf("reports = %v", rep.Reports)
	}
	r := rep.Reports[0]
	type fig struct {
		name      string
		got, want int64
	}
	for _, f := range []fig{
		{"payments", r.Payments, 4}, {"amount", r.Amount.GetMinorUnits(), 12500000}, {"average days", int64(r.AverageDaysToPay), 46},
		{"late", r.LateCount, 2}, {"late amount", r.LateAmount.GetMinorUnits(), 8000000},
		{"late count share", int64(r.LateCountShareBp), 5000}, {"late value share", int64(r.LateValueShareBp), 6400},
		{"late disputed", r.LateDisputedCount, 1}, {"late disputed amount", r.LateDisputedAmount.GetMinorUnits(), 2000000},
		{"unpaid past due", r.UnpaidPastDueCount, 1}, {"unpaid past due amount", r.UnpaidPastDueAmount.GetMinorUnits(), 3000000},
		{"contracts", r.Contracts, 4}, {"standard term", int64(r.StandardTermDays), 30}, {"longest term", int64(r.LongestTermDays), 90},
		{"terms over cap", r.TermsOverCap, 1},
	} {
		if f.got != f.want {
			t.Errorf("%s = %d, want %d", f.name, f.got, f.want)
		}
	}
	checkBands := func(got []*arrearsv1.PracticeBand, want [][4]int64) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("bands = %v", got)
		}
		for i, b := range got {
			w := want[i]
			if b.Count != w[0] || b.Amount.GetMinorUnits() != w[1] || int64(b.CountShareBp) != w[2] || int64(b.ValueShareBp) != w[3] {
				t.Errorf("band %s = %d x %d (%d, %d bp), want %v", b.Band, b.Count, b.Amount.GetMinorUnits(), b.CountShareBp, b.ValueShareBp, w)
			}
		}
	}
	checkBands(r.Bands, [][4]int64{{2, 4500000, 5000, 3600}, {1, 6000000, 2500, 4800}, {1, 2000000, 2500, 1600}})

	// The Australian bands.
	au := proto.Clone(q3).(*arrearsv1.GetPaymentPracticeReportRequest)
	au.Bands = "AU"
	call(t, admin, "GetPaymentPracticeReport", au, &rep)
	checkBands(rep.Reports[0].Bands, [][4]int64{{0, 0, 0, 0}, {1, 500000, 3334, 400}, {1, 10000000, 3333, 8000}, {0, 0, 0, 0}, {1, 2000000, 3333, 1600}, {0, 0, 0, 0}})

	// The same report over REST.
	var viaREST arrearsv1.GetPaymentPracticeReportResponse
	call(t, &restTransport{base: "http://" + h, token: token}, "GetPaymentPracticeReport", q3, &viaREST)
	if len(viaREST.Reports) != 1 || viaREST.Reports[0].Payments != 4 || viaREST.Reports[0].AverageDaysToPay != 46 {
		t.Errorf("over REST: %v", viaREST.Reports)
	}

	// The CSV export holds the same figures, in the AU bands' columns.
	hreq, _ := http.NewRequest("GET", "http://"+h+"/v1/"+d+"/paymentPracticeReport:export?bands=AU&periodStart.year=2025&periodStart.month=7&periodStart.day=1&periodEnd.year=2025&periodEnd.month=9&periodEnd.day=30", nil)
	hreq.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(hreq)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(resp.Body).ReadAll()
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || len(rows) != 2 {
		t.Fatalf("CSV export: HTTP %d, %v, %v", resp.StatusCode, rows, err)
	}
	csvRow := map[string]string{}
	for i, name := range rows[0] {
		csvRow[name] = rows[1][i]
	}
	for name, want := range map[string]string{"debtor": d, "currency": "CNY", "payments": "4", "amount": "125000.00", "average_days_to_pay": "46",
		"band_0-20_count": "0", "band_31-60_amount": "100000.00", "band_91-120_amount": "20000.00", "band_121+_count": "0", "late_value_share_bp": "6400", "terms_over_cap": "1"} {
		if csvRow[name] != want {
			t.Errorf("CSV %s = %q, want %q", name, csvRow[name], want)
		}
	}

	// A payment reversed later is out of the report, except as known
	// before the reversal.
	before := clk.Now()
	clk.Advance(time.Hour)
	var cur arrearsv1.GetPaymentResponse
	call(t, admin, "GetPayment", &arrearsv1.GetPaymentRequest{Name: p5}, &cur)
	call(t, admin, "ReversePayment", &arrearsv1.ReversePaymentRequest{Name: p5, ReversedOn: date(2025, 11, 20), Reason: "bounced", Etag: cur.Payment.Etag}, &arrearsv1.ReversePaymentResponse{})
	call(t, admin, "GetPaymentPracticeReport", q3, &rep)
	if rep.Reports[0].Payments != 3 {
		t.Errorf("after the reversal: %d payments, want 3", rep.Reports[0].Payments)
	}
	then := proto.Clone(q3).(*arrearsv1.GetPaymentPracticeReportRequest)
	then.KnownAt = timestamppb.New(before)
	call(t, admin, "GetPaymentPracticeReport", then, &rep)
	if rep.Reports[0].Payments != 4 {
		t.Errorf("known before the reversal: %d payments, want 4", rep.Reports[0].Payments)
	}

	// A large supplier's invoice paid in the quarter is in the UK report,
	// not in the Australian one (small-business suppliers only).
	l := party("L", "91350121MA0PPR003", "350121", arrearsv1.PartyKind_PARTY_KIND_LARGE_ENTERPRISE, arrearsv1.SizeClass_SIZE_CLASS_LARGE)
	var big arrearsv1.CreateInvoiceResponse
	call(t, admin, "CreateInvoice", &arrearsv1.CreateInvoiceRequest{Invoice: &arrearsv1.Invoice{Debtor: d, Creditor: l, DocumentRef: "PP-L",
		Amount: cny(9000000), ContractSignedOn: date(2025, 7, 1), IssuedOn: date(2025, 7, 1), ReceivedOn: date(2025, 7, 1), DeliveredOn: date(2025, 7, 1),
		AgreedDueDate: date(2025, 7, 31)}}, &big)
	pay(big.Invoice.Name, "PP-PL", 9000000, date(2025, 7, 11))
	call(t, admin, "GetPaymentPracticeReport", q3, &rep)
	uk := rep.Reports[0].Payments
	call(t, admin, "GetPaymentPracticeReport", au, &rep)
	if n := rep.Reports[0].Bands[0].Count; uk != 4 || n != 0 {
		t.Errorf("a large supplier's payment: UK report %d payments (want 4), AU band 0-20 %d (want 0)", uk, n)
	}

	// Bad input names the field; a regulator outside the remit sees nothing.
	bad := proto.Clone(q3).(*arrearsv1.GetPaymentPracticeReportRequest)
	bad.PeriodEnd = date(2025, 6, 30)
	expect(t, admin, "GetPaymentPracticeReport", bad, &arrearsv1.GetPaymentPracticeReportResponse{}, codes.InvalidArgument, "period_end")
	bad = proto.Clone(q3).(*arrearsv1.GetPaymentPracticeReportRequest)
	bad.PeriodStart, bad.PeriodEnd = date(2025, 1, 1), date(2026, 1, 1) // 366 days in a common year
	expect(t, admin, "GetPaymentPracticeReport", bad, &arrearsv1.GetPaymentPracticeReportResponse{}, codes.InvalidArgument, "period_end")
	leap := proto.Clone(q3).(*arrearsv1.GetPaymentPracticeReportRequest)
	leap.PeriodStart, leap.PeriodEnd = date(2024, 1, 1), date(2024, 12, 31) // 366 days in a leap year: a year
	expect(t, admin, "GetPaymentPracticeReport", leap, &arrearsv1.GetPaymentPracticeReportResponse{}, codes.OK)
	bad = proto.Clone(q3).(*arrearsv1.GetPaymentPracticeReportRequest)
	// Year 9999 (whose anniversary is off the calendar, once a panic) is
	// refused as too far ahead to judge.
	bad.PeriodStart, bad.PeriodEnd = date(9999, 1, 1), date(9999, 6, 30)
	expect(t, admin, "GetPaymentPracticeReport", bad, &arrearsv1.GetPaymentPracticeReportResponse{}, codes.InvalidArgument, "period_end")
	bad = proto.Clone(q3).(*arrearsv1.GetPaymentPracticeReportRequest)
	bad.Bands = "FR"
	expect(t, admin, "GetPaymentPracticeReport", bad, &arrearsv1.GetPaymentPracticeReportResponse{}, codes.InvalidArgument, "bands")
	var k arrearsv1.CreateApiKeyResponse
	call(t, admin, "CreateApiKey", &arrearsv1.CreateApiKeyRequest{ApiKey: &arrearsv1.ApiKey{Role: arrearsv1.Role_ROLE_REGULATOR, RemitJurisdiction: "CN", RemitRegionPrefix: "44"}}, &k)
	expect(t, &grpcTransport{conn: conn, token: k.Token}, "GetPaymentPracticeReport", q3, &arrearsv1.GetPaymentPracticeReportResponse{}, codes.NotFound)
}
