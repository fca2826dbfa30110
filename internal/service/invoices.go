package service

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/auth"
	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/store"
)

// CreateInvoiceInput is an invoice with its parties named as the client
// named them.
type CreateInvoiceInput struct {
	Invoice  *ledger.Invoice
	Debtor   PartyRef
	Creditor PartyRef
	Idem     Idempotency
	// Policy names the payment policy explicitly ("id" or "id@version");
	// empty to let the law choose.
	Policy string
	// Problems holds what the transport already found wrong while decoding
	// (an impossible date, say); they are reported together with the
	// service's own checks, so the client sees every problem at once.
	Problems ledger.ValidationError
	// method names the change in the audit trail: CreateInvoice, or the
	// call that creates the invoice on its behalf (SyncPayables).
	method string
}

// CreateInvoice records an invoice. Unknown parties are reported against
// the field that names them; the creditor's size class at signing defaults
// to its current one.
func (l *Ledger) CreateInvoice(ctx context.Context, in CreateInvoiceInput) (*ledger.Invoice, error) {
	now := l.now()
	var out *ledger.Invoice
	err := l.store.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		out, err = l.createInvoiceTx(ctx, tx, in, now)
		return err
	})
	return out, err
}

// createInvoiceTx is CreateInvoice inside a transaction the caller owns (the
// bulk sync runs many in one).
func (l *Ledger) createInvoiceTx(ctx context.Context, tx store.Tx, in CreateInvoiceInput, now time.Time) (out *ledger.Invoice, err error) {
	err = func() error {
		if id, ok, err := replay(ctx, tx, in.Idem); err != nil || ok {
			if err == nil {
				out, err = tx.GetInvoice(ctx, id)
			}
			return err
		}
		v := in.Problems
		debtor, err := lookupParty(ctx, tx, &v, "invoice.debtor", in.Debtor)
		if err != nil {
			return err
		}
		creditor, err := lookupParty(ctx, tx, &v, "invoice.creditor", in.Creditor)
		if err != nil {
			return err
		}
		if debtor != nil && !mayActFor(ctx, debtor.ID) {
			return fmt.Errorf("%w: invoice.debtor %s is not a party this key acts for", ledger.ErrPermissionDenied, in.Debtor)
		}
		inv, _ := l.prepareInvoice(&v, debtor, creditor, in.Invoice, in.Policy, now)
		if err := v.Err(); err != nil {
			return err
		}
		// The request id first: a concurrent retry of the same request
		// waits on it, then finds the first result instead of colliding on
		// the document reference.
		if err := remember(ctx, tx, in.Idem, inv.ID, now); err != nil {
			return err
		}
		if err := tx.CreateInvoice(ctx, &inv, change(ctx, &inv, inv.IssuedOn, now, cmp.Or(in.method, "CreateInvoice"))); err != nil {
			if errors.Is(err, ledger.ErrAlreadyExists) {
				return fmt.Errorf("%w: the debtor already has an invoice with document_ref %q", ledger.ErrAlreadyExists, inv.DocumentRef)
			}
			return err
		}
		esc := l.firstCheck(&inv, nil, debtor.Jurisdiction, now)
		if err := tx.PutEscalation(ctx, &esc); err != nil {
			return err
		}
		if err := l.resummarizeNew(ctx, tx, []*ledger.Invoice{&inv}, nil, now); err != nil {
			return err
		}
		out = &inv
		return nil
	}()
	return out, err
}

// noRegulator refuses a regulator named as the debtor or creditor of a
// debt (prefix + "debtor", prefix + "creditor"): a regulator handles
// complaints, and owes and is owed nothing.
func noRegulator(v *ledger.ValidationError, prefix string, debtor, creditor *ledger.Party) {
	if debtor != nil && debtor.Kind == ledger.KindRegulator {
		v.Add(prefix+"debtor", "%s is a regulator: it owes nothing in this ledger", debtor.DisplayName)
	}
	if creditor != nil && creditor.Kind == ledger.KindRegulator {
		v.Add(prefix+"creditor", "%s is a regulator: it is owed nothing in this ledger", creditor.DisplayName)
	}
}

