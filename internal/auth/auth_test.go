package auth

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"

	arrearsv1 "github.com/arrears/arrears/gen/arrears/v1"
)

func TestTokens(t *testing.T) {
	token, prefix, hash, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(token, "ark_"+prefix+"_") || len(token) != len("ark_")+8+1+43 {
		t.Fatalf("token %q, prefix %q", token, prefix)
	}
	p, h, err := ParseToken(token)
	k := &Key{SecretHash: hash}
	if err != nil || p != prefix || !k.Matches(h) {
		t.Errorf("ParseToken = %q, %x, %v", p, h, err)
	}
	// Change the last character of the secret to another one (a fixed
	// replacement would be the same character one time in 64).
	last := "A"
	if strings.HasSuffix(token, "A") {
		last = "B"
	}
	_, h2, _ := ParseToken(token[:len(token)-1] + last)
	if k.Matches(h2) {
		t.Error("a different secret matches")
	}
	for _, bad := range []string{"", "ark_", "ark_short_x", "Bearer " + token, strings.Replace(token, "ark_", "akr_", 1),
		"ark_" + "abc\xffdefg"[:8] + token[12:], "ark_ABCDEFGH" + token[12:], "ark_abcdefg1" + token[12:]} {
		if _, _, err := ParseToken(bad); err == nil {
			t.Errorf("ParseToken(%q) accepted", bad)
		}
	}
	other, _, _, _ := NewSecret()
	if other == token {
		t.Error("two keys are equal")
	}
}

func TestActive(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		desc string
		k    Key
		want bool
	}{
		{"no expiry", Key{}, true},
		{"expires later", Key{ExpireTime: now.Add(time.Second)}, true},
		{"expires now", Key{ExpireTime: now}, false},
		{"revoked", Key{RevokeTime: now.Add(-time.Hour)}, false},
	} {
		if got := tc.k.Active(now); got != tc.want {
			t.Errorf("%s: Active = %v, want %v", tc.desc, got, tc.want)
		}
	}
}

func TestScopeByRole(t *testing.T) {
	id := uuid.Must(uuid.NewV7())
	for _, tc := range []struct {
		p    Principal
		want Scope
	}{
		{Principal{Role: RoleAdmin}, Scope{All: true}},
		{Principal{Role: RoleDebtor, Parties: []uuid.UUID{id}}, Scope{Debtors: []uuid.UUID{id}}},
		{Principal{Role: RoleCreditor, Parties: []uuid.UUID{id}}, Scope{Creditors: []uuid.UUID{id}}},
		{Principal{Role: RolePortal, Portal: "p"}, Scope{Portal: "p"}},
		{Principal{Role: Role("BOGUS")}, Scope{}},
	} {
		got := tc.p.Scope()
		if got.All != tc.want.All || len(got.Debtors) != len(tc.want.Debtors) || len(got.Creditors) != len(tc.want.Creditors) || got.Portal != tc.want.Portal {
			t.Errorf("%s: scope %+v, want %+v", tc.p.Role, got, tc.want)
		}
	}
	r := Principal{Role: RoleRegulator, Remit: Remit{Jurisdiction: "CN", RegionPrefix: "35"}}
	if s := r.Scope(); s.Remit == nil || !s.Remit.Covers("CN", "350100") || s.Remit.Covers("CN", "440300") || s.Remit.Covers("GB", "35") {
		t.Errorf("regulator remit = %+v", s.Remit)
	}
}

// Every RPC of the API has a rule; a method without one cannot be called.
func TestEveryMethodHasARule(t *testing.T) {
	for _, sd := range []grpc.ServiceDesc{arrearsv1.LedgerService_ServiceDesc, arrearsv1.AccessService_ServiceDesc, arrearsv1.SupplierService_ServiceDesc, arrearsv1.SyncService_ServiceDesc, arrearsv1.OversightService_ServiceDesc} {
		for _, m := range sd.Methods {
			name := "/" + sd.ServiceName + "/" + m.MethodName
			if r, ok := Rules[name]; !ok || len(r.Roles) == 0 {
				t.Errorf("no rule for %s", name)
			}
		}
		for _, m := range sd.Streams {
			if _, ok := Rules["/"+sd.ServiceName+"/"+m.StreamName]; !ok {
				t.Errorf("no rule for stream %s", m.StreamName)
			}
		}
	}
}
