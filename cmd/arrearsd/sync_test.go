package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	arrearsv1 "github.com/arrears/arrears/gen/arrears/v1"
	"github.com/arrears/arrears/internal/clock"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/store/pgtest"
)

// syncFixture is a server with a debtor, its ERP's key and an admin.
type syncFixture struct {
	conn              *grpc.ClientConn
	http              string
	admin, erp, other string
	debtor, debtor2   string
	cfg               config
	clk               *clock.Fake
}

func newSyncFixture(t *testing.T, cfg config) *syncFixture {
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	f := &syncFixture{cfg: cfg, clk: clock.NewFake(now)}
	f.start(t)
	f.admin = adminToken(t, cfg.DataDir)
	admin := &grpcTransport{conn: f.conn, token: f.admin}
	var d, d2 arrearsv1.CreatePartyResponse
	call(t, admin, "CreateParty", &arrearsv1.CreatePartyRequest{Party: &arrearsv1.Party{DisplayName: "Minjiang Heavy Machinery",
		Kind: arrearsv1.PartyKind_PARTY_KIND_LARGE_ENTERPRISE, Jurisdiction: "CN", RegistrationId: uscc("91350100MA2TYN001"), RegionCode: "350100"}}, &d)
	call(t, admin, "CreateParty", &arrearsv1.CreatePartyRequest{Party: &arrearsv1.Party{DisplayName: "Other Buyer",
		Kind: arrearsv1.PartyKind_PARTY_KIND_LARGE_ENTERPRISE, Jurisdiction: "CN", RegistrationId: uscc("91350100MA2TYN002"), RegionCode: "350100"}}, &d2)
	f.debtor, f.debtor2 = d.Party.Name, d2.Party.Name
	var k, k2 arrearsv1.CreateApiKeyResponse
	call(t, admin, "CreateApiKey", &arrearsv1.CreateApiKeyRequest{ApiKey: &arrearsv1.ApiKey{Role: arrearsv1.Role_ROLE_DEBTOR, Parties: []string{f.debtor}}}, &k)
	call(t, admin, "CreateApiKey", &arrearsv1.CreateApiKeyRequest{ApiKey: &arrearsv1.ApiKey{Role: arrearsv1.Role_ROLE_DEBTOR, Parties: []string{f.debtor2}}}, &k2)
	f.erp, f.other = k.Token, k2.Token
	return f
}

