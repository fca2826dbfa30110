package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	arrearsv1 "github.com/arrears/arrears/gen/arrears/v1"
	"github.com/arrears/arrears/internal/service"
	"github.com/arrears/arrears/internal/syncclient"
)

// cancelAt is a progress writer that interrupts the run, as Ctrl-C would,
// once the acknowledged count passes a threshold.
type cancelAt struct {
	n      int64
	cancel func()
}

var ackedRE = regexp.MustCompile(`(\d+)/\d+ records`)

func (c *cancelAt) Write(p []byte) (int, error) {
	if m := ackedRE.FindSubmatch(p); m != nil {
		if n, _ := strconv.ParseInt(string(m[1]), 10, 64); n >= c.n {
			c.cancel()
		}
	}
	return len(p), nil
}

// TestArrearsctlSyncResumes syncs a CSV file, interrupts it part way, and
// runs it again: the rerun resumes after the acknowledged records and the
// ledger ends with every invoice once.
func TestArrearsctlSyncResumes(t *testing.T) {
	f := newSyncFixture(t, config{})
	path := filepath.Join(t.TempDir(), "payables.csv")
	var b strings.Builder
	b.WriteString("document_ref,creditor,creditor_name,creditor_size_class,currency,amount,contract_signed_on,issued_on,delivered_on,agreed_term_days,payment_reference,payment_amount,paid_on\n")
	const n = 3000
	for i := 0; i < n; i++ {
		pay := ",,"
		if i%4 == 0 {
			pay = fmt.Sprintf("CSV-P-%05d,250.00,2025-09-01", i)
		}
		fmt.Fprintf(&b, "CSV-%05d,CN:%s,Supplier %d,SMALL,CNY,%d.%02d,2025-06-15,2025-07-02,2025-07-01,60,%s\n",
			i, uscc(fmt.Sprintf("92350121MA0CW%04d", i%11)), i%11, 1000+i, i%100, pay)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	opts := syncclient.Options{Conn: f.conn, Token: f.erp, Debtor: f.debtor, File: path, Chunk: 200, Window: 2,
		Terminal: true, Every: time.Millisecond}

	ctx, cancel := context.WithCancel(context.Background())
	opts.Progress = &cancelAt{n: 1000, cancel: cancel}
	rep, err := syncclient.Run(ctx, opts)
	if err == nil || rep.Acknowledged >= n || rep.Acknowledged < 1000 {
		t.Fatalf("interrupted run: %v acknowledged %d of %d", err, rep.Acknowledged, n)
	}
	opts.Progress = &strings.Builder{}
	rep2, err := syncclient.Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep2.Session != rep.Session || rep2.ResumeAfter < rep.Acknowledged || rep2.Acknowledged != n || rep2.Outcomes["REJECTED"] != 0 {
		t.Errorf("rerun: session %s (first %s), resumed after %d (first acknowledged %d), acknowledged %d, %v",
			rep2.Session, rep.Session, rep2.ResumeAfter, rep.Acknowledged, rep2.Acknowledged, rep2.Outcomes)
	}
	if !strings.Contains(opts.Progress.(*strings.Builder).String(), "records/s") {
		t.Error("no progress bar was drawn")
	}
	if got := countInvoices(t, f.conn, f.erp); got != n {
		t.Errorf("ledger holds %d invoices, want %d", got, n)
	}
	// The same file once more: every record was acknowledged, nothing sent.
	rep3, err := syncclient.Run(context.Background(), syncclient.Options{Conn: f.conn, Token: f.erp, Debtor: f.debtor, File: path})
	if err != nil || rep3.ResumeAfter != n || len(rep3.Outcomes) != 0 {
		t.Errorf("third run: resumed after %d, %v, %v", rep3.ResumeAfter, rep3.Outcomes, err)
	}

	// A shorter file under the same session: refused, not skipped.
	dir := t.TempDir()
	head := strings.Join(strings.SplitN(b.String(), "\n", 12)[:11], "\n") + "\n"
	short := filepath.Join(dir, "short.csv")
	os.WriteFile(short, []byte(head), 0o600)
	if _, err := syncclient.Run(context.Background(), syncclient.Options{Conn: f.conn, Token: f.erp, Debtor: f.debtor, File: short, Session: rep.Session}); err == nil ||
		!strings.Contains(err.Error(), "more than the 10") {
		t.Errorf("a 10-record file under a session that acknowledged %d: %v", n, err)
	}
	// File names the server's session rule would refuse as they are.
	for _, name := range []string{"应付账款.csv", "_export.csv", ".payables.csv"} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(head), 0o600)
		if rep, err := syncclient.Run(context.Background(), syncclient.Options{Conn: f.conn, Token: f.erp, Debtor: f.debtor, File: p}); err != nil {
			t.Errorf("%s: session %q: %v", name, rep.Session, err)
		}
	}
	// Rows that cannot be read (an amount that is not one, a bad date, a
	// short row) are reported, each with its number, and the others are
	// synced.
	lines := strings.Split(strings.TrimSuffix(head, "\n"), "\n")
	bad := []string{lines[0], lines[1],
		"CSV-SLASH,CN:x,Supplier,SMALL,CNY,10/4,2025-06-15,2025-07-02,2025-07-01,60,,,",
		strings.Replace(lines[2], "2025-07-02", "2025-02-30", 1),
		"CSV-SHORT,CN:x", lines[3],
		// Read, sent, and refused by the server: no such credit code.
		"CSV-NOCODE,CN:x,Supplier,SMALL,CNY,1.00,2025-06-15,2025-07-02,2025-07-01,60,,,"}
	mixed := filepath.Join(dir, "mixed.csv")
	os.WriteFile(mixed, []byte(strings.Join(bad, "\n")+"\n"), 0o600)
	rep4, err := syncclient.Run(context.Background(), syncclient.Options{Conn: f.conn, Token: f.erp, Debtor: f.debtor, File: mixed})
	if err != nil {
		t.Fatal(err)
	}
	var rejected []int64
	for _, r := range rep4.Rejected {
		rejected = append(rejected, r.Sequence)
	}
	if rep4.Total != 6 || !rep4.Done || rep4.Outcomes["REJECTED"] != 4 || fmt.Sprint(rejected) != "[2 3 4 6]" || rep4.Rejected[0].Problems[0].Field != "amount" {
		t.Errorf("a file with three unreadable rows and one refused: total %d, outcomes %v, rejected %v", rep4.Total, rep4.Outcomes, rep4.Rejected)
	}
	// Each named by its line of the file, as a spreadsheet numbers it (the
	// header is line 1), whoever refused it.
	if got := fmt.Sprint(rep4.Lines); got != "map[2:3 3:4 4:5 6:7]" {
		t.Errorf("the rejections' lines: %s, want map[2:3 3:4 4:5 6:7]", got)
	}
	// A row in another encoding refuses the whole file before anything is
	// sent: a GBK export's other rows may happen to be valid UTF-8, and
	// would be synced garbled (here 医药, whose GBK bytes read as
	// Cyrillic).
	before := countInvoices(t, f.conn, f.erp)
	gbk := filepath.Join(dir, "gbk.csv")
	os.WriteFile(gbk, []byte(lines[0]+"\n"+
		"GBK-1,CN:x,\xd2\xbd\xd2\xa9,SMALL,CNY,1.00,2025-06-15,2025-07-02,2025-07-01,60,,,\n"+
		"GBK-2,CN:x,\xb9\xa9\xd3\xa6,SMALL,CNY,1.00,2025-06-15,2025-07-02,2025-07-01,60,,,\n"), 0o600)
	if _, err := syncclient.Run(context.Background(), syncclient.Options{Conn: f.conn, Token: f.erp, Debtor: f.debtor, File: gbk}); err == nil ||
		!strings.Contains(err.Error(), "record 2, line 3, column creditor_name: not UTF-8 text; nothing was sent") {
		t.Errorf("a GBK file: %v", err)
	}
	if after := countInvoices(t, f.conn, f.erp); after != before {
		t.Errorf("a GBK file refused: %d invoices before, %d after", before, after)
	}
}

