package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	arrearsv1 "github.com/arrears/arrears/gen/arrears/v1"
	"github.com/arrears/arrears/internal/clock"
	"github.com/arrears/arrears/internal/store/pgtest"
)

// rawCodec sends a request's bytes as they are, so a test can send what no
// well-behaved client would.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }
func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(*v.(*[]byte))}, nil
}
func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*[]byte) = data.Materialize()
	return nil
}

// TestRequestsRefusedBeforeDecoding: a unary call without a key is refused
// before its request is decoded, and a request that would decode into far
// more memory than its bytes (thousands of empty elements) is refused,
// naming the field, on every path; neither changes anything.
func TestRequestsRefusedBeforeDecoding(t *testing.T) {
	f := newSyncFixture(t, config{})
	ctx := context.Background()
	const batch = "/arrears.v1.SyncService/SyncPayablesBatch"
	garbage := []byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f} // a length past the end
	var out []byte

	// No key: refused before the bytes are read, so the answer is about
	// the key, not the bytes.
	err := f.conn.Invoke(ctx, batch, &garbage, &out, grpc.ForceCodecV2(rawCodec{}))
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("undecodable request without a key: %v, want Unauthenticated", err)
	}
	// With a key the bytes are the request's fault.
	authed := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+f.erp)
	err = f.conn.Invoke(authed, batch, &garbage, &out, grpc.ForceCodecV2(rawCodec{}))
	if got := fieldsOf(err); status.Code(err) != codes.InvalidArgument || got != "request" {
		t.Errorf("undecodable request: %v (fields %q), want InvalidArgument naming request", err, got)
	}

	// A string that is not UTF-8, which protobuf refuses to decode, is
	// named by its path.
	asAdmin := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+f.admin)
	for _, c := range []struct {
		ctx    context.Context
		method string
		req    proto.Message
		field  string
	}{
		{asAdmin, "/arrears.v1.LedgerService/CreateParty", &arrearsv1.CreatePartyRequest{Party: &arrearsv1.Party{DisplayName: "Mark_XX"}}, "party.display_name"},
		{authed, batch, &arrearsv1.SyncPayablesBatchRequest{Debtor: f.debtor, Records: []*arrearsv1.PayableRecord{{DocumentRef: "A-1"}, {DocumentRef: "B-1",
			Payments: []*arrearsv1.PayablePayment{{Reference: "P-1"}, {Reference: "Mark_XX"}}}}}, "records[1].payments[1].reference"},
	} {
		raw, _ := proto.Marshal(c.req)
		raw = bytes.Replace(raw, []byte("Mark_XX"), []byte("Mark_\xff\xfe"), 1)
		err = f.conn.Invoke(c.ctx, c.method, &raw, &out, grpc.ForceCodecV2(rawCodec{}))
		if got := fieldsOf(err); status.Code(err) != codes.InvalidArgument || got != c.field {
			t.Errorf("%s with a string not UTF-8: %v (fields %q), want InvalidArgument naming %s", c.method, err, got, c.field)
		}
	}

	// One record with 15,000 empty payments: 45 KB on the wire, some 1.8 MB
	// decoded, past the budget of 16 times the 64 KiB request limit.
	rec := &arrearsv1.PayableRecord{Sequence: 1, DocumentRef: "BOMB-1"}
	for range 15000 {
		rec.Payments = append(rec.Payments, &arrearsv1.PayablePayment{})
	}
	req := &arrearsv1.SyncPayablesBatchRequest{Debtor: f.debtor, Records: []*arrearsv1.PayableRecord{rec}}
	_, err = arrearsv1.NewSyncServiceClient(f.conn).SyncPayablesBatch(authed, req)
	if got := fieldsOf(err); status.Code(err) != codes.InvalidArgument || got != "records.payments" {
		t.Errorf("batch of 15,000 empty payments: %v (fields %q), want InvalidArgument naming records.payments", err, got)
	}
	// The same as JSON: 15,000 "{}" are refused before the gateway
	// decodes them, a 400 naming the body.
	expect(t, &restTransport{base: "http://" + f.http, token: f.erp}, "SyncPayablesBatch", req, &arrearsv1.SyncPayablesBatchResponse{},
		codes.InvalidArgument, "body")
	// And as a line of the NDJSON stream, which names the line.
	open, _ := protojson.Marshal(&arrearsv1.SyncPayablesRequest{Kind: &arrearsv1.SyncPayablesRequest_Open{Open: &arrearsv1.SyncOpen{Session: "bomb", Debtor: f.debtor}}})
	line, _ := protojson.Marshal(&arrearsv1.SyncPayablesRequest{Kind: &arrearsv1.SyncPayablesRequest_Chunk{Chunk: &arrearsv1.PayableChunk{Records: []*arrearsv1.PayableRecord{rec}}}})
	hreq, _ := http.NewRequest("POST", "http://"+f.http+"/v1/sync", strings.NewReader(string(open)+"\n"+string(line)+"\n"))
	hreq.Header.Set("Authorization", "Bearer "+f.erp)
	resp, err := http.DefaultClient.Do(hreq)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "line 2") || !strings.Contains(string(body), "too many elements") {
		t.Errorf("NDJSON line of 15,000 empty payments: HTTP %d %s", resp.StatusCode, body)
	}

	// And as a chunk of the stream.
	_, _, err = syncStream(t, ctx, f.conn, f.erp, f.debtor, "bomb", []*arrearsv1.PayableRecord{rec}, 1)
	if got := fieldsOf(err); status.Code(err) != codes.InvalidArgument || got != "chunk.records.payments" {
		t.Errorf("chunk of 15,000 empty payments: %v (fields %q), want InvalidArgument naming chunk.records.payments", err, got)
	}
	if n := countInvoices(t, f.conn, f.erp); n != 0 {
		t.Errorf("%d invoices after refused requests, want 0", n)
	}

	// A real request of the same size still goes through.
	var ok arrearsv1.SyncPayablesBatchResponse
	call(t, &grpcTransport{conn: f.conn, token: f.erp}, "SyncPayablesBatch",
		&arrearsv1.SyncPayablesBatchRequest{Debtor: f.debtor, Records: records(0, 200, same)}, &ok)
	if o := outcomes(ok.Result.Results); o["CREATED"] != 200 {
		t.Errorf("a 200-record batch: %v", o)
	}
}

