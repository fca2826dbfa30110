package service

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/audit"
	"github.com/arrears/arrears/internal/auth"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/regid"
	"github.com/arrears/arrears/internal/store"
)

// Authenticate turns a presented bearer token into a principal. The key is
// read on every call, so expiry and revocation take effect at once.
func (l *Ledger) Authenticate(ctx context.Context, token string) (*auth.Principal, error) {
	prefix, hash, err := auth.ParseToken(token)
	if err != nil {
		return nil, auth.ErrUnauthenticated
	}
	k, err := l.store.GetKey(ctx, prefix)
	if errors.Is(err, ledger.ErrNotFound) {
		return nil, auth.ErrUnauthenticated
	}
	if err != nil {
		return nil, err
	}
	if !k.Matches(hash) || !k.Active(l.clock.Now()) {
		return nil, auth.ErrUnauthenticated
	}
	return &auth.Principal{KeyID: k.ID, Prefix: k.Prefix, Role: k.Role, Parties: k.Parties, Remit: k.Remit, Portal: k.Portal,
		RequireCert: k.ClientCertSHA256}, nil
}

// KeySpec is what a new key is for.
type KeySpec struct {
	Role        auth.Role
	Description string
	Parties     []PartyRef
	Remit       auth.Remit
	Portal      string
	ExpireTime  time.Time
	// ClientCertSHA256 binds the key to a client certificate (hex SHA-256
	// of its DER), usable only over mutual TLS.
	ClientCertSHA256 string

	// once names a one-time step the key is created by (the first admin
	// key): the key is created only by the first transaction to claim it.
	once string
}

// errClaimed means a one-time step was already done, by another replica or
// an earlier start.
var errClaimed = errors.New("already done")