// TestArrearsctlSessionKnowsItsFile: a session named by hand resumes by
// position. Another file under it, or the same with a row fixed since,
// whose first records are not those the session took, is refused before
// anything is sent (its first records would have been skipped, unsent,
// exit 0); the same file grown since resumes after the records it had,
// and sends only the new ones.
func TestArrearsctlSessionKnowsItsFile(t *testing.T) {
	f := newSyncFixture(t, config{})
	dir := t.TempDir()
	file := func(name, prefix string, n int, fixed ...bool) string {
		var b strings.Builder
		b.WriteString("document_ref,creditor,creditor_name,creditor_size_class,currency,amount,issued_on\n")
		for i := range n {
			// A row the file itself refuses takes its place in the check.
			amount := "10.00"
			if i == 1 && len(fixed) == 0 {
				amount = "10/4"
			}
			fmt.Fprintf(&b, "%s-%d,CN:%s,Supplier,SMALL,CNY,%s,2025-07-02\n", prefix, i, uscc("92350121MA0CW0003"), amount)
		}
		path := filepath.Join(dir, name)
		os.WriteFile(path, []byte(b.String()), 0o600)
		return path
	}
	run := func(path string) (*syncclient.Report, error) {
		return syncclient.Run(context.Background(), syncclient.Options{Conn: f.conn, Token: f.erp, Debtor: f.debtor, File: path, Session: "nightly", Chunk: 2})
	}
	if rep, err := run(file("night1.csv", "N1", 5)); err != nil || rep.Outcomes["CREATED"] != 4 {
		t.Fatalf("first night: %v, %+v", err, rep)
	}
	var sess arrearsv1.GetSyncSessionResponse
	call(t, &grpcTransport{conn: f.conn, token: f.erp}, "GetSyncSession", &arrearsv1.GetSyncSessionRequest{Name: f.debtor + "/syncSessions/nightly"}, &sess)
	if sess.ResumeAfter != 5 || !strings.HasPrefix(sess.ResumeCheck, "5:") {
		t.Errorf("the session after the first night: %v", &sess)
	}
	before := countInvoices(t, f.conn, f.erp)
	if _, err := run(file("night2.csv", "N2", 8)); err == nil || !strings.Contains(err.Error(), "its first 5 records are not those the session acknowledged") {
		t.Errorf("another file under the session: %v", err)
	}
	if after := countInvoices(t, f.conn, f.erp); after != before {
		t.Errorf("another file under the session: %d invoices before, %d after", before, after)
	}
	// The refused row fixed: not skipped unsent, refused as a changed file.
	if _, err := run(file("night1.csv", "N1", 5, true)); err == nil || !strings.Contains(err.Error(), "rows changed since") {
		t.Errorf("the first file with its refused row fixed: %v", err)
	}
	rep, err := run(file("night1.csv", "N1", 8))
	if err != nil || rep.ResumeAfter != 5 || rep.Outcomes["CREATED"] != 3 {
		t.Errorf("the first file grown by three records: %v, resumed after %d, %v", err, rep.ResumeAfter, rep.Outcomes)
	}
}