func (f *syncFixture) start(t *testing.T) {
	g, h := startServer(t, f.cfg, f.clk)
	conn, err := grpc.NewClient(g, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	f.conn, f.http = conn, h
}

// record is payable i of the ERP: supplier i%7 (created on first sight),
// CNY (1000+i).00, delivered in July 2025, a payment on every third.
func record(seq int64, i int, variant int64) *arrearsv1.PayableRecord {
	r := &arrearsv1.PayableRecord{Sequence: seq, DocumentRef: fmt.Sprintf("ERP-%06d", i),
		Creditor: "parties/CN:" + uscc(fmt.Sprintf("92350121MA0TY%04d", i%7)), CreditorName: fmt.Sprintf("Supplier %d", i%7),
		CreditorSizeClass: arrearsv1.SizeClass_SIZE_CLASS_SMALL,
		Amount:            cny(int64(100000+i*100) + variant), ContractSignedOn: date(2025, 6, 15), DeliveredOn: date(2025, 7, int32(1+i%28)),
		IssuedOn: date(2025, 7, int32(1+i%28)), AgreedTermDays: 60}
	if i%3 == 0 {
		r.Payments = []*arrearsv1.PayablePayment{{Reference: fmt.Sprintf("ERP-P-%06d", i), Amount: cny(50000), PaidOn: date(2025, 9, 1)}}
	}
	return r
}

// syncStream runs one stream: open, then the records in chunks; it returns
// the results and the resume point reported at open.
func syncStream(t *testing.T, ctx context.Context, conn *grpc.ClientConn, token, debtor, session string, recs []*arrearsv1.PayableRecord, chunk int) (int64, []*arrearsv1.RecordResult, error) {
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	st, err := arrearsv1.NewSyncServiceClient(conn).SyncPayables(ctx)
	if err != nil {
		return 0, nil, err
	}
	if err := st.Send(&arrearsv1.SyncPayablesRequest{Kind: &arrearsv1.SyncPayablesRequest_Open{Open: &arrearsv1.SyncOpen{Session: session, Debtor: debtor}}}); err != nil {
		return 0, nil, err
	}
	opened, err := st.Recv()
	if err != nil {
		return 0, nil, err
	}
	var out []*arrearsv1.RecordResult
	for i := 0; i < len(recs); i += chunk {
		end := min(i+chunk, len(recs))
		if err := st.Send(&arrearsv1.SyncPayablesRequest{Kind: &arrearsv1.SyncPayablesRequest_Chunk{Chunk: &arrearsv1.PayableChunk{Records: recs[i:end]}}}); err != nil {
			return 0, out, err
		}
		resp, err := st.Recv()
		if err != nil {
			return 0, out, err
		}
		if got := resp.GetChunk().AcknowledgedSequence; got < recs[end-1].Sequence {
			t.Errorf("acknowledged %d after a chunk ending at %d", got, recs[end-1].Sequence)
		}
		out = append(out, resp.GetChunk().Results...)
	}
	st.CloseSend()
	return opened.GetOpened().ResumeAfter, out, nil
}

func outcomes(rs []*arrearsv1.RecordResult) map[string]int {
	m := map[string]int{}
	for _, r := range rs {
		m[r.Outcome]++
	}
	return m
}

func records(from, n int, variant func(i int) int64) []*arrearsv1.PayableRecord {
	var out []*arrearsv1.PayableRecord
	for i := from; i < from+n; i++ {
		out = append(out, record(int64(i+1), i, variant(i)))
	}
	return out
}

func same(int) int64 { return 0 }

func countInvoices(t *testing.T, conn *grpc.ClientConn, token string) int {
	n := 0
	tr := &grpcTransport{conn: conn, token: token}
	token2 := ""
	for {
		var l arrearsv1.ListInvoicesResponse
		call(t, tr, "ListInvoices", &arrearsv1.ListInvoicesRequest{PageSize: 500, PageToken: token2, Filter: "status != CANCELLED"}, &l)
		n += len(l.Invoices)
		if l.NextPageToken == "" {
			return n
		}
		token2 = l.NextPageToken
	}
}

func testSync(t *testing.T, cfg config) {
	f := newSyncFixture(t, cfg)
	ctx := context.Background()

	// 250 new payables in chunks of 100: all created, seven suppliers
	// created unverified on first sight.
	resume, res, err := syncStream(t, ctx, f.conn, f.erp, f.debtor, "nightly-1", records(0, 250, same), 100)
	if err != nil || resume != 0 {
		t.Fatalf("first sync: resume %d, %v", resume, err)
	}
	if o := outcomes(res); o["CREATED"] != 250 {
		t.Fatalf("first sync outcomes %v", o)
	}
	var sup arrearsv1.GetPartyResponse
	call(t, &grpcTransport{conn: f.conn, token: f.admin}, "GetParty", &arrearsv1.GetPartyRequest{Name: "parties/CN:" + uscc("92350121MA0TY0003")}, &sup)
	if sup.Party.VerificationState != arrearsv1.VerificationState_VERIFICATION_STATE_UNVERIFIED || sup.Party.RegionCode != "350121" {
		t.Errorf("supplier created from the records = %v", sup.Party)
	}
	// An administrator confirms it, over REST as over gRPC; a state that is
	// neither is refused naming the field.
	adminREST := &restTransport{base: "http://" + f.http, token: f.admin}
	expect(t, adminREST, "UpdateParty", &arrearsv1.UpdatePartyRequest{Party: &arrearsv1.Party{Name: sup.Party.Name},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"verification_state"}}}, &arrearsv1.UpdatePartyResponse{}, codes.InvalidArgument, "party.verification_state")
	var confirmed arrearsv1.UpdatePartyResponse
	call(t, adminREST, "UpdateParty", &arrearsv1.UpdatePartyRequest{Party: &arrearsv1.Party{Name: sup.Party.Name, Etag: sup.Party.Etag,
		VerificationState: arrearsv1.VerificationState_VERIFICATION_STATE_VERIFIED},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"verification_state"}}}, &confirmed)
	if confirmed.Party.VerificationState != arrearsv1.VerificationState_VERIFICATION_STATE_VERIFIED || confirmed.Party.DisplayName != sup.Party.DisplayName {
		t.Errorf("the supplier confirmed = %v", confirmed.Party)
	}

	// The same records again, in a new session: nothing changes.
	var revs arrearsv1.ListRevisionsResponse
	call(t, &grpcTransport{conn: f.conn, token: f.erp}, "ListRevisions", &arrearsv1.ListRevisionsRequest{Parent: res[3].Invoice}, &revs)
	_, res, err = syncStream(t, ctx, f.conn, f.erp, f.debtor, "nightly-2", records(0, 250, same), 100)
	if err != nil {
		t.Fatal(err)
	}
	if o := outcomes(res); o["UNCHANGED"] != 250 {
		t.Errorf("repeated sync outcomes %v, want all UNCHANGED", o)
	}
	var revs2 arrearsv1.ListRevisionsResponse
	call(t, &grpcTransport{conn: f.conn, token: f.erp}, "ListRevisions", &arrearsv1.ListRevisionsRequest{Parent: res[3].Invoice}, &revs2)
	if len(revs2.Revisions) != len(revs.Revisions) {
		t.Errorf("a repeated sync added revisions: %d -> %d", len(revs.Revisions), len(revs2.Revisions))
	}

	// 10% changed: those are updated, with what changed.
	tenth := func(i int) int64 {
		if i%10 == 0 {
			return 1
		}
		return 0
	}
	_, res, err = syncStream(t, ctx, f.conn, f.erp, f.debtor, "nightly-3", records(0, 250, tenth), 125)
	if err != nil {
		t.Fatal(err)
	}
	if o := outcomes(res); o["UPDATED"] != 25 || o["UNCHANGED"] != 225 {
		t.Errorf("10%% changed: outcomes %v", o)
	}
	if res[0].Outcome != "UPDATED" || strings.Join(res[0].Changed, ",") != "amount" {
		t.Errorf("changed record result = %v", res[0])
	}

	// One bad record in a chunk is rejected alone, with its reasons.
	// So is one carrying a NUL, which PostgreSQL cannot even look up: in
	// its reference, a payment's, or a free-text field.
	bad := records(250, 7, same)
	bad[2].Amount = &arrearsv1.Money{CurrencyCode: "XYZ", MinorUnits: 5}
	bad[3].Payments = []*arrearsv1.PayablePayment{{Reference: "ERP-P-BIG", Amount: cny(99999999), PaidOn: date(2025, 9, 1)}}
	bad[4].DocumentRef += "\x00"
	bad[5].Payments = []*arrearsv1.PayablePayment{{Reference: "ERP-P-NUL\x00", Amount: cny(100), PaidOn: date(2025, 9, 1)}}
	bad[6].CreditorName = "Supplier\x00"
	_, res, err = syncStream(t, ctx, f.conn, f.erp, f.debtor, "nightly-4", bad, 7)
	if err != nil {
		t.Fatal(err)
	}
	if o := outcomes(res); o["CREATED"] != 2 || o["REJECTED"] != 5 {
		t.Errorf("partial rejection outcomes %v", o)
	}
	if len(res[2].Problems) == 0 || res[2].Problems[0].Field != "amount.currency_code" || res[3].Invoice != "" {
		t.Errorf("rejections: %v / %v", res[2], res[3])
	}
	for i, field := range map[int]string{4: "document_ref", 5: "payments[0].reference", 6: "creditor_name"} {
		if res[i].Outcome != "REJECTED" || len(res[i].Problems) != 1 || res[i].Problems[0].Field != field {
			t.Errorf("record with a NUL in %s: %v", field, res[i])
		}
	}
	var sess4 arrearsv1.GetSyncSessionResponse
	call(t, &grpcTransport{conn: f.conn, token: f.erp}, "GetSyncSession", &arrearsv1.GetSyncSessionRequest{Name: f.debtor + "/syncSessions/nightly-4"}, &sess4)
	if sess4.ResumeAfter != 257 {
		t.Errorf("after a chunk with rejected records the session resumes after %d, want 257", sess4.ResumeAfter)
	}
	if n := countInvoices(t, f.conn, f.erp); n != 252 {
		t.Errorf("ledger holds %d invoices, want 252 (the rejected records's invoice rolled back)", n)
	}

	// A killed client: the second chunk may or may not have committed; the
	// client asks where to resume and sends the rest, applied once.
	killed, cancel := context.WithCancel(ctx)
	recs := records(300, 300, same)
	mctx := metadata.AppendToOutgoingContext(killed, "authorization", "Bearer "+f.erp)
	st, err := arrearsv1.NewSyncServiceClient(f.conn).SyncPayables(mctx)
	if err != nil {
		t.Fatal(err)
	}
	st.Send(&arrearsv1.SyncPayablesRequest{Kind: &arrearsv1.SyncPayablesRequest_Open{Open: &arrearsv1.SyncOpen{Session: "crash", Debtor: f.debtor}}})
	st.Recv()
	st.Send(&arrearsv1.SyncPayablesRequest{Kind: &arrearsv1.SyncPayablesRequest_Chunk{Chunk: &arrearsv1.PayableChunk{Records: recs[:100]}}})
	st.Recv()
	st.Send(&arrearsv1.SyncPayablesRequest{Kind: &arrearsv1.SyncPayablesRequest_Chunk{Chunk: &arrearsv1.PayableChunk{Records: recs[100:200]}}})
	cancel()
	// The server may still commit the second chunk after the client is
	// gone: read where the session stands once it has stopped moving.
	var sess arrearsv1.GetSyncSessionResponse
	for last := int64(-1); last != sess.ResumeAfter; {
		last = sess.ResumeAfter
		time.Sleep(100 * time.Millisecond)
		call(t, &grpcTransport{conn: f.conn, token: f.erp}, "GetSyncSession", &arrearsv1.GetSyncSessionRequest{Name: f.debtor + "/syncSessions/crash"}, &sess)
	}
	// A bad session name is named where each request holds it.
	expect(t, &grpcTransport{conn: f.conn, token: f.erp}, "GetSyncSession", &arrearsv1.GetSyncSessionRequest{Name: f.debtor + "/syncSessions/a b"},
		&arrearsv1.GetSyncSessionResponse{}, codes.InvalidArgument, "name")
	if _, _, err := syncStream(t, context.Background(), f.conn, f.erp, f.debtor, "a b", recs[:1], 1); fieldsOf(err) != "open.session" {
		t.Errorf("a stream opened with session \"a b\": %v", err)
	}
	if sess.ResumeAfter != 400 && sess.ResumeAfter != 500 {
		t.Fatalf("resume after %d, want 400 or 500", sess.ResumeAfter)
	}
	rest := recs[sess.ResumeAfter-300:]
	resume, res, err = syncStream(t, ctx, f.conn, f.erp, f.debtor, "crash", rest, 100)
	if err != nil || resume != sess.ResumeAfter {
		t.Fatalf("resumed sync: resume %d, %v", resume, err)
	}
	if o := outcomes(res); o["CREATED"] != len(rest) {
		t.Errorf("resumed sync outcomes %v", o)
	}
	if n := countInvoices(t, f.conn, f.erp); n != 552 {
		t.Errorf("after the resumed sync the ledger holds %d invoices, want 552", n)
	}
	// Resending what was acknowledged changes nothing, and says the
	// records were taken before rather than compared.
	_, res, _ = syncStream(t, ctx, f.conn, f.erp, f.debtor, "crash", recs[:100], 100)
	if o := outcomes(res); o["DUPLICATE"] != 100 {
		t.Errorf("resending acknowledged records: %v", o)
	}

	// Another debtor's payables are refused, without saying whether the
	// debtor exists; so is a stream without SyncOpen.
	if _, _, err := syncStream(t, ctx, f.conn, f.erp, f.debtor2, "foreign", records(0, 1, same), 1); status.Code(err) != codes.NotFound {
		t.Errorf("syncing another debtor: %v", err)
	}
	if _, _, err := syncStream(t, ctx, f.conn, f.other, f.debtor, "foreign", records(0, 1, same), 1); status.Code(err) != codes.NotFound {
		t.Errorf("syncing with another debtor's key: %v", err)
	}
	// A record is accepted or not whatever chunk it comes in: one naming a
	// supplier new to the ledger without its name is rejected, though a
	// later record of its chunk names the supplier (and creates it).
	erpT := &grpcTransport{conn: f.conn, token: f.erp}
	nameless, named := record(1, 950, 0), record(2, 951, 0)
	nameless.Creditor = "parties/CN:" + uscc("92350121MA0TY0950")
	named.Creditor, nameless.CreditorName = nameless.Creditor, ""
	var sb arrearsv1.SyncPayablesBatchResponse
	call(t, erpT, "SyncPayablesBatch", &arrearsv1.SyncPayablesBatchRequest{Debtor: f.debtor, Records: []*arrearsv1.PayableRecord{nameless, named}}, &sb)
	if rs := sb.Result.Results; rs[0].Outcome != "REJECTED" || rs[1].Outcome != "CREATED" || len(rs[0].Problems) == 0 || rs[0].Problems[0].Field != "creditor_name" {
		t.Errorf("a new supplier's nameless record before a named one: %v", rs)
	}
	// A record refused for its supplier's name lists its other problems
	// too, as a request does.
	unnamed := record(1, 952, 0)
	unnamed.Creditor, unnamed.DocumentRef, unnamed.Amount = "bogus", "", &arrearsv1.Money{CurrencyCode: "CNY", MinorUnits: -1}
	call(t, erpT, "SyncPayablesBatch", &arrearsv1.SyncPayablesBatchRequest{Debtor: f.debtor, Records: []*arrearsv1.PayableRecord{unnamed}}, &sb)
	var fields []string
	for _, p := range sb.Result.Results[0].Problems {
		fields = append(fields, p.Field)
	}
	if got := strings.Join(fields, ","); got != "creditor,document_ref,amount.minor_units" {
		t.Errorf("a record with a bad creditor, no reference and a negative amount names %s", got)
	}
	// An impossible date is one problem of its field, not also a missing
	// date.
	undated := record(1, 953, 0)
	undated.IssuedOn = date(2025, 2, 30)
	call(t, erpT, "SyncPayablesBatch", &arrearsv1.SyncPayablesBatchRequest{Debtor: f.debtor, Records: []*arrearsv1.PayableRecord{undated}}, &sb)
	if ps := sb.Result.Results[0].Problems; len(ps) != 1 || ps[0].Field != "issued_on" {
		t.Errorf("a record issued on 2025-02-30: %v, want one problem of issued_on", ps)
	}
	// A reason without its date is no reversal or cancellation: refused,
	// not answered UNCHANGED.
	reason := record(1, 3, 0) // synced above, with a payment
	reason.Payments[0].ReversalReason = "bounced"
	cancelled := record(2, 6, 0)
	cancelled.CancelReason = "raised in error"
	call(t, erpT, "SyncPayablesBatch", &arrearsv1.SyncPayablesBatchRequest{Debtor: f.debtor, Records: []*arrearsv1.PayableRecord{reason, cancelled}}, &sb)
	for i, field := range []string{"payments[0].reversal_reason", "cancel_reason"} {
		if r := sb.Result.Results[i]; r.Outcome != "REJECTED" || len(r.Problems) != 1 || r.Problems[0].Field != field {
			t.Errorf("a record with %s and no date: %v", field, r)
		}
	}
	// An empty date is no date either.
	reason.Payments[0].ReversedOn, cancelled.CancelledOn = &arrearsv1.Date{}, &arrearsv1.Date{}
	call(t, erpT, "SyncPayablesBatch", &arrearsv1.SyncPayablesBatchRequest{Debtor: f.debtor, Records: []*arrearsv1.PayableRecord{reason, cancelled}}, &sb)
	for i, field := range []string{"payments[0].reversal_reason", "cancel_reason"} {
		if r := sb.Result.Results[i]; r.Outcome != "REJECTED" || len(r.Problems) != 1 || r.Problems[0].Field != field {
			t.Errorf("a record with %s and an empty date: %v", field, r)
		}
	}
	// A sequence repeated in a chunk is kept as the first record holding
	// it was answered: applied, so not among the rejections.
	first, again := record(5, 952, 0), record(5, 953, 0)
	call(t, erpT, "SyncPayablesBatch", &arrearsv1.SyncPayablesBatchRequest{Debtor: f.debtor, Session: "repeated", Records: []*arrearsv1.PayableRecord{first, again}}, &sb)
	if rs := sb.Result.Results; rs[0].Outcome != "CREATED" || rs[1].Outcome != "REJECTED" {
		t.Errorf("a sequence given twice: %v", rs)
	}
	var rep arrearsv1.GetSyncSessionResponse
	call(t, erpT, "GetSyncSession", &arrearsv1.GetSyncSessionRequest{Name: f.debtor + "/syncSessions/repeated"}, &rep)
	if rep.RejectedRecords != 0 {
		t.Errorf("the session keeps %d rejections, want 0: sequence 5 was applied", rep.RejectedRecords)
	}

	// A supplier the key sees (its own) is no debtor it syncs for: the
	// batch answers as the stream does, with a session or without.
	supplier := "parties/CN:" + uscc("92350121MA0TY0000")
	for _, session := range []string{"", "as-supplier"} {
		expect(t, &grpcTransport{conn: f.conn, token: f.erp}, "SyncPayablesBatch", &arrearsv1.SyncPayablesBatchRequest{Debtor: supplier, Session: session,
			Records: records(0, 1, same)}, &arrearsv1.SyncPayablesBatchResponse{}, codes.NotFound)
	}
	mctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+f.erp)
	st, _ = arrearsv1.NewSyncServiceClient(f.conn).SyncPayables(mctx)
	st.Send(&arrearsv1.SyncPayablesRequest{Kind: &arrearsv1.SyncPayablesRequest_Chunk{Chunk: &arrearsv1.PayableChunk{}}})
	if _, err := st.Recv(); status.Code(err) != codes.InvalidArgument {
		t.Errorf("a stream starting with a chunk: %v", err)
	}
	// A resume check the session could not keep is refused, naming it.
	st, _ = arrearsv1.NewSyncServiceClient(f.conn).SyncPayables(mctx)
	st.Send(&arrearsv1.SyncPayablesRequest{Kind: &arrearsv1.SyncPayablesRequest_Open{Open: &arrearsv1.SyncOpen{Session: "long-check", Debtor: f.debtor}}})
	st.Send(&arrearsv1.SyncPayablesRequest{Kind: &arrearsv1.SyncPayablesRequest_Chunk{Chunk: &arrearsv1.PayableChunk{
		Records: records(0, 1, same), ResumeCheck: strings.Repeat("c", 129)}}})
	st.Recv() // opened
	if _, err := st.Recv(); status.Code(err) != codes.InvalidArgument || fieldsOf(err) != "chunk.resume_check" {
		t.Errorf("a resume check of 129 bytes: %v", err)
	}
	var big []*arrearsv1.PayableRecord
	for i := 0; i < 1001; i++ {
		big = append(big, &arrearsv1.PayableRecord{Sequence: int64(i + 1), DocumentRef: "B"})
	}
	if _, _, err := syncStream(t, ctx, f.conn, f.erp, f.debtor, "big", big, 1001); status.Code(err) != codes.InvalidArgument {
		t.Errorf("a chunk of 1001 records: %v", err)
	}

	// The batch method and the REST stream.
	var batch arrearsv1.SyncPayablesBatchResponse
	call(t, &grpcTransport{conn: f.conn, token: f.erp}, "SyncPayablesBatch", &arrearsv1.SyncPayablesBatchRequest{Debtor: f.debtor, Records: records(700, 3, same)}, &batch)
	if o := outcomes(batch.Result.Results); o["CREATED"] != 3 {
		t.Errorf("batch outcomes %v", o)
	}
	var body strings.Builder
	open, _ := protojson.Marshal(&arrearsv1.SyncPayablesRequest{Kind: &arrearsv1.SyncPayablesRequest_Open{Open: &arrearsv1.SyncOpen{Session: "rest", Debtor: f.debtor}}})
	body.WriteString("\ufeff") // a byte-order mark, as Windows editors write one
	body.Write(open)
	body.WriteString("\n")
	for i := 0; i < 3; i++ {
		line, _ := protojson.Marshal(&arrearsv1.SyncPayablesRequest{Kind: &arrearsv1.SyncPayablesRequest_Chunk{Chunk: &arrearsv1.PayableChunk{Records: records(800+10*i, 10, same)}}})
		body.Write(line)
		body.WriteString("\n")
	}
	req, _ := http.NewRequest("POST", "http://"+f.http+"/v1/sync", strings.NewReader(body.String()))
	req.Header.Set("Authorization", "Bearer "+f.erp)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	created, lines := 0, 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines++
		created += strings.Count(sc.Text(), `"CREATED"`)
	}
	if resp.StatusCode != 200 || lines != 4 || created != 30 {
		t.Errorf("REST NDJSON sync: HTTP %d, %d lines, %d created; want 200, 4, 30", resp.StatusCode, lines, created)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Errorf("REST NDJSON sync answered as %q", ct)
	}
	restNDJSONErrors(t, f)

	// Everything the sync wrote, in bulk or record by record, is in the
	// audit trail and verifies.
	args := []string{"verify", "-data-dir", f.cfg.DataDir, "-log-level", "error"}
	if f.cfg.DatabaseURL != "" {
		args = append(args, "-database-url", f.cfg.DatabaseURL)
	}
	var out strings.Builder
	if err := runAudit(ctx, args, &out); err != nil || !strings.Contains(out.String(), "verifies") {
		t.Errorf("audit verify after the syncs: %v\n%s", err, out.String())
	}
}

