package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/arrears/arrears/internal/auth"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/store"
)

// CreateParty registers a verified party.
func (l *Ledger) CreateParty(ctx context.Context, p *ledger.Party, idem Idempotency) (*ledger.Party, error) {
	var v ledger.ValidationError
	v.Merge("party.", p.Normalize())
	if err := v.Err(); err != nil {
		return nil, err
	}
	now := l.now()
	var out *ledger.Party
	err := l.store.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
		if id, ok, err := replay(ctx, tx, idem); err != nil || ok {
			if err == nil {
				out, err = tx.GetParty(ctx, id)
			}
			return err
		}
		cp := *p
		cp.ID, cp.Unverified, cp.CreateTime, cp.UpdateTime = newID(), false, now, now
		if err := remember(ctx, tx, idem, cp.ID, now); err != nil {
			return err
		}
		if err := tx.CreateParty(ctx, &cp, partyChange(ctx, l.Today(now, cp.Jurisdiction), now, "CreateParty")); err != nil {
			if errors.Is(err, ledger.ErrAlreadyExists) {
				return fmt.Errorf("%w: a party with registration_id %s in %s is already registered", ledger.ErrAlreadyExists, cp.RegistrationID, cp.Jurisdiction)
			}
			return err
		}
		out = &cp
		return nil
	})
	return out, err
}

// GetParty returns a party by id or natural key.
func (l *Ledger) GetParty(ctx context.Context, ref PartyRef) (*ledger.Party, error) {
	return visibleParty(ctx, l.store, ref)
}

// ListParties lists parties matching q.
func (l *Ledger) ListParties(ctx context.Context, q store.PartyQuery) ([]*ledger.Party, error) {
	q.Scope = scope(ctx)
	return l.store.ListParties(ctx, q)
}

// UpdateParty copies the fields named in mask from patch onto the stored
// party. jurisdiction and registration_id are the natural key and never
// change; etag, if given, must be current.
func (l *Ledger) UpdateParty(ctx context.Context, ref PartyRef, patch *ledger.Party, mask []string, etag string) (*ledger.Party, error) {
	if len(mask) == 0 {
		return nil, ledger.Invalid("update_mask", "is required: name the fields to change")
	}
	now := l.now()
	var out *ledger.Party
	err := l.store.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
		cur, err := visibleParty(ctx, tx, ref)
		if err != nil {
			return err
		}
		// Written under the row's version check: a change committed since
		// the read fails it and reruns the transaction.
		now = notBefore(now, cur.UpdateTime)
		next := *cur
		for _, f := range mask {
			switch f {
			case "display_name":
				next.DisplayName = patch.DisplayName
			case "kind":
				next.Kind = patch.Kind
			case "size_class":
				next.SizeClass = patch.SizeClass
			case "region_code":
				next.RegionCode = patch.RegionCode
			case "industry_code":
				next.IndustryCode = patch.IndustryCode
			case "verification_state":
				// An administrator confirms a supplier a debtor's sync
				// created from its records (or withdraws a confirmation
				// given in error): nothing else makes it verified.
				next.Unverified = patch.Unverified
			case "jurisdiction", "registration_id":
				return ledger.Invalid("update_mask", "%s is immutable: it is the party's natural key", f)
			default:
				return ledger.Invalid("update_mask", "%q is not an updatable field of a party", f)
			}
		}
		if err := checkEtag(etag, cur.Version); err != nil {
			return err
		}
		if (next.Kind == ledger.KindRegulator) != (cur.Kind == ledger.KindRegulator) {
			// A regulator handles complaints and keys act for it as one; a
			// firm owes and is owed. Neither turns into the other.
			what := "firm or public body"
			if next.Kind == ledger.KindRegulator {
				what = "regulator"
			}
			return ledger.Invalid("party.kind", "a party is a regulator or not from its registration: register the %s as a new party", what)
		}
		if next.Kind != ledger.KindSME && cur.Kind == ledger.KindSME && !contains(mask, "size_class") {
			next.SizeClass = "" // Normalize sets LARGE for a non-SME
		}
		var v ledger.ValidationError
		v.Merge("party.", next.Normalize())
		if err := v.Err(); err != nil {
			return err
		}
		if next.Kind == ledger.KindRegulator && next.RegionCode != cur.RegionCode {
			if err := remitsCover(ctx, tx, &next, now); err != nil {
				return err
			}
		}
		next.UpdateTime = now
		if err := tx.UpdateParty(ctx, &next, partyChange(ctx, l.Today(now, next.Jurisdiction), now, "UpdateParty")); err != nil {
			return err
		}
		if next.RegionCode != cur.RegionCode || next.Kind != cur.Kind {
			// The summary aggregates group a debtor's invoices by its region
			// and kind: move them to the new group.
			if err := l.resummarizeDebtor(ctx, tx, next.ID, now); err != nil {
				return err
			}
		}
		out = &next
		return nil
	})
	return out, err
}

// remitsCover refuses to move a regulator out of the remit of a key that
// acts for it, as such a key is refused when made: complaints routed to
// the office in its new region would be outside what the only keys acting
// for it may see, and would sit unanswered while their deadlines pass.
func remitsCover(ctx context.Context, tx store.Tx, reg *ledger.Party, now time.Time) error {
	var page store.Page
	for k, err := range listed(&page, func() ([]*auth.Key, error) { return tx.ListKeys(ctx, page) }, keyID) {
		if err != nil {
			return err
		}
		if k.Role == auth.RoleRegulator && k.Active(now) && slices.Contains(k.Parties, reg.ID) && !k.Remit.Covers(reg.Jurisdiction, reg.RemitPrefix()) {
			return ledger.Invalid("party.region_code", "API key %s acts for this regulator with a remit (%s %s*) that does not hold the whole of region %s (%s*): revoke it or give the regulator a key for its new remit first",
				k.Prefix, k.Remit.Jurisdiction, k.Remit.RegionPrefix, reg.RegionCode, reg.RemitPrefix())
		}
	}
	return nil
}
