package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/money"
	"github.com/arrears/arrears/internal/store"
	"github.com/arrears/arrears/internal/summary"
)

// nodeKeyCols are the columns naming a summary node; nodeMeasureCols the
// level figures, in summary.Measures order.
const nodeKeyCols = "node, jurisdiction, region_code, debtor_kind, currency"

var nodeMeasureCols = func() []string {
	names := []string{"count", "amount", "net_count", "net_amount"}
	var out []string
	for l := range summary.Levels {
		for _, n := range names {
			out = append(out, fmt.Sprintf("l%d_%s", l, n))
		}
	}
	return out
}()

// LockSummaryProfiles reads and locks profiles in invoice order, so that
// two writers locking some of the same rows take them in one order.
func (t *tx) LockSummaryProfiles(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]summary.Profile, error) {
	r := t.reader
	type stored struct {
		id      uuid.UUID
		profile summary.Profile
	}
	scan := func(sc scanner) (*stored, error) {
		var s stored
		var text string
		if err := sc.Scan(&s.id, &text); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(text), &s.profile); err != nil {
			return nil, fmt.Errorf("summary profile of %s: %w", s.id, err)
		}
		return &s, nil
	}
	strs := make([]string, len(ids))
	for i, id := range ids {
		strs[i] = id.String()
	}
	out := make(map[uuid.UUID]summary.Profile, len(ids))
	for _, part := range batches(strs, r.s.dialect.TextArrays) {
		var w where
		w.oneOf("invoice_id", part, r.s.dialect.TextArrays, "uuid[]")
		ps, err := list(ctx, r, "summary profiles", scan, "SELECT invoice_id, profile FROM summary_profiles"+w.sql()+" ORDER BY invoice_id"+t.s.dialect.ForUpdate, w.args...)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			out[p.id] = p.profile
		}
	}
	return out, nil
}

func (r reader) SummaryNodes(ctx context.Context, q store.NodeQuery) ([]store.NodeSum, error) {
	if len(q.Nodes) == 0 {
		return nil, nil
	}
	var w where
	ph := make([]string, len(q.Nodes))
	for i, n := range q.Nodes {
		ph[i] = w.arg(n)
	}
	w.add("node IN (" + strings.Join(ph, ", ") + ")")
	table, cols := "summary_nodes", "jurisdiction, region_code, debtor_kind, currency"
	if q.ByDebtor {
		table, cols = "summary_debtor_nodes", "debtor_id, "+cols
		if len(q.Debtors) > 0 {
			ids := make([]string, len(q.Debtors))
			for i, id := range q.Debtors {
				ids[i] = id.String()
			}
			w.oneOf("debtor_id", ids, r.s.dialect.TextArrays, "uuid[]")
		}
	}
	if q.Jurisdiction != "" {
		w.add("jurisdiction = " + w.arg(q.Jurisdiction))
	}
	if q.RegionPrefix != "" {
		w.add("region_code LIKE " + w.arg(likePrefix(q.RegionPrefix)) + " ESCAPE '!'")
	}
	if q.DebtorKind != "" {
		w.add("debtor_kind = " + w.arg(q.DebtorKind))
	}
	if q.Currency != "" {
		w.add("currency = " + w.arg(q.Currency))
	}
	// Each figure's sum is cast to an integer in the engine (PostgreSQL's
	// SUM of bigints is numeric, sent as text and parsed here: about a
	// fifth of arrearsd's CPU in a by-debtor summary). A sum past the int64 range fails that
	// (or SQLite's SUM); the figures are then summed again in two halves,
	// their high 32 bits (shifted keeping the sign) and low 32, whose sums
	// are far inside the range, and put together here, so that the group
	// past it is reported (Overflow) and the others read. Shifts and
	// masks, not division: CockroachDB divides integers into decimals.
	// The halves cost the engine twice the sums, so they are the fallback,
	// except inside a transaction, which PostgreSQL ends at the first
	// error: there they are read at once.
	from := " FROM " + table + w.sql() + " GROUP BY " + cols
	if r.q == querier(r.s.db) {
		sums := make([]string, len(nodeMeasureCols))
		for i, c := range nodeMeasureCols {
			sums[i] = "CAST(SUM(" + c + ") AS BIGINT)"
		}
		out, err := r.summaryRows(ctx, "SELECT "+cols+", MAX(overflow), "+strings.Join(sums, ", ")+from, w.args, q.ByDebtor, false)
		if err == nil || !r.s.dialect.OutOfRange(err) {
			return out, err
		}
	}
	halves := make([]string, 0, 2*len(nodeMeasureCols))
	for _, c := range nodeMeasureCols {
		halves = append(halves, "CAST(SUM("+c+" >> 32) AS BIGINT)", "CAST(SUM("+c+" & 4294967295) AS BIGINT)")
	}
	return r.summaryRows(ctx, "SELECT "+cols+", MAX(overflow), "+strings.Join(halves, ", ")+from, w.args, q.ByDebtor, true)
}

