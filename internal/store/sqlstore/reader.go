package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/audit"
	"github.com/arrears/arrears/internal/auth"
	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/complaint"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/store"
)

// reader implements store.Reader over the handle or a transaction.
type reader struct {
	q querier
	s *Store
}

// Reader methods on the Store itself read outside any transaction.
func (s *Store) r() reader { return reader{q: s.db, s: s} }

func (s *Store) GetParty(ctx context.Context, id uuid.UUID) (*ledger.Party, error) {
	return s.r().GetParty(ctx, id)
}
func (s *Store) GetPartyByRegistration(ctx context.Context, j, reg string) (*ledger.Party, error) {
	return s.r().GetPartyByRegistration(ctx, j, reg)
}
func (s *Store) ListParties(ctx context.Context, q store.PartyQuery) ([]*ledger.Party, error) {
	return s.r().ListParties(ctx, q)
}
func (s *Store) GetInvoice(ctx context.Context, id uuid.UUID) (*ledger.Invoice, error) {
	return s.r().GetInvoice(ctx, id)
}
func (s *Store) ListInvoices(ctx context.Context, q store.InvoiceQuery) ([]*ledger.Invoice, error) {
	return s.r().ListInvoices(ctx, q)
}
func (s *Store) GetCreditNote(ctx context.Context, id uuid.UUID) (*ledger.CreditNote, error) {
	return s.r().GetCreditNote(ctx, id)
}
func (s *Store) ListCreditNotes(ctx context.Context, inv uuid.UUID, p store.Page) ([]*ledger.CreditNote, error) {
	return s.r().ListCreditNotes(ctx, inv, p)
}
func (s *Store) GetPayment(ctx context.Context, id uuid.UUID) (*ledger.Payment, error) {
	return s.r().GetPayment(ctx, id)
}
func (s *Store) GetPaymentByReference(ctx context.Context, debtor uuid.UUID, ref string) (*ledger.Payment, error) {
	return s.r().GetPaymentByReference(ctx, debtor, ref)
}
func (s *Store) ListPayments(ctx context.Context, q store.PaymentQuery) ([]*ledger.Payment, error) {
	return s.r().ListPayments(ctx, q)
}
func (s *Store) GetDispute(ctx context.Context, id uuid.UUID) (*ledger.Dispute, error) {
	return s.r().GetDispute(ctx, id)
}
func (s *Store) ListDisputes(ctx context.Context, q store.DisputeQuery) ([]*ledger.Dispute, error) {
	return s.r().ListDisputes(ctx, q)
}
func (s *Store) ListRevisions(ctx context.Context, id uuid.UUID, after int64, limit int) ([]*ledger.Revision, error) {
	return s.r().ListRevisions(ctx, id, after, limit)
}
func (s *Store) RevisionsOf(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID][]*ledger.Revision, error) {
	return s.r().RevisionsOf(ctx, ids)
}
func (s *Store) RevisionsAt(ctx context.Context, keys []store.RevisionKey) (map[store.RevisionKey]*ledger.Revision, error) {
	return s.r().RevisionsAt(ctx, keys)
}
func (s *Store) GetRequest(ctx context.Context, key string) (*store.Request, error) {
	return s.r().GetRequest(ctx, key)
}

func (s *Store) InvoiceVisible(ctx context.Context, sc auth.Scope, id uuid.UUID) (bool, error) {
	return s.r().InvoiceVisible(ctx, sc, id)
}
func (s *Store) PartyVisible(ctx context.Context, sc auth.Scope, id uuid.UUID) (bool, error) {
	return s.r().PartyVisible(ctx, sc, id)
}
func (s *Store) GetKey(ctx context.Context, prefix string) (*auth.Key, error) {
	return s.r().GetKey(ctx, prefix)
}
func (s *Store) KeyAuditSnapshot(ctx context.Context, id uuid.UUID) ([]byte, error) {
	return s.r().KeyAuditSnapshot(ctx, id)
}
func (s *Store) ListKeys(ctx context.Context, p store.Page) ([]*auth.Key, error) {
	return s.r().ListKeys(ctx, p)
}
func (s *Store) CountKeys(ctx context.Context) (int64, error) { return s.r().CountKeys(ctx) }
func (s *Store) PortalGrants(ctx context.Context) ([]store.PortalGrant, error) {
	return s.r().PortalGrants(ctx)
}
func (s *Store) PortalAuthorized(ctx context.Context, portal string, creditor uuid.UUID) (bool, error) {
	return s.r().PortalAuthorized(ctx, portal, creditor)
}
func (s *Store) ListEvents(ctx context.Context, q store.EventQuery) ([]*audit.Event, error) {
	return s.r().ListEvents(ctx, q)
}
func (s *Store) ChainHeads(ctx context.Context) ([]audit.Head, error) { return s.r().ChainHeads(ctx) }
func (s *Store) ListChainEvents(ctx context.Context, chain uuid.UUID, after int64, limit int) ([]*audit.Event, error) {
	return s.r().ListChainEvents(ctx, chain, after, limit)
}
func (s *Store) LatestCheckpoint(ctx context.Context) (*audit.Checkpoint, error) {
	return s.r().LatestCheckpoint(ctx)
}
func (s *Store) CheckpointCovers(ctx context.Context, digest, publicKey string, since time.Time) (bool, error) {
	return s.r().CheckpointCovers(ctx, digest, publicKey, since)
}
func (s *Store) ListCheckpoints(ctx context.Context) ([]*audit.Checkpoint, error) {
	return s.r().ListCheckpoints(ctx)
}

