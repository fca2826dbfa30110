package service

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"

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
	// The checkpoints first, so that of the events only the hashes some
	// checkpoint signed are kept for the comparison at the end: keeping
	// every event's hash grew verify's memory with the trail.
	cps, err := s.ListCheckpoints(ctx)
	if err != nil {
		return nil, err
	}
	signedOK := make([]error, len(cps))
	hashes := map[headKey]signedHead{}
	for i, cp := range cps {
		if signedOK[i] = cp.Verify(pub); signedOK[i] != nil {
			continue
		}
		for _, h := range cp.Heads {
			hashes[headKey{h.Chain, h.Seq}] = signedHead{}
		}
	}
	heads, err := s.ChainHeads(ctx)
	if err != nil {
		return nil, err
	}
	// latest[resource] is the digest of the newest recorded state of each
	// record, to compare with the live row the API serves.
	latest := map[liveKey]latestState{}
	// grants[grant] is whether the trail leaves the portal authorised:
	// a grant's events are on its supplier's chain, in order.
	grants := map[store.PortalGrant]bool{}
	types := map[string]string{}
	for _, h := range heads {
		rep.Chains++
		v := &audit.ChainVerifier{Chain: h.Chain}
		// From the lowest sequence stored, not from 1: an event slipped in
		// at 0 or below, which the change feed would serve, is checked
		// (and reported out of sequence) like any other.
		after := int64(math.MinInt64)
		for {
			evs, err := s.ListChainEvents(ctx, h.Chain, after, 1000)
			if err != nil {
				return nil, err
			}
			v.Problems = append(v.Problems, checkRevisions(ctx, s, evs)...)
			for _, e := range evs {
				v.Add(e)
				k := headKey{e.Chain, e.Seq}
				if _, signed := hashes[k]; signed {
					hashes[k] = signedHead{hash: e.Hash, found: true}
				}
				rep.Events++
				if e.ResourceType == "portal_grant" {
					if g, on, ok := grantChange(e); ok {
						grants[g] = on
					} else {
						v.Problems = append(v.Problems, fmt.Sprintf("chain %s event %d: a portal authorisation event that does not say which portal", e.Chain, e.Seq))
					}
				}
				// One copy of each type's name, not one per record.
				typ, ok := types[e.ResourceType]
				if !ok {
					typ = e.ResourceType
					types[typ] = typ
				}
				k2 := liveKey{typ, e.ResourceID}
				if cur, ok := latest[k2]; !ok || e.Revision >= cur.revision {
					latest[k2] = newLatestState(e)
				}
			}
			if len(evs) < 1000 {
				break
			}
			after = evs[len(evs)-1].Seq
		}
		rep.Problems = append(rep.Problems, v.Problems...)
	}
	ps, err := checkLiveAll(ctx, s, latest)
	if err != nil {
		return nil, err
	}
	rep.Problems = append(rep.Problems, ps...)
	ps, err = revisionsPastTrail(ctx, s, latest)
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
	if len(cps) == 0 && rep.Events > 0 {
		// Without a signed checkpoint, chains recomputed end to end would
		// verify: say so rather than pass.
		rep.Problems = append(rep.Problems, "no signed checkpoint exists: history could have been recomputed unseen (were checkpoints deleted?)")
	}
	for i, cp := range cps {
		rep.Checkpoints++
		if signedOK[i] != nil {
			rep.Problems = append(rep.Problems, signedOK[i].Error())
			continue
		}
		for _, h := range cp.Heads {
			switch got := hashes[headKey{h.Chain, h.Seq}]; {
			case !got.found:
				rep.Problems = append(rep.Problems, fmt.Sprintf("checkpoint %s: chain %s event %d is gone", cp.ID, h.Chain, h.Seq))
			case got.hash != h.Hash:
				rep.Problems = append(rep.Problems, fmt.Sprintf("checkpoint %s: chain %s event %d was rewritten since it was signed", cp.ID, h.Chain, h.Seq))
			}
		}
	}
	return rep, nil
}

// headKey names an event by its chain and place in it.
type headKey struct {
	chain uuid.UUID
	seq   int64
}

// signedHead is the hash of an event a checkpoint signed, once the scan
// of its chain found it.
type signedHead struct {
	hash  string
	found bool
}

