package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"time"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/store"
)

func scanSession(sc scanner) (*store.SyncSession, error) {
	var s store.SyncSession
	if err := sc.Scan(&s.DebtorID, &s.Session, &s.AckedSeq, &s.Records, &s.Version, tsScan{&s.CreateTime}, tsScan{&s.UpdateTime}, &s.ResumeCheck); err != nil {
		return nil, err
	}
	return &s, nil
}

func (r reader) GetSyncSession(ctx context.Context, debtor uuid.UUID, session string) (*store.SyncSession, error) {
	return getOne(ctx, r, "sync session", scanSession, `SELECT debtor_id, session, acked_seq, records, version, create_time, update_time, resume_check
		FROM sync_sessions WHERE debtor_id = $1 AND session = $2`, debtor.String(), session)
}

func (t *tx) PutSyncSession(ctx context.Context, s *store.SyncSession) error {
	ts := t.s.dialect.Timestamp
	if s.Version == 0 {
		s.Version = 1
		_, err := t.w.ExecContext(ctx, `INSERT INTO sync_sessions (debtor_id, session, acked_seq, records, version, create_time, update_time, resume_check)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, s.DebtorID.String(), s.Session, s.AckedSeq, s.Records, s.Version, ts(s.CreateTime), ts(s.UpdateTime), s.ResumeCheck)
		if _, ok := t.s.dialect.UniqueViolation(err); ok {
			return fmt.Errorf("sync session %s: %w", s.Session, ledger.ErrConflict)
		}
		return t.s.wrap("insert sync session", err)
	}
	res, err := t.w.ExecContext(ctx, `UPDATE sync_sessions SET acked_seq = $1, records = $2, update_time = $3, resume_check = $4, version = version + 1
		WHERE debtor_id = $5 AND session = $6 AND version = $7`, s.AckedSeq, s.Records, ts(s.UpdateTime), s.ResumeCheck, s.DebtorID.String(), s.Session, s.Version)
	if err := t.updated("sync session", res, err); err != nil {
		return err
	}
	s.Version++
	return nil
}

// PurgeSyncSessions deletes the old sessions, then the rejections of
// exactly those, purgeBatch sessions to a transaction: a session a chunk
// moved meanwhile is not deleted, and keeps its rejections. In batches,
// because a first purge after months of nightly sessions (retention is on
// by default) could not finish within one transaction's time limit, and
// rolled back and started over every hour; on SQLite it held the one
// write lock all that while. A batch that fails leaves the earlier ones
// done.
func (s *Store) PurgeSyncSessions(ctx context.Context, cutoff time.Time) (int64, error) {
	var total int64
	for {
		var n int64
		err := s.ReadWriteTx(ctx, func(ctx context.Context, stx store.Tx) error {
			t := stx.(*tx)
			// The cutoff is tested again on the row deleted: at READ
			// COMMITTED, PostgreSQL rechecks only the outer condition on a
			// row a chunk moved while the purge waited for it, and a
			// session moved since must stay.
			rows, err := t.w.QueryContext(ctx, `DELETE FROM sync_sessions WHERE update_time < $1 AND (debtor_id, session) IN (
				SELECT debtor_id, session FROM sync_sessions WHERE update_time < $1 LIMIT $2) RETURNING debtor_id, session`,
				s.dialect.Timestamp(cutoff), purgeBatch)
			if err != nil {
				return s.wrap("purge sync sessions", err)
			}
			type key struct{ debtor, session string }
			var gone []key
			for rows.Next() {
				var k key
				if err := rows.Scan(&k.debtor, &k.session); err != nil {
					rows.Close()
					return s.wrap("purge sync sessions", err)
				}
				gone = append(gone, k)
			}
			if err := rows.Err(); err != nil {
				return s.wrap("purge sync sessions", err)
			}
			for _, k := range gone {
				if _, err := t.w.ExecContext(ctx, `DELETE FROM sync_rejections WHERE debtor_id = $1 AND session = $2`, k.debtor, k.session); err != nil {
					return s.wrap("purge sync rejections", err)
				}
			}
			n = int64(len(gone))
			return nil
		})
		if err != nil {
			return total, err
		}
		total += n
		if n < purgeBatch {
			return total, nil
		}
	}
}

// purgeBatch is how many sync sessions one transaction of a purge deletes.
const purgeBatch = 500

// PutSyncRejections loads the rejections as one bulk write (COPY on
// PostgreSQL); their problems are kept as a JSON array.
func (t *tx) PutSyncRejections(ctx context.Context, debtor uuid.UUID, session string, rs []*store.SyncRejection) error {
	rows := make([][]any, len(rs))
	for i, r := range rs {
		ps := make([]storedProblem, len(r.Problems))
		for k, p := range r.Problems {
			ps[k] = storedProblem(p)
		}
		problems, err := json.Marshal(ps)
		if err != nil {
			return err
		}
		rows[i] = []any{t.s.dialect.ID(debtor), session, r.Sequence, r.DocumentRef, string(problems)}
	}
	return t.load(ctx, "sync_rejections", []string{"debtor_id", "session", "sequence", "document_ref", "problems"}, rows)
}

// storedProblem is a rejection's problem as the table keeps it, named
// apart from the Go field names.
type storedProblem struct {
	Field       string `json:"field"`
	Description string `json:"description"`
}

func scanRejection(sc scanner) (*store.SyncRejection, error) {
	var r store.SyncRejection
	var problems string
	if err := sc.Scan(&r.Sequence, &r.DocumentRef, &problems); err != nil {
		return nil, err
	}
	var ps []storedProblem
	if err := json.Unmarshal([]byte(problems), &ps); err != nil {
		return nil, fmt.Errorf("sync rejection %d: %w", r.Sequence, store.ErrUndecodable)
	}
	for _, p := range ps {
		r.Problems = append(r.Problems, ledger.FieldViolation(p))
	}
	return &r, nil
}

func (r reader) ListSyncRejections(ctx context.Context, debtor uuid.UUID, session string, after int64, limit int) ([]*store.SyncRejection, error) {
	return list(ctx, r, "sync rejections", scanRejection, fmt.Sprintf(`SELECT sequence, document_ref, problems FROM sync_rejections
		WHERE debtor_id = $1 AND session = $2 AND sequence > $3 ORDER BY sequence LIMIT %d`, limit), debtor.String(), session, after)
}

func (r reader) CountSyncRejections(ctx context.Context, debtor uuid.UUID, session string) (int64, error) {
	var n int64
	err := r.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM sync_rejections WHERE debtor_id = $1 AND session = $2`, debtor.String(), session).Scan(&n)
	return n, r.s.wrap("count sync rejections", err)
}

func (r reader) GetInvoiceByDocumentRef(ctx context.Context, debtor uuid.UUID, ref string) (*ledger.Invoice, error) {
	return getOne(ctx, r, "invoice", scanInvoice, `SELECT `+invoiceCols+` FROM invoices WHERE debtor_id = $1 AND document_ref = $2`, debtor.String(), ref)
}

var savepointRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,30}$`)

// Savepoint, RollbackTo and Release let a bulk write isolate one record's
// failure inside the chunk's transaction; PostgreSQL, SQLite, CockroachDB
// and YugabyteDB all support them.
func (t *tx) Savepoint(ctx context.Context, name string) error {
	if !savepointRE.MatchString(name) {
		return fmt.Errorf("savepoint name %q", name)
	}
	_, err := t.sqlTx.ExecContext(ctx, "SAVEPOINT "+name)
	if err == nil {
		t.marks = append(t.marks, savepointMark{name, len(t.nodes), len(t.events)})
	}
	return t.s.wrap("savepoint", err)
}

// lastMark is the index of the newest savepoint of that name, or -1.
func (t *tx) lastMark(name string) int {
	for i := len(t.marks) - 1; i >= 0; i-- {
		if t.marks[i].name == name {
			return i
		}
	}
	return -1
}

func (t *tx) RollbackTo(ctx context.Context, name string) error {
	_, err := t.sqlTx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT "+name)
	if i := t.lastMark(name); err == nil && i >= 0 {
		// The savepoint stays; later ones and what they buffered go.
		t.nodes, t.events, t.marks = t.nodes[:t.marks[i].nodes], t.events[:t.marks[i].events], t.marks[:i+1]
	}
	return t.s.wrap("rollback to savepoint", err)
}

func (t *tx) Release(ctx context.Context, name string) error {
	_, err := t.sqlTx.ExecContext(ctx, "RELEASE SAVEPOINT "+name)
	if i := t.lastMark(name); err == nil && i >= 0 {
		t.marks = t.marks[:i]
	}
	return t.s.wrap("release savepoint", err)
}
