package sqlstore

import (
	"context"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/auth"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/store"
)

const partyCols = `id, display_name, kind, size_class, jurisdiction, registration_id, region_code,
	industry_code, unverified, version, create_time, update_time`

func scanParty(sc scanner) (*ledger.Party, error) {
	var p ledger.Party
	err := sc.Scan(&p.ID, &p.DisplayName, &p.Kind, &p.SizeClass, &p.Jurisdiction, &p.RegistrationID,
		&p.RegionCode, &p.IndustryCode, &p.Unverified, &p.Version, tsScan{&p.CreateTime}, tsScan{&p.UpdateTime})
	if err != nil {
		return nil, err
	}
	return &p, nil
}

func (r reader) GetParty(ctx context.Context, id uuid.UUID) (*ledger.Party, error) {
	return r.party(ctx, id, "")
}

func (t *tx) ShareParty(ctx context.Context, id uuid.UUID) (*ledger.Party, error) {
	return t.reader.party(ctx, id, t.s.dialect.ForShare)
}

func (t *tx) LockInvoices(ctx context.Context, ids []uuid.UUID) error {
	strs := make([]string, len(ids))
	for i, id := range ids {
		strs[i] = id.String()
	}
	if err := t.lockInOrder(ctx, "invoices", "id", strs); err != nil {
		return err
	}
	// Their escalation rows too, in the same order: a chunk's records
	// taken one by one each touch their invoice's row in the records'
	// order, and the sweeper, which locks only escalation rows, in id
	// order, deadlocked with them.
	return t.lockInOrder(ctx, "escalations", "invoice_id", strs)
}

// lockInOrder locks the rows of table whose col is among ids, in col's
// order, for writers that run side by side (PostgreSQL's arrays): a bulk
// UPDATE locks its rows in the order of its plan, so two of them on
// overlapping rows can deadlock unless both lock first, in one order.
// Where writers run one at a time (no lock clause) there is nothing to
// lock.
func (t *tx) lockInOrder(ctx context.Context, table, col string, ids []string) error {
	if t.s.dialect.ForUpdate == "" || !t.s.dialect.TextArrays || len(ids) == 0 {
		return nil
	}
	rows, err := t.w.QueryContext(ctx, `SELECT `+col+` FROM `+table+` WHERE `+col+` = ANY($1::uuid[]) ORDER BY `+col+t.s.dialect.ForUpdate, ids)
	if err != nil {
		return t.s.wrap("lock "+table, err)
	}
	defer rows.Close()
	for rows.Next() {
	}
	return t.s.wrap("lock "+table, rows.Err())
}

func (t *tx) LockParty(ctx context.Context, id uuid.UUID) (*ledger.Party, error) {
	return t.reader.party(ctx, id, t.s.dialect.ForUpdate)
}

// party reads a party by id, lock (empty, or a dialect lock clause) appended.
func (r reader) party(ctx context.Context, id uuid.UUID, lock string) (*ledger.Party, error) {
	return getOne(ctx, r, "party", scanParty, `SELECT `+partyCols+` FROM parties WHERE id = $1`+lock, id.String())
}

func (r reader) GetPartyByRegistration(ctx context.Context, jurisdiction, registrationID string) (*ledger.Party, error) {
	return getOne(ctx, r, "party", scanParty,
		`SELECT `+partyCols+` FROM parties WHERE jurisdiction = $1 AND registration_id = $2`, jurisdiction, registrationID)
}

func (r reader) ListParties(ctx context.Context, q store.PartyQuery) ([]*ledger.Party, error) {
	var w where
	w.partyScope(q.Scope)
	w.strings("jurisdiction", q.Jurisdiction)
	w.strings("kind", q.Kind)
	w.strings("size_class", q.SizeClass)
	w.strings("region_code", q.RegionCode)
	w.strings("industry_code", q.IndustryCode)
	for _, forms := range q.RegistrationID {
		w.oneOf("registration_id", forms, false, "")
	}
	order := w.page(q.Page)
	return list(ctx, r, "parties", scanParty, `SELECT `+partyCols+` FROM parties`+w.sql()+order, w.args...)
}

func (t *tx) CreateParty(ctx context.Context, p *ledger.Party, c store.Change) error {
	p.Version = 1
	ts := t.s.dialect.Timestamp
	_, err := t.w.ExecContext(ctx, `INSERT INTO parties (`+partyCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		p.ID.String(), p.DisplayName, p.Kind, p.SizeClass, p.Jurisdiction, p.RegistrationID, p.RegionCode,
		p.IndustryCode, p.Unverified, p.Version, ts(p.CreateTime), ts(p.UpdateTime))
	if err := t.insertErr("party", err); err != nil {
		return err
	}
	c.Debtor, c.Creditor = p.ID, p.ID
	return t.appendRevision(ctx, ledger.ResourceParty, p.ID, p.Version, p, c)
}

func (t *tx) UpdateParty(ctx context.Context, p *ledger.Party, c store.Change) error {
	res, err := t.w.ExecContext(ctx, `UPDATE parties SET display_name = $1, kind = $2, size_class = $3,
		region_code = $4, industry_code = $5, unverified = $6, update_time = $7, version = version + 1
		WHERE id = $8 AND version = $9`,
		p.DisplayName, p.Kind, p.SizeClass, p.RegionCode, p.IndustryCode, p.Unverified,
		t.s.dialect.Timestamp(p.UpdateTime), p.ID.String(), p.Version)
	if err := t.updated("party", res, err); err != nil {
		return err
	}
	p.Version++
	c.Debtor, c.Creditor = p.ID, p.ID
	return t.appendRevision(ctx, ledger.ResourceParty, p.ID, p.Version, p, c)
}

func (r reader) PartyVisible(ctx context.Context, scope auth.Scope, id uuid.UUID) (bool, error) {
	var w where
	w.add("id = " + w.arg(id.String()))
	w.partyScope(scope)
	return r.exists(ctx, "parties", w)
}
