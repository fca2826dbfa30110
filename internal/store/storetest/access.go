package storetest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/audit"
	"github.com/arrears/arrears/internal/auth"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/store"
)

func testKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	d := party("CN", "K1", "350100")
	createParties(t, s, d)
	k := &auth.Key{ID: newID(), Prefix: "abcdefgh", SecretHash: []byte("0123456789abcdef0123456789abcdef"), Role: auth.RoleDebtor,
		Description: "erp", Parties: []uuid.UUID{d.ID}, CreateTime: t0, ExpireTime: t0.Add(time.Hour)}
	mustTx(t, s, func(ctx context.Context, tx store.Tx) error { return tx.CreateKey(ctx, k, change("CreateApiKey")) })
	got, err := s.GetKey(ctx, "abcdefgh")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(k, got); diff != "" {
		t.Errorf("GetKey (-want +got):\n%s", diff)
	}
	_, err = s.GetKey(ctx, "zzzzzzzz")
	wantErr(t, "GetKey(unknown)", err, ledger.ErrNotFound)
	dup := *k
	dup.ID = newID()
	err = s.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error { return tx.CreateKey(ctx, &dup, change("CreateApiKey")) })
	wantErr(t, "CreateKey(duplicate prefix)", err, ledger.ErrAlreadyExists)
	reg := &auth.Key{ID: newID(), Prefix: "regulatr", SecretHash: []byte("x"), Role: auth.RoleRegulator,
		Remit: auth.Remit{Jurisdiction: "CN", RegionPrefix: "35"}, CreateTime: t0}
	mustTx(t, s, func(ctx context.Context, tx store.Tx) error { return tx.CreateKey(ctx, reg, change("CreateApiKey")) })
	if n, err := s.CountKeys(ctx); err != nil || n != 2 {
		t.Errorf("CountKeys = %d, %v; want 2", n, err)
	}
	keys, err := s.ListKeys(ctx, store.Page{Limit: 1})
	if err != nil || len(keys) != 1 || keys[0].Prefix != "abcdefgh" {
		t.Errorf("ListKeys page = %v, %v", keys, err)
	}
	mustTx(t, s, func(ctx context.Context, tx store.Tx) error {
		cur, err := tx.GetKey(ctx, "abcdefgh")
		if err != nil {
			return err
		}
		cur.RevokeTime = t0.Add(time.Minute)
		return tx.RevokeKey(ctx, cur, change("RevokeApiKey"))
	})
	got, _ = s.GetKey(ctx, "abcdefgh")
	if !got.RevokeTime.Equal(t0.Add(time.Minute)) || got.Active(t0.Add(2*time.Minute)) {
		t.Errorf("revoked key = %+v", got)
	}
	// A revocation made on a read from before another's is a conflict (the
	// transaction reruns and finds the key revoked), not a second
	// revocation with its own time and audit event.
	stale := *got
	stale.RevokeTime = t0.Add(time.Hour)
	err = s.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error { return tx.RevokeKey(ctx, &stale, change("RevokeApiKey")) })
	wantErr(t, "RevokeKey(already revoked)", err, ledger.ErrConflict)
	if got, _ = s.GetKey(ctx, "abcdefgh"); !got.RevokeTime.Equal(t0.Add(time.Minute)) {
		t.Errorf("a second revocation moved the revoke time to %v", got.RevokeTime)
	}
	// The admin keys not revoked, expired ones too: whether one still
	// works is the caller's to judge, at its own time.
	admin := func(prefix string, expire time.Time) *auth.Key {
		k := &auth.Key{ID: newID(), Prefix: prefix, SecretHash: []byte("x"), Role: auth.RoleAdmin, CreateTime: t0, ExpireTime: expire}
		mustTx(t, s, func(ctx context.Context, tx store.Tx) error { return tx.CreateKey(ctx, k, change("CreateApiKey")) })
		return k
	}
	a1, a2, a3 := admin("admin001", time.Time{}), admin("admin002", t0.Add(time.Minute)), admin("admin003", time.Time{})
	mustTx(t, s, func(ctx context.Context, tx store.Tx) error {
		a3.RevokeTime = t0.Add(time.Minute)
		return tx.RevokeKey(ctx, a3, change("RevokeApiKey"))
	})
	mustTx(t, s, func(ctx context.Context, tx store.Tx) error {
		admins, err := tx.LockAdminKeys(ctx)
		if err != nil {
			return err
		}
		var got []string
		for _, k := range admins {
			got = append(got, k.Prefix)
		}
		slices.Sort(got)
		if want := []string{a1.Prefix, a2.Prefix}; !slices.Equal(got, want) {
			t.Errorf("LockAdminKeys = %v, want %v", got, want)
		}
		return nil
	})
}

