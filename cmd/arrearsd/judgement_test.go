package main

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	arrearsv1 "github.com/arrears/arrears/gen/arrears/v1"
	"github.com/arrears/arrears/internal/clock"
)

// TestWorkedExampleOverAPI is the README's worked example, judged through
// the API as of two dates and as known before and after a payment.
//
// A large enterprise in Fuzhou owes an SME CNY 100,000.00 for goods
// delivered on 1 July 2025 under a contract signed on 15 June 2025 with no
// agreed term: Decree 802 applies (SME at signing, contract from
// 2025-06-01), 60 days from delivery. The 60th day after 1 July is Saturday
// 30 August; Civil Code Art. 203 moves it past the weekend to Monday
// 1 September. Overdue from 2 September; no rate agreed, so 0.05% per day.
// CNY 40,000.00 is paid on 15 September, lowering the base from that day.
//
// As of 30 September: 29 days overdue (2-30 Sep), bucket 1-30, level 1.
// Interest: 2-14 Sep, 13 days x 10,000,000 x 0.0005 = 65,000; 15-30 Sep,
// 16 days x 6,000,000 x 0.0005 = 48,000; total 113,000 fen (CNY 1,130.00).
// As of 31 October: 60 days overdue, bucket 31-60, level 3 (REGULATOR_WATCH
// from day 60). Interest: 65,000 + 47 days x 6,000,000 x 0.0005 = 206,000.
// Known before the payment was recorded, as of 30 September: 29 days x
// 10,000,000 x 0.0005 = 145,000.
func TestWorkedExampleOverAPI(t *testing.T) {
	dir := t.TempDir()
	clk := clock.NewFake(now)
	g, h := startServer(t, config{DataDir: dir}, clk)
	conn, err := grpc.NewClient(g, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	token := adminToken(t, dir)
	t.Run("gRPC", func(t *testing.T) { workedExample(t, &grpcTransport{conn: conn, token: token}, clk, "1") })
	t.Run("REST", func(t *testing.T) { workedExample(t, &restTransport{base: "http://" + h, token: token}, clk, "2") })
}

func workedExample(t *testing.T, tr transport, clk *clock.Fake, pass string) {
	var debtor, creditor arrearsv1.CreatePartyResponse
	call(t, tr, "CreateParty", &arrearsv1.CreatePartyRequest{Party: &arrearsv1.Party{DisplayName: "Minjiang Heavy Machinery",
		Kind: arrearsv1.PartyKind_PARTY_KIND_LARGE_ENTERPRISE, Jurisdiction: "CN", RegistrationId: uscc("91350100MA2WEX0" + pass + "1"), RegionCode: "350100"}}, &debtor)
	call(t, tr, "CreateParty", &arrearsv1.CreatePartyRequest{Party: &arrearsv1.Party{DisplayName: "Minhou Castings",
		Kind: arrearsv1.PartyKind_PARTY_KIND_SME, SizeClass: arrearsv1.SizeClass_SIZE_CLASS_SMALL, Jurisdiction: "CN",
		RegistrationId: uscc("92350121MA0WEX0" + pass + "2"), RegionCode: "350121"}}, &creditor)
	var inv arrearsv1.CreateInvoiceResponse
	call(t, tr, "CreateInvoice", &arrearsv1.CreateInvoiceRequest{Invoice: &arrearsv1.Invoice{
		Debtor: debtor.Party.Name, Creditor: creditor.Party.Name, DocumentRef: "WEX-" + pass, Amount: cny(10000000),
		ContractSignedOn: date(2025, 6, 15), DeliveredOn: date(2025, 7, 1), IssuedOn: date(2025, 7, 3)}}, &inv)
	if inv.Invoice.Policy != "CN-802-LARGE-ENTERPRISE@1" || inv.Invoice.PolicyReason == "" {
		t.Errorf("policy = %q (%q)", inv.Invoice.Policy, inv.Invoice.PolicyReason)
	}
	// The size at signing was not given: the reason says what was assumed.
	if !strings.Contains(inv.Invoice.PolicyReason, "size at signing was not given; its size in the ledger now, SMALL, was taken") {
		t.Errorf("policy reason %q does not say the size at signing was assumed", inv.Invoice.PolicyReason)
	}
	beforePayment := clk.Now()
	clk.Advance(time.Hour)
	call(t, tr, "RecordPayment", &arrearsv1.RecordPaymentRequest{Parent: inv.Invoice.Name, Payment: &arrearsv1.Payment{
		Amount: cny(4000000), PaidOn: date(2025, 9, 15), Reference: "WEX-P" + pass}}, &arrearsv1.RecordPaymentResponse{})

	for _, tc := range []struct {
		desc     string
		asOf     *arrearsv1.Date
		knownAt  time.Time
		days     int32
		bucket   string
		level    int32
		interest int64
		out      int64
	}{
		{"30 September", date(2025, 9, 30), time.Time{}, 29, "1-30", 1, 113000, 6000000},
		{"31 October", date(2025, 10, 31), time.Time{}, 60, "31-60", 3, 206000, 6000000},
		{"30 September, known before the payment", date(2025, 9, 30), beforePayment, 29, "1-30", 1, 145000, 10000000},
		{"on the due date", date(2025, 9, 1), time.Time{}, 0, "NOT_DUE", 0, 0, 10000000},
	} {
		req := &arrearsv1.GetInvoiceRequest{Name: inv.Invoice.Name, AsOf: tc.asOf}
		if !tc.knownAt.IsZero() {
			req.KnownAt = timestamppb.New(tc.knownAt)
		}
		var got arrearsv1.GetInvoiceResponse
		call(t, tr, "GetInvoice", req, &got)
		j := got.Invoice.Judgement
		due := j.GetDueDate()
		if due.GetYear() != 2025 || due.GetMonth() != 9 || due.GetDay() != 1 {
			t.Errorf("%s: due date %v, want 2025-09-01 (30 August moved past the weekend)", tc.desc, due)
		}
		if j.DaysOverdue != tc.days || j.Bucket != tc.bucket || j.EscalationLevel != tc.level ||
			j.Interest.GetMinorUnits() != tc.interest || j.Outstanding.GetMinorUnits() != tc.out {
			t.Errorf("%s: days %d bucket %s level %d interest %d outstanding %d; want %d %s %d %d %d",
				tc.desc, j.DaysOverdue, j.Bucket, j.EscalationLevel, j.Interest.GetMinorUnits(), j.Outstanding.GetMinorUnits(),
				tc.days, tc.bucket, tc.level, tc.interest, tc.out)
		}
	}
	// Known before the invoice existed: not found.
	expect(t, tr, "GetInvoice", &arrearsv1.GetInvoiceRequest{Name: inv.Invoice.Name, KnownAt: timestamppb.New(beforePayment.Add(-24 * time.Hour))},
		&arrearsv1.GetInvoiceResponse{}, codes.NotFound)

	// Lists filter on the judgement as of a date.
	for _, tc := range []struct {
		filter string
		want   int
	}{
		{`days_overdue >= 60`, 1},
		{`days_overdue > 60`, 0},
		{`bucket = 31-60 AND escalation_level = 3`, 1},
		{`bucket_net = 1-30`, 0},
	} {
		var l arrearsv1.ListInvoicesResponse
		call(t, tr, "ListInvoices", &arrearsv1.ListInvoicesRequest{Filter: tc.filter + ` AND debtor = "` + debtor.Party.Name + `"`, AsOf: date(2025, 10, 31)}, &l)
		if len(l.Invoices) != tc.want {
			t.Errorf("ListInvoices(%s) as of 31 October: %d invoices, want %d", tc.filter, len(l.Invoices), tc.want)
		}
	}
	// Delivered on 1 July, issued on 3 July: as of 2 July the judgement
	// says so, and a filter on the judgement passes it over, as the
	// overdue summary leaves it out until its issue date.
	var early arrearsv1.GetInvoiceResponse
	call(t, tr, "GetInvoice", &arrearsv1.GetInvoiceRequest{Name: inv.Invoice.Name, AsOf: date(2025, 7, 2)}, &early)
	if !hasFinding(early.Invoice.Judgement, "NOT_YET_ISSUED") {
		t.Errorf("as of the day before its issue date: findings %v, want NOT_YET_ISSUED", early.Invoice.Judgement.Findings)
	}
	for asOf, want := range map[*arrearsv1.Date]int{date(2025, 7, 2): 0, date(2025, 7, 3): 1} {
		var l arrearsv1.ListInvoicesResponse
		call(t, tr, "ListInvoices", &arrearsv1.ListInvoicesRequest{Filter: `bucket = NOT_DUE AND debtor = "` + debtor.Party.Name + `"`, AsOf: asOf}, &l)
		if len(l.Invoices) != want {
			t.Errorf("ListInvoices(bucket = NOT_DUE) as of %v: %d invoices, want %d", asOf, len(l.Invoices), want)
		}
	}
	// A correction effective from 1 October (the amount was CNY 120,000.00)
	// changes the judgement from that day only: as of 30 September the
	// invoice is judged on the amount that then stood.
	var cur arrearsv1.GetInvoiceResponse
	call(t, tr, "GetInvoice", &arrearsv1.GetInvoiceRequest{Name: inv.Invoice.Name}, &cur)
	call(t, tr, "UpdateInvoice", &arrearsv1.UpdateInvoiceRequest{
		Invoice:    &arrearsv1.Invoice{Name: inv.Invoice.Name, Etag: cur.Invoice.Etag, Amount: cny(12000000)},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"amount"}}, EffectiveOn: date(2025, 10, 1)}, &arrearsv1.UpdateInvoiceResponse{})
	// A second correction, recorded later but effective earlier (the
	// contract reference, from 20 September), brings only its own change
	// back to that date, not the amount its snapshot also holds.
	call(t, tr, "GetInvoice", &arrearsv1.GetInvoiceRequest{Name: inv.Invoice.Name}, &cur)
	call(t, tr, "UpdateInvoice", &arrearsv1.UpdateInvoiceRequest{
		Invoice:    &arrearsv1.Invoice{Name: inv.Invoice.Name, Etag: cur.Invoice.Etag, ContractRef: "HT-" + pass},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"contract_ref"}}, EffectiveOn: date(2025, 9, 20)}, &arrearsv1.UpdateInvoiceResponse{})
	for _, tc := range []struct {
		asOf          *arrearsv1.Date
		out, interest int64
		contractRef   string
	}{
		{date(2025, 9, 10), 10000000, 45000, ""},
		{date(2025, 9, 30), 6000000, 113000, "HT-" + pass},
		// From 1 October the corrected amount applies to the whole term:
		// 13 days x 12,000,000 x 0.0005 + 47 days x 8,000,000 x 0.0005.
		{date(2025, 10, 31), 8000000, 78000 + 188000, "HT-" + pass},
	} {
		var got arrearsv1.GetInvoiceResponse
		call(t, tr, "GetInvoice", &arrearsv1.GetInvoiceRequest{Name: inv.Invoice.Name, AsOf: tc.asOf}, &got)
		if j := got.Invoice.Judgement; j.Outstanding.GetMinorUnits() != tc.out || j.Interest.GetMinorUnits() != tc.interest ||
			got.Invoice.ContractRef != tc.contractRef {
			t.Errorf("after the corrections, as of %v: outstanding %d interest %d contract %q; want %d %d %q", tc.asOf,
				j.Outstanding.GetMinorUnits(), j.Interest.GetMinorUnits(), got.Invoice.ContractRef, tc.out, tc.interest, tc.contractRef)
		}
	}
	expect(t, tr, "ListInvoices", &arrearsv1.ListInvoicesRequest{Filter: "bucket = 1-29"}, &arrearsv1.ListInvoicesResponse{}, codes.InvalidArgument, "filter")
	var pols arrearsv1.ListPaymentPoliciesResponse
	call(t, tr, "ListPaymentPolicies", &arrearsv1.ListPaymentPoliciesRequest{}, &pols)
	if len(pols.PaymentPolicies) < 10 {
		t.Errorf("ListPaymentPolicies: %d policies", len(pols.PaymentPolicies))
	}
}