// lookupParty resolves a party named in a request; a name that resolves to
// nothing is a violation of that field rather than a missing resource.
func lookupParty(ctx context.Context, r store.Reader, v *ledger.ValidationError, field string, ref PartyRef) (*ledger.Party, error) {
	switch {
	case v.Has(field):
		return nil, nil // the name itself was refused: nothing to look up
	case ref.ID == uuid.Nil && ref.RegistrationID == "":
		v.Add(field, "is required")
		return nil, nil
	}
	p, err := resolveParty(ctx, r, ref)
	if errors.Is(err, ledger.ErrNotFound) {
		v.Add(field, "no party %s is registered", ref)
		return nil, nil
	}
	return p, err
}

// GetInvoice returns an invoice.
func (l *Ledger) GetInvoice(ctx context.Context, id uuid.UUID) (*ledger.Invoice, error) {
	return visibleInvoice(ctx, l.store, id, nil)
}

// UpdateInvoice corrects the fields named in mask. The correction takes
// effect from effectiveOn (default today); the earlier values stay in the
// invoice's revisions.
func (l *Ledger) UpdateInvoice(ctx context.Context, id uuid.UUID, patch *ledger.Invoice, mask []string, etag string, effectiveOn civil.Date, namedPolicy string) (*ledger.Invoice, error) {
	if len(mask) == 0 {
		return nil, ledger.Invalid("update_mask", "is required: name the fields to change")
	}
	now := l.now()
	var out *ledger.Invoice
	err := l.store.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		out, err = l.updateInvoiceTx(ctx, tx, id, patch, mask, etag, effectiveOn, namedPolicy, now)
		return err
	})
	return out, err
}

// updateInvoiceTx is UpdateInvoice inside a transaction the caller owns (the
// bulk sync runs many in one).
func (l *Ledger) updateInvoiceTx(ctx context.Context, tx store.Tx, id uuid.UUID, patch *ledger.Invoice, mask []string, etag string, effectiveOn civil.Date, namedPolicy string, now time.Time) (out *ledger.Invoice, err error) {
	err = func() error {
		cur, debtor, err := lockWithDebtor(ctx, tx, id)
		if err != nil {
			return err
		}
		now = notBefore(now, cur.UpdateTime)
		// The mask is part of the request: check it before the state.
		next, reselect, err := applyMask(cur, patch, mask)
		if err != nil {
			return err
		}
		if err := checkEtag(etag, cur.Version); err != nil {
			return err
		}
		if cur.Status == ledger.StatusCancelled {
			return fmt.Errorf("%w: the invoice was cancelled on %s", ledger.ErrFailedPrecondition, cur.CancelledOn)
		}
		today := l.Today(now, debtor.Jurisdiction)
		if effectiveOn, err = l.checkCorrection(cur, next, reselect, debtor, effectiveOn, today, namedPolicy); err != nil {
			return err
		}
		if err := sameCurrencyAsFacts(ctx, tx, cur, next); err != nil {
			return err
		}
		if err := l.saveDebtorChange(ctx, tx, cur, next, effectiveOn, today, now, "UpdateInvoice"); err != nil {
			return err
		}
		out = next
		return nil
	}()
	return out, err
}

// reselection says whether a correction chooses the invoice's policy
// again, and how.
type reselection int

const (
	keepPolicy reselection = iota
	// chooseLaw: a field that chooses the law changed (the contract date,
	// the supplier's size at signing). The law chosen again may be
	// another (Decree 728 or 802); the same one keeps the version the
	// invoice was first judged under.
	chooseLaw
	// chooseAsked: the request names the policy (or asks, with an empty
	// one, for the law's newest).
	chooseAsked
)

// applyMask copies the masked fields from patch onto a copy of cur, and
// says whether the change should choose the invoice's policy again.
func applyMask(cur, patch *ledger.Invoice, mask []string) (*ledger.Invoice, reselection, error) {
	next := *cur
	reselect := keepPolicy
	for _, f := range mask {
		switch f {
		case "policy":
			reselect = chooseAsked
			continue
		case "contract_signed_on", "creditor_size_class_at_signing":
			// These choose the law; re-choose unless it was named.
			if cur.PolicyReason != explicitReason {
				reselect = max(reselect, chooseLaw)
			}
		}
		if err := applyInvoiceField(&next, patch, f); err != nil {
			return nil, keepPolicy, err
		}
	}
	// Without a contract date the invoice date stands in for it, and
	// chooses the law the same way.
	if slices.Contains(mask, "issued_on") && next.ContractSignedOn.IsZero() && cur.PolicyReason != explicitReason {
		reselect = max(reselect, chooseLaw)
	}
	return &next, reselect, nil
}

