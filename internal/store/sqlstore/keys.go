package sqlstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/audit"
	"github.com/arrears/arrears/internal/auth"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/store"
)

const keyCols = `id, prefix, secret_hash, role, description, parties, remit_jurisdiction, remit_region_prefix,
	portal, client_cert_sha256, create_time, expire_time, revoke_time`

// nullTS scans an optional timestamp.
type nullTS struct{ t *time.Time }

func (n nullTS) Scan(src any) error {
	if src == nil {
		*n.t = time.Time{}
		return nil
	}
	return tsScan(n).Scan(src)
}

func (s *Store) nullTimestamp(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return s.dialect.Timestamp(t)
}

func scanKey(sc scanner) (*auth.Key, error) {
	var k auth.Key
	var parties string
	err := sc.Scan(&k.ID, &k.Prefix, &k.SecretHash, &k.Role, &k.Description, &parties, &k.Remit.Jurisdiction,
		&k.Remit.RegionPrefix, &k.Portal, &k.ClientCertSHA256, tsScan{&k.CreateTime}, nullTS{&k.ExpireTime}, nullTS{&k.RevokeTime})
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(parties), &k.Parties); err != nil {
		return nil, fmt.Errorf("key %s parties: %w", k.Prefix, err)
	}
	return &k, nil
}

func (r reader) GetKey(ctx context.Context, prefix string) (*auth.Key, error) {
	return getOne(ctx, r, "key", scanKey, `SELECT `+keyCols+` FROM api_keys WHERE prefix = $1`, prefix)
}

func (r reader) KeyAuditSnapshot(ctx context.Context, id uuid.UUID) ([]byte, error) {
	k, err := getOne(ctx, r, "key", scanKey, `SELECT `+keyCols+` FROM api_keys WHERE id = $1`, id.String())
	if err != nil {
		return nil, err
	}
	return keySnapshot(k), nil
}

func (r reader) ListKeys(ctx context.Context, p store.Page) ([]*auth.Key, error) {
	var w where
	order := w.page(p)
	return list(ctx, r, "keys", scanKey, `SELECT `+keyCols+` FROM api_keys`+w.sql()+order, w.args...)
}

