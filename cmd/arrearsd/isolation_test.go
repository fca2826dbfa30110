package main

import (
	"context"
	"fmt"
	"github.com/google/uuid"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	arrearsv1 "github.com/arrears/arrears/gen/arrears/v1"
	"github.com/arrears/arrears/internal/auth"
	"github.com/arrears/arrears/internal/clock"
	"github.com/arrears/arrears/internal/store/pgtest"
)

func TestIsolationSQLite(t *testing.T) {
	dir := t.TempDir()
	clk := clock.NewFake(now)
	g, h := startServer(t, config{DataDir: dir}, clk)
	isolation(t, g, h, adminToken(t, dir), clk)
}

func TestIsolationPostgres(t *testing.T) {
	url := pgtest.URL(t)
	dir := t.TempDir()
	clk := clock.NewFake(now)
	g, h := startServer(t, config{DatabaseURL: url, DataDir: dir}, clk)
	isolation(t, g, h, adminToken(t, dir), clk)
}

// world is the ledger the isolation suite attacks: two debtors in different
// provinces, each owing its own supplier, every kind of fact on each
// invoice, and a key of every role bound to the first side.
type world struct {
	claim2, contest2, complaint2 string
	contest1, cn1, cn2           string
	d1, d2, c1, c2               string // party names
	inv1, inv2                   string // invoice names
	pay1, pay2, dsp1, dsp2       string
	keys                         map[auth.Role]string
	regulator44                  string
	adminPage, adminPageFilter   string
}

func call(t *testing.T, tr transport, rpc string, req, resp proto.Message) {
	t.Helper()
	expect(t, tr, rpc, req, resp, codes.OK)
}

