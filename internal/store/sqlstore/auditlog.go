package sqlstore

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/audit"
	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/store"
)

// appendEvent makes the audit event of a change for its debtor's chain, in
// the transaction of the change; flushEvents seals and writes it at commit.
// Two transactions racing on one chain both try the same sequence number;
// the loser hits the primary key and is retried by ReadWriteTx, so the chain
// never forks and no lock is needed.
func (t *tx) appendEvent(_ context.Context, typ string, id uuid.UUID, revision int64, before, after []byte, c store.Change) error {
	changes, err := audit.Diff(before, after)
	if err != nil {
		return fmt.Errorf("audit diff: %w", err)
	}
	t.events = append(t.events, newEvent(c.Debtor, c.Creditor, typ, id, revision, after, changes, civil.Date{}, c))
	return nil
}

// newEvent is the audit event, not yet sealed onto its chain (the
// debtor's), of a record's revision with snapshot snap.
// newEvent makes an event; effective is the business date of the revision
// it records (zero where the change writes none), which the event's hash
// covers, so verify sees the revision's date altered as its snapshot.
func newEvent(debtor, creditor uuid.UUID, typ string, id uuid.UUID, revision int64, snap []byte, changes string, effective civil.Date, c store.Change) *audit.Event {
	e := &audit.Event{Chain: debtor, Debtor: debtor, Creditor: creditor, // EventID: at flushEvents
		RecordTime: c.RecordTime.UTC(), Actor: c.Actor, Method: c.Method, ResourceType: typ, ResourceID: id,
		Revision: revision, SnapshotDigest: audit.Digest(snap), Changes: changes, EffectiveOn: effective}
	if e.Actor == "" {
		e.Actor = "system"
	}
	return e
}

// chainHead reads the newest event of a chain, and its id; nil for an
// empty chain.
func (t *tx) chainHead(ctx context.Context, chain uuid.UUID) (*audit.Head, uuid.UUID, error) {
	var h audit.Head
	var id string
	err := t.w.QueryRowContext(ctx, `SELECT seq, hash, event_id FROM audit_events WHERE chain_id = $1 ORDER BY seq DESC LIMIT 1`,
		chain.String()).Scan(&h.Seq, &h.Hash, &id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, uuid.Nil, nil
	case err != nil:
		return nil, uuid.Nil, t.s.wrap("read audit head", err)
	}
	last, err := uuid.Parse(id)
	if err != nil {
		return nil, uuid.Nil, fmt.Errorf("audit head of chain %s: event id %q: %w", chain, id, err)
	}
	h.Chain = chain
	return &h, last, nil
}

// eventRow is a sealed event's values in eventCols order.
func (t *tx) eventRow(e *audit.Event) []any {
	id := t.s.dialect.ID
	return []any{id(e.Chain), e.Seq, id(e.EventID), t.idOrNull(e.Debtor), t.idOrNull(e.Creditor),
		t.s.dialect.Timestamp(e.RecordTime), e.Actor, e.Method, e.ResourceType, id(e.ResourceID), e.Revision,
		e.SnapshotDigest, e.Changes, e.PrevHash, e.Hash, e.EffectiveOn}
}

const eventCols = `chain_id, seq, event_id, debtor_id, creditor_id, record_time, actor, method, resource_type,
	resource_id, revision, snapshot_digest, changes, prev_hash, hash, effective_on`

func scanEvent(sc scanner) (*audit.Event, error) {
	var e audit.Event
	var debtor, creditor *string
	err := sc.Scan(&e.Chain, &e.Seq, &e.EventID, &debtor, &creditor, tsScan{&e.RecordTime}, &e.Actor, &e.Method,
		&e.ResourceType, &e.ResourceID, &e.Revision, &e.SnapshotDigest, &e.Changes, &e.PrevHash, &e.Hash, &e.EffectiveOn)
	if err != nil {
		return nil, err
	}
	for _, p := range []struct {
		s  *string
		id *uuid.UUID
	}{{debtor, &e.Debtor}, {creditor, &e.Creditor}} {
		if p.s != nil {
			if *p.id, err = uuid.Parse(*p.s); err != nil {
				return nil, err
			}
		}
	}
	return &e, nil
}