func TestSyncSQLite(t *testing.T)   { testSync(t, config{}) }
func TestSyncPostgres(t *testing.T) { testSync(t, config{DatabaseURL: pgtest.URL(t)}) }

// TestSyncResumesAfterServerCrash stops the server after a committed chunk
// and restarts it on the same data: the acknowledged sequence survived, the
// client resends the rest, and every record is applied once.
func TestSyncResumesAfterServerCrash(t *testing.T) {
	dir := t.TempDir()
	f := newSyncFixture(t, config{DataDir: dir})
	recs := records(0, 300, same)
	g, _, stop := startStoppable(t, config{DataDir: dir}, f.clk)
	conn, err := grpc.NewClient(g, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, _, err := syncStream(t, context.Background(), conn, f.erp, f.debtor, "crash", recs[:100], 100); err != nil {
		t.Fatal(err)
	}
	stop()
	g, _, stop = startStoppable(t, config{DataDir: dir}, f.clk)
	defer stop()
	conn2, err := grpc.NewClient(g, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	resume, res, err := syncStream(t, context.Background(), conn2, f.erp, f.debtor, "crash", recs[100:], 100)
	if err != nil || resume != 100 {
		t.Fatalf("after the restart: resume %d, %v", resume, err)
	}
	if o := outcomes(res); o["CREATED"] != 200 {
		t.Errorf("outcomes after the restart %v", o)
	}
	if n := countInvoices(t, conn2, f.erp); n != 300 {
		t.Errorf("%d invoices, want 300", n)
	}
}

// TestSyncStreamsDrainAsServerStops: a server told to stop ends its sync
// streams itself, with UNAVAILABLE once every chunk it took is answered,
// rather than holding them until the graceful stop's time is up and
// cutting them; a stream still waiting for its SyncOpen ends too. A chunk
// sent as the stop begins is either answered before the end or not
// applied: the session resumes after the last acknowledgement the client
// received, so nothing was committed whose answer was lost.
func TestSyncStreamsDrainAsServerStops(t *testing.T) {
	dir := t.TempDir()
	f := newSyncFixture(t, config{DataDir: dir})
	g, _, stop := startStoppable(t, config{DataDir: dir}, f.clk)
	conn, err := grpc.NewClient(g, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+f.erp)
	client := arrearsv1.NewSyncServiceClient(conn)
	running, err := client.SyncPayables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Opened before the running stream's first round trip on the same
	// connection, so the server has it by the time that one is answered.
	unopened, err := client.SyncPayables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	running.Send(&arrearsv1.SyncPayablesRequest{Kind: &arrearsv1.SyncPayablesRequest_Open{Open: &arrearsv1.SyncOpen{Session: "drain", Debtor: f.debtor}}})
	if _, err := running.Recv(); err != nil {
		t.Fatal(err)
	}
	running.Send(&arrearsv1.SyncPayablesRequest{Kind: &arrearsv1.SyncPayablesRequest_Chunk{Chunk: &arrearsv1.PayableChunk{Records: records(0, 100, same)}}})
	resp, err := running.Recv()
	if err != nil || resp.GetChunk().AcknowledgedSequence != 100 {
		t.Fatalf("first chunk: %v, %v", resp, err)
	}
	acked := resp.GetChunk().AcknowledgedSequence
	// A chunk near the test server's 64 KB message limit, and the stop on
	// its heels: it is in flight, or not yet taken, as the drain begins.
	running.Send(&arrearsv1.SyncPayablesRequest{Kind: &arrearsv1.SyncPayablesRequest_Chunk{Chunk: &arrearsv1.PayableChunk{Records: records(100, 400, same)}}})
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	for {
		resp, err := running.Recv()
		if err != nil {
			if s := status.Convert(err); s.Code() != codes.Unavailable || !strings.Contains(s.Message(), "the server is stopping") {
				t.Errorf("a running stream as the server stops: %v; want UNAVAILABLE saying the server is stopping", err)
			}
			break
		}
		acked = resp.GetChunk().AcknowledgedSequence
	}
	if _, err := unopened.Recv(); status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "the server is stopping") {
		t.Errorf("a stream not yet opened as the server stops: %v; want UNAVAILABLE saying the server is stopping", err)
	}
	<-stopped
	var sess arrearsv1.GetSyncSessionResponse
	call(t, &grpcTransport{conn: f.conn, token: f.erp}, "GetSyncSession", &arrearsv1.GetSyncSessionRequest{Name: f.debtor + "/syncSessions/drain"}, &sess)
	if sess.ResumeAfter != acked {
		t.Errorf("the session resumes after %d, but the last answer the client received acknowledged %d", sess.ResumeAfter, acked)
	}
}

// TestRESTSyncUploadDrainsAsServerStops: a POST /v1/sync whose client has
// sent its headers but not the first line is answered 503 as the server
// stops, rather than held until the graceful stop's time is up. The
// server asks for the body (100 Continue) once the handler reads it, so
// the stop comes while it waits for the first line.
func TestRESTSyncUploadDrainsAsServerStops(t *testing.T) {
	dir := t.TempDir()
	f := newSyncFixture(t, config{DataDir: dir})
	_, h, stop := startStoppable(t, config{DataDir: dir}, f.clk)
	c, err := net.Dial("tcp", h)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /v1/sync HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/x-ndjson\r\n"+
		"Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n", h, f.erp)
	r := bufio.NewReader(c)
	if line, err := r.ReadString('\n'); err != nil || !strings.Contains(line, "100 Continue") {
		t.Fatalf("waiting for the handler to read: %q, %v", line, err)
	}
	r.ReadString('\n') // the blank line after the interim response
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "the server is stopping") {
		t.Errorf("an upload awaiting its first line as the server stops: %d %s; want 503 saying the server is stopping", resp.StatusCode, body)
	}
	<-stopped
}

