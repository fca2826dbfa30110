package sqlstore

import (
	"encoding/json"
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
