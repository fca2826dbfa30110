package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/auth"
	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/complaint"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/money"
	"github.com/arrears/arrears/internal/store"
)

// sees reports whether the caller may see a record between debtor and
// creditor: the same rule as for invoices, applied to one pair.
func sees(ctx context.Context, r store.Reader, debtor, creditor uuid.UUID) (bool, error) {
	s := scope(ctx)
	if s.All || contains(s.Debtors, debtor) || contains(s.Creditors, creditor) {
		return true, nil
	}
	if s.Portal != "" {
		if ok, err := r.PortalAuthorized(ctx, s.Portal, creditor); ok || err != nil {
			return ok, err
		}
	}
	if s.Remit != nil {
		d, err := r.GetParty(ctx, debtor)
		if err != nil {
			return false, err
		}
		return s.Remit.Covers(d.Jurisdiction, d.RegionCode), nil
	}
	return false, nil
}

// actsForCreditor reports whether the caller speaks for a supplier: its own
// key, a portal it authorised, or an administrator.
func actsForCreditor(ctx context.Context, r store.Reader, creditor uuid.UUID) (bool, error) {
	p := auth.FromContext(ctx)
	switch {
	case p == nil:
		return false, nil
	case p.Role == auth.RoleAdmin || (p.Role == auth.RoleCreditor && p.Acts(creditor)):
		return true, nil
	case p.Role == auth.RolePortal:
		return r.PortalAuthorized(ctx, p.Portal, creditor)
	}
	return false, nil
}

// actorOf maps the domain's refusals to the ledger's errors.
func machineErr(err error) error {
	switch {
	case errors.Is(err, complaint.ErrNotAllowed):
		return fmt.Errorf("%w: %v", ledger.ErrFailedPrecondition, err)
	case errors.Is(err, complaint.ErrNotYours):
		return fmt.Errorf("%w: %v", ledger.ErrPermissionDenied, err)
	}
	return err
}

// ClaimInput is a supplier's claim of an unreported debt.
type ClaimInput struct {
	Claim    *complaint.Claim
	Creditor PartyRef
	Debtor   PartyRef
	Problems ledger.ValidationError
	Idem     Idempotency
}