// revisionsPastTrail reports revisions of audited records above the last
// revision their trail records: one inserted behind the service's back
// changes what the ledger says on past dates (a correction effective then),
// though the live row and every audited revision are untouched.
func revisionsPastTrail(ctx context.Context, s store.Reader, latest map[liveKey]latestState) ([]string, error) {
	// Ids, once each (a supplier's portal grants share its id), and the
	// few types records have, to name those the trail records an id as.
	seen := make(map[uuid.UUID]bool, len(latest))
	ids := make([]uuid.UUID, 0, len(latest))
	types := map[string]bool{}
	for k := range latest {
		if !seen[k.id] {
			seen[k.id] = true
			ids = append(ids, k.id)
		}
		types[k.typ] = true
	}
	trailTypes := func(id uuid.UUID) string {
		var as []string
		for typ := range types {
			if _, ok := latest[liveKey{typ, id}]; ok {
				as = append(as, typ)
			}
		}
		slices.Sort(as)
		return strings.Join(as, ", ")
	}
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	var problems []string
	for batch := range slices.Chunk(ids, 1000) {
		revs, err := s.RevisionsOf(ctx, batch)
		if err != nil {
			// A row the store cannot read fails its batch: read each
			// record's alone, so that the others are still checked.
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			revs = map[uuid.UUID][]*ledger.Revision{}
			for _, id := range batch {
				one, err := s.RevisionsOf(ctx, []uuid.UUID{id})
				if err != nil {
					problems = append(problems, fmt.Sprintf("%s: cannot read its revisions: %v", id, err))
					continue
				}
				revs[id] = one[id]
			}
		}
		for _, id := range batch {
			for _, r := range revs[id] {
				k := liveKey{string(r.ResourceType), id}
				st, ok := latest[k]
				switch {
				case r.Revision < 1:
					// Revisions count from 1; the readers of a record's
					// history take every row of its id all the same.
					problems = append(problems, fmt.Sprintf("%s %s has revision %d, below the first: it was written behind the service's back",
						k.typ, id, r.Revision))
				case !ok:
					problems = append(problems, fmt.Sprintf("%s has a revision %d of type %q, which its audit trail does not record it as (%s): it was written behind the service's back",
						id, r.Revision, k.typ, trailTypes(id)))
				case r.Revision > st.revision:
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

// latestState is the newest audited state of a record: verify keeps one
// for every record in the ledger, so it is kept small (the digest as its
// 32 bytes, not 64 of hex in a string of its own).
type latestState struct {
	revision int64
	seq      int64
	chain    uuid.UUID
	digest   [sha256.Size]byte
	// odd is set where the event's digest is not the lowercase hex
	// that audit.Digest writes: it then matches no state.
	odd bool
}

func newLatestState(e *audit.Event) latestState {
	st := latestState{revision: e.Revision, seq: e.Seq, chain: e.Chain}
	// The length first: hex.Decode writes as far as its input reaches.
	if len(e.SnapshotDigest) != 2*sha256.Size {
		st.odd = true
		return st
	}
	_, err := hex.Decode(st.digest[:], []byte(e.SnapshotDigest))
	st.odd = err != nil || hex.EncodeToString(st.digest[:]) != e.SnapshotDigest
	return st
}

// digestHex is the digest as audit.Digest writes it, or "" (which no
// digest equals) if the event's was odd.
func (st latestState) digestHex() string {
	if st.odd {
		return ""
	}
	return hex.EncodeToString(st.digest[:])
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

// checkLiveAll runs checkLive on every record the trail names. Invoices
// and payments, most of a ledger, are read a thousand at a time; where
// such a read fails, each is read alone.
func checkLiveAll(ctx context.Context, s store.Reader, latest map[liveKey]latestState) ([]string, error) {
	read := map[string]func([]uuid.UUID) (map[uuid.UUID]any, error){
		"invoice": func(ids []uuid.UUID) (map[uuid.UUID]any, error) { return anyValues(s.InvoicesOf(ctx, ids)) },
		"payment": func(ids []uuid.UUID) (map[uuid.UUID]any, error) { return anyValues(s.PaymentsOf(ctx, ids)) },
	}
	var problems []string
	batched := map[string][]uuid.UUID{}
	for k, st := range latest {
		if read[k.typ] != nil {
			batched[k.typ] = append(batched[k.typ], k.id)
			continue
		}
		if p := checkLive(ctx, s, k, st); p != "" {
			problems = append(problems, p)
		}
	}
	for typ, ids := range batched {
		slices.SortFunc(ids, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
		for batch := range slices.Chunk(ids, 1000) {
			rows, err := read[typ](batch)
			if err != nil && ctx.Err() != nil {
				return nil, ctx.Err()
			}
			for _, id := range batch {
				k := liveKey{typ, id}
				var p string
				if err != nil {
					p = checkLive(ctx, s, k, latest[k])
				} else if v, ok := rows[id]; ok {
					p = liveProblem(ctx, s, k, latest[k], v, nil)
				} else {
					p = liveProblem(ctx, s, k, latest[k], nil, ledger.ErrNotFound)
				}
				if p != "" {
					problems = append(problems, p)
				}
			}
		}
	}
	return problems, nil
}

// anyValues is a batch read's rows as checkLive reads them.
func anyValues[T any](m map[uuid.UUID]*T, err error) (map[uuid.UUID]any, error) {
	if err != nil {
		return nil, err
	}
	out := make(map[uuid.UUID]any, len(m))
	for id, v := range m {
		out[id] = v
	}
	return out, nil
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
		if legacy, ok := store.LegacyKeySnapshot(snap); err == nil && ok && audit.Digest(legacy) == st.digestHex() {
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
	return liveProblem(ctx, s, k, st, v, err)
}

// liveProblem says how v, the live row of k as read (err the read's
// error), departs from st, its last audited state, or "".
func liveProblem(ctx context.Context, s store.Reader, k liveKey, st latestState, v any, err error) string {
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
	if digest := st.digestHex(); audit.Digest(snap) != digest && !auditedBefore(k.typ, snap, digest) {
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

// revisioned are the resource types whose events each record a revision
// row.
func revisioned(typ string) bool {
	switch typ {
	case "party", "invoice", "payment", "dispute", "claim", "contest", "complaint":
		return true
	}
	return false
}

// checkRevisions compares each ledger event's recorded snapshot digest
// with its revision row, so that editing a revision is detected too: one
// read of the revisions a batch of events records, not one per event (a
// million-event trail took a million queries). Where the batch's read
// fails (a row tampered past what the store can scan, say), each event is
// read alone, so that the rest are still checked and the bad one named.
func checkRevisions(ctx context.Context, s store.Reader, evs []*audit.Event) []string {
	var keys []store.RevisionKey
	for _, e := range evs {
		if revisioned(e.ResourceType) {
			keys = append(keys, store.RevisionKey{ResourceID: e.ResourceID, Revision: e.Revision})
		}
	}
	if len(keys) == 0 {
		return nil
	}
	revs, err := s.RevisionsAt(ctx, keys)
	if err != nil && ctx.Err() != nil {
		return nil // the scan ends with the context's error
	}
	var problems []string
	for _, e := range evs {
		if !revisioned(e.ResourceType) {
			continue
		}
		var p string
		if err != nil {
			p = checkRevision(ctx, s, e)
		} else {
			p = revisionProblem(e, revs[store.RevisionKey{ResourceID: e.ResourceID, Revision: e.Revision}])
		}
		if p != "" {
			problems = append(problems, p)
		}
	}
	return problems
}

// checkRevision is checkRevisions for one event, read alone.
func checkRevision(ctx context.Context, s store.Reader, e *audit.Event) string {
	revs, err := s.ListRevisions(ctx, e.ResourceID, e.Revision-1, 1)
	if err != nil {
		return fmt.Sprintf("chain %s event %d: cannot read revision: %v", e.Chain, e.Seq, err)
	}
	var r *ledger.Revision
	if len(revs) == 1 && revs[0].Revision == e.Revision {
		r = revs[0]
	}
	return revisionProblem(e, r)
}

// revisionProblem says what is wrong with r, the revision event e records
// (nil if there is none), or "".
func revisionProblem(e *audit.Event, r *ledger.Revision) string {
	if r == nil {
		return fmt.Sprintf("chain %s event %d: revision %d of %s %s is gone", e.Chain, e.Seq, e.Revision, e.ResourceType, e.ResourceID)
	}
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
