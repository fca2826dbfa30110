// Command arrearsd is the arrears ledger server.
//
//	arrearsd [flags]                  serve gRPC and REST (embedded SQLite unless -database-url)
//	arrearsd migrate [flags]          apply PostgreSQL schema migrations
//	arrearsd keys create|list|revoke  manage API keys
//	arrearsd audit verify             check every audit chain and checkpoint
//	arrearsd audit keygen             create the audit signing key file
//
// Run `arrearsd -h` or `arrearsd migrate -h` for the flags; each also reads
// an ARREARS_* environment variable.
package main

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"time"
	_ "time/tzdata" // business dates need every jurisdiction's zone, on any host

	"github.com/arrears/arrears/internal/clock"
	"github.com/arrears/arrears/internal/grpcapi"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/metrics"
	"github.com/arrears/arrears/internal/netaddr"
	"github.com/arrears/arrears/internal/server"
	"github.com/arrears/arrears/internal/service"
	"github.com/arrears/arrears/internal/shutdown"
	"github.com/arrears/arrears/internal/store"
	"github.com/arrears/arrears/internal/store/postgres"
	"github.com/arrears/arrears/internal/store/sqlite"
	"github.com/arrears/arrears/internal/store/sqlstore"
)

func main() {
	// SIGHUP (a closed terminal) stops gracefully as SIGTERM does, unless
	// ignored (nohup). Once a signal came, the next one is the default's:
	// it ends the process at once, for an operator who will not wait for
	// the graceful stop.
	ctx, stop := signal.NotifyContext(context.Background(), shutdown.Signals()...)
	go func() {
		<-ctx.Done()
		stop()
	}()
	err := realMain(ctx, os.Args[1:])
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "arrearsd:", err)
		os.Exit(1)
	}
}

func realMain(ctx context.Context, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "migrate":
			return runMigrate(ctx, args[1:])
		case "keys":
			return runKeys(ctx, args[1:], os.Stdout)
		case "audit":
			return runAudit(ctx, args[1:], os.Stdout)
		case "summary":
			return runSummary(ctx, args[1:], os.Stdout)
		case "help":
			args = []string{"-h"} // the usage, commands and flags
		}
	}
	cfg, err := parseConfig("arrearsd", args)
	if err != nil {
		return err
	}
	// The server's collector setting only: the operator commands' scans
	// (audit verify reads the whole trail) spend no less CPU at 400, and
	// hold several times the memory.
	setGCDefault()
	return serve(ctx, cfg, clock.System{}, nil)
}

func runMigrate(ctx context.Context, args []string) error {
	cfg, err := parseConfig("arrearsd migrate", args)
	if err != nil {
		return err
	}
	log := cfg.logger()
	if cfg.DatabaseURL == "" {
		// The embedded store migrates itself when it opens; this brings
		// an existing one up to date without starting the server.
		if err := existingLedger(cfg); err != nil {
			return err
		}
		s, err := sqlite.Open(ctx, cfg.SQLitePath(), log, time.Now())
		if err != nil {
			return err
		}
		log.Info("embedded store is up to date", "path", cfg.SQLitePath()) // after Open's line of what it applied
		return s.Close()
	}
	if err := cfg.waitForPostgres(ctx, log); err != nil {
		return err
	}
	applied, err := postgres.Migrate(ctx, cfg.DatabaseURL, time.Now())
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if applied == nil {
		applied = []int{} // "applied": [], not null
	}
	log.Info("migrated PostgreSQL", "applied", applied)
	return nil
}

// waitForPostgres waits, as -database-wait says, for a PostgreSQL server
// that is not up yet.
func (c config) waitForPostgres(ctx context.Context, log *slog.Logger) error {
	if c.DatabaseWait == 0 {
		return nil // Open's own connection says what is wrong
	}
	return postgres.WaitForServer(ctx, c.DatabaseURL, c.DatabaseWait, log)
}

