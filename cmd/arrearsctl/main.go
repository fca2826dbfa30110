// Command arrearsctl is the integration engineer's tool for arrears.
//
//	arrearsctl sync [flags] FILE    stream a CSV or NDJSON file of payables
//
// The sync shows a progress bar on a terminal (records/s, done/total) and
// can be interrupted at any point: everything acknowledged is committed,
// and running the same command again resumes after it. The first Ctrl-C
// (or SIGTERM, SIGHUP) stops sending and waits for the server to answer
// the chunks in flight, so their results are reported; a second one quits
// at once. Every rejected record is written, as it is known, to a file of
// JSON lines (FILE.rejected.ndjson unless -rejects says otherwise).
//
// A server that becomes unavailable (stopping, restarting, out of reach,
// or without its database), or a chunk that conflicts (ABORTED), is waited
// for and the run resumes by itself, -retries times (8 unless told
// otherwise).
//
// Exit status: 0 when every record was synced, 3 when the file is done
// but some records were rejected, 130 when interrupted, 1 on any other
// failure.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	arrearsv1 "github.com/arrears/arrears/gen/arrears/v1"
	"github.com/arrears/arrears/internal/netaddr"
	"github.com/arrears/arrears/internal/shutdown"
	"github.com/arrears/arrears/internal/syncclient"
)

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	stop := make(chan struct{})
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, shutdown.Signals()...)
	go func() {
		<-signals
		fmt.Fprintln(os.Stderr, "\narrearsctl: stopping once the server has answered the chunks in flight (interrupt again to quit at once)")
		close(stop)
		<-signals
		cancel()
	}()
	err := run(ctx, stop, os.Args[1:], os.Stdout, os.Stderr)
	signal.Stop(signals)
	cancel()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "arrearsctl:", err)
		var ex exitError
		if errors.As(err, &ex) {
			os.Exit(ex.code)
		}
		os.Exit(1)
	}
}

// exitError is a failure with its own exit status.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }

// Exit statuses besides 0 and 1 (see the package comment).
const (
	exitRejected    = 3
	exitInterrupted = 130 // as a shell reports a command ended by SIGINT
)

