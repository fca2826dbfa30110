package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"github.com/google/uuid"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	arrearsv1 "github.com/arrears/arrears/gen/arrears/v1"
	"github.com/arrears/arrears/internal/clock"
	"github.com/arrears/arrears/internal/store/pgtest"
)

func TestMain(m *testing.M) {
	// The tests configure their servers themselves: an operator's
	// ARREARS_* settings (a production database URL, a key file) in the
	// shell that runs them must not reach them. Only the test harness's
	// own variables stay.
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "ARREARS_") && !strings.HasPrefix(name, "ARREARS_TEST_") && name != "ARREARS_REQUIRE_POSTGRES" {
			os.Unsetenv(name)
		}
	}
	os.Exit(pgtest.Main(m))
}

// now is the fake clock's start: 15:00 UTC on 20 November 2025 is
// 23:00 in Shanghai, the same civil date.
var now = time.Date(2025, 11, 20, 15, 0, 0, 0, time.UTC)

// startServer runs the real arrearsd (serve) on loopback ports chosen by
// the kernel and returns the addresses; it stops when the test ends.
func startServer(t *testing.T, cfg config, clk *clock.Fake) (grpcAddr, httpAddr string) {
	t.Helper()
	g, h, stop := startStoppable(t, cfg, clk)
	t.Cleanup(stop)
	return g, h
}

// startStoppable is startServer with an explicit stop, for tests that kill
// and restart the server.
func startStoppable(t *testing.T, cfg config, clk *clock.Fake) (grpcAddr, httpAddr string, stop func()) {
	t.Helper()
	cfg.GRPCAddr, cfg.HTTPAddr = cmp.Or(cfg.GRPCAddr, "127.0.0.1:0"), "127.0.0.1:0"
	cfg.LogLevel, cfg.LogFormat, cfg.ShutdownTimeout = 8, "json", 5*time.Second
	if cfg.MaxRequestBytes == 0 {
		cfg.MaxRequestBytes = 64 << 10
	}
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	cfg.AdminKeyFile = filepath.Join(cfg.DataDir, "admin.key")
	cfg.AuditKeyFile = filepath.Join(cfg.DataDir, "audit-signing.key")
	cfg.CreateAuditKey = true
	if cfg.CheckpointEvery == 0 {
		cfg.CheckpointEvery = time.Hour
	}
	if cfg.SweepEvery == 0 {
		cfg.SweepEvery = time.Hour
	}
	if cfg.RateBurst == 0 {
		cfg.RateBurst = 1000
	}
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = time.Minute // every test's calls run under a bound
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan [2]string, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, cfg, clk, func(g, h string) { ready <- [2]string{g, h} })
	}()
	select {
	case a := <-ready:
		var once sync.Once
		return a[0], a[1], func() {
			once.Do(func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("serve returned %v", err)
				}
			})
		}
	case err := <-done:
		cancel()
		t.Fatalf("server did not start: %v", err)
	}
	return "", "", nil
}

func TestEndToEndSQLite(t *testing.T) {
	dir := t.TempDir()
	g, h := startServer(t, config{DataDir: dir}, clock.NewFake(now))
	if _, err := os.Stat(filepath.Join(dir, "arrears.db")); err != nil {
		t.Fatalf("embedded store file: %v", err)
	}
	runTransports(t, g, h, adminToken(t, dir))
}

