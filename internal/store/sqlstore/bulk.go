package sqlstore

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/audit"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/store"
)

// load writes rows into a table: COPY where the engine has it, otherwise
// prepared INSERTs of loadBatch rows each, then one row each for the rest
// (two statements per table, each prepared once).
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
	insert := func(rows [][]any) error {
		var q strings.Builder
		q.WriteString("INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ")
		args := make([]any, 0, len(rows)*len(cols))
		for i, r := range rows {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteByte('(')
			for j := range cols {
				if j > 0 {
					q.WriteString(", ")
				}
				// Anonymous where the engine binds by position (SQLite:
				// "$n" there is a named parameter, looked up by name for
				// every value, which cost a new synced invoice 60% more
				// CPU); numbered for PostgreSQL-like engines, whose
				// drivers (pgx) refuse "?".
				if t.s.dialect.TextArrays {
					q.WriteString("$" + strconv.Itoa(i*len(cols)+j+1))
				} else {
					q.WriteByte('?')
				}
			}
			q.WriteByte(')')
			args = append(args, r...)
		}
		if _, err := t.w.ExecContext(ctx, q.String(), args...); err != nil {
			if _, ok := t.s.dialect.UniqueViolation(err); ok {
				return fmt.Errorf("bulk load %s: %w", table, ledger.ErrConflict)
			}
			return t.s.wrap("insert into "+table, err)
		}
		return nil
	}
	for len(rows) >= loadBatch {
		if err := insert(rows[:loadBatch]); err != nil {
			return err
		}
		rows = rows[loadBatch:]
	}
	for i := range rows {
		if err := insert(rows[i : i+1]); err != nil {
			return err
		}
	}
	return nil
}

// loadBatch is how many rows one INSERT of load carries: an embedded
// engine's statement costs little, but each call through database/sql and
// the driver costs its own (binding, a step, a reset).
const loadBatch = 32

// CreateInvoices records many new invoices at once, with everything a
// single CreateInvoice writes: their first revisions, their audit events
// (chained per debtor, one read of each chain's head) and their escalation
// rows as the caller scheduled them.
func (t *tx) CreateInvoices(ctx context.Context, invs []*ledger.Invoice, checks []ledger.Escalation, payments []*ledger.Payment, c store.Change) error {
	if len(invs) == 0 {
		return nil
	}
	if len(checks) != len(invs) {
		return fmt.Errorf("create invoices: %d escalation rows for %d invoices", len(checks), len(invs))
	}
	invRows := make([][]any, len(invs))
	revRows := make([][]any, len(invs))
	escRows := make([][]any, len(invs))
	events := make([]*audit.Event, len(invs))
	for i, inv := range invs {
		inv.Version = 1
		invRows[i] = t.invoiceArgs(inv)
		snap, err := inv.Snapshot()
		if err != nil {
			return err
		}
		revRows[i] = t.revisionRow(ledger.ResourceInvoice, inv.ID, 1, inv.IssuedOn, c, snap)
		e := &checks[i]
		e.InvoiceID, e.DebtorID, e.CreditorID, e.Version = inv.ID, inv.DebtorID, inv.CreditorID, 1
		escRows[i] = []any{t.s.dialect.ID(inv.ID), t.s.dialect.ID(inv.DebtorID), t.s.dialect.ID(inv.CreditorID), e.Level, e.NextCheck, e.CheckedOn, e.Version}
		events[i] = newEvent(inv.DebtorID, inv.CreditorID, string(ledger.ResourceInvoice), inv.ID, 1, snap, audit.InRevision, inv.IssuedOn, c)
	}
	if err := t.load(ctx, "invoices", splitCols(invoiceCols), invRows); err != nil {
		return err
	}
	if err := t.load(ctx, "revisions", revisionCols, revRows); err != nil {
		return err
	}
	if err := t.load(ctx, "escalations", splitCols(escalationCols), escRows); err != nil {
		return err
	}
	if err := t.appendEvents(ctx, events); err != nil {
		return err
	}
	creditorOf := make(map[uuid.UUID]uuid.UUID, len(invs))
	for _, inv := range invs {
		creditorOf[inv.ID] = inv.CreditorID
	}
	return t.CreatePayments(ctx, payments, creditorOf, c)
}

