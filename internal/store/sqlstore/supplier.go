package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/complaint"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/store"
)

// The supplier-side records are kept as JSON documents beside the columns
// that are filtered and indexed. These helpers store and read them.

func (t *tx) insertDoc(ctx context.Context, table string, cols []string, vals []any, doc any) error {
	data, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	cols = append(append([]string{}, cols...), "version", "data")
	vals = append(append([]any{}, vals...), int64(1), string(data))
	var w where
	ph := make([]string, len(vals))
	for i, v := range vals {
		ph[i] = w.arg(v)
	}
	_, err = t.w.ExecContext(ctx, "INSERT INTO "+table+" ("+join(cols)+") VALUES ("+join(ph)+")", w.args...)
	return t.insertErr(table, err)
}

func (t *tx) updateDoc(ctx context.Context, table string, id uuid.UUID, version int64, cols []string, vals []any, doc any) error {
	data, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	var w where
	sets := make([]string, 0, len(cols)+2)
	for i, c := range cols {
		sets = append(sets, c+" = "+w.arg(vals[i]))
	}
	sets = append(sets, "data = "+w.arg(string(data)), "version = version + 1")
	res, err := t.w.ExecContext(ctx, "UPDATE "+table+" SET "+join(sets)+" WHERE id = "+w.arg(id.String())+
		" AND version = "+w.arg(version), w.args...)
	return t.updated(table, res, err)
}

func join(xs []string) string {
	out := ""
	for i, x := range xs {
		if i > 0 {
			out += ", "
		}
		out += x
	}
	return out
}

func scanDoc[T any](sc scanner) (*T, error) {
	var data string
	if err := sc.Scan(&data); err != nil {
		return nil, err
	}
	v := new(T)
	if err := json.Unmarshal([]byte(data), v); err != nil {
		return nil, fmt.Errorf("%w: %v", store.ErrUndecodable, err)
	}
	return v, nil
}

func getDoc[T any](ctx context.Context, r reader, table string, id uuid.UUID) (*T, error) {
	return getOne(ctx, r, table, scanDoc[T], "SELECT data FROM "+table+" WHERE id = $1", id.String())
}

func listDocs[T any](ctx context.Context, r reader, table string, w where, p store.Page) ([]*T, error) {
	order := w.page(p)
	return list(ctx, r, table, scanDoc[T], "SELECT data FROM "+table+w.sql()+order, w.args...)
}

// Claims.

func (r reader) GetClaim(ctx context.Context, id uuid.UUID) (*complaint.Claim, error) {
	return getDoc[complaint.Claim](ctx, r, "claims", id)
}

func (r reader) ListClaims(ctx context.Context, q store.SupplierQuery) ([]*complaint.Claim, error) {
	return listDocs[complaint.Claim](ctx, r, "claims", supplierWhere(q), q.Page)
}

func supplierWhere(q store.SupplierQuery) where {
	var w where
	w.scope(q.Scope, "debtor_id", "creditor_id")
	supplierConds(&w, q)
	return w
}

// supplierConds adds the query's own conditions, beside the scope.
func supplierConds(w *where, q store.SupplierQuery) {
	w.eqUUID("debtor_id", q.DebtorID)
	w.eqUUID("creditor_id", q.CreditorID)
	w.strings("state", q.State)
}

func (t *tx) CreateClaim(ctx context.Context, c *complaint.Claim, ch store.Change) error {
	c.Version = 1
	if err := t.insertDoc(ctx, "claims", []string{"id", "debtor_id", "creditor_id", "state"},
		[]any{c.ID.String(), c.Debtor.String(), c.Creditor.String(), string(c.State)}, c); err != nil {
		return err
	}
	ch.Debtor, ch.Creditor = c.Debtor, c.Creditor
	return t.appendRevision(ctx, ledger.ResourceClaim, c.ID, c.Version, c, ch)
}

func (t *tx) UpdateClaim(ctx context.Context, c *complaint.Claim, ch store.Change) error {
	prev := c.Version
	c.Version++
	if err := t.updateDoc(ctx, "claims", c.ID, prev, []string{"state"}, []any{string(c.State)}, c); err != nil {
		c.Version = prev
		return err
	}
	ch.Debtor, ch.Creditor = c.Debtor, c.Creditor
	return t.appendRevision(ctx, ledger.ResourceClaim, c.ID, c.Version, c, ch)
}

// Contests.

