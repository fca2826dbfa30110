// Package sqlstore implements the store contract once, in SQL that both
// PostgreSQL (through pgx) and SQLite (modernc.org/sqlite) accept: $n
// placeholders, ON CONFLICT, keyset pagination on UUID keys. The few real
// differences — how a timestamp is stored, row locking, how a driver reports
// a unique violation or a lost race — are a Dialect supplied by each engine.
//
// The SQL stays within what CockroachDB, YugabyteDB and Citus accept: no
// advisory locks, no LISTEN/NOTIFY, no sequences on the data path.
package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/store"
)

// Dialect is what differs between engines.
type Dialect struct {
	// Name is "postgres" or "sqlite", for logs.
	Name string
	// ForUpdate is appended to a SELECT that must lock the row it reads
	// (empty where the engine serializes writers anyway).
	ForUpdate string
	// ForShare is appended to a SELECT that must keep the row it reads
	// from changing, sharing the lock with other such readers.
	ForShare string
	// Timestamp converts an instant to the value the engine stores.
	Timestamp func(time.Time) any
	// ID converts an id to the value the driver binds best: pgx takes the
	// 16 bytes as they are, SQLite stores the text. Bulk writes bind
	// several ids per row, and formatting each to text for pgx to parse
	// back was a tenth of a sync's CPU.
	ID func(uuid.UUID) any
	// UniqueViolation reports whether err is a unique-key violation, and of
	// which constraint or index.
	UniqueViolation func(err error) (constraint string, ok bool)
	// Retryable reports whether err means the transaction lost a race and
	// may succeed if run again (serialization failure, deadlock, busy).
	Retryable func(err error) bool
	// Unavailable reports whether err means the database cannot be reached.
	Unavailable func(err error) bool
	// OutOfRange reports whether err is an integer result past the int64
	// range (a SUM of bigints).
	OutOfRange func(err error) bool
	// TimedOut reports whether err is a statement the database ended at
	// its own time limit (nil: the engine has none). The call answers
	// DEADLINE_EXCEEDED, as one past its own deadline does: not retried
	// as unavailable (it would run as long again), nor internal.
	TimedOut func(err error) bool
	// CacheStatements prepares each statement once per handle, for drivers
	// that do not (pgx caches its own).
	CacheStatements bool
	// CopyFrom bulk-loads rows into a table inside the transaction open on
	// conn (PostgreSQL's COPY); nil where the engine loads row by row.
	CopyFrom func(ctx context.Context, conn *sql.Conn, table string, cols []string, rows [][]any) error
	// TextArrays says the driver binds a []string as one array parameter
	// (PostgreSQL's text[]): a lookup of many keys is then one statement
	// with one plan, "= ANY($n)", instead of a list of placeholders whose
	// cached generic plan may scan the table.
	TextArrays bool
	// ConcurrentWriters says write transactions run side by side rather
	// than one at a time.
	ConcurrentWriters bool
	// TxOptions begin every read-write transaction (nil: the engine's
	// default). PostgreSQL asks for READ COMMITTED explicitly: the sync
	// pipeline re-reads, within its transaction, what the chunk before
	// committed (the session, the audit chain's head), which a snapshot
	// level (a changed default_transaction_isolation, or CockroachDB's
	// SERIALIZABLE) would hide, turning each pipelined chunk into a retry.
	TxOptions *sql.TxOptions
	// SnapshotTxOptions begin a read-only transaction that sees one
	// snapshot throughout (SnapshotRead): REPEATABLE READ on PostgreSQL;
	// on SQLite in WAL mode, any read transaction (begun deferred, not
	// IMMEDIATE, so it takes no write lock).
	SnapshotTxOptions *sql.TxOptions
}

// Store implements store.Store over a database/sql handle.
type Store struct {
	db      *sql.DB
	dialect Dialect
	log     *slog.Logger
	// closers run after the handle is closed (e.g. the pgx pool beneath it).
	closers []func()
	cache   *stmtCache // nil unless the dialect asks for it
	// pool reads the figures of a connection pool beneath the handle, nil
	// where database/sql's own are the pool's (SetPool).
	pool func() PoolStats
}