func buildWorld(t *testing.T, admin transport) *world {
	w := &world{keys: map[auth.Role]string{}}
	party := func(name, reg, region string, kind arrearsv1.PartyKind) string {
		var r arrearsv1.CreatePartyResponse
		p := &arrearsv1.Party{DisplayName: name, Kind: kind, Jurisdiction: "CN", RegistrationId: reg, RegionCode: region}
		if kind == arrearsv1.PartyKind_PARTY_KIND_SME {
			p.SizeClass = arrearsv1.SizeClass_SIZE_CLASS_SMALL
		}
		call(t, admin, "CreateParty", &arrearsv1.CreatePartyRequest{Party: p}, &r)
		return r.Party.Name
	}
	w.d1 = party("Fujian Buyer", uscc("91350100MA2Y00K01"), "350100", arrearsv1.PartyKind_PARTY_KIND_LARGE_ENTERPRISE)
	w.d2 = party("Shenzhen Buyer", uscc("91440300MA5F00K02"), "440300", arrearsv1.PartyKind_PARTY_KIND_PUBLIC_BODY)
	w.c1 = party("Fujian Supplier", uscc("92350102MA0000K03"), "350102", arrearsv1.PartyKind_PARTY_KIND_SME)
	w.c2 = party("Shenzhen Supplier", uscc("92440301MA0000K04"), "440301", arrearsv1.PartyKind_PARTY_KIND_SME)
	side := func(debtor, creditor, ref string) (inv, pay, dsp, cn string) {
		var ir arrearsv1.CreateInvoiceResponse
		call(t, admin, "CreateInvoice", &arrearsv1.CreateInvoiceRequest{Invoice: &arrearsv1.Invoice{
			Debtor: debtor, Creditor: creditor, DocumentRef: ref, Amount: cny(500000),
			IssuedOn: date(2025, 6, 1), DeliveredOn: date(2025, 6, 1), AgreedTermDays: 30}}, &ir)
		var pr arrearsv1.RecordPaymentResponse
		call(t, admin, "RecordPayment", &arrearsv1.RecordPaymentRequest{Parent: ir.Invoice.Name, Payment: &arrearsv1.Payment{
			Amount: cny(1000), PaidOn: date(2025, 7, 1), Reference: ref + "-P"}}, &pr)
		var dr arrearsv1.OpenDisputeResponse
		call(t, admin, "OpenDispute", &arrearsv1.OpenDisputeRequest{Parent: ir.Invoice.Name, Dispute: &arrearsv1.Dispute{
			Amount: cny(2000), Reason: "short delivery", OpenedOn: date(2025, 7, 2)}}, &dr)
		var cr arrearsv1.CreateCreditNoteResponse
		call(t, admin, "CreateCreditNote", &arrearsv1.CreateCreditNoteRequest{Parent: ir.Invoice.Name, CreditNote: &arrearsv1.CreditNote{
			Amount: cny(500), IssuedOn: date(2025, 7, 3), Reference: ref + "-CN", Reason: "rebate"}}, &cr)
		return ir.Invoice.Name, pr.Payment.Name, dr.Dispute.Name, cr.CreditNote.Name
	}
	w.inv1, w.pay1, w.dsp1, w.cn1 = side(w.d1, w.c1, "ISO-1")
	w.inv2, w.pay2, w.dsp2, w.cn2 = side(w.d2, w.c2, "ISO-2")

	// The supplier's side of the second pair: a claim, a contest and a
	// complaint received by the Shenzhen office.
	regulator := party("Shenzhen SME Office", uscc("11440300MB0K0K005"), "440300", arrearsv1.PartyKind_PARTY_KIND_REGULATOR)
	var cl arrearsv1.CreateClaimResponse
	call(t, admin, "CreateClaim", &arrearsv1.CreateClaimRequest{Claim: &arrearsv1.Claim{Creditor: w.c2, Debtor: w.d2,
		DocumentRef: "ISO-C2", Amount: cny(1000), IssuedOn: date(2025, 6, 1), EvidenceRefs: []string{"contract"}}}, &cl)
	w.claim2 = cl.Claim.Name
	var ct arrearsv1.OpenContestResponse
	call(t, admin, "OpenContest", &arrearsv1.OpenContestRequest{Parent: w.inv2, Contest: &arrearsv1.Contest{Kind: "AMOUNT_DIFFERS", Detail: "x"}}, &ct)
	w.contest2 = ct.Contest.Name
	call(t, admin, "OpenContest", &arrearsv1.OpenContestRequest{Parent: w.inv1, Contest: &arrearsv1.Contest{Kind: "AMOUNT_DIFFERS", Detail: "y"}}, &ct)
	w.contest1 = ct.Contest.Name
	var cp arrearsv1.FileComplaintResponse
	call(t, admin, "FileComplaint", &arrearsv1.FileComplaintRequest{Complaint: &arrearsv1.Complaint{Complainant: w.c2, Debtor: w.d2,
		ReceivingRegulator: regulator, Invoices: []string{w.inv2}, Summary: "unpaid"}}, &cp)
	w.complaint2 = cp.Complaint.Name

	key := func(k *arrearsv1.ApiKey) string {
		var r arrearsv1.CreateApiKeyResponse
		call(t, admin, "CreateApiKey", &arrearsv1.CreateApiKeyRequest{ApiKey: k}, &r)
		if !strings.HasPrefix(r.Token, "ark_"+r.ApiKey.Prefix+"_") {
			t.Fatalf("token %q does not carry its prefix %q", r.Token, r.ApiKey.Prefix)
		}
		return r.Token
	}
	w.keys[auth.RoleDebtor] = key(&arrearsv1.ApiKey{Role: arrearsv1.Role_ROLE_DEBTOR, Parties: []string{w.d1}, Description: "Fujian Buyer ERP"})
	w.keys[auth.RoleCreditor] = key(&arrearsv1.ApiKey{Role: arrearsv1.Role_ROLE_CREDITOR, Parties: []string{w.c1}})
	w.keys[auth.RolePortal] = key(&arrearsv1.ApiKey{Role: arrearsv1.Role_ROLE_PORTAL, Portal: "sme-portal.example"})
	w.keys[auth.RoleRegulator] = key(&arrearsv1.ApiKey{Role: arrearsv1.Role_ROLE_REGULATOR, RemitJurisdiction: "CN", RemitRegionPrefix: "35"})
	w.regulator44 = key(&arrearsv1.ApiKey{Role: arrearsv1.Role_ROLE_REGULATOR, RemitJurisdiction: "CN", RemitRegionPrefix: "44"})
	// The supplier, not the portal or an operator, authorises the portal.
	creditor := withToken(admin, w.keys[auth.RoleCreditor])
	call(t, creditor, "AuthorizePortal", &arrearsv1.AuthorizePortalRequest{Creditor: w.c1, Portal: "sme-portal.example"}, &arrearsv1.AuthorizePortalResponse{})
	// Another supplier, named as the acting side, is refused as one the key
	// does not speak for (as claims and complaints refuse it), not unknown.
	expect(t, creditor, "AuthorizePortal", &arrearsv1.AuthorizePortalRequest{Creditor: w.c2, Portal: "sme-portal.example"}, &arrearsv1.AuthorizePortalResponse{}, codes.PermissionDenied)
	expect(t, creditor, "AuthorizePortal", &arrearsv1.AuthorizePortalRequest{Creditor: "parties/CN:" + uscc("91350100MA2XX9990"), Portal: "sme-portal.example"}, &arrearsv1.AuthorizePortalResponse{}, codes.NotFound)
	// A malformed name in a list is named with its index.
	expect(t, admin, "CreateApiKey", &arrearsv1.CreateApiKeyRequest{ApiKey: &arrearsv1.ApiKey{Role: arrearsv1.Role_ROLE_DEBTOR, Parties: []string{w.d1, "parties/"}}},
		&arrearsv1.CreateApiKeyResponse{}, codes.InvalidArgument, "api_key.parties[1]")
	// A remit on another role's key is named by the field that was set.
	expect(t, admin, "CreateApiKey", &arrearsv1.CreateApiKeyRequest{ApiKey: &arrearsv1.ApiKey{Role: arrearsv1.Role_ROLE_DEBTOR, Parties: []string{w.d1}, RemitRegionPrefix: "35"}},
		&arrearsv1.CreateApiKeyResponse{}, codes.InvalidArgument, "api_key.remit_region_prefix")
	expect(t, admin, "FileComplaint", &arrearsv1.FileComplaintRequest{Complaint: &arrearsv1.Complaint{Complainant: w.c1, Debtor: w.d1,
		Invoices: []string{w.inv1, "invoices/not-a-uuid"}, Summary: "unpaid"}}, &arrearsv1.FileComplaintResponse{}, codes.InvalidArgument, "complaint.invoices[1]")
	// A portal authorised and revoked: the second revocation, like one of
	// a portal never authorised, is not found.
	call(t, creditor, "AuthorizePortal", &arrearsv1.AuthorizePortalRequest{Creditor: w.c1, Portal: "old-portal.example"}, &arrearsv1.AuthorizePortalResponse{})
	revoke := &arrearsv1.RevokePortalAuthorizationRequest{Creditor: w.c1, Portal: "old-portal.example"}
	call(t, creditor, "RevokePortalAuthorization", revoke, &arrearsv1.RevokePortalAuthorizationResponse{})
	expect(t, creditor, "RevokePortalAuthorization", revoke, &arrearsv1.RevokePortalAuthorizationResponse{}, codes.NotFound)
	if g, ok := creditor.(*grpcTransport); ok {
		ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+g.token)
		_, err := arrearsv1.NewAccessServiceClient(g.conn).RevokePortalAuthorization(ctx, &arrearsv1.RevokePortalAuthorizationRequest{Creditor: w.c1, Portal: "never.example"})
		if msg := status.Convert(err).Message(); !strings.Contains(msg, `portal "never.example"`) {
			t.Errorf("revoking a portal never authorised: %q, want the authorisation named", msg)
		}
	}

	var page arrearsv1.ListInvoicesResponse
	call(t, admin, "ListInvoices", &arrearsv1.ListInvoicesRequest{PageSize: 1, Filter: "status = OPEN"}, &page)
	w.adminPage, w.adminPageFilter = page.NextPageToken, "status = OPEN"
	return w
}

