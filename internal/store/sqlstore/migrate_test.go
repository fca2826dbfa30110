package sqlstore

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the embedded engine, a real file
)

// TestMigrationRowFollowsItsStatements: a step's statements run before its
// schema_migrations row is written, in one transaction: CockroachDB refuses
// a schema change after a write in the same transaction. The step itself
// records what it saw of its own row: nothing.
func TestMigrationRowFollowsItsStatements(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ms := []Migration{
		{Version: 1, Name: "0001_first", SQL: `CREATE TABLE first (x integer)`},
		{Version: 2, Name: "0002_seen", SQL: `CREATE TABLE seen AS SELECT count(*) AS own FROM schema_migrations WHERE version = 2`},
	}
	applied, err := Migrate(context.Background(), db, ms, time.Unix(0, 0), nil)
	if err != nil || len(applied) != 2 {
		t.Fatalf("migrate: %v, %v", applied, err)
	}
	var own int
	if err := db.QueryRow(`SELECT own FROM seen`).Scan(&own); err != nil {
		t.Fatal(err)
	}
	if own != 0 {
		t.Errorf("the step saw %d rows of its own version: its row was written before its statements", own)
	}
	if v, err := SchemaVersion(context.Background(), db); err != nil || v != 2 {
		t.Errorf("schema version %d, %v; want 2", v, err)
	}
	// A failing step leaves neither its objects nor its row.
	ms = append(ms, Migration{Version: 3, Name: "0003_bad", SQL: `CREATE TABLE third (x integer); INSERT INTO nowhere VALUES (1)`})
	if _, err := Migrate(context.Background(), db, ms, time.Unix(0, 0), nil); err == nil {
		t.Fatal("a failing migration reported applied")
	}
	if v, _ := SchemaVersion(context.Background(), db); v != 2 {
		t.Errorf("after a failed step the schema is version %d, want 2", v)
	}
	if err := db.QueryRow(`SELECT count(*) FROM third`).Scan(new(int)); err == nil {
		t.Error("a failed step left its table behind")
	}
}
