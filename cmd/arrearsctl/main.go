// Command arrearsctl is the integration engineer's tool for arrears.
//
//	arrearsctl sync [flags] FILE    stream a CSV or NDJSON file of payables
//
// The sync shows a progress bar on a terminal (records/s, done/total) and
// can be interrupted with Ctrl-C at any point: everything acknowledged is
// committed, and running the same command again resumes after it.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/arrears/arrears/internal/syncclient"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "arrearsctl:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "sync" {
		return fmt.Errorf("usage: arrearsctl sync [flags] FILE (run arrearsctl sync -h for the flags)")
	}
	fs := flag.NewFlagSet("arrearsctl sync", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", envOr("ARREARS_SERVER", "127.0.0.1:9090"), "arrearsd gRPC address (ARREARS_SERVER)")
	// No default from the environment: flag usage prints defaults, and
	// this is a key. The variable is read after parsing.
	token := fs.String("token", "", "a DEBTOR API key (ARREARS_TOKEN)")
	debtor := fs.String("debtor", "", "the debtor: parties/{id} or parties/{jurisdiction}:{registration id}")
	session := fs.String("session", "", "session name; default derived from the file, so a rerun resumes")
	chunk := fs.Int("chunk", 500, "records per chunk (at most 1000)")
	caFile := fs.String("tls-ca", "", "PEM CA of the server's certificate; TLS when set")
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
	if fs.NArg() != 1 || *debtor == "" || *token == "" {
		return fmt.Errorf("usage: arrearsctl sync -debtor PARTY -token KEY [flags] FILE")
	}
	creds := insecure.NewCredentials()
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("%s holds no PEM certificate", *caFile)
		}
		conf := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		if *certFile != "" {
			pair, err := tls.LoadX509KeyPair(*certFile, *keyFile)
			if err != nil {
				return err
			}
			conf.Certificates = []tls.Certificate{pair}
		}
		creds = credentials.NewTLS(conf)
	}
	conn, err := grpc.NewClient(*server, grpc.WithTransportCredentials(creds))
	if err != nil {
		return err
	}
	defer conn.Close()
	fi, _ := os.Stderr.Stat()
	rep, err := syncclient.Run(ctx, syncclient.Options{Conn: conn, Token: strings.TrimSpace(*token), Debtor: *debtor,
		File: fs.Arg(0), Session: *session, Chunk: *chunk, Progress: stderr,
		Terminal: fi != nil && fi.Mode()&os.ModeCharDevice != 0})
	if rep != nil {
		shown, what := rep.Acknowledged, "records acknowledged"
		if rep.Done {
			// Every record accounted for: the unreadable ones, listed
			// below, are not in the acknowledged sequence.
			shown, what = rep.Total, "records done"
		}
		fmt.Fprintf(stdout, "session %s: %d/%d %s (resumed after %d) in %s: %v\n",
			rep.Session, shown, rep.Total, what, rep.ResumeAfter, rep.Elapsed.Round(1e6), rep.Outcomes)
		for _, r := range rep.Rejected {
			fmt.Fprintf(stdout, "rejected record %d (%s): %v\n", r.Sequence, r.DocumentRef, r.Problems)
		}
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("interrupted: run the same command again to resume after record %d", rep.Acknowledged)
	}
	return err
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