func (r reader) ListEvents(ctx context.Context, q store.EventQuery) ([]*audit.Event, error) {
	var w where
	w.scope(q.Scope, "debtor_id", "creditor_id")
	if !q.Scope.All {
		w.add("chain_id <> " + w.arg(audit.SystemChain.String()))
	}
	if (q.Scope.Portal != "" || q.Scope.Remit != nil) && !q.Scope.All {
		// A supplier's grants name the portals it uses: another portal
		// serving the same supplier must not learn them, nor a regulator,
		// whose remit is over debtors, which portals its region's
		// suppliers use (and the prefix of the key that chose them).
		w.add("resource_type <> 'portal_grant'")
	}
	// Events recorded up to Until's millisecond, by the id the feed pages
	// by (audit.EventIDAt): a bound on record_time instead could hide an
	// event the cursor then passes.
	w.add("event_id > " + w.arg(q.After.String()))
	w.add("event_id < " + w.arg(audit.EventIDFloor(q.Until.Add(time.Millisecond)).String()))
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	evs, err := list(ctx, r, "events", scanEvent, fmt.Sprintf(`SELECT `+eventCols+` FROM audit_events%s ORDER BY event_id LIMIT %d`, w.sql(), limit), w.args...)
	if err != nil {
		return nil, err
	}
	return evs, r.createdFromRevisions(ctx, evs)
}

type created struct {
	id   uuid.UUID
	snap string
}

func scanCreated(sc scanner) (*created, error) {
	var c created
	return &c, sc.Scan(&c.id, &c.snap)
}

// createdFromRevisions gives each creation event stored as
// audit.InRevision its record, from the first revision, as the feed shows
// it. A revision that is gone (verify reports it) leaves the event as is.
func (r reader) createdFromRevisions(ctx context.Context, evs []*audit.Event) error {
	var ids []string
	for _, e := range evs {
		if e.Changes == audit.InRevision && e.Revision == 1 {
			ids = append(ids, e.ResourceID.String())
		}
	}
	snaps := make(map[uuid.UUID]string, len(ids))
	for _, part := range batches(ids, r.s.dialect.TextArrays) {
		var w where
		w.add("revision = 1")
		w.oneOf("resource_id", part, r.s.dialect.TextArrays, "uuid[]")
		revs, err := list(ctx, r, "created records", scanCreated, `SELECT resource_id, snapshot FROM revisions`+w.sql(), w.args...)
		if err != nil {
			return err
		}
		for _, c := range revs {
			snaps[c.id] = c.snap
		}
	}
	for _, e := range evs {
		if snap, ok := snaps[e.ResourceID]; ok && e.Changes == audit.InRevision && e.Revision == 1 {
			e.Changes = snap
		}
	}
	return nil
}

func (r reader) ChainHeads(ctx context.Context) ([]audit.Head, error) {
	rows, err := r.q.QueryContext(ctx, `SELECT e.chain_id, e.seq, e.hash FROM audit_events e
		JOIN (SELECT chain_id, MAX(seq) AS seq FROM audit_events GROUP BY chain_id) h
		ON e.chain_id = h.chain_id AND e.seq = h.seq ORDER BY e.chain_id`)
	if err != nil {
		return nil, r.s.wrap("chain heads", err)
	}
	defer rows.Close()
	var out []audit.Head
	for rows.Next() {
		var h audit.Head
		if err := rows.Scan(&h.Chain, &h.Seq, &h.Hash); err != nil {
			return nil, r.s.wrap("chain heads", err)
		}
		out = append(out, h)
	}
	return out, r.s.wrap("chain heads", rows.Err())
}

func (r reader) ListChainEvents(ctx context.Context, chain uuid.UUID, after int64, limit int) ([]*audit.Event, error) {
	// From math.MinInt64, every event: none can come after nothing in
	// "seq > after", and one stored at the lowest sequence (behind the
	// service's back: it starts at 1) would go unread by verify.
	op := ">"
	if after == math.MinInt64 {
		op = ">="
	}
	return list(ctx, r, "chain events", scanEvent, fmt.Sprintf(`SELECT `+eventCols+` FROM audit_events
		WHERE chain_id = $1 AND seq %s $2 ORDER BY seq LIMIT %d`, op, limit), chain.String(), after)
}

