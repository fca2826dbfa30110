package sqlstore

import (
	"context"
	"encoding/json"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/store"
)

const creditNoteCols = `id, invoice_id, amount, issued_on, reference, reason, create_time`

func scanCreditNote(sc scanner) (*ledger.CreditNote, error) {
	var c ledger.CreditNote
	if err := sc.Scan(&c.ID, &c.InvoiceID, &c.Amount, &c.IssuedOn, &c.Reference, &c.Reason, tsScan{&c.CreateTime}); err != nil {
		return nil, err
	}
	return &c, nil
}

func (r reader) GetCreditNote(ctx context.Context, id uuid.UUID) (*ledger.CreditNote, error) {
	return getOne(ctx, r, "credit note", scanCreditNote, `SELECT `+creditNoteCols+` FROM credit_notes WHERE id = $1`, id.String())
}

func (r reader) ListCreditNotes(ctx context.Context, invoiceID uuid.UUID, p store.Page) ([]*ledger.CreditNote, error) {
	var w where
	w.eqUUID("invoice_id", invoiceID)
	order := w.page(p)
	return list(ctx, r, "credit notes", scanCreditNote, `SELECT `+creditNoteCols+` FROM credit_notes`+w.sql()+order, w.args...)
}

// CreateCreditNote records a fact that is never changed: it needs no
// revisions, but its audit event carries its digest, so that verify notices
// if the row is edited.
func (t *tx) CreateCreditNote(ctx context.Context, c *ledger.CreditNote, ch store.Change) error {
	_, err := t.w.ExecContext(ctx, `INSERT INTO credit_notes (`+creditNoteCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		c.ID.String(), c.InvoiceID.String(), c.Amount, c.IssuedOn, c.Reference, c.Reason, t.s.dialect.Timestamp(c.CreateTime))
	if err := t.insertErr("credit note", err); err != nil {
		return err
	}
	snap, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return t.appendEvent(ctx, "credit_note", c.ID, 1, nil, snap, ch)
}

const paymentCols = `id, invoice_id, debtor_id, amount, currency, paid_on, reference, instrument, maturity_on,
	state, reversed_on, reversal_reason, version, create_time, update_time`

func scanPayment(sc scanner) (*ledger.Payment, error) {
	var p ledger.Payment
	err := sc.Scan(&p.ID, &p.InvoiceID, &p.DebtorID, &p.Amount, &p.Currency, &p.PaidOn, &p.Reference,
		&p.Instrument, &p.MaturityOn, &p.State, &p.ReversedOn, &p.ReversalReason, &p.Version,
		tsScan{&p.CreateTime}, tsScan{&p.UpdateTime})
	if err != nil {
		return nil, err
	}
	return &p, nil
}

func (r reader) GetPayment(ctx context.Context, id uuid.UUID) (*ledger.Payment, error) {
	return getOne(ctx, r, "payment", scanPayment, `SELECT `+paymentCols+` FROM payments WHERE id = $1`, id.String())
}

func (r reader) PaymentsOf(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]*ledger.Payment, error) {
	return one(ofIDs(ctx, r, "payments", scanPayment, `SELECT `+paymentCols+` FROM payments`, "id", ids,
		func(p *ledger.Payment) uuid.UUID { return p.ID }))
}

func (r reader) GetPaymentByReference(ctx context.Context, debtorID uuid.UUID, ref string) (*ledger.Payment, error) {
	return getOne(ctx, r, "payment", scanPayment,
		`SELECT `+paymentCols+` FROM payments WHERE debtor_id = $1 AND reference = $2`, debtorID.String(), ref)
}

func (r reader) ListPayments(ctx context.Context, q store.PaymentQuery) ([]*ledger.Payment, error) {
	var w where
	w.eqUUID("invoice_id", q.InvoiceID)
	w.strings("state", q.State)
	w.dates("paid_on", q.PaidOn)
	w.strings("reference", q.Reference)
	order := w.page(q.Page)
	return list(ctx, r, "payments", scanPayment, `SELECT `+paymentCols+` FROM payments`+w.sql()+order, w.args...)
}

