// Command arrears-bench measures arrears against the limits of the machine
// it runs on, each figure as a ratio to a baseline taken in the same run.
//
//	arrears-bench sync [-n 1000000] [-arrearsd bin/arrearsd]
//
// sync starts a throwaway PostgreSQL cluster and measures, for N invoices:
// (1) the physical limit, pgx CopyFrom of N invoice rows straight into the
// invoices table with its indexes; (2) syncing N new invoices end to end
// through a separate arrearsd process over loopback gRPC, from this process
// as the client (the arrearsctl code); (3) syncing the same N again, all
// unchanged; (4) syncing N of which 10% changed. It prints invoices/s for
// each, the ratio of 2, 3 and 4 to 1, the CPU time per invoice of the
// client, arrearsd and PostgreSQL in each, and the server's peak resident
// memory.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	arrearsv1 "github.com/arrears/arrears/gen/arrears/v1"
	"github.com/arrears/arrears/internal/regid"
	"github.com/arrears/arrears/internal/store/pgtest"
	"github.com/arrears/arrears/internal/store/postgres"
	"github.com/arrears/arrears/internal/syncclient"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if len(os.Args) >= 2 && os.Args[1] == "summary" {
		fs := flag.NewFlagSet("summary", flag.ExitOnError)
		var p summaryParams
		fs.IntVar(&p.n, "n", 1000000, "invoices")
		fs.IntVar(&p.debtors, "debtors", 10000, "debtors")
		fs.IntVar(&p.regions, "regions", 300, "regions the debtors are spread over")
		fs.IntVar(&p.creditors, "creditors", 100000, "creditors")
		fs.IntVar(&p.runs, "runs", 20, "timed summaries per as-of date")
		fs.IntVar(&p.workers, "workers", 3, "concurrent requests while loading")
		fs.StringVar(&p.bin, "arrearsd", "bin/arrearsd", "the arrearsd binary to measure")
		fs.Uint64Var(&p.seed, "seed", 1, "the ledger's random seed")
		fs.BoolVar(&p.explain, "explain", false, "print PostgreSQL's plans of the aggregate reads")
		fs.StringVar(&profileDir, "profile", "", "write CPU profiles of arrearsd during the by-debtor summaries to this directory")
		pg := fs.String("pg", "shared_buffers=4GB,effective_cache_size=12GB", "PostgreSQL settings, comma-separated name=value")
		_ = fs.Parse(os.Args[2:])
		if *pg != "" {
			p.pgSettings = strings.Split(*pg, ",")
		}
		if err := benchSummary(ctx, p); err != nil {
			fmt.Fprintln(os.Stderr, "arrears-bench:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) < 2 || os.Args[1] != "sync" {
		fmt.Fprintln(os.Stderr, "usage: arrears-bench sync [-n N] [-arrearsd PATH] [-store postgres|sqlite] | summary [-n N] [-debtors D] [-arrearsd PATH]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet("sync", flag.ExitOnError)
	n := fs.Int("n", 1000000, "invoices")
	bin := fs.String("arrearsd", "bin/arrearsd", "the arrearsd binary to measure")
	chunk := fs.Int("chunk", 1000, "records per chunk")
	suppliers := fs.Int("suppliers", 1000, "distinct suppliers")
	engine := fs.String("store", "postgres", "postgres (with the raw COPY baseline) or sqlite (the embedded default; no baseline)")
	pg := fs.String("pg", "", "PostgreSQL settings, comma-separated name=value (e.g. log_min_duration_statement=10)")
	fs.StringVar(&profileDir, "profile", "", "write CPU profiles of arrearsd during each pass to this directory")
	fs.IntVar(&paidPct, "paid", 0, "percent of invoices that carry a payment, 0 to 90 (0, the issue's figures: none)")
	fs.BoolVar(&changeIsPayment, "change-is-payment", false, "the 10% changed records each carry a new payment instead of a new amount")
	fs.BoolVar(&sweepAfter, "sweep", false, "then restart arrearsd and time its escalation sweep of the synced invoices (all overdue)")
	_ = fs.Parse(os.Args[2:])
	if paidPct < 0 || paidPct > 90 {
		fmt.Fprintln(os.Stderr, "arrears-bench: -paid must be 0 to 90: the 10% of invoices that change are never among those paid")
		os.Exit(2)
	}
	var err error
	if *engine == "sqlite" {
		err = benchSyncSQLite(ctx, *n, *chunk, *suppliers, *bin)
	} else {
		var settings []string
		if *pg != "" {
			settings = strings.Split(*pg, ",")
		}
		err = benchSync(ctx, *n, *chunk, *suppliers, *bin, settings)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "arrears-bench:", err)
		os.Exit(1)
	}
}

func supplier(i int) string {
	c, err := regid.CompleteUSCC(fmt.Sprintf("92350121MA0B%05d", i))
	if err != nil {
		panic(err)
	}
	return c
}

const debtorReg = "91350100M000100Y43"

func benchSync(ctx context.Context, n, chunk, suppliers int, bin string, settings []string) error {
	cluster, err := pgtest.NewCluster(settings...)
	if err != nil {
		return err
	}
	defer cluster.Stop()
	fmt.Printf("sync benchmark: N=%d invoices, %d suppliers, chunks of %d%s, PostgreSQL throwaway cluster with fsync, synchronous_commit and full_page_writes off%s for the baseline and the sync alike (VACUUM ANALYZE between sync passes, untimed), arrearsd %s\n", n, suppliers, chunk, workload(), overrides(settings), bin)

	// 1. The physical limit.
	rawURL, err := cluster.CreateDatabase(ctx, "raw")
	if err != nil {
		return err
	}
	if _, err := postgres.Migrate(ctx, rawURL, time.Now()); err != nil {
		return err
	}
	pgPID, err := cluster.PID()
	if err != nil {
		return err
	}
	meter := cpuMeter{postgres: pgPID}
	rawRate, rawCPU, err := rawCopy(ctx, rawURL, n, suppliers, 1, meter)
	if err != nil {
		return fmt.Errorf("raw copy: %w", err)
	}
	fmt.Printf("1. pgx CopyFrom into invoices:        %9.0f invoices/s\n", rawRate)
	fmt.Printf("   %s\n", rawCPU)
	// Its rows have done their part: dropped, so that autovacuum does not
	// analyze them on the cores the sync passes are measured on.
	if err := cluster.DropDatabase(ctx, "raw"); err != nil {
		return err
	}
	// The same rows by two CopyFroms at once, as the sync keeps two
	// chunks in flight on two backends: one COPY is bound by one backend,
	// so this is the limit the sync's two could reach. The ratios
	// are to the single CopyFrom above; this one is printed beside them.
	raw2URL, err := cluster.CreateDatabase(ctx, "raw2")
	if err != nil {
		return err
	}
	if _, err := postgres.Migrate(ctx, raw2URL, time.Now()); err != nil {
		return err
	}
	raw2Rate, raw2CPU, err := rawCopy(ctx, raw2URL, n, suppliers, 2, meter)
	if err != nil {
		return fmt.Errorf("raw copy on two connections: %w", err)
	}
	fmt.Printf("1b. two CopyFroms at once:            %9.0f invoices/s\n", raw2Rate)
	fmt.Printf("   %s\n", raw2CPU)
	if err := cluster.DropDatabase(ctx, "raw2"); err != nil {
		return err
	}

	// 2-4. The same through a separate arrearsd.
	syncURL, err := cluster.CreateDatabase(ctx, "sync")
	if err != nil {
		return err
	}
	if _, err := postgres.Migrate(ctx, syncURL, time.Now()); err != nil {
		return err
	}
	rates, rss, err := syncRun(ctx, bin, syncURL, n, chunk, suppliers, pgPID)
	if err != nil {
		return err
	}
	fmt.Printf("against two CopyFroms at once: new %.3f, unchanged %.3f, changed %.3f\n",
		rates["new"]/raw2Rate, rates["unchanged"]/raw2Rate, rates["changed"]/raw2Rate)
	fmt.Printf("ratio_new=%.3f ratio_unchanged=%.3f ratio_changed=%.3f peak_rss_mb=%.0f\n",
		rates["new"]/rawRate, rates["unchanged"]/rawRate, rates["changed"]/rawRate, rss)
	return nil
}

// benchSyncSQLite runs the three sync passes against arrearsd on its
// embedded SQLite store. SQLite has no COPY, so there is no raw baseline:
// the figures are absolute.
func benchSyncSQLite(ctx context.Context, n, chunk, suppliers int, bin string) error {
	fmt.Printf("sync benchmark: N=%d invoices, %d suppliers, chunks of %d%s, embedded SQLite, arrearsd %s\n", n, suppliers, chunk, workload(), bin)
	rates, rss, err := syncRun(ctx, bin, "", n, chunk, suppliers, 0)
	if err != nil {
		return err
	}
	fmt.Printf("sqlite_new=%.0f sqlite_unchanged=%.0f sqlite_changed=%.0f peak_rss_mb=%.0f\n", rates["new"], rates["unchanged"], rates["changed"], rss)
	return nil
}

// syncRun starts arrearsd on url (empty: its embedded SQLite store),
// registers the debtor, writes the new and the 10%-changed files, runs the
// three sync passes and returns their rates and the server's peak RSS.
// pgPID is PostgreSQL's postmaster (0 for SQLite), whose CPU time is
// measured with the client's and arrearsd's.
func syncRun(ctx context.Context, bin, url string, n, chunk, suppliers, pgPID int) (map[string]float64, float64, error) {
	dir, err := os.MkdirTemp("", "arrears-bench-")
	if err != nil {
		return nil, 0, err
	}
	defer os.RemoveAll(dir)
	srv, err := startServer(ctx, bin, url, dir)
	if err != nil {
		return nil, 0, err
	}
	defer srv.stop()
	token, err := srv.debtorKey(ctx)
	if err != nil {
		return nil, 0, err
	}
	files := map[string]string{"new": filepath.Join(dir, "new.csv"), "changed": filepath.Join(dir, "changed.csv")}
	if err := writeCSV(files["new"], n, suppliers, 0); err != nil {
		return nil, 0, err
	}
	if err := writeCSV(files["changed"], n, suppliers, 10); err != nil {
		return nil, 0, err
	}
	meter := cpuMeter{server: srv.cmd.Process.Pid, postgres: pgPID}
	var settle func(context.Context) error
	if url != "" {
		settle = func(ctx context.Context) error { return vacuum(ctx, url) }
	}
	rates, err := syncPasses(ctx, srv, token, files, n, chunk, meter, settle)
	if err != nil {
		return nil, 0, err
	}
	rss, err := srv.peakRSSMB()
	if err != nil {
		return nil, 0, err // a figure of 0 would read as a pass
	}
	fmt.Printf("server peak RSS: %.0f MB\n", rss)
	if sweepAfter {
		srv.stop()
		if err := timeSweep(ctx, bin, url, dir, n, pgPID); err != nil {
			return nil, 0, fmt.Errorf("sweep: %w", err)
		}
	}
	return rates, rss, nil
}

// sweepAfter (-sweep) times the escalation sweep after the passes.
var sweepAfter bool

// timeSweep starts arrearsd again on the synced ledger and times the
// sweep it runs as it starts, which finds every synced invoice due (their
// due dates are long past, so each has levels to record), from its log.
func timeSweep(ctx context.Context, bin, url, dir string, n, pgPID int) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	srv, err := startServerWith(ctx, bin, url, dir, w, "-log-level", "info")
	w.Close()
	if err != nil {
		return err
	}
	defer srv.stop()
	meter := cpuMeter{server: srv.cmd.Process.Pid, postgres: pgPID}
	before := meter.sample()
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var line struct {
			Msg        string
			Invoices   int
			DurationMS float64 `json:"duration_ms"`
			Err        string
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil || line.Msg != "escalation sweep" {
			continue
		}
		if line.Err != "" {
			return errors.New(line.Err)
		}
		after := meter.sample()
		took := time.Duration(line.DurationMS * float64(time.Millisecond))
		fmt.Printf("5. sweep of the synced invoices:     %9.0f invoices/s  (%v, %d invoices)\n",
			float64(line.Invoices)/took.Seconds(), took.Round(time.Millisecond), line.Invoices)
		fmt.Printf("   %s\n", meter.perInvoice(before, after, line.Invoices))
		return nil
	}
	return fmt.Errorf("arrearsd ended without logging a sweep: %v", sc.Err())
}

// syncPasses syncs N new invoices, the same N again, and N with 10%
// changed, and returns invoices per second for each. settle (nil: none)
// runs, untimed and reported apart, before the second and third passes.
func syncPasses(ctx context.Context, srv *server, token string, files map[string]string, n, chunk int, meter cpuMeter, settle func(context.Context) error) (map[string]float64, error) {
	rates := map[string]float64{}
	for i, run := range []struct{ name, file, session, label string }{
		{"new", files["new"], "first", "2. sync N new invoices:"},
		{"unchanged", files["new"], "again", "3. sync the same N again:"},
		{"changed", files["changed"], "changed", "4. sync N with 10% changed:"},
	} {
		if settle != nil && i > 0 {
			before, t0 := meter.sample(), time.Now()
			if err := settle(ctx); err != nil {
				return nil, fmt.Errorf("vacuum before %s: %w", run.name, err)
			}
			fmt.Printf("   then, untimed, VACUUM ANALYZE: %v; %s\n", time.Since(t0).Round(time.Millisecond), meter.perInvoice(before, meter.sample(), n))
		}
		stopProfile, stopClientProfile := srv.profile(ctx, run.name), profileClient(run.name)
		before, t0 := meter.sample(), time.Now()
		rep, err := syncclient.Run(ctx, syncclient.Options{Conn: srv.conn, Token: token, Debtor: "parties/CN:" + debtorReg,
			File: run.file, Session: run.session, Chunk: chunk, Window: 4})
		// The whole run, as the CPU sample covers it: the client's count
		// and digest of the file, which precede its own clock, included.
		elapsed := time.Since(t0)
		after := meter.sample()
		stopProfile()
		stopClientProfile()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", run.name, err)
		}
		if err := checkOutcomes(run.name, rep, n); err != nil {
			return nil, err
		}
		rates[run.name] = float64(n) / elapsed.Seconds()
		fmt.Printf("%-38s %9.0f invoices/s  (%v, %v)\n", run.label, rates[run.name], elapsed.Round(time.Millisecond), rep.Outcomes)
		fmt.Printf("   %s\n", meter.perInvoice(before, after, n))
	}
	return rates, nil
}