const checkpointCols = `id, create_time, chain_count, event_count, heads_digest, heads, statement, signature, public_key, base_id`

// storedCheckpoint is a checkpoint as its row holds it: with a base, its
// heads are only those that differ from the base's (see PutCheckpoint).
type storedCheckpoint struct {
	audit.Checkpoint
	base uuid.NullUUID
}

func scanCheckpoint(sc scanner) (*storedCheckpoint, error) {
	var c storedCheckpoint
	var heads string
	err := sc.Scan(&c.ID, tsScan{&c.CreateTime}, &c.ChainCount, &c.EventCount, &c.HeadsDigest, &heads, &c.Statement, &c.Signature, &c.PublicKey, &c.base)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(heads), &c.Heads); err != nil {
		return nil, err
	}
	return &c, nil
}

// resolve gives stored checkpoints their whole heads: a base's with the
// checkpoint's own laid over them. bases holds the full checkpoints read
// so far, by id; one not there is read. A base that is gone leaves the
// checkpoint its own heads only, which then fail its digest: verify says
// so, rather than failing.
func (r reader) resolve(ctx context.Context, cs []*storedCheckpoint, bases map[uuid.UUID][]audit.Head) ([]*audit.Checkpoint, error) {
	out := make([]*audit.Checkpoint, len(cs))
	for i, c := range cs {
		out[i] = &c.Checkpoint
		if !c.base.Valid {
			bases[c.ID] = c.Heads
			continue
		}
		base, ok := bases[c.base.UUID]
		if !ok {
			b, err := getOne(ctx, r, "checkpoint", scanCheckpoint, `SELECT `+checkpointCols+` FROM audit_checkpoints WHERE id = $1`, c.base.UUID.String())
			switch {
			case errors.Is(err, ledger.ErrNotFound):
				// Gone: its deltas keep their own heads, and fail.
			case err != nil:
				return nil, err
			case !b.base.Valid:
				base = b.Heads // a base is whole: one that is not fails its deltas too
			}
			bases[c.base.UUID] = base
		}
		out[i].Heads = mergeHeads(base, c.Heads)
	}
	return out, nil
}

// mergeHeads is base with over laid on it, in chain order.
func mergeHeads(base, over []audit.Head) []audit.Head {
	byChain := make(map[uuid.UUID]audit.Head, len(base)+len(over))
	for _, h := range base {
		byChain[h.Chain] = h
	}
	for _, h := range over {
		byChain[h.Chain] = h
	}
	out := make([]audit.Head, 0, len(byChain))
	for _, h := range byChain {
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, b audit.Head) int { return bytes.Compare(a.Chain[:], b.Chain[:]) })
	return out
}

// LatestCheckpoint is the checkpoint of the latest state: of the newest
// few by time, the one covering the most events. Two replicas signing at
// once each read the heads, then the clock, so the later time may carry
// the earlier heads; events are only ever added, so more of them is later.
//
// The few are compared by their counts alone, and only the one chosen is
// read whole: a checkpoint holds every chain's head, megabytes of them on
// a large ledger.
func (r reader) LatestCheckpoint(ctx context.Context) (*audit.Checkpoint, error) {
	type brief struct {
		id     string
		events int64
	}
	scan := func(sc scanner) (*brief, error) {
		var b brief
		return &b, sc.Scan(&b.id, &b.events)
	}
	bs, err := list(ctx, r, "checkpoints", scan, `SELECT id, event_count FROM audit_checkpoints ORDER BY create_time DESC, id DESC LIMIT 10`)
	if err != nil {
		return nil, err
	}
	if len(bs) == 0 {
		return nil, ledger.ErrNotFound
	}
	best := bs[0]
	for _, b := range bs[1:] {
		if b.events > best.events {
			best = b
		}
	}
	c, err := getOne(ctx, r, "checkpoint", scanCheckpoint, `SELECT `+checkpointCols+` FROM audit_checkpoints WHERE id = $1`, best.id)
	if err != nil {
		return nil, err
	}
	cs, err := r.resolve(ctx, []*storedCheckpoint{c}, map[uuid.UUID][]audit.Head{})
	if err != nil {
		return nil, err
	}
	return cs[0], nil
}

