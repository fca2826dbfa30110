package service

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/ledger"

	"github.com/arrears/arrears/internal/audit"
	"github.com/arrears/arrears/internal/auth"
	"github.com/arrears/arrears/internal/store"
)

// AuditReport is the outcome of VerifyAudit.
type AuditReport struct {
	Chains      int
	Events      int64
	Checkpoints int
	Problems    []string
}

// VerifyAudit re-reads every audit chain from the store and checks that each
// event's hash is intact and links to its predecessor, that each revision
// snapshot still has the digest its event recorded, and that every
// checkpoint is signed by pub and names heads that still exist unchanged.
// It reads the store directly, not through any caller's scope, and from
// one snapshot: on a live database, an event or checkpoint committed while
// it reads, or a row changed after its events were read, would otherwise
// look like tampering.
func VerifyAudit(ctx context.Context, st store.Store, pub ed25519.PublicKey) (*AuditReport, error) {
	var rep *AuditReport
	err := st.SnapshotRead(ctx, func(ctx context.Context, s store.Reader) error {
		var err error
		rep, err = verifyAudit(ctx, s, pub)
		return err
	})
	return rep, err
}

func verifyAudit(ctx context.Context, s store.Reader, pub ed25519.PublicKey) (*AuditReport, error) {
	rep := &AuditReport{}
	heads, err := s.ChainHeads(ctx)
	if err != nil {
		return nil, err
	}
	// hashes[chain][seq] for the checkpoint comparison.
	hashes := map[string]map[int64]string{}
	// latest[resource] is the digest of the newest recorded state of each
	// record, to compare with the live row the API serves.
	latest := map[liveKey]latestState{}
	// grants[grant] is whether the trail leaves the portal authorised:
	// a grant's events are on its supplier's chain, in order.
	grants := map[store.PortalGrant]bool{}
	for _, h := range heads {
		rep.Chains++
		v := &audit.ChainVerifier{Chain: h.Chain}
		seen := map[int64]string{}
		// From the lowest sequence stored, not from 1: an event slipped in
		// at 0 or below, which the change feed would serve, is checked
		// (and reported out of sequence) like any other.
		after := int64(math.MinInt64)
		for {
			evs, err := s.ListChainEvents(ctx, h.Chain, after, 1000)
			if err != nil {
				return nil, err
			}
			for _, e := range evs {
				v.Add(e)
				seen[e.Seq] = e.Hash
				rep.Events++
				if err := checkRevision(ctx, s, e); err != "" {
					v.Problems = append(v.Problems, err)
				}
				if e.ResourceType == "portal_grant" {
					if g, on, ok := grantChange(e); ok {
						grants[g] = on
					} else {
						v.Problems = append(v.Problems, fmt.Sprintf("chain %s event %d: a portal authorisation event that does not say which portal", e.Chain, e.Seq))
					}
				}
				k := liveKey{e.ResourceType, e.ResourceID}
				if cur, ok := latest[k]; !ok || e.Revision >= cur.revision {
					latest[k] = latestState{revision: e.Revision, digest: e.SnapshotDigest, chain: e.Chain, seq: e.Seq}
				}
			}
			if len(evs) < 1000 {
				break
			}
			after = evs[len(evs)-1].Seq
		}
		hashes[h.Chain.String()] = seen
		rep.Problems = append(rep.Problems, v.Problems...)
	}
	for k, st := range latest {
		if p := checkLive(ctx, s, k, st); p != "" {
			rep.Problems = append(rep.Problems, p)
		}
	}
	ps, err := revisionsPastTrail(ctx, s, latest)
	if err != nil {
		return nil, err
	}
	rep.Problems = append(rep.Problems, ps...)
	// Portal authorisations, which let a portal read and act for a
	// supplier: those live must be those the trail leaves standing.
	live, err := s.PortalGrants(ctx)
	if err != nil {
		return nil, err
	}
	for _, g := range live {
		if !grants[g] {
			rep.Problems = append(rep.Problems, fmt.Sprintf("portal %q is authorised for supplier %s, but no audit event authorised it", g.Portal, g.Creditor))
		}
		delete(grants, g)
	}
	for g, on := range grants {
		if on {
			rep.Problems = append(rep.Problems, fmt.Sprintf("portal %q's authorisation for supplier %s is gone, though the audit trail never revoked it", g.Portal, g.Creditor))
		}
	}
	// A key the trail never recorded was put in the database behind the
	// service's back: an administrator's key, perhaps.
	var page store.Page
	for key, err := range listed(&page, func() ([]*auth.Key, error) { return s.ListKeys(ctx, page) }, keyID) {
		if err != nil {
			return nil, err
		}
		if _, ok := latest[liveKey{"api_key", key.ID}]; !ok {
			rep.Problems = append(rep.Problems, fmt.Sprintf("api_key %s (prefix %s) has no audit event: it was not made by the service", key.ID, key.Prefix))
		}
	}
	cps, err := s.ListCheckpoints(ctx)
	if err != nil {
		return nil, err
	}
	if len(cps) == 0 && rep.Events > 0 {
		// Without a signed checkpoint, chains recomputed end to end would
		// verify: say so rather than pass.
		rep.Problems = append(rep.Problems, "no signed checkpoint exists: history could have been recomputed unseen (were checkpoints deleted?)")
	}
	for _, cp := range cps {
		rep.Checkpoints++
		if err := cp.Verify(pub); err != nil {
			rep.Problems = append(rep.Problems, err.Error())
			continue
		}
		for _, h := range cp.Heads {
			got, ok := hashes[h.Chain.String()][h.Seq]
			switch {
			case !ok:
				rep.Problems = append(rep.Problems, fmt.Sprintf("checkpoint %s: chain %s event %d is gone", cp.ID, h.Chain, h.Seq))
			case got != h.Hash:
				rep.Problems = append(rep.Problems, fmt.Sprintf("checkpoint %s: chain %s event %d was rewritten since it was signed", cp.ID, h.Chain, h.Seq))
			}
		}
	}
	return rep, nil
}