// TestSyncStreamStopsWhenKeyRevoked: a key revoked during a long sync stops
// the stream at the next chunk.
func TestSyncStreamStopsWhenKeyRevoked(t *testing.T) {
	f := newSyncFixture(t, config{})
	admin := &grpcTransport{conn: f.conn, token: f.admin}
	var k arrearsv1.CreateApiKeyResponse
	call(t, admin, "CreateApiKey", &arrearsv1.CreateApiKeyRequest{ApiKey: &arrearsv1.ApiKey{Role: arrearsv1.Role_ROLE_DEBTOR, Parties: []string{f.debtor}}}, &k)
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+k.Token)
	st, err := arrearsv1.NewSyncServiceClient(f.conn).SyncPayables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st.Send(&arrearsv1.SyncPayablesRequest{Kind: &arrearsv1.SyncPayablesRequest_Open{Open: &arrearsv1.SyncOpen{Session: "revoked", Debtor: f.debtor}}})
	if _, err := st.Recv(); err != nil {
		t.Fatal(err)
	}
	recs := records(0, 20, same)
	st.Send(&arrearsv1.SyncPayablesRequest{Kind: &arrearsv1.SyncPayablesRequest_Chunk{Chunk: &arrearsv1.PayableChunk{Records: recs[:10]}}})
	if _, err := st.Recv(); err != nil {
		t.Fatalf("first chunk: %v", err)
	}
	call(t, admin, "RevokeApiKey", &arrearsv1.RevokeApiKeyRequest{Name: k.ApiKey.Name}, &arrearsv1.RevokeApiKeyResponse{})
	st.Send(&arrearsv1.SyncPayablesRequest{Kind: &arrearsv1.SyncPayablesRequest_Chunk{Chunk: &arrearsv1.PayableChunk{Records: recs[10:]}}})
	if _, err := st.Recv(); status.Code(err) != codes.Unauthenticated {
		t.Errorf("a chunk after the key was revoked: %v, want Unauthenticated", err)
	}

	// Two keys on one call: refused, rather than running as one and
	// re-checking the other (which let a revoked key keep a stream).
	two := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+f.erp, "authorization", "Bearer "+f.admin)
	if _, err := arrearsv1.NewSyncServiceClient(f.conn).GetSyncSession(two, &arrearsv1.GetSyncSessionRequest{Name: f.debtor + "/syncSessions/revoked"}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("a call with two keys: %v, want Unauthenticated", err)
	}
}