// testScopes checks that visibility is decided in the store for each kind
// of scope: by debtor, by creditor, by portal authorisation, by remit.
func testScopes(t *testing.T, s store.Store) {
	ctx := context.Background()
	d1, d2 := party("CN", "S1", "350100"), party("CN", "S2", "440300")
	c1, c2 := party("CN", "S3", "350102"), party("CN", "S4", "440301")
	createParties(t, s, d1, d2, c1, c2)
	i1, i2 := invoice(d1, c1, "SC-1", t0Date()), invoice(d2, c2, "SC-2", t0Date())
	createInvoices(t, s, i1, i2)
	mustTx(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.AuthorizePortal(ctx, "portal-a", c1.ID, change("AuthorizePortal"))
	})
	if ok, err := s.PortalAuthorized(ctx, "portal-a", c1.ID); !ok || err != nil {
		t.Errorf("PortalAuthorized(c1) = %v, %v", ok, err)
	}
	if ok, _ := s.PortalAuthorized(ctx, "portal-a", c2.ID); ok {
		t.Error("PortalAuthorized(c2) = true")
	}
	// Authorising again changes nothing, and records nothing.
	grants := func() int { return chainEventsOf(t, s, c1.ID, "portal_grant") }
	before := grants()
	mustTx(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.AuthorizePortal(ctx, "portal-a", c1.ID, change("AuthorizePortal"))
	})
	if n := grants(); n != before || n != 1 {
		t.Errorf("grant events after authorising twice: %d (before %d), want 1", n, before)
	}
	// A second portal of the same supplier sees its invoices' events, not
	// the supplier's grants, which name the portals it uses.
	mustTx(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.AuthorizePortal(ctx, "portal-z", c1.ID, change("AuthorizePortal"))
	})
	if gs, err := s.PortalGrants(ctx); err != nil || len(gs) != 2 || gs[0] != (store.PortalGrant{Portal: "portal-a", Creditor: c1.ID}) ||
		gs[1] != (store.PortalGrant{Portal: "portal-z", Creditor: c1.ID}) {
		t.Errorf("PortalGrants = %+v, %v; want portal-a and portal-z for c1", gs, err)
	}
	feed, err := s.ListEvents(ctx, store.EventQuery{Scope: auth.Scope{Portal: "portal-z"}, Until: t0.Add(time.Hour), Limit: 100})
	if err != nil || len(feed) == 0 {
		t.Fatalf("portal-z's feed: %d events, %v", len(feed), err)
	}
	for _, e := range feed {
		if e.ResourceType == "portal_grant" {
			t.Errorf("portal-z's feed shows a grant: %s", e.Changes)
		}
	}
	mustTx(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.RevokePortal(ctx, "portal-z", c1.ID, change("RevokePortalAuthorization"))
	})
	for _, tc := range []struct {
		desc    string
		scope   auth.Scope
		inv     []string
		parties []*ledger.Party
	}{
		{"nothing", auth.Scope{}, nil, nil},
		{"debtor", auth.Scope{Debtors: []uuid.UUID{d1.ID}}, []string{"SC-1"}, []*ledger.Party{d1, c1}},
		{"creditor", auth.Scope{Creditors: []uuid.UUID{c2.ID}}, []string{"SC-2"}, []*ledger.Party{d2, c2}},
		{"portal", auth.Scope{Portal: "portal-a"}, []string{"SC-1"}, []*ledger.Party{d1, c1}},
		{"unknown portal", auth.Scope{Portal: "portal-b"}, nil, nil},
		{"remit", auth.Scope{Remit: &auth.Remit{Jurisdiction: "CN", RegionPrefix: "44"}}, []string{"SC-2"}, []*ledger.Party{d2, c2}},
		{"remit elsewhere", auth.Scope{Remit: &auth.Remit{Jurisdiction: "GB", RegionPrefix: ""}}, nil, nil},
		{"all", auth.Scope{All: true}, []string{"SC-1", "SC-2"}, []*ledger.Party{d1, d2, c1, c2}},
	} {
		invs, err := s.ListInvoices(ctx, store.InvoiceQuery{Scope: tc.scope})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(append([]string{}, tc.inv...), ids(invs)); diff != "" {
			t.Errorf("%s: ListInvoices (-want +got)\n%s", tc.desc, diff)
		}
		ps, err := s.ListParties(ctx, store.PartyQuery{Scope: tc.scope})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(ids(tc.parties), ids(ps)); diff != "" {
			t.Errorf("%s: ListParties (-want +got)\n%s", tc.desc, diff)
		}
		for _, inv := range []*ledger.Invoice{i1, i2} {
			want := false
			for _, r := range tc.inv {
				want = want || r == inv.DocumentRef
			}
			if got, err := s.InvoiceVisible(ctx, tc.scope, inv.ID); err != nil || got != want {
				t.Errorf("%s: InvoiceVisible(%s) = %v, %v; want %v", tc.desc, inv.DocumentRef, got, err, want)
			}
		}
		for _, p := range []*ledger.Party{d1, d2, c1, c2} {
			want := false
			for _, q := range tc.parties {
				want = want || q.ID == p.ID
			}
			if got, err := s.PartyVisible(ctx, tc.scope, p.ID); err != nil || got != want {
				t.Errorf("%s: PartyVisible(%s) = %v, %v; want %v", tc.desc, p.RegistrationID, got, err, want)
			}
		}
	}
	// Withdrawn, the portal sees nothing; withdrawing again is NOT_FOUND.
	mustTx(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.RevokePortal(ctx, "portal-a", c1.ID, change("RevokePortalAuthorization"))
	})
	if ok, err := s.PortalAuthorized(ctx, "portal-a", c1.ID); ok || err != nil {
		t.Errorf("PortalAuthorized after revocation = %v, %v", ok, err)
	}
	if gs, err := s.PortalGrants(ctx); err != nil || slices.Contains(gs, store.PortalGrant{Portal: "portal-a", Creditor: c1.ID}) {
		t.Errorf("PortalGrants after revocation = %+v, %v; want no portal-a for c1", gs, err)
	}
	if invs, err := s.ListInvoices(ctx, store.InvoiceQuery{Scope: auth.Scope{Portal: "portal-a"}, Page: store.Page{Limit: 10}}); err != nil || len(invs) != 0 {
		t.Errorf("portal after revocation sees %d invoices, %v", len(invs), err)
	}
	err = s.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.RevokePortal(ctx, "portal-a", c1.ID, change("RevokePortalAuthorization"))
	})
	if !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("second revocation: %v, want not found", err)
	}

	// A one-time step is claimed once.
	for i, want := range []bool{true, false} {
		mustTx(t, s, func(ctx context.Context, tx store.Tx) error {
			first, err := tx.ClaimOnce(ctx, "scopes-test-step")
			if err == nil && first != want {
				t.Errorf("claim %d: first = %v, want %v", i+1, first, want)
			}
			return err
		})
	}
}