// CreateClaim registers a debt the debtor has not reported.
func (l *Ledger) CreateClaim(ctx context.Context, in ClaimInput) (*complaint.Claim, error) {
	now := l.now()
	var out *complaint.Claim
	err := l.store.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
		if id, ok, err := replay(ctx, tx, in.Idem); err != nil || ok {
			if err == nil {
				// Seen as a read would see it: a portal whose authority was
				// revoked since does not get the claim back.
				if out, err = visibleClaim(ctx, tx, id); errors.Is(err, ledger.ErrNotFound) {
					err = fmt.Errorf("%w: claim.creditor is not a supplier this key speaks for", ledger.ErrPermissionDenied)
				}
			}
			return err
		}
		v := in.Problems
		creditor, err := lookupParty(ctx, tx, &v, "claim.creditor", in.Creditor)
		if err != nil {
			return err
		}
		debtor, err := lookupParty(ctx, tx, &v, "claim.debtor", in.Debtor)
		if err != nil {
			return err
		}
		c := *in.Claim
		today := civil.DateOf(now, time.UTC)
		if debtor != nil {
			today = l.Today(now, debtor.Jurisdiction)
		}
		if creditor != nil && debtor != nil && creditor.ID == debtor.ID {
			v.Add("claim.debtor", "is the claiming supplier itself")
		}
		noRegulator(&v, "claim.", debtor, creditor)
		ledger.ValidateRef(&v, "claim.document_ref", c.DocumentRef, true)
		ledger.ValidateAmount(&v, "claim.amount", money.Money{Minor: c.Amount, Currency: c.Currency})
		checkFactDate(&v, "claim.issued_on", c.IssuedOn, today)
		if !c.DeliveredOn.IsZero() && c.DeliveredOn.After(today) {
			v.Add("claim.delivered_on", "%s is in the future (today is %s)", c.DeliveredOn, today)
		}
		if n := utf8.RuneCountInString(c.Description); n > 1000 {
			v.Add("claim.description", "is %d characters long, at most 1000 are allowed", n)
		} else {
			ledger.ValidateText(&v, "claim.description", c.Description)
		}
		// As an invoice's agreed due date: the claim becomes one.
		ledger.ValidateAgreedDueDate(&v, "claim.due_on", c.DueOn, c.IssuedOn)
		switch n := len(c.Evidence); {
		case n == 0:
			v.Add("claim.evidence_refs", "name at least one piece of evidence (contract, delivery note, acceptance record)")
		case n > maxEvidence:
			v.Add("claim.evidence_refs", "names %d pieces of evidence, at most %d are allowed", n, maxEvidence)
		}
		for i, e := range c.Evidence {
			ledger.ValidateRef(&v, fmt.Sprintf("claim.evidence_refs[%d]", i), e, true)
		}
		if err := v.Err(); err != nil {
			return err
		}
		if ok, err := actsForCreditor(ctx, tx, creditor.ID); err != nil || !ok {
			if err == nil {
				err = fmt.Errorf("%w: claim.creditor is not a supplier this key speaks for", ledger.ErrPermissionDenied)
			}
			return err
		}
		// A debt the debtor already records is not unreported: the
		// supplier contests the invoice instead. Acknowledging such a
		// claim would record the debt twice. One it cancelled it no
		// longer records, and a contest cannot restore it (a cancelled
		// invoice is corrected no more): that debt is claimed.
		if inv, err := tx.GetInvoiceByDocumentRef(ctx, debtor.ID, strings.TrimSpace(c.DocumentRef)); err == nil && inv.CreditorID == creditor.ID && inv.Status != ledger.StatusCancelled {
			return fmt.Errorf("%w: the debtor already records this debt as invoices/%s; contest that invoice instead (claim.document_ref)", ledger.ErrAlreadyExists, inv.ID)
		} else if err != nil && !errors.Is(err, ledger.ErrNotFound) {
			return err
		}
		// Nor is a debt the supplier has claimed already, pending or
		// acknowledged: a second acknowledgement would record it twice.
		// The supplier's claims are made one at a time, so two made at
		// once cannot both miss each other.
		if _, err := tx.LockParty(ctx, creditor.ID); err != nil {
			return err
		}
		// A retry of this very request, sent while the first was still
		// running, waited for the lock above and now sees the claim the
		// first made: it is answered with that claim, not refused as a
		// second claim of the debt.
		if id, ok, err := replay(ctx, tx, in.Idem); err != nil {
			return err
		} else if ok {
			out, err = visibleClaim(ctx, tx, id)
			return err
		}
		if prior, err := pendingClaim(ctx, tx, debtor.ID, creditor.ID, strings.TrimSpace(c.DocumentRef), uuid.Nil); err != nil {
			return err
		} else if prior != nil {
			return fmt.Errorf("%w: claims/%s (%s) already claims this debt (claim.document_ref)", ledger.ErrAlreadyExists, prior.ID, prior.State)
		}
		c.ID, c.Creditor, c.Debtor, c.State, c.SubmittedOn = newID(), creditor.ID, debtor.ID, complaint.ClaimSubmitted, today
		c.CreateTime, c.UpdateTime = now, now
		if err := tx.CreateClaim(ctx, &c, partyChange(ctx, today, now, "CreateClaim")); err != nil {
			return err
		}
		out = &c
		return remember(ctx, tx, in.Idem, c.ID, now)
	})
	return out, err
}

// pendingClaim finds the supplier's claim on the debtor under ref, other
// than except, that is submitted or acknowledged, if any. A pair has few
// claims (each is a debt the debtor did not report), so they are read and
// compared here.
func pendingClaim(ctx context.Context, r store.Reader, debtor, creditor uuid.UUID, ref string, except uuid.UUID) (*complaint.Claim, error) {
	q := store.SupplierQuery{Scope: auth.Scope{All: true}, DebtorID: debtor, CreditorID: creditor, State: []store.StringCond{
		{Op: store.OpNe, Value: string(complaint.ClaimDisputed)}, {Op: store.OpNe, Value: string(complaint.ClaimWithdrawn)}}}
	for c, err := range listed(&q.Page, func() ([]*complaint.Claim, error) { return r.ListClaims(ctx, q) }, claimID) {
		if err != nil {
			return nil, err
		}
		if c.DocumentRef == ref && c.ID != except {
			return c, nil
		}
	}
	return nil, nil
}

