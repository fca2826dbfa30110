package sqlstore

import (
	"context"
	"database/sql"
	"strings"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/auth"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/store"
)

const invoiceCols = `id, debtor_id, creditor_id, document_ref, contract_ref, currency, amount,
	contract_signed_on, issued_on, received_on, delivered_on, acceptance_required, acceptance_period_days,
	acceptance_passed_on, settlement_confirmed_on, agreed_term_days, agreed_due_date, agreed_rate_percent,
	agreed_rate_per_day, creditor_size_at_signing, status, due_date, credited, paid, disputed,
	cancelled_on, cancel_reason, version, create_time, update_time, policy_id, policy_version, policy_reason, contested, corrected_on`

func scanInvoice(sc scanner) (*ledger.Invoice, error) {
	var inv ledger.Invoice
	var rate sql.NullString
	var perDay bool
	err := sc.Scan(&inv.ID, &inv.DebtorID, &inv.CreditorID, &inv.DocumentRef, &inv.ContractRef,
		&inv.Amount.Currency, &inv.Amount.Minor, &inv.ContractSignedOn, &inv.IssuedOn, &inv.ReceivedOn,
		&inv.DeliveredOn, &inv.AcceptanceRequired, &inv.AcceptancePeriodDays, &inv.AcceptancePassedOn,
		&inv.SettlementConfirmedOn, &inv.AgreedTermDays, &inv.AgreedDueDate, &rate, &perDay,
		&inv.CreditorSizeAtSigning, &inv.Status, &inv.DueDate, &inv.Credited, &inv.Paid, &inv.Disputed,
		&inv.CancelledOn, &inv.CancelReason, &inv.Version, tsScan{&inv.CreateTime}, tsScan{&inv.UpdateTime},
		&inv.PolicyID, &inv.PolicyVersion, &inv.PolicyReason, &inv.Contested, &inv.CorrectedOn)
	if err != nil {
		return nil, err
	}
	if rate.Valid {
		inv.AgreedRate = &ledger.Rate{Percent: rate.String, PerDay: perDay}
	}
	return &inv, nil
}

func (r reader) GetInvoice(ctx context.Context, id uuid.UUID) (*ledger.Invoice, error) {
	return getOne(ctx, r, "invoice", scanInvoice, `SELECT `+invoiceCols+` FROM invoices WHERE id = $1`, id.String())
}

func (r reader) InvoicesOf(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]*ledger.Invoice, error) {
	return one(ofIDs(ctx, r, "invoices", scanInvoice, `SELECT `+invoiceCols+` FROM invoices`, "id", ids,
		func(inv *ledger.Invoice) uuid.UUID { return inv.ID }))
}

func (t *tx) LockInvoice(ctx context.Context, id uuid.UUID) (*ledger.Invoice, error) {
	return getOne(ctx, t.reader, "invoice", scanInvoice,
		`SELECT `+invoiceCols+` FROM invoices WHERE id = $1`+t.s.dialect.ForUpdate, id.String())
}

func (r reader) ListInvoices(ctx context.Context, q store.InvoiceQuery) ([]*ledger.Invoice, error) {
	var w where
	w.scope(q.Scope, "debtor_id", "creditor_id")
	w.eqUUID("debtor_id", q.DebtorID)
	w.eqUUID("creditor_id", q.CreditorID)
	w.strings("document_ref", q.DocumentRef)
	stored := len(w.conds)
	w.strings("status", q.Status)
	w.strings("currency", q.Currency)
	w.dates("due_date", q.DueDate)
	if len(w.conds) > stored && !q.ChangedAfter.IsZero() {
		// Rows the caller shows as they stood earlier pass the stored-field
		// conditions here and are checked on what is shown (see
		// store.InvoiceQuery.ChangedAfter).
		now := "(" + strings.Join(w.conds[stored:], " AND ") + ")"
		w.conds = append(w.conds[:stored], "("+now+" OR update_time > "+w.arg(r.s.dialect.Timestamp(q.ChangedAfter))+")")
	}
	order := w.page(q.Page)
	return list(ctx, r, "invoices", scanInvoice, `SELECT `+invoiceCols+` FROM invoices`+w.sql()+order, w.args...)
}