// TestCallTimeoutBoundsUnaryCalls: a call whose client sets no deadline
// still ends at the server's -call-timeout, over gRPC and REST alike, as
// DEADLINE_EXCEEDED (HTTP 504), with nothing of the store's error in it.
func TestCallTimeoutBoundsUnaryCalls(t *testing.T) {
	dir := t.TempDir()
	g, h := startServer(t, config{DataDir: dir, CallTimeout: time.Nanosecond}, clock.NewFake(now))
	token := adminToken(t, dir)
	conn, err := grpc.NewClient(g, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for name, tr := range map[string]transport{"gRPC": &grpcTransport{conn: conn, token: token}, "REST": &restTransport{base: "http://" + h, token: token}} {
		if code, _ := tr.call(t, "ListInvoices", &arrearsv1.ListInvoicesRequest{}, &arrearsv1.ListInvoicesResponse{}); code != codes.DeadlineExceeded {
			t.Errorf("%s: ListInvoices under a 1 ns bound: %v, want DeadlineExceeded", name, code)
		}
	}
	req, err := http.NewRequest(http.MethodGet, "http://"+h+"/v1/invoices", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusGatewayTimeout || !strings.Contains(string(body), "deadline exceeded") || strings.Contains(string(body), "context") {
		t.Errorf("REST: %d %s; want 504 saying the deadline was exceeded, no driver text", resp.StatusCode, body)
	}
}

// TestSlowBodyIsCutAtTheCallTimeout: a unary call's body that trickles in
// is cut when the call's time limit passes; it held its connection for as
// long as the client liked, past every other bound.
func TestSlowBodyIsCutAtTheCallTimeout(t *testing.T) {
	dir := t.TempDir()
	_, h := startServer(t, config{DataDir: dir, CallTimeout: 2 * time.Second}, clock.NewFake(now))
	token := adminToken(t, dir)
	c, err := net.Dial("tcp", h)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /v1/parties HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{", token)
	// A byte a second, for far longer than the limit; the server ends it.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 30 {
			if _, err := c.Write([]byte(" ")); err != nil {
				return
			}
			time.Sleep(time.Second)
		}
	}()
	c.SetReadDeadline(time.Now().Add(25 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusRequestTimeout || strings.Contains(string(body), "i/o timeout") || strings.Contains(string(body), "tcp") {
			t.Errorf("a body trickling past the call's limit: HTTP %d %s; want 408 without network text", resp.StatusCode, body)
		}
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Error("a body trickling in held the connection 25 s, past the 2 s call limit")
	}
	c.Close()
	<-done
}

// adminToken reads the first admin key that the server wrote at start, and
// checks that only its owner may read the file.
func adminToken(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "admin.key")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("admin key file: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("admin key file mode %v, want 0600", fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestEndToEndPostgres(t *testing.T) {
	url := pgtest.EmptyURL(t)
	// The server refuses an unmigrated database and says what to do.
	err := serve(context.Background(), config{DatabaseURL: url, GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", LogLevel: 8, LogFormat: "json"}, clock.NewFake(now), nil)
	if err == nil || !strings.Contains(err.Error(), "arrearsd migrate") {
		t.Fatalf("serve on an unmigrated database: err = %v, want advice to run arrearsd migrate", err)
	}
	if err := realMain(context.Background(), []string{"migrate", "-database-url", url, "-log-level", "error"}); err != nil {
		t.Fatalf("arrearsd migrate: %v", err)
	}
	dir := t.TempDir()
	g, h := startServer(t, config{DatabaseURL: url, DataDir: dir}, clock.NewFake(now))
	runTransports(t, g, h, adminToken(t, dir))
}

// runTransports drives the same scenario over gRPC and over REST against
// one server; each pass uses its own parties.
func runTransports(t *testing.T, grpcAddr, httpAddr, token string) {
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Run("gRPC", func(t *testing.T) { scenario(t, &grpcTransport{conn: conn, token: token}, "1") })
	t.Run("REST", func(t *testing.T) { scenario(t, &restTransport{base: "http://" + httpAddr, token: token}, "2") })
	t.Run("Operations", func(t *testing.T) { operations(t, conn, httpAddr, token) })
	t.Run("MalformedHTTP", func(t *testing.T) { malformedHTTP(t, httpAddr, token) })
}

// transport calls one RPC by name and reports the gRPC code and any field
// violations, however the call travelled.
type transport interface {
	call(t *testing.T, rpc string, req, resp proto.Message) (codes.Code, []*errdetails.BadRequest_FieldViolation)
}

type grpcTransport struct {
	conn  *grpc.ClientConn
	token string
}

// serviceOf names the gRPC service of an RPC.
func serviceOf(rpc string) string {
	switch rpc {
	case "CreateApiKey", "ListApiKeys", "RevokeApiKey", "AuthorizePortal", "RevokePortalAuthorization", "ListEvents", "GetAuditCheckpoint":
		return "AccessService"
	case "CreateClaim", "GetClaim", "ListClaims", "AnswerClaim", "OpenContest", "GetContest", "ListContests", "MoveContest", "FileComplaint",
		"GetComplaint", "ListComplaints", "MoveComplaint", "ListComplaintEvents", "GetComplaintStatistics":
		return "SupplierService"
	case "SyncPayablesBatch", "GetSyncSession", "ListSyncRejections":
		return "SyncService"
	case "GetOverdueSummary", "GetAnnualDisclosure", "GetPaymentPracticeReport", "GetWatchList":
		return "OversightService"
	}
	return "LedgerService"
}

func (g *grpcTransport) call(t *testing.T, rpc string, req, resp proto.Message) (codes.Code, []*errdetails.BadRequest_FieldViolation) {
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+g.token)
	err := g.conn.Invoke(ctx, "/arrears.v1."+serviceOf(rpc)+"/"+rpc, req, resp)
	st := status.Convert(err)
	return st.Code(), violations(st.Proto())
}

func violations(st *spb.Status) []*errdetails.BadRequest_FieldViolation {
	var out []*errdetails.BadRequest_FieldViolation
	for _, d := range st.GetDetails() {
		var br errdetails.BadRequest
		if d.UnmarshalTo(&br) == nil {
			out = append(out, br.FieldViolations...)
		}
	}
	return out
}

type restTransport struct{ base, token string }

// route maps an RPC to its REST form, as arrears_gateway.yaml declares.
func route(rpc string, req proto.Message) (method, path string, body proto.Message) {
	switch r := req.(type) {
	case *arrearsv1.CreatePartyRequest:
		return "POST", "/v1/parties", r
	case *arrearsv1.GetPartyRequest:
		return "GET", "/v1/" + r.Name, nil
	case *arrearsv1.ListPartiesRequest:
		return "GET", "/v1/parties?" + query("filter", r.Filter, "pageSize", r.PageSize, "pageToken", r.PageToken), nil
	case *arrearsv1.UpdatePartyRequest:
		return "PATCH", "/v1/" + r.Party.Name + "?" + query("updateMask", strings.Join(r.UpdateMask.GetPaths(), ",")), r.Party
	case *arrearsv1.CreateInvoiceRequest:
		return "POST", "/v1/invoices", r
	case *arrearsv1.GetInvoiceRequest:
		q := ""
		if r.AsOf != nil {
			q += fmt.Sprintf("asOf.year=%d&asOf.month=%d&asOf.day=%d&", r.AsOf.Year, r.AsOf.Month, r.AsOf.Day)
		}
		if r.KnownAt != nil {
			q += "knownAt=" + urlEscape(r.KnownAt.AsTime().Format(time.RFC3339Nano))
		}
		return "GET", "/v1/" + r.Name + "?" + q, nil
	case *arrearsv1.ListInvoicesRequest:
		q := query("filter", r.Filter, "pageSize", r.PageSize, "pageToken", r.PageToken)
		if r.AsOf != nil {
			q += fmt.Sprintf("&asOf.year=%d&asOf.month=%d&asOf.day=%d", r.AsOf.Year, r.AsOf.Month, r.AsOf.Day)
		}
		return "GET", "/v1/invoices?" + q, nil
	case *arrearsv1.ListEscalationEventsRequest:
		return "GET", "/v1/" + r.Parent + "/escalationEvents", nil
	case *arrearsv1.ListPaymentPoliciesRequest:
		return "GET", "/v1/paymentPolicies", nil
	case *arrearsv1.UpdateInvoiceRequest:
		q := query("updateMask", strings.Join(r.UpdateMask.GetPaths(), ","))
		if r.EffectiveOn != nil {
			q += fmt.Sprintf("&effectiveOn.year=%d&effectiveOn.month=%d&effectiveOn.day=%d", r.EffectiveOn.Year, r.EffectiveOn.Month, r.EffectiveOn.Day)
		}
		return "PATCH", "/v1/" + r.Invoice.Name + "?" + q, r.Invoice
	case *arrearsv1.CancelInvoiceRequest:
		return "POST", "/v1/" + r.Name + ":cancel", r
	case *arrearsv1.CreateCreditNoteRequest:
		return "POST", "/v1/" + r.Parent + "/creditNotes", r
	case *arrearsv1.ListCreditNotesRequest:
		return "GET", "/v1/" + r.Parent + "/creditNotes", nil
	case *arrearsv1.RecordPaymentRequest:
		return "POST", "/v1/" + r.Parent + "/payments", r.Payment
	case *arrearsv1.GetPaymentRequest:
		return "GET", "/v1/" + r.Name, nil
	case *arrearsv1.ListPaymentsRequest:
		return "GET", "/v1/" + r.Parent + "/payments?" + query("filter", r.Filter), nil
	case *arrearsv1.ReversePaymentRequest:
		return "POST", "/v1/" + r.Name + ":reverse", r
	case *arrearsv1.OpenDisputeRequest:
		return "POST", "/v1/" + r.Parent + "/disputes", r
	case *arrearsv1.GetDisputeRequest:
		return "GET", "/v1/" + r.Name, nil
	case *arrearsv1.ListDisputesRequest:
		return "GET", "/v1/" + r.Parent + "/disputes?" + query("filter", r.Filter), nil
	case *arrearsv1.ResolveDisputeRequest:
		return "POST", "/v1/" + r.Name + ":resolve", r
	case *arrearsv1.ListRevisionsRequest:
		return "GET", "/v1/" + r.Parent + "/revisions?" + query("pageSize", r.PageSize, "pageToken", r.PageToken), nil
	case *arrearsv1.CreateApiKeyRequest:
		return "POST", "/v1/apiKeys", r.ApiKey
	case *arrearsv1.ListApiKeysRequest:
		return "GET", "/v1/apiKeys", nil
	case *arrearsv1.RevokeApiKeyRequest:
		return "POST", "/v1/" + r.Name + ":revoke", r
	case *arrearsv1.AuthorizePortalRequest:
		return "POST", "/v1/portalAuthorizations", r
	case *arrearsv1.RevokePortalAuthorizationRequest:
		return "POST", "/v1/portalAuthorizations:revoke", r
	case *arrearsv1.ListEventsRequest:
		return "GET", "/v1/events?" + query("afterCursor", r.AfterCursor, "pageSize", r.PageSize), nil
	case *arrearsv1.GetAuditCheckpointRequest:
		return "GET", "/v1/auditCheckpoint", nil
	case *arrearsv1.CreateClaimRequest:
		return "POST", "/v1/claims", r
	case *arrearsv1.GetCreditNoteRequest:
		return "GET", "/v1/" + r.Name, nil
	case *arrearsv1.GetClaimRequest:
		return "GET", "/v1/" + r.Name, nil
	case *arrearsv1.ListClaimsRequest:
		return "GET", "/v1/claims?" + query("filter", r.Filter), nil
	case *arrearsv1.AnswerClaimRequest:
		return "POST", "/v1/" + r.Name + ":answer", r
	case *arrearsv1.OpenContestRequest:
		return "POST", "/v1/" + r.Parent + "/contests?" + query("requestId", r.RequestId), r.Contest
	case *arrearsv1.GetContestRequest:
		return "GET", "/v1/" + r.Name, nil
	case *arrearsv1.ListContestsRequest:
		return "GET", "/v1/" + r.Parent + "/contests", nil
	case *arrearsv1.MoveContestRequest:
		return "POST", "/v1/" + r.Name + ":move", r
	case *arrearsv1.FileComplaintRequest:
		return "POST", "/v1/complaints", r
	case *arrearsv1.GetComplaintRequest:
		return "GET", "/v1/" + r.Name, nil
	case *arrearsv1.ListComplaintsRequest:
		return "GET", "/v1/complaints?" + query("filter", r.Filter), nil
	case *arrearsv1.MoveComplaintRequest:
		return "POST", "/v1/" + r.Name + ":move", r
	case *arrearsv1.ListComplaintEventsRequest:
		return "GET", "/v1/" + r.Parent + "/events", nil
	case *arrearsv1.SyncPayablesBatchRequest:
		return "POST", "/v1/sync:batch", r
	case *arrearsv1.GetSyncSessionRequest:
		return "GET", "/v1/" + r.Name, nil
	case *arrearsv1.ListSyncRejectionsRequest:
		return "GET", "/v1/" + r.Parent + "/rejections?" + query("pageSize", r.PageSize, "pageToken", r.PageToken), nil
	case *arrearsv1.GetOverdueSummaryRequest:
		q := query("groupBy", strings.Join(r.GroupBy, ","), "pageSize", r.PageSize, "pageToken", r.PageToken)
		if r.AsOf != nil {
			q += fmt.Sprintf("&asOf.year=%d&asOf.month=%d&asOf.day=%d", r.AsOf.Year, r.AsOf.Month, r.AsOf.Day)
		}
		return "GET", "/v1/overdueSummary?" + q, nil
	case *arrearsv1.GetAnnualDisclosureRequest:
		return "GET", "/v1/" + r.Debtor + "/annualDisclosure?" + query("year", r.Year), nil
	case *arrearsv1.GetWatchListRequest:
		q := query("limit", r.Limit)
		for name, d := range map[string]*arrearsv1.Date{"asOf": r.AsOf, "since": r.Since} {
			if d != nil {
				q += fmt.Sprintf("&%s.year=%d&%s.month=%d&%s.day=%d", name, d.Year, name, d.Month, name, d.Day)
			}
		}
		return "GET", "/v1/watchList?" + q, nil
	case *arrearsv1.GetPaymentPracticeReportRequest:
		q := query("bands", r.Bands) + fmt.Sprintf("&periodStart.year=%d&periodStart.month=%d&periodStart.day=%d&periodEnd.year=%d&periodEnd.month=%d&periodEnd.day=%d",
			r.PeriodStart.GetYear(), r.PeriodStart.GetMonth(), r.PeriodStart.GetDay(), r.PeriodEnd.GetYear(), r.PeriodEnd.GetMonth(), r.PeriodEnd.GetDay())
		return "GET", "/v1/" + r.Debtor + "/paymentPracticeReport?" + q, nil
	case *arrearsv1.GetComplaintStatisticsRequest:
		return "GET", "/v1/complaintStatistics?" + query("groupBy", r.GroupBy), nil
	}
	panic("no REST route for " + rpc)
}

func query(kv ...any) string {
	var parts []string
	for i := 0; i < len(kv); i += 2 {
		v := fmt.Sprint(kv[i+1])
		if v == "" || v == "0" {
			continue
		}
		parts = append(parts, kv[i].(string)+"="+urlEscape(v))
	}
	return strings.Join(parts, "&")
}

func urlEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func (r *restTransport) call(t *testing.T, rpc string, req, resp proto.Message) (codes.Code, []*errdetails.BadRequest_FieldViolation) {
	t.Helper()
	method, path, body := route(rpc, req)
	var rd io.Reader
	if body != nil {
		b, err := protojson.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	hreq, _ := http.NewRequest(method, r.base+path, rd)
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Authorization", "Bearer "+r.token)
	hresp, err := http.DefaultClient.Do(hreq)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer hresp.Body.Close()
	raw, _ := io.ReadAll(hresp.Body)
	if hresp.StatusCode == http.StatusOK {
		if err := protojson.Unmarshal(raw, resp); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
		return codes.OK, nil
	}
	var st spb.Status
	if err := protojson.Unmarshal(raw, &st); err != nil {
		t.Fatalf("%s %s: HTTP %d with a body that is not a status: %s", method, path, hresp.StatusCode, raw)
	}
	if want := runtime.HTTPStatusFromCode(codes.Code(st.Code)); hresp.StatusCode != want {
		t.Errorf("%s %s: HTTP %d for %v, want %d", method, path, hresp.StatusCode, codes.Code(st.Code), want)
	}
	return codes.Code(st.Code), violations(&st)
}

func date(y, m, d int32) *arrearsv1.Date { return &arrearsv1.Date{Year: y, Month: m, Day: d} }

func cny(minor int64) *arrearsv1.Money {
	return &arrearsv1.Money{CurrencyCode: "CNY", MinorUnits: minor}
}

// uscc builds a valid unified social credit code from a 17-character body
// by computing its check character (GB 32100-2015), so each pass of the
// scenario gets parties of its own.
func uscc(body string) string {
	const alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
	weights := []int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}
	sum := 0
	for i, c := range body {
		sum += strings.IndexRune(alphabet, c) * weights[i]
	}
	return body + string(alphabet[(31-sum%31)%31])
}

// expect checks a call's outcome: want OK, or an error code with, for
// InvalidArgument, a violation of each named field.
func expect(t *testing.T, tr transport, rpc string, req, resp proto.Message, want codes.Code, fields ...string) {
	t.Helper()
	got, vs := tr.call(t, rpc, req, resp)
	if got != want {
		t.Fatalf("%s: code %v (violations %v), want %v", rpc, got, vs, want)
	}
	for _, f := range fields {
		found := false
		for _, v := range vs {
			found = found || v.Field == f
		}
		if !found {
			t.Errorf("%s: no violation of %q among %v", rpc, f, vs)
		}
	}
}

func scenario(t *testing.T, tr transport, pass string) {
	debtorReg := uscc("91350100MA2Y0000" + pass)
	creditorReg := uscc("92110108MA0000" + pass + "00")

	// Parties.
	var debtor, creditor arrearsv1.CreatePartyResponse
	expect(t, tr, "CreateParty", &arrearsv1.CreatePartyRequest{Party: &arrearsv1.Party{
		DisplayName: "Fuzhou Buyer " + pass, Kind: arrearsv1.PartyKind_PARTY_KIND_LARGE_ENTERPRISE,
		Jurisdiction: "CN", RegistrationId: debtorReg, RegionCode: "350100", IndustryCode: "C33",
	}}, &debtor, codes.OK)
	expect(t, tr, "CreateParty", &arrearsv1.CreatePartyRequest{Party: &arrearsv1.Party{
		DisplayName: "Beijing Supplier " + pass, Kind: arrearsv1.PartyKind_PARTY_KIND_SME, SizeClass: arrearsv1.SizeClass_SIZE_CLASS_SMALL,
		Jurisdiction: "CN", RegistrationId: strings.ToLower(creditorReg), RegionCode: "110108",
	}}, &creditor, codes.OK)
	if creditor.Party.RegistrationId != creditorReg || creditor.Party.SizeClass != arrearsv1.SizeClass_SIZE_CLASS_SMALL {
		t.Errorf("creditor not normalised: %v", creditor.Party)
	}
	expect(t, tr, "CreateParty", &arrearsv1.CreatePartyRequest{Party: &arrearsv1.Party{
		DisplayName: "Dup", Kind: arrearsv1.PartyKind_PARTY_KIND_LARGE_ENTERPRISE, Jurisdiction: "CN", RegistrationId: debtorReg, RegionCode: "350100",
	}}, &arrearsv1.CreatePartyResponse{}, codes.AlreadyExists)
	bad := debtorReg[:17] + map[bool]string{true: "1", false: "0"}[debtorReg[17] == '0']
	expect(t, tr, "CreateParty", &arrearsv1.CreatePartyRequest{Party: &arrearsv1.Party{
		Kind: arrearsv1.PartyKind_PARTY_KIND_SME, Jurisdiction: "CN", RegistrationId: bad, RegionCode: "35",
	}}, &arrearsv1.CreatePartyResponse{}, codes.InvalidArgument,
		"party.registration_id", "party.display_name", "party.size_class", "party.region_code")

	// A registration id filter takes the id as a party name does: in
	// either case, with spaces.
	for _, f := range []string{
		`registration_id = "` + strings.ToLower(creditorReg) + `"`,
		`jurisdiction = "cn" AND registration_id = "` + strings.ToLower(creditorReg[:9]+" "+creditorReg[9:]) + `"`,
	} {
		var found arrearsv1.ListPartiesResponse
		expect(t, tr, "ListParties", &arrearsv1.ListPartiesRequest{Filter: f}, &found, codes.OK)
		if len(found.Parties) != 1 || found.Parties[0].Name != creditor.Party.Name {
			t.Errorf("ListParties(%s) = %v, want the creditor", f, found.Parties)
		}
	}
	// Other schemes' forms, with no jurisdiction named: a US EIN without
	// its dash, a UK company number without its leading zeros.
	for _, p := range []struct{ jur, reg, typed string }{{"US", "12-345671" + pass, "12345671" + pass}, {"GB", "0044579" + pass, "44579" + pass}} {
		var made arrearsv1.CreatePartyResponse
		expect(t, tr, "CreateParty", &arrearsv1.CreatePartyRequest{Party: &arrearsv1.Party{DisplayName: "Buyer " + p.jur + pass,
			Kind: arrearsv1.PartyKind_PARTY_KIND_LARGE_ENTERPRISE, Jurisdiction: p.jur, RegistrationId: p.reg, RegionCode: "X1"}}, &made, codes.OK)
		var found arrearsv1.ListPartiesResponse
		expect(t, tr, "ListParties", &arrearsv1.ListPartiesRequest{Filter: `registration_id = "` + p.typed + `"`}, &found, codes.OK)
		if len(found.Parties) != 1 || found.Parties[0].Name != made.Party.Name {
			t.Errorf("ListParties(registration_id = %s) = %v, want the %s party %s", p.typed, found.Parties, p.jur, p.reg)
		}
	}
	var got arrearsv1.GetPartyResponse
	expect(t, tr, "GetParty", &arrearsv1.GetPartyRequest{Name: "parties/CN:" + debtorReg}, &got, codes.OK)
	if got.Party.Name != debtor.Party.Name {
		t.Errorf("GetParty by natural key = %s, want %s", got.Party.Name, debtor.Party.Name)
	}

	// An invoice naming both parties by registration number. Delivered on
	// 10 January 2025 with a 60-day term: the 60th day after delivery is
	// 11 March (the delivery day is not counted).
	invoice := &arrearsv1.Invoice{
		Debtor: "parties/CN:" + debtorReg, Creditor: "parties/CN:" + creditorReg,
		DocumentRef: "FZ-2025-0001", ContractRef: "HT-88", Amount: cny(1250000),
		ContractSignedOn: date(2024, 12, 20), IssuedOn: date(2025, 1, 15), DeliveredOn: date(2025, 1, 10),
		AgreedTermDays: 60,
	}
	var inv arrearsv1.CreateInvoiceResponse
	createReq := &arrearsv1.CreateInvoiceRequest{Invoice: invoice, RequestId: "req-" + pass}
	expect(t, tr, "CreateInvoice", createReq, &inv, codes.OK)
	if d := inv.Invoice.DueDate; d.GetMonth() != 3 || d.GetDay() != 11 || inv.Invoice.Outstanding.GetMinorUnits() != 1250000 ||
		inv.Invoice.Debtor != debtor.Party.Name || inv.Invoice.CreditorSizeClassAtSigning != arrearsv1.SizeClass_SIZE_CLASS_SMALL {
		t.Errorf("created invoice = %v", inv.Invoice)
	}
	// The same request id returns the first invoice; with another body it
	// is refused; the same document reference without a request id too.
	var again arrearsv1.CreateInvoiceResponse
	expect(t, tr, "CreateInvoice", createReq, &again, codes.OK)
	if again.Invoice.Name != inv.Invoice.Name {
		t.Errorf("retry with the same request_id created %s, want %s", again.Invoice.Name, inv.Invoice.Name)
	}
	other := proto.Clone(invoice).(*arrearsv1.Invoice)
	other.DocumentRef = "FZ-2025-0002"
	expect(t, tr, "CreateInvoice", &arrearsv1.CreateInvoiceRequest{Invoice: other, RequestId: "req-" + pass}, &arrearsv1.CreateInvoiceResponse{}, codes.AlreadyExists)
	expect(t, tr, "CreateInvoice", &arrearsv1.CreateInvoiceRequest{Invoice: invoice}, &arrearsv1.CreateInvoiceResponse{}, codes.AlreadyExists)
	var second arrearsv1.CreateInvoiceResponse
	expect(t, tr, "CreateInvoice", &arrearsv1.CreateInvoiceRequest{Invoice: other}, &second, codes.OK)

	// Impossible invoices change nothing and name every bad field.
	broken := proto.Clone(invoice).(*arrearsv1.Invoice)
	broken.DocumentRef, broken.Amount = "FZ-BAD", &arrearsv1.Money{CurrencyCode: "XYZ", MinorUnits: -5}
	broken.AcceptancePassedOn, broken.DeliveredOn = date(2025, 1, 5), date(2025, 1, 10)
	broken.ReceivedOn = date(2025, 2, 30)
	broken.Creditor = "parties/CN:" + uscc("91440300MA5F00000")
	expect(t, tr, "CreateInvoice", &arrearsv1.CreateInvoiceRequest{Invoice: broken}, &arrearsv1.CreateInvoiceResponse{}, codes.InvalidArgument,
		"invoice.amount.currency_code", "invoice.amount.minor_units", "invoice.acceptance_passed_on", "invoice.received_on", "invoice.creditor")

	// A malformed or missing party name is one violation of its field, not
	// also a failed lookup of what was left of it.
	for _, name := range []string{"parties/CN:bogus", ""} {
		unnamed := proto.Clone(invoice).(*arrearsv1.Invoice)
		unnamed.DocumentRef, unnamed.Creditor = "FZ-UNNAMED", name
		code, vs := tr.call(t, "CreateInvoice", &arrearsv1.CreateInvoiceRequest{Invoice: unnamed}, &arrearsv1.CreateInvoiceResponse{})
		if code != codes.InvalidArgument || len(vs) != 1 || vs[0].Field != "invoice.creditor" {
			t.Errorf("creditor %q: %v %v, want one violation of invoice.creditor", name, code, vs)
		}
	}

	// A date that is no date is one violation of its field, not also a
	// missing one.
	undated := proto.Clone(invoice).(*arrearsv1.Invoice)
	undated.DocumentRef, undated.IssuedOn = "FZ-UNDATED", date(2024, 2, 30)
	if code, vs := tr.call(t, "CreateInvoice", &arrearsv1.CreateInvoiceRequest{Invoice: undated}, &arrearsv1.CreateInvoiceResponse{}); code != codes.InvalidArgument || len(vs) != 1 || vs[0].Field != "invoice.issued_on" {
		t.Errorf("issued_on 2024-02-30: %v %v, want one violation of invoice.issued_on", code, vs)
	}

	// Payments: the reference is the idempotency key.
	pay := &arrearsv1.Payment{Amount: cny(250000), PaidOn: date(2025, 3, 1), Reference: "PAY-" + pass + "-1"}
	var p1 arrearsv1.RecordPaymentResponse
	expect(t, tr, "RecordPayment", &arrearsv1.RecordPaymentRequest{Parent: inv.Invoice.Name, Payment: pay}, &p1, codes.OK)
	var p1again arrearsv1.RecordPaymentResponse
	expect(t, tr, "RecordPayment", &arrearsv1.RecordPaymentRequest{Parent: inv.Invoice.Name, Payment: pay}, &p1again, codes.OK)
	if p1again.Payment.Name != p1.Payment.Name || p1again.Invoice.Outstanding.GetMinorUnits() != 1000000 {
		t.Errorf("replayed payment = %v, invoice outstanding %v", p1again.Payment.Name, p1again.Invoice.Outstanding)
	}
	changed := proto.Clone(pay).(*arrearsv1.Payment)
	changed.Amount = cny(1)
	expect(t, tr, "RecordPayment", &arrearsv1.RecordPaymentRequest{Parent: inv.Invoice.Name, Payment: changed}, &arrearsv1.RecordPaymentResponse{}, codes.AlreadyExists)
	expect(t, tr, "RecordPayment", &arrearsv1.RecordPaymentRequest{Parent: inv.Invoice.Name, Payment: &arrearsv1.Payment{
		Amount: &arrearsv1.Money{CurrencyCode: "EUR", MinorUnits: 2000000}, PaidOn: date(2025, 11, 21), Reference: "PAY-" + pass + "-X",
	}}, &arrearsv1.RecordPaymentResponse{}, codes.InvalidArgument, "payment.amount.currency_code", "payment.paid_on", "payment.amount.minor_units")
	// An advance payment, dated before the invoice, is fine.
	expect(t, tr, "RecordPayment", &arrearsv1.RecordPaymentRequest{Parent: inv.Invoice.Name, Payment: &arrearsv1.Payment{
		Amount: cny(100000), PaidOn: date(2024, 12, 31), Reference: "PAY-" + pass + "-ADV",
		Instrument: arrearsv1.PaymentInstrument_PAYMENT_INSTRUMENT_COMMERCIAL_BILL, MaturityOn: date(2025, 6, 30),
	}}, &arrearsv1.RecordPaymentResponse{}, codes.OK)
	var pays arrearsv1.ListPaymentsResponse
	expect(t, tr, "ListPayments", &arrearsv1.ListPaymentsRequest{Parent: inv.Invoice.Name, Filter: "paid_on >= 2025-01-01"}, &pays, codes.OK)
	if len(pays.Payments) != 1 || pays.Payments[0].Reference != pay.Reference {
		t.Errorf("ListPayments(paid_on >= 2025-01-01) = %v", pays.Payments)
	}

	// Lists: filter by natural key and status, page by one.
	var page1, page2 arrearsv1.ListInvoicesResponse
	filter := fmt.Sprintf(`debtor = "parties/CN:%s" AND status = OPEN`, debtorReg)
	expect(t, tr, "ListInvoices", &arrearsv1.ListInvoicesRequest{Filter: filter, PageSize: 1}, &page1, codes.OK)
	if len(page1.Invoices) != 1 || page1.NextPageToken == "" {
		t.Fatalf("first page = %d invoices, token %q", len(page1.Invoices), page1.NextPageToken)
	}
	expect(t, tr, "ListInvoices", &arrearsv1.ListInvoicesRequest{Filter: filter, PageSize: 1, PageToken: page1.NextPageToken}, &page2, codes.OK)
	if len(page2.Invoices) != 1 || page2.Invoices[0].Name == page1.Invoices[0].Name {
		t.Errorf("second page = %v", page2.Invoices)
	}
	var page3 arrearsv1.ListInvoicesResponse
	expect(t, tr, "ListInvoices", &arrearsv1.ListInvoicesRequest{Filter: filter, PageSize: 1, PageToken: page2.NextPageToken}, &page3, codes.OK)
	if page2.NextPageToken != "" && (len(page3.Invoices) != 0 || page3.NextPageToken != "") {
		t.Errorf("past the end: %v", page3.Invoices)
	}
	// A token is bound to its filter; unsupported filters are refused.
	expect(t, tr, "ListInvoices", &arrearsv1.ListInvoicesRequest{Filter: "status = OPEN", PageToken: page1.NextPageToken}, &arrearsv1.ListInvoicesResponse{}, codes.InvalidArgument, "page_token")
	expect(t, tr, "ListInvoices", &arrearsv1.ListInvoicesRequest{Filter: "amount > 5"}, &arrearsv1.ListInvoicesResponse{}, codes.InvalidArgument, "filter")
	var byDue arrearsv1.ListInvoicesResponse
	expect(t, tr, "ListInvoices", &arrearsv1.ListInvoicesRequest{Filter: fmt.Sprintf(`creditor = "%s" AND due_date >= 2025-03-11 AND due_date <= 2025-03-11`, creditor.Party.Name)}, &byDue, codes.OK)
	if len(byDue.Invoices) != 2 {
		t.Errorf("due-date range found %d invoices, want 2", len(byDue.Invoices))
	}
	// Conditions are ANDed: the same creditor twice is that creditor, two
	// different ones are none.
	for _, tc := range []struct {
		other string
		want  int
	}{{creditor.Party.Name, 2}, {fmt.Sprintf("parties/CN:%s", debtorReg), 0}} {
		var both arrearsv1.ListInvoicesResponse
		expect(t, tr, "ListInvoices", &arrearsv1.ListInvoicesRequest{Filter: fmt.Sprintf(`creditor = "%s" AND due_date = 2025-03-11 AND creditor = "%s"`, tc.other, creditor.Party.Name)}, &both, codes.OK)
		if len(both.Invoices) != tc.want {
			t.Errorf("creditor %s and %s: %d invoices, want %d", creditor.Party.Name, tc.other, len(both.Invoices), tc.want)
		}
	}

	// Updates: a stale etag is ABORTED (HTTP 409); the current one works.
	upd := &arrearsv1.Invoice{Name: inv.Invoice.Name, Etag: inv.Invoice.Etag, ContractRef: "HT-89"}
	expect(t, tr, "UpdateInvoice", &arrearsv1.UpdateInvoiceRequest{Invoice: upd, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"contract_ref"}}}, &arrearsv1.UpdateInvoiceResponse{}, codes.Aborted)
	var cur arrearsv1.GetInvoiceResponse
	expect(t, tr, "GetInvoice", &arrearsv1.GetInvoiceRequest{Name: inv.Invoice.Name}, &cur, codes.OK)
	upd.Etag = cur.Invoice.Etag
	var updated arrearsv1.UpdateInvoiceResponse
	expect(t, tr, "UpdateInvoice", &arrearsv1.UpdateInvoiceRequest{Invoice: upd, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"contract_ref"}}}, &updated, codes.OK)
	if updated.Invoice.ContractRef != "HT-89" || updated.Invoice.AgreedTermDays != 60 {
		t.Errorf("masked update = %v", updated.Invoice)
	}
	expect(t, tr, "UpdateInvoice", &arrearsv1.UpdateInvoiceRequest{Invoice: upd, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"document_ref"}}}, &arrearsv1.UpdateInvoiceResponse{}, codes.InvalidArgument, "update_mask")

	// A dispute over part of the amount, resolved by a credit.
	var dsp arrearsv1.OpenDisputeResponse
	expect(t, tr, "OpenDispute", &arrearsv1.OpenDisputeRequest{Parent: inv.Invoice.Name, Dispute: &arrearsv1.Dispute{
		Amount: cny(50000), Reason: "two crates damaged", OpenedOn: date(2025, 3, 5)}}, &dsp, codes.OK)
	if dsp.Invoice.Disputed.GetMinorUnits() != 50000 {
		t.Errorf("disputed = %v", dsp.Invoice.Disputed)
	}
	var res arrearsv1.ResolveDisputeResponse
	expect(t, tr, "ResolveDispute", &arrearsv1.ResolveDisputeRequest{Name: dsp.Dispute.Name, Resolution: arrearsv1.DisputeResolution_DISPUTE_RESOLUTION_CREDITED,
		ResolvedOn: date(2025, 4, 1), Comment: "agreed"}, &res, codes.OK)
	if res.Invoice.Outstanding.GetMinorUnits() != 850000 || res.Invoice.Disputed.GetMinorUnits() != 0 || res.Dispute.CreditNote == "" {
		t.Errorf("after credited dispute: invoice %v dispute %v", res.Invoice, res.Dispute)
	}
	expect(t, tr, "ResolveDispute", &arrearsv1.ResolveDisputeRequest{Name: dsp.Dispute.Name, Resolution: arrearsv1.DisputeResolution_DISPUTE_RESOLUTION_REJECTED,
		ResolvedOn: date(2025, 4, 1)}, &arrearsv1.ResolveDisputeResponse{}, codes.FailedPrecondition)
	var cns arrearsv1.ListCreditNotesResponse
	expect(t, tr, "ListCreditNotes", &arrearsv1.ListCreditNotesRequest{Parent: inv.Invoice.Name}, &cns, codes.OK)
	if len(cns.CreditNotes) != 1 || cns.CreditNotes[0].Amount.GetMinorUnits() != 50000 {
		t.Errorf("credit notes = %v", cns.CreditNotes)
	}

	// A reversed payment counts no more.
	var rev arrearsv1.ReversePaymentResponse
	expect(t, tr, "ReversePayment", &arrearsv1.ReversePaymentRequest{Name: p1.Payment.Name, ReversedOn: date(2025, 3, 3), Reason: "returned by bank"}, &rev, codes.OK)
	if rev.Payment.State != arrearsv1.PaymentState_PAYMENT_STATE_REVERSED || rev.Invoice.Outstanding.GetMinorUnits() != 1100000 {
		t.Errorf("after reversal: %v / outstanding %v", rev.Payment.State, rev.Invoice.Outstanding)
	}

	// Control characters are refused with the field named (PostgreSQL would
	// reject a NUL byte; nothing reaches the database).
	expect(t, tr, "CancelInvoice", &arrearsv1.CancelInvoiceRequest{Name: second.Invoice.Name, CancelledOn: date(2025, 5, 1), Reason: "dup\x00"},
		&arrearsv1.CancelInvoiceResponse{}, codes.InvalidArgument, "reason")
	// Cancellation is a dated fact; afterwards payments are refused.
	var canc arrearsv1.CancelInvoiceResponse
	expect(t, tr, "CancelInvoice", &arrearsv1.CancelInvoiceRequest{Name: second.Invoice.Name, CancelledOn: date(2025, 5, 1), Reason: "duplicate of FZ-2025-0001"}, &canc, codes.OK)
	if canc.Invoice.Status != arrearsv1.InvoiceStatus_INVOICE_STATUS_CANCELLED || canc.Invoice.Outstanding.GetMinorUnits() != 0 {
		t.Errorf("cancelled invoice = %v", canc.Invoice)
	}
	expect(t, tr, "RecordPayment", &arrearsv1.RecordPaymentRequest{Parent: second.Invoice.Name, Payment: &arrearsv1.Payment{
		Amount: cny(1), PaidOn: date(2025, 5, 2), Reference: "PAY-" + pass + "-C"}}, &arrearsv1.RecordPaymentResponse{}, codes.FailedPrecondition)

	// History: every change is a revision, oldest first.
	var revs arrearsv1.ListRevisionsResponse
	expect(t, tr, "ListRevisions", &arrearsv1.ListRevisionsRequest{Parent: inv.Invoice.Name, PageSize: 100}, &revs, codes.OK)
	var methods []string
	for _, r := range revs.Revisions {
		methods = append(methods, r.Method)
	}
	want := "CreateInvoice RecordPayment RecordPayment UpdateInvoice OpenDispute ResolveDispute ReversePayment"
	if strings.Join(methods, " ") != want {
		t.Errorf("revision methods = %v, want %s", methods, want)
	}
	// A party's history by its natural key, as GetParty takes it, names the
	// revisions by the party's id.
	var partyRevs arrearsv1.ListRevisionsResponse
	expect(t, tr, "ListRevisions", &arrearsv1.ListRevisionsRequest{Parent: "parties/CN:" + debtorReg}, &partyRevs, codes.OK)
	if len(partyRevs.Revisions) == 0 || partyRevs.Revisions[0].Method != "CreateParty" || partyRevs.Revisions[0].Resource != debtor.Party.Name {
		t.Errorf("the debtor's revisions by natural key: %v", partyRevs.Revisions)
	}
	var revPage arrearsv1.ListRevisionsResponse
	expect(t, tr, "ListRevisions", &arrearsv1.ListRevisionsRequest{Parent: inv.Invoice.Name, PageSize: 3, PageToken: ""}, &revPage, codes.OK)
	var revPage2 arrearsv1.ListRevisionsResponse
	expect(t, tr, "ListRevisions", &arrearsv1.ListRevisionsRequest{Parent: inv.Invoice.Name, PageSize: 3, PageToken: revPage.NextPageToken}, &revPage2, codes.OK)
	if len(revPage2.Revisions) != 3 || revPage2.Revisions[0].Revision != 4 {
		t.Errorf("second revision page = %v", revPage2.Revisions)
	}

	// Not found, and malformed names.
	expect(t, tr, "GetInvoice", &arrearsv1.GetInvoiceRequest{Name: "invoices/01a21d2e-0097-7eb7-905f-000000000000"}, &arrearsv1.GetInvoiceResponse{}, codes.NotFound)
	expect(t, tr, "GetParty", &arrearsv1.GetPartyRequest{Name: "parties/CN:" + uscc("91350100MA2Y99999")}, &arrearsv1.GetPartyResponse{}, codes.NotFound)
	expect(t, tr, "GetPayment", &arrearsv1.GetPaymentRequest{Name: second.Invoice.Name + "/payments/" + strings.TrimPrefix(p1.Payment.Name, inv.Invoice.Name+"/payments/")}, &arrearsv1.GetPaymentResponse{}, codes.NotFound)
	expect(t, tr, "ListInvoices", &arrearsv1.ListInvoicesRequest{PageSize: -1}, &arrearsv1.ListInvoicesResponse{}, codes.InvalidArgument, "page_size")
	expect(t, tr, "GetInvoice", &arrearsv1.GetInvoiceRequest{Name: inv.Invoice.Name, AsOf: date(9999, 12, 31)}, &arrearsv1.GetInvoiceResponse{}, codes.InvalidArgument, "as_of")

	// Party update with a mask.
	var pu arrearsv1.UpdatePartyResponse
	expect(t, tr, "UpdateParty", &arrearsv1.UpdatePartyRequest{Party: &arrearsv1.Party{Name: creditor.Party.Name, Etag: creditor.Party.Etag,
		SizeClass: arrearsv1.SizeClass_SIZE_CLASS_MEDIUM}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"size_class"}}}, &pu, codes.OK)
	if pu.Party.SizeClass != arrearsv1.SizeClass_SIZE_CLASS_MEDIUM || pu.Party.DisplayName != creditor.Party.DisplayName {
		t.Errorf("updated party = %v", pu.Party)
	}
	// The mask in the JSON names' lowerCamelCase, as a REST client writes
	// it in the query.
	var pu2 arrearsv1.UpdatePartyResponse
	expect(t, tr, "UpdateParty", &arrearsv1.UpdatePartyRequest{Party: &arrearsv1.Party{Name: creditor.Party.Name, Etag: pu.Party.Etag,
		DisplayName: pu.Party.DisplayName + " Ltd"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"displayName"}}}, &pu2, codes.OK)
	if pu2.Party.DisplayName != pu.Party.DisplayName+" Ltd" || pu2.Party.SizeClass != arrearsv1.SizeClass_SIZE_CLASS_MEDIUM {
		t.Errorf("party updated with mask displayName = %v", pu2.Party)
	}
	var again2 arrearsv1.GetInvoiceResponse
	expect(t, tr, "GetInvoice", &arrearsv1.GetInvoiceRequest{Name: inv.Invoice.Name}, &again2, codes.OK)
	if again2.Invoice.CreditorSizeClassAtSigning != arrearsv1.SizeClass_SIZE_CLASS_SMALL {
		t.Errorf("size class at signing moved with the party: %v", again2.Invoice.CreditorSizeClassAtSigning)
	}
}