// summaryRows reads SummaryNodes' rows: the group's key, its mark, and its
// figures, whole or (halves) as high and low sums to join.
func (r reader) summaryRows(ctx context.Context, query string, args []any, byDebtor, halves bool) ([]store.NodeSum, error) {
	rows, err := r.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, r.s.wrap("sum summary nodes", err)
	}
	defer rows.Close()
	var out []store.NodeSum
	// One set of scan targets for every row (a by-debtor summary reads a
	// row per debtor), copied out after each.
	var cur store.NodeSum
	var overflow int64
	n := len(nodeMeasureCols)
	if halves {
		n *= 2
	}
	figures := make([]int64, n)
	dest := []any{&cur.Key.Jurisdiction, &cur.Key.Region, &cur.Key.Kind, &cur.Key.Currency, &overflow}
	if byDebtor {
		dest = append([]any{&cur.Key.Debtor}, dest...)
	}
	for i := range figures {
		dest = append(dest, &figures[i])
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, r.s.wrap("scan summary nodes", err)
		}
		s := store.NodeSum{Key: cur.Key, Marked: overflow != 0}
		i := 0
		for l := range s.M {
			for k := range s.M[l] {
				if !halves {
					s.M[l][k] = figures[i]
					i++
					continue
				}
				v, ok := joinHalves(figures[i], figures[i+1])
				s.M[l][k] = v
				s.Overflow = s.Overflow || !ok
				i += 2
			}
		}
		out = append(out, s)
	}
	return out, r.s.wrap("sum summary nodes", rows.Err())
}

// joinHalves is hi*2^32 + lo, the sums of a figure's high and low 32-bit
// halves (lo is not negative), and whether it is in the int64 range.
func joinHalves(hi, lo int64) (int64, bool) {
	if hi >= math.MinInt32 && hi <= math.MaxInt32 {
		if s, ok := money.AddMinor(hi<<32, lo); ok {
			return s, true
		}
		return 0, false
	}
	// A high sum past 2^31 in either way: a low sum of many rows may still
	// bring it back (below) or not (above).
	var v, l big.Int
	v.Lsh(v.SetInt64(hi), 32)
	v.Add(&v, l.SetInt64(lo))
	if !v.IsInt64() {
		return 0, false
	}
	return v.Int64(), true
}

// SummaryChangedAfter reads the latest change and compares it with t in
// Go: the statement has no parameter, so every engine and plan answers it
// with one probe at the end of the index, where "change_time > $1 LIMIT 1"
// under a cached generic plan may scan the whole table (it did, on
// PostgreSQL: 150 ms at a million invoices).
func (r reader) SummaryChangedAfter(ctx context.Context, t time.Time) (bool, error) {
	var latest time.Time
	err := r.q.QueryRowContext(ctx, "SELECT change_time FROM summary_profiles ORDER BY change_time DESC LIMIT 1").Scan(tsScan{&latest})
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, r.s.wrap("read the latest summary change", err)
	}
	return latest.After(t), nil
}