func run(ctx context.Context, stop <-chan struct{}, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "sync" {
		return fmt.Errorf("usage: arrearsctl sync [flags] FILE (run arrearsctl sync -h for the flags)")
	}
	fs := flag.NewFlagSet("arrearsctl sync", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", envOr("ARREARS_SERVER", "127.0.0.1:9090"), "arrearsd gRPC address (ARREARS_SERVER)")
	// No default from the environment: flag usage prints defaults, and
	// this is a key. The variable is read after parsing.
	token := fs.String("token", "", "a DEBTOR API key; better given as ARREARS_TOKEN, since a flag is visible to every local user (ps)")
	debtor := fs.String("debtor", "", "the debtor: parties/{id} or parties/{jurisdiction}:{registration id}")
	session := fs.String("session", "", "session name; default derived from the file, so a rerun resumes")
	chunk := fs.Int("chunk", 500, "records per chunk (at most 1000)")
	retries := fs.Int("retries", 8, "times to resume by itself while the server is unavailable or a chunk conflicts (waiting 1s, then twice as long each time, up to a minute)")
	rejects := fs.String("rejects", "", `file of JSON lines receiving every rejected record (default FILE.rejected.ndjson; "-" for none)`)
	caFile := fs.String("tls-ca", "", "PEM CA of the server's certificate; TLS when set (or with -tls-cert, against the system's roots)")
	certFile := fs.String("tls-cert", "", "PEM client certificate, for mutual TLS")
	keyFile := fs.String("tls-key", "", "PEM client key")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	tokenGiven := false
	fs.Visit(func(f *flag.Flag) { tokenGiven = tokenGiven || f.Name == "token" })
	if !tokenGiven {
		*token = os.Getenv("ARREARS_TOKEN")
	}
	switch {
	case fs.NArg() > 1 && strings.HasPrefix(fs.Arg(1), "-"):
		return fmt.Errorf("flags go before FILE: arrearsctl sync [flags] FILE (%s came after %s)", fs.Arg(1), fs.Arg(0))
	case fs.NArg() != 1:
		return fmt.Errorf("usage: arrearsctl sync -debtor PARTY [flags] FILE: one file to sync")
	case *debtor == "":
		return fmt.Errorf("usage: arrearsctl sync -debtor PARTY [flags] FILE: -debtor names whose payables these are (parties/CN:91350100M000100Y43, say)")
	case *token == "":
		return fmt.Errorf("no API key: set ARREARS_TOKEN to a DEBTOR key (or give -token)")
	case strings.HasPrefix(*server, "http://") || strings.HasPrefix(*server, "https://"):
		// gRPC's own target forms (dns:///, unix:///) stand.
		return fmt.Errorf("-server takes host:port, the gRPC address, without %s", (*server)[:strings.Index(*server, "://")+3])
	}
	*debtor = partyName(*debtor)
	if (*certFile == "") != (*keyFile == "") {
		return fmt.Errorf("-tls-cert and -tls-key go together")
	}
	creds := insecure.NewCredentials()
	if *caFile == "" && *certFile == "" && !netaddr.Loopback(*server) {
		fmt.Fprintf(stderr, "arrearsctl: warning: connecting to %s without TLS: the API key and the payables cross the network in clear text; give -tls-ca (or -tls-cert and -tls-key)\n", *server)
	}
	// A client certificate means TLS: without -tls-ca the system's roots
	// check the server (the key bound to the certificate is not sent in
	// the clear).
	if *caFile != "" || *certFile != "" {
		conf := &tls.Config{MinVersion: tls.VersionTLS12}
		if *caFile != "" {
			pem, err := os.ReadFile(*caFile)
			if err != nil {
				return err
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return fmt.Errorf("%s holds no PEM certificate", *caFile)
			}
			conf.RootCAs = pool
		}
		if *certFile != "" {
			pair, err := tls.LoadX509KeyPair(*certFile, *keyFile)
			if err != nil {
				return err
			}
			conf.Certificates = []tls.Certificate{pair}
		}
		creds = credentials.NewTLS(conf)
	}
	conn, err := grpc.NewClient(*server, grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(syncclient.MaxAnswerBytes)))
	if err != nil {
		return err
	}
	defer conn.Close()
	switch *rejects {
	case "":
		*rejects = fs.Arg(0) + ".rejected.ndjson"
	case "-":
		*rejects = ""
	}
	fi, _ := os.Stderr.Stat()
	if *retries < 0 {
		return fmt.Errorf("-retries must not be negative")
	}
	rep, err := syncclient.RunRetrying(ctx, syncclient.Options{Conn: conn, Token: strings.TrimSpace(*token), Debtor: *debtor,
		File: fs.Arg(0), Session: *session, Chunk: *chunk, Progress: stderr,
		Terminal: fi != nil && fi.Mode()&os.ModeCharDevice != 0, Columns: func() int { return columns(os.Stderr) }, Stop: stop, Rejects: *rejects},
		syncclient.Retry{Attempts: *retries, Wait: time.Second, Notify: func(err error, wait time.Duration) {
			what := "the server is unavailable"
			switch status.Code(err) {
			case codes.Aborted:
				what = "a chunk conflicted with other writes to the ledger"
			case codes.DeadlineExceeded:
				what = "the server closed the stream"
			}
			fmt.Fprintf(stderr, "arrearsctl: %s (%v); resuming in %v\n", what, status.Convert(err).Message(), wait)
		}})
	if rep == nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, syncclient.ErrStopped) {
			return exitError{exitInterrupted, "interrupted while reading the file; nothing was sent"}
		}
		return said(err)
	}
	if !rep.SessionOpened() {
		// The session was never opened: the report knows nothing of
		// where it stands (0 acknowledged would be false).
		if errors.Is(err, context.Canceled) || errors.Is(err, syncclient.ErrStopped) {
			return exitError{exitInterrupted, "interrupted before the session was opened; nothing was sent"}
		}
		if status.Code(err) == codes.Unavailable {
			hint := ""
			if strings.Contains(err.Error(), "HTTP/1.1") {
				// The REST port answers HTTP/1.1 to a gRPC client.
				hint = " (is that arrearsd's REST port? -server takes its gRPC one, 9090 unless configured)"
			}
			return fmt.Errorf("nothing was sent: arrearsd at %s (-server, ARREARS_SERVER) did not open the session: %s%s", *server, status.Convert(err).Message(), hint)
		}
		return fmt.Errorf("nothing was sent: %w", said(err))
	}
	if errors.Is(err, syncclient.ErrNotTheFile) {
		// Refused before sending: a summary would count the session's
		// records against this file's (3500/3000 acknowledged).
		return err
	}
	{
		shown, what := rep.Acknowledged, "records acknowledged"
		if rep.Done {
			// Every record accounted for: the unreadable ones, listed
			// below, are not in the acknowledged sequence.
			shown, what = rep.Total, "records done"
		}
		ahead := ""
		if !rep.Done && rep.Ahead > 0 {
			// Else the outcomes add up to more than were acknowledged.
			ahead = fmt.Sprintf(" (%d of them past record %d, refused by arrearsctl before sending)", rep.Ahead, rep.Acknowledged)
		}
		fmt.Fprintf(stdout, "session %s: %d/%d %s (resumed after %d) in %s: %v%s\n",
			rep.Session, shown, rep.Total, what, rep.ResumeAfter, rep.Elapsed.Round(1e6), outcomes(rep.Outcomes), ahead)
		listed := ""
		if *rejects != "" {
			listed = ", now listed in " + *rejects
		}
		if rep.Recovered > 0 {
			fmt.Fprintf(stdout, "%s rejected by earlier runs of the session taken from the server's list of its rejections%s\n", records(rep.Recovered), listed)
		}
		if rep.Reread > 0 {
			fmt.Fprintf(stdout, "%s the file itself refused in earlier runs of the session read again%s\n", records(rep.Reread), listed)
		}
		// In sequence order, as RunRetrying's report gives them.
		for _, r := range rep.Rejected {
			where := r.DocumentRef
			if line := rep.Lines[r.Sequence]; line > 0 {
				where += fmt.Sprintf(", line %d", line)
			}
			fmt.Fprintf(stdout, "rejected record %d (%s): %s\n", r.Sequence, where, problems(r.Problems))
		}
		if n := rep.Outcomes["REJECTED"]; n > int64(len(rep.Rejected)) {
			fmt.Fprintf(stdout, "... and %d more rejected records\n", n-int64(len(rep.Rejected)))
		}
	}
	switch {
	case errors.Is(err, context.Canceled):
		return exitError{exitInterrupted, fmt.Sprintf("interrupted: run the same command again to resume after record %d or later", rep.Acknowledged)}
	case errors.Is(err, syncclient.ErrStopped):
		return exitError{exitInterrupted, fmt.Sprintf("stopped: run the same command again to resume after record %d", rep.Acknowledged)}
	case syncclient.Resumable(err):
		return fmt.Errorf("%s; everything acknowledged is kept: run the same command again to resume after record %d", said(err), rep.Acknowledged)
	case err != nil:
		return said(err)
	}
	// The rejections across the session's runs: the rejects file's and
	// the server's (without a file, the server's and this run's).
	if n := rep.RejectedBefore + rep.Outcomes["REJECTED"]; n > 0 {
		where := ""
		if *rejects != "" {
			where = "; all are listed in " + *rejects
		}
		return exitError{exitRejected, fmt.Sprintf("%s rejected%s", records(n), where)}
	}
	return nil
}

