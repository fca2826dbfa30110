package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	arrearsv1 "github.com/arrears/arrears/gen/arrears/v1"
)

// TestUsageDoesNotPrintTheToken: asking for the flags prints their
// defaults; the API key, taken from the environment, is not among them.
func TestUsageDoesNotPrintTheToken(t *testing.T) {
	const token = "ark_abcdefgh_0123456789secret"
	t.Setenv("ARREARS_TOKEN", token)
	var stdout, stderr bytes.Buffer
	_ = run(context.Background(), nil, []string{"sync", "-h"}, &stdout, &stderr)
	if strings.Contains(stderr.String()+stdout.String(), "0123456789secret") || !strings.Contains(stderr.String(), "-token") {
		t.Errorf("usage:\n%s", stderr.String())
	}
}

// TestInterruptedWhileCounting: Ctrl-C before anything was sent (while the
// file is counted) ends with the interrupted status, not a crash.
func TestInterruptedWhileCounting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "payables.ndjson")
	os.WriteFile(path, []byte(strings.Repeat(`{"documentRef":"A"}`+"\n", 10)), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, nil, []string{"sync", "-server", "127.0.0.1:1", "-token", "k", "-debtor", "parties/CN:x", path}, &stdout, &stderr)
	var ex exitError
	if !errors.As(err, &ex) || ex.code != exitInterrupted {
		t.Errorf("interrupted while counting: %v", err)
	}
}

// TestPlaintextToAnotherHostIsWarned: without TLS to a server beyond this
// host, the key crosses the network in clear text, and arrearsctl says so;
// to a loopback server it says nothing.
func TestPlaintextToAnotherHostIsWarned(t *testing.T) {
	path := filepath.Join(t.TempDir(), "payables.ndjson")
	os.WriteFile(path, []byte(`{"documentRef":"A"}`+"\n"), 0o600)
	for server, warned := range map[string]bool{"127.0.0.1:1": false, "192.0.2.1:9090": true} {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // ends the run before it connects: only the warning counts
		var stdout, stderr bytes.Buffer
		_ = run(ctx, nil, []string{"sync", "-server", server, "-token", "k", "-debtor", "parties/CN:x", path}, &stdout, &stderr)
		if got := strings.Contains(stderr.String(), "without TLS"); got != warned {
			t.Errorf("-server %s: warned %v, want %v (stderr %q)", server, got, warned, stderr.String())
		}
	}
}

// TestSummaryIsPlainWords: outcomes and problems are said in words, not as
// Go maps and protobuf text.
func TestSummaryIsPlainWords(t *testing.T) {
	if got := outcomes(map[string]int64{"REJECTED": 1, "CREATED": 12, "UNCHANGED": 3, "LATER": 2}); got != "12 created, 3 unchanged, 1 rejected, 2 later" {
		t.Errorf("outcomes: %q", got)
	}
	if records(1) != "1 record" || records(40) != "40 records" {
		t.Errorf("records: %q, %q", records(1), records(40))
	}
	if got := outcomes(nil); got != "no records sent" {
		t.Errorf("no outcomes: %q", got)
	}
	ps := []*arrearsv1.RecordProblem{{Field: "amount", Description: "must be positive"}, {Field: "issued_on", Description: "is required"}}
	if got := problems(ps); got != "amount: must be positive; issued_on: is required" {
		t.Errorf("problems: %q", got)
	}
}

// TestUnreachedServerSaysWhere: a server never reached is reported with
// the address tried and the flag that sets it, and nothing was sent.
func TestUnreachedServerSaysWhere(t *testing.T) {
	path := filepath.Join(t.TempDir(), "payables.ndjson")
	os.WriteFile(path, []byte(`{"documentRef":"A"}`+"\n"), 0o600)
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), nil, []string{"sync", "-server", "127.0.0.1:1", "-token", "k", "-debtor", "parties/CN:x", path}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "nothing was sent: arrearsd at 127.0.0.1:1 (-server, ARREARS_SERVER)") {
		t.Errorf("a server never reached: %v", err)
	}
	if strings.Contains(stdout.String(), "acknowledged") {
		t.Errorf("a summary of a session never opened: %q", stdout.String())
	}
}

