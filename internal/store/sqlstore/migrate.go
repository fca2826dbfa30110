package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Migration is one numbered schema step, from a file named NNNN_what.sql.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// LoadMigrations reads the engine's embedded migrations in version order.
func LoadMigrations(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, n := range names {
		num, _, ok := strings.Cut(n, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %q is not named NNNN_what.sql", n)
		}
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: n, SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migrations must be numbered 1, 2, ...: %q is number %d", m.Name, i+1)
		}
	}
	return ms, nil
}

// SchemaVersion is the highest migration applied, 0 for an empty database.
func SchemaVersion(ctx context.Context, db *sql.DB) (int, error) {
	var v sql.NullInt64
	err := db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v)
	if err != nil {
		// No schema_migrations table: nothing was ever applied. Engines
		// word this error differently, so check for the table directly.
		// Only a missing table means nothing was applied: SQLite says "no
		// such table", PostgreSQL and its kin that the relation "does not
		// exist". Any other failure (permissions, a timeout, a lost
		// connection) is the error, not an empty database to migrate from
		// the start.
		if msg := err.Error(); strings.Contains(msg, "no such table") || strings.Contains(msg, "does not exist") {
			return 0, nil
		}
		return 0, err
	}
	return int(v.Int64), nil
}

// Migrate applies every migration above the current version, each in its own
// transaction with its schema_migrations row, and returns the versions applied.
// retryable (nil: none) names the engine's errors of a race between
// transactions: a step that loses one to another migrator's (a deadlock
// between two running the same DDL) is run again, and then waits for the
// other's step to end and finds it applied.
func Migrate(ctx context.Context, db *sql.DB, ms []Migration, now time.Time, retryable func(error) bool) ([]int, error) {
	create := func() error {
		_, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)`)
		return err
	}
	// again runs f, and again after a growing wait while it loses a race
	// with another migrator (retryable), up to maxAttempts; anyFirst takes
	// a first failure of any kind for one.
	again := func(anyFirst bool, f func() error) error {
		err := f()
		for attempt := 1; err != nil && attempt < maxAttempts && (anyFirst && attempt == 1 || retryable != nil && retryable(err)); attempt++ {
			select {
			case <-time.After(time.Duration(attempt*attempt) * 10 * time.Millisecond):
			case <-ctx.Done():
				return ctx.Err()
			}
			err = f()
		}
		return err
	}
	// Two migrators creating the table at once: PostgreSQL's IF NOT EXISTS
	// can still fail the second on the catalog's key; the table is there
	// when it is tried again. SQLite answers a writer that meets another
	// mid-step busy at once, past its busy timeout (the lock it holds to
	// read the schema would deadlock them): tried again after a wait, as
	// a step is.
	if err := again(true, create); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	cur, err := SchemaVersion(ctx, db)
	if err != nil {
		return nil, err
	}
	if cur > len(ms) {
		return nil, fmt.Errorf("database schema is version %d, newer than this binary's %d: upgrade arrearsd", cur, len(ms))
	}
	var applied []int
	for _, m := range ms[cur:] {
		var done bool
		err := again(false, func() (err error) {
			done, err = migrateStep(ctx, db, m, now)
			return err
		})
		if err != nil {
			return applied, err
		}
		if done {
			applied = append(applied, m.Version)
		}
	}
	return applied, nil
}

// migrateStep applies one migration, unless another process applied it
// meanwhile (two processes starting on a database one step behind: a
// server and a command, or replicas). The step's statements run first and
// its schema_migrations row is written last: CockroachDB refuses a schema
// change after a write in the same transaction. A concurrent migrator's
// step then fails on the first's objects or on the version's key, and the
// version read after it says whether the step is done. No lock beyond
// what the statements take is used, so this works on every engine the
// store supports.
func migrateStep(ctx context.Context, db *sql.DB, m Migration, now time.Time) (bool, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	// done reports whether a failed step was another process's to apply.
	done := func() bool {
		_ = tx.Rollback()
		v, verr := SchemaVersion(ctx, db)
		return verr == nil && v >= m.Version
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		if done() {
			return false, nil
		}
		return false, fmt.Errorf("migration %s: %w", m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
		m.Version, m.Name, now.Unix()); err != nil {
		if done() {
			return false, nil
		}
		return false, fmt.Errorf("record migration %s: %w", m.Name, err)
	}
	if err := tx.Commit(); err != nil {
		if done() {
			return false, nil
		}
		return false, fmt.Errorf("commit migration %s: %w", m.Name, err)
	}
	return true, nil
}

// CheckVersion refuses a schema that is not exactly the binary's: an
// unmigrated database would fail on first use, a newer one may hold data
// this binary does not understand.
func CheckVersion(ctx context.Context, db *sql.DB, ms []Migration) error {
	cur, err := SchemaVersion(ctx, db)
	if err != nil {
		return err
	}
	switch {
	case cur < len(ms):
		return fmt.Errorf("database schema is version %d, this binary needs %d: run `arrearsd migrate` first", cur, len(ms))
	case cur > len(ms):
		return fmt.Errorf("database schema is version %d, newer than this binary's %d: upgrade arrearsd", cur, len(ms))
	}
	return nil
}