// CreatePayments records many new payments at once, with their first
// revisions and audit events, as CreatePayment does one.
func (t *tx) CreatePayments(ctx context.Context, payments []*ledger.Payment, creditors map[uuid.UUID]uuid.UUID, c store.Change) error {
	if len(payments) == 0 {
		return nil
	}
	ts := t.s.dialect.Timestamp
	payRows := make([][]any, len(payments))
	revRows := make([][]any, len(payments))
	events := make([]*audit.Event, len(payments))
	for i, p := range payments {
		p.Version = 1
		payRows[i] = []any{t.s.dialect.ID(p.ID), t.s.dialect.ID(p.InvoiceID), t.s.dialect.ID(p.DebtorID), p.Amount, p.Currency, p.PaidOn, p.Reference,
			string(p.Instrument), p.MaturityOn, string(p.State), p.ReversedOn, p.ReversalReason, p.Version, ts(p.CreateTime), ts(p.UpdateTime)}
		snap, err := json.Marshal(p)
		if err != nil {
			return err
		}
		revRows[i] = t.revisionRow(ledger.ResourcePayment, p.ID, 1, p.PaidOn, c, snap)
		events[i] = newEvent(p.DebtorID, creditors[p.InvoiceID], string(ledger.ResourcePayment), p.ID, 1, snap, audit.InRevision, p.PaidOn, c)
	}
	if err := t.load(ctx, "payments", splitCols(paymentCols), payRows); err != nil {
		return err
	}
	if err := t.load(ctx, "revisions", revisionCols, revRows); err != nil {
		return err
	}
	return t.appendEvents(ctx, events)
}

// PaymentsByReference reads the debtor's payments with the given
// references in one query (in batches where the driver has no array
// parameters).
func (r reader) PaymentsByReference(ctx context.Context, debtorID uuid.UUID, refs []string) (map[string]*ledger.Payment, error) {
	out := map[string]*ledger.Payment{}
	for _, part := range batches(refs, r.s.dialect.TextArrays) {
		var w where
		w.add("debtor_id = " + w.arg(debtorID.String()))
		if r.s.dialect.TextArrays {
			// Joined to the references rather than "reference =
			// ANY($2)": in the sync benchmark with a third of 100,000
			// invoices paid, that form's cached plan scanned the
			// debtor's payments, 70 ms a chunk, where this one probed the
			// unique index (40,000 records/s). Both plans rest on the
			// table's statistics: until a table that grew from empty is
			// analyzed, either may scan (see the README on PostgreSQL).
			w.add("reference IN (SELECT unnest(" + w.arg(part) + "::text[]))")
		} else {
			w.oneOf("reference", part, false, "")
		}
		pays, err := list(ctx, r, "payments", scanPayment, "SELECT "+paymentCols+" FROM payments"+w.sql(), w.args...)
		if err != nil {
			return nil, err
		}
		for _, p := range pays {
			out[p.Reference] = p
		}
	}
	return out, nil
}

// appendEvents queues events for the end of the transaction.
func (t *tx) appendEvents(_ context.Context, events []*audit.Event) error {
	t.events = append(t.events, events...)
	return nil
}

// flushEvents chains the transaction's events onto their chains' heads, in
// the order they were made, and loads them: one read of each chain's head
// just before commit. Sealing last keeps the head of a busy debtor's chain
// contended only for the moment the transaction ends, so two transactions
// of one debtor can do their work side by side, then take turns at the
// head (queueOnChains); a chain extended meanwhile all the same (its first
// append) is a unique violation on (chain, seq), and the transaction reruns.
func (t *tx) flushEvents(ctx context.Context) error {
	if len(t.events) == 0 {
		return nil
	}
	events := t.events
	t.events = nil
	if err := t.queueOnChains(ctx, events); err != nil {
		return err
	}
	heads := map[uuid.UUID]*audit.Head{}
	lastIDs := map[uuid.UUID]uuid.UUID{} // the newest event id of each chain
	rows := make([][]any, len(events))
	for i, e := range events {
		head, seen := heads[e.Chain]
		if !seen {
			var err error
			var last uuid.UUID
			if head, last, err = t.chainHead(ctx, e.Chain); err != nil {
				return err
			}
			lastIDs[e.Chain] = last
		}
		// The id orders the change feed: by record time, then in the
		// order the transaction made its events; and after every event
		// of the chain before it (audit.EventIDAfter), as the chain's
		// sequence orders them.
		e.EventID = audit.EventIDAfter(audit.EventIDAt(e.RecordTime, i), lastIDs[e.Chain])
		lastIDs[e.Chain] = e.EventID
		e.Seal(head)
		heads[e.Chain] = &audit.Head{Chain: e.Chain, Seq: e.Seq, Hash: e.Hash}
		rows[i] = t.eventRow(e)
	}
	return t.load(ctx, "audit_events", splitCols(eventCols), rows)
}

