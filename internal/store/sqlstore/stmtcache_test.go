package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	_ "modernc.org/sqlite"
)

// TestStmtCacheKeepsTheRecentlyUsed: past maxStatements the cache drops
// the least recently used, so a statement first run once it is full (a bulk
// sync after hours of varied list queries) is still prepared and reused;
// one dropped while a transaction holds it still runs there.
func TestStmtCacheKeepsTheRecentlyUsed(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "cache.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c := newStmtCache(db)
	defer c.close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	held := tx.StmtContext(ctx, c.get(ctx, "SELECT 'held'"))
	for i := range maxStatements + 100 {
		if c.get(ctx, fmt.Sprintf("SELECT %d", i)) == nil {
			t.Fatalf("statement %d not prepared", i)
		}
	}
	hot := c.get(ctx, "SELECT 'hot'")
	if hot == nil || c.get(ctx, "SELECT 'hot'") != hot {
		t.Fatal("a statement first run once the cache is full is not kept")
	}
	for i := range maxStatements {
		c.get(ctx, fmt.Sprintf("SELECT %d", 1000+i))
		if i%100 == 0 && c.get(ctx, "SELECT 'hot'") != hot {
			t.Fatalf("the statement in use was dropped after %d others", i)
		}
	}
	if len(c.stmts) != maxStatements {
		t.Errorf("%d statements kept, want %d", len(c.stmts), maxStatements)
	}
	if _, ok := c.stmts["SELECT 0"]; ok {
		t.Error("the least recently used statement is still kept")
	}
	var got string
	if err := held.QueryRowContext(ctx).Scan(&got); err != nil || got != "held" {
		t.Errorf("a dropped statement in a transaction's hands: %q, %v", got, err)
	}
}