// withToken is tr calling as another key.
func withToken(tr transport, token string) transport {
	switch x := tr.(type) {
	case *grpcTransport:
		return &grpcTransport{conn: x.conn, token: token}
	case *restTransport:
		return &restTransport{base: x.base, token: token}
	}
	panic("unknown transport")
}

func isolation(t *testing.T, grpcAddr, httpAddr, adminTok string, clk *clock.Fake) {
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	transports := map[string]transport{
		"gRPC": &grpcTransport{conn: conn, token: adminTok},
		"REST": &restTransport{base: "http://" + httpAddr, token: adminTok},
	}
	w := buildWorld(t, transports["gRPC"])
	// Events become visible in the feed once they have settled.
	clk.Advance(2 * time.Minute)
	for tname, admin := range transports {
		for _, role := range []auth.Role{auth.RoleDebtor, auth.RoleCreditor, auth.RolePortal, auth.RoleRegulator} {
			t.Run(tname+"/"+string(role), func(t *testing.T) {
				attack(t, withToken(admin, w.keys[role]), role, w)
			})
		}
		t.Run(tname+"/REGULATOR-elsewhere", func(t *testing.T) {
			// A regulator of the other province sees the other side only.
			tr := withToken(admin, w.regulator44)
			expect(t, tr, "GetInvoice", &arrearsv1.GetInvoiceRequest{Name: w.inv1}, &arrearsv1.GetInvoiceResponse{}, codes.NotFound)
			expect(t, tr, "GetInvoice", &arrearsv1.GetInvoiceRequest{Name: w.inv2}, &arrearsv1.GetInvoiceResponse{}, codes.OK)
		})
		t.Run(tname+"/unauthenticated", func(t *testing.T) {
			for _, token := range []string{"", "ark_aaaaaaaa_" + strings.Repeat("A", 43), "not-a-key", adminTok + "x"} {
				tr := withToken(admin, token)
				for _, rpc := range allRPCs(w) {
					got, _ := tr.call(t, rpc.name, rpc.req, rpc.resp())
					if got != codes.Unauthenticated {
						t.Errorf("%s with key %.12q: %v, want Unauthenticated", rpc.name, token, got)
					}
				}
			}
		})
	}
	t.Run("RevocationAndExpiry", func(t *testing.T) { revocationAndExpiry(t, transports, w, clk) })
}

// rpcCase is one call of every method, aimed at the second side's
// resources (which none of the attacking keys may touch).
type rpcCase struct {
	name string
	req  proto.Message
	resp func() proto.Message
}