// claimedAs returns another claim between c's parties acknowledged as
// invoice inv, or nil.
func claimedAs(ctx context.Context, r store.Reader, c *complaint.Claim, inv uuid.UUID) (*complaint.Claim, error) {
	q := store.SupplierQuery{Scope: auth.Scope{All: true}, DebtorID: c.Debtor, CreditorID: c.Creditor,
		State: []store.StringCond{{Op: store.OpEq, Value: string(complaint.ClaimAcknowledged)}}}
	for other, err := range listed(&q.Page, func() ([]*complaint.Claim, error) { return r.ListClaims(ctx, q) }, claimID) {
		if err != nil {
			return nil, err
		}
		if other.Invoice == inv && other.ID != c.ID {
			return other, nil
		}
	}
	return nil, nil
}

// visibleClaim reads a claim the caller may see.
func visibleClaim(ctx context.Context, r store.Reader, id uuid.UUID) (*complaint.Claim, error) {
	c, err := r.GetClaim(ctx, id)
	if err != nil {
		return nil, err
	}
	if ok, err := sees(ctx, r, c.Debtor, c.Creditor); err != nil || !ok {
		if err == nil {
			err = ledger.ErrNotFound
		}
		return nil, err
	}
	return c, nil
}

// GetClaim returns a claim.
func (l *Ledger) GetClaim(ctx context.Context, id uuid.UUID) (*complaint.Claim, error) {
	return visibleClaim(ctx, l.store, id)
}

// ListClaims lists claims within the caller's scope.
func (l *Ledger) ListClaims(ctx context.Context, q store.SupplierQuery) ([]*complaint.Claim, error) {
	q.Scope = scope(ctx)
	return l.store.ListClaims(ctx, q)
}

