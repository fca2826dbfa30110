package sqlstore

import (
	clist "container/list"
	"context"
	"database/sql"
	"sync"
)

// stmtCache keeps prepared statements by their SQL text, so an engine whose
// driver does not cache them (modernc.org/sqlite) parses each statement
// once instead of on every call: the bulk sync runs the same few statements
// hundreds of thousands of times. Queries built with a varying number of
// conditions or values are many, so the cache holds the maxStatements
// used most recently: when it stopped growing instead, a server whose first
// hours filled it with one-off list queries ran its bulk sync unprepared
// for good.
type stmtCache struct {
	db    *sql.DB
	mu    sync.Mutex
	stmts map[string]*clist.Element // of *cachedStmt, most recently used first
	order *clist.List
}

type cachedStmt struct {
	query string
	st    *sql.Stmt
}

const maxStatements = 512

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*clist.Element{}, order: clist.New()}
}

// get returns the prepared statement of query, or nil when preparing fails
// (the caller then runs the text directly). Past maxStatements it closes
// the least recently used: database/sql keeps it open under the
// transactions still using it, and closes it once they end.
func (c *stmtCache) get(ctx context.Context, query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.stmts[query]; ok {
		c.order.MoveToFront(e)
		return e.Value.(*cachedStmt).st
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	for c.order.Len() >= maxStatements {
		old := c.order.Remove(c.order.Back()).(*cachedStmt)
		delete(c.stmts, old.query)
		old.st.Close()
	}
	c.stmts[query] = c.order.PushFront(&cachedStmt{query, st})
	return st
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.stmts {
		e.Value.(*cachedStmt).st.Close()
	}
	c.stmts = map[string]*clist.Element{}
	c.order.Init()
}

// cachedTx runs a transaction's statements through the cache.
type cachedTx struct {
	tx    *sql.Tx
	cache *stmtCache
}

func (c cachedTx) stmt(ctx context.Context, query string) *sql.Stmt {
	if st := c.cache.get(ctx, query); st != nil {
		return c.tx.StmtContext(ctx, st)
	}
	return nil
}

func (c cachedTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return c.tx.QueryContext(ctx, query, args...)
}

func (c cachedTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return c.tx.QueryRowContext(ctx, query, args...)
}

func (c cachedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := c.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return c.tx.ExecContext(ctx, query, args...)
}