func allRPCs(w *world) []rpcCase {
	mask := &fieldmaskpb.FieldMask{Paths: []string{"contract_ref"}}
	return []rpcCase{
		{"GetParty", &arrearsv1.GetPartyRequest{Name: w.d2}, func() proto.Message { return &arrearsv1.GetPartyResponse{} }},
		{"UpdateParty", &arrearsv1.UpdatePartyRequest{Party: &arrearsv1.Party{Name: w.d2, DisplayName: "x"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}}}, func() proto.Message { return &arrearsv1.UpdatePartyResponse{} }},
		{"CreateParty", &arrearsv1.CreatePartyRequest{Party: &arrearsv1.Party{DisplayName: "x", Kind: arrearsv1.PartyKind_PARTY_KIND_LARGE_ENTERPRISE, Jurisdiction: "CN", RegistrationId: uscc("91350100MA2Y00K09"), RegionCode: "350100"}}, func() proto.Message { return &arrearsv1.CreatePartyResponse{} }},
		{"GetInvoice", &arrearsv1.GetInvoiceRequest{Name: w.inv2}, func() proto.Message { return &arrearsv1.GetInvoiceResponse{} }},
		{"CreateInvoice", &arrearsv1.CreateInvoiceRequest{Invoice: &arrearsv1.Invoice{Debtor: w.d2, Creditor: w.c2, DocumentRef: "ISO-X", Amount: cny(1), IssuedOn: date(2025, 6, 1)}}, func() proto.Message { return &arrearsv1.CreateInvoiceResponse{} }},
		{"UpdateInvoice", &arrearsv1.UpdateInvoiceRequest{Invoice: &arrearsv1.Invoice{Name: w.inv2, ContractRef: "x"}, UpdateMask: mask}, func() proto.Message { return &arrearsv1.UpdateInvoiceResponse{} }},
		{"CancelInvoice", &arrearsv1.CancelInvoiceRequest{Name: w.inv2, CancelledOn: date(2025, 8, 1), Reason: "x"}, func() proto.Message { return &arrearsv1.CancelInvoiceResponse{} }},
		{"CreateCreditNote", &arrearsv1.CreateCreditNoteRequest{Parent: w.inv2, CreditNote: &arrearsv1.CreditNote{Amount: cny(1), IssuedOn: date(2025, 8, 1), Reference: "X", Reason: "x"}}, func() proto.Message { return &arrearsv1.CreateCreditNoteResponse{} }},
		{"GetCreditNote", &arrearsv1.GetCreditNoteRequest{Name: w.cn2}, func() proto.Message { return &arrearsv1.GetCreditNoteResponse{} }},
		{"GetCreditNote", &arrearsv1.GetCreditNoteRequest{Name: anyInvoice(w.cn2)}, func() proto.Message { return &arrearsv1.GetCreditNoteResponse{} }},
		{"ListCreditNotes", &arrearsv1.ListCreditNotesRequest{Parent: w.inv2}, func() proto.Message { return &arrearsv1.ListCreditNotesResponse{} }},
		{"RecordPayment", &arrearsv1.RecordPaymentRequest{Parent: w.inv2, Payment: &arrearsv1.Payment{Amount: cny(1), PaidOn: date(2025, 8, 1), Reference: "ISO-X"}}, func() proto.Message { return &arrearsv1.RecordPaymentResponse{} }},
		{"GetPayment", &arrearsv1.GetPaymentRequest{Name: w.pay2}, func() proto.Message { return &arrearsv1.GetPaymentResponse{} }},
		{"GetPayment", &arrearsv1.GetPaymentRequest{Name: anyInvoice(w.pay2)}, func() proto.Message { return &arrearsv1.GetPaymentResponse{} }},
		{"ListPayments", &arrearsv1.ListPaymentsRequest{Parent: w.inv2}, func() proto.Message { return &arrearsv1.ListPaymentsResponse{} }},
		{"ReversePayment", &arrearsv1.ReversePaymentRequest{Name: w.pay2, ReversedOn: date(2025, 8, 1), Reason: "x"}, func() proto.Message { return &arrearsv1.ReversePaymentResponse{} }},
		{"OpenDispute", &arrearsv1.OpenDisputeRequest{Parent: w.inv2, Dispute: &arrearsv1.Dispute{Amount: cny(1), Reason: "x", OpenedOn: date(2025, 8, 1)}}, func() proto.Message { return &arrearsv1.OpenDisputeResponse{} }},
		{"GetDispute", &arrearsv1.GetDisputeRequest{Name: w.dsp2}, func() proto.Message { return &arrearsv1.GetDisputeResponse{} }},
		{"GetDispute", &arrearsv1.GetDisputeRequest{Name: anyInvoice(w.dsp2)}, func() proto.Message { return &arrearsv1.GetDisputeResponse{} }},
		{"ListDisputes", &arrearsv1.ListDisputesRequest{Parent: w.inv2}, func() proto.Message { return &arrearsv1.ListDisputesResponse{} }},
		{"ResolveDispute", &arrearsv1.ResolveDisputeRequest{Name: w.dsp2, Resolution: arrearsv1.DisputeResolution_DISPUTE_RESOLUTION_WITHDRAWN, ResolvedOn: date(2025, 8, 1)}, func() proto.Message { return &arrearsv1.ResolveDisputeResponse{} }},
		{"ListRevisions", &arrearsv1.ListRevisionsRequest{Parent: w.inv2}, func() proto.Message { return &arrearsv1.ListRevisionsResponse{} }},
		{"ListRevisions", &arrearsv1.ListRevisionsRequest{Parent: w.pay2}, func() proto.Message { return &arrearsv1.ListRevisionsResponse{} }},
		{"ListRevisions", &arrearsv1.ListRevisionsRequest{Parent: anyInvoice(w.dsp2)}, func() proto.Message { return &arrearsv1.ListRevisionsResponse{} }},
		{"ListRevisions", &arrearsv1.ListRevisionsRequest{Parent: w.d2}, func() proto.Message { return &arrearsv1.ListRevisionsResponse{} }},
		{"CreateApiKey", &arrearsv1.CreateApiKeyRequest{ApiKey: &arrearsv1.ApiKey{Role: arrearsv1.Role_ROLE_ADMIN}}, func() proto.Message { return &arrearsv1.CreateApiKeyResponse{} }},
		{"ListApiKeys", &arrearsv1.ListApiKeysRequest{}, func() proto.Message { return &arrearsv1.ListApiKeysResponse{} }},
		{"RevokeApiKey", &arrearsv1.RevokeApiKeyRequest{Name: "apiKeys/aaaaaaaa"}, func() proto.Message { return &arrearsv1.RevokeApiKeyResponse{} }},
		{"AuthorizePortal", &arrearsv1.AuthorizePortalRequest{Creditor: w.c2, Portal: "sme-portal.example"}, func() proto.Message { return &arrearsv1.AuthorizePortalResponse{} }},
		{"GetClaim", &arrearsv1.GetClaimRequest{Name: w.claim2}, func() proto.Message { return &arrearsv1.GetClaimResponse{} }},
		{"AnswerClaim", &arrearsv1.AnswerClaimRequest{Name: w.claim2, Answer: "WITHDRAWN"}, func() proto.Message { return &arrearsv1.AnswerClaimResponse{} }},
		{"CreateClaim", &arrearsv1.CreateClaimRequest{Claim: &arrearsv1.Claim{Creditor: w.c2, Debtor: w.d2, DocumentRef: "ISO-CX",
			Amount: cny(1), IssuedOn: date(2025, 6, 1), EvidenceRefs: []string{"x"}}}, func() proto.Message { return &arrearsv1.CreateClaimResponse{} }},
		{"OpenContest", &arrearsv1.OpenContestRequest{Parent: w.inv2, Contest: &arrearsv1.Contest{Kind: "OTHER", Detail: "x"}}, func() proto.Message { return &arrearsv1.OpenContestResponse{} }},
		{"GetContest", &arrearsv1.GetContestRequest{Name: w.contest2}, func() proto.Message { return &arrearsv1.GetContestResponse{} }},
		{"GetContest", &arrearsv1.GetContestRequest{Name: anyInvoice(w.contest2)}, func() proto.Message { return &arrearsv1.GetContestResponse{} }},
		{"ListContests", &arrearsv1.ListContestsRequest{Parent: w.inv2}, func() proto.Message { return &arrearsv1.ListContestsResponse{} }},
		{"MoveContest", &arrearsv1.MoveContestRequest{Name: w.contest2, Action: "WITHDRAW"}, func() proto.Message { return &arrearsv1.MoveContestResponse{} }},
		{"FileComplaint", &arrearsv1.FileComplaintRequest{Complaint: &arrearsv1.Complaint{Complainant: w.c2, Debtor: w.d2, Invoices: []string{w.inv2}, Summary: "x"}}, func() proto.Message { return &arrearsv1.FileComplaintResponse{} }},
		{"GetComplaint", &arrearsv1.GetComplaintRequest{Name: w.complaint2}, func() proto.Message { return &arrearsv1.GetComplaintResponse{} }},
		{"MoveComplaint", &arrearsv1.MoveComplaintRequest{Name: w.complaint2, Action: "WITHDRAW"}, func() proto.Message { return &arrearsv1.MoveComplaintResponse{} }},
		{"ListComplaintEvents", &arrearsv1.ListComplaintEventsRequest{Parent: w.complaint2}, func() proto.Message { return &arrearsv1.ListComplaintEventsResponse{} }},
		{"ListEscalationEvents", &arrearsv1.ListEscalationEventsRequest{Parent: w.inv2}, func() proto.Message { return &arrearsv1.ListEscalationEventsResponse{} }},
		{"GetComplaintStatistics", &arrearsv1.GetComplaintStatisticsRequest{}, func() proto.Message { return &arrearsv1.GetComplaintStatisticsResponse{} }},
		{"SyncPayablesBatch", &arrearsv1.SyncPayablesBatchRequest{Debtor: w.d2, Records: []*arrearsv1.PayableRecord{{Sequence: 1, DocumentRef: "ISO-S",
			Creditor: w.c2, Amount: cny(1), IssuedOn: date(2025, 6, 1)}}}, func() proto.Message { return &arrearsv1.SyncPayablesBatchResponse{} }},
		{"GetSyncSession", &arrearsv1.GetSyncSessionRequest{Name: w.d2 + "/syncSessions/nightly"}, func() proto.Message { return &arrearsv1.GetSyncSessionResponse{} }},
		{"GetAnnualDisclosure", &arrearsv1.GetAnnualDisclosureRequest{Debtor: w.d2, Year: 2025}, func() proto.Message { return &arrearsv1.GetAnnualDisclosureResponse{} }},
		{"GetOverdueSummary", &arrearsv1.GetOverdueSummaryRequest{GroupBy: []string{"debtor"}}, func() proto.Message { return &arrearsv1.GetOverdueSummaryResponse{} }},
		{"ListClaims", &arrearsv1.ListClaimsRequest{}, func() proto.Message { return &arrearsv1.ListClaimsResponse{} }},
		{"ListComplaints", &arrearsv1.ListComplaintsRequest{}, func() proto.Message { return &arrearsv1.ListComplaintsResponse{} }},
		// Lists and the feed answer OK to everyone; attack checks what they hold.
		{"ListParties", &arrearsv1.ListPartiesRequest{}, func() proto.Message { return &arrearsv1.ListPartiesResponse{} }},
		{"ListInvoices", &arrearsv1.ListInvoicesRequest{}, func() proto.Message { return &arrearsv1.ListInvoicesResponse{} }},
		{"ListEvents", &arrearsv1.ListEventsRequest{}, func() proto.Message { return &arrearsv1.ListEventsResponse{} }},
		{"GetAuditCheckpoint", &arrearsv1.GetAuditCheckpointRequest{}, func() proto.Message { return &arrearsv1.GetAuditCheckpointResponse{} }},
	}
}

