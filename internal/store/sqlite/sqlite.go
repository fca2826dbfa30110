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
	"sync"
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
	// A read-only transaction begins deferred, a snapshot from its first
	// read that takes no write lock.
	SnapshotTxOptions: &sql.TxOptions{ReadOnly: true},
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
	OutOfRange: func(err error) bool {
		// SUM's own error, which has no code of its own.
		var e *sqlite.Error
		return errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_ERROR && strings.Contains(e.Error(), "integer overflow")
	},
	Unavailable: func(err error) bool {
		var e *sqlite.Error
		// READONLY: the file or its file system turned read-only (a disk
		// remounted after an I/O error), or the file was replaced.
		return errors.As(err, &e) && (e.Code()&0xff == sqlite3.SQLITE_CANTOPEN || e.Code()&0xff == sqlite3.SQLITE_IOERR ||
			e.Code()&0xff == sqlite3.SQLITE_FULL || e.Code()&0xff == sqlite3.SQLITE_READONLY)
	},
}

// Open opens (creating if needed) the database file at path, brings its
// schema up to date and returns the store.
func Open(ctx context.Context, path string, log *slog.Logger, now time.Time) (*sqlstore.Store, error) {
	return open(ctx, path, log, now, true)
}

// OpenCurrent opens the database file at path as it is, refusing one whose
// schema is not this binary's, as the PostgreSQL store does: an operator's
// command (a key listed, an audit verified) run with a newer binary must
// not migrate a ledger an older server still serves, which could then not
// start again.
func OpenCurrent(ctx context.Context, path string, log *slog.Logger) (*sqlstore.Store, error) {
	return open(ctx, path, log, time.Time{}, false)
}

func open(ctx context.Context, path string, log *slog.Logger, now time.Time, migrate bool) (*sqlstore.Store, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create data directory: %w", err)
		}
	}
	// The ledger is for its owner alone: SQLite would create the file (and
	// its -wal and -shm, which take the file's mode) readable by all, and a
	// data directory made beforehand need not be private.
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	f.Close()
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("the database file is readable or writable by other users; chmod 600 it", "path", path, "mode", fi.Mode().Perm().String())
	}
	q := url.Values{}
	// WAL lets readers run beside the single writer; busy_timeout makes a
	// writer wait for the lock instead of failing; IMMEDIATE transactions
	// take the write lock at BEGIN, so two read-then-write transactions
	// cannot deadlock on lock upgrade. The WAL is copied back into the
	// database by checkpointer, beside the writer; the committing
	// connection does so itself only past walSafetyPages. Once a write
	// restarts the WAL from its start, the file is cut back to
	// walKeepBytes.
	// case_sensitive_like makes LIKE (prefix filters, regulators' region
	// scopes) compare as PostgreSQL's does: SQLite's folds ASCII case.
	// synchronous FULL syncs the WAL at every commit: a change the API
	// acknowledged (a sync's acknowledged sequence among them) survives a
	// power cut or an operating system crash, not only a crash of arrearsd,
	// as NORMAL's would.
	// temp_store MEMORY keeps statement journals (what undoes one
	// statement inside a transaction, as a bulk INSERT of 32 rows that
	// fails a constraint half way) in memory: on file, each page of them
	// took two write calls, 15% of the server's CPU in a bulk sync of new
	// invoices. It holds temporary sorts and groupings in memory too; the
	// store's queries sort only pages and lists of ids, so those stay
	// small.
	pragmas := []string{"journal_mode(WAL)", "busy_timeout(10000)", "foreign_keys(ON)", "synchronous(FULL)", "case_sensitive_like(ON)", "temp_store(MEMORY)",
		fmt.Sprintf("wal_autocheckpoint(%d)", walSafetyPages), fmt.Sprintf("journal_size_limit(%d)", walKeepBytes)}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	// The name is a URI to SQLite: escaped, so a "#", "?" or "%41" in the
	// data directory's name is part of the path, as the file made above
	// is, not the URI's fragment or an escape (the ledger went elsewhere).
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	ms, err := Migrations()
	if err != nil {
		db.Close()
		return nil, err
	}
	if migrate {
		applied, err := sqlstore.Migrate(ctx, db, ms, now, Dialect.Retryable)
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("migrate %s: %w", path, err)
		}
		if len(applied) > 0 {
			// What an upgrade did, as `arrearsd migrate` says it on
			// PostgreSQL; nothing on an open that found it current.
			log.Info("migrated the embedded store", "path", path, "applied", applied)
		}
	} else if err := sqlstore.CheckVersion(ctx, db, ms); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	stop := checkpointer(db, log)
	return sqlstore.New(db, Dialect, log, stop), nil
}

// walSafetyPages is the WAL's size, in pages, past which the committing
// connection checkpoints it itself. SQLite starts the WAL over only when a
// write finds every frame copied back and no reader on an older snapshot,
// which a writer committing back to back rarely lets happen: under a
// steady bulk load the WAL grows to about this size (64 MB) before that
// checkpoint resets it. Idle or lightly written, the checkpointer copies
// it back within a second and the next write starts it over.
const walSafetyPages = 16384

// walKeepBytes is what the WAL file is cut back to when it starts over
// (SQLite's own checkpoint interval, 1,000 pages).
const walKeepBytes = 1000 * 4096

// checkpointInterval is how often the checkpointer copies the WAL back.
const checkpointInterval = time.Second

// checkpointer copies the WAL back into the database every
// checkpointInterval, on a pooled connection other than the writer's,
// without waiting for readers or the writer (PASSIVE: a checkpoint that
// meets another is reported busy, not failed). SQLite's own automatic
// checkpoint runs in the connection whose commit fills the WAL, inside the
// write: in a bulk sync that was a tenth of the writer's CPU, and its
// fsyncs were waited for by the one writer while the machine's other core
// stood idle. The returned function stops it and waits for it; the store
// calls it once the handle is closed (a tick in between finds the handle
// closed and ends), and again on a second Close, harmlessly.
func checkpointer(db *sql.DB, log *slog.Logger) func() {
	done := make(chan struct{})
	stopped := make(chan struct{})
	var once sync.Once
	go func() {
		defer close(stopped)
		t := time.NewTicker(checkpointInterval)
		defer t.Stop()
		// A failure is logged when it begins, then once a minute while
		// it lasts, and its end once: a full disk made it a line a second.
		var failing string
		var since time.Time
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			_, err := db.Exec("PRAGMA wal_checkpoint(PASSIVE)")
			switch {
			case err != nil && (errors.Is(err, sql.ErrConnDone) || strings.Contains(err.Error(), "database is closed")):
				return
			case err != nil && (err.Error() != failing || time.Since(since) >= time.Minute):
				log.Warn("sqlite checkpoint", "err", err)
				failing, since = err.Error(), time.Now()
			case err == nil && failing != "":
				log.Info("sqlite checkpoint works again")
				failing = ""
			}
		}
	}()
	return func() {
		once.Do(func() { close(done) })
		<-stopped
	}
}