// fieldsOf lists the BadRequest fields of err, comma-separated.
func fieldsOf(err error) string {
	var fields []string
	for _, v := range violations(status.Convert(err).Proto()) {
		fields = append(fields, v.Field)
	}
	return strings.Join(fields, ",")
}

// TestHealthWatchesOnlyServedServices: the public, long-lived health watch
// answers for the services this server has, and refuses any other name
// (which the stock service would keep for the life of the stream).
func TestHealthWatchesOnlyServedServices(t *testing.T) {
	f := newSyncFixture(t, config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	watch := func(service string) (*healthpb.HealthCheckResponse, error) {
		st, err := healthpb.NewHealthClient(f.conn).Watch(ctx, &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			return nil, err
		}
		return st.Recv()
	}
	if r, err := watch("arrears.v1.SyncService"); err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("watching a served service: %v, %v", r, err)
	}
	if _, err := watch(strings.Repeat("x", 30000)); status.Code(err) != codes.NotFound {
		t.Errorf("watching an unknown service: %v, want NotFound", err)
	}
}

// TestUpdateSentBackAsReadChoosesTheLawAgain: an invoice read and sent back
// whole with a corrected contract date (the README's PATCH) has its law
// chosen again; the policy it was read with is not taken as named.
func TestUpdateSentBackAsReadChoosesTheLawAgain(t *testing.T) {
	f := newSyncFixture(t, config{})
	erp := &grpcTransport{conn: f.conn, token: f.erp}
	var batch arrearsv1.SyncPayablesBatchResponse
	call(t, erp, "SyncPayablesBatch", &arrearsv1.SyncPayablesBatchRequest{Debtor: f.debtor, Records: records(900, 1, same)}, &batch)
	var got arrearsv1.GetInvoiceResponse
	call(t, erp, "GetInvoice", &arrearsv1.GetInvoiceRequest{Name: batch.Result.Results[0].Invoice}, &got)
	if !strings.HasPrefix(got.Invoice.Policy, "CN-802-") {
		t.Fatalf("signed 15 June 2025: policy %s", got.Invoice.Policy)
	}
	inv := got.Invoice
	inv.ContractSignedOn = date(2025, 3, 1)
	for _, tr := range []transport{erp, &restTransport{base: "http://" + f.http, token: f.erp}} {
		var upd arrearsv1.UpdateInvoiceResponse
		call(t, tr, "UpdateInvoice", &arrearsv1.UpdateInvoiceRequest{Invoice: inv, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"contract_signed_on"}}}, &upd)
		if !strings.HasPrefix(upd.Invoice.Policy, "CN-728-") {
			t.Errorf("signed 1 March 2025, sent back as read: policy %s, want Decree 728's", upd.Invoice.Policy)
		}
		inv.Etag = upd.Invoice.Etag
	}
}