// TestSyncStreamUnreadIsClosed: a stream whose client sends and never
// reads its answers is closed as DEADLINE_EXCEEDED once an answer has
// waited the idle timeout for it, rather than held for as long as the
// client lives; the chunk stays committed.
func TestSyncStreamUnreadIsClosed(t *testing.T) {
	const idle = 400 * time.Millisecond
	f := newSyncFixture(t, config{SyncIdleTimeout: idle})
	// Only a failing test, its client waiting on a stream never closed,
	// meets this deadline.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+f.erp)
	// Fixed windows: gRPC otherwise widens them as data comes, unread.
	conn, err := grpc.NewClient(f.conn.Target(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithInitialWindowSize(1<<16), grpc.WithInitialConnWindowSize(1<<16))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	st, err := arrearsv1.NewSyncServiceClient(conn).SyncPayables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st.Send(&arrearsv1.SyncPayablesRequest{Kind: &arrearsv1.SyncPayablesRequest_Open{Open: &arrearsv1.SyncOpen{Session: "unread", Debtor: f.debtor}}})
	if _, err := st.Recv(); err != nil {
		t.Fatal(err)
	}
	// Answers beyond the client's flow-control window (64 KiB), so that
	// sending them waits for the client to read. The sends end when the
	// server takes no more, or closes the stream.
	recs := records(0, 6000, same)
	go func() {
		for i := 0; i < len(recs); i += 300 {
			if st.Send(&arrearsv1.SyncPayablesRequest{Kind: &arrearsv1.SyncPayablesRequest_Chunk{Chunk: &arrearsv1.PayableChunk{Records: recs[i : i+300]}}}) != nil {
				return
			}
		}
	}()
	// Until the session has not moved for a while: the answers waiting
	// have filled the window and the server takes no more chunks, and has
	// had the time to close the stream (however slow the machine is).
	acked := func() int64 {
		var sess arrearsv1.GetSyncSessionResponse
		call(t, &grpcTransport{conn: f.conn, token: f.erp}, "GetSyncSession", &arrearsv1.GetSyncSessionRequest{Name: f.debtor + "/syncSessions/unread"}, &sess)
		return sess.ResumeAfter
	}
	for last, since := int64(-1), time.Now(); time.Since(since) < 5*idle; time.Sleep(idle / 4) {
		if now := acked(); now != last {
			last, since = now, time.Now()
		}
	}
	for {
		_, err := st.Recv()
		if err == nil {
			continue
		}
		if status.Code(err) != codes.DeadlineExceeded || !strings.Contains(err.Error(), "for the client to read") {
			t.Errorf("a client that never reads: %v, want the server's DeadlineExceeded saying so", err)
		}
		break
	}
	if got := acked(); got < recs[299].Sequence {
		t.Errorf("acknowledged after the unread stream closed: %d, want the first chunk's %d at least", got, recs[299].Sequence)
	}
}

// TestSyncStreamIdleIsClosed: a stream whose client falls silent, before
// its SyncOpen or between chunks, is closed as DEADLINE_EXCEEDED once the
// idle timeout passes; its committed chunk stays acknowledged, and a client
// that keeps sending is not cut off however long the stream lives.
func TestSyncStreamIdleIsClosed(t *testing.T) {
	const idle = 400 * time.Millisecond
	f := newSyncFixture(t, config{SyncIdleTimeout: idle})
	// The client's own deadline, far past the server's bound, only keeps
	// a failing test from hanging; the closing must come well before it.
	ctx, cancel := context.WithTimeout(context.Background(), 30*idle)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+f.erp)
	client := arrearsv1.NewSyncServiceClient(f.conn)
	closedSoon := func(what string, recv func() error) {
		t.Helper()
		start := time.Now()
		if err := recv(); status.Code(err) != codes.DeadlineExceeded || !strings.Contains(err.Error(), "no message") {
			t.Errorf("%s: %v, want DeadlineExceeded saying no message came", what, err)
		}
		if waited := time.Since(start); waited > 10*idle {
			t.Errorf("%s: closed after %v; the idle timeout is %v", what, waited, idle)
		}
	}

	silentFromStart, err := client.SyncPayables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	closedSoon("a stream with no SyncOpen", func() error { _, err := silentFromStart.Recv(); return err })

	st, err := client.SyncPayables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st.Send(&arrearsv1.SyncPayablesRequest{Kind: &arrearsv1.SyncPayablesRequest_Open{Open: &arrearsv1.SyncOpen{Session: "idle", Debtor: f.debtor}}})
	if _, err := st.Recv(); err != nil {
		t.Fatal(err)
	}
	recs := records(0, 40, same)
	// Chunks sent at half the idle timeout apart, for three times it:
	// never idle.
	for i := range 6 {
		st.Send(&arrearsv1.SyncPayablesRequest{Kind: &arrearsv1.SyncPayablesRequest_Chunk{Chunk: &arrearsv1.PayableChunk{Records: recs[i*5 : i*5+5]}}})
		if _, err := st.Recv(); err != nil {
			t.Fatalf("chunk %d of a client that keeps sending: %v", i, err)
		}
		time.Sleep(idle / 2)
	}
	closedSoon("a silent client after its chunks", func() error { _, err := st.Recv(); return err })
	// REST: an upload whose client sent its headers and no line.
	body, w := io.Pipe()
	defer w.Close()
	go func() {
		<-ctx.Done() // a failing test ends here, not at its timeout
		w.CloseWithError(ctx.Err())
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+f.http+"/v1/sync", body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+f.erp)
	closedSoon("a REST upload with no line", func() error {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusGatewayTimeout {
			return fmt.Errorf("HTTP %d %s", resp.StatusCode, b)
		}
		return status.Error(codes.DeadlineExceeded, string(b))
	})
	var sess arrearsv1.GetSyncSessionResponse
	call(t, &grpcTransport{conn: f.conn, token: f.erp}, "GetSyncSession", &arrearsv1.GetSyncSessionRequest{Name: f.debtor + "/syncSessions/idle"}, &sess)
	if got := sess.ResumeAfter; got != recs[29].Sequence {
		t.Errorf("acknowledged after the idle stream closed: %d, want %d", got, recs[29].Sequence)
	}
}

