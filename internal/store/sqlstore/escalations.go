package sqlstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/store"
)

const escalationCols = `invoice_id, debtor_id, creditor_id, level, next_check, checked_on, version`

func scanEscalation(sc scanner) (*ledger.Escalation, error) {
	var e ledger.Escalation
	if err := sc.Scan(&e.InvoiceID, &e.DebtorID, &e.CreditorID, &e.Level, &e.NextCheck, &e.CheckedOn, &e.Version); err != nil {
		return nil, err
	}
	return &e, nil
}

func (r reader) GetEscalation(ctx context.Context, invoiceID uuid.UUID) (*ledger.Escalation, error) {
	return getOne(ctx, r, "escalation", scanEscalation, `SELECT `+escalationCols+` FROM escalations WHERE invoice_id = $1`, invoiceID.String())
}

func (r reader) EscalationsOf(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]*ledger.Escalation, error) {
	return one(ofIDs(ctx, r, "escalations", scanEscalation, `SELECT `+escalationCols+` FROM escalations`, "invoice_id", ids,
		func(e *ledger.Escalation) uuid.UUID { return e.InvoiceID }))
}

func (r reader) EscalationEventsOf(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID][]*ledger.EscalationEvent, error) {
	out, err := ofIDs(ctx, r, "escalation events", scanEscalationEvent, `SELECT `+escalationEventCols+` FROM escalation_events`, "invoice_id", ids,
		func(e *ledger.EscalationEvent) uuid.UUID { return e.InvoiceID })
	for _, evs := range out {
		// By id, as ListEscalationEvents: both engines order uuids as
		// their bytes.
		slices.SortFunc(evs, func(a, b *ledger.EscalationEvent) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	}
	return out, err
}

func (r reader) DueEscalations(ctx context.Context, through civil.Date, after store.DueCursor, limit int) ([]*ledger.Escalation, error) {
	w, args := dueAfter("invoice_id", through, after)
	return list(ctx, r, "escalations", scanEscalation, fmt.Sprintf(`SELECT `+escalationCols+` FROM escalations
		WHERE `+w+` ORDER BY next_check, invoice_id LIMIT %d`, limit), args...)
}

// dueAfter is the condition of a due listing resumed after a cursor: the
// date bounds the index range on both sides, and the id orders rows of one
// date. Spelled out rather than as a row comparison, which not every
// engine plans as a range.
func dueAfter(idCol string, through civil.Date, after store.DueCursor) (string, []any) {
	if after.On.IsZero() {
		return "next_check <= $1", []any{through.String()}
	}
	return "next_check <= $1 AND next_check >= $2 AND (next_check > $2 OR " + idCol + " > $3)",
		[]any{through.String(), after.On.String(), after.ID.String()}
}

func (t *tx) PutEscalation(ctx context.Context, e *ledger.Escalation) error {
	if e.Version == 0 {
		_, err := t.w.ExecContext(ctx, `INSERT INTO escalations (`+escalationCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			e.InvoiceID.String(), e.DebtorID.String(), e.CreditorID.String(), e.Level, e.NextCheck, e.CheckedOn, 1)
		if _, ok := t.s.dialect.UniqueViolation(err); ok {
			// e stays new: a rerun with it inserts again (and conflicts
			// again), never updating the row another writer made.
			return fmt.Errorf("escalation %s: %w", e.InvoiceID, ledger.ErrConflict)
		}
		if err != nil {
			return t.s.wrap("insert escalation", err)
		}
		e.Version = 1
		return nil
	}
	res, err := t.w.ExecContext(ctx, `UPDATE escalations SET level = $1, next_check = $2, checked_on = $3, version = version + 1
		WHERE invoice_id = $4 AND version = $5`, e.Level, e.NextCheck, e.CheckedOn, e.InvoiceID.String(), e.Version)
	if err := t.updated("escalation", res, err); err != nil {
		return err
	}
	e.Version++
	return nil
}

// escalationsUpdateSQL moves many escalation rows on in one statement, as
// bulkUpdateSQL does invoices: the rows as one JSON array of [invoice id,
// version read, level, next check, checked on], the ids again as an array
// for the planner.
const escalationsUpdateSQL = `UPDATE escalations AS e SET level = (u.r->>2)::integer, next_check = (u.r->>3)::date,
	checked_on = (u.r->>4)::date, version = e.version + 1
	FROM jsonb_array_elements($1::jsonb) AS u(r)
	WHERE e.invoice_id = ANY($2::uuid[]) AND e.invoice_id = (u.r->>0)::uuid AND e.version = (u.r->>1)::bigint`

func (t *tx) PutEscalations(ctx context.Context, es []*ledger.Escalation) error {
	if len(es) == 0 {
		return nil
	}
	for _, e := range es {
		if e.Version == 0 {
			return fmt.Errorf("escalation %s: PutEscalations updates, it does not insert", e.InvoiceID)
		}
	}
	if !t.s.dialect.TextArrays {
		// An embedded engine answers each statement in-process. The
		// versions read stay as they were unless every row moved, as in
		// one statement.
		read := make([]int64, len(es))
		for i, e := range es {
			read[i] = e.Version
		}
		for i, e := range es {
			if err := t.PutEscalation(ctx, e); err != nil {
				for j := range i {
					es[j].Version = read[j]
				}
				return err
			}
		}
		return nil
	}
	rows := make([][]any, len(es))
	ids := make([]string, len(es))
	for i, e := range es {
		rows[i] = []any{e.InvoiceID.String(), e.Version, e.Level, e.NextCheck, e.CheckedOn}
		ids[i] = e.InvoiceID.String()
	}
	// Locked first in invoice id order, as a sync chunk locks the rows it
	// touches (LockInvoices): the bulk UPDATE locks them in the order of
	// its plan, and the sweeper's batch deadlocked with chunks touching
	// the same invoices (PostgreSQL broke it, and the batch reran).
	if err := t.lockInOrder(ctx, "escalations", "invoice_id", ids); err != nil {
		return err
	}
	if err := t.updateFromJSON(ctx, "escalations", escalationsUpdateSQL, rows, ids); err != nil {
		return err
	}
	for _, e := range es {
		e.Version++
	}
	return nil
}

// touchEscalations brings invoices' next checks forward to on, never
// later: a fact effective on that date may change the level from then.
// Callers touching many at once have locked them (LockInvoices).
func (t *tx) touchEscalations(ctx context.Context, invoiceIDs []string, on civil.Date) error {
	for _, part := range batches(invoiceIDs, t.s.dialect.TextArrays) {
		var w where
		d := w.arg(on)
		w.oneOf("invoice_id", part, t.s.dialect.TextArrays, "uuid[]")
		// The version moves even when the date does not, so that a sweeper
		// that judged the invoice before this change cannot commit its result.
		if _, err := t.w.ExecContext(ctx, `UPDATE escalations SET version = version + 1,
			next_check = CASE WHEN next_check IS NULL OR next_check > `+d+` THEN `+d+` ELSE next_check END`+w.sql(), w.args...); err != nil {
			return t.s.wrap("touch escalations", err)
		}
	}
	return nil
}

const escalationEventCols = `id, invoice_id, kind, from_level, to_level, to_level_name, changed_on, corrects, record_time`

func scanEscalationEvent(sc scanner) (*ledger.EscalationEvent, error) {
	var e ledger.EscalationEvent
	var corrects *string
	if err := sc.Scan(&e.ID, &e.InvoiceID, &e.Kind, &e.FromLevel, &e.ToLevel, &e.ToLevelName, &e.ChangedOn, &corrects, tsScan{&e.RecordTime}); err != nil {
		return nil, err
	}
	if corrects != nil {
		id, err := uuid.Parse(*corrects)
		if err != nil {
			return nil, err
		}
		e.Corrects = id
	}
	return &e, nil
}

func (r reader) ListEscalationEvents(ctx context.Context, invoiceID uuid.UUID, p store.Page) ([]*ledger.EscalationEvent, error) {
	var w where
	w.eqUUID("invoice_id", invoiceID)
	order := w.page(p)
	return list(ctx, r, "escalation events", scanEscalationEvent, `SELECT `+escalationEventCols+` FROM escalation_events`+w.sql()+order, w.args...)
}

func (t *tx) AddEscalationEvents(ctx context.Context, events []*ledger.EscalationEvent, changes []store.Change) error {
	if len(changes) != len(events) {
		return fmt.Errorf("escalation events: %d changes for %d events", len(changes), len(events))
	}
	id := t.s.dialect.ID
	rows := make([][]any, len(events))
	for i, e := range events {
		rows[i] = []any{id(e.ID), id(e.InvoiceID), e.Kind, e.FromLevel, e.ToLevel, e.ToLevelName, e.ChangedOn, t.idOrNull(e.Corrects),
			t.s.dialect.Timestamp(e.RecordTime)}
	}
	if err := t.load(ctx, "escalation_events", splitCols(escalationEventCols), rows); err != nil {
		return err
	}
	for i, e := range events {
		snap, err := json.Marshal(e)
		if err != nil {
			return err
		}
		if err := t.appendEvent(ctx, "escalation", e.InvoiceID, 0, nil, snap, changes[i]); err != nil {
			return err
		}
	}
	return nil
}

// Facts loads the payments, credit notes and disputes of many invoices in
// three queries, for judging a page of invoices at once.
func (r reader) Facts(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]*store.Facts, error) {
	out := make(map[uuid.UUID]*store.Facts, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	for _, id := range ids {
		out[id] = &store.Facts{}
	}
	var w where
	in := "invoice_id IN (" + w.uuidList(ids) + ")"
	pays, err := list(ctx, r, "payments", scanPayment, `SELECT `+paymentCols+` FROM payments WHERE `+in+` ORDER BY id`, w.args...)
	if err != nil {
		return nil, err
	}
	for _, p := range pays {
		out[p.InvoiceID].Payments = append(out[p.InvoiceID].Payments, *p)
	}
	cns, err := list(ctx, r, "credit notes", scanCreditNote, `SELECT `+creditNoteCols+` FROM credit_notes WHERE `+in+` ORDER BY id`, w.args...)
	if err != nil {
		return nil, err
	}
	for _, c := range cns {
		out[c.InvoiceID].CreditNotes = append(out[c.InvoiceID].CreditNotes, *c)
	}
	ds, err := list(ctx, r, "disputes", scanDispute, `SELECT `+disputeCols+` FROM disputes WHERE `+in+` ORDER BY id`, w.args...)
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		out[d.InvoiceID].Disputes = append(out[d.InvoiceID].Disputes, *d)
	}
	return out, nil
}