// operations checks what an operator relies on: health, reflection (so
// grpcurl works without .proto files) and the OpenAPI document.
func operations(t *testing.T, conn *grpc.ClientConn, httpAddr, token string) {
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token)
	hc, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: "arrears.v1.LedgerService"})
	if err != nil || hc.Status != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health = %v, %v", hc, err)
	}
	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	rr, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range rr.GetListServicesResponse().GetService() {
		names = append(names, s.Name)
	}
	if !strings.Contains(strings.Join(names, " "), "arrears.v1.LedgerService") {
		t.Errorf("reflection lists %v", names)
	}
	stream.CloseSend()
	for path, want := range map[string]string{"/healthz": `"ok"`, "/openapi.json": "LedgerService"} {
		resp, err := http.Get("http://" + httpAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Contains(b, []byte(want)) {
			t.Errorf("GET %s = %d %.100s", path, resp.StatusCode, b)
		}
	}
}

// malformedHTTP sends bodies no gRPC client could: each gets a 4xx with a
// status body, and BadRequest details naming the field where there is one.
func malformedHTTP(t *testing.T, httpAddr, token string) {
	// do makes one request with the key, and headers as name, value pairs.
	do := func(method, path string, body io.Reader, header ...string) (int, http.Header, []byte) {
		req, _ := http.NewRequest(method, "http://"+httpAddr+path, body)
		req.Header.Set("Authorization", "Bearer "+token)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, raw
	}
	send := func(method, path string, body io.Reader, header ...string) (int, []byte) {
		code, _, raw := do(method, path, body, header...)
		return code, raw
	}
	for _, tc := range []struct {
		desc, method, path, body string
		status                   int
		field                    string
		chunked                  bool // no Content-Length: the body's reader meets the limit
	}{
		{"broken JSON", "POST", "/v1/parties", `{"party": {`, 400, "body", false},
		{"unknown field", "POST", "/v1/parties", `{"party": {"colour": "red"}}`, 400, "party.colour", false},
		{"unknown enum", "POST", "/v1/parties", `{"party": {"kind": "PARTY_KIND_GIANT"}}`, 400, "party.kind", false},
		{"amount not a number", "POST", "/v1/invoices", `{"invoice": {"amount": {"minorUnits": "lots"}}}`, 400, "invoice.amount.minor_units", false},
		{"oversized", "POST", "/v1/parties", `{"party": {"displayName": "` + strings.Repeat("x", 70<<10) + `"}}`, 413, "", false},
		{"oversized, chunked", "POST", "/v1/parties", `{"party": {"displayName": "` + strings.Repeat("x", 70<<10) + `"}}`, 413, "", true},
		{"the words of a 413 in a value", "POST", "/v1/parties", `{"party": {"kind": "request body too large"}}`, 400, "party.kind", true},
		{"bad page size", "GET", "/v1/parties?pageSize=many", "", 400, "page_size", false},
		{"a payment's bad amount", "POST", "/v1/invoices/01a21d2e-0097-7eb7-905f-000000000000/payments", `{"amount": {"minorUnits": "lots"}}`, 400, "payment.amount.minor_units", false},
		{"white space before the body", "POST", "/v1/parties", "\n\n  {\"party\": {\"kind\": 7}}", 400, "party.kind", false},
		{"bad date part", "GET", "/v1/invoices?asOf.year=abc", "", 400, "as_of.year", false},
		{"bad timestamp", "GET", "/v1/invoices?knownAt=yesterday", "", 400, "known_at", false},
		{"a query value not UTF-8", "GET", "/v1/invoices?filter=%FF", "", 400, "filter", false},
		{"a nested query value not UTF-8", "GET", "/v1/overdueSummary?regionPrefix=%FF", "", 400, "region_prefix", false},
		{"a path not UTF-8", "GET", "/v1/invoices/%FF", "", 400, "path", false},
		{"a CSV export's query not UTF-8", "GET", "/v1/watchList:export?regionPrefix=%FF", "", 400, "region_prefix", false},
		// A NUL is UTF-8 but no text to PostgreSQL: checked before any query.
		{"a NUL in a region prefix", "GET", "/v1/overdueSummary?regionPrefix=%00", "", 400, "region_prefix", false},
		{"a NUL in a key's name", "POST", "/v1/apiKeys/%00:revoke", "{}", 400, "name", false},
		{"a NUL in a remit", "POST", "/v1/apiKeys", `{"role": "ROLE_REGULATOR", "remitJurisdiction": "CN", "remitRegionPrefix": "35\u0000"}`, 400, "api_key.remit_region_prefix", false},
	} {
		var in io.Reader = strings.NewReader(tc.body)
		if tc.chunked {
			in = io.MultiReader(in)
		}
		code, raw := send(tc.method, tc.path, in)
		if code != tc.status {
			t.Errorf("%s: HTTP %d, want %d: %s", tc.desc, code, tc.status, raw)
			continue
		}
		var body struct {
			Details []struct {
				FieldViolations []struct{ Field string } `json:"fieldViolations"`
			} `json:"details"`
		}
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Errorf("%s: body is not JSON: %s", tc.desc, raw)
			continue
		}
		if tc.field == "" {
			continue
		}
		found := false
		for _, d := range body.Details {
			for _, v := range d.FieldViolations {
				found = found || v.Field == tc.field
			}
		}
		if !found {
			t.Errorf("%s: no violation of %q in %s", tc.desc, tc.field, raw)
		}
		if strings.Contains(string(raw), "strconv.") || strings.Contains(string(raw), "proto:") || strings.Contains(string(raw), "2006-01-02") {
			t.Errorf("%s: a library's words in %s", tc.desc, raw)
		}
	}
	// A route is its method and path: a form-encoded POST to a GET route,
	// or a POST overriding its method, is not served by the GET handler
	// with the form as its query (which answered 500 for a bad byte).
	for _, tc := range []struct {
		desc, path, header, value, body string
		status                          int
	}{
		{"a form POST to a GET route", "/v1/overdueSummary", "Content-Type", "application/x-www-form-urlencoded", "regionPrefix=%FF", 405},
		// CreateInvoice's, whose body this is not.
		{"a POST overriding its method", "/v1/invoices", "X-HTTP-Method-Override", "GET", "filter=%FF", 400},
		// No route decodes a content coding: a body in one (or labelled
		// so) is refused, not read as it stands.
		{"a gzip body", "/v1/parties", "Content-Encoding", "gzip", "\x1f\x8b\x08\x00", 415},
		{"a body labelled br", "/v1/sync:batch", "Content-Encoding", "br", `{"debtor": "parties/CN:x", "records": []}`, 415},
		{"an NDJSON upload in gzip", "/v1/sync", "Content-Encoding", "identity, gzip", "\x1f\x8b\x08\x00", 415},
	} {
		if code, raw := send("POST", tc.path, strings.NewReader(tc.body), tc.header, tc.value); code != tc.status {
			t.Errorf("%s: HTTP %d, want %d: %s", tc.desc, code, tc.status, raw)
		}
	}
	// A request with no body has nothing coded, whatever it says.
	if code, raw := send("GET", "/v1/parties", nil, "Content-Encoding", "gzip"); code != http.StatusOK {
		t.Errorf("a GET saying Content-Encoding gzip: HTTP %d: %s", code, raw)
	}
	// A path served for other methods answers 405 saying which: a custom
	// method's path is not read as a name by a GET route, and an export's
	// path is not unknown to a POST.
	for _, tc := range []struct{ method, path, allow string }{
		{"GET", "/v1/invoices/" + uuid.NewString() + ":cancel", "POST"},
		{"DELETE", "/v1/claims/" + uuid.NewString() + ":answer", "POST"},
		{"POST", "/v1/overdueSummary:export", "GET, HEAD"},
		{"PUT", "/v1/parties/" + uuid.NewString() + "/annualDisclosure:export", "GET, HEAD"},
		// The gateway's own 405s, their methods read from the API's document.
		{"PUT", "/v1/invoices", "GET, HEAD, POST"},
		{"DELETE", "/v1/parties/" + uuid.NewString(), "GET, HEAD, PATCH"},
	} {
		code, h, raw := do(tc.method, tc.path, http.NoBody)
		if code != 405 || h.Get("Allow") != tc.allow || !strings.Contains(string(raw), `"code":12`) {
			t.Errorf("%s %s: HTTP %d, Allow %q: %s; want 405, Allow %q", tc.method, tc.path, code, h.Get("Allow"), raw, tc.allow)
		}
	}
	// HEAD, which every Allow above names with GET, is served as GET (the
	// server sends no body): the gateway's routes, as the exports and the
	// health check are by the mux's GET patterns.
	for _, path := range []string{"/v1/parties?pageSize=1", "/v1/overdueSummary", "/v1/overdueSummary:export", "/healthz"} {
		getCode, getH, _ := do("GET", path, http.NoBody)
		code, h, _ := do("HEAD", path, http.NoBody)
		if code != http.StatusOK || getCode != http.StatusOK || h.Get("Content-Type") != getH.Get("Content-Type") {
			t.Errorf("HEAD %s: HTTP %d, Content-Type %q; want GET's 200 and Content-Type %q", path, code, h.Get("Content-Type"), getH.Get("Content-Type"))
		}
	}
	// If-Match guards an update as the etag in the body does, and ETag
	// gives the etag to send.
	code, h, raw := do("POST", "/v1/parties", strings.NewReader(`{"party": {"displayName": "Etag Ltd", "kind": "PARTY_KIND_LARGE_ENTERPRISE", "jurisdiction": "CN", "registrationId": "`+
		uscc("91350100MA2YETAG0")+`", "regionCode": "350100"}}`))
	var created struct{ Party struct{ Name, Etag string } }
	if err := json.Unmarshal(raw, &created); code != 200 || err != nil || h.Get("ETag") != strconv.Quote(created.Party.Etag) {
		t.Fatalf("create a party: HTTP %d, ETag %q: %s", code, h.Get("ETag"), raw)
	}
	rename := func(ifMatch string) (int, http.Header, []byte) {
		return do("PATCH", "/v1/"+created.Party.Name+"?updateMask=displayName", strings.NewReader(`{"displayName": "Etag Holdings"}`), "If-Match", ifMatch)
	}
	if code, _, raw := rename(`"99"`); code != 409 {
		t.Errorf("an update under a stale If-Match: HTTP %d %s, want 409", code, raw)
	}
	for _, bad := range []string{`W/"1"`, `1`, `"1", "2"`} {
		if code, _, raw := rename(bad); code != 400 || !strings.Contains(string(raw), `"field":"etag"`) {
			t.Errorf("If-Match %s: HTTP %d %s, want 400 naming etag", bad, code, raw)
		}
	}
	if code, h, raw := rename(h.Get("ETag")); code != 200 || h.Get("ETag") == "" || h.Get("ETag") == strconv.Quote(created.Party.Etag) {
		t.Errorf("an update under the ETag read: HTTP %d, ETag %q: %s", code, h.Get("ETag"), raw)
	}
	if code, _, raw := do("POST", "/v1/invoices", strings.NewReader(`{"invoice": {}}`), "If-Match", `"1"`); code != 400 || !strings.Contains(string(raw), "takes no etag") {
		t.Errorf("If-Match on a create: HTTP %d %s, want 400", code, raw)
	}

	// A sync stream whose chunked body breaks: a 400 naming the line, not
	// the transport's own words.
	c, err := net.Dial("tcp", httpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /v1/sync HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", token)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(raw), "could not be read") || strings.Contains(string(raw), "chunk") {
		t.Errorf("a broken chunked sync body: HTTP %d %s", resp.StatusCode, raw)
	}
}