var (
	portalNameRE      = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,62}$`)
	certFingerprintRE = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// CreateKey makes an API key and returns it with its token, which is shown
// this once and stored only as a hash.
func (l *Ledger) CreateKey(ctx context.Context, spec KeySpec) (*auth.Key, string, error) {
	now := l.now()
	var v ledger.ValidationError
	if !spec.Role.Valid() {
		v.Add("api_key.role", "must be DEBTOR, CREDITOR, PORTAL, REGULATOR or ADMIN")
	}
	needParties := spec.Role == auth.RoleDebtor || spec.Role == auth.RoleCreditor
	switch {
	case needParties && len(spec.Parties) == 0:
		v.Add("api_key.parties", "a %s key must name the parties it acts for", spec.Role)
	case !needParties && spec.Role != auth.RoleRegulator && len(spec.Parties) > 0:
		v.Add("api_key.parties", "only DEBTOR, CREDITOR and REGULATOR keys act for parties")
	}
	if spec.Role == auth.RoleRegulator {
		if !regid.IsJurisdiction(spec.Remit.Jurisdiction) {
			v.Add("api_key.remit_jurisdiction", "a REGULATOR key needs the jurisdiction of its remit")
		}
		ledger.ValidateRegionPrefix(&v, "api_key.remit_region_prefix", spec.Remit.RegionPrefix)
	} else {
		if spec.Remit.Jurisdiction != "" {
			v.Add("api_key.remit_jurisdiction", "only REGULATOR keys have a remit")
		}
		if spec.Remit.RegionPrefix != "" {
			v.Add("api_key.remit_region_prefix", "only REGULATOR keys have a remit")
		}
	}
	if spec.Role == auth.RolePortal && !portalNameRE.MatchString(spec.Portal) {
		v.Add("api_key.portal", "a PORTAL key needs a portal name of 2-63 lower-case letters, digits, dots or dashes")
	} else if spec.Role != auth.RolePortal && spec.Portal != "" {
		v.Add("api_key.portal", "only PORTAL keys name a portal")
	}
	if !spec.ExpireTime.IsZero() && !spec.ExpireTime.After(now) {
		v.Add("api_key.expire_time", "is in the past")
	}
	if c := spec.ClientCertSHA256; c != "" && !certFingerprintRE.MatchString(c) {
		v.Add("api_key.client_cert_sha256", "must be 64 lower-case hex digits (SHA-256 of the certificate's DER)")
	}
	if len([]rune(spec.Description)) > 200 {
		v.Add("api_key.description", "is longer than 200 characters")
	} else if !utf8.ValidString(spec.Description) || strings.ContainsFunc(spec.Description, unicode.IsControl) {
		v.Add("api_key.description", "must be UTF-8 text without control characters")
	}
	if err := v.Err(); err != nil {
		return nil, "", err
	}
	token, prefix, hash, err := auth.NewSecret()
	if err != nil {
		return nil, "", err
	}
	k := &auth.Key{ID: newID(), Prefix: prefix, SecretHash: hash, Role: spec.Role, Description: spec.Description,
		Remit: spec.Remit, Portal: spec.Portal, ClientCertSHA256: spec.ClientCertSHA256, CreateTime: now}
	if !spec.ExpireTime.IsZero() {
		// As the stores keep it, so that the audited state matches the row.
		k.ExpireTime = spec.ExpireTime.UTC().Truncate(time.Microsecond)
	}
	err = l.store.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
		k.Parties = nil
		for i, ref := range spec.Parties {
			p, err := resolveParty(ctx, tx, ref)
			if errors.Is(err, ledger.ErrNotFound) {
				v.Add(fmt.Sprintf("api_key.parties[%d]", i), "no party %s is registered", ref)
				continue
			}
			if err != nil {
				return err
			}
			switch {
			case spec.Role == auth.RoleRegulator && p.Kind != ledger.KindRegulator:
				v.Add(fmt.Sprintf("api_key.parties[%d]", i), "a REGULATOR key acts only for regulator parties")
			case spec.Role == auth.RoleRegulator && !spec.Remit.Covers(p.Jurisdiction, p.RemitPrefix()):
				// The key's remit holds the whole of the office's: every
				// complaint sent to the office (about a debtor anywhere in
				// its remit) is then within the key's. A key for Fuzhou
				// (350100, remit 3501) limited to 350100 could not see a
				// complaint about a debtor of 350102 routed to Fuzhou.
				v.Add(fmt.Sprintf("api_key.parties[%d]", i), "regulator %s (%s, region %s) covers regions %s*, which the key's remit (%s %s*) does not hold whole",
					p.DisplayName, p.Jurisdiction, p.RegionCode, p.RemitPrefix(), spec.Remit.Jurisdiction, spec.Remit.RegionPrefix)
			}
			k.Parties = append(k.Parties, p.ID)
		}
		if err := v.Err(); err != nil {
			return err
		}
		if spec.once != "" {
			if first, err := tx.ClaimOnce(ctx, spec.once); err != nil || !first {
				return cmp.Or(err, errClaimed)
			}
		}
		return tx.CreateKey(ctx, k, store.Change{RecordTime: now, Method: "CreateApiKey", Actor: actor(ctx)})
	})
	if err != nil {
		return nil, "", err
	}
	return k, token, nil
}

// ListKeys lists API keys.
func (l *Ledger) ListKeys(ctx context.Context, p store.Page) ([]*auth.Key, error) {
	return l.store.ListKeys(ctx, p)
}

// RevokeKey revokes a key by prefix; it stops working at once.
func (l *Ledger) RevokeKey(ctx context.Context, prefix string) (*auth.Key, error) {
	now := l.now()
	var out *auth.Key
	err := l.store.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
		k, err := tx.GetKey(ctx, prefix)
		if err != nil {
			return err
		}
		if !k.RevokeTime.IsZero() {
			out = k
			return nil
		}
		if k.Role == auth.RoleAdmin && k.Active(now) {
			if err := keepAnAdmin(ctx, tx, k, now); err != nil {
				return err
			}
		}
		k.RevokeTime = now
		if err := tx.RevokeKey(ctx, k, store.Change{RecordTime: now, Method: "RevokeApiKey", Actor: actor(ctx)}); err != nil {
			return err
		}
		out = k
		return nil
	})
	return out, err
}

// keepAnAdmin refuses to revoke admin key k if no other admin key would
// still work: the API would then have nobody to create keys or parties,
// and only an operator on the database's host (arrearsd keys create) could
// let anyone in again. A compromised last key is replaced first, then
// revoked.
func keepAnAdmin(ctx context.Context, tx store.Tx, k *auth.Key, now time.Time) error {
	admins, err := tx.LockAdminKeys(ctx)
	if err != nil {
		return err
	}
	for _, a := range admins {
		if a.ID != k.ID && a.Active(now) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s is the last admin key that works; create another admin key, then revoke this one", ledger.ErrFailedPrecondition, k.Prefix)
}

// AuthorizePortal lets portal act for a supplier; only the supplier's own
// key (or an operator) may.
func (l *Ledger) AuthorizePortal(ctx context.Context, creditor PartyRef, portal string) error {
	return l.changePortalGrant(ctx, creditor, portal, "AuthorizePortal", "authorise a portal to act for it", store.Tx.AuthorizePortal)
}

// RevokePortal withdraws a portal's authorisation to act for a supplier.
func (l *Ledger) RevokePortal(ctx context.Context, creditor PartyRef, portal string) error {
	return l.changePortalGrant(ctx, creditor, portal, "RevokePortalAuthorization", "withdraw a portal's authorisation", store.Tx.RevokePortal)
}

// changePortalGrant checks the portal name and that the caller speaks for
// the supplier itself, then writes the grant change.
func (l *Ledger) changePortalGrant(ctx context.Context, creditor PartyRef, portal, method, what string,
	write func(store.Tx, context.Context, string, uuid.UUID, store.Change) error) error {
	if !portalNameRE.MatchString(portal) {
		return ledger.Invalid("portal", "must be 2-63 lower-case letters, digits, dots or dashes")
	}
	now := l.now()
	return l.store.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
		// Resolved as registrations are, publicly: naming as the acting
		// side a supplier the key does not speak for is refused as such
		// (the README's rule for acting sides), not answered as unknown.
		p, err := resolveParty(ctx, tx, creditor)
		if err != nil {
			return err
		}
		if !mayActFor(ctx, p.ID) {
			return fmt.Errorf("%w: only the supplier itself may %s", ledger.ErrPermissionDenied, what)
		}
		return write(tx, ctx, portal, p.ID, store.Change{RecordTime: now, Method: method, Actor: actor(ctx)})
	})
}

// FeedSettle is how old an event must be before the change feed shows it.
// Events are ordered by an id carrying their record time (audit.EventIDAt),
// read before their transaction starts; a transaction that commits late
// could otherwise slip an event in behind a cursor that has already passed
// it. Transactions are bounded by sqlstore.MaxTxDuration (30 s); the settle
// time adds a margin for clock differences between replicas.
const FeedSettle = 60 * time.Second

// ListEvents returns the caller's change feed after a cursor.
func (l *Ledger) ListEvents(ctx context.Context, after uuid.UUID, limit int) ([]*audit.Event, error) {
	return l.store.ListEvents(ctx, store.EventQuery{Scope: scope(ctx), After: after, Until: l.now().Add(-FeedSettle), Limit: limit})
}

// KeyPrefix is the public prefix that names key id (keys are named by
// prefix; their audit events carry the id).
func (l *Ledger) KeyPrefix(ctx context.Context, id uuid.UUID) (string, error) {
	snap, err := l.store.KeyAuditSnapshot(ctx, id)
	if err != nil {
		return "", err
	}
	var k struct{ Prefix string }
	if err := json.Unmarshal(snap, &k); err != nil {
		return "", err
	}
	return k.Prefix, nil
}

// SignCheckpoint signs the current head of every audit chain. When a
// checkpoint by the same key covers these heads already (nothing was
// recorded since), or one was signed within the last gap (0: no gap), it
// signs nothing and returns nil and signed false: a checkpoint holds every
// chain's head, and replicas each signing every few minutes would
// otherwise store the same heads again and again, or, under steady writes,
// as many checkpoints as there are replicas.
func (l *Ledger) SignCheckpoint(ctx context.Context, key ed25519.PrivateKey, gap time.Duration) (cp *audit.Checkpoint, signed bool, err error) {
	heads, err := l.store.ChainHeads(ctx)
	if err != nil {
		return nil, false, err
	}
	var since time.Time
	if gap > 0 {
		since = l.now().Add(-gap)
	}
	covered, err := l.store.CheckpointCovers(ctx, audit.HeadsDigest(heads), base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey)), since)
	if err != nil {
		return nil, false, err
	}
	if covered {
		return nil, false, nil
	}
	c := audit.Sign(key, newID(), l.now(), heads)
	if err := l.store.PutCheckpoint(ctx, &c); err != nil {
		return nil, false, err
	}
	return &c, true, nil
}

// LatestCheckpoint returns the newest signed checkpoint.
func (l *Ledger) LatestCheckpoint(ctx context.Context) (*audit.Checkpoint, error) {
	return l.store.LatestCheckpoint(ctx)
}

// AnyKeys reports whether any API key exists, revoked or not.
func (l *Ledger) AnyKeys(ctx context.Context) (bool, error) {
	n, err := l.store.CountKeys(ctx)
	return n > 0, err
}

// EnsureAdminKey creates the first ADMIN key when there is none, so a new
// installation can be used at once; it returns "" when keys exist. Of
// replicas starting together on an empty database, one creates the key.
func (l *Ledger) EnsureAdminKey(ctx context.Context) (string, error) {
	n, err := l.store.CountKeys(ctx)
	if err != nil || n > 0 {
		return "", err
	}
	_, token, err := l.CreateKey(auth.WithPrincipal(ctx, System), KeySpec{Role: auth.RoleAdmin,
		Description: "first administrator key, created at first start", once: "first-admin-key"})
	if errors.Is(err, errClaimed) {
		return "", nil
	}
	return token, err
}
