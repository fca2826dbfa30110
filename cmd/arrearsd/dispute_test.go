package main

import (
	"context"
	"testing"

	"google.golang.org/grpc/metadata"

	"google.golang.org/grpc/codes"

	arrearsv1 "github.com/arrears/arrears/gen/arrears/v1"
)

// TestDisputeSides: the side that raised a dispute withdraws it, only the
// supplier credits it, only a regulator rejects it.
func TestDisputeSides(t *testing.T) {
	f := newSyncFixture(t, config{})
	admin := &grpcTransport{conn: f.conn, token: f.admin}
	debtor := &grpcTransport{conn: f.conn, token: f.erp}
	var c arrearsv1.CreatePartyResponse
	call(t, admin, "CreateParty", &arrearsv1.CreatePartyRequest{Party: &arrearsv1.Party{DisplayName: "S", Kind: arrearsv1.PartyKind_PARTY_KIND_SME,
		SizeClass: arrearsv1.SizeClass_SIZE_CLASS_SMALL, Jurisdiction: "CN", RegistrationId: uscc("92350121MA0DKP001"), RegionCode: "350121"}}, &c)
	key := func(k *arrearsv1.ApiKey) *grpcTransport {
		var r arrearsv1.CreateApiKeyResponse
		call(t, admin, "CreateApiKey", &arrearsv1.CreateApiKeyRequest{ApiKey: k}, &r)
		return &grpcTransport{conn: f.conn, token: r.Token}
	}
	supplier := key(&arrearsv1.ApiKey{Role: arrearsv1.Role_ROLE_CREDITOR, Parties: []string{c.Party.Name}})
	regulator := key(&arrearsv1.ApiKey{Role: arrearsv1.Role_ROLE_REGULATOR, RemitJurisdiction: "CN", RemitRegionPrefix: "35"})
	var inv arrearsv1.CreateInvoiceResponse
	call(t, debtor, "CreateInvoice", &arrearsv1.CreateInvoiceRequest{Invoice: &arrearsv1.Invoice{Debtor: f.debtor, Creditor: c.Party.Name,
		DocumentRef: "DSP-1", Amount: cny(1000000), IssuedOn: date(2025, 7, 1), DeliveredOn: date(2025, 7, 1), AgreedTermDays: 30}}, &inv)
	open := func() string {
		var d arrearsv1.OpenDisputeResponse
		call(t, debtor, "OpenDispute", &arrearsv1.OpenDisputeRequest{Parent: inv.Invoice.Name, Dispute: &arrearsv1.Dispute{
			Amount: cny(1000), Reason: "damaged", OpenedOn: date(2025, 8, 1)}}, &d)
		if d.Dispute.OpenedBy != "DEBTOR" {
			t.Errorf("opened_by = %q", d.Dispute.OpenedBy)
		}
		return d.Dispute.Name
	}
	resolve := func(tr transport, name string, r arrearsv1.DisputeResolution, want codes.Code) {
		t.Helper()
		expect(t, tr, "ResolveDispute", &arrearsv1.ResolveDisputeRequest{Name: name, Resolution: r, ResolvedOn: date(2025, 8, 2)}, &arrearsv1.ResolveDisputeResponse{}, want)
	}
	d1 := open()
	resolve(supplier, d1, arrearsv1.DisputeResolution_DISPUTE_RESOLUTION_REJECTED, codes.PermissionDenied)
	resolve(debtor, d1, arrearsv1.DisputeResolution_DISPUTE_RESOLUTION_CREDITED, codes.PermissionDenied)
	resolve(supplier, d1, arrearsv1.DisputeResolution_DISPUTE_RESOLUTION_WITHDRAWN, codes.PermissionDenied)
	if err := supplier.conn.Invoke(metadataCtx(supplier.token), "/arrears.v1.LedgerService/ResolveDispute", &arrearsv1.ResolveDisputeRequest{Name: d1, Resolution: arrearsv1.DisputeResolution_DISPUTE_RESOLUTION_CREDITED, ResolvedOn: date(2025, 8, 2)}, &arrearsv1.ResolveDisputeResponse{}); err != nil {
		t.Fatalf("supplier credits: %v", err)
	}
	d2 := open()
	resolve(debtor, d2, arrearsv1.DisputeResolution_DISPUTE_RESOLUTION_REJECTED, codes.PermissionDenied)
	resolve(regulator, d2, arrearsv1.DisputeResolution_DISPUTE_RESOLUTION_REJECTED, codes.OK)
	d3 := open()
	resolve(debtor, d3, arrearsv1.DisputeResolution_DISPUTE_RESOLUTION_WITHDRAWN, codes.OK)
}

func metadataCtx(token string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token)
}