func (r reader) CountKeys(ctx context.Context) (int64, error) {
	var n int64
	if err := r.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM api_keys`).Scan(&n); err != nil {
		return 0, r.s.wrap("count keys", err)
	}
	return n, nil
}

func (r reader) PortalAuthorized(ctx context.Context, portal string, creditor uuid.UUID) (bool, error) {
	var w where
	w.add("portal = " + w.arg(portal))
	w.add("creditor_id = " + w.arg(creditor.String()))
	return r.exists(ctx, "portal_grants", w)
}

func (r reader) PortalGrants(ctx context.Context) ([]store.PortalGrant, error) {
	rows, err := r.q.QueryContext(ctx, `SELECT portal, creditor_id FROM portal_grants ORDER BY creditor_id, portal`)
	if err != nil {
		return nil, r.s.wrap("list portal grants", err)
	}
	defer rows.Close()
	var out []store.PortalGrant
	for rows.Next() {
		var g store.PortalGrant
		if err := rows.Scan(&g.Portal, &g.Creditor); err != nil {
			return nil, r.s.wrap("scan portal grant", err)
		}
		out = append(out, g)
	}
	return out, r.s.wrap("list portal grants", rows.Err())
}

// keySnapshot is what the audit trail records of a key: never its hash,
// but a digest of it, so that a hash replaced in the database (taking the
// key over) shows in verify. The digest is the last member: a snapshot
// recorded before it existed is the same bytes without it
// (store.LegacyKeySnapshot). No parties is written as [], as the row
// stores it, so that the state audited at creation equals the state read
// back.
func keySnapshot(k *auth.Key) []byte {
	parties := k.Parties
	if parties == nil {
		parties = []uuid.UUID{}
	}
	secret := sha256.Sum256(k.SecretHash)
	b, _ := json.Marshal(struct {
		Prefix, Role, Description, Portal, ClientCertSHA256 string
		Parties                                             []uuid.UUID
		Remit                                               auth.Remit
		ExpireTime, RevokeTime                              time.Time
		SecretDigest                                        string
	}{k.Prefix, string(k.Role), k.Description, k.Portal, k.ClientCertSHA256, parties, k.Remit, k.ExpireTime, k.RevokeTime,
		hex.EncodeToString(secret[:])})
	return b
}

func (t *tx) CreateKey(ctx context.Context, k *auth.Key, c store.Change) error {
	parties, _ := json.Marshal(k.Parties)
	if k.Parties == nil {
		parties = []byte("[]")
	}
	_, err := t.w.ExecContext(ctx, `INSERT INTO api_keys (`+keyCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		k.ID.String(), k.Prefix, k.SecretHash, string(k.Role), k.Description, string(parties), k.Remit.Jurisdiction,
		k.Remit.RegionPrefix, k.Portal, k.ClientCertSHA256, t.s.dialect.Timestamp(k.CreateTime), t.s.nullTimestamp(k.ExpireTime), t.s.nullTimestamp(k.RevokeTime))
	if err := t.insertErr("key", err); err != nil {
		return err
	}
	c.Debtor, c.Creditor = audit.SystemChain, uuid.Nil
	return t.appendEvent(ctx, "api_key", k.ID, 1, nil, keySnapshot(k), c)
}

func (t *tx) RevokeKey(ctx context.Context, k *auth.Key, c store.Change) error {
	before := *k
	before.RevokeTime = time.Time{}
	// Only a key not yet revoked: a revocation read before another one
	// committed is a conflict, and the rerun finds the key revoked.
	res, err := t.w.ExecContext(ctx, `UPDATE api_keys SET revoke_time = $1 WHERE id = $2 AND revoke_time IS NULL`,
		t.s.dialect.Timestamp(k.RevokeTime), k.ID.String())
	if err := t.updated("api key", res, err); err != nil {
		return err
	}
	c.Debtor, c.Creditor = audit.SystemChain, uuid.Nil
	return t.appendEvent(ctx, "api_key", k.ID, 2, keySnapshot(&before), keySnapshot(k), c)
}

func (t *tx) LockAdminKeys(ctx context.Context) ([]*auth.Key, error) {
	// In id order, so that two transactions locking them do not deadlock.
	return list(ctx, t.reader, "keys", scanKey, `SELECT `+keyCols+` FROM api_keys WHERE role = $1 AND revoke_time IS NULL ORDER BY id`+t.s.dialect.ForUpdate,
		string(auth.RoleAdmin))
}

func (t *tx) AuthorizePortal(ctx context.Context, portal string, creditor uuid.UUID, c store.Change) error {
	res, err := t.w.ExecContext(ctx, `INSERT INTO portal_grants (portal, creditor_id, create_time) VALUES ($1, $2, $3)
		ON CONFLICT (portal, creditor_id) DO NOTHING`, portal, creditor.String(), t.s.dialect.Timestamp(c.RecordTime))
	if err != nil {
		return t.s.wrap("authorize portal", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return t.s.wrap("authorize portal", err)
	} else if n == 0 {
		return nil // authorised already: nothing changed, nothing to audit
	}
	c.Debtor, c.Creditor = creditor, creditor
	snap, _ := json.Marshal(map[string]string{"portal": portal, "creditor": creditor.String()})
	return t.appendEvent(ctx, "portal_grant", creditor, 0, nil, snap, c)
}

func (t *tx) RevokePortal(ctx context.Context, portal string, creditor uuid.UUID, c store.Change) error {
	res, err := t.w.ExecContext(ctx, `DELETE FROM portal_grants WHERE portal = $1 AND creditor_id = $2`, portal, creditor.String())
	if err != nil {
		return t.s.wrap("revoke portal", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return t.s.wrap("revoke portal", err)
	} else if n == 0 {
		return fmt.Errorf("portal %q is not authorised for this supplier: %w", portal, ledger.ErrNotFound)
	}
	c.Debtor, c.Creditor = creditor, creditor
	snap, _ := json.Marshal(map[string]string{"portal": portal, "creditor": creditor.String()})
	return t.appendEvent(ctx, "portal_grant", creditor, 0, snap, []byte(`{}`), c)
}

func (t *tx) ClaimOnce(ctx context.Context, name string) (bool, error) {
	// The secrets table's primary key decides: a concurrent claimant waits
	// for the first one's commit, then inserts nothing.
	res, err := t.w.ExecContext(ctx, `INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`,
		"once:"+name, []byte{1})
	if err != nil {
		return false, t.s.wrap("claim "+name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, t.s.wrap("claim "+name, err)
	}
	return n == 1, nil
}
