package postgres

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// WaitForServer connects to the server url names, and keeps trying for up
// to limit while the failure is one a server not up yet gives: nothing
// listening, a name not resolving yet, a connection closed during the
// handshake, "the database system is starting up", too many connections.
// A server that answers with a refusal of its own (a wrong password, no
// such database, a certificate that does not verify) ends the wait at once:
// waiting would not change the answer.
//
// Why wait at all: a service started beside its database (docker compose,
// a host's boot, a failover) commonly comes up first, and exiting at once
// left it to whatever restarts it, with a log of failures for a database
// that was merely slow to start.
func WaitForServer(ctx context.Context, url string, limit time.Duration, log *slog.Logger) error {
	// Parsed as the pool parses it: a plain connection's parser would send
	// the pool's own settings (pool_max_conns) to the server as run-time
	// parameters, which it refuses.
	pcfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return fmt.Errorf("invalid PostgreSQL URL%s", urlProblem(err))
	}
	cfg := &pcfg.ConnConfig.Config
	where := fmt.Sprintf("%s:%d", cfg.Host, cfg.Port)
	deadline := time.Now().Add(limit)
	pause := 250 * time.Millisecond
	var logged time.Time
	for {
		// Each try ends by the deadline: a dial to an address that
		// drops packets would otherwise wait out the system's own
		// connect timeout, minutes past the limit.
		try, cancel := context.WithDeadline(ctx, deadline)
		conn, err := pgconn.ConnectConfig(try, cfg)
		cancel()
		if err == nil {
			if !logged.IsZero() {
				log.Info("PostgreSQL is up", "server", where)
			}
			return conn.Close(ctx)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !notUpYet(err) {
			return fmt.Errorf("connect to PostgreSQL at %s: %w", where, err)
		}
		left := time.Until(deadline)
		if left <= pause/2 {
			// Too little time for another try to mean anything: one cut
			// short by the deadline would name its timeout, not the
			// failure seen.
			return fmt.Errorf("PostgreSQL at %s not reachable after %s: %w", where, limit, err)
		}
		if now := time.Now(); now.Sub(logged) >= 10*time.Second {
			log.Warn("PostgreSQL not reachable yet; waiting", "server", where, "until", deadline.UTC().Format(time.RFC3339), "err", err)
			logged = now
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(pause, left-pause/2)):
		}
		pause = min(2*pause, 5*time.Second)
	}
}

// notUpYet says a connection failed as it does to a server that is not
// (yet) up, rather than to one that refused the connection for a reason
// waiting does not change: a certificate that does not verify, a server
// that does not speak TLS, a refused password fail the same way on every
// try.
func notUpYet(err error) bool {
	var certErr *tls.CertificateVerificationError
	var recordErr tls.RecordHeaderError
	if errors.As(err, &certErr) || errors.As(err, &recordErr) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Only the server's own "not now" answers: an operator's or a
		// crash's shutdown, a server starting up or in recovery, too many
		// connections, a connection failure. A wrong password (28P01),
		// no such database (3D000), or a protocol violation (08P01, which
		// PgBouncer sends for an unknown database or user) is the same
		// answer later.
		switch pe.Code {
		case "57P01", "57P02", "57P03", "53300", "08000", "08001", "08006":
			return true
		}
		return false
	}
	// Nothing listening, no route, a name not resolving yet (a
	// container not started), or the connection closed in the handshake.
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}