// AnswerClaim acknowledges (the claim joins the ledger as an invoice the
// debtor confirmed), disputes or withdraws a claim. A retry with the same
// request id answers the claim as it stands and changes nothing.
func (l *Ledger) AnswerClaim(ctx context.Context, id uuid.UUID, to complaint.ClaimState, answer, documentRef, etag string, idem Idempotency) (*complaint.Claim, error) {
	if err := optionalText("comment", answer); err != nil {
		return nil, err
	}
	now := l.now()
	var out *complaint.Claim
	err := l.store.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
		c, err := visibleClaim(ctx, tx, id)
		if err != nil {
			return err
		}
		// A retry (a debtor's system that lost the answer) gets the claim
		// as it stands: its etag, and its state, moved with the first.
		if answered, ok, err := replay(ctx, tx, idem); err != nil {
			return err
		} else if ok {
			if answered != c.ID {
				return fmt.Errorf("%w: request_id was already used for another claim", ledger.ErrAlreadyExists)
			}
			out = c
			return nil
		}
		if err := checkEtag(etag, c.Version); err != nil {
			return err
		}
		now = notBefore(now, c.UpdateTime)
		debtor, err := tx.GetParty(ctx, c.Debtor)
		if err != nil {
			return err
		}
		today := l.Today(now, debtor.Jurisdiction)
		by := complaint.Actor("")
		switch {
		case to == complaint.ClaimWithdrawn:
			if ok, err := actsForCreditor(ctx, tx, c.Creditor); err != nil {
				return err
			} else if ok {
				by = complaint.ByComplainant
			}
		case actsAsDebtor(ctx, c.Debtor):
			by = complaint.ByDebtor
		}
		if to == complaint.ClaimDisputed && strings.TrimSpace(answer) == "" {
			return ledger.Invalid("comment", "a disputed claim needs the debtor's reason")
		}
		if err := complaint.AnswerClaim(c, to, by); err != nil {
			return machineErr(err)
		}
		c.AnsweredOn, c.Answer, c.UpdateTime = today, answer, now
		if to == complaint.ClaimAcknowledged {
			// A twin claim of the same debt acknowledged already (made
			// before claims were checked for one, or racing this one's
			// making) recorded it: a second invoice would record it twice;
			// the supplier's row, locked, keeps twins apart. The debtor's
			// is shared before any invoice is locked, as every writer of
			// an invoice takes them; the two parties' rows in the order
			// of their ids, so that two firms acknowledging each other's
			// claims at once do not each hold the row the other waits for.
			lockSupplier := func() error { _, err := tx.LockParty(ctx, c.Creditor); return err }
			shareDebtor := func() error {
				// The debtor as it stands once shared: a change of its
				// kind or region committed meanwhile decides the new
				// invoice's policy and today.
				shared, err := tx.ShareParty(ctx, c.Debtor)
				if err == nil {
					debtor, today = shared, l.Today(now, shared.Jurisdiction)
				}
				return err
			}
			first, second := lockSupplier, shareDebtor
			if bytes.Compare(c.Debtor[:], c.Creditor[:]) < 0 {
				first, second = shareDebtor, lockSupplier
			}
			if err := first(); err != nil {
				return err
			}
			if err := second(); err != nil {
				return err
			}
			if twin, err := pendingClaim(ctx, tx, c.Debtor, c.Creditor, c.DocumentRef, c.ID); err != nil {
				return err
			} else if twin != nil && twin.State == complaint.ClaimAcknowledged {
				return fmt.Errorf("%w: claims/%s acknowledged this debt already as invoices/%s", ledger.ErrAlreadyExists, twin.ID, twin.Invoice)
			}
			// The debtor recorded the debt itself (an invoice to this
			// supplier, not cancelled, under the claim's reference, or
			// under its own one named in document_ref): the claim is
			// acknowledged as that invoice, not recorded a second time.
			refs := []string{c.DocumentRef}
			if documentRef != "" && documentRef != c.DocumentRef {
				refs = append(refs, documentRef)
			}
			found := map[string]bool{} // the references an invoice was read under
			for _, ref := range refs {
				// Locked, so it is not cancelled before the claim joins it.
				inv, err := tx.GetInvoiceByDocumentRef(ctx, c.Debtor, ref)
				if err == nil {
					inv, err = tx.LockInvoice(ctx, inv.ID)
				}
				if errors.Is(err, ledger.ErrNotFound) {
					continue
				} else if err != nil {
					return err
				}
				found[ref] = true
				if inv.CreditorID != c.Creditor || inv.Status == ledger.StatusCancelled {
					continue // not this debt: making the invoice says why
				}
				// Not an invoice another claim (another debt) was
				// acknowledged as, under whichever reference: one
				// acknowledged under a debtor's reference that happens to
				// be this claim's own records that other claim's debt, and
				// joining this claim to it would lose this one. Passed
				// over when the request names the debtor's reference for
				// this debt, tried next.
				if other, err := claimedAs(ctx, tx, c, inv.ID); err != nil {
					return err
				} else if other != nil {
					if ref == c.DocumentRef && len(refs) > 1 {
						continue
					}
					return fmt.Errorf("%w: invoices/%s under %q is claims/%s's debt already: acknowledge this claim under a new reference, or dispute it",
						ledger.ErrAlreadyExists, inv.ID, ref, other.ID)
				}
				differs := inv.Amount.Currency != c.Currency || inv.Amount.Minor != c.Amount
				if differs && ref == c.DocumentRef && len(refs) > 1 {
					// Under the claim's reference, another debt: the
					// debtor named its own reference for this one, tried
					// next.
					continue
				}
				switch {
				case inv.Amount.Currency != c.Currency:
					// Not the same debt as claimed, or not in the same
					// money: a complaint's plan on the claim would be paid
					// in the invoice's.
					return fmt.Errorf("%w: invoices/%s, under reference %q, is in %s and the claim in %s: dispute the claim naming it, or the supplier contests the invoice",
						ledger.ErrFailedPrecondition, inv.ID, ref, inv.Amount.Currency, c.Currency)
				case inv.Amount.Minor != c.Amount:
					// Not the debt claimed: a claim of 50,000 joined to a
					// settled invoice of 10 would read "acknowledged" while
					// the ledger owes the supplier nothing, and a later claim
					// of the invoice's own amount would be refused as its
					// twin.
					return fmt.Errorf("%w: invoices/%s, under reference %q, is for %s and the claim for %s: correct the invoice to the amount claimed and acknowledge, "+
						"or dispute the claim naming the invoice (the supplier may then contest it)",
						ledger.ErrFailedPrecondition, inv.ID, ref, inv.Amount, money.Money{Minor: c.Amount, Currency: c.Currency})
				case ref == c.DocumentRef && len(refs) > 1:
					return fmt.Errorf("%w: invoices/%s records this debt under the claim's reference %q; acknowledge without document_ref to join the claim to it",
						ledger.ErrAlreadyExists, inv.ID, c.DocumentRef)
				}
				c.Invoice = inv.ID
				break
			}
			if c.Invoice == uuid.Nil {
				ref := documentRef
				if ref == "" {
					ref = c.DocumentRef
				}
				// The contract reference says where the invoice came from, if
				// the claim's own reference leaves room for the prefix.
				contract := "claim " + c.DocumentRef
				if utf8.RuneCountInString(contract) > ledger.MaxRefLength {
					contract = c.DocumentRef
				}
				inv := &ledger.Invoice{ID: newID(), DebtorID: c.Debtor, CreditorID: c.Creditor, DocumentRef: ref,
					ContractRef: contract, Amount: money.Money{Minor: c.Amount, Currency: c.Currency},
					IssuedOn: c.IssuedOn, DeliveredOn: c.DeliveredOn, AgreedDueDate: c.DueOn, CreateTime: now, UpdateTime: now}
				creditor, err := tx.GetParty(ctx, c.Creditor)
				if err != nil {
					return err
				}
				inv.CreditorSizeAtSigning = creditor.SizeClass
				// The request names only the reference; the rest is the
				// claim's, checked when it was made.
				var v ledger.ValidationError
				var nv *ledger.ValidationError
				if err := inv.Normalize(today); errors.As(err, &nv) {
					v = *nv.Renamed(func(f string) string {
						switch f {
						case "document_ref":
							return f
						case "agreed_due_date":
							return "claim.due_on"
						}
						return "claim." + f
					})
				} else if err != nil {
					return err
				}
				l.choosePolicy(&v, "", debtor, inv)
				inv.PolicyReason += assumedSizeNote(inv.CreditorSizeAtSigning)
				if err := v.Err(); err != nil {
					return err
				}
				inv.Derive()
				if err := tx.CreateInvoice(ctx, inv, change(ctx, inv, c.IssuedOn, now, "AnswerClaim")); err != nil {
					if errors.Is(err, ledger.ErrAlreadyExists) && !found[ref] {
						// The debtor recorded it meanwhile (its own
						// CreateInvoice committed since the read above):
						// run again, to join the claim to it.
						return fmt.Errorf("%w: invoice %q was recorded meanwhile", ledger.ErrConflict, ref)
					}
					if errors.Is(err, ledger.ErrAlreadyExists) {
						return fmt.Errorf("%w: the debtor already has an invoice %q: acknowledge the claim under its own reference (document_ref)", ledger.ErrAlreadyExists, ref)
					}
					return err
				}
				esc := l.firstCheck(inv, nil, debtor.Jurisdiction, now)
				if err := tx.PutEscalation(ctx, &esc); err != nil {
					return err
				}
				if err := l.resummarizeNew(ctx, tx, []*ledger.Invoice{inv}, nil, now); err != nil {
					return err
				}
				c.Invoice = inv.ID
			}
		}
		if err := tx.UpdateClaim(ctx, c, partyChange(ctx, today, now, "AnswerClaim")); err != nil {
			return err
		}
		if err := remember(ctx, tx, idem, c.ID, now); err != nil {
			return err
		}
		out = c
		return nil
	})
	return out, err
}

