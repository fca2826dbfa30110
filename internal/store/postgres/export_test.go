package postgres

import (
	"context"
	"database/sql"
)

// Hooks for copy_test.go, which lives in package postgres_test because
// pgtest imports this package.
var (
	EncodeCopy = encodeCopy
	PgxCopy    = pgxCopy
)

// NewCopyFrom returns the bulk load of a new copier.
var NewCopyFrom = func() func(ctx context.Context, conn *sql.Conn, table string, cols []string, rows [][]any) error {
	return newCopier().copyFrom
}