// anyInvoice is the name of a record under an invoice (a payment, dispute,
// credit note or contest) with the wildcard invoice
// "-", as the change feed names it.
func anyInvoice(name string) string {
	parts := strings.Split(name, "/")
	parts[1] = "-"
	return strings.Join(parts, "/")
}

// attack tries every method against the other side's resources with a key
// of one role, and checks that nothing of the other side leaks, while the
// key's own side stays readable.
func attack(t *testing.T, tr transport, role auth.Role, w *world) {
	for _, rpc := range allRPCs(w) {
		rule := auth.Rules["/arrears.v1."+serviceOf(rpc.name)+"/"+rpc.name]
		want := codes.NotFound
		if !rule.Allows(role) {
			want = codes.PermissionDenied
		}
		switch rpc.name {
		case "ListParties", "ListInvoices", "ListEvents", "GetAuditCheckpoint", "ListClaims", "ListComplaints":
			continue // checked below by content
		case "GetComplaintStatistics", "GetOverdueSummary":
			if rule.Allows(role) {
				continue // figures: checked below by content
			}
		case "CreateInvoice", "CreateClaim", "FileComplaint", "AuthorizePortal", "RevokePortalAuthorization":
			if rule.Allows(role) {
				want = codes.PermissionDenied // names a party the key does not speak for
			}
		}
		got, vs := tr.call(t, rpc.name, rpc.req, rpc.resp())
		if got != want {
			t.Errorf("%s on the other side: %v %v, want %v", rpc.name, got, vs, want)
		}
	}

	// Own side: readable.
	var inv arrearsv1.GetInvoiceResponse
	expect(t, tr, "GetInvoice", &arrearsv1.GetInvoiceRequest{Name: w.inv1}, &inv, codes.OK)
	expect(t, tr, "GetPayment", &arrearsv1.GetPaymentRequest{Name: w.pay1}, &arrearsv1.GetPaymentResponse{}, codes.OK)
	// By the name the change feed gives it, with the wildcard invoice.
	var pay arrearsv1.GetPaymentResponse
	expect(t, tr, "GetPayment", &arrearsv1.GetPaymentRequest{Name: anyInvoice(w.pay1)}, &pay, codes.OK)
	if pay.Payment.Name != w.pay1 {
		t.Errorf("GetPayment(%s) answered %s, want %s", anyInvoice(w.pay1), pay.Payment.Name, w.pay1)
	}
	// The nil UUID is no invoice, nor another spelling of the wildcard.
	nilParent := strings.Replace(anyInvoice(w.pay1), "/-/", "/"+uuid.Nil.String()+"/", 1)
	expect(t, tr, "GetPayment", &arrearsv1.GetPaymentRequest{Name: nilParent}, &arrearsv1.GetPaymentResponse{}, codes.InvalidArgument, "name")
	var dsp arrearsv1.GetDisputeResponse
	expect(t, tr, "GetDispute", &arrearsv1.GetDisputeRequest{Name: anyInvoice(w.dsp1)}, &dsp, codes.OK)
	if dsp.Dispute.Name != w.dsp1 {
		t.Errorf("GetDispute(%s) answered %s, want %s", anyInvoice(w.dsp1), dsp.Dispute.Name, w.dsp1)
	}
	var cn arrearsv1.GetCreditNoteResponse
	expect(t, tr, "GetCreditNote", &arrearsv1.GetCreditNoteRequest{Name: anyInvoice(w.cn1)}, &cn, codes.OK)
	if cn.CreditNote.Name != w.cn1 {
		t.Errorf("GetCreditNote(%s) answered %s, want %s", anyInvoice(w.cn1), cn.CreditNote.Name, w.cn1)
	}
	var ct arrearsv1.GetContestResponse
	expect(t, tr, "GetContest", &arrearsv1.GetContestRequest{Name: anyInvoice(w.contest1)}, &ct, codes.OK)
	if ct.Contest.Name != w.contest1 || ct.Contest.Detail != "y" {
		t.Errorf("GetContest(%s) answered %s %q, want %s", anyInvoice(w.contest1), ct.Contest.Name, ct.Contest.Detail, w.contest1)
	}
	// Named under another invoice, a record is not found, whatever its id.
	wrongParent := strings.Replace(w.contest1, w.inv1, w.inv1[:len(w.inv1)-12]+"000000000000", 1)
	expect(t, tr, "GetContest", &arrearsv1.GetContestRequest{Name: wrongParent}, &arrearsv1.GetContestResponse{}, codes.NotFound)
	var revs arrearsv1.ListRevisionsResponse
	expect(t, tr, "ListRevisions", &arrearsv1.ListRevisionsRequest{Parent: anyInvoice(w.pay1)}, &revs, codes.OK)
	if len(revs.Revisions) == 0 || revs.Revisions[0].Resource != w.pay1 {
		t.Errorf("ListRevisions(%s): %v, want revisions of %s", anyInvoice(w.pay1), revs.Revisions, w.pay1)
	}
	expect(t, tr, "GetParty", &arrearsv1.GetPartyRequest{Name: w.c1}, &arrearsv1.GetPartyResponse{}, codes.OK)
	expect(t, tr, "GetParty", &arrearsv1.GetPartyRequest{Name: w.d1}, &arrearsv1.GetPartyResponse{}, codes.OK)

	// Lists hold only the own side, whatever the filter or page token says.
	for _, filter := range []string{"", "debtor = \"" + w.d2 + "\"", "creditor = \"" + w.c2 + "\"", "status != CANCELLED"} {
		var l arrearsv1.ListInvoicesResponse
		expect(t, tr, "ListInvoices", &arrearsv1.ListInvoicesRequest{Filter: filter}, &l, codes.OK)
		for _, i := range l.Invoices {
			if i.Name != w.inv1 {
				t.Errorf("ListInvoices(%q) leaked %s", filter, i.Name)
			}
		}
		if filter == "" && len(l.Invoices) != 1 {
			t.Errorf("ListInvoices sees %d invoices, want its own one", len(l.Invoices))
		}
	}
	expect(t, tr, "ListInvoices", &arrearsv1.ListInvoicesRequest{Filter: w.adminPageFilter, PageSize: 1, PageToken: w.adminPage}, &arrearsv1.ListInvoicesResponse{}, codes.InvalidArgument, "page_token")
	var parties arrearsv1.ListPartiesResponse
	expect(t, tr, "ListParties", &arrearsv1.ListPartiesRequest{PageSize: 500}, &parties, codes.OK)
	for _, p := range parties.Parties {
		if p.Name == w.d2 || p.Name == w.c2 {
			t.Errorf("ListParties leaked %s", p.Name)
		}
	}
	var parties2 arrearsv1.ListPartiesResponse
	expect(t, tr, "ListParties", &arrearsv1.ListPartiesRequest{Filter: "region_code = 44*"}, &parties2, codes.OK)
	if len(parties2.Parties) != 0 {
		t.Errorf("ListParties(region 44*) leaked %d parties", len(parties2.Parties))
	}
	var claims arrearsv1.ListClaimsResponse
	expect(t, tr, "ListClaims", &arrearsv1.ListClaimsRequest{Filter: "debtor = \"" + w.d2 + "\""}, &claims, codes.OK)
	var complaints arrearsv1.ListComplaintsResponse
	expect(t, tr, "ListComplaints", &arrearsv1.ListComplaintsRequest{}, &complaints, codes.OK)
	if len(claims.Claims)+len(complaints.Complaints) != 0 {
		t.Errorf("supplier-side lists leaked %d claims and %d complaints", len(claims.Claims), len(complaints.Complaints))
	}
	if role == auth.RoleRegulator {
		var st arrearsv1.GetComplaintStatisticsResponse
		expect(t, tr, "GetComplaintStatistics", &arrearsv1.GetComplaintStatisticsRequest{GroupBy: "DEBTOR"}, &st, codes.OK)
		for _, g := range st.Groups {
			if g.Group == w.d2 {
				t.Errorf("statistics leaked the other province's debtor")
			}
		}
	}
	// Every role has the summary of its own side: a supplier (or its
	// portal) of what it is owed, by debtor.
	var sum arrearsv1.GetOverdueSummaryResponse
	expect(t, tr, "GetOverdueSummary", &arrearsv1.GetOverdueSummaryRequest{GroupBy: []string{"debtor"}}, &sum, codes.OK)
	if len(sum.Groups) == 0 {
		t.Errorf("overdue summary of the own side is empty")
	}
	for _, g := range sum.Groups {
		if g.Key["debtor"] != w.d1 {
			t.Errorf("overdue summary leaked debtor %s", g.Key["debtor"])
		}
	}
	var feed arrearsv1.ListEventsResponse
	expect(t, tr, "ListEvents", &arrearsv1.ListEventsRequest{PageSize: 1000}, &feed, codes.OK)
	ownInvoice := false
	for _, e := range feed.Events {
		if e.Chain == w.d2 || e.Chain == w.c2 || strings.HasPrefix(e.Resource, "apiKeys/") {
			t.Errorf("ListEvents leaked %s on chain %s", e.Resource, e.Chain)
		}
		// Which portals a supplier uses is the supplier's: not another
		// portal's, nor a regulator's, whose remit is over debtors.
		if (role == auth.RolePortal || role == auth.RoleRegulator) && strings.Contains(e.Method, "Portal") {
			t.Errorf("ListEvents showed a %s key the supplier's %s of %s", role, e.Method, e.Resource)
		}
		ownInvoice = ownInvoice || e.Resource == w.inv1
	}
	if !ownInvoice {
		t.Errorf("ListEvents does not show the own invoice's events (%d events)", len(feed.Events))
	}
}