func TestSyncPipelinedSQLite(t *testing.T) { testSyncPipelined(t, config{}) }
func TestSyncPipelinedPostgres(t *testing.T) {
	testSyncPipelined(t, config{DatabaseURL: pgtest.URL(t)})
}

// testSyncPipelined sends every chunk of a stream before reading any
// answer, so that on PostgreSQL the server works on two at once: each is
// answered in order, one correcting an invoice the chunk just before it
// created (its first try cannot see it) is applied after it, and a chunk
// that fails ends the stream with the chunks before it committed and the
// ones after it not applied.
func testSyncPipelined(t *testing.T, cfg config) {
	f := newSyncFixture(t, cfg)
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+f.erp)
	run := func(session string, chunks [][]*arrearsv1.PayableRecord) ([]*arrearsv1.ChunkResult, error) {
		st, err := arrearsv1.NewSyncServiceClient(f.conn).SyncPayables(ctx)
		if err != nil {
			return nil, err
		}
		if err := st.Send(&arrearsv1.SyncPayablesRequest{Kind: &arrearsv1.SyncPayablesRequest_Open{Open: &arrearsv1.SyncOpen{Session: session, Debtor: f.debtor}}}); err != nil {
			return nil, err
		}
		if _, err := st.Recv(); err != nil {
			return nil, err
		}
		go func() {
			for _, c := range chunks {
				if st.Send(&arrearsv1.SyncPayablesRequest{Kind: &arrearsv1.SyncPayablesRequest_Chunk{Chunk: &arrearsv1.PayableChunk{Records: c}}}) != nil {
					return
				}
			}
			st.CloseSend()
		}()
		var out []*arrearsv1.ChunkResult
		for {
			resp, err := st.Recv()
			if err == io.EOF {
				return out, nil
			}
			if err != nil {
				return out, err
			}
			out = append(out, resp.GetChunk())
		}
	}
	// Twelve chunks of 40; every chunk from the second also corrects the
	// amount of the first invoice of the chunk before it, and from the
	// third the second invoice of the chunk two before (no reference shared
	// with the chunk in flight beside it, so both write at once). From the
	// seventh, a chunk's last record names a supplier new to the ledger.
	var chunks [][]*arrearsv1.PayableRecord
	seq := int64(0)
	for c := 0; c < 12; c++ {
		var recs []*arrearsv1.PayableRecord
		if c > 0 {
			seq++
			recs = append(recs, record(seq, (c-1)*40, 7))
			recs[0].Payments = nil
		}
		if c > 1 {
			seq++
			r := record(seq, (c-2)*40+1, 9)
			r.Payments = nil
			recs = append(recs, r)
		}
		for i := c * 40; i < (c+1)*40; i++ {
			seq++
			r := record(seq, i, 0)
			if i%40 <= 1 {
				r.Payments = nil
			}
			if c >= 6 && i%40 == 39 {
				r.Creditor, r.CreditorName = "parties/CN:"+uscc(fmt.Sprintf("92350121MA0TW%04d", c)), fmt.Sprintf("New supplier %d", c)
			}
			recs = append(recs, r)
		}
		chunks = append(chunks, recs)
	}
	began := time.Now()
	res, err := run("pipelined", chunks)
	t.Logf("12 chunks in %v", time.Since(began))
	if err != nil || len(res) != len(chunks) {
		t.Fatalf("%d answers, %v", len(res), err)
	}
	for c, r := range res {
		if last := chunks[c][len(chunks[c])-1].Sequence; r.AcknowledgedSequence != last {
			t.Errorf("chunk %d acknowledged %d, want %d", c, r.AcknowledgedSequence, last)
		}
		o := outcomes(r.Results)
		want := map[string]int{"CREATED": 40}
		if c > 0 {
			want["UPDATED"] = min(c, 2)
		}
		if fmt.Sprint(o) != fmt.Sprint(want) {
			t.Errorf("chunk %d: %v, want %v (%v)", c, o, want, r.Results[0])
		}
	}
	tr := &grpcTransport{conn: f.conn, token: f.erp}
	var inv arrearsv1.GetInvoiceResponse
	call(t, tr, "GetInvoice", &arrearsv1.GetInvoiceRequest{Name: res[1].Results[0].Invoice}, &inv)
	if inv.Invoice.Amount.MinorUnits != 100000+7 {
		t.Errorf("the corrected invoice owes %d", inv.Invoice.Amount.MinorUnits)
	}
	for c := 2; c < 12; c++ {
		call(t, tr, "GetInvoice", &arrearsv1.GetInvoiceRequest{Name: res[c].Results[1].Invoice}, &inv)
		if want := int64(100000 + ((c-2)*40+1)*100 + 9); inv.Invoice.Amount.MinorUnits != want {
			t.Errorf("invoice corrected in chunk %d owes %d, want %d", c, inv.Invoice.Amount.MinorUnits, want)
		}
	}
	for c := 6; c < 12; c++ {
		var p arrearsv1.GetPartyResponse
		call(t, tr, "GetParty", &arrearsv1.GetPartyRequest{Name: "parties/CN:" + uscc(fmt.Sprintf("92350121MA0TW%04d", c))}, &p)
		if p.Party.VerificationState != arrearsv1.VerificationState_VERIFICATION_STATE_UNVERIFIED {
			t.Errorf("supplier new in chunk %d: %v", c, p.Party)
		}
	}

	// A record changed in one chunk and changed back in the next, both in
	// flight at once: the later one is applied after the earlier one has
	// committed, so the ledger ends with the later value.
	for round, back := range []int64{7, 0} {
		there, again := record(5000+int64(round)*2, 0, 50), record(5001+int64(round)*2, 0, back)
		there.Payments, again.Payments = nil, nil
		res, err := run(fmt.Sprintf("back-%d", round), [][]*arrearsv1.PayableRecord{{there}, {again}})
		if err != nil || len(res) != 2 || res[0].Results[0].Outcome != "UPDATED" || res[1].Results[0].Outcome != "UPDATED" {
			t.Fatalf("changed and changed back: %v %v", res, err)
		}
		call(t, tr, "GetInvoice", &arrearsv1.GetInvoiceRequest{Name: res[0].Results[0].Invoice}, &inv)
		if want := 100000 + back; inv.Invoice.Amount.MinorUnits != want {
			t.Errorf("after changing back: owes %d, want %d", inv.Invoice.Amount.MinorUnits, want)
		}
	}

	// A chunk whose record names a payment that another invoice holds
	// reads that invoice (and is rejected: a payment belongs to one
	// invoice), while the chunk after it corrects that invoice: the
	// correction waits for its turn, and applies once.
	holder := record(6000, 20000, 0)
	holder.Payments = []*arrearsv1.PayablePayment{{Reference: "ERP-P-HELD", Amount: cny(50000), PaidOn: date(2025, 9, 1)}}
	if res, err := run("reach-setup", [][]*arrearsv1.PayableRecord{{holder}}); err != nil || res[0].Results[0].Outcome != "CREATED" {
		t.Fatalf("the holder: %v %v", res, err)
	}
	naming, fix := record(6001, 20001, 0), record(6002, 20000, 5)
	naming.Payments, fix.Payments = holder.Payments, nil
	res, err = run("reach", [][]*arrearsv1.PayableRecord{{naming}, {fix}})
	if err != nil || len(res) != 2 || res[0].Results[0].Outcome != "REJECTED" || res[0].Results[0].Problems[0].Field != "payments[0].reference" ||
		res[1].Results[0].Outcome != "UPDATED" {
		t.Fatalf("a payment reaching the invoice the next chunk corrects: %v %v", res, err)
	}
	call(t, tr, "GetInvoice", &arrearsv1.GetInvoiceRequest{Name: res[1].Results[0].Invoice}, &inv)
	if inv.Invoice.Amount.MinorUnits != 100000+20000*100+5 || inv.Invoice.Paid.GetMinorUnits() != 50000 {
		t.Errorf("the holder after both: owes %d, paid %d", inv.Invoice.Amount.MinorUnits, inv.Invoice.Paid.GetMinorUnits())
	}

	// A failing chunk (too many records) in the middle of a stream.
	chunks = chunks[:0]
	seq = 1000
	for c := 0; c < 6; c++ {
		var recs []*arrearsv1.PayableRecord
		for i := 0; i < 30; i++ {
			seq++
			recs = append(recs, record(seq, 10000+c*2000+i, 0))
		}
		if c == 3 {
			for len(recs) <= 1000 {
				seq++
				recs = append(recs, &arrearsv1.PayableRecord{Sequence: seq, DocumentRef: "B"})
			}
		}
		chunks = append(chunks, recs)
	}
	res, err = run("failing", chunks)
	if status.Code(err) != codes.InvalidArgument || len(res) != 3 {
		t.Fatalf("a stream with a failing chunk: %d answers, %v", len(res), err)
	}
	var sess arrearsv1.GetSyncSessionResponse
	call(t, tr, "GetSyncSession", &arrearsv1.GetSyncSessionRequest{Name: f.debtor + "/syncSessions/failing"}, &sess)
	if want := chunks[2][len(chunks[2])-1].Sequence; sess.ResumeAfter != want {
		t.Errorf("resume after %d, want %d", sess.ResumeAfter, want)
	}
	// 12 chunks of 40, the holder (the record naming its payment was
	// rejected), and the three chunks before the failing one.
	if n := countInvoices(t, f.conn, f.erp); n != 12*40+1+3*30 {
		t.Errorf("the ledger holds %d invoices, want %d", n, 12*40+1+3*30)
	}
	verifyAudit(t, f.cfg)
}

