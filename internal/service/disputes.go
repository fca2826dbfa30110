package service

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/auth"
	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/store"
)

// OpenDispute puts all or part of what is outstanding in dispute.
func (l *Ledger) OpenDispute(ctx context.Context, invoiceID uuid.UUID, d *ledger.Dispute, currency string, idem Idempotency) (*ledger.Dispute, *ledger.Invoice, error) {
	now := l.now()
	var outD *ledger.Dispute
	var outInv *ledger.Invoice
	err := l.store.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
		inv, debtor, err := lockWithDebtor(ctx, tx, invoiceID)
		if err != nil {
			return err
		}
		now = notBefore(now, inv.UpdateTime)
		if id, ok, err := replay(ctx, tx, idem); err != nil || ok {
			if err == nil {
				outD, err = tx.GetDispute(ctx, id)
				outInv = inv
			}
			return err
		}
		today := l.Today(now, debtor.Jurisdiction)
		var v ledger.ValidationError
		ledger.ValidateAmount(&v, "dispute.amount", ledger.MoneyOf(d.Amount, currency))
		if currency != "" && currency != inv.Amount.Currency {
			v.Add("dispute.amount.currency_code", "is %s but the invoice is in %s", currency, inv.Amount.Currency)
		}
		checkFactDate(&v, "dispute.opened_on", d.OpenedOn, today)
		checkReason(&v, "dispute.reason", d.Reason)
		if free := inv.Outstanding() - inv.Disputed; inv.Status == ledger.StatusOpen && d.Amount > free {
			if free <= 0 {
				// Payments since have left less owed than is disputed
				// already: nothing is left to dispute, not a negative sum.
				v.Add("dispute.amount.minor_units", "nothing undisputed is outstanding: %d is owed and open disputes hold %d", inv.Outstanding(), inv.Disputed)
			} else {
				v.Add("dispute.amount.minor_units", "%d exceeds the undisputed outstanding amount %d", d.Amount, free)
			}
		}
		if err := v.Err(); err != nil {
			return err
		}
		if inv.Status != ledger.StatusOpen {
			return fmt.Errorf("%w: the invoice is %s: nothing is outstanding to dispute", ledger.ErrFailedPrecondition, inv.Status)
		}
		side, err := disputeSide(ctx, tx, inv)
		if err != nil {
			return err
		}
		if side == "" {
			return fmt.Errorf("%w: only the debtor or the supplier raises a dispute", ledger.ErrPermissionDenied)
		}
		if err := roomForFacts(ctx, tx, inv, factDisputes, 1); err != nil {
			return err
		}
		nd := *d
		nd.ID, nd.InvoiceID, nd.State, nd.CreateTime, nd.UpdateTime = newID(), inv.ID, ledger.DisputeOpen, now, now
		nd.OpenedBy = side
		nd.Resolution, nd.ResolvedOn, nd.Comment, nd.CreditNoteID = "", civil.Date{}, "", uuid.Nil
		if err := tx.CreateDispute(ctx, &nd, change(ctx, inv, nd.OpenedOn, now, "OpenDispute")); err != nil {
			return err
		}
		next := *inv
		next.Disputed += nd.Amount
		next.UpdateTime = now
		if err := tx.UpdateInvoice(ctx, &next, change(ctx, inv, nd.OpenedOn, now, "OpenDispute")); err != nil {
			return err
		}
		if err := l.resummarize(ctx, tx, []*ledger.Invoice{&next}, now); err != nil {
			return err
		}
		outD, outInv = &nd, &next
		return remember(ctx, tx, idem, nd.ID, now)
	})
	return outD, outInv, err
}

