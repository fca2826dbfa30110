package service

import (
	"context"
	"crypto/ed25519"
	"fmt"

	"github.com/arrears/arrears/internal/audit"
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
// It reads the store directly, not through any caller's scope.
func VerifyAudit(ctx context.Context, s store.Store, pub ed25519.PublicKey) (*AuditReport, error) {
	rep := &AuditReport{}
	heads, err := s.ChainHeads(ctx)
	if err != nil {
		return nil, err
	}
	// hashes[chain][seq] for the checkpoint comparison.
	hashes := map[string]map[int64]string{}
	for _, h := range heads {
		rep.Chains++
		v := &audit.ChainVerifier{Chain: h.Chain}
		seen := map[int64]string{}
		var after int64
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
			}
			if len(evs) < 1000 {
				break
			}
			after = evs[len(evs)-1].Seq
		}
		hashes[h.Chain.String()] = seen
		rep.Problems = append(rep.Problems, v.Problems...)
	}
	cps, err := s.ListCheckpoints(ctx)
	if err != nil {
		return nil, err
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

// checkRevision compares a ledger event's recorded snapshot digest with the
// revision row, so that editing a revision is detected too.
func checkRevision(ctx context.Context, s store.Store, e *audit.Event) string {
	switch e.ResourceType {
	case "party", "invoice", "payment", "dispute":
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
	if audit.Digest(revs[0].Snapshot) != e.SnapshotDigest {
		return fmt.Sprintf("chain %s event %d: revision %d of %s %s was altered", e.Chain, e.Seq, e.Revision, e.ResourceType, e.ResourceID)
	}
	return ""
}
