// Package postgres is the production store: PostgreSQL through a pgx v5
// pool. Its schema is changed only by an explicit `arrearsd migrate`; Open
// refuses a database whose schema is not exactly this binary's.
package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/arrears/arrears/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the embedded schema steps.
func Migrations() ([]sqlstore.Migration, error) {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	return sqlstore.LoadMigrations(sub)
}

// Dialect is PostgreSQL's flavour of the shared SQL. Open adds CopyFrom,
// the bulk load, with a copier of its own.
var Dialect = sqlstore.Dialect{
	Name: "postgres",
	// NO KEY: rows are never re-keyed or deleted, and a plain FOR UPDATE
	// would also hold off foreign-key checks of rows referring to the one
	// locked (an escalation event of an invoice a payment holds), a wait
	// that closed a deadlock with the sweeper.
	ForUpdate:         " FOR NO KEY UPDATE",
	ForShare:          " FOR SHARE",
	Timestamp:         func(t time.Time) any { return t.UTC() },
	ID:                func(id uuid.UUID) any { return pgtype.UUID{Bytes: id, Valid: true} },
	ConcurrentWriters: true,
	TextArrays:        true,
	TxOptions:         &sql.TxOptions{Isolation: sql.LevelReadCommitted},
	SnapshotTxOptions: &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true},
	UniqueViolation: func(err error) (string, bool) {
		var e *pgconn.PgError
		if errors.As(err, &e) && e.Code == "23505" {
			return e.ConstraintName, true
		}
		return "", false
	},
	Retryable: func(err error) bool {
		var e *pgconn.PgError
		// serialization_failure, deadlock_detected, lock_not_available (a
		// lock_timeout the operator set: the lock was held, as in a race)
		return errors.As(err, &e) && (e.Code == "40001" || e.Code == "40P01" || e.Code == "55P03")
	},
	OutOfRange: func(err error) bool {
		var e *pgconn.PgError
		return errors.As(err, &e) && e.Code == "22003" // numeric_value_out_of_range
	},
	TimedOut: func(err error) bool {
		var e *pgconn.PgError
		return errors.As(err, &e) && e.Code == "57014" // query_canceled: statement_timeout
	},
	Unavailable: func(err error) bool {
		var e *pgconn.PgError
		if errors.As(err, &e) {
			// Class 08 connection exceptions, 53 insufficient resources,
			// 57P0x operator intervention (shutdown, cannot connect now,
			// database dropped), and 25006 a write on a read-only server
			// (after a failover, the address reaching a standby): the
			// database cannot serve the call now, which is no fault of the
			// call. Not 57014, a statement past its statement_timeout: the
			// same call would run as long again.
			return e.Code[:2] == "08" || e.Code[:2] == "53" || e.Code == "57P01" || e.Code == "57P02" || e.Code == "57P03" ||
				e.Code == "57P04" || e.Code == "25006"
		}
		// A connection lost mid-statement (the server killed or
		// crashed, a failover) ends the read with an EOF, or leaves
		// database/sql a bad connection: no fault of the call either.
		// They were answered as internal errors, and clients that resume
		// on UNAVAILABLE gave up.
		var ne net.Error
		var ce *pgconn.ConnectError
		return errors.As(err, &ne) || errors.As(err, &ce) || pgconn.SafeToRetry(err) ||
			errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, driver.ErrBadConn)
	},
}

// openDB opens a pool and a database/sql face over it.
func openDB(ctx context.Context, url string) (*pgxpool.Pool, *sql.DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, nil, fmt.Errorf("invalid PostgreSQL URL%s", urlProblem(err))
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, nil, fmt.Errorf("connect to PostgreSQL at %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	return pool, stdlib.OpenDBFromPool(pool), nil
}

// urlProblem is what pgx found wrong with a connection string, without
// the string: pgx quotes it, password masked, before a "`: " and the
// reason ("cannot parse pool_max_conns ..."). Without that shape, nothing
// is said: the string is not repeated.
func urlProblem(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, "`: "); i >= 0 && strings.HasPrefix(msg, "cannot parse `") {
		return ": " + msg[i+len("`: "):]
	}
	return ""
}

// Migrate applies the pending migrations and returns their versions.
func Migrate(ctx context.Context, url string, now time.Time) ([]int, error) {
	pool, db, err := openDB(ctx, url)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	defer db.Close()
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	return sqlstore.Migrate(ctx, db, ms, now, Dialect.Retryable)
}

// Open connects to a migrated database.
func Open(ctx context.Context, url string, log *slog.Logger) (*sqlstore.Store, error) {
	pool, db, err := openDB(ctx, url)
	if err != nil {
		return nil, err
	}
	ms, err := Migrations()
	if err == nil {
		err = sqlstore.CheckVersion(ctx, db, ms)
	}
	if err != nil {
		db.Close()
		pool.Close()
		return nil, err
	}
	// Each store its own copier: the column types it remembers are those
	// of the schema version just checked.
	d := Dialect
	d.CopyFrom = newCopier().copyFrom
	st := sqlstore.New(db, d, log, pool.Close)
	// database/sql over pgx's pool keeps no connections of its own: the
	// pool's figures are pgx's.
	st.SetPool(func() sqlstore.PoolStats {
		ps := pool.Stat()
		return sqlstore.PoolStats{Max: int64(ps.MaxConns()), Open: int64(ps.TotalConns()), InUse: int64(ps.AcquiredConns()), Idle: int64(ps.IdleConns()),
			Acquires: ps.AcquireCount(), Waited: ps.EmptyAcquireCount(), Canceled: ps.CanceledAcquireCount(), WaitTime: ps.AcquireDuration()}
	})
	return st, nil
}