func (r reader) CheckpointCovers(ctx context.Context, digest, publicKey string, since time.Time) (bool, error) {
	// Among the newest few, as LatestCheckpoint picks (found through the
	// create_time index), and by small columns: no heads are read.
	q := `SELECT COUNT(*) FROM (SELECT heads_digest, public_key, create_time FROM audit_checkpoints
		ORDER BY create_time DESC, id DESC LIMIT 10) c WHERE public_key = $2 AND (heads_digest = $1`
	args := []any{digest, publicKey}
	if !since.IsZero() {
		q += ` OR create_time >= $3`
		args = append(args, r.s.dialect.Timestamp(since))
	}
	var n int
	err := r.q.QueryRowContext(ctx, q+`)`, args...).Scan(&n)
	return n > 0, r.s.wrap("find checkpoint", err)
}

func (r reader) ListCheckpoints(ctx context.Context) ([]*audit.Checkpoint, error) {
	cs, err := list(ctx, r, "checkpoints", scanCheckpoint, `SELECT `+checkpointCols+` FROM audit_checkpoints ORDER BY create_time, id`)
	if err != nil {
		return nil, err
	}
	return r.resolve(ctx, cs, map[uuid.UUID][]audit.Head{})
}

// A checkpoint names every chain's head: megabytes on a ledger of many
// debtors, signed every few minutes, most of it as the one before. So a
// checkpoint is stored whole now and then (its base_id NULL), and in
// between as the heads that differ from the newest whole one by the same
// key (its base): a whole one is written when there is none yet, when the
// newest is a day old, or when a quarter of the chains or more have moved
// since (the difference would cost nearly as much). Chains are never
// removed; should one be missing from the heads (a trail truncated behind
// the service's back), the checkpoint is stored whole, as signed.
const (
	wholeCheckpointEvery = 24 * time.Hour
	wholeCheckpointShare = 4 // a whole one once 1/4 of the chains moved
)

// PutCheckpoint implements store.Store.
func (s *Store) PutCheckpoint(ctx context.Context, c *audit.Checkpoint) error {
	stored, base := c.Heads, any(nil)
	// The base is the newest whole one by the key, not after this one, and
	// only one that verifies: a row that does not (damaged, or forged by
	// someone without the key) would make every checkpoint after it fail
	// with it. Any trouble reading it, and this one is stored whole.
	whole, err := getOne(ctx, s.r(), "checkpoint", scanCheckpoint, `SELECT `+checkpointCols+` FROM audit_checkpoints
		WHERE base_id IS NULL AND public_key = $1 AND create_time <= $2 ORDER BY create_time DESC, id DESC LIMIT 1`,
		c.PublicKey, s.dialect.Timestamp(c.CreateTime))
	if pub, kerr := base64.StdEncoding.DecodeString(c.PublicKey); err == nil && kerr == nil && len(pub) == ed25519.PublicKeySize &&
		c.CreateTime.Sub(whole.CreateTime) < wholeCheckpointEvery && whole.Verify(pub) == nil {
		if moved, ok := headsMoved(whole.Heads, c.Heads); ok && len(moved)*wholeCheckpointShare < len(c.Heads) {
			stored, base = moved, whole.ID.String()
		}
	}
	heads, err := json.Marshal(stored)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO audit_checkpoints (`+checkpointCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		c.ID.String(), s.dialect.Timestamp(c.CreateTime), c.ChainCount, c.EventCount, c.HeadsDigest, string(heads), c.Statement, c.Signature, c.PublicKey, base)
	return s.wrap("insert checkpoint", err)
}

// headsMoved lists the heads of now that differ from base's; false if a
// chain of base is not in now.
func headsMoved(base, now []audit.Head) ([]audit.Head, bool) {
	was := make(map[uuid.UUID]audit.Head, len(base))
	for _, h := range base {
		was[h.Chain] = h
	}
	moved := []audit.Head{}
	seen := 0
	for _, h := range now {
		old, ok := was[h.Chain]
		if ok {
			seen++
		}
		if !ok || old != h {
			moved = append(moved, h)
		}
	}
	return moved, seen == len(base)
}