// sameCurrencyAsFacts refuses to change the currency of an invoice that has
// any payment, credit note or dispute, in whatever state: checkCorrection's
// running totals miss a reversed payment or a rejected dispute, whose rows
// keep the old currency, and an invoice whose facts are in another currency
// cannot be judged.
func sameCurrencyAsFacts(ctx context.Context, tx store.Tx, cur, next *ledger.Invoice) error {
	if next.Amount.Currency == cur.Amount.Currency {
		return nil
	}
	facts, err := tx.Facts(ctx, []uuid.UUID{cur.ID})
	if err != nil {
		return err
	}
	if f := facts[cur.ID]; f != nil && len(f.Payments)+len(f.CreditNotes)+len(f.Disputes) > 0 {
		return ledger.Invalid("invoice.amount.currency_code", "cannot change: payments, credit notes or disputes are recorded in %s", cur.Amount.Currency)
	}
	return nil
}

// checkCorrection checks a correction of cur into next, effective from
// effectiveOn (zero: today), chooses the policy again if asked, and dates
// the correction on next. It returns the effective date. UpdateInvoice and
// the bulk sync share it, so a synced change is refused exactly where the
// same change made by hand would be.
func (l *Ledger) checkCorrection(cur, next *ledger.Invoice, reselect reselection, debtor *ledger.Party, effectiveOn, today civil.Date, namedPolicy string) (civil.Date, error) {
	var v ledger.ValidationError
	v.Merge("invoice.", next.Normalize(today))
	if next.Amount.Currency != cur.Amount.Currency && cur.Paid+cur.Credited+cur.Disputed > 0 {
		v.Add("invoice.amount.currency_code", "cannot change: payments, credit notes or disputes are recorded in %s", cur.Amount.Currency)
	}
	switch held := cur.Paid + cur.Credited + cur.Disputed; {
	case next.Amount.Minor < cur.Paid+cur.Credited:
		v.Add("invoice.amount.minor_units", "%d is less than what is already paid and credited (%d)", next.Amount.Minor, cur.Paid+cur.Credited)
	case next.Amount.Minor < cur.Amount.Minor && next.Amount.Minor < held:
		// Lowered below what open disputes hold as well. (Payments may
		// pay a disputed part, so an unchanged amount can sit below the
		// three together: only a lowered one is refused for it.)
		v.Add("invoice.amount.minor_units", "%d is less than what is already paid, credited and in open disputes (%d)", next.Amount.Minor, held)
	}
	if effectiveOn.After(today) {
		v.Add("effective_on", "%s is in the future (today is %s)", effectiveOn, today)
	}
	if reselect != keepPolicy && v.Err() == nil {
		l.choosePolicy(&v, namedPolicy, debtor, next)
		if reselect == chooseLaw && next.PolicyID == cur.PolicyID {
			// The same law again: a date corrected by a day (by hand, or
			// by a nightly resync) does not move an old debt onto a
			// version written since, with other due dates and findings.
			next.PolicyVersion = cur.PolicyVersion
		}
	}
	if err := v.Err(); err != nil {
		return civil.Date{}, err
	}
	if effectiveOn.IsZero() {
		effectiveOn = today
	}
	if effectiveOn.After(next.CorrectedOn) {
		next.CorrectedOn = effectiveOn
	}
	return effectiveOn, nil
}