func hasFinding(j *arrearsv1.Judgement, code string) bool {
	for _, f := range j.GetFindings() {
		if f.Code == code {
			return true
		}
	}
	return false
}

// TestPromptPaymentOverAPI: a US federal agency (a public body of region US)
// is judged under the Prompt Payment Act, a state agency on its contract.
// USD 1,500.00 delivered and invoiced on Monday 3 March 2025: acceptance is
// deemed on 10 March, so the invoice is due on 9 April. As of 19 April, 10
// days late at the 4-5/8% in force on 10 April: 1,500 x .04625/360 x 10 =
// 1.927, USD 1.93.
func TestPromptPaymentOverAPI(t *testing.T) {
	dir := t.TempDir()
	clk := clock.NewFake(now)
	_, h := startServer(t, config{DataDir: dir}, clk)
	tr := &restTransport{base: "http://" + h, token: adminToken(t, dir)}
	party := func(name, reg, region string, kind arrearsv1.PartyKind) string {
		var p arrearsv1.CreatePartyResponse
		size := arrearsv1.SizeClass_SIZE_CLASS_UNSPECIFIED
		if kind == arrearsv1.PartyKind_PARTY_KIND_SME {
			size = arrearsv1.SizeClass_SIZE_CLASS_SMALL
		}
		call(t, tr, "CreateParty", &arrearsv1.CreatePartyRequest{Party: &arrearsv1.Party{DisplayName: name, Kind: kind, SizeClass: size,
			Jurisdiction: "US", RegistrationId: reg, RegionCode: region}}, &p)
		return p.Party.Name
	}
	federal := party("General Services Administration", "53-0000001", "US", arrearsv1.PartyKind_PARTY_KIND_PUBLIC_BODY)
	state := party("Virginia Department of Transportation", "54-0000002", "US-VA", arrearsv1.PartyKind_PARTY_KIND_PUBLIC_BODY)
	supplier := party("Shenandoah Signs LLC", "54-1234567", "US-VA", arrearsv1.PartyKind_PARTY_KIND_SME)
	for debtor, want := range map[string]string{federal: "US-PPA-FEDERAL@1", state: "CONTRACT-TERMS-ONLY@1"} {
		var inv arrearsv1.CreateInvoiceResponse
		call(t, tr, "CreateInvoice", &arrearsv1.CreateInvoiceRequest{Invoice: &arrearsv1.Invoice{
			Debtor: debtor, Creditor: supplier, DocumentRef: "SS-" + want[:2], Amount: &arrearsv1.Money{CurrencyCode: "USD", MinorUnits: 150000},
			DeliveredOn: date(2025, 3, 3), IssuedOn: date(2025, 3, 3), ReceivedOn: date(2025, 3, 3)}}, &inv)
		if inv.Invoice.Policy != want {
			t.Errorf("%s: policy %s (%s), want %s", debtor, inv.Invoice.Policy, inv.Invoice.PolicyReason, want)
			continue
		}
		if debtor != federal {
			continue
		}
		var got arrearsv1.GetInvoiceResponse
		call(t, tr, "GetInvoice", &arrearsv1.GetInvoiceRequest{Name: inv.Invoice.Name, AsOf: date(2025, 4, 19)}, &got)
		j := got.Invoice.Judgement
		if due := j.GetDueDate(); due.GetYear() != 2025 || due.GetMonth() != 4 || due.GetDay() != 9 || j.DaysOverdue != 10 || j.Interest.GetMinorUnits() != 193 {
			t.Errorf("federal invoice as of 2025-04-19: due %v, %d days overdue, interest %d; want 2025-04-09, 10 and 193 (%s; %s)",
				due, j.DaysOverdue, j.Interest.GetMinorUnits(), j.DueDateRule, j.InterestRule)
		}
	}
}