// checkOutcomes refuses a pass that did less than it claims: every record
// accounted for, none rejected or skipped, and each pass's outcome (all
// created, all unchanged, or some updated and the rest unchanged).
func checkOutcomes(pass string, rep *syncclient.Report, n int) error {
	o := rep.Outcomes
	total := int64(0)
	for _, c := range o {
		total += c
	}
	ok := rep.Done && total == int64(n)
	switch pass {
	case "new":
		ok = ok && o["CREATED"] == int64(n)
	case "unchanged":
		ok = ok && o["UNCHANGED"] == int64(n)
	case "changed":
		// Exactly the records writeCSV changed (every tenth), each
		// written: not merely some.
		ok = ok && o["UPDATED"] == int64((n+9)/10) && o["UPDATED"]+o["UNCHANGED"] == int64(n)
	}
	if !ok {
		return fmt.Errorf("%s pass: outcomes %v (done %v) do not account for the %d records as the pass should", pass, o, rep.Done, n)
	}
	return nil
}

// rawCopy loads n invoice rows with CopyFrom, on conns connections at
// once (each its share of the rows), and returns rows per second, and the
// CPU time the client and PostgreSQL spent per row.
func rawCopy(ctx context.Context, url string, n, suppliers, conns int, meter cpuMeter) (float64, string, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, "", err
	}
	defer conn.Close(ctx)
	now := time.Now().UTC()
	// Ids go in as pgtype.UUID: pgx would send a uuid.UUID (a
	// driver.Valuer) through its text form, and the baseline must be the
	// fastest COPY, not a slow one.
	id := func() pgtype.UUID { return pgtype.UUID{Bytes: uuid.Must(uuid.NewV7()), Valid: true} }
	debtor := id()
	parties := [][]any{{debtor, "Bench Buyer", "LARGE_ENTERPRISE", "LARGE", "CN", debtorReg, "350100", "", false, int64(1), now, now}}
	creditors := make([]pgtype.UUID, suppliers)
	for i := range creditors {
		creditors[i] = id()
		parties = append(parties, []any{creditors[i], fmt.Sprintf("Supplier %d", i), "SME", "SMALL", "CN", supplier(i), "350121", "", true, int64(1), now, now})
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"parties"}, []string{"id", "display_name", "kind", "size_class", "jurisdiction",
		"registration_id", "region_code", "industry_code", "unverified", "version", "create_time", "update_time"}, pgx.CopyFromRows(parties)); err != nil {
		return 0, "", err
	}
	delivered := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
	cols := []string{"id", "debtor_id", "creditor_id", "document_ref", "contract_ref", "currency", "amount", "contract_signed_on", "issued_on",
		"delivered_on", "acceptance_required", "acceptance_period_days", "agreed_term_days", "agreed_rate_per_day", "creditor_size_at_signing",
		"status", "due_date", "credited", "paid", "disputed", "cancel_reason", "version", "create_time", "update_time", "policy_id",
		"policy_version", "policy_reason"}
	// rows is the copy source of invoices from up to to.
	rows := func(from, to int) pgx.CopyFromSource {
		i := from
		return pgx.CopyFromFunc(func() ([]any, error) {
			if i == to {
				return nil, nil
			}
			row := []any{id(), debtor, creditors[i%suppliers], fmt.Sprintf("BENCH-%08d", i), "", "CNY", int64(100000 + i%5000*100),
				delivered.AddDate(0, 0, -15), delivered.AddDate(0, 0, 1), delivered, false, int32(0), int32(60), false, "SMALL", "OPEN",
				delivered.AddDate(0, 0, 60), int64(0), int64(0), int64(0), "", int64(1), now, now, "CN-802-LARGE-ENTERPRISE", int32(1), "bench"}
			i++
			return row, nil
		})
	}
	others := make([]*pgx.Conn, conns-1) // connected before the clock starts
	for k := range others {
		if others[k], err = pgx.Connect(ctx, url); err != nil {
			return 0, "", err
		}
		defer others[k].Close(ctx)
	}
	before := meter.sample()
	start := time.Now()
	errs := make(chan error, conns)
	for k := range conns {
		c := conn
		if k > 0 {
			c = others[k-1]
		}
		from, to := n*k/conns, n*(k+1)/conns
		go func() {
			_, err := c.CopyFrom(ctx, pgx.Identifier{"invoices"}, cols, rows(from, to))
			errs <- err
		}()
	}
	for range conns {
		if e := <-errs; e != nil && err == nil {
			err = e
		}
	}
	if err != nil {
		return 0, "", err
	}
	rate := float64(n) / time.Since(start).Seconds()
	return rate, meter.perInvoice(before, meter.sample(), n), nil
}