func (r reader) SummaryState(ctx context.Context, name string) (string, error) {
	var v string
	err := r.q.QueryRowContext(ctx, "SELECT value FROM summary_state WHERE name = $1", name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, r.s.wrap("read summary state", err)
}

func (t *tx) PutSummaryState(ctx context.Context, name, value string, replace bool) error {
	conflict := "DO NOTHING"
	if replace {
		conflict = "DO UPDATE SET value = excluded.value"
	}
	_, err := t.w.ExecContext(ctx, `INSERT INTO summary_state (name, value) VALUES ($1, $2) ON CONFLICT (name) `+conflict, name, value)
	return t.s.wrap("put summary state", err)
}

func (r reader) InvoicesWithoutProfile(ctx context.Context, after uuid.UUID, limit int) ([]uuid.UUID, error) {
	rows, err := r.q.QueryContext(ctx, fmt.Sprintf(`SELECT id FROM invoices i
		WHERE i.id > $1 AND NOT EXISTS (SELECT 1 FROM summary_profiles p WHERE p.invoice_id = i.id) ORDER BY id LIMIT %d`, limit), after.String())
	if err != nil {
		return nil, r.s.wrap("list invoices without profile", err)
	}
	defer rows.Close()
	var out []uuid.UUID
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			return nil, r.s.wrap("scan invoice id", err)
		}
		out = append(out, id)
	}
	return out, r.s.wrap("list invoices without profile", rows.Err())
}

func (t *tx) PutSummaryProfiles(ctx context.Context, ps []store.ProfileChange, nodes []summary.NodeChange, at time.Time) error {
	var fresh [][]any
	var ids, debtors, texts []string
	var buf []byte
	for _, p := range ps {
		buf = buf[:0]
		if p.Profile == nil {
			buf = append(buf, "[]"...)
		} else {
			buf = p.Profile.AppendJSON(buf)
		}
		text := string(buf)
		if p.New {
			fresh = append(fresh, []any{t.s.dialect.ID(p.InvoiceID), t.s.dialect.ID(p.DebtorID), t.s.dialect.Timestamp(at), text})
			continue
		}
		ids, debtors, texts = append(ids, p.InvoiceID.String()), append(debtors, p.DebtorID.String()), append(texts, text)
	}
	// change_time never moves back: a transaction that read its clock
	// earlier but committed later would otherwise make the latest change
	// look older than one already counted, and SummaryChangedAfter miss it.
	const upsert = ` ON CONFLICT (invoice_id) DO UPDATE SET debtor_id = excluded.debtor_id,
		change_time = CASE WHEN excluded.change_time > summary_profiles.change_time THEN excluded.change_time ELSE summary_profiles.change_time END,
		profile = excluded.profile`
	switch {
	case len(ids) == 0:
	case t.s.dialect.TextArrays:
		// One statement for the lot, as for the node rows.
		_, err := t.w.ExecContext(ctx, `INSERT INTO summary_profiles (invoice_id, debtor_id, change_time, profile)
			SELECT i, d, $3::timestamptz, p FROM unnest($1::uuid[], $2::uuid[], $4::text[]) AS u(i, d, p)`+upsert, ids, debtors, t.s.dialect.Timestamp(at), texts)
		if err != nil {
			return t.s.wrap("put summary profiles", err)
		}
	default:
		for i := range ids {
			_, err := t.w.ExecContext(ctx, `INSERT INTO summary_profiles (invoice_id, debtor_id, change_time, profile) VALUES ($1, $2, $3, $4)`+upsert,
				ids[i], debtors[i], t.s.dialect.Timestamp(at), texts[i])
			if err != nil {
				return t.s.wrap("put summary profile", err)
			}
		}
	}
	if err := t.load(ctx, "summary_profiles", []string{"invoice_id", "debtor_id", "change_time", "profile"}, fresh); err != nil {
		return err
	}
	t.nodes = append(t.nodes, nodes...)
	return nil
}

// flushNodes writes the transaction's summary node changes, summed, per
// debtor and rolled up, each in group and node order.
func (t *tx) flushNodes(ctx context.Context) error {
	if len(t.nodes) == 0 {
		return nil
	}
	nodes := summary.Coalesce(t.nodes)
	t.nodes = nil
	if err := t.addNodes(ctx, "summary_debtor_nodes", nodes); err != nil {
		return err
	}
	return t.addNodes(ctx, "summary_nodes", summary.Rollup(nodes))
}

