package service

import (
	"testing"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/audit"
	"github.com/arrears/arrears/internal/store"
)

// TestGrantChange reads the portal authorisation events of this version
// and of earlier ones, whose creations were a diff from nothing.
func TestGrantChange(t *testing.T) {
	c := uuid.MustParse("0190f3a2-7b1c-7000-8000-000000000001")
	for _, tc := range []struct {
		method, changes string
		on, ok          bool
	}{
		{"AuthorizePortal", `{"creditor":"` + c.String() + `","portal":"p.example"}`, true, true},
		{"AuthorizePortal", `{"creditor":[null,"` + c.String() + `"],"portal":[null,"p.example"]}`, true, true},
		{"RevokePortalAuthorization", `{"creditor":["` + c.String() + `",null],"portal":["p.example",null]}`, false, true},
		{"AuthorizePortal", `{}`, false, false},
		{"RevokePortalAuthorization", `{"portal":[null,null]}`, false, false},
	} {
		g, on, ok := grantChange(&audit.Event{ResourceID: c, Method: tc.method, Changes: tc.changes})
		if ok != tc.ok || on != tc.on || (ok && g != (store.PortalGrant{Portal: "p.example", Creditor: c})) {
			t.Errorf("%s %s: %+v, on %v, ok %v", tc.method, tc.changes, g, on, ok)
		}
	}
}