func revocationAndExpiry(t *testing.T, trs map[string]transport, w *world, clk *clock.Fake) {
	admin := trs["gRPC"]
	var k arrearsv1.CreateApiKeyResponse
	call(t, admin, "CreateApiKey", &arrearsv1.CreateApiKeyRequest{ApiKey: &arrearsv1.ApiKey{
		Role: arrearsv1.Role_ROLE_DEBTOR, Parties: []string{w.d1}, ExpireTime: timestamppb.New(clk.Now().Add(time.Hour))}}, &k)
	get := &arrearsv1.GetInvoiceRequest{Name: w.inv1}
	for name, tr := range trs {
		expect(t, withToken(tr, k.Token), "GetInvoice", get, &arrearsv1.GetInvoiceResponse{}, codes.OK)
		_ = name
	}
	clk.Advance(2 * time.Hour)
	for _, tr := range trs {
		expect(t, withToken(tr, k.Token), "GetInvoice", get, &arrearsv1.GetInvoiceResponse{}, codes.Unauthenticated)
	}
	// A description PostgreSQL could not store as text is refused by name
	// on every store.
	expect(t, admin, "CreateApiKey", &arrearsv1.CreateApiKeyRequest{ApiKey: &arrearsv1.ApiKey{Role: arrearsv1.Role_ROLE_CREDITOR,
		Parties: []string{w.c1}, Description: "ERP\x00key"}}, &arrearsv1.CreateApiKeyResponse{}, codes.InvalidArgument, "api_key.description")
	var k2 arrearsv1.CreateApiKeyResponse
	call(t, admin, "CreateApiKey", &arrearsv1.CreateApiKeyRequest{ApiKey: &arrearsv1.ApiKey{Role: arrearsv1.Role_ROLE_CREDITOR, Parties: []string{w.c1}}}, &k2)
	for _, tr := range trs {
		expect(t, withToken(tr, k2.Token), "GetInvoice", get, &arrearsv1.GetInvoiceResponse{}, codes.OK)
	}
	call(t, admin, "RevokeApiKey", &arrearsv1.RevokeApiKeyRequest{Name: k2.ApiKey.Name}, &arrearsv1.RevokeApiKeyResponse{})
	for _, tr := range trs {
		expect(t, withToken(tr, k2.Token), "GetInvoice", get, &arrearsv1.GetInvoiceResponse{}, codes.Unauthenticated)
	}
}