// TestStopEndsHealthWatches: a client watching health does not hold the
// graceful stop to its timeout: the watch sees NOT_SERVING and ends, and
// the server stops at once.
func TestStopEndsHealthWatches(t *testing.T) {
	g, _, stop := startStoppable(t, config{}, clock.NewFake(now))
	conn, err := grpc.NewClient(g, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	st, err := healthpb.NewHealthClient(conn).Watch(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := st.Recv(); err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("watch: %v, %v", r, err)
	}
	start := time.Now()
	stop() // the shutdown timeout is 5 s
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the stop took %s with a health watch open", d)
	}
}

// TestNULRefusedNamingTheField: PostgreSQL's text cannot hold U+0000, and a
// query that binds one fails whole. A request carrying one is refused as
// the caller's mistake, naming the field, over gRPC and REST; a sync
// record carrying one is rejected alone, the rest of its batch applied.
func TestNULRefusedNamingTheField(t *testing.T) {
	f := newSyncFixture(t, config{DatabaseURL: pgtest.URL(t)})
	erp := &grpcTransport{conn: f.conn, token: f.erp}
	erpREST := &restTransport{base: "http://" + f.http, token: f.erp}

	recs := records(0, 3, same)
	recs[1].DocumentRef += "\x00"
	var synced arrearsv1.SyncPayablesBatchResponse
	call(t, erp, "SyncPayablesBatch", &arrearsv1.SyncPayablesBatchRequest{Debtor: f.debtor, Records: recs}, &synced)
	res := synced.GetResult().GetResults()
	if o := outcomes(res); o["CREATED"] != 2 || o["REJECTED"] != 1 || len(res[1].Problems) != 1 || res[1].Problems[0].Field != "document_ref" {
		t.Errorf("a batch with a NUL in one record's reference: %v", res)
	}

	inv := &arrearsv1.Invoice{Debtor: f.debtor, Creditor: recs[0].Creditor, DocumentRef: "NUL-1", Amount: cny(100000),
		ContractSignedOn: date(2025, 6, 15), DeliveredOn: date(2025, 7, 1), IssuedOn: date(2025, 7, 1), AgreedTermDays: 60}
	for _, tr := range []transport{erp, erpREST} {
		expect(t, tr, "CreateInvoice", &arrearsv1.CreateInvoiceRequest{Invoice: inv, RequestId: "retry-\x00"},
			&arrearsv1.CreateInvoiceResponse{}, codes.InvalidArgument, "request_id")
		bad := proto.Clone(inv).(*arrearsv1.Invoice)
		bad.ContractRef = "HT\x00"
		expect(t, tr, "CreateInvoice", &arrearsv1.CreateInvoiceRequest{Invoice: bad},
			&arrearsv1.CreateInvoiceResponse{}, codes.InvalidArgument, "invoice.contract_ref")
		expect(t, tr, "ListInvoices", &arrearsv1.ListInvoicesRequest{Filter: `document_ref = "ERP-000000\x00"`},
			&arrearsv1.ListInvoicesResponse{}, codes.InvalidArgument, "filter")
	}
	if n := countInvoices(t, f.conn, f.erp); n != 2 {
		t.Errorf("%d invoices after the refused requests, want 2", n)
	}
}
