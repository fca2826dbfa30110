package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/audit"
	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/store"
	"github.com/arrears/arrears/internal/summary"
)

// tx implements store.Tx.
type tx struct {
	reader
	sqlTx *sql.Tx
	// w runs the transaction's writes (through the statement cache where
	// the engine has one).
	w querier
	// conn is the connection the transaction runs on, for bulk loads.
	conn *sql.Conn
	// nodes are the summary aggregates' changes made so far, written once,
	// summed and sorted, just before commit (flushNodes): one ordered set
	// of row locks per transaction however many invoices it changed, so
	// two transactions cannot deadlock on them. marks are the savepoints'
	// positions in it, so that rolling back to one drops what followed.
	nodes []summary.NodeChange
	marks []savepointMark
	// events are the audit events made so far, sealed onto their chains
	// and written just before commit (flushEvents).
	events []*audit.Event
}

type savepointMark struct {
	name   string
	nodes  int
	events int
}

// insertErr turns a unique violation on insert into ErrAlreadyExists,
// naming the key that was taken.
func (t *tx) insertErr(what string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := t.s.dialect.UniqueViolation(err); ok {
		// The constraint's name stays out: it is schema detail, and the
		// service says which key was taken in the client's terms.
		return fmt.Errorf("%s: %w", what, ledger.ErrAlreadyExists)
	}
	return t.s.wrap("insert "+what, err)
}

// updated checks that a versioned UPDATE hit its row: no row means the
// version moved on (or the row vanished), which the transaction retries.
func (t *tx) updated(what string, res sql.Result, err error) error {
	return t.updatedAll(what, res, err, 1)
}

// updatedAll is updated for an UPDATE of want rows: fewer means some
// moved on meanwhile.
func (t *tx) updatedAll(what string, res sql.Result, err error, want int) error {
	if err != nil {
		return t.s.wrap("update "+what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return t.s.wrap("update "+what, err)
	}
	switch {
	case n == int64(want):
		return nil
	case want == 1:
		return fmt.Errorf("update %s: %w", what, ledger.ErrConflict)
	default:
		return fmt.Errorf("update %s: %d of %d changed meanwhile: %w", what, int64(want)-n, want, ledger.ErrConflict)
	}
}

// updateFromJSON runs a bulk UPDATE that takes its rows as one JSON array
// of arrays (one parameter whatever their number, so the statement is
// prepared once; civil dates marshal to their text or null) and their ids
// again as an array, and checks that every row changed.
func (t *tx) updateFromJSON(ctx context.Context, what, query string, rows [][]any, ids []string) error {
	text, err := json.Marshal(rows)
	if err != nil {
		return err
	}
	res, err := t.w.ExecContext(ctx, query, string(text), ids)
	return t.updatedAll(what, res, err, len(rows))
}

// revisionCols are the columns of a revision row, in revisionRow's order.
var revisionCols = []string{"resource_id", "revision", "resource_type", "effective_on", "record_time", "method", "snapshot"}

// revisionRow is a record's revision as the revisions table stores it.
func (t *tx) revisionRow(typ ledger.ResourceType, id uuid.UUID, revision int64, effective civil.Date, c store.Change, snap []byte) []any {
	return []any{t.s.dialect.ID(id), revision, string(typ), effective, t.s.dialect.Timestamp(c.RecordTime), c.Method, string(snap)}
}

func (t *tx) appendRevision(ctx context.Context, typ ledger.ResourceType, id uuid.UUID, version int64, v any, c store.Change) error {
	var snap []byte
	var err error
	if inv, ok := v.(*ledger.Invoice); ok {
		snap, err = inv.Snapshot()
	} else {
		snap, err = json.Marshal(v)
	}
	if err != nil {
		return fmt.Errorf("snapshot %s: %w", typ, err)
	}
	if c.Debtor == uuid.Nil {
		return fmt.Errorf("%s %s: change has no debtor to chain its audit event to", typ, id)
	}
	// The audit event says what changed, against the previous revision; a
	// creation's is the revision itself (audit.InRevision).
	changes := audit.InRevision
	if version > 1 {
		var prev string
		if err := t.w.QueryRowContext(ctx, `SELECT snapshot FROM revisions WHERE resource_id = $1 AND revision = $2`,
			id.String(), version-1).Scan(&prev); err != nil {
			return t.s.wrap("read previous revision", err)
		}
		if changes, err = audit.Diff([]byte(prev), snap); err != nil {
			return fmt.Errorf("audit diff: %w", err)
		}
	}
	_, err = t.w.ExecContext(ctx, `INSERT INTO revisions (`+strings.Join(revisionCols, ", ")+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		t.revisionRow(typ, id, version, c.EffectiveOn, c, snap)...)
	if err != nil {
		return t.s.wrap("insert revision", err)
	}
	t.events = append(t.events, newEvent(c.Debtor, c.Creditor, string(typ), id, version, snap, changes, c.EffectiveOn, c))
	return nil
}

func scanRevision(sc scanner) (*ledger.Revision, error) {
	var r ledger.Revision
	var snap string
	if err := sc.Scan(&r.ResourceID, &r.Revision, &r.ResourceType, &r.EffectiveOn, tsScan{&r.RecordTime}, &r.Method, &snap); err != nil {
		return nil, err
	}
	r.Snapshot = []byte(snap)
	return &r, nil
}

func (r reader) ListRevisions(ctx context.Context, id uuid.UUID, after int64, limit int) ([]*ledger.Revision, error) {
	if limit <= 0 {
		limit = 1000
	}
	return list(ctx, r, "revisions", scanRevision, fmt.Sprintf(`SELECT resource_id, revision, resource_type,
		effective_on, record_time, method, snapshot FROM revisions
		WHERE resource_id = $1 AND revision > $2 ORDER BY revision LIMIT %d`, limit), id.String(), after)
}

func scanRequest(sc scanner) (*store.Request, error) {
	var q store.Request
	if err := sc.Scan(&q.Key, &q.RequestHash, &q.ResourceID, tsScan{&q.CreateTime}); err != nil {
		return nil, err
	}
	return &q, nil
}

func (r reader) GetRequest(ctx context.Context, key string) (*store.Request, error) {
	return getOne(ctx, r, "request", scanRequest,
		`SELECT key, request_hash, resource_id, create_time FROM requests WHERE key = $1`, key)
}

func (t *tx) PutRequest(ctx context.Context, q *store.Request) error {
	_, err := t.w.ExecContext(ctx, `INSERT INTO requests (key, request_hash, resource_id, create_time)
		VALUES ($1, $2, $3, $4)`, q.Key, q.RequestHash, q.ResourceID.String(), t.s.dialect.Timestamp(q.CreateTime))
	if _, ok := t.s.dialect.UniqueViolation(err); ok {
		// Another transaction took the key first: retrying finds its record.
		return fmt.Errorf("request %s: %w", q.Key, ledger.ErrConflict)
	}
	return t.s.wrap("insert request", err)
}
