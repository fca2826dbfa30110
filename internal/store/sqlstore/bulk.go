package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/audit"
	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/store"
)

// load writes rows into a table: COPY where the engine has it, otherwise
// one prepared INSERT per row (cheap in an embedded engine).
func (t *tx) load(ctx context.Context, table string, cols []string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	if t.s.dialect.CopyFrom != nil {
		err := t.s.dialect.CopyFrom(ctx, t.conn, table, cols, rows)
		if _, ok := t.s.dialect.UniqueViolation(err); ok {
			// A concurrent writer took a key first; rerun the chunk.
			return fmt.Errorf("bulk load %s: %w", table, ledger.ErrConflict)
		}
		return t.s.wrap("copy into "+table, err)
	}
	ph := make([]string, len(cols))
	for i := range ph {
		ph[i] = fmt.Sprintf("$%d", i+1)
	}
	q := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(ph, ", ") + ")"
	for _, r := range rows {
		if _, err := t.w.ExecContext(ctx, q, r...); err != nil {
			if _, ok := t.s.dialect.UniqueViolation(err); ok {
				return fmt.Errorf("bulk load %s: %w", table, ledger.ErrConflict)
			}
			return t.s.wrap("insert into "+table, err)
		}
	}
	return nil
}

// CreateInvoices records many new invoices at once, with everything a
// single CreateInvoice writes: their first revisions, their audit events
// (chained per debtor, one read of each chain's head) and their escalation
// rows, checked today.
func (t *tx) CreateInvoices(ctx context.Context, invs []*ledger.Invoice, payments []*ledger.Payment, c store.Change, checkOn civil.Date) error {
	if len(invs) == 0 {
		return nil
	}
	invRows := make([][]any, len(invs))
	revRows := make([][]any, len(invs))
	escRows := make([][]any, len(invs))
	events := make([]*audit.Event, len(invs))
	ts := t.s.dialect.Timestamp
	for i, inv := range invs {
		inv.Version = 1
		invRows[i] = t.invoiceArgs(inv)
		snap, err := json.Marshal(inv)
		if err != nil {
			return err
		}
		revRows[i] = []any{inv.ID.String(), int64(1), string(ledger.ResourceInvoice), inv.IssuedOn, ts(c.RecordTime), c.Method, string(snap)}
		escRows[i] = []any{inv.ID.String(), inv.DebtorID.String(), inv.CreditorID.String(), 0, checkOn, nil, int64(1)}
		events[i] = &audit.Event{Chain: inv.DebtorID, EventID: uuid.Must(uuid.NewV7()), Debtor: inv.DebtorID, Creditor: inv.CreditorID,
			RecordTime: c.RecordTime.UTC(), Actor: c.Actor, Method: c.Method, ResourceType: string(ledger.ResourceInvoice),
			ResourceID: inv.ID, Revision: 1, SnapshotDigest: audit.Digest(snap), Changes: string(snap)}
		if events[i].Actor == "" {
			events[i].Actor = "system"
		}
	}
	if err := t.load(ctx, "invoices", splitCols(invoiceCols), invRows); err != nil {
		return err
	}
	if err := t.load(ctx, "revisions", []string{"resource_id", "revision", "resource_type", "effective_on", "record_time", "method", "snapshot"}, revRows); err != nil {
		return err
	}
	if err := t.load(ctx, "escalations", splitCols(escalationCols), escRows); err != nil {
		return err
	}
	creditorOf := make(map[uuid.UUID]uuid.UUID, len(invs))
	for _, inv := range invs {
		creditorOf[inv.ID] = inv.CreditorID
	}
	payRows := make([][]any, len(payments))
	revRows = revRows[:0]
	for i, p := range payments {
		p.Version = 1
		payRows[i] = []any{p.ID.String(), p.InvoiceID.String(), p.DebtorID.String(), p.Amount, p.Currency, p.PaidOn, p.Reference,
			string(p.Instrument), p.MaturityOn, string(p.State), p.ReversedOn, p.ReversalReason, p.Version, ts(p.CreateTime), ts(p.UpdateTime)}
		snap, err := json.Marshal(p)
		if err != nil {
			return err
		}
		revRows = append(revRows, []any{p.ID.String(), int64(1), string(ledger.ResourcePayment), p.PaidOn, ts(c.RecordTime), c.Method, string(snap)})
		e := &audit.Event{Chain: p.DebtorID, EventID: uuid.Must(uuid.NewV7()), Debtor: p.DebtorID, Creditor: creditorOf[p.InvoiceID],
			RecordTime: c.RecordTime.UTC(), Actor: c.Actor, Method: c.Method, ResourceType: string(ledger.ResourcePayment),
			ResourceID: p.ID, Revision: 1, SnapshotDigest: audit.Digest(snap), Changes: string(snap)}
		if e.Actor == "" {
			e.Actor = "system"
		}
		events = append(events, e)
	}
	if err := t.load(ctx, "payments", splitCols(paymentCols), payRows); err != nil {
		return err
	}
	if err := t.load(ctx, "revisions", []string{"resource_id", "revision", "resource_type", "effective_on", "record_time", "method", "snapshot"}, revRows); err != nil {
		return err
	}
	return t.appendEvents(ctx, events)
}

