// Package postgres is the production store: PostgreSQL through a pgx v5
// pool. Its schema is changed only by an explicit `arrearsd migrate`; Open
// refuses a database whose schema is not exactly this binary's.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/arrears/arrears/internal/civil"
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

// Dialect is PostgreSQL's flavour of the shared SQL.
var Dialect = sqlstore.Dialect{
	Name:              "postgres",
	ForUpdate:         " FOR UPDATE",
	ForShare:          " FOR SHARE",
	Timestamp:         func(t time.Time) any { return t.UTC() },
	ID:                func(id uuid.UUID) any { return pgtype.UUID{Bytes: id, Valid: true} },
	CopyFrom:          copyFrom,
	ConcurrentWriters: true,
	TextArrays:        true,
	UniqueViolation: func(err error) (string, bool) {
		var e *pgconn.PgError
		if errors.As(err, &e) && e.Code == "23505" {
			return e.ConstraintName, true
		}
		return "", false
	},
	Retryable: func(err error) bool {
		var e *pgconn.PgError
		// serialization_failure, deadlock_detected
		return errors.As(err, &e) && (e.Code == "40001" || e.Code == "40P01")
	},
	Unavailable: func(err error) bool {
		var e *pgconn.PgError
		if errors.As(err, &e) {
			// Class 08 connection exceptions, 53 insufficient resources,
			// 57P0x operator intervention (shutdown, cannot connect now).
			return e.Code[:2] == "08" || e.Code[:2] == "53" || e.Code == "57P01" || e.Code == "57P02" || e.Code == "57P03"
		}
		var ne net.Error
		var ce *pgconn.ConnectError
		return errors.As(err, &ne) || errors.As(err, &ce) || pgconn.SafeToRetry(err)
	},
}

// openDB opens a pool and a database/sql face over it.
func openDB(ctx context.Context, url string) (*pgxpool.Pool, *sql.DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parse error can quote the URL, password included.
		return nil, nil, errors.New("invalid PostgreSQL URL")
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
	return sqlstore.Migrate(ctx, db, ms, now)
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
	return sqlstore.New(db, Dialect, log, pool.Close), nil
}

// copyFrom runs COPY on the pgx connection beneath conn, inside the
// transaction open on it. Values arrive as the shared SQL passes them (ids
// and dates as text); COPY's binary format is much faster given native
// values, so ids become UUIDs and civil dates times.
func copyFrom(ctx context.Context, conn *sql.Conn, table string, cols []string, rows [][]any) error {
	idCol := make([]bool, len(cols))
	for i, c := range cols {
		idCol[i] = c == "id" || strings.HasSuffix(c, "_id")
	}
	for _, row := range rows {
		for i, v := range row {
			switch x := v.(type) {
			case civil.Date:
				if x.IsZero() {
					row[i] = nil
				} else {
					row[i] = time.Date(x.Year, x.Month, x.Day, 0, 0, 0, 0, time.UTC)
				}
			case uuid.UUID:
				row[i] = pgtype.UUID{Bytes: x, Valid: true}
			case string:
				if idCol[i] && len(x) == 36 {
					if id, err := uuid.Parse(x); err == nil {
						// pgtype.UUID, not uuid.UUID: pgx encodes a
						// driver.Valuer through its text form, then
						// fails, then parses it again.
						row[i] = pgtype.UUID{Bytes: id, Valid: true}
					}
				}
			}
		}
	}
	return conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("COPY needs a pgx connection, got %T", dc)
		}
		_, err := c.Conn().CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows))
		return err
	})
}
