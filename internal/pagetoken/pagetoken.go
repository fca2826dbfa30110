// Package pagetoken makes the opaque page tokens of list methods. A token
// carries the last key of the previous page and a digest of the query it
// belongs to, sealed with an HMAC under a server secret shared by all
// replicas: a client can neither forge a position nor reuse a token with a
// different filter (or, once callers are authenticated, as someone else).
package pagetoken

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"

	"github.com/google/uuid"
)

// Codec seals and opens tokens.
type Codec struct {
	key []byte
}

// New returns a codec keyed by secret (at least 32 bytes).
func New(secret []byte) *Codec { return &Codec{key: secret} }

// ErrInvalid: the token was not made by this server for this query.
var ErrInvalid = errors.New("is not a page token for this query: pass back next_page_token unchanged, with the same filter")

const macLen = 16

// Encode seals the position after, for the query identified by scope (the
// method, the filter and anything else that must not change between pages).
func (c *Codec) Encode(scope string, after uuid.UUID) string {
	b := make([]byte, 0, 16+macLen)
	b = append(b, after[:]...)
	b = append(b, c.mac(scope, after[:])...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Decode opens a token made by Encode with the same scope.
func (c *Codec) Decode(scope, token string) (uuid.UUID, error) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) != 16+macLen {
		return uuid.Nil, ErrInvalid
	}
	if !hmac.Equal(b[16:], c.mac(scope, b[:16])) {
		return uuid.Nil, ErrInvalid
	}
	return uuid.UUID(b[:16]), nil
}

func (c *Codec) mac(scope string, pos []byte) []byte {
	h := hmac.New(sha256.New, c.key)
	h.Write([]byte(scope))
	h.Write([]byte{0})
	h.Write(pos)
	return h.Sum(nil)[:macLen]
}
