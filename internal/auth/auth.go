// Package auth says who a caller is and what it may touch. An API key
// authenticates a Principal; the principal's role and parties (or, for a
// regulator, its remit) give a Scope that the service and the store apply to
// every read and write. The scope comes only from the identity, never from
// the request, so no filter or page token can widen it.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Role is what kind of caller a key belongs to.
type Role string

const (
	// RoleDebtor writes and reads its own payables.
	RoleDebtor Role = "DEBTOR"
	// RoleCreditor reads what is owed to it, disputes, complains.
	RoleCreditor Role = "CREDITOR"
	// RolePortal acts as CREDITOR for every supplier that authorised it.
	RolePortal Role = "PORTAL"
	// RoleRegulator reads everything about the debtors in its remit.
	RoleRegulator Role = "REGULATOR"
	// RoleAdmin manages parties and keys, and may do anything; the audit
	// trail records it like everyone else.
	RoleAdmin Role = "ADMIN"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	switch r {
	case RoleDebtor, RoleCreditor, RolePortal, RoleRegulator, RoleAdmin:
		return true
	}
	return false
}

// Remit is a regulator's territory: debtors of a jurisdiction whose region
// code starts with a prefix ("" = the whole jurisdiction).
type Remit struct {
	Jurisdiction string
	RegionPrefix string
}

// Covers reports whether a party of that jurisdiction and region is within
// the remit.
func (r Remit) Covers(jurisdiction, region string) bool {
	return r.Jurisdiction != "" && r.Jurisdiction == jurisdiction && strings.HasPrefix(region, r.RegionPrefix)
}

// Key is an API key as stored: only the hash of its secret is kept.
type Key struct {
	ID          uuid.UUID
	Prefix      string // public, shown in lists and logs; finds the key
	SecretHash  []byte
	Role        Role
	Description string
	// Parties the key acts for (DEBTOR, CREDITOR); a group syncing for its
	// subsidiaries holds several.
	Parties []uuid.UUID
	// Remit of a REGULATOR key.
	Remit Remit
	// Portal names the portal a PORTAL key belongs to; suppliers authorise
	// the portal, not a key, so keys can be rotated.
	Portal string
	// ClientCertSHA256, when set, binds the key to a client certificate
	// (hex SHA-256 of its DER): calls with the key must come over mutual
	// TLS presenting that certificate. For enterprise integrations that
	// want a stolen key alone to be useless.
	ClientCertSHA256 string
	CreateTime       time.Time
	ExpireTime       time.Time // zero: never
	RevokeTime       time.Time // zero: not revoked
}

// Active reports whether the key may be used at instant now.
func (k *Key) Active(now time.Time) bool {
	return k.RevokeTime.IsZero() && (k.ExpireTime.IsZero() || now.Before(k.ExpireTime))
}

// Principal is an authenticated caller.
type Principal struct {
	KeyID   uuid.UUID
	Prefix  string
	Role    Role
	Parties []uuid.UUID
	Remit   Remit
	Portal  string
	// RequireCert is the key's client certificate binding, checked by the
	// transport against the TLS peer.
	RequireCert string
}

// Actor is how the principal is named in the audit trail.
func (p *Principal) Actor() string { return string(p.Role) + ":" + p.Prefix }

// Acts reports whether the principal acts for party id directly.
func (p *Principal) Acts(id uuid.UUID) bool {
	for _, x := range p.Parties {
		if x == id {
			return true
		}
	}
	return false
}

// Scope is what a principal may see, in the form the store turns into SQL.
// Rows are visible when any clause matches; the zero Scope sees nothing.
type Scope struct {
	All       bool
	Debtors   []uuid.UUID // invoices of these debtors
	Creditors []uuid.UUID // invoices owed to these creditors
	Portal    string      // invoices owed to creditors that authorised this portal
	Remit     *Remit      // invoices of debtors in this remit
	// Regulators are the regulator parties the caller acts for: it sees
	// the complaints they receive or handle, wherever the debtor is.
	Regulators []uuid.UUID
}

// Scope derives the visibility of p.
func (p *Principal) Scope() Scope {
	switch p.Role {
	case RoleAdmin:
		return Scope{All: true}
	case RoleDebtor:
		return Scope{Debtors: p.Parties}
	case RoleCreditor:
		return Scope{Creditors: p.Parties}
	case RolePortal:
		return Scope{Portal: p.Portal}
	case RoleRegulator:
		r := p.Remit
		return Scope{Remit: &r, Regulators: p.Parties}
	}
	return Scope{}
}

type ctxKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the caller, or nil for an unauthenticated context
// (only health checks run so).
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(ctxKey{}).(*Principal)
	return p
}

// Key format: "ark_" + prefix (8 characters, base32) + "_" + secret (32
// random bytes, base64url). 256 bits of secret; the prefix is public.
const keyTag = "ark_"

var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewSecret makes a fresh key: the full token to show once, its prefix, and
// the hash to store.
func NewSecret() (token, prefix string, hash []byte, err error) {
	p := make([]byte, 5)
	s := make([]byte, 32)
	if _, err := rand.Read(p); err != nil {
		return "", "", nil, err
	}
	if _, err := rand.Read(s); err != nil {
		return "", "", nil, err
	}
	prefix = b32.EncodeToString(p)
	secret := base64.RawURLEncoding.EncodeToString(s)
	sum := sha256.Sum256([]byte(secret))
	return keyTag + prefix + "_" + secret, prefix, sum[:], nil
}

// ErrUnauthenticated: no key, an unknown key, a wrong secret, an expired
// or revoked key. One error for all, so a caller learns nothing about which.
var ErrUnauthenticated = errors.New("unauthenticated")

// ErrMalformed: the token is not shaped like one of our keys.
var ErrMalformed = errors.New("malformed API key")

// ParseToken splits a presented token into prefix and secret hash.
func ParseToken(token string) (prefix string, hash []byte, err error) {
	rest, ok := strings.CutPrefix(token, keyTag)
	if !ok {
		return "", nil, ErrMalformed
	}
	prefix, secret, ok := strings.Cut(rest, "_")
	if !ok || len(prefix) != 8 || len(secret) != 43 {
		return "", nil, ErrMalformed
	}
	if len(prefix) != 8 || !ValidPrefix(prefix) {
		return "", nil, ErrMalformed
	}
	sum := sha256.Sum256([]byte(secret))
	return prefix, sum[:], nil
}

// ValidPrefix reports whether s is made of the alphabet NewSecret writes
// prefixes in. A prefix is looked up in the store: only that alphabet
// reaches it (other bytes, a NUL not valid text to PostgreSQL, were a
// store error there and a plain miss on SQLite).
func ValidPrefix(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return false
		}
	}
	return s != ""
}

// Matches compares a presented hash with the stored one in constant time.
// A plain SHA-256 suffices: the secret has 256 bits of entropy, so there
// is nothing for a slow hash to protect.
func (k *Key) Matches(hash []byte) bool {
	return subtle.ConstantTimeCompare(k.SecretHash, hash) == 1
}

// String describes a key without its secret.
func (k *Key) String() string {
	return fmt.Sprintf("%s %s", k.Prefix, k.Role)
}