// MaxOpenContests bounds the unresolved contests of one invoice (those its
// Contested counts): each is moved in the transaction of the debtor's
// correction, and one supplier's objections to one record need not be
// more.
const MaxOpenContests = 100

// ContestInput is a supplier's objection to the debtor's record.
type ContestInput struct {
	InvoiceID uuid.UUID
	PaymentID uuid.UUID
	Kind      complaint.ContestKind
	Detail    string
	Idem      Idempotency
}

// OpenContest contests a debtor's record of an invoice (or of one of its
// payments). The invoice then shows that the two sides disagree.
func (l *Ledger) OpenContest(ctx context.Context, in ContestInput) (*complaint.Contest, *ledger.Invoice, error) {
	now := l.now()
	var outC *complaint.Contest
	var outInv *ledger.Invoice
	err := l.store.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
		inv, debtor, err := lockWithDebtor(ctx, tx, in.InvoiceID)
		if err != nil {
			return err
		}
		// A retry waits on the invoice's lock for the first to end, then
		// finds its contest.
		if id, ok, err := replay(ctx, tx, in.Idem); err != nil {
			return err
		} else if ok {
			// As a read would see it: a key that no longer speaks for
			// the supplier does not get the contest back.
			if ok, err := actsForCreditor(ctx, tx, inv.CreditorID); err != nil || !ok {
				if err == nil {
					err = fmt.Errorf("%w: only the supplier contests the debtor's record", ledger.ErrPermissionDenied)
				}
				return err
			}
			if outC, err = tx.GetContest(ctx, id); err != nil {
				return err
			}
			outInv = inv
			return nil
		}
		now = notBefore(now, inv.UpdateTime)
		var v ledger.ValidationError
		if !in.Kind.Valid() {
			v.Add("contest.kind", "must be PAYMENT_NOT_RECEIVED, AMOUNT_DIFFERS, DATES_DIFFER or OTHER")
		}
		checkReason(&v, "contest.detail", in.Detail)
		if in.Kind == complaint.PaymentNotReceived && in.PaymentID == uuid.Nil {
			v.Add("contest.payment", "name the payment that was not received")
		}
		if in.PaymentID != uuid.Nil {
			p, err := tx.GetPayment(ctx, in.PaymentID)
			if errors.Is(err, ledger.ErrNotFound) || (err == nil && p.InvoiceID != inv.ID) {
				v.Add("contest.payment", "is not a payment of this invoice")
			} else if err != nil {
				return err
			}
		}
		if err := v.Err(); err != nil {
			return err
		}
		if ok, err := actsForCreditor(ctx, tx, inv.CreditorID); err != nil || !ok {
			if err == nil {
				err = fmt.Errorf("%w: only the supplier contests the debtor's record", ledger.ErrPermissionDenied)
			}
			return err
		}
		if inv.Status == ledger.StatusCancelled {
			// No correction can answer it: a cancelled invoice is not
			// changed again. The debt is registered as a claim instead.
			return fmt.Errorf("%w: invoices/%s was cancelled by the debtor on %s; register the debt as a claim", ledger.ErrFailedPrecondition, inv.ID, inv.CancelledOn)
		}
		if inv.Contested >= MaxOpenContests {
			return fmt.Errorf("%w: the invoice has %d contests unresolved; settle some (accept, withdraw) before opening more", ledger.ErrFailedPrecondition, inv.Contested)
		}
		today := l.Today(now, debtor.Jurisdiction)
		c := &complaint.Contest{ID: newID(), InvoiceID: inv.ID, Creditor: inv.CreditorID, Debtor: inv.DebtorID, Payment: in.PaymentID,
			Kind: in.Kind, Detail: in.Detail, State: complaint.ContestOpen, OpenedOn: today, CreateTime: now, UpdateTime: now}
		if err := tx.CreateContest(ctx, c, change(ctx, inv, today, now, "OpenContest")); err != nil {
			return err
		}
		next := *inv
		next.Contested++
		next.UpdateTime = now
		if err := tx.UpdateInvoice(ctx, &next, change(ctx, inv, today, now, "OpenContest")); err != nil {
			return err
		}
		outC, outInv = c, &next
		return remember(ctx, tx, in.Idem, c.ID, now)
	})
	return outC, outInv, err
}