func (t *tx) CreatePayment(ctx context.Context, p *ledger.Payment, c store.Change) error {
	p.Version = 1
	ts := t.s.dialect.Timestamp
	_, err := t.w.ExecContext(ctx, `INSERT INTO payments (`+paymentCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		p.ID.String(), p.InvoiceID.String(), p.DebtorID.String(), p.Amount, p.Currency, p.PaidOn, p.Reference,
		string(p.Instrument), p.MaturityOn, string(p.State), p.ReversedOn, p.ReversalReason, p.Version,
		ts(p.CreateTime), ts(p.UpdateTime))
	if _, ok := t.s.dialect.UniqueViolation(err); ok {
		// The reference is the idempotency key: a racing duplicate retries
		// and then finds the first payment.
		return ledger.ErrConflict
	}
	if err := t.insertErr("payment", err); err != nil {
		return err
	}
	return t.appendRevision(ctx, ledger.ResourcePayment, p.ID, p.Version, p, c)
}

func (t *tx) UpdatePayment(ctx context.Context, p *ledger.Payment, c store.Change) error {
	res, err := t.w.ExecContext(ctx, `UPDATE payments SET state = $1, reversed_on = $2, reversal_reason = $3,
		update_time = $4, version = version + 1 WHERE id = $5 AND version = $6`,
		string(p.State), p.ReversedOn, p.ReversalReason, t.s.dialect.Timestamp(p.UpdateTime), p.ID.String(), p.Version)
	if err := t.updated("payment", res, err); err != nil {
		return err
	}
	p.Version++
	return t.appendRevision(ctx, ledger.ResourcePayment, p.ID, p.Version, p, c)
}

const disputeCols = `id, invoice_id, amount, reason, opened_on, state, resolution, resolved_on, comment,
	credit_note_id, version, create_time, update_time, opened_by`

func scanDispute(sc scanner) (*ledger.Dispute, error) {
	var d ledger.Dispute
	var cn *string
	err := sc.Scan(&d.ID, &d.InvoiceID, &d.Amount, &d.Reason, &d.OpenedOn, &d.State, &d.Resolution,
		&d.ResolvedOn, &d.Comment, &cn, &d.Version, tsScan{&d.CreateTime}, tsScan{&d.UpdateTime}, &d.OpenedBy)
	if err != nil {
		return nil, err
	}
	if cn != nil {
		if d.CreditNoteID, err = uuid.Parse(*cn); err != nil {
			return nil, err
		}
	}
	return &d, nil
}

func (r reader) GetDispute(ctx context.Context, id uuid.UUID) (*ledger.Dispute, error) {
	return getOne(ctx, r, "dispute", scanDispute, `SELECT `+disputeCols+` FROM disputes WHERE id = $1`, id.String())
}

func (r reader) ListDisputes(ctx context.Context, q store.DisputeQuery) ([]*ledger.Dispute, error) {
	var w where
	w.eqUUID("invoice_id", q.InvoiceID)
	w.strings("state", q.State)
	order := w.page(q.Page)
	return list(ctx, r, "disputes", scanDispute, `SELECT `+disputeCols+` FROM disputes`+w.sql()+order, w.args...)
}

// idOrNull binds an optional id: NULL when unset.
func (t *tx) idOrNull(id uuid.UUID) any {
	if id == uuid.Nil {
		return nil
	}
	return t.s.dialect.ID(id)
}

func (t *tx) CreateDispute(ctx context.Context, d *ledger.Dispute, c store.Change) error {
	d.Version = 1
	ts := t.s.dialect.Timestamp
	_, err := t.w.ExecContext(ctx, `INSERT INTO disputes (`+disputeCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		d.ID.String(), d.InvoiceID.String(), d.Amount, d.Reason, d.OpenedOn, string(d.State), string(d.Resolution),
		d.ResolvedOn, d.Comment, t.idOrNull(d.CreditNoteID), d.Version, ts(d.CreateTime), ts(d.UpdateTime), d.OpenedBy)
	if err := t.insertErr("dispute", err); err != nil {
		return err
	}
	return t.appendRevision(ctx, ledger.ResourceDispute, d.ID, d.Version, d, c)
}

func (t *tx) UpdateDispute(ctx context.Context, d *ledger.Dispute, c store.Change) error {
	res, err := t.w.ExecContext(ctx, `UPDATE disputes SET state = $1, resolution = $2, resolved_on = $3,
		comment = $4, credit_note_id = $5, update_time = $6, version = version + 1 WHERE id = $7 AND version = $8`,
		string(d.State), string(d.Resolution), d.ResolvedOn, d.Comment, t.idOrNull(d.CreditNoteID),
		t.s.dialect.Timestamp(d.UpdateTime), d.ID.String(), d.Version)
	if err := t.updated("dispute", res, err); err != nil {
		return err
	}
	d.Version++
	return t.appendRevision(ctx, ledger.ResourceDispute, d.ID, d.Version, d, c)
}
