// Package sqlite is the embedded store: one file, no server, no cgo
// (modernc.org/sqlite). It is the zero-setup default, so it migrates its
// schema itself when it opens a file.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

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

// Dialect is SQLite's flavour of the shared SQL.
var Dialect = sqlstore.Dialect{
	Name: "sqlite",
	// Transactions begin IMMEDIATE (see Open), so writers are serialized
	// and a read inside a write transaction is already protected.
	ForUpdate:       "",
	ForShare:        "",
	Timestamp:       func(t time.Time) any { return t.UTC().UnixMicro() },
	ID:              func(id uuid.UUID) any { return id.String() },
	CacheStatements: true,
	UniqueViolation: func(err error) (string, bool) {
		var e *sqlite.Error
		if errors.As(err, &e) && (e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY) {
			// The message names the columns: "UNIQUE constraint failed: t.a, t.b".
			_, cols, _ := strings.Cut(e.Error(), "failed: ")
			return strings.TrimSuffix(cols, ")"), true
		}
		return "", false
	},
	Retryable: func(err error) bool {
		var e *sqlite.Error
		return errors.As(err, &e) && (e.Code()&0xff == sqlite3.SQLITE_BUSY || e.Code()&0xff == sqlite3.SQLITE_LOCKED)
	},
	Unavailable: func(err error) bool {
		var e *sqlite.Error
		return errors.As(err, &e) && (e.Code()&0xff == sqlite3.SQLITE_CANTOPEN || e.Code()&0xff == sqlite3.SQLITE_IOERR || e.Code()&0xff == sqlite3.SQLITE_FULL)
	},
}

// Open opens (creating if needed) the database file at path, brings its
// schema up to date and returns the store.
func Open(ctx context.Context, path string, log *slog.Logger, now time.Time) (*sqlstore.Store, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create data directory: %w", err)
		}
	}
	q := url.Values{}
	// WAL lets readers run beside the single writer; busy_timeout makes a
	// writer wait for the lock instead of failing; IMMEDIATE transactions
	// take the write lock at BEGIN, so two read-then-write transactions
	// cannot deadlock on lock upgrade.
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "foreign_keys(ON)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	ms, err := Migrations()
	if err != nil {
		db.Close()
		return nil, err
	}
	if _, err := sqlstore.Migrate(ctx, db, ms, now); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	return sqlstore.New(db, Dialect, log), nil
}
