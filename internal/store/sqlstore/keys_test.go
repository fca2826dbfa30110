package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/auth"
	"github.com/arrears/arrears/internal/store"
)

// TestLegacyKeySnapshot: a key's audit snapshot without its secret digest
// is, byte for byte, the snapshot events recorded before the digest was
// added, so keys audited then still verify.
func TestLegacyKeySnapshot(t *testing.T) {
	k := &auth.Key{Prefix: "abcdefgh", Role: auth.RoleDebtor, Description: `ERP "nightly", key`, Parties: []uuid.UUID{uuid.MustParse("0190f3a2-7b1c-7000-8000-000000000001")},
		Remit: auth.Remit{Jurisdiction: "CN", RegionPrefix: "35"}, ExpireTime: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), SecretHash: []byte{1, 2, 3}}
	before, _ := json.Marshal(struct {
		Prefix, Role, Description, Portal, ClientCertSHA256 string
		Parties                                             []uuid.UUID
		Remit                                               auth.Remit
		ExpireTime, RevokeTime                              time.Time
	}{k.Prefix, string(k.Role), k.Description, k.Portal, k.ClientCertSHA256, k.Parties, k.Remit, k.ExpireTime, k.RevokeTime})
	now := keySnapshot(k)
	legacy, ok := store.LegacyKeySnapshot(now)
	if !ok || string(legacy) != string(before) {
		t.Errorf("legacy form of\n%s\nis\n%s\nwant\n%s", now, legacy, before)
	}
	other := *k
	other.SecretHash = []byte{1, 2, 4}
	if string(keySnapshot(&other)) == string(now) {
		t.Error("the snapshot does not change with the secret's hash")
	}
}

// TestWrapTimedOutIsDeadlineExceeded: an error the dialect classes as
// timed out is wrapped as context.DeadlineExceeded (DEADLINE_EXCEEDED to
// clients), not as internal.
func TestWrapTimedOutIsDeadlineExceeded(t *testing.T) {
	never := func(error) bool { return false }
	s := &Store{dialect: Dialect{Name: "test", Retryable: never, Unavailable: never, TimedOut: func(error) bool { return true }}}
	if err := s.wrap("read", errors.New("canceling statement due to statement timeout")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("wrap of a timed-out statement: %v, want deadline exceeded", err)
	}
	s.dialect.TimedOut = nil // an engine without a time limit of its own
	if err := s.wrap("read", errors.New("x")); errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("wrap without TimedOut: %v", err)
	}
}