// MoveContest applies an action to a contest: the debtor corrects, the
// supplier accepts, contests again or withdraws, a regulator decides.
func (l *Ledger) MoveContest(ctx context.Context, invoiceID, id uuid.UUID, a complaint.ContestAction, comment, etag string) (*complaint.Contest, *ledger.Invoice, error) {
	if err := optionalText("comment", comment); err != nil {
		return nil, nil, err
	}
	now := l.now()
	var outC *complaint.Contest
	var outInv *ledger.Invoice
	err := l.store.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
		inv, debtor, err := lockWithDebtor(ctx, tx, invoiceID)
		if err != nil {
			return err
		}
		now = notBefore(now, inv.UpdateTime)
		c, err := tx.GetContest(ctx, id)
		if err != nil {
			return err
		}
		if c.InvoiceID != inv.ID {
			return ledger.ErrNotFound
		}
		if err := checkEtag(etag, c.Version); err != nil {
			return err
		}
		by := complaint.Actor("")
		p := auth.FromContext(ctx)
		switch {
		case p != nil && p.Role == auth.RoleAdmin:
			by = map[complaint.ContestAction]complaint.Actor{complaint.ContestCorrect: complaint.ByDebtor,
				complaint.ContestDecideUphold: complaint.ByRegulator, complaint.ContestDecideReject: complaint.ByRegulator}[a]
			if by == "" {
				by = complaint.ByComplainant
			}
		case p != nil && p.Role == auth.RoleRegulator:
			by = complaint.ByRegulator
		case actsAsDebtor(ctx, inv.DebtorID):
			by = complaint.ByDebtor
		default:
			if ok, err := actsForCreditor(ctx, tx, inv.CreditorID); err != nil {
				return err
			} else if ok {
				by = complaint.ByComplainant
			}
		}
		wasOpen := c.Disagreed()
		if err := complaint.MoveContest(c, a, by); err != nil {
			return machineErr(err)
		}
		today := l.Today(now, debtor.Jurisdiction)
		c.Comment, c.UpdateTime = comment, now
		if err := tx.UpdateContest(ctx, c, change(ctx, inv, today, now, "MoveContest")); err != nil {
			return err
		}
		next := inv
		if wasOpen && !c.Disagreed() {
			n := *inv
			n.Contested--
			n.UpdateTime = now
			if err := tx.UpdateInvoice(ctx, &n, change(ctx, inv, today, now, "MoveContest")); err != nil {
				return err
			}
			next = &n
		}
		outC, outInv = c, next
		return nil
	})
	return outC, outInv, err
}

