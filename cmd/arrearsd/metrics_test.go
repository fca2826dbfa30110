package main

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	arrearsv1 "github.com/arrears/arrears/gen/arrears/v1"
	"github.com/arrears/arrears/internal/store/pgtest"
)

// TestMetrics: with -metrics-addr, /metrics there counts the calls by
// transport, method and code, the synced records by outcome, the
// background jobs, and the database pool.
func TestMetrics(t *testing.T) {
	addr := freeAddr(t)
	dir := t.TempDir()
	f := newSyncFixture(t, config{DataDir: dir, MetricsAddr: addr})
	var batch arrearsv1.SyncPayablesBatchResponse
	call(t, &grpcTransport{conn: f.conn, token: f.erp}, "SyncPayablesBatch", &arrearsv1.SyncPayablesBatchRequest{Debtor: f.debtor,
		Records: []*arrearsv1.PayableRecord{record(0, 1, 0), record(0, 2, 0)}}, &batch)
	expect(t, &restTransport{base: "http://" + f.http, token: "ark_nobody_0000"}, "GetParty", &arrearsv1.GetPartyRequest{Name: f.debtor}, &arrearsv1.GetPartyResponse{}, codes.Unauthenticated)
	expect(t, &restTransport{base: "http://" + f.http, token: f.erp}, "GetParty", &arrearsv1.GetPartyRequest{Name: "parties/CN:00000000000000000X"}, &arrearsv1.GetPartyResponse{}, codes.InvalidArgument)
	// The first sweep and checkpoint run as the server starts, beside the
	// calls above.
	eventually(t, "the first sweep and checkpoint to be counted", func() bool {
		b := scrape(t, addr)
		return strings.Contains(b, `arrears_job_runs_total{job="sweep"`) && strings.Contains(b, `arrears_job_runs_total{job="checkpoint"`)
	})
	body := scrape(t, addr)
	for _, want := range []string{
		`arrears_calls_total{code="OK",method="/arrears.v1.LedgerService/CreateParty",transport="grpc"} 2`,
		`arrears_calls_total{code="OK",method="/arrears.v1.SyncService/SyncPayablesBatch",transport="grpc"} 1`,
		`arrears_calls_total{code="InvalidArgument",method="/arrears.v1.LedgerService/GetParty",transport="rest"} 1`,
		`arrears_call_duration_seconds_count{method="/arrears.v1.SyncService/SyncPayablesBatch",transport="grpc"} 1`,
		`arrears_sync_records_total{outcome="CREATED"} 2`,
		`arrears_sync_chunks_total 1`,
		`arrears_job_runs_total{job="sweep",result="ok"}`,
		`arrears_job_last_success_timestamp_seconds{job="checkpoint"}`,
		`arrears_job_last_success_timestamp_seconds{job="purge"}`,
		`arrears_calls_total{code="Unauthenticated",method="/",transport="rest"} 1`,
		`go_sql_open_connections{db_name="arrears"}`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
	}
}

// TestMetricsOfThePostgreSQLPool: on PostgreSQL the pool is pgx's, which
// database/sql's go_sql_* do not see: its own figures are given instead,
// its maximum and the connections taken among them.
func TestMetricsOfThePostgreSQLPool(t *testing.T) {
	addr := freeAddr(t)
	f := newSyncFixture(t, config{DatabaseURL: pgtest.URL(t), DataDir: t.TempDir(), MetricsAddr: addr})
	call(t, &grpcTransport{conn: f.conn, token: f.erp}, "GetParty", &arrearsv1.GetPartyRequest{Name: f.debtor}, &arrearsv1.GetPartyResponse{})
	body := scrape(t, addr)
	if strings.Contains(body, "go_sql_") {
		t.Error("/metrics gives database/sql's figures, which see none of pgx's pool")
	}
	for _, want := range []string{`arrears_db_pool_max_connections{db_name="arrears"}`, `arrears_db_pool_acquires_total{db_name="arrears"}`} {
		if !strings.Contains(body, want) || strings.Contains(body, want+" 0\n") {
			t.Errorf("/metrics lacks %s, or it is 0:\n%s", want, body)
		}
	}
}

// freeAddr is a loopback address no one listens on now.
func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// scrape reads /metrics at addr.
func scrape(t *testing.T, addr string) string {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}