func (s *Store) Facts(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]*store.Facts, error) {
	return s.r().Facts(ctx, ids)
}
func (s *Store) GetEscalation(ctx context.Context, id uuid.UUID) (*ledger.Escalation, error) {
	return s.r().GetEscalation(ctx, id)
}
func (s *Store) EscalationsOf(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]*ledger.Escalation, error) {
	return s.r().EscalationsOf(ctx, ids)
}
func (s *Store) EscalationEventsOf(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID][]*ledger.EscalationEvent, error) {
	return s.r().EscalationEventsOf(ctx, ids)
}
func (s *Store) PaymentsOf(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]*ledger.Payment, error) {
	return s.r().PaymentsOf(ctx, ids)
}
func (s *Store) InvoicesOf(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]*ledger.Invoice, error) {
	return s.r().InvoicesOf(ctx, ids)
}
func (s *Store) DueEscalations(ctx context.Context, through civil.Date, after store.DueCursor, limit int) ([]*ledger.Escalation, error) {
	return s.r().DueEscalations(ctx, through, after, limit)
}
func (s *Store) ListEscalationEvents(ctx context.Context, id uuid.UUID, p store.Page) ([]*ledger.EscalationEvent, error) {
	return s.r().ListEscalationEvents(ctx, id, p)
}

func (s *Store) GetClaim(ctx context.Context, id uuid.UUID) (*complaint.Claim, error) {
	return s.r().GetClaim(ctx, id)
}
func (s *Store) ListClaims(ctx context.Context, q store.SupplierQuery) ([]*complaint.Claim, error) {
	return s.r().ListClaims(ctx, q)
}
func (s *Store) GetContest(ctx context.Context, id uuid.UUID) (*complaint.Contest, error) {
	return s.r().GetContest(ctx, id)
}
func (s *Store) ListContests(ctx context.Context, q store.SupplierQuery) ([]*complaint.Contest, error) {
	return s.r().ListContests(ctx, q)
}
func (s *Store) GetComplaint(ctx context.Context, id uuid.UUID) (*complaint.Complaint, error) {
	return s.r().GetComplaint(ctx, id)
}
func (s *Store) GetComplaintEvent(ctx context.Context, id uuid.UUID) (*complaint.Event, error) {
	return s.r().GetComplaintEvent(ctx, id)
}
func (s *Store) DocColumnsDiffer(ctx context.Context, typ ledger.ResourceType, id uuid.UUID) (string, error) {
	return s.r().DocColumnsDiffer(ctx, typ, id)
}
func (s *Store) ListComplaints(ctx context.Context, q store.SupplierQuery) ([]*complaint.Complaint, error) {
	return s.r().ListComplaints(ctx, q)
}
func (s *Store) DueComplaints(ctx context.Context, through civil.Date, after store.DueCursor, limit int) ([]store.DueCursor, error) {
	return s.r().DueComplaints(ctx, through, after, limit)
}
func (s *Store) ListComplaintEvents(ctx context.Context, id uuid.UUID, p store.Page) ([]*complaint.Event, error) {
	return s.r().ListComplaintEvents(ctx, id, p)
}