// invoiceArgs are the invoice's values in invoiceCols order.
func (t *tx) invoiceArgs(inv *ledger.Invoice) []any {
	var rate any
	perDay := false
	if inv.AgreedRate != nil {
		rate, perDay = inv.AgreedRate.Percent, inv.AgreedRate.PerDay
	}
	ts := t.s.dialect.Timestamp
	id := t.s.dialect.ID
	return []any{id(inv.ID), id(inv.DebtorID), id(inv.CreditorID), inv.DocumentRef,
		inv.ContractRef, inv.Amount.Currency, inv.Amount.Minor, inv.ContractSignedOn, inv.IssuedOn,
		inv.ReceivedOn, inv.DeliveredOn, inv.AcceptanceRequired, inv.AcceptancePeriodDays,
		inv.AcceptancePassedOn, inv.SettlementConfirmedOn, inv.AgreedTermDays, inv.AgreedDueDate, rate,
		perDay, string(inv.CreditorSizeAtSigning), string(inv.Status), inv.DueDate, inv.Credited, inv.Paid,
		inv.Disputed, inv.CancelledOn, inv.CancelReason, inv.Version, ts(inv.CreateTime), ts(inv.UpdateTime),
		inv.PolicyID, inv.PolicyVersion, inv.PolicyReason, inv.Contested, inv.CorrectedOn}
}

func (t *tx) CreateInvoice(ctx context.Context, inv *ledger.Invoice, c store.Change) error {
	inv.Version = 1
	_, err := t.w.ExecContext(ctx, `INSERT INTO invoices (`+invoiceCols+`) VALUES ($1, $2, $3, $4, $5,
		$6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26,
		$27, $28, $29, $30, $31, $32, $33, $34, $35)`, t.invoiceArgs(inv)...)
	if err := t.insertErr("invoice", err); err != nil {
		return err
	}
	c.Debtor, c.Creditor = inv.DebtorID, inv.CreditorID
	return t.appendRevision(ctx, ledger.ResourceInvoice, inv.ID, inv.Version, inv, c)
}

func (t *tx) UpdateInvoice(ctx context.Context, inv *ledger.Invoice, c store.Change) error {
	if err := t.updateInvoiceRow(ctx, inv); err != nil {
		return err
	}
	if !c.EffectiveOn.IsZero() {
		if err := t.touchEscalations(ctx, []string{inv.ID.String()}, c.EffectiveOn); err != nil {
			return err
		}
	}
	c.Debtor, c.Creditor = inv.DebtorID, inv.CreditorID
	return t.appendRevision(ctx, ledger.ResourceInvoice, inv.ID, inv.Version, inv, c)
}

// updateInvoiceRow rewrites an invoice's row if it is still at
// inv.Version, and moves inv to the next version.
func (t *tx) updateInvoiceRow(ctx context.Context, inv *ledger.Invoice) error {
	a := t.invoiceArgs(inv)
	// Identity columns (id, debtor, creditor, document_ref) and create_time
	// never change; the rest is rewritten from the record. a[4:27] are the
	// columns from contract_ref to cancel_reason.
	args := append(append([]any{}, a[4:27]...), a[29], inv.ID.String(), inv.Version, a[30], a[31], a[32], a[33], a[34])
	res, err := t.w.ExecContext(ctx, `UPDATE invoices SET contract_ref = $1, currency = $2, amount = $3,
		contract_signed_on = $4, issued_on = $5, received_on = $6, delivered_on = $7,
		acceptance_required = $8, acceptance_period_days = $9, acceptance_passed_on = $10,
		settlement_confirmed_on = $11, agreed_term_days = $12, agreed_due_date = $13,
		agreed_rate_percent = $14, agreed_rate_per_day = $15, creditor_size_at_signing = $16, status = $17,
		due_date = $18, credited = $19, paid = $20, disputed = $21, cancelled_on = $22, cancel_reason = $23,
		update_time = $24, policy_id = $27, policy_version = $28, policy_reason = $29, contested = $30, corrected_on = $31, version = version + 1
		WHERE id = $25 AND version = $26`, args...)
	if err := t.updated("invoice", res, err); err != nil {
		return err
	}
	inv.Version++
	return nil
}

func (r reader) InvoiceVisible(ctx context.Context, scope auth.Scope, id uuid.UUID) (bool, error) {
	var w where
	w.add("id = " + w.arg(id.String()))
	w.scope(scope, "debtor_id", "creditor_id")
	return r.exists(ctx, "invoices", w)
}