// TestRateLimit exhausts a key's bucket over gRPC and REST and refills it
// by moving the clock, not by sleeping.
func TestRateLimit(t *testing.T) {
	dir := t.TempDir()
	clk := clock.NewFake(now)
	g, h := startServer(t, config{DataDir: dir, RateLimit: 1, RateBurst: 3}, clk)
	token := adminToken(t, dir)
	conn, err := grpc.NewClient(g, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tr := &grpcTransport{conn: conn, token: token}
	req := &arrearsv1.ListPartiesRequest{}
	for i := 0; i < 3; i++ {
		expect(t, tr, "ListParties", req, &arrearsv1.ListPartiesResponse{}, codes.OK)
	}
	expect(t, tr, "ListParties", req, &arrearsv1.ListPartiesResponse{}, codes.ResourceExhausted)
	hreq, _ := http.NewRequest("GET", "http://"+h+"/v1/parties", nil)
	hreq.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(hreq)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("REST over the limit: HTTP %d, Retry-After %q; want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// Refused before its body is read: a body that would not decode gets
	// the 429 too, not a 400 from decoding it.
	breq, _ := http.NewRequest("POST", "http://"+h+"/v1/parties", strings.NewReader(`{"party": {`))
	breq.Header.Set("Authorization", "Bearer "+token)
	if resp, err := http.DefaultClient.Do(breq); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("REST over the limit with a broken body: HTTP %d, want 429", resp.StatusCode)
	}
	clk.Advance(2 * time.Second)
	expect(t, tr, "ListParties", req, &arrearsv1.ListPartiesResponse{}, codes.OK)
	_ = fmt.Sprint()
	_ = context.Background()
}

// TestLastAdminKeyIsKept: the API refuses to revoke the last admin key
// that works (an expired one does not count), which would leave nobody to
// create keys but an operator on the database's host; once another admin
// key exists, the old one goes.
func TestLastAdminKeyIsKept(t *testing.T) {
	dir := t.TempDir()
	clk := clock.NewFake(now)
	g, _ := startServer(t, config{DataDir: dir}, clk)
	conn, err := grpc.NewClient(g, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	first := &grpcTransport{conn: conn, token: adminToken(t, dir)}
	var keys arrearsv1.ListApiKeysResponse
	call(t, first, "ListApiKeys", &arrearsv1.ListApiKeysRequest{}, &keys)
	if len(keys.ApiKeys) != 1 {
		t.Fatalf("%d keys at start, want the first admin key", len(keys.ApiKeys))
	}
	firstName := keys.ApiKeys[0].Name
	var expiring arrearsv1.CreateApiKeyResponse
	call(t, first, "CreateApiKey", &arrearsv1.CreateApiKeyRequest{ApiKey: &arrearsv1.ApiKey{Role: arrearsv1.Role_ROLE_ADMIN,
		ExpireTime: timestamppb.New(clk.Now().Add(time.Hour))}}, &expiring)
	clk.Advance(2 * time.Hour)
	expect(t, first, "RevokeApiKey", &arrearsv1.RevokeApiKeyRequest{Name: firstName}, &arrearsv1.RevokeApiKeyResponse{}, codes.FailedPrecondition)
	call(t, first, "ListApiKeys", &arrearsv1.ListApiKeysRequest{}, &arrearsv1.ListApiKeysResponse{}) // still works

	var second arrearsv1.CreateApiKeyResponse
	call(t, first, "CreateApiKey", &arrearsv1.CreateApiKeyRequest{ApiKey: &arrearsv1.ApiKey{Role: arrearsv1.Role_ROLE_ADMIN}}, &second)
	call(t, first, "RevokeApiKey", &arrearsv1.RevokeApiKeyRequest{Name: firstName}, &arrearsv1.RevokeApiKeyResponse{})
	expect(t, first, "ListApiKeys", &arrearsv1.ListApiKeysRequest{}, &arrearsv1.ListApiKeysResponse{}, codes.Unauthenticated)
	other := &grpcTransport{conn: conn, token: second.Token}
	expect(t, other, "RevokeApiKey", &arrearsv1.RevokeApiKeyRequest{Name: second.ApiKey.Name}, &arrearsv1.RevokeApiKeyResponse{}, codes.FailedPrecondition)
	// Revoking a key revoked already stays an answer, not a refusal.
	call(t, other, "RevokeApiKey", &arrearsv1.RevokeApiKeyRequest{Name: firstName}, &arrearsv1.RevokeApiKeyResponse{})
}