// markCorrected marks the open contests of an invoice corrected after the
// debtor changed its record: the supplier then accepts or contests again.
// A contest already corrected and awaiting the supplier's answer is marked
// again (a new version, so a new etag): an ACCEPT sent with the etag of the
// correction the supplier saw is refused, rather than accepting a later
// record it never saw.
func (l *Ledger) markCorrected(ctx context.Context, tx store.Tx, inv *ledger.Invoice, today civil.Date, now time.Time) error {
	if inv.Contested == 0 || !actsAsDebtor(ctx, inv.DebtorID) {
		return nil
	}
	// Open and corrected contests, and those a regulator upheld, which
	// await this: all of them, page by page (the decided ones a regulator
	// rejected stay in the listing for good).
	q := store.SupplierQuery{Scope: auth.Scope{All: true}, InvoiceID: inv.ID,
		State: []store.StringCond{{Op: store.OpNe, Value: string(complaint.ContestAccepted)}, {Op: store.OpNe, Value: string(complaint.ContestWithdrawn)}}}
	for c, err := range listed(&q.Page, func() ([]*complaint.Contest, error) { return tx.ListContests(ctx, q) }, contestID) {
		if err != nil {
			return err
		}
		switch {
		case c.State == complaint.ContestCorrected:
			c.Comment = "the debtor changed its record again"
		case c.State == complaint.ContestOpen || c.AwaitsCorrection():
			if err := complaint.MoveContest(c, complaint.ContestCorrect, complaint.ByDebtor); err != nil {
				return err
			}
			c.Comment = "the debtor changed its record"
		default:
			continue
		}
		c.UpdateTime = now
		if err := tx.UpdateContest(ctx, c, change(ctx, inv, today, now, "CorrectRecord")); err != nil {
			return err
		}
	}
	return nil
}

// GetContest reads a contest of an invoice the caller may see (invoiceID
// uuid.Nil: of whichever invoice it contests).
func (l *Ledger) GetContest(ctx context.Context, invoiceID, id uuid.UUID) (*complaint.Contest, error) {
	return childOf(ctx, l, invoiceID, id, l.store.GetContest, func(c *complaint.Contest) uuid.UUID { return c.InvoiceID })
}

// ListContests lists an invoice's contests (uuid.Nil: all the caller sees).
func (l *Ledger) ListContests(ctx context.Context, q store.SupplierQuery) ([]*complaint.Contest, error) {
	if q.InvoiceID != uuid.Nil {
		if _, err := visibleInvoice(ctx, l.store, q.InvoiceID, nil); err != nil {
			return nil, err
		}
	}
	q.Scope = scope(ctx)
	return l.store.ListContests(ctx, q)
}

// maxEvidence bounds the evidence a claim names: each is a reference to a
// document kept elsewhere, and the claim is read whole on every list.
const maxEvidence = 100

// optionalText checks an optional comment: at most 1000 characters of text.
func optionalText(field, text string) error {
	var v ledger.ValidationError
	if n := len([]rune(text)); n > 1000 {
		v.Add(field, "is %d characters long, at most 1000 are allowed", n)
	}
	ledger.ValidateText(&v, field, text)
	return v.Err()
}