// applyInvoiceField copies one masked field from patch to inv.
func applyInvoiceField(inv, patch *ledger.Invoice, field string) error {
	switch field {
	case "contract_ref":
		inv.ContractRef = patch.ContractRef
	case "amount":
		inv.Amount = patch.Amount
	case "contract_signed_on":
		inv.ContractSignedOn = patch.ContractSignedOn
	case "issued_on":
		inv.IssuedOn = patch.IssuedOn
	case "received_on":
		inv.ReceivedOn = patch.ReceivedOn
	case "delivered_on":
		inv.DeliveredOn = patch.DeliveredOn
	case "acceptance_required":
		inv.AcceptanceRequired = patch.AcceptanceRequired
	case "acceptance_period_days":
		inv.AcceptancePeriodDays = patch.AcceptancePeriodDays
	case "acceptance_passed_on":
		inv.AcceptancePassedOn = patch.AcceptancePassedOn
	case "settlement_confirmed_on":
		inv.SettlementConfirmedOn = patch.SettlementConfirmedOn
	case "agreed_term_days":
		inv.AgreedTermDays = patch.AgreedTermDays
	case "agreed_due_date":
		inv.AgreedDueDate = patch.AgreedDueDate
	case "agreed_interest_rate":
		inv.AgreedRate = patch.AgreedRate
	case "creditor_size_class_at_signing":
		if patch.CreditorSizeAtSigning == "" {
			// "Not given" everywhere else (a new invoice takes the
			// supplier's size): here it would make the supplier no SME
			// and choose another law without a word.
			return ledger.Invalid("invoice.creditor_size_class_at_signing", "name the supplier's size when the contract was signed: MICRO, SMALL, MEDIUM or LARGE")
		}
		inv.CreditorSizeAtSigning = patch.CreditorSizeAtSigning
	case "debtor", "creditor", "document_ref":
		return ledger.Invalid("update_mask", "%s is immutable: cancel the invoice and record a new one", field)
	default:
		return ledger.Invalid("update_mask", "%q is not an updatable field of an invoice", field)
	}
	return nil
}

// CancelInvoice cancels an invoice as of cancelledOn. The invoice and its
// history stay; from that date nothing is owed.
func (l *Ledger) CancelInvoice(ctx context.Context, id uuid.UUID, cancelledOn civil.Date, reason, etag string) (*ledger.Invoice, error) {
	now := l.now()
	var out *ledger.Invoice
	err := l.store.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		out, err = l.cancelInvoiceTx(ctx, tx, id, cancelledOn, reason, etag, now)
		return err
	})
	return out, err
}

// cancelInvoiceTx is CancelInvoice inside a transaction the caller owns (the
// bulk sync runs many in one).
func (l *Ledger) cancelInvoiceTx(ctx context.Context, tx store.Tx, id uuid.UUID, cancelledOn civil.Date, reason, etag string, now time.Time) (out *ledger.Invoice, err error) {
	err = func() error {
		cur, debtor, err := lockWithDebtor(ctx, tx, id)
		if err != nil {
			return err
		}
		now = notBefore(now, cur.UpdateTime)
		if err := checkEtag(etag, cur.Version); err != nil {
			return err
		}
		today := l.Today(now, debtor.Jurisdiction)
		var v ledger.ValidationError
		checkFactDate(&v, "cancelled_on", cancelledOn, today)
		notBeforeIssue(&v, "cancelled_on", cancelledOn, cur)
		checkReason(&v, "reason", reason)
		if err := v.Err(); err != nil {
			return err
		}
		if cur.Status == ledger.StatusCancelled {
			return fmt.Errorf("%w: the invoice was already cancelled on %s", ledger.ErrFailedPrecondition, cur.CancelledOn)
		}
		next := *cur
		next.CancelledOn, next.CancelReason = cancelledOn, reason
		if err := l.saveDebtorChange(ctx, tx, cur, &next, cancelledOn, today, now, "CancelInvoice"); err != nil {
			return err
		}
		out = &next
		return nil
	}()
	return out, err
}