// addNodes adds node changes to the aggregates of table, in the order
// given (the caller sorts them, so concurrent writers lock rows in one
// order).
func (t *tx) addNodes(ctx context.Context, table string, nodes []summary.NodeChange) error {
	if len(nodes) == 0 {
		return nil
	}
	keyCols := nodeKeyCols
	if table == "summary_debtor_nodes" {
		keyCols = "node, debtor_id, jurisdiction, region_code, debtor_kind, currency"
	}
	cols := append(splitCols(keyCols), nodeMeasureCols...)
	// A figure the change would take past the int64 range keeps its value
	// and marks the row (overflow), in every engine alike: PostgreSQL
	// failed the write, SQLite turned the figure into a rounded float.
	// Each test subtracts the change from the bound on its side, which
	// cannot overflow; CASE, unlike AND, runs only the branch that holds.
	sets := make([]string, len(nodeMeasureCols))
	beyond := make([]string, len(nodeMeasureCols))
	for i, c := range nodeMeasureCols {
		old, add := table+"."+c, "excluded."+c
		beyond[i] = "(CASE WHEN " + add + " > 0 THEN " + old + " > 9223372036854775807 - " + add +
			" WHEN " + add + " < 0 THEN " + old + " < (-9223372036854775807 - 1) - " + add + " ELSE false END)"
		sets[i] = c + " = CASE WHEN " + beyond[i] + " THEN " + old + " ELSE " + old + " + " + add + " END"
	}
	sets = append(sets, "overflow = CASE WHEN "+strings.Join(beyond, " OR ")+" THEN 1 ELSE "+table+".overflow END")
	conflict := " ON CONFLICT (" + keyCols + ") DO UPDATE SET " + strings.Join(sets, ", ")
	byDebtor := table == "summary_debtor_nodes"
	keyOf := func(n *summary.NodeChange) []string {
		k := []string{n.Key.Jurisdiction, n.Key.Region, n.Key.Kind, n.Key.Currency}
		if byDebtor {
			k = append([]string{n.Key.Debtor}, k...)
		}
		return k
	}
	if t.s.dialect.TextArrays {
		// One statement for the lot: a column array each, unnested.
		nk := len(cols) - len(nodeMeasureCols) - 1
		node := make([]int32, len(nodes))
		keys := make([][]string, nk)
		for i := range keys {
			keys[i] = make([]string, len(nodes))
		}
		ms := make([][]int64, len(nodeMeasureCols))
		for i := range ms {
			ms[i] = make([]int64, len(nodes))
		}
		for i := range nodes {
			n := &nodes[i]
			node[i] = n.Node
			for k, v := range keyOf(n) {
				keys[k][i] = v
			}
			c := 0
			for l := range n.M {
				for k := range n.M[l] {
					ms[c][i] = n.M[l][k]
					c++
				}
			}
		}
		args := []any{node}
		types := []string{"int4[]"}
		for i := range keys {
			args = append(args, keys[i])
			types = append(types, "text[]")
		}
		if byDebtor {
			types[1] = "uuid[]"
		}
		for i := range ms {
			args = append(args, ms[i])
			types = append(types, "int8[]")
		}
		ph := make([]string, len(cols))
		for i := range ph {
			ph[i] = fmt.Sprintf("$%d::%s", i+1, types[i])
		}
		_, err := t.w.ExecContext(ctx, "INSERT INTO "+table+" ("+strings.Join(cols, ", ")+") SELECT * FROM unnest("+
			strings.Join(ph, ", ")+")"+conflict, args...)
		return t.s.wrap("add summary nodes", err)
	}
	ph := make([]string, len(cols))
	for i := range ph {
		ph[i] = fmt.Sprintf("$%d", i+1)
	}
	q := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(ph, ", ") + ")" + conflict
	args := make([]any, len(cols))
	for i := range nodes {
		n := &nodes[i]
		args[0] = n.Node
		c := 1
		for _, v := range keyOf(n) {
			args[c] = v
			c++
		}
		for l := range n.M {
			for k := range n.M[l] {
				args[c] = n.M[l][k]
				c++
			}
		}
		if _, err := t.w.ExecContext(ctx, q, args...); err != nil {
			return t.s.wrap("add summary node", err)
		}
	}
	return nil
}