// paidPct (-paid) is the percent of invoices that carry a payment: a
// nightly resync of an ERP's payables repeats the payments it has made.
// They are never among the 10% that change in the third pass, so every
// file holds the same payments.
// changeIsPayment (-change-is-payment) makes the changed records' change a
// new payment, the commonest change in a nightly resync.
var (
	paidPct         int
	changeIsPayment bool
)

// paid reports whether invoice i carries a payment: paidPct percent of
// them, spread evenly over the nine in ten whose number does not end in 0
// (those change in the third pass).
func paid(i int) bool {
	if i%10 == 0 {
		return false
	}
	j := i - i/10 - 1 // the index among the invoices that never change
	return j*paidPct%90 < paidPct
}

// workload names the options that change what is synced, for the header.
func workload() string {
	out := ""
	if paidPct > 0 {
		out += fmt.Sprintf(", %d%% paid", paidPct)
	}
	if changeIsPayment {
		out += ", the change a new payment"
	}
	return out
}

// writeCSV writes n payables; every changedPct-th percent has its amount
// changed by one cent (or a new payment), and paidPct percent (see paid) a
// payment.
func writeCSV(path string, n, suppliers, changedPct int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := newBuffered(f)
	w.WriteString("document_ref,creditor,creditor_name,creditor_size_class,currency,amount,contract_signed_on,issued_on,delivered_on,agreed_term_days,payment_reference,payment_amount,paid_on\n")
	for i := 0; i < n; i++ {
		cents := 0
		changed := changedPct > 0 && i%(100/changedPct) == 0
		if changed && !changeIsPayment {
			cents = 1
		}
		fmt.Fprintf(w, "BENCH-%08d,CN:%s,Supplier %d,SMALL,CNY,%d.%02d,2025-06-16,2025-07-02,2025-07-01,60,",
			i, supplier(i%suppliers), i%suppliers, 1000+i%5000, cents)
		switch {
		case changed && changeIsPayment:
			fmt.Fprintf(w, "BENCH-Q-%08d,100.00,2025-08-01\n", i)
		case paid(i):
			fmt.Fprintf(w, "BENCH-P-%08d,100.00,2025-08-01\n", i)
		default:
			w.WriteString(",,\n")
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

// server is arrearsd running as its own process.
type server struct {
	cmd       *exec.Cmd
	dir       string
	conn      *grpc.ClientConn
	debugAddr string // its profiler, with -profile
}

// profileDir, if set (-profile), receives CPU profiles of arrearsd taken
// back to back during each pass: DIR/<pass>-<n>.pprof, to merge with
// go tool pprof; and one of the client, this process: DIR/client-<pass>.pprof.
var profileDir string

// profileClient profiles this process until the returned function is
// called; nothing without -profile.
func profileClient(pass string) func() {
	if profileDir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(profileDir, "client-"+pass+".pprof"))
	if err != nil {
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

// profile takes 5-second CPU profiles of the server until the returned
// function is called; nothing without -profile.
func (s *server) profile(ctx context.Context, pass string) func() {
	if profileDir == "" || s.debugAddr == "" {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ctx.Err() == nil; i++ {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.debugAddr+"/debug/pprof/profile?seconds=5", nil)
			if err != nil {
				return
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode == http.StatusOK {
				_ = os.WriteFile(filepath.Join(profileDir, fmt.Sprintf("%s-%02d.pprof", pass, i)), b, 0o644)
			}
		}
	}()
	return func() { cancel(); <-done }
}

func startServer(ctx context.Context, bin, url, dir string) (*server, error) {
	return startServerWith(ctx, bin, url, dir, os.Stderr)
}

// startServerWith starts arrearsd logging to stderr, with extra flags
// (later ones win).
func startServerWith(ctx context.Context, bin, url, dir string, stderr io.Writer, extra ...string) (*server, error) {
	port := freePort()
	cmd := exec.CommandContext(ctx, bin, "-database-url", url, "-data-dir", dir, "-grpc-addr", "127.0.0.1:"+strconv.Itoa(port),
		"-http-addr", "127.0.0.1:0", "-rate-limit", "0", "-log-level", "warn", "-sweep-interval", "1h", "-create-audit-key", "true")
	cmd.Args = append(cmd.Args, extra...)
	cmd.Stderr = stderr
	debugAddr := ""
	if profileDir != "" {
		debugAddr = "127.0.0.1:" + strconv.Itoa(freePort())
		cmd.Args = append(cmd.Args, "-debug-addr", debugAddr)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	s := &server{cmd: cmd, dir: dir, debugAddr: debugAddr}
	conn, err := grpc.NewClient("127.0.0.1:"+strconv.Itoa(port), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		s.stop()
		return nil, err
	}
	s.conn = conn
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, "admin.key")); err == nil {
			if _, err := s.admin(ctx); err == nil {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, errors.New("arrearsd did not start")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *server) admin(ctx context.Context) (context.Context, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, "admin.key"))
	if err != nil {
		return nil, err
	}
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+strings.TrimSpace(string(b)))
	_, err = arrearsv1.NewLedgerServiceClient(s.conn).ListParties(ctx, &arrearsv1.ListPartiesRequest{PageSize: 1})
	return ctx, err
}

// debtorKey registers the debtor and returns a DEBTOR key for it.
func (s *server) debtorKey(ctx context.Context) (string, error) {
	actx, err := s.admin(ctx)
	if err != nil {
		return "", err
	}
	if _, err := arrearsv1.NewLedgerServiceClient(s.conn).CreateParty(actx, &arrearsv1.CreatePartyRequest{Party: &arrearsv1.Party{
		DisplayName: "Bench Buyer", Kind: arrearsv1.PartyKind_PARTY_KIND_LARGE_ENTERPRISE, Jurisdiction: "CN", RegistrationId: debtorReg,
		RegionCode: "350100"}}); err != nil {
		return "", err
	}
	k, err := arrearsv1.NewAccessServiceClient(s.conn).CreateApiKey(actx, &arrearsv1.CreateApiKeyRequest{ApiKey: &arrearsv1.ApiKey{
		Role: arrearsv1.Role_ROLE_DEBTOR, Parties: []string{"parties/CN:" + debtorReg}}})
	if err != nil {
		return "", err
	}
	return k.Token, nil
}

// peakRSSMB reads the server's high-water resident set size.
func (s *server) peakRSSMB() (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, fmt.Errorf("peak RSS: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, err := strconv.ParseFloat(f[1], 64)
			if err != nil || kb <= 0 {
				return 0, fmt.Errorf("peak RSS: VmHWM %q", f[1])
			}
			return kb / 1024, nil
		}
	}
	return 0, fmt.Errorf("peak RSS: no VmHWM in /proc/%d/status", s.cmd.Process.Pid)
}

func (s *server) stop() {
	if s.conn != nil {
		s.conn.Close()
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	_ = s.cmd.Wait()
}

// vacuum runs VACUUM ANALYZE on the sync database between passes, as an
// operator would after a bulk load (see the README on PostgreSQL). Left to
// autovacuum, the maintenance the 1,000,000 new invoices call for lands in
// whichever later pass its timer falls in: the 10%-changed pass ranged
// from 25 to 42 µs of PostgreSQL CPU per invoice over three runs of one
// commit, by whether it did. Its time and CPU are printed, not hidden; they
// are the previous pass's cost, not counted in its rate.
func vacuum(ctx context.Context, url string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "VACUUM ANALYZE")
	return err
}

// overrides names the -pg settings, which the cluster applies after its
// own and so may undo them.
func overrides(settings []string) string {
	if len(settings) == 0 {
		return ""
	}
	return " (then -pg " + strings.Join(settings, ",") + ")"
}