// openStore opens PostgreSQL when a URL is configured, else the embedded
// SQLite file, which it creates and migrates.
func openStore(ctx context.Context, cfg config, log *slog.Logger, now time.Time) (store.Store, error) {
	if cfg.DatabaseURL != "" {
		if err := cfg.waitForPostgres(ctx, log); err != nil {
			return nil, err
		}
		s, err := postgres.Open(ctx, cfg.DatabaseURL, log)
		if err != nil {
			return nil, err
		}
		log.Info("store: PostgreSQL")
		return s, nil
	}
	s, err := sqlite.Open(ctx, cfg.SQLitePath(), log, now)
	if err != nil {
		return nil, err
	}
	log.Info("store: embedded SQLite", "path", cfg.SQLitePath())
	return s, nil
}

// serve runs the server until ctx ends. ready, if not nil, receives the
// bound addresses once both listeners are up (tests use it with port 0).
func serve(ctx context.Context, cfg config, clk clock.Clock, ready func(grpcAddr, httpAddr string)) error {
	log := cfg.logger()
	st, err := openStore(ctx, cfg, log, clk.Now())
	if err != nil {
		return err
	}
	defer st.Close()
	secret, err := st.Secret(ctx, "page-token")
	if err != nil {
		return fmt.Errorf("read page-token secret: %w", err)
	}
	reg, err := cfg.policies()
	if err != nil {
		return err
	}
	svc := service.New(st, clk, reg, log)
	if err := svc.PrepareSummaries(ctx); err != nil {
		return fmt.Errorf("prepare the summary aggregates: %w", err)
	}
	if cfg.Demo {
		if err := loadDemo(ctx, svc, log); err != nil {
			return fmt.Errorf("load demo ledger: %w", err)
		}
	}
	if err := ensureAdminKey(ctx, svc, cfg.AdminKeyFile, log); err != nil {
		return err
	}
	create := cfg.CreateAuditKey
	if _, err := os.Stat(cfg.AuditKeyFile); errors.Is(err, fs.ErrNotExist) && create && !cfg.AuditKeyAsked {
		// A missing key for a ledger whose checkpoints another key signed
		// (a moved file, a forgotten flag) is not replaced unasked: the
		// new key's checkpoints could never be verified beside the old.
		switch _, err := svc.LatestCheckpoint(ctx); {
		case err == nil:
			return fmt.Errorf("audit signing key %s is missing, but the ledger holds checkpoints signed by a key: give its file with -audit-key-file, "+
				"or pass -create-audit-key=true to start signing with a new one (audit verify then reports the old checkpoints)", cfg.AuditKeyFile)
		case !errors.Is(err, ledger.ErrNotFound):
			return err
		}
	}
	auditKey, created, err := loadAuditKey(cfg.AuditKeyFile, create)
	if err != nil {
		return err
	}
	if created {
		log.Info("created the audit signing key; back it up and keep it away from the database", "path", cfg.AuditKeyFile)
	}
	if err := sameAuditKey(ctx, svc, cfg, auditKey, log); err != nil {
		return err
	}
	for _, f := range []string{cfg.AuditKeyFile, cfg.TLSKeyFile} {
		if readableByOthers(f) {
			log.Warn("a secret key file is readable by others than its owner: whoever reads it can forge checkpoints or impersonate the server; chmod 600 it", "path", f)
		}
	}
	tlsConf, err := cfg.tlsConfig()
	if err != nil {
		return err
	}
	if tlsConf == nil {
		for _, addr := range []string{cfg.GRPCAddr, cfg.HTTPAddr} {
			if !netaddr.Loopback(addr) {
				log.Warn("serving without TLS on an address other hosts can reach: API keys cross the network in clear text; give -tls-cert and -tls-key, or listen on 127.0.0.1 behind a proxy that terminates TLS", "addr", addr)
			}
		}
	}
	if cfg.DebugAddr != "" && !netaddr.Loopback(cfg.DebugAddr) {
		log.Warn("the profiler listens on an address other hosts can reach, without authentication or TLS: give -debug-addr a loopback address", "addr", cfg.DebugAddr)
	}
	var m *metrics.Registry // nil: metrics off
	if cfg.MetricsAddr != "" {
		m = metrics.New()
		if ps, ok := st.(interface {
			Pool() (sqlstore.PoolStats, bool)
		}); ok {
			if _, driverPool := ps.Pool(); driverPool {
				// PostgreSQL: pgx's pool, which database/sql does not see.
				m.WatchPool("arrears", func() metrics.Pool {
					p, _ := ps.Pool()
					return metrics.Pool{Max: p.Max, Open: p.Open, InUse: p.InUse, Idle: p.Idle, Acquires: p.Acquires, Waited: p.Waited, Canceled: p.Canceled, WaitTime: p.WaitTime}
				})
			} else if db, ok := st.(interface{ DB() *sql.DB }); ok {
				m.WatchDB("arrears", db.DB())
			}
		}
		if err := serveMetrics(ctx, cfg.MetricsAddr, m, log); err != nil {
			return err
		}
	}
	api := grpcapi.New(svc, secret, log)
	syncAPI := grpcapi.NewSync(api)
	syncAPI.IdleTimeout = cfg.SyncIdleTimeout
	syncAPI.Metrics = m
	srv, err := server.New(ctx, server.Config{
		GRPCAddr:        cfg.GRPCAddr,
		HTTPAddr:        cfg.HTTPAddr,
		MaxRequestBytes: cfg.MaxRequestBytes,
		ShutdownTimeout: cfg.ShutdownTimeout,
		Metrics:         m,
		CallTimeout:     cfg.CallTimeout,
		SyncIdleTimeout: cfg.SyncIdleTimeout,
		Ready:           st.Ping,
		Authn:           svc,
		RateLimit:       server.RateLimit{PerSecond: cfg.RateLimit, Burst: cfg.RateBurst},
		Clock:           clk,
		TLS:             tlsConf,
		Log:             log,
	}, api, grpcapi.NewAccess(api), grpcapi.NewSupplier(api), syncAPI, grpcapi.NewOversight(api))
	if err != nil {
		return err
	}
	syncAPI.Stopping = srv.Stopping()
	if cfg.DebugAddr != "" {
		if err := serveDebug(ctx, cfg.DebugAddr, log); err != nil {
			return err
		}
	}
	go purgeRequests(ctx, svc, cfg.SyncRetention, m, log)
	go signCheckpoints(ctx, svc, auditKey, cfg.CheckpointEvery, m, log)
	go sweep(ctx, svc, cfg.SweepEvery, m, log)
	if ready != nil {
		ready(srv.GRPCAddr(), srv.HTTPAddr())
	}
	return srv.Serve(ctx)
}