// PoolStats are a connection pool's figures, where the pool is the
// driver's (pgx's) and database/sql keeps no connections of its own: its
// DBStats then see none of the waiting.
type PoolStats struct {
	Max, Open, InUse, Idle int64
	// Acquires counts connections taken; Waited those that found none
	// idle, Canceled those given up; WaitTime is the time spent taking
	// them.
	Acquires, Waited, Canceled int64
	WaitTime                   time.Duration
}

// SetPool names the reader of the pool beneath the handle.
func (s *Store) SetPool(stats func() PoolStats) { s.pool = stats }

// Pool reads the figures of the pool beneath the handle; false where
// database/sql's DBStats are the pool's.
func (s *Store) Pool() (PoolStats, bool) {
	if s.pool == nil {
		return PoolStats{}, false
	}
	return s.pool(), true
}

// New wraps an open, migrated database.
func New(db *sql.DB, d Dialect, log *slog.Logger, closers ...func()) *Store {
	s := &Store{db: db, dialect: d, log: log, closers: closers}
	if d.CacheStatements {
		s.cache = newStmtCache(db)
	}
	return s
}

// DB exposes the handle for engine-specific work (migrations, bulk loads).
func (s *Store) DB() *sql.DB { return s.db }

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error { return s.wrap("ping", s.db.PingContext(ctx)) }

// Close closes the handle and whatever the engine opened beneath it.
func (s *Store) Close() error {
	if s.cache != nil {
		s.cache.close()
	}
	err := s.db.Close()
	for _, c := range s.closers {
		c()
	}
	return err
}

// SnapshotRead implements store.Store.
func (s *Store) SnapshotRead(ctx context.Context, f func(ctx context.Context, r store.Reader) error) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return s.wrap("connect", err)
	}
	defer conn.Close()
	sqlTx, err := conn.BeginTx(ctx, s.dialect.SnapshotTxOptions)
	if err != nil {
		return s.wrap("begin", err)
	}
	defer func() { _ = sqlTx.Rollback() }()
	return f(ctx, reader{q: sqlTx, s: s})
}

// maxAttempts bounds how often ReadWriteTx reruns a transaction that lost a
// race; beyond that the conflict is returned (the API answers ABORTED).
const maxAttempts = 8

// MaxTxDuration bounds a read-write transaction, retries included. The
// change feed relies on it: an event becomes visible in the feed only once
// it is older than this (plus a margin), so no transaction still open can
// commit an event behind a cursor already handed out.
const MaxTxDuration = 30 * time.Second

// ConcurrentWriters implements store.Store.
func (s *Store) ConcurrentWriters() bool { return s.dialect.ConcurrentWriters }

// ReadWriteTx implements store.Store.
func (s *Store) ReadWriteTx(ctx context.Context, f func(ctx context.Context, tx store.Tx) error) error {
	ctx, cancel := context.WithTimeout(ctx, MaxTxDuration)
	defer cancel()
	var err error
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		err = s.runTx(ctx, f)
		if err == nil || !s.shouldRetry(err) || ctx.Err() != nil {
			break
		}
		// Back off a little, growing with each attempt, so racing writers
		// spread out instead of colliding again.
		select {
		case <-time.After(time.Duration(attempt*attempt) * time.Millisecond):
		case <-ctx.Done():
		}
		if before := store.BeforeRetry(ctx); before != nil && ctx.Err() == nil && attempt < maxAttempts {
			if err = before(ctx); err != nil {
				return err
			}
		}
	}
	if err != nil && s.shouldRetry(err) && !errors.Is(err, ledger.ErrConflict) {
		// An engine-level race (serialization failure, busy) that never
		// resolved: report it as the conflict it is.
		return fmt.Errorf("%w: transaction lost %d races: %v", ledger.ErrConflict, maxAttempts, err)
	}
	return err
}