// revisionsPastTrail reports revisions of audited records above the last
// revision their trail records: one inserted behind the service's back
// changes what the ledger says on past dates (a correction effective then),
// though the live row and every audited revision are untouched.
func revisionsPastTrail(ctx context.Context, s store.Reader, latest map[liveKey]latestState) ([]string, error) {
	// Ids, once each: a supplier's portal grants share its id.
	seen := make(map[uuid.UUID]bool, len(latest))
	ids := make([]uuid.UUID, 0, len(latest))
	for k := range latest {
		if !seen[k.id] {
			seen[k.id] = true
			ids = append(ids, k.id)
		}
	}
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	var problems []string
	for batch := range slices.Chunk(ids, 1000) {
		revs, err := s.RevisionsOf(ctx, batch)
		if err != nil {
			return nil, err
		}
		for _, id := range batch {
			for _, r := range revs[id] {
				k := liveKey{string(r.ResourceType), id}
				if st, ok := latest[k]; ok && r.Revision > st.revision {
					problems = append(problems, fmt.Sprintf("%s %s has revision %d, which no audit event records (its trail ends at revision %d): it was written behind the service's back",
						k.typ, id, r.Revision, st.revision))
				}
			}
		}
	}
	return problems, nil
}

type liveKey struct {
	typ string
	id  uuid.UUID
}

type latestState struct {
	revision int64
	digest   string
	chain    uuid.UUID
	seq      int64
}

// addedMembers are the members a record's snapshot gained after records
// were first audited, as they read in a record audited before then: with
// its default (the column added with it), or, for corrected_on, any value
// (migration 0008 filled it in from the revisions, writing no event).
var addedMembers = map[string][]*regexp.Regexp{
	"invoice": {regexp.MustCompile(`,"contested":0\b`), regexp.MustCompile(`,"corrected_on":(null|"[0-9-]{10}")`)},
	"dispute": {regexp.MustCompile(`,"opened_by":""`)},
}

// auditedBefore reports whether snap, without the members added since,
// is the state digest recorded: a record whose last event came before its
// snapshot grew them, untouched since.
func auditedBefore(typ string, snap []byte, digest string) bool {
	res := addedMembers[typ]
	if len(res) == 0 {
		return false
	}
	// Each member may be missing or not, as the record's last event
	// predates one, both or neither.
	for mask := 1; mask < 1<<len(res); mask++ {
		old := snap
		for i, re := range res {
			if mask&(1<<i) != 0 {
				old = re.ReplaceAll(old, nil)
			}
		}
		if audit.Digest(old) == digest {
			return true
		}
	}
	return false
}