// restNDJSONErrors: a line of the REST stream that is no message ends the
// upload with an error naming the line, after the chunks before it are
// answered and applied, and nothing after it is; a bad first line, or one
// longer than the request limit, is refused outright.
func restNDJSONErrors(t *testing.T, f *syncFixture) {
	t.Helper()
	post := func(body string) (*http.Response, []string) {
		t.Helper()
		req, _ := http.NewRequest("POST", "http://"+f.http+"/v1/sync", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+f.erp)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out []string
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			out = append(out, sc.Text())
		}
		return resp, out
	}
	line := func(m proto.Message) string {
		b, _ := protojson.Marshal(m)
		return string(b) + "\n"
	}
	chunk := func(recs []*arrearsv1.PayableRecord) string {
		return line(&arrearsv1.SyncPayablesRequest{Kind: &arrearsv1.SyncPayablesRequest_Chunk{Chunk: &arrearsv1.PayableChunk{Records: recs}}})
	}
	open := line(&arrearsv1.SyncPayablesRequest{Kind: &arrearsv1.SyncPayablesRequest_Open{Open: &arrearsv1.SyncOpen{Session: "rest-bad", Debtor: f.debtor}}})
	before := countInvoices(t, f.conn, f.erp)
	resp, out := post(open + chunk(records(900, 10, same)) + `{"chunk":{"records":[{"amunt":1}]}}` + "\n" + chunk(records(910, 10, same)))
	if resp.StatusCode != 200 || len(out) != 3 || !strings.Contains(out[1], `"CREATED"`) ||
		!strings.HasPrefix(out[2], `{"error":`) || !strings.Contains(out[2], "line 3") || !strings.Contains(out[2], "amunt") {
		t.Errorf("a bad third line: HTTP %d, lines:\n%s", resp.StatusCode, strings.Join(out, "\n"))
	}
	if n := countInvoices(t, f.conn, f.erp); n != before+10 {
		t.Errorf("after a bad third line the ledger holds %d more invoices, want the first chunk's 10", n-before)
	}
	var sess arrearsv1.GetSyncSessionResponse
	call(t, &grpcTransport{conn: f.conn, token: f.erp}, "GetSyncSession", &arrearsv1.GetSyncSessionRequest{Name: f.debtor + "/syncSessions/rest-bad"}, &sess)
	if sess.ResumeAfter != 910 {
		t.Errorf("after a bad third line the session resumes after %d, want 910", sess.ResumeAfter)
	}
	if resp, out := post("{\"opne\":{}}\n" + chunk(records(920, 1, same))); resp.StatusCode != 400 || len(out) != 1 || !strings.Contains(out[0], "line 1") {
		t.Errorf("a bad first line: HTTP %d, %v", resp.StatusCode, out)
	}
	// A key whose role may not sync is refused before its body is read,
	// on both routes; two keys on one request are refused.
	var reg arrearsv1.CreateApiKeyResponse
	call(t, &grpcTransport{conn: f.conn, token: f.admin}, "CreateApiKey", &arrearsv1.CreateApiKeyRequest{ApiKey: &arrearsv1.ApiKey{Role: arrearsv1.Role_ROLE_REGULATOR, RemitJurisdiction: "CN"}}, &reg)
	for _, path := range []string{"/v1/sync", "/v1/sync:batch"} {
		req, _ := http.NewRequest("POST", "http://"+f.http+path, strings.NewReader(open))
		req.Header.Set("Authorization", "Bearer "+reg.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("a regulator's key on %s: HTTP %d, want 403", path, resp.StatusCode)
		}
	}
	req, _ := http.NewRequest("POST", "http://"+f.http+"/v1/sync", strings.NewReader(open))
	req.Header.Add("Authorization", "Bearer "+f.erp)
	req.Header.Add("Authorization", "Bearer "+f.admin)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("two keys on one request: %v, %v; want 401", resp.StatusCode, err)
	}
	// A stream the server refuses at once (a debtor the key does not sync)
	// is answered while the client still holds its upload open, as a
	// client that waits for the opening answer does; an empty body is 400.
	pr, pw := io.Pipe()
	go pw.Write([]byte(line(&arrearsv1.SyncPayablesRequest{Kind: &arrearsv1.SyncPayablesRequest_Open{Open: &arrearsv1.SyncOpen{Session: "held", Debtor: f.debtor2}}})))
	held, _ := http.NewRequest("POST", "http://"+f.http+"/v1/sync", pr)
	held.Header.Set("Authorization", "Bearer "+f.erp)
	answered := make(chan string, 1)
	go func() {
		resp, err := http.DefaultClient.Do(held)
		if err != nil {
			answered <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		answered <- fmt.Sprintf("%d %s", resp.StatusCode, b)
	}()
	select {
	case got := <-answered:
		if !strings.HasPrefix(got, "404 ") {
			t.Errorf("a refused stream, upload held open: %s, want 404", got)
		}
	case <-time.After(10 * time.Second):
		t.Error("a refused stream with its upload held open got no answer in 10 s")
	}
	pw.Close()
	if resp, out := post(""); resp.StatusCode != 400 || len(out) != 1 || !strings.Contains(out[0], "empty") {
		t.Errorf("an empty body: HTTP %d, %v", resp.StatusCode, out)
	}
	long := strings.Repeat(" ", 64<<10) // the test servers' request limit (startServer)
	if resp, out := post(open + chunk(records(930, 1, same)) + "{" + long + "}\n"); resp.StatusCode != 200 || len(out) != 3 || !strings.Contains(out[2], "longer than") {
		t.Errorf("a line over the request limit: HTTP %d, %v", resp.StatusCode, out)
	}
}