// PaymentReferencesTaken returns which of refs the debtor's payments use.
func (r reader) PaymentReferencesTaken(ctx context.Context, debtorID uuid.UUID, refs []string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, part := range batches(refs, r.s.dialect.TextArrays) {
		var w where
		w.add("debtor_id = " + w.arg(debtorID.String()))
		w.oneOf("reference", part, r.s.dialect.TextArrays, "text[]")
		taken, err := list(ctx, r, "payment references", func(sc scanner) (*string, error) {
			var ref string
			return &ref, sc.Scan(&ref)
		}, "SELECT reference FROM payments"+w.sql(), w.args...)
		if err != nil {
			return nil, err
		}
		for _, ref := range taken {
			out[*ref] = true
		}
	}
	return out, nil
}

// appendEvents chains events onto their chains' heads and loads them.
func (t *tx) appendEvents(ctx context.Context, events []*audit.Event) error {
	heads := map[uuid.UUID]*audit.Head{}
	rows := make([][]any, len(events))
	for i, e := range events {
		head, seen := heads[e.Chain]
		if !seen {
			var err error
			if head, err = t.chainHead(ctx, e.Chain); err != nil {
				return err
			}
		}
		e.Seal(head)
		heads[e.Chain] = &audit.Head{Chain: e.Chain, Seq: e.Seq, Hash: e.Hash}
		rows[i] = t.eventRow(e)
	}
	return t.load(ctx, "audit_events", splitCols(eventCols), rows)
}

func splitCols(cols string) []string {
	parts := strings.Split(cols, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// InvoicesByDocumentRef reads a debtor's invoices with the given references
// in one query (in batches where the driver has no array parameters).
func (r reader) InvoicesByDocumentRef(ctx context.Context, debtorID uuid.UUID, refs []string) (map[string]*ledger.Invoice, error) {
	out := make(map[string]*ledger.Invoice, len(refs))
	for _, part := range batches(refs, r.s.dialect.TextArrays) {
		var w where
		w.add("debtor_id = " + w.arg(debtorID.String()))
		w.oneOf("document_ref", part, r.s.dialect.TextArrays, "text[]")
		invs, err := list(ctx, r, "invoices", scanInvoice, `SELECT `+invoiceCols+` FROM invoices`+w.sql(), w.args...)
		if err != nil {
			return nil, err
		}
		for _, inv := range invs {
			out[inv.DocumentRef] = inv
		}
	}
	return out, nil
}

// PartiesByRegistration reads parties by natural key in one query per 400.
func (r reader) PartiesByRegistration(ctx context.Context, keys [][2]string) (map[[2]string]*ledger.Party, error) {
	out := make(map[[2]string]*ledger.Party, len(keys))
	if r.s.dialect.TextArrays && len(keys) > 0 {
		js, regs := make([]string, len(keys)), make([]string, len(keys))
		for i, k := range keys {
			js[i], regs[i] = k[0], k[1]
		}
		ps, err := list(ctx, r, "parties", scanParty, `SELECT `+partyCols+` FROM parties
			WHERE (jurisdiction, registration_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`, js, regs)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			out[[2]string{p.Jurisdiction, p.RegistrationID}] = p
		}
		return out, nil
	}
	for start := 0; start < len(keys); start += 400 {
		part := keys[start:min(start+400, len(keys))]
		var w where
		ph := make([]string, len(part))
		for i, k := range part {
			ph[i] = "(" + w.arg(k[0]) + ", " + w.arg(k[1]) + ")"
		}
		w.add("(jurisdiction, registration_id) IN (" + strings.Join(ph, ", ") + ")")
		ps, err := list(ctx, r, "parties", scanParty, `SELECT `+partyCols+` FROM parties`+w.sql(), w.args...)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			out[[2]string{p.Jurisdiction, p.RegistrationID}] = p
		}
	}
	return out, nil
}