func (r reader) GetContest(ctx context.Context, id uuid.UUID) (*complaint.Contest, error) {
	return getDoc[complaint.Contest](ctx, r, "contests", id)
}

func (r reader) ListContests(ctx context.Context, q store.SupplierQuery) ([]*complaint.Contest, error) {
	w := supplierWhere(q)
	w.eqUUID("invoice_id", q.InvoiceID)
	return listDocs[complaint.Contest](ctx, r, "contests", w, q.Page)
}

func (t *tx) CreateContest(ctx context.Context, c *complaint.Contest, ch store.Change) error {
	c.Version = 1
	if err := t.insertDoc(ctx, "contests", []string{"id", "invoice_id", "debtor_id", "creditor_id", "state"},
		[]any{c.ID.String(), c.InvoiceID.String(), c.Debtor.String(), c.Creditor.String(), string(c.State)}, c); err != nil {
		return err
	}
	ch.Debtor, ch.Creditor = c.Debtor, c.Creditor
	return t.appendRevision(ctx, ledger.ResourceContest, c.ID, c.Version, c, ch)
}

func (t *tx) UpdateContest(ctx context.Context, c *complaint.Contest, ch store.Change) error {
	prev := c.Version
	c.Version++
	if err := t.updateDoc(ctx, "contests", c.ID, prev, []string{"state"}, []any{string(c.State)}, c); err != nil {
		c.Version = prev
		return err
	}
	ch.Debtor, ch.Creditor = c.Debtor, c.Creditor
	return t.appendRevision(ctx, ledger.ResourceContest, c.ID, c.Version, c, ch)
}

// Complaints.

func (r reader) DocColumnsDiffer(ctx context.Context, typ ledger.ResourceType, id uuid.UUID) (string, error) {
	var table, cols string
	switch typ {
	case ledger.ResourceClaim:
		table, cols = "claims", "debtor_id, creditor_id, state, version, data"
	case ledger.ResourceContest:
		table, cols = "contests", "debtor_id, creditor_id, state, version, data, invoice_id"
	case ledger.ResourceComplaint:
		table, cols = "complaints", "debtor_id, creditor_id, state, version, data, next_check, receiving_regulator, handling_regulator"
	default:
		return "", fmt.Errorf("no document table for %s", typ)
	}
	var debtor, creditor, invoice uuid.UUID
	var state, data string
	var version int64
	var next civil.Date
	var receiving, handling uuid.NullUUID
	dest := []any{&debtor, &creditor, &state, &version, &data}
	switch typ {
	case ledger.ResourceContest:
		dest = append(dest, &invoice)
	case ledger.ResourceComplaint:
		dest = append(dest, &next, &receiving, &handling)
	}
	err := r.q.QueryRowContext(ctx, "SELECT "+cols+" FROM "+table+" WHERE id = $1", id.String()).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ledger.ErrNotFound
	}
	if err != nil {
		return "", r.s.wrap("read "+table, err)
	}
	type col struct {
		name      string
		row, want any
	}
	var cmp []col
	switch typ {
	case ledger.ResourceClaim:
		var c complaint.Claim
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			return "", err
		}
		cmp = []col{{"debtor_id", debtor, c.Debtor}, {"creditor_id", creditor, c.Creditor}, {"state", state, string(c.State)}, {"version", version, c.Version}}
	case ledger.ResourceContest:
		var c complaint.Contest
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			return "", err
		}
		cmp = []col{{"debtor_id", debtor, c.Debtor}, {"creditor_id", creditor, c.Creditor}, {"state", state, string(c.State)}, {"version", version, c.Version},
			{"invoice_id", invoice, c.InvoiceID}}
	case ledger.ResourceComplaint:
		var c complaint.Complaint
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			return "", err
		}
		cmp = []col{{"debtor_id", debtor, c.Debtor}, {"creditor_id", creditor, c.Complainant}, {"state", state, string(c.State)}, {"version", version, c.Version},
			{"next_check", next, c.NextCheck}, {"receiving_regulator", receiving.UUID, c.ReceivingRegulator}, {"handling_regulator", handling.UUID, c.HandlingRegulator}}
	}
	for _, c := range cmp {
		if c.row != c.want {
			return c.name, nil
		}
	}
	return "", nil
}

func (r reader) GetComplaint(ctx context.Context, id uuid.UUID) (*complaint.Complaint, error) {
	return getDoc[complaint.Complaint](ctx, r, "complaints", id)
}