func (s *Store) shouldRetry(err error) bool {
	return errors.Is(err, ledger.ErrConflict) || s.dialect.Retryable(err)
}

func (s *Store) runTx(ctx context.Context, f func(ctx context.Context, tx store.Tx) error) (err error) {
	// A dedicated connection, so that bulk writes can reach the driver
	// (COPY) inside the same transaction.
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return s.wrap("connect", err)
	}
	defer conn.Close()
	sqlTx, err := conn.BeginTx(ctx, s.dialect.TxOptions)
	if err != nil {
		return s.wrap("begin", err)
	}
	// Rolled back unless committed: on an error, and on a panic in f,
	// which would otherwise leave the transaction open (its locks held)
	// while conn.Close waits for it.
	committed := false
	defer func() {
		if !committed {
			_ = sqlTx.Rollback()
		}
	}()
	var q querier = sqlTx
	if s.cache != nil {
		q = cachedTx{tx: sqlTx, cache: s.cache}
	}
	t := &tx{reader: reader{q: q, s: s}, sqlTx: sqlTx, w: q, conn: conn}
	if err = f(ctx, t); err != nil {
		return err
	}
	if err = t.flushEvents(ctx); err != nil {
		return err
	}
	if err = t.flushNodes(ctx); err != nil {
		return err
	}
	committed = true // Commit ends the transaction either way
	if err = sqlTx.Commit(); err != nil {
		if errors.Is(err, sql.ErrTxDone) && ctx.Err() != nil {
			// The context ended after the last statement: database/sql
			// rolled the transaction back, and the cause is the context's.
			return ctx.Err()
		}
		return s.wrap("commit", err)
	}
	return nil
}

// wrap classifies a driver error: retryable races and unreachable databases
// become sentinels; everything else keeps its detail for the server log and
// is reported to clients as internal.
func (s *Store) wrap(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return ledger.ErrNotFound
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case s.dialect.Retryable(err):
		return fmt.Errorf("%s: %w: %v", op, ledger.ErrConflict, err)
	case s.dialect.Unavailable(err):
		return fmt.Errorf("%s: %w: %v", op, ledger.ErrUnavailable, err)
	case s.dialect.TimedOut != nil && s.dialect.TimedOut(err):
		return fmt.Errorf("%s: %w: %v", op, context.DeadlineExceeded, err)
	}
	return fmt.Errorf("%s %s: %w", s.dialect.Name, op, err)
}

// Secret implements store.Store.
func (s *Store) Secret(ctx context.Context, name string) ([]byte, error) {
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	// Insert-if-absent then read: two replicas starting together agree on
	// whichever value landed first.
	if _, err := s.db.ExecContext(ctx, `INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, name, fresh); err != nil {
		return nil, s.wrap("insert secret", err)
	}
	var v []byte
	if err := s.db.QueryRowContext(ctx, `SELECT value FROM secrets WHERE name = $1`, name).Scan(&v); err != nil {
		return nil, s.wrap("read secret", err)
	}
	return v, nil
}

// PurgeRequests implements store.Store.
func (s *Store) PurgeRequests(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM requests WHERE create_time < $1`, s.dialect.Timestamp(cutoff))
	if err != nil {
		return 0, s.wrap("purge requests", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// querier is what reads need: the handle itself or an open transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// tsScan reads a timestamp stored by either engine: a time.Time from
// PostgreSQL, Unix microseconds from SQLite.
type tsScan struct{ t *time.Time }

func (d tsScan) Scan(src any) error {
	switch v := src.(type) {
	case time.Time:
		*d.t = v.UTC()
	case int64:
		*d.t = time.UnixMicro(v).UTC()
	default:
		return fmt.Errorf("sqlstore: cannot scan %T as a timestamp", src)
	}
	return nil
}

// nullString stores "" as NULL where a column is optional.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}