// TestSyncBoundsPaymentsPerChunk: a record carrying more payments than one
// invoice may hold is rejected alone, its payments not built, the others
// applied; a chunk whose records carry more than MaxSyncChunkPayments in
// all is refused whole, naming the records, on the stream as in a batch.
// Within the message limit, a chunk of a few records once carried 140,000
// payments, some 200 MB of memory once built.
func TestSyncBoundsPaymentsPerChunk(t *testing.T) {
	f := newSyncFixture(t, config{MaxRequestBytes: 4 << 20}) // the default
	erp := &grpcTransport{conn: f.conn, token: f.erp}
	withPayments := func(seq int64, i, n int) *arrearsv1.PayableRecord {
		r := record(seq, i, 0)
		r.Amount = cny(int64(n) * 100)
		r.Payments = nil
		for k := range n {
			r.Payments = append(r.Payments, &arrearsv1.PayablePayment{Reference: fmt.Sprintf("BIG-%d-%d", i, k), Amount: cny(1), PaidOn: date(2025, 9, 1)})
		}
		return r
	}
	var batch arrearsv1.SyncPayablesBatchResponse
	call(t, erp, "SyncPayablesBatch", &arrearsv1.SyncPayablesBatchRequest{Debtor: f.debtor,
		Records: []*arrearsv1.PayableRecord{withPayments(1, 900, ledger.MaxFactsPerKind+1), record(2, 901, 0)}}, &batch)
	rs := batch.Result.Results
	if len(rs) != 2 || rs[0].Outcome != "REJECTED" || len(rs[0].Problems) == 0 || rs[0].Problems[0].Field != "payments" || rs[1].Outcome != "CREATED" {
		t.Errorf("a record of %d payments beside a plain one: %v", ledger.MaxFactsPerKind+1, rs)
	}
	over := []*arrearsv1.PayableRecord{withPayments(3, 902, 6000), withPayments(4, 903, 6000)}
	expect(t, erp, "SyncPayablesBatch", &arrearsv1.SyncPayablesBatchRequest{Debtor: f.debtor, Records: over},
		&arrearsv1.SyncPayablesBatchResponse{}, codes.InvalidArgument, "records")
	_, _, err := syncStream(t, context.Background(), f.conn, f.erp, f.debtor, "bounded", over, 2)
	if st, _ := status.FromError(err); st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "chunk.records") {
		t.Errorf("a stream's chunk of 12,000 payments: %v, want INVALID_ARGUMENT naming chunk.records", err)
	}
	// 10,000 in all fit.
	fit := []*arrearsv1.PayableRecord{withPayments(5, 904, 9000), withPayments(6, 905, 1000)}
	_, res, err := syncStream(t, context.Background(), f.conn, f.erp, f.debtor, "bounded-2", fit, 2)
	if err != nil || outcomes(res)["CREATED"] != 2 {
		t.Errorf("a chunk of 10,000 payments: %v, %v", outcomes(res), err)
	}
}