func (r reader) ListComplaints(ctx context.Context, q store.SupplierQuery) ([]*complaint.Complaint, error) {
	var w where
	w.complaintScope(q.Scope)
	supplierConds(&w, q)
	return listDocs[complaint.Complaint](ctx, r, "complaints", w, q.Page)
}

// nullID is a uuid column's value, NULL for none.
func nullID(id uuid.UUID) any {
	if id == uuid.Nil {
		return nil
	}
	return id.String()
}

// DueComplaints reads the due complaints' keys only, from the columns the
// listing orders by: the sweep reads each document again as it handles it,
// and one it cannot decode (damaged, or a newer release's) then fails
// alone instead of the page of every complaint due after it.
func (r reader) DueComplaints(ctx context.Context, through civil.Date, after store.DueCursor, limit int) ([]store.DueCursor, error) {
	w, args := dueAfter("id", through, after)
	due, err := list(ctx, r, "complaints", func(sc scanner) (*store.DueCursor, error) {
		var c store.DueCursor
		return &c, sc.Scan(&c.On, &c.ID)
	}, fmt.Sprintf("SELECT next_check, id FROM complaints WHERE "+w+" ORDER BY next_check, id LIMIT %d", limit), args...)
	out := make([]store.DueCursor, len(due))
	for i, c := range due {
		out[i] = *c
	}
	return out, err
}

func (t *tx) CreateComplaint(ctx context.Context, c *complaint.Complaint, ch store.Change) error {
	c.Version = 1
	if err := t.insertDoc(ctx, "complaints", []string{"id", "debtor_id", "creditor_id", "state", "next_check", "receiving_regulator", "handling_regulator"},
		[]any{c.ID.String(), c.Debtor.String(), c.Complainant.String(), string(c.State), c.NextCheck, nullID(c.ReceivingRegulator), nullID(c.HandlingRegulator)}, c); err != nil {
		return err
	}
	ch.Debtor, ch.Creditor = c.Debtor, c.Complainant
	return t.appendRevision(ctx, ledger.ResourceComplaint, c.ID, c.Version, c, ch)
}

func (t *tx) UpdateComplaint(ctx context.Context, c *complaint.Complaint, ch store.Change) error {
	prev := c.Version
	c.Version++
	if err := t.updateDoc(ctx, "complaints", c.ID, prev, []string{"state", "next_check", "receiving_regulator", "handling_regulator"},
		[]any{string(c.State), c.NextCheck, nullID(c.ReceivingRegulator), nullID(c.HandlingRegulator)}, c); err != nil {
		c.Version = prev
		return err
	}
	ch.Debtor, ch.Creditor = c.Debtor, c.Complainant
	return t.appendRevision(ctx, ledger.ResourceComplaint, c.ID, c.Version, c, ch)
}

func (t *tx) AddComplaintEvent(ctx context.Context, e *complaint.Event, ch store.Change) error {
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	_, err = t.w.ExecContext(ctx, `INSERT INTO complaint_events (id, complaint_id, data) VALUES ($1, $2, $3)`,
		e.ID.String(), e.ComplaintID.String(), string(data))
	if err := t.insertErr("complaint event", err); err != nil {
		return err
	}
	// A timeline line is written once: its audit event records it whole.
	return t.appendEvent(ctx, "complaint_event", e.ID, 1, nil, data, ch)
}

// GetComplaintEvent reads a timeline line, its complaint as the column
// says (which lists go by): a line moved to another complaint in the
// database then differs from its audited form.
func (r reader) GetComplaintEvent(ctx context.Context, id uuid.UUID) (*complaint.Event, error) {
	var cid uuid.UUID
	var data string
	err := r.q.QueryRowContext(ctx, `SELECT complaint_id, data FROM complaint_events WHERE id = $1`, id.String()).Scan(&cid, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ledger.ErrNotFound
	}
	if err != nil {
		return nil, r.s.wrap("read complaint event", err)
	}
	var e complaint.Event
	if err := json.Unmarshal([]byte(data), &e); err != nil {
		return nil, fmt.Errorf("complaint event %s: %w: %v", id, store.ErrUndecodable, err)
	}
	e.ComplaintID = cid
	return &e, nil
}

func (r reader) ListComplaintEvents(ctx context.Context, complaintID uuid.UUID, p store.Page) ([]*complaint.Event, error) {
	var w where
	w.eqUUID("complaint_id", complaintID)
	return listDocs[complaint.Event](ctx, r, "complaint_events", w, p)
}
