package service

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/audit"
	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/money"
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

// TestAuditedBeforeMembersWereAdded: a record last audited before its
// snapshot gained members (an invoice's contested and corrected_on, a
// dispute's opened_by) matches its live row without them, the backfilled
// corrected_on included; any other difference does not.
func TestAuditedBeforeMembersWereAdded(t *testing.T) {
	inv := &ledger.Invoice{ID: uuid.New(), DocumentRef: "OLD-1", Amount: money.Money{Minor: 1000, Currency: "CNY"}, CorrectedOn: civil.MustNew(2025, 3, 1)}
	live, err := json.Marshal(inv)
	if err != nil {
		t.Fatal(err)
	}
	legacy := strings.Replace(strings.Replace(string(live), `,"contested":0`, "", 1), `,"corrected_on":"2025-03-01"`, "", 1)
	if legacy == string(live) || strings.Contains(legacy, "corrected_on") {
		t.Fatalf("the legacy form was not made: %s", legacy)
	}
	if !auditedBefore("invoice", live, audit.Digest([]byte(legacy))) {
		t.Error("an invoice audited before contested and corrected_on existed is reported altered")
	}
	tampered := strings.Replace(legacy, `"minor":1000`, `"minor":999`, 1)
	if tampered == legacy || auditedBefore("invoice", live, audit.Digest([]byte(tampered))) {
		t.Error("a changed amount passes as a legacy snapshot")
	}
	d := &ledger.Dispute{ID: uuid.New(), Amount: 500}
	dl, _ := json.Marshal(d)
	if !auditedBefore("dispute", dl, audit.Digest([]byte(strings.Replace(string(dl), `,"opened_by":""`, "", 1)))) {
		t.Error("a dispute audited before opened_by existed is reported altered")
	}
}

// TestLatestStateOfOddDigests: an event's digest that is not the lowercase
// hex audit.Digest writes (too long, too short, upper case, not hex)
// matches no state, and reading it does not panic.
func TestLatestStateOfOddDigests(t *testing.T) {
	good := audit.Digest([]byte(`{"a":1}`))
	if st := newLatestState(&audit.Event{SnapshotDigest: good}); st.digestHex() != good {
		t.Errorf("digest %s read back as %q", good, st.digestHex())
	}
	for _, d := range []string{good + "00", good + good, good[:62], strings.ToUpper(good), "zz" + good[2:], ""} {
		if st := newLatestState(&audit.Event{SnapshotDigest: d}); st.digestHex() != "" {
			t.Errorf("digest %q read back as %q, want none", d, st.digestHex())
		}
	}
}