// queueOnChains makes the transaction wait its turn on each chain it
// appends to, where writers run side by side (PostgreSQL). Without it, two
// writers of one debtor read the same head, and the second to commit
// failed on (chain, seq) and reran whole: with 32 clients writing for one
// debtor at once, one call in four ran out of reruns and answered ABORTED.
// The lock is on the chain's first event, which never changes, held to
// commit: the next writer then reads, under READ COMMITTED, the head the
// one before it wrote. Chains are locked in id order, so that two
// transactions appending to the same two chains do not deadlock; sealing
// is the last thing a transaction does, so nothing is waited for while the
// lock is held. A chain's very first append has no row to lock, and a race
// for it still reruns, once in the chain's life.
func (t *tx) queueOnChains(ctx context.Context, events []*audit.Event) error {
	if t.s.dialect.ForUpdate == "" {
		return nil // one writer at a time already
	}
	var chains []uuid.UUID
	seen := map[uuid.UUID]bool{}
	for _, e := range events {
		if !seen[e.Chain] {
			seen[e.Chain] = true
			chains = append(chains, e.Chain)
		}
	}
	slices.SortFunc(chains, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	for _, c := range chains {
		var seq int64
		err := t.w.QueryRowContext(ctx, `SELECT seq FROM audit_events WHERE chain_id = $1 ORDER BY seq LIMIT 1`+t.s.dialect.ForUpdate,
			c.String()).Scan(&seq)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return t.s.wrap("queue on audit chain", err)
		}
	}
	return nil
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

// invoiceColTypes are the PostgreSQL types of invoiceCols, in order: the
// bulk update declares them to read its rows from one JSON parameter.
var invoiceColTypes = []string{"uuid", "uuid", "uuid", "text", "text", "text", "bigint",
	"date", "date", "date", "date", "boolean", "integer",
	"date", "date", "integer", "date", "text",
	"boolean", "text", "text", "date", "bigint", "bigint", "bigint",
	"date", "text", "bigint", "timestamptz", "timestamptz", "text", "integer", "text", "integer", "date"}

// bulkUpdateSQL rewrites many invoice rows in one statement: the rows come
// as one JSON array of arrays in invoiceCols order (one parameter whatever
// their number, so the statement is prepared once), and only those still
// at the version they were read at change. Identity columns and
// create_time never change.
var bulkUpdateSQL = func() string {
	var sets []string
	col := func(i int) string {
		v := fmt.Sprintf("(u.r->>%d)", i)
		if t := invoiceColTypes[i]; t != "text" {
			v += "::" + t
		}
		return v
	}
	cols := splitCols(invoiceCols)
	for i, c := range cols {
		switch c {
		case "id", "debtor_id", "creditor_id", "document_ref", "create_time":
		case "version":
			sets = append(sets, "version = i.version + 1")
		default:
			sets = append(sets, c+" = "+col(i))
		}
	}
	// The ids again as an array: the planner cannot see into the JSON, and
	// without them may join by scanning the whole table.
	return "UPDATE invoices AS i SET " + strings.Join(sets, ", ") + " FROM jsonb_array_elements($1::jsonb) AS u(r) WHERE i.id = ANY($2::uuid[]) AND i.id = " +
		col(slices.Index(cols, "id")) + " AND i.version = " + col(slices.Index(cols, "version"))
}()

// UpdateInvoices rewrites many invoices at once, with everything
// UpdateInvoice writes for each: the next revision, an audit event saying
// what changed against the previous one, and the escalation check brought
// forward to c.EffectiveOn. One of them changed meanwhile is
// ledger.ErrConflict, so the transaction reruns.
func (t *tx) UpdateInvoices(ctx context.Context, invs []*ledger.Invoice, c store.Change) error {
	if len(invs) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, len(invs))
	strs := make([]string, len(invs))
	for i, inv := range invs {
		ids[i], strs[i] = inv.ID, inv.ID.String()
	}
	if t.s.dialect.TextArrays {
		rows := make([][]any, len(invs))
		for i, inv := range invs {
			rows[i] = t.invoiceArgs(inv)
		}
		if err := t.updateFromJSON(ctx, "invoices", bulkUpdateSQL, rows, strs); err != nil {
			return err
		}
		for _, inv := range invs {
			inv.Version++
		}
	} else {
		// An embedded engine answers each statement in-process. The
		// versions read stay as they were unless every row moved, as in
		// one statement: a rerun of the transaction with the same
		// invoices then conflicts only where another writer came first.
		for i, inv := range invs {
			if err := t.updateInvoiceRow(ctx, inv); err != nil {
				for _, done := range invs[:i] {
					done.Version--
				}
				return err
			}
		}
	}
	if !c.EffectiveOn.IsZero() {
		if err := t.touchEscalations(ctx, strs, c.EffectiveOn); err != nil {
			return err
		}
	}
	// The audit events say what changed against each previous revision,
	// read alone: an invoice may hold thousands (a revision per payment),
	// and a chunk paying a thousand such invoices step by step read them
	// all at every step.
	keys := make([]store.RevisionKey, len(invs))
	for i, inv := range invs {
		keys[i] = store.RevisionKey{ResourceID: inv.ID, Revision: inv.Version - 1}
	}
	revs, err := t.RevisionsAt(ctx, keys)
	if err != nil {
		return err
	}
	revRows := make([][]any, len(invs))
	events := make([]*audit.Event, len(invs))
	for i, inv := range invs {
		var before []byte
		if r := revs[keys[i]]; r != nil {
			before = r.Snapshot
		}
		if before == nil {
			return fmt.Errorf("invoice %s has no revision %d", inv.ID, inv.Version-1)
		}
		snap, err := inv.Snapshot()
		if err != nil {
			return err
		}
		changes, err := audit.Diff(before, snap)
		if err != nil {
			return fmt.Errorf("audit diff: %w", err)
		}
		revRows[i] = t.revisionRow(ledger.ResourceInvoice, inv.ID, inv.Version, c.EffectiveOn, c, snap)
		events[i] = newEvent(inv.DebtorID, inv.CreditorID, string(ledger.ResourceInvoice), inv.ID, inv.Version, snap, changes, c.EffectiveOn, c)
	}
	if err := t.load(ctx, "revisions", revisionCols, revRows); err != nil {
		return err
	}
	return t.appendEvents(ctx, events)
}