// testAuditChain checks that every write appended a linked, verifiable
// event to its debtor's chain, and that the feed and checkpoints read back.
func testAuditChain(t *testing.T, s store.Store) {
	ctx := context.Background()
	debtor, _, inv := fixture(t, s)
	mustTx(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.CreatePayment(ctx, payment(inv, "AC-1", 10, inv.IssuedOn), changeOn(inv, "RecordPayment"))
	})
	heads, err := s.ChainHeads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var debtorHead *audit.Head
	for i := range heads {
		if heads[i].Chain == debtor.ID {
			debtorHead = &heads[i]
		}
	}
	// party creation, invoice creation, payment creation
	if debtorHead == nil || debtorHead.Seq != 3 {
		t.Fatalf("debtor chain head = %+v, want 3 events (heads %v)", debtorHead, heads)
	}
	evs, err := s.ListChainEvents(ctx, debtor.ID, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	v := &audit.ChainVerifier{Chain: debtor.ID}
	for _, e := range evs {
		v.Add(e)
	}
	if len(v.Problems) > 0 || v.Head().Hash != debtorHead.Hash {
		t.Errorf("chain does not verify: %v", v.Problems)
	}
	if evs[1].ResourceType != "invoice" || evs[1].Method != "CreateInvoice" || evs[1].Actor != "ADMIN:test" || evs[1].Creditor != inv.CreditorID {
		t.Errorf("invoice event = %+v", evs[1])
	}
	feed, err := s.ListEvents(ctx, store.EventQuery{Scope: auth.Scope{Creditors: []uuid.UUID{inv.CreditorID}}, Until: t0, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	// The creditor sees its own party's creation, the invoice and the payment.
	if len(feed) != 3 {
		t.Errorf("creditor feed has %d events, want 3", len(feed))
	}
	// A creation's snapshot is stored once, in its first revision, and the
	// feed shows it from there.
	if evs[1].Changes != audit.InRevision || evs[2].Changes != audit.InRevision {
		t.Errorf("creation events store changes %q and %q, want them in their revisions", evs[1].Changes, evs[2].Changes)
	}
	for _, e := range feed {
		revs, err := s.ListRevisions(ctx, e.ResourceID, 0, 1)
		if err != nil || len(revs) != 1 {
			t.Fatalf("first revision of %s: %v, %v", e.ResourceID, revs, err)
		}
		if e.Changes != string(revs[0].Snapshot) {
			t.Errorf("feed shows the creation of %s %s as %s, want its first revision %s", e.ResourceType, e.ResourceID, e.Changes, revs[0].Snapshot)
		}
	}
	if early, _ := s.ListEvents(ctx, store.EventQuery{Scope: auth.Scope{All: true}, Until: t0.Add(-time.Second), Limit: 10}); len(early) != 0 {
		t.Errorf("feed shows %d events recorded after Until", len(early))
	}
	if len(feed) > 1 {
		rest, _ := s.ListEvents(ctx, store.EventQuery{Scope: auth.Scope{Creditors: []uuid.UUID{inv.CreditorID}}, After: feed[0].EventID, Until: t0, Limit: 10})
		if len(rest) != len(feed)-1 {
			t.Errorf("feed after the first cursor has %d events, want %d", len(rest), len(feed)-1)
		}
	}

	// Ids follow record times, not the order transactions made them: an
	// event recorded earlier by a slower transaction still comes before one
	// the feed hides as too recent, so a cursor never passes it. Here the
	// later-recorded party is written first.
	late, early := party("CN", "FEED-LATE", "350100"), party("CN", "FEED-EARLY", "350100")
	for _, w := range []struct {
		p  *ledger.Party
		at time.Time
	}{{late, t0.Add(10 * time.Second)}, {early, t0.Add(5 * time.Second)}} {
		mustTx(t, s, func(ctx context.Context, tx store.Tx) error {
			c := change("CreateParty")
			c.RecordTime = w.at
			return tx.CreateParty(ctx, w.p, c)
		})
	}
	all := auth.Scope{All: true}
	first, err := s.ListEvents(ctx, store.EventQuery{Scope: all, Until: t0.Add(7 * time.Second), Limit: 100})
	if err != nil || len(first) == 0 || first[len(first)-1].ResourceID != early.ID {
		t.Fatalf("feed until t0+7s ends with %v (%v), want the early party's creation", first, err)
	}
	rest, err := s.ListEvents(ctx, store.EventQuery{Scope: all, After: first[len(first)-1].EventID, Until: t0.Add(time.Minute), Limit: 100})
	if err != nil || len(rest) != 1 || rest[0].ResourceID != late.ID {
		t.Errorf("feed after it: %d events (%v), want the late party's creation", len(rest), err)
	}

	_, err = s.LatestCheckpoint(ctx)
	wantErr(t, "LatestCheckpoint(none)", err, ledger.ErrNotFound)
	cp := audit.Checkpoint{ID: newID(), CreateTime: t0, ChainCount: int64(len(heads)), HeadsDigest: audit.HeadsDigest(heads),
		Heads: heads, Statement: "s", Signature: "sig", PublicKey: "pk"}
	if err := s.PutCheckpoint(ctx, &cp); err != nil {
		t.Fatal(err)
	}
	got, err := s.LatestCheckpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&cp, got); diff != "" {
		t.Errorf("LatestCheckpoint (-want +got):\n%s", diff)
	}
	// Two replicas signing at once: the one stamped later read the heads
	// first. The latest is the one covering more events, not the later
	// stamp.
	ahead := cp
	ahead.ID, ahead.CreateTime, ahead.EventCount = newID(), t0.Add(time.Second), cp.EventCount+5
	behind := cp
	behind.ID, behind.CreateTime = newID(), t0.Add(2*time.Second)
	for _, c := range []*audit.Checkpoint{&ahead, &behind} {
		if err := s.PutCheckpoint(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.LatestCheckpoint(ctx); err != nil || got.ID != ahead.ID {
		t.Errorf("LatestCheckpoint of two signed at once = %v, %v; want the one covering more events", got, err)
	}
	if all, err := s.ListCheckpoints(ctx); err != nil || len(all) != 3 {
		t.Errorf("ListCheckpoints = %d, %v", len(all), err)
	}
	// Covered: the same heads by the same key, or, with a time, any
	// checkpoint of the key signed since.
	for _, c := range []struct {
		desc, digest, key string
		since             time.Time
		want              bool
	}{
		{"the same heads", cp.HeadsDigest, "pk", time.Time{}, true},
		{"other heads", "other", "pk", time.Time{}, false},
		{"the same heads, another key", cp.HeadsDigest, "other", time.Time{}, false},
		{"other heads, signed since", "other", "pk", t0.Add(2 * time.Second), true},
		{"other heads, none signed since", "other", "pk", t0.Add(3 * time.Second), false},
		{"another key signed since", "other", "other", t0, false},
	} {
		if got, err := s.CheckpointCovers(ctx, c.digest, c.key, c.since); err != nil || got != c.want {
			t.Errorf("CheckpointCovers(%s) = %v, %v; want %v", c.desc, got, err, c.want)
		}
	}
}

// testCheckpointHeads: however a checkpoint is kept (whole, or as what
// moved since a whole one), it reads back with every head it was signed
// over, and verifies: after one chain moved, a chain was added, most
// chains moved, a chain went missing, and under another key.
func testCheckpointHeads(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, key, _ := ed25519.GenerateKey(nil)
	_, other, _ := ed25519.GenerateKey(nil)
	heads := make([]audit.Head, 8)
	for i := range heads {
		heads[i] = audit.Head{Chain: newID(), Seq: int64(i + 1), Hash: fmt.Sprintf("%064d", i)}
	}
	move := func(hs []audit.Head, n int) []audit.Head {
		out := slices.Clone(hs)
		for i := 0; i < n; i++ {
			out[i].Seq++
			out[i].Hash = fmt.Sprintf("%064d", out[i].Seq*100+int64(i))
		}
		return out
	}
	steps := []struct {
		what  string
		key   ed25519.PrivateKey
		heads []audit.Head
	}{
		{"the first", key, heads},
		{"one chain moved", key, move(heads, 1)},
		{"a chain added", key, append(move(heads, 1), audit.Head{Chain: newID(), Seq: 1, Hash: fmt.Sprintf("%064d", 99)})},
		{"most chains moved", key, move(heads, 6)},
		{"a chain missing", key, move(heads, 2)[1:]},
		{"another key", other, move(heads, 3)},
		{"back to the first key", key, move(heads, 3)},
	}
	byID := map[uuid.UUID]int{}
	for i, st := range steps {
		c := audit.Sign(st.key, newID(), t0.Add(time.Duration(i)*time.Minute), st.heads)
		if err := s.PutCheckpoint(ctx, &c); err != nil {
			t.Fatalf("%s: %v", st.what, err)
		}
		byID[c.ID] = i
	}
	all, err := s.ListCheckpoints(ctx)
	if err != nil || len(all) != len(steps) {
		t.Fatalf("ListCheckpoints = %d, %v; want %d", len(all), err, len(steps))
	}
	sorted := func(hs []audit.Head) []audit.Head {
		out := slices.Clone(hs)
		slices.SortFunc(out, func(a, b audit.Head) int { return bytes.Compare(a.Chain[:], b.Chain[:]) })
		return out
	}
	for _, c := range all {
		st := steps[byID[c.ID]]
		if diff := cmp.Diff(sorted(st.heads), sorted(c.Heads)); diff != "" {
			t.Errorf("%s: heads read back (-signed +read):\n%s", st.what, diff)
		}
		if err := c.Verify(st.key.Public().(ed25519.PublicKey)); err != nil {
			t.Errorf("%s: %v", st.what, err)
		}
	}
	latest, err := s.LatestCheckpoint(ctx)
	if err != nil || len(latest.Heads) != len(heads) || latest.Verify(key.Public().(ed25519.PublicKey)) != nil {
		t.Errorf("LatestCheckpoint: %v, %v", latest, err)
	}
}