func (s *Store) GetInvoiceByDocumentRef(ctx context.Context, debtor uuid.UUID, ref string) (*ledger.Invoice, error) {
	return s.r().GetInvoiceByDocumentRef(ctx, debtor, ref)
}
func (s *Store) GetSyncSession(ctx context.Context, debtor uuid.UUID, session string) (*store.SyncSession, error) {
	return s.r().GetSyncSession(ctx, debtor, session)
}
func (s *Store) ListSyncRejections(ctx context.Context, debtor uuid.UUID, session string, after int64, limit int) ([]*store.SyncRejection, error) {
	return s.r().ListSyncRejections(ctx, debtor, session, after, limit)
}
func (s *Store) CountSyncRejections(ctx context.Context, debtor uuid.UUID, session string) (int64, error) {
	return s.r().CountSyncRejections(ctx, debtor, session)
}

func (s *Store) InvoicesByDocumentRef(ctx context.Context, debtor uuid.UUID, refs []string) (map[string]*ledger.Invoice, error) {
	return s.r().InvoicesByDocumentRef(ctx, debtor, refs)
}
func (s *Store) PartiesByRegistration(ctx context.Context, keys [][2]string) (map[[2]string]*ledger.Party, error) {
	return s.r().PartiesByRegistration(ctx, keys)
}

var _ store.Store = (*Store)(nil)

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// getOne runs a single-row query and scans it with scan.
func getOne[T any](ctx context.Context, r reader, what string, scan func(scanner) (*T, error), query string, args ...any) (*T, error) {
	v, err := scan(r.q.QueryRowContext(ctx, query, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ledger.ErrNotFound
	}
	if err != nil {
		return nil, r.s.wrap("get "+what, err)
	}
	return v, nil
}

// list runs a query and scans every row with scan.
func list[T any](ctx context.Context, r reader, what string, scan func(scanner) (*T, error), query string, args ...any) ([]*T, error) {
	rows, err := r.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, r.s.wrap("list "+what, err)
	}
	defer rows.Close()
	var out []*T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, r.s.wrap("scan "+what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, r.s.wrap("list "+what, err)
	}
	return out, nil
}

// ofIDs reads the rows whose column col is one of ids, keyed by key, in
// one query where the engine takes an array parameter (else 500 ids at a
// time). Unordered: like RevisionsOf, an ORDER BY would let PostgreSQL's
// generic plan walk a whole index.
func ofIDs[T any](ctx context.Context, r reader, what string, scan func(scanner) (*T, error), query, col string, ids []uuid.UUID, key func(*T) uuid.UUID) (map[uuid.UUID][]*T, error) {
	strs := make([]string, len(ids))
	for i, id := range ids {
		strs[i] = id.String()
	}
	out := make(map[uuid.UUID][]*T, len(ids))
	for _, part := range batches(strs, r.s.dialect.TextArrays) {
		var w where
		w.oneOf(col, part, r.s.dialect.TextArrays, "uuid[]")
		rows, err := list(ctx, r, what, scan, query+w.sql(), w.args...)
		if err != nil {
			return nil, err
		}
		for _, v := range rows {
			k := key(v)
			out[k] = append(out[k], v)
		}
	}
	return out, nil
}

// one keeps the single row of each id.
func one[T any](m map[uuid.UUID][]*T, err error) (map[uuid.UUID]*T, error) {
	if err != nil {
		return nil, err
	}
	out := make(map[uuid.UUID]*T, len(m))
	for k, v := range m {
		out[k] = v[0]
	}
	return out, nil
}

// exists reports whether a row of table matches w.
func (r reader) exists(ctx context.Context, table string, w where) (bool, error) {
	var one int
	err := r.q.QueryRowContext(ctx, "SELECT 1 FROM "+table+w.sql()+" LIMIT 1", w.args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, r.s.wrap("check "+table, err)
	}
	return true, nil
}
func (s *Store) SummaryNodes(ctx context.Context, q store.NodeQuery) ([]store.NodeSum, error) {
	return s.r().SummaryNodes(ctx, q)
}
func (s *Store) SummaryChangedAfter(ctx context.Context, t time.Time) (bool, error) {
	return s.r().SummaryChangedAfter(ctx, t)
}
func (s *Store) InvoicesWithoutProfile(ctx context.Context, after uuid.UUID, limit int) ([]uuid.UUID, error) {
	return s.r().InvoicesWithoutProfile(ctx, after, limit)
}
func (s *Store) PaymentsByReference(ctx context.Context, debtor uuid.UUID, refs []string) (map[string]*ledger.Payment, error) {
	return s.r().PaymentsByReference(ctx, debtor, refs)
}
func (s *Store) SummaryState(ctx context.Context, name string) (string, error) {
	return s.r().SummaryState(ctx, name)
}