// TestUsageMistakesAreNamed: the mistakes an engineer makes on the command
// line are each named, with what to do, not answered with the usage line.
func TestUsageMistakesAreNamed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "payables.ndjson")
	os.WriteFile(path, []byte(`{"documentRef":"A"}`+"\n"), 0o600)
	t.Setenv("ARREARS_TOKEN", "")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"sync", "-debtor", "parties/CN:x", path}, "no API key: set ARREARS_TOKEN"},
		{[]string{"sync", "-token", "k", "-debtor", "parties/CN:x", path, "-server", "127.0.0.1:1"}, "flags go before FILE"},
		{[]string{"sync", "-token", "k", path}, "-debtor names whose payables"},
		{[]string{"sync", "-token", "k", "-debtor", "parties/CN:x", "-server", "http://127.0.0.1:9090", path}, "-server takes host:port, the gRPC address, without http://"},
	} {
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), nil, c.args, &stdout, &stderr); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.args, err, c.want)
		}
	}
	if got := partyName("CN:91350100M000100Y43"); got != "parties/CN:91350100M000100Y43" {
		t.Errorf("a debtor named as the file names suppliers: %q", got)
	}
	if got := partyName("parties/0193a2b4-7c1d-7e2f-8a3b-4c5d6e7f8091"); got != "parties/0193a2b4-7c1d-7e2f-8a3b-4c5d6e7f8091" {
		t.Errorf("a party name: %q", got)
	}
}

// TestRefusalsInWords: a server's refusal is its message and code in the
// API's spelling, not gRPC's "rpc error: code = ... desc = ...".
func TestRefusalsInWords(t *testing.T) {
	for err, want := range map[error]string{
		status.Error(codes.PermissionDenied, "the key may not act for parties/CN:x"): "arrearsd refused: the key may not act for parties/CN:x (PERMISSION_DENIED)",
		status.Error(codes.Unavailable, "error reading from server: EOF"):            "arrearsd is unavailable: error reading from server: EOF",
		errors.New("payables.csv: no such file"):                                     "payables.csv: no such file",
	} {
		if got := said(err).Error(); got != want {
			t.Errorf("said(%v) = %q, want %q", err, got, want)
		}
	}
}

// aheadSync is a sync server whose session has acknowledged five records.
type aheadSync struct {
	arrearsv1.UnimplementedSyncServiceServer
}

func (aheadSync) SyncPayables(stream arrearsv1.SyncService_SyncPayablesServer) error {
	if _, err := stream.Recv(); err != nil {
		return err
	}
	return stream.Send(&arrearsv1.SyncPayablesResponse{Kind: &arrearsv1.SyncPayablesResponse_Opened{Opened: &arrearsv1.SyncOpened{Session: "s", ResumeAfter: 5}}})
}

// TestNotTheFileHasNoSummary: a file refused as not the session's (here
// shorter than what it acknowledged) is refused in words, without a
// summary counting the session's records against the file's ("5/2
// records acknowledged").
func TestNotTheFileHasNoSummary(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	arrearsv1.RegisterSyncServiceServer(srv, aheadSync{})
	go srv.Serve(l)
	defer srv.Stop()
	path := filepath.Join(t.TempDir(), "payables.ndjson")
	os.WriteFile(path, []byte(`{"documentRef":"A"}`+"\n"+`{"documentRef":"B"}`+"\n"), 0o600)
	var stdout, stderr bytes.Buffer
	err = run(context.Background(), nil, []string{"sync", "-server", l.Addr().String(), "-token", "k", "-debtor", "parties/CN:x", "-session", "s", "-rejects", "-", path}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "more than the 2 in") || stdout.Len() != 0 {
		t.Errorf("a file shorter than its session: %v; printed %q", err, stdout.String())
	}
}