// ResolveDispute ends an open dispute. CREDITED issues a credit note for the
// disputed amount (at most what is still outstanding), dated resolvedOn.
func (l *Ledger) ResolveDispute(ctx context.Context, invoiceID, disputeID uuid.UUID, res ledger.DisputeResolution, resolvedOn civil.Date, comment, etag string) (*ledger.Dispute, *ledger.Invoice, error) {
	now := l.now()
	var outD *ledger.Dispute
	var outInv *ledger.Invoice
	err := l.store.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
		inv, debtor, err := lockWithDebtor(ctx, tx, invoiceID)
		if err != nil {
			return err
		}
		now = notBefore(now, inv.UpdateTime)
		d, err := tx.GetDispute(ctx, disputeID)
		if err != nil {
			return err
		}
		if d.InvoiceID != inv.ID {
			return ledger.ErrNotFound
		}
		if err := checkEtag(etag, d.Version); err != nil {
			return err
		}
		today := l.Today(now, debtor.Jurisdiction)
		var v ledger.ValidationError
		if !res.Valid() {
			v.Add("resolution", "must be REJECTED, CREDITED or WITHDRAWN")
		}
		checkFactDate(&v, "resolved_on", resolvedOn, today)
		if !resolvedOn.IsZero() && resolvedOn.Before(d.OpenedOn) {
			v.Add("resolved_on", "%s is before the dispute was opened on %s", resolvedOn, d.OpenedOn)
		}
		if res == ledger.ResolutionCredited {
			// Resolved by a credit note dated then, which is no earlier
			// than the invoice it credits (as one issued by hand).
			notBeforeIssue(&v, "resolved_on", resolvedOn, inv)
		}
		if len([]rune(comment)) > 1000 {
			v.Add("comment", "is longer than 1000 characters")
		}
		ledger.ValidateText(&v, "comment", comment)
		if err := v.Err(); err != nil {
			return err
		}
		if d.State != ledger.DisputeOpen {
			return fmt.Errorf("%w: the dispute was already resolved on %s", ledger.ErrFailedPrecondition, d.ResolvedOn)
		}
		if err := mayResolve(ctx, tx, inv, d, res); err != nil {
			return err
		}
		if res == ledger.ResolutionCredited && (inv.Status != ledger.StatusOpen || inv.Outstanding() <= 0) {
			// Nothing is left to credit: a dispute resolved so would carry no
			// credit note, and the judgement would credit it anyway.
			return fmt.Errorf("%w: the invoice is %s with nothing outstanding to credit; resolve the dispute REJECTED or WITHDRAWN",
				ledger.ErrFailedPrecondition, inv.Status)
		}
		next := *inv
		next.Disputed -= d.Amount
		next.UpdateTime = now
		if res == ledger.ResolutionCredited && inv.Status == ledger.StatusOpen {
			amount := min(d.Amount, inv.Outstanding())
			note := &ledger.CreditNote{ID: newID(), InvoiceID: inv.ID, Amount: amount, IssuedOn: resolvedOn,
				Reference: "dispute-" + d.ID.String(), Reason: "dispute resolved by credit: " + d.Reason, CreateTime: now}
			// The note counts against the invoice's credit notes, as one
			// issued by hand does (applyCredit).
			if err := roomForFacts(ctx, tx, inv, factCreditNotes, 1); err != nil {
				return err
			}
			if err := tx.CreateCreditNote(ctx, note, change(ctx, inv, resolvedOn, now, "ResolveDispute")); err != nil {
				return err
			}
			next.Credited += amount
			d.CreditNoteID = note.ID
		}
		next.Derive()
		d.State, d.Resolution, d.ResolvedOn, d.Comment, d.UpdateTime = ledger.DisputeResolved, res, resolvedOn, comment, now
		if err := tx.UpdateDispute(ctx, d, change(ctx, inv, resolvedOn, now, "ResolveDispute")); err != nil {
			return err
		}
		if err := tx.UpdateInvoice(ctx, &next, change(ctx, inv, resolvedOn, now, "ResolveDispute")); err != nil {
			return err
		}
		if err := l.resummarize(ctx, tx, []*ledger.Invoice{&next}, now); err != nil {
			return err
		}
		outD, outInv = d, &next
		return nil
	})
	return outD, outInv, err
}