// RevisionsOf reads all revisions of the given resources, oldest first,
// in one query (in batches where the driver has no array parameters).
func (r reader) RevisionsOf(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID][]*ledger.Revision, error) {
	strs := make([]string, len(ids))
	for i, id := range ids {
		strs[i] = id.String()
	}
	out := make(map[uuid.UUID][]*ledger.Revision, len(ids))
	for _, part := range batches(strs, r.s.dialect.TextArrays) {
		var w where
		w.oneOf("resource_id", part, r.s.dialect.TextArrays, "uuid[]")
		// No ORDER BY: with one, PostgreSQL's generic plan walks the whole
		// primary key in order and filters, a scan of every revision.
		revs, err := list(ctx, r, "revisions", scanRevision, `SELECT resource_id, revision, resource_type,
			effective_on, record_time, method, snapshot FROM revisions`+w.sql(), w.args...)
		if err != nil {
			return nil, err
		}
		for _, rev := range revs {
			out[rev.ResourceID] = append(out[rev.ResourceID], rev)
		}
	}
	for _, revs := range out {
		slices.SortFunc(revs, func(a, b *ledger.Revision) int { return cmp.Compare(a.Revision, b.Revision) })
	}
	return out, nil
}

// RevisionsAt reads the named revisions in one query (400 a query where
// the driver has no array parameters): a record with many revisions is read
// for those asked, not whole.
func (r reader) RevisionsAt(ctx context.Context, keys []store.RevisionKey) (map[store.RevisionKey]*ledger.Revision, error) {
	out := make(map[store.RevisionKey]*ledger.Revision, len(keys))
	const cols = `SELECT resource_id, revision, resource_type, effective_on, record_time, method, snapshot FROM revisions`
	keep := func(revs []*ledger.Revision) {
		for _, rev := range revs {
			out[store.RevisionKey{ResourceID: rev.ResourceID, Revision: rev.Revision}] = rev
		}
	}
	if r.s.dialect.TextArrays {
		if len(keys) == 0 {
			return out, nil
		}
		ids, nums := make([]string, len(keys)), make([]int64, len(keys))
		for i, k := range keys {
			ids[i], nums[i] = k.ResourceID.String(), k.Revision
		}
		revs, err := list(ctx, r, "revisions", scanRevision, cols+`
			WHERE (resource_id, revision) IN (SELECT * FROM unnest($1::uuid[], $2::bigint[]))`, ids, nums)
		if err != nil {
			return nil, err
		}
		keep(revs)
		return out, nil
	}
	for part := range slices.Chunk(keys, 400) {
		var w where
		ph := make([]string, len(part))
		for i, k := range part {
			ph[i] = "(" + w.arg(k.ResourceID.String()) + ", " + w.arg(k.Revision) + ")"
		}
		w.add("(resource_id, revision) IN (" + strings.Join(ph, ", ") + ")")
		revs, err := list(ctx, r, "revisions", scanRevision, cols+w.sql(), w.args...)
		if err != nil {
			return nil, err
		}
		keep(revs)
	}
	return out, nil
}