// purgeRequests drops expired idempotency keys, and sync sessions idle past
// their retention, every hour.
func purgeRequests(ctx context.Context, svc *service.Ledger, syncRetention time.Duration, m *metrics.Registry, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		start := time.Now()
		n, err := svc.PurgeRequests(ctx)
		if err != nil {
			log.Warn("purge idempotency keys", "err", err)
		} else if n > 0 {
			log.Info("purged idempotency keys", "count", n)
		}
		if syncRetention > 0 {
			n, serr := svc.PurgeSyncSessions(ctx, syncRetention)
			if serr != nil {
				log.Warn("purge sync sessions", "err", serr)
			} else if n > 0 {
				log.Info("purged sync sessions idle past their retention", "count", n)
			}
			err = errors.Join(err, serr)
		}
		if ctx.Err() == nil {
			m.Job("purge", time.Since(start), err, time.Now())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ensureAdminKey gives a new installation its first administrator key, in a
// file only the owner can read; the key itself never goes to the log.
func ensureAdminKey(ctx context.Context, svc *service.Ledger, path string, log *slog.Logger) error {
	if exists, err := svc.AnyKeys(ctx); err != nil || exists {
		return err
	}
	// The file is made before the key, so that a key is never committed
	// whose token cannot be written (an unwritable directory, a file left
	// by another ledger): it would be the only admin key, and lost.
	f, err := createSecretFile(path)
	if err != nil {
		return fmt.Errorf("the ledger has no API key, and the first admin key's file %s cannot be made (%w); "+
			"remove a file left there by another ledger, or give -admin-key-file", path, err)
	}
	token, err := svc.EnsureAdminKey(ctx)
	if err == nil && token != "" {
		if err = writeSynced(f, token+"\n"); err == nil {
			err = syncDir(filepath.Dir(path))
		}
		if err != nil {
			return fmt.Errorf("write the first admin key to %s: %w", path, err)
		}
		log.Warn("no API keys existed: wrote the first admin key to a file readable only by its owner", "path", path)
		return nil
	}
	// Not made here (another replica made it), or not made at all.
	f.Close()
	os.Remove(path)
	if err != nil {
		return fmt.Errorf("create the first admin key: %w", err)
	}
	return nil
}

// signCheckpoints signs the audit chain heads now and then every interval.
func signCheckpoints(ctx context.Context, svc *service.Ledger, key ed25519.PrivateKey, every time.Duration, m *metrics.Registry, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		start := time.Now()
		// Not within half an interval of another's (a replica's) signing.
		cp, signed, err := svc.SignCheckpoint(ctx, key, every/2)
		if ctx.Err() == nil {
			m.Job("checkpoint", time.Since(start), err, time.Now())
		}
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("sign audit checkpoint", "err", err)
			}
		} else if signed {
			log.Debug("signed audit checkpoint", "chains", cp.ChainCount, "events", cp.EventCount)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sweep records escalation changes as they come due.
// sameAuditKey refuses a signing key other than the one the ledger's
// latest checkpoint was signed with: a replica given the wrong file would
// sign checkpoints that verify with neither key, and serve them to
// regulators. -create-audit-key=true, given, starts a new key on purpose (a
// rotation), with a warning.
func sameAuditKey(ctx context.Context, svc *service.Ledger, cfg config, key ed25519.PrivateKey, log *slog.Logger) error {
	cp, err := svc.LatestCheckpoint(ctx)
	switch {
	case errors.Is(err, ledger.ErrNotFound):
		return nil
	case err != nil:
		return err
	}
	ours := base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))
	if cp.PublicKey == ours {
		return nil
	}
	if cfg.AuditKeyAsked && cfg.CreateAuditKey {
		log.Warn("signing audit checkpoints with a new key: the ledger's earlier checkpoints verify only with the old one; publish the new public key",
			"path", cfg.AuditKeyFile, "public_key", ours, "previous_public_key", cp.PublicKey)
		return nil
	}
	return fmt.Errorf("audit signing key %s (public key %s) is not the key the ledger's latest checkpoint was signed with (%s): give that key's file with -audit-key-file, "+
		"or pass -create-audit-key=true to start signing with this one", cfg.AuditKeyFile, ours, cp.PublicKey)
}

// msSince is the time since start in milliseconds, as the call log gives
// durations (slog writes a time.Duration as nanoseconds).
func msSince(start time.Time) float64 { return float64(time.Since(start).Microseconds()) / 1000 }

func sweep(ctx context.Context, svc *service.Ledger, every time.Duration, m *metrics.Registry, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		start := time.Now()
		n, err := svc.Sweep(ctx)
		if ctx.Err() == nil {
			m.Job("sweep", time.Since(start), err, time.Now())
			m.Swept(n)
		}
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("escalation sweep", "err", err, "duration_ms", msSince(start))
			}
		} else if n > 0 {
			log.Info("escalation sweep", "invoices", n, "duration_ms", msSince(start))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