// partyName takes a party as the file names suppliers too
// ("CN:91350100M000100Y43") and as the API does ("parties/...").
func partyName(s string) string {
	if !strings.HasPrefix(s, "parties/") && strings.Contains(s, ":") {
		return "parties/" + s
	}
	return s
}

// said is a server's refusal in words: its message and its code
// ("API key not recognised (UNAUTHENTICATED)"), not gRPC's "rpc error:
// code = ... desc = ...". Other errors are as they are.
func said(err error) error {
	s, ok := status.FromError(err)
	switch {
	case !ok || s.Code() == codes.OK:
		return err
	case s.Code() == codes.Unavailable:
		return fmt.Errorf("arrearsd is unavailable: %s", s.Message())
	}
	// As the API's documents spell it: PERMISSION_DENIED.
	return fmt.Errorf("arrearsd refused: %s (%s)", s.Message(), code.Code(s.Code()).String())
}

// outcomes says how many records came out each way, in a fixed order:
// "12 created, 3 unchanged, 1 rejected".
func outcomes(n map[string]int64) string {
	known := []string{"CREATED", "UPDATED", "UNCHANGED", "DUPLICATE", "REJECTED"}
	order := append(known, slices.Sorted(maps.Keys(n))...) // then any a newer server adds
	var parts []string
	for i, o := range order {
		if n[o] > 0 && (i < len(known) || !slices.Contains(known, o)) {
			parts = append(parts, fmt.Sprintf("%d %s", n[o], strings.ToLower(o)))
		}
	}
	if len(parts) == 0 {
		return "no records sent"
	}
	return strings.Join(parts, ", ")
}

// records is "1 record" or "n records".
func records(n int64) string {
	if n == 1 {
		return "1 record"
	}
	return fmt.Sprintf("%d records", n)
}

// problems says a rejected record's problems as "field: description",
// joined by "; ".
func problems(ps []*arrearsv1.RecordProblem) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.Field + ": " + p.Description
	}
	return strings.Join(parts, "; ")
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