// checkLive compares the row the API serves with the newest state the audit
// trail recorded for it: an edit made directly in the database, which no
// revision or event knows of, shows here.
func checkLive(ctx context.Context, s store.Reader, k liveKey, st latestState) string {
	var v any
	var err error
	switch k.typ {
	case "api_key":
		// Keys are audited in their own form (a digest of the secret's
		// hash, not the hash): re-enabling a revoked key, or replacing its
		// hash, in the database shows here.
		var snap []byte
		snap, err = s.KeyAuditSnapshot(ctx, k.id)
		if legacy, ok := store.LegacyKeySnapshot(snap); err == nil && ok && audit.Digest(legacy) == st.digest {
			return "" // audited before snapshots covered the secret
		}
		v = json.RawMessage(snap)
	case "party":
		v, err = s.GetParty(ctx, k.id)
	case "invoice":
		v, err = s.GetInvoice(ctx, k.id)
	case "payment":
		v, err = s.GetPayment(ctx, k.id)
	case "dispute":
		v, err = s.GetDispute(ctx, k.id)
	case "credit_note":
		v, err = s.GetCreditNote(ctx, k.id)
	case "claim":
		v, err = s.GetClaim(ctx, k.id)
	case "contest":
		v, err = s.GetContest(ctx, k.id)
	case "complaint":
		v, err = s.GetComplaint(ctx, k.id)
	case "complaint_event":
		v, err = s.GetComplaintEvent(ctx, k.id)
	default:
		return ""
	}
	if errors.Is(err, ledger.ErrNotFound) {
		return fmt.Sprintf("%s %s is gone, though the audit trail records it (chain %s event %d)", k.typ, k.id, st.chain, st.seq)
	}
	if err != nil {
		return fmt.Sprintf("%s %s: cannot read: %v", k.typ, k.id, err)
	}
	snap, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%s %s: %v", k.typ, k.id, err)
	}
	if audit.Digest(snap) != st.digest && !auditedBefore(k.typ, snap, st.digest) {
		return fmt.Sprintf("%s %s was altered: it does not match its last audited state (chain %s event %d)", k.typ, k.id, st.chain, st.seq)
	}
	switch k.typ {
	case "claim", "contest", "complaint":
		// Kept as a document beside columns that lists, scopes and the
		// sweeper read: those must say what the document says.
		col, err := s.DocColumnsDiffer(ctx, ledger.ResourceType(k.typ), k.id)
		if err != nil {
			return fmt.Sprintf("%s %s: cannot read: %v", k.typ, k.id, err)
		}
		if col != "" {
			return fmt.Sprintf("%s %s was altered: its %s column does not match its audited state (chain %s event %d)", k.typ, k.id, col, st.chain, st.seq)
		}
	}
	return ""
}

// checkRevision compares a ledger event's recorded snapshot digest with the
// revision row, so that editing a revision is detected too.
func checkRevision(ctx context.Context, s store.Reader, e *audit.Event) string {
	switch e.ResourceType {
	case "party", "invoice", "payment", "dispute", "claim", "contest", "complaint":
	default:
		return ""
	}
	revs, err := s.ListRevisions(ctx, e.ResourceID, e.Revision-1, 1)
	if err != nil {
		return fmt.Sprintf("chain %s event %d: cannot read revision: %v", e.Chain, e.Seq, err)
	}
	if len(revs) != 1 || revs[0].Revision != e.Revision {
		return fmt.Sprintf("chain %s event %d: revision %d of %s %s is gone", e.Chain, e.Seq, e.Revision, e.ResourceType, e.ResourceID)
	}
	r := revs[0]
	// The event covers the snapshot through its digest, and the
	// revision's own columns through its method, time and (events from
	// 28 November 2026) effective date: which revision counts on a past
	// date turns on them.
	if audit.Digest(r.Snapshot) != e.SnapshotDigest || r.Method != e.Method || !r.RecordTime.Equal(e.RecordTime) || string(r.ResourceType) != e.ResourceType ||
		(!e.EffectiveOn.IsZero() && r.EffectiveOn != e.EffectiveOn) {
		return fmt.Sprintf("chain %s event %d: revision %d of %s %s was altered", e.Chain, e.Seq, e.Revision, e.ResourceType, e.ResourceID)
	}
	return ""
}

// grantChange reads a portal authorisation event: which grant, and whether
// it is authorised (true) or revoked after it. An authorisation's changes
// are the grant itself, {"creditor": ..., "portal": ...}; a revocation's
// say each field went to nothing, {"portal": [old, null], ...}.
func grantChange(e *audit.Event) (store.PortalGrant, bool, bool) {
	g := store.PortalGrant{Creditor: e.ResourceID}
	switch e.Method {
	case "AuthorizePortal":
		var c struct{ Portal string }
		if json.Unmarshal([]byte(e.Changes), &c) == nil && c.Portal != "" {
			g.Portal = c.Portal
			return g, true, true
		}
		// Written by versions whose creations were a diff from nothing:
		// {"portal": [null, "p"], ...}.
		var old struct{ Portal []*string }
		if json.Unmarshal([]byte(e.Changes), &old) != nil || len(old.Portal) != 2 || old.Portal[1] == nil {
			return g, false, false
		}
		g.Portal = *old.Portal[1]
		return g, true, true
	case "RevokePortalAuthorization":
		var c struct{ Portal []*string }
		if json.Unmarshal([]byte(e.Changes), &c) != nil || len(c.Portal) == 0 || c.Portal[0] == nil {
			return g, false, false
		}
		g.Portal = *c.Portal[0]
		return g, false, true
	}
	return g, false, false
}