// stopAt is a progress writer that closes stop once the acknowledged
// count passes a threshold: given to the run as Options.Stop, it asks the
// run to stop as a first Ctrl-C does.
type stopAt struct {
	n    int64
	stop chan struct{}
	once sync.Once
}

func (s *stopAt) Write(p []byte) (int, error) {
	if m := ackedRE.FindSubmatch(p); m != nil {
		if n, _ := strconv.ParseInt(string(m[1]), 10, 64); n >= s.n {
			s.once.Do(func() { close(s.stop) })
		}
	}
	return len(p), nil
}

// TestArrearsctlSyncStopsGently stops a run part way as a first Ctrl-C
// does: the chunks in flight are answered, so the run knows exactly where
// the server stands, and every rejection, from the server or unreadable
// here, is in the rejects file once across the stopped run and its rerun.
func TestArrearsctlSyncStopsGently(t *testing.T) {
	f := newSyncFixture(t, config{})
	dir := t.TempDir()
	path := filepath.Join(dir, "payables.csv")
	var b strings.Builder
	b.WriteString("document_ref,creditor,creditor_name,creditor_size_class,currency,amount,issued_on,delivered_on,agreed_term_days\n")
	const n = 3000
	var wantRejected []string
	for i := 1; i <= n; i++ {
		amount := fmt.Sprintf("%d.00", 1000+i)
		switch {
		case i%500 == 7:
			amount = "-1.00"                                                 // the server rejects it, naming the field
			wantRejected = append(wantRejected, fmt.Sprintf("%d:amount", i)) // its CSV column, as the server's amount.minor_units
		case i%700 == 3:
			amount = "12/5" // unreadable here
			wantRejected = append(wantRejected, fmt.Sprintf("%d:amount", i))
		}
		fmt.Fprintf(&b, "STOP-%05d,CN:%s,Supplier %d,SMALL,CNY,%s,2025-07-02,2025-07-01,60\n",
			i, uscc(fmt.Sprintf("92350121MA0CW%04d", i%7)), i%7, amount)
	}
	os.WriteFile(path, []byte(b.String()), 0o600)
	rejects := filepath.Join(dir, "rejected.ndjson")
	// A rejects file left from another file's run is started afresh.
	os.WriteFile(rejects, []byte(`{"sequence":"1","outcome":"REJECTED"}`+"\n"), 0o600)
	opts := syncclient.Options{Conn: f.conn, Token: f.erp, Debtor: f.debtor, File: path, Chunk: 100, Window: 3,
		Terminal: true, Every: time.Millisecond, Rejects: rejects}
	stop := &stopAt{n: 1000, stop: make(chan struct{})}
	opts.Progress, opts.Stop = stop, stop.stop
	rep, err := syncclient.Run(context.Background(), opts)
	if !errors.Is(err, syncclient.ErrStopped) || rep.Acknowledged >= n || rep.Acknowledged < 1000 || rep.Done {
		t.Fatalf("stopped run: %v, acknowledged %d of %d, done %v", err, rep.Acknowledged, n, rep.Done)
	}
	opts.Progress, opts.Stop = nil, nil
	rep2, err := syncclient.Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep2.ResumeAfter != rep.Acknowledged || !rep2.Done {
		t.Errorf("rerun resumed after %d; the stopped run saw %d acknowledged", rep2.ResumeAfter, rep.Acknowledged)
	}
	if got := countInvoices(t, f.conn, f.erp); got != n-len(wantRejected) {
		t.Errorf("ledger holds %d invoices, want %d", got, n-len(wantRejected))
	}
	data, err := os.ReadFile(rejects)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var r struct {
			Sequence    string `json:"sequence"`
			DocumentRef string `json:"document_ref"`
			Problems    []struct {
				Field string `json:"field"`
			} `json:"problems"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil || len(r.Problems) == 0 || r.DocumentRef == "" {
			t.Fatalf("rejects line %q: %v", line, err)
		}
		got = append(got, r.Sequence+":"+r.Problems[0].Field)
	}
	slices.SortFunc(got, func(a, b string) int {
		x, _ := strconv.Atoi(strings.Split(a, ":")[0])
		y, _ := strconv.Atoi(strings.Split(b, ":")[0])
		return x - y
	})
	if fmt.Sprint(got) != fmt.Sprint(wantRejected) {
		t.Errorf("rejects file lists %v, want %v", got, wantRejected)
	}
}

// writeNDJSON writes records to path as arrearsctl reads NDJSON: one JSON
// record a line.
func writeNDJSON(t *testing.T, path string, recs []*arrearsv1.PayableRecord) {
	t.Helper()
	var b bytes.Buffer
	for _, rec := range recs {
		line, err := protojson.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestArrearsctlSyncTakesLargeAnswers: a chunk of records each carrying a
// hundred problems is answered in one message far past gRPC's default 4 MB
// receive bound; the client takes it as the server sends it (up to 64 MB),
// so the rejections are reported, not lost to a receive error after the
// server committed the chunk.
func TestArrearsctlSyncTakesLargeAnswers(t *testing.T) {
	f := newSyncFixture(t, config{MaxRequestBytes: 4 << 20}) // the default: one chunk of 1000 such records
	path := filepath.Join(t.TempDir(), "payables.ndjson")
	bad := &arrearsv1.Date{Year: 2025, Month: 13, Day: 1}
	var recs []*arrearsv1.PayableRecord
	const n = 1000
	for i := range n {
		rec := &arrearsv1.PayableRecord{DocumentRef: fmt.Sprintf("BIG-%04d", i), Creditor: "parties/CN:" + uscc("92350121MA0CW0001"),
			CreditorName: "Supplier", Amount: &arrearsv1.Money{CurrencyCode: "CNY", MinorUnits: 100000},
			IssuedOn: &arrearsv1.Date{Year: 2025, Month: 7, Day: 2}}
		for j := range 34 {
			rec.Payments = append(rec.Payments, &arrearsv1.PayablePayment{Reference: fmt.Sprintf("BIG-P-%04d-%02d", i, j),
				Amount: &arrearsv1.Money{CurrencyCode: "CNY", MinorUnits: 100}, PaidOn: bad, MaturityOn: bad, ReversedOn: bad})
		}
		recs = append(recs, rec)
	}
	writeNDJSON(t, path, recs)
	rep, err := syncclient.Run(context.Background(), syncclient.Options{Conn: f.conn, Token: f.erp, Debtor: f.debtor, File: path, Chunk: n})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Outcomes["REJECTED"] != n || len(rep.Rejected) == 0 || len(rep.Rejected[0].Problems) < 100 {
		t.Errorf("outcomes %v, %d rejected", rep.Outcomes, len(rep.Rejected))
	}
}

// TestArrearsctlSyncSplitsChunksByPayments: records whose payments would
// take a chunk past the server's bound (service.MaxSyncChunkPayments) go
// in the next chunk, whatever the chunk size asked: five invoices of 9,000
// payments each, in chunks of 5, are sent as two chunks and created.
func TestArrearsctlSyncSplitsChunksByPayments(t *testing.T) {
	f := newSyncFixture(t, config{MaxRequestBytes: 4 << 20})
	path := filepath.Join(t.TempDir(), "payables.ndjson")
	var recs []*arrearsv1.PayableRecord
	const n, pays = 5, 9000
	if n*pays <= service.MaxSyncChunkPayments {
		t.Fatalf("%d payments fit in a chunk: the test proves nothing", n*pays)
	}
	for i := range n {
		rec := &arrearsv1.PayableRecord{DocumentRef: fmt.Sprintf("MANY-%d", i), Creditor: "parties/CN:" + uscc("92350121MA0CW0001"),
			CreditorName: "Supplier", CreditorSizeClass: arrearsv1.SizeClass_SIZE_CLASS_SMALL, Amount: &arrearsv1.Money{CurrencyCode: "CNY", MinorUnits: pays * 100},
			IssuedOn: &arrearsv1.Date{Year: 2025, Month: 7, Day: 2}}
		for j := range pays {
			rec.Payments = append(rec.Payments, &arrearsv1.PayablePayment{Reference: fmt.Sprintf("MANY-P-%d-%04d", i, j),
				Amount: &arrearsv1.Money{CurrencyCode: "CNY", MinorUnits: 100}, PaidOn: &arrearsv1.Date{Year: 2025, Month: 8, Day: 1}})
		}
		recs = append(recs, rec)
	}
	writeNDJSON(t, path, recs)
	rep, err := syncclient.Run(context.Background(), syncclient.Options{Conn: f.conn, Token: f.erp, Debtor: f.debtor, File: path, Chunk: n})
	if err != nil || rep.Outcomes["CREATED"] != n {
		t.Fatalf("outcomes %v, %v; want %d created (%v)", rep.Outcomes, err, n, rep.Rejected)
	}
}

// TestArrearsctlSyncStopsAmidUnreadableRows: a stop is heard between
// records, not only as a chunk is sent, so a long stretch of rows that
// send nothing (acknowledged before, or unreadable here) does not hold it
// off until the file ends.
func TestArrearsctlSyncStopsAmidUnreadableRows(t *testing.T) {
	f := newSyncFixture(t, config{})
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("document_ref,creditor,currency,amount,issued_on\n")
	for i := range 10 {
		fmt.Fprintf(&b, "OK-%03d,CN:%s,CNY,10.00,2025-07-02\n", i, uscc("92350121MA0CW0001"))
	}
	first := filepath.Join(dir, "first.csv")
	os.WriteFile(first, []byte(b.String()), 0o600)
	rep, err := syncclient.Run(context.Background(), syncclient.Options{Conn: f.conn, Token: f.erp, Debtor: f.debtor, File: first})
	if err != nil || !rep.Done {
		t.Fatalf("first run: %v", err)
	}
	// The same rows and a tail of rows whose amounts are not amounts,
	// resumed under the first run's session; the stop comes as the run
	// says it resumes.
	for i := range 100 {
		fmt.Fprintf(&b, "BAD-%03d,CN:x,CNY,10/4,2025-07-02\n", i)
	}
	path := filepath.Join(dir, "payables.csv")
	os.WriteFile(path, []byte(b.String()), 0o600)
	stop := &stopOnWrite{stop: make(chan struct{})}
	rep, err = syncclient.Run(context.Background(), syncclient.Options{Conn: f.conn, Token: f.erp, Debtor: f.debtor, File: path,
		Session: rep.Session, Progress: stop, Stop: stop.stop})
	if !errors.Is(err, syncclient.ErrStopped) || rep.ResumeAfter != 10 || rep.Outcomes["REJECTED"] != 0 || rep.Done {
		t.Errorf("stopped as it resumed: %v, resumed after %d, outcomes %v, done %v", err, rep.ResumeAfter, rep.Outcomes, rep.Done)
	}
}

// stopOnWrite asks the run to stop at the first line it writes.
type stopOnWrite struct {
	stop chan struct{}
	once sync.Once
}

func (s *stopOnWrite) Write(p []byte) (int, error) {
	s.once.Do(func() { close(s.stop) })
	return len(p), nil
}

// TestArrearsctlSyncRecoversLostRejections: a run whose answers never
// reached the rejects file (as when a client is killed after the server
// committed) leaves its rejections with the session; the rerun resumes
// after those records, takes their rejections from the server into the
// file, and counts them, so the file is done "with rejections", not clean.
func TestArrearsctlSyncRecoversLostRejections(t *testing.T) {
	f := newSyncFixture(t, config{})
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("document_ref,creditor,creditor_name,creditor_size_class,currency,amount,issued_on\n")
	for i := range 10 {
		amount := "10.00"
		if i == 3 || i == 7 {
			amount = "0.00" // read, sent, and refused by the server
		}
		if i == 1 {
			amount = "10/4" // refused by arrearsctl, never sent
		}
		fmt.Fprintf(&b, "LOST-%03d,CN:%s,Supplier,SMALL,CNY,%s,2025-07-02\n", i, uscc("92350121MA0CW0001"), amount)
	}
	all := b.String()
	head := strings.Join(strings.SplitAfter(all, "\n")[:7], "") // the header and six records
	first, path := filepath.Join(dir, "first.csv"), filepath.Join(dir, "payables.csv")
	os.WriteFile(first, []byte(head), 0o600)
	os.WriteFile(path, []byte(all), 0o600)
	// The first six records under the session, their answers kept nowhere.
	rep, err := syncclient.Run(context.Background(), syncclient.Options{Conn: f.conn, Token: f.erp, Debtor: f.debtor, File: first, Session: "nightly"})
	if err != nil || rep.Outcomes["REJECTED"] != 2 {
		t.Fatalf("first run: %v, %v, %v", rep.Outcomes, rep.Rejected, err)
	}
	rejects := filepath.Join(dir, "rejected.ndjson")
	fileSeqs := func() []int64 {
		var seqs []int64
		b, _ := os.ReadFile(rejects)
		for line := range strings.Lines(string(b)) {
			var r arrearsv1.RecordResult
			if err := protojson.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("rejects file line %q: %v", line, err)
			}
			if r.Outcome != "REJECTED" || len(r.Problems) == 0 {
				t.Errorf("rejects file line %q: not a rejection with its problems", line)
			}
			seqs = append(seqs, r.Sequence)
		}
		return seqs
	}
	opts := syncclient.Options{Conn: f.conn, Token: f.erp, Debtor: f.debtor, File: path, Session: "nightly", Rejects: rejects}
	rep, err = syncclient.Run(context.Background(), opts)
	// The file's own refusal of record 2 is not read again: a session
	// named by hand resumes by position, in what may be another file (as
	// here), whose rows up to there are not those sent.
	if err != nil || !rep.Done || rep.ResumeAfter != 6 || rep.Recovered != 1 || rep.Reread != 0 || rep.RejectedBefore != 1 || rep.Outcomes["REJECTED"] != 1 {
		t.Errorf("resumed run: %v, done %v, resumed after %d, recovered %d, read again %d, rejected before %d, outcomes %v",
			err, rep.Done, rep.ResumeAfter, rep.Recovered, rep.Reread, rep.RejectedBefore, rep.Outcomes)
	}
	if got := fileSeqs(); fmt.Sprint(got) != "[4 8]" {
		t.Errorf("rejects file lists records %v, want [4 8]", got)
	}
	// Once more: the file holds both; nothing is recovered twice.
	rep, err = syncclient.Run(context.Background(), opts)
	if err != nil || rep.Recovered != 0 || rep.Reread != 0 || rep.RejectedBefore != 2 {
		t.Errorf("third run: %v, recovered %d, read again %d, rejected before %d", err, rep.Recovered, rep.Reread, rep.RejectedBefore)
	}
	if got := fileSeqs(); fmt.Sprint(got) != "[4 8]" {
		t.Errorf("after the third run the rejects file lists records %v, want [4 8]", got)
	}
	// With no file, the server's list is what counts.
	opts.Rejects = ""
	if rep, err = syncclient.Run(context.Background(), opts); err != nil || rep.RejectedBefore != 2 {
		t.Errorf("a run without a rejects file: %v, rejected before %d, want 2", err, rep.RejectedBefore)
	}
	// Under the session named after the file, which is that file, a rerun
	// whose rejects file was lost reads the file's own refusals again,
	// which the server never saw, and counts them with the server's.
	auto := syncclient.Options{Conn: f.conn, Token: f.erp, Debtor: f.debtor, File: path}
	if rep, err = syncclient.Run(context.Background(), auto); err != nil || !rep.Done || rep.Outcomes["REJECTED"] != 3 {
		t.Fatalf("a run under the file's own session: %v, %v", rep.Outcomes, err)
	}
	auto.Rejects = filepath.Join(dir, "auto.ndjson")
	rep, err = syncclient.Run(context.Background(), auto)
	if err != nil || rep.ResumeAfter != 10 || rep.Reread != 1 || rep.Recovered != 2 || rep.RejectedBefore != 3 {
		t.Errorf("its rerun: %v, resumed after %d, read again %d, recovered %d, rejected before %d; want 10, 1, 2, 3",
			err, rep.ResumeAfter, rep.Reread, rep.Recovered, rep.RejectedBefore)
	}

	// The session and its rejections as a portal or script reads them, over
	// gRPC and REST alike, a page at a time.
	name := f.debtor + "/syncSessions/nightly"
	for _, tr := range []transport{&grpcTransport{conn: f.conn, token: f.erp}, &restTransport{base: "http://" + f.http, token: f.erp}} {
		var sess arrearsv1.GetSyncSessionResponse
		call(t, tr, "GetSyncSession", &arrearsv1.GetSyncSessionRequest{Name: name}, &sess)
		if sess.ResumeAfter != 10 || sess.RejectedRecords != 2 {
			t.Errorf("%T: GetSyncSession = resume after %d, %d rejected; want 10, 2", tr, sess.ResumeAfter, sess.RejectedRecords)
		}
		var page1, page2 arrearsv1.ListSyncRejectionsResponse
		call(t, tr, "ListSyncRejections", &arrearsv1.ListSyncRejectionsRequest{Parent: name, PageSize: 1}, &page1)
		if len(page1.Rejections) != 1 || page1.Rejections[0].Sequence != 4 || page1.Rejections[0].DocumentRef != "LOST-003" ||
			page1.Rejections[0].Problems[0].Field != "amount.minor_units" || page1.NextPageToken == "" {
			t.Fatalf("%T: first page %v", tr, &page1)
		}
		call(t, tr, "ListSyncRejections", &arrearsv1.ListSyncRejectionsRequest{Parent: name, PageSize: 1, PageToken: page1.NextPageToken}, &page2)
		if len(page2.Rejections) != 1 || page2.Rejections[0].Sequence != 8 {
			t.Errorf("%T: second page %v", tr, &page2)
		}
		expect(t, tr, "ListSyncRejections", &arrearsv1.ListSyncRejectionsRequest{Parent: f.debtor + "/syncSessions/-nightly"}, &arrearsv1.ListSyncRejectionsResponse{}, codes.InvalidArgument)
	}
	// Another debtor's key sees no such session.
	expect(t, &grpcTransport{conn: f.conn, token: f.other}, "ListSyncRejections", &arrearsv1.ListSyncRejectionsRequest{Parent: name}, &arrearsv1.ListSyncRejectionsResponse{}, codes.NotFound)
	// A record out of order is rejected and acknowledged with the chunk
	// (the session moves past it), so it is kept too.
	erp := &grpcTransport{conn: f.conn, token: f.erp}
	var batch arrearsv1.SyncPayablesBatchResponse
	call(t, erp, "SyncPayablesBatch", &arrearsv1.SyncPayablesBatchRequest{Debtor: f.debtor, Session: "scripted",
		Records: []*arrearsv1.PayableRecord{record(1, 9001, 0), record(3, 9003, 0), record(2, 9002, 0)}}, &batch)
	var listed arrearsv1.ListSyncRejectionsResponse
	call(t, erp, "ListSyncRejections", &arrearsv1.ListSyncRejectionsRequest{Parent: f.debtor + "/syncSessions/scripted"}, &listed)
	if batch.Result.AcknowledgedSequence != 3 || len(listed.Rejections) != 1 || listed.Rejections[0].Sequence != 2 || listed.Rejections[0].Problems[0].Field != "sequence" {
		t.Errorf("a batch with record 2 after 3: acknowledged %d, listed %v", batch.Result.AcknowledgedSequence, &listed)
	}
}

// TestArrearsctlSyncRidesOutServerRestart: the server restarts in the
// middle of a sync (as a replica does in a rolling deploy); the stream
// ends UNAVAILABLE with its chunks answered, and the run waits, resumes the
// session by itself and finishes, every record once.
func TestArrearsctlSyncRidesOutServerRestart(t *testing.T) {
	dir := t.TempDir()
	f := newSyncFixture(t, config{DataDir: dir})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String() // the address both servers take in turn
	l.Close()
	_, _, stop := startStoppable(t, config{DataDir: dir, GRPCAddr: addr}, f.clk)
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const n = 4000
	var b strings.Builder
	b.WriteString("document_ref,creditor,creditor_name,creditor_size_class,currency,amount,issued_on\n")
	const refused = n / 100 // an amount of 0, refused by the server
	for i := range n {
		amount := 10 + i
		if i%100 == 0 {
			amount = 0
		}
		fmt.Fprintf(&b, "RST-%05d,CN:%s,Supplier,SMALL,CNY,%d.00,2025-07-02\n", i, uscc("92350121MA0CW0002"), amount)
	}
	path := filepath.Join(t.TempDir(), "payables.csv")
	os.WriteFile(path, []byte(b.String()), 0o600)
	restart := &stopAt{n: 1000, stop: make(chan struct{})} // asks for the restart
	var retried []error
	notified := make(chan struct{}, 100)
	type outcome struct {
		rep *syncclient.Report
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		rep, err := syncclient.RunRetrying(context.Background(),
			syncclient.Options{Conn: conn, Token: f.erp, Debtor: f.debtor, File: path, Chunk: 100, Window: 2, Progress: restart, Terminal: true, Every: time.Millisecond},
			syncclient.Retry{Attempts: 10, Wait: 100 * time.Millisecond, Notify: func(err error, _ time.Duration) {
				retried = append(retried, err)
				notified <- struct{}{}
			}})
		done <- outcome{rep, err}
	}()
	var got outcome
	select {
	case <-restart.stop:
		stop()
		// The server stays down for a retry or two after the one the end
		// of its stream asked for: a run that had made progress still
		// waits for a server it cannot reach for the moment.
		for range 3 {
			select {
			case <-notified:
			case got = <-done:
				t.Fatalf("the run ended while the server was down: %v; report %+v", got.err, got.rep)
			}
		}
		_, _, stop2 := startStoppable(t, config{DataDir: dir, GRPCAddr: addr}, f.clk)
		defer stop2()
		got = <-done
	case got = <-done:
		t.Fatalf("the run ended before the restart: %v", got.err)
	}
	// The report is the invocation's: every record created by its runs,
	// resumed from where it began.
	if got.err != nil || !got.rep.Done || got.rep.Acknowledged != n || got.rep.ResumeAfter != 0 || len(retried) == 0 ||
		got.rep.Outcomes["CREATED"]+got.rep.Outcomes["DUPLICATE"] != n-refused || got.rep.Outcomes["REJECTED"] != refused {
		t.Fatalf("run across the restart: %v; done %v, acknowledged %d, resumed after %d, outcomes %v, retries %v",
			got.err, got.rep.Done, got.rep.Acknowledged, got.rep.ResumeAfter, got.rep.Outcomes, retried)
	}
	if s := status.Convert(retried[0]); s.Code() != codes.Unavailable {
		t.Errorf("first retry after %v, want UNAVAILABLE", retried[0])
	}
	if c := countInvoices(t, f.conn, f.erp); c != n-refused {
		t.Errorf("ledger holds %d invoices, want %d", c, n-refused)
	}
}