// GetDispute returns a dispute of an invoice.
func (l *Ledger) GetDispute(ctx context.Context, invoiceID, disputeID uuid.UUID) (*ledger.Dispute, error) {
	return childOf(ctx, l, invoiceID, disputeID, l.store.GetDispute, func(d *ledger.Dispute) uuid.UUID { return d.InvoiceID })
}

// ListDisputes lists an invoice's disputes.
func (l *Ledger) ListDisputes(ctx context.Context, q store.DisputeQuery) ([]*ledger.Dispute, error) {
	if _, err := visibleInvoice(ctx, l.store, q.InvoiceID, nil); err != nil {
		return nil, err
	}
	return l.store.ListDisputes(ctx, q)
}

// ListRevisions lists the revisions of a resource after revision after.
// parentID is the invoice for a payment or dispute (zero otherwise); the
// resource must exist and belong to it.
func (l *Ledger) ListRevisions(ctx context.Context, typ ledger.ResourceType, parentID, id uuid.UUID, after int64, limit int) ([]*ledger.Revision, error) {
	var err error
	switch typ {
	case ledger.ResourceParty:
		_, err = visibleParty(ctx, l.store, PartyRef{ID: id})
	case ledger.ResourceInvoice:
		_, err = visibleInvoice(ctx, l.store, id, nil)
	case ledger.ResourcePayment:
		_, err = l.GetPayment(ctx, parentID, id)
	case ledger.ResourceDispute:
		_, err = l.GetDispute(ctx, parentID, id)
	default:
		err = ledger.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return l.store.ListRevisions(ctx, id, after, limit)
}

// disputeSide says which side of the invoice the caller is on: DEBTOR,
// CREDITOR (the supplier, or a portal it authorised), ADMIN, or "".
func disputeSide(ctx context.Context, r store.Reader, inv *ledger.Invoice) (string, error) {
	p := auth.FromContext(ctx)
	switch {
	case p == nil:
		return "", nil
	case p.Role == auth.RoleAdmin:
		return "ADMIN", nil
	case p.Role == auth.RoleDebtor && p.Acts(inv.DebtorID):
		return "DEBTOR", nil
	}
	ok, err := actsForCreditor(ctx, r, inv.CreditorID)
	if ok {
		return "CREDITOR", err
	}
	return "", err
}

// mayResolve applies who ends a dispute: the side that raised it withdraws
// it; only the supplier grants a credit; only a regulator (or an operator)
// rejects it, since neither side may overrule the other.
func mayResolve(ctx context.Context, r store.Reader, inv *ledger.Invoice, d *ledger.Dispute, res ledger.DisputeResolution) error {
	p := auth.FromContext(ctx)
	if p != nil && p.Role == auth.RoleAdmin {
		return nil
	}
	side, err := disputeSide(ctx, r, inv)
	if err != nil {
		return err
	}
	switch res {
	case ledger.ResolutionWithdrawn:
		// One an operator raised, or one from before the ledger kept who
		// raised it (OpenedBy empty), either side may withdraw: else none
		// could, and the dispute would stand until a regulator's ruling.
		if side != "" && (side == d.OpenedBy || d.OpenedBy == "ADMIN" || d.OpenedBy == "") {
			return nil
		}
		return fmt.Errorf("%w: only the side that raised the dispute (%s) withdraws it", ledger.ErrPermissionDenied, d.OpenedBy)
	case ledger.ResolutionCredited:
		if side == "CREDITOR" {
			return nil
		}
		return fmt.Errorf("%w: only the supplier grants a credit", ledger.ErrPermissionDenied)
	case ledger.ResolutionRejected:
		if p != nil && p.Role == auth.RoleRegulator {
			return nil
		}
		return fmt.Errorf("%w: only a regulator rejects a dispute; the side that raised it may withdraw it", ledger.ErrPermissionDenied)
	}
	return nil
}