// lockWithDebtor locks an invoice and reads its debtor, whose jurisdiction
// says what "today" is, keeping the debtor from changing until tx ends.
func lockWithDebtor(ctx context.Context, tx store.Tx, id uuid.UUID) (*ledger.Invoice, *ledger.Party, error) {
	// The debtor's row is shared before the invoice is locked. A change of
	// the debtor (its region, its kind) locks the party's row, then each of
	// its invoices (resummarizeDebtor); a change of an invoice, which
	// shares the party's row to count the invoice in the summaries, took
	// the two the other way round, and on PostgreSQL the two deadlocked.
	seen, err := visibleInvoice(ctx, tx, id, nil)
	if err != nil {
		return nil, nil, err
	}
	debtor, err := tx.ShareParty(ctx, seen.DebtorID)
	if err != nil {
		return nil, nil, err
	}
	inv, err := tx.LockInvoice(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if inv.DebtorID != debtor.ID {
		return nil, nil, fmt.Errorf("invoice %s: %w: its debtor changed while it was being locked", id, ledger.ErrConflict)
	}
	return inv, debtor, nil
}

// checkFactDate requires a date for a fact that has happened: set and not
// in the future.
func checkFactDate(v *ledger.ValidationError, field string, d, today civil.Date) {
	switch {
	case d.IsZero():
		v.Add(field, "is required")
	case d.After(today):
		v.Add(field, "%s is in the future (today is %s)", d, today)
	}
}

// notBeforeIssue refuses a date of something done to an issued invoice
// (its cancellation, a credit note against it) before its issue date.
func notBeforeIssue(v *ledger.ValidationError, field string, d civil.Date, inv *ledger.Invoice) {
	if !d.IsZero() && d.Before(inv.IssuedOn) {
		v.Add(field, "%s is before the invoice's issued_on %s", d, inv.IssuedOn)
	}
}

// checkReason requires a short free-text reason.
func checkReason(v *ledger.ValidationError, field, reason string) {
	switch n := len([]rune(reason)); {
	case n == 0:
		v.Add(field, "is required")
	case n > 1000:
		v.Add(field, "is %d characters long, at most 1000 are allowed", n)
	default:
		ledger.ValidateText(v, field, reason)
	}
}

// mayActFor reports whether the caller writes for party id: an
// administrator, or a key bound to that party.
func mayActFor(ctx context.Context, id uuid.UUID) bool {
	p := auth.FromContext(ctx)
	return p != nil && (p.Role == auth.RoleAdmin || p.Acts(id))
}

// actsAsDebtor is mayActFor on the debtor's side of a claim or contest: a
// DEBTOR key of the party (or an administrator). A supplier's key that
// happens to hold the debtor's party too does not answer for the debtor.
func actsAsDebtor(ctx context.Context, id uuid.UUID) bool {
	p := auth.FromContext(ctx)
	return p != nil && (p.Role == auth.RoleAdmin || p.Role == auth.RoleDebtor && p.Acts(id))
}

// prepareInvoice validates a new invoice of debtor to creditor (either may
// be nil when it was not found, already reported in v) and fills in what a
// creation derives: id, times, the creditor's size at signing, the policy,
// the due date and status. It returns the debtor's today.
func (l *Ledger) prepareInvoice(v *ledger.ValidationError, debtor, creditor *ledger.Party, in *ledger.Invoice, policyName string, now time.Time) (ledger.Invoice, civil.Date) {
	inv := *in
	today := civil.DateOf(now, time.UTC)
	if debtor != nil {
		inv.DebtorID = debtor.ID
		today = l.Today(now, debtor.Jurisdiction)
	}
	noRegulator(v, "invoice.", debtor, creditor)
	assumedSize := false
	if creditor != nil {
		inv.CreditorID = creditor.ID
		if inv.CreditorSizeAtSigning == "" {
			inv.CreditorSizeAtSigning, assumedSize = creditor.SizeClass, true
		}
	}
	v.Merge("invoice.", inv.Normalize(today))
	if debtor != nil && v.Err() == nil {
		l.choosePolicy(v, policyName, debtor, &inv)
		if assumedSize && policyName == "" {
			// Not on a named policy: its reason marks it as named.
			inv.PolicyReason += assumedSizeNote(inv.CreditorSizeAtSigning)
		}
	}
	inv.ID, inv.CreateTime, inv.UpdateTime = newID(), now, now
	inv.Credited, inv.Paid, inv.Disputed, inv.CancelledOn, inv.CancelReason, inv.Contested = 0, 0, 0, civil.Date{}, "", 0
	inv.Derive()
	return inv, today
}

// assumedSizeNote completes a policy reason when the supplier's size at
// signing was not given and its size in the ledger now stood in for it: the
// Chinese decrees turn on the size at signing, and a supplier that has
// grown since may have been an SME then.
func assumedSizeNote(size ledger.SizeClass) string {
	return fmt.Sprintf(" The supplier's size at signing was not given; its size in the ledger now, %s, was taken for it.", size)
}
