package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/auth"
	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/complaint"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/store"
)

// RecordPayment records a payment against an invoice. The debtor's payment
// reference is the idempotency key: the same payment again returns the
// first; the same reference with different content is ErrAlreadyExists.
// A payment may precede the invoice (an advance) but not today, must be in
// the invoice's currency and may not exceed what is outstanding.
func (l *Ledger) RecordPayment(ctx context.Context, invoiceID uuid.UUID, p *ledger.Payment) (*ledger.Payment, *ledger.Invoice, error) {
	now := l.now()
	var outP *ledger.Payment
	var outInv *ledger.Invoice
	err := l.store.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		outP, outInv, err = l.recordPaymentTx(ctx, tx, invoiceID, p, now)
		return err
	})
	return outP, outInv, err
}

// recordPaymentTx is RecordPayment inside a transaction the caller owns (the
// bulk sync runs many in one).
func (l *Ledger) recordPaymentTx(ctx context.Context, tx store.Tx, invoiceID uuid.UUID, p *ledger.Payment, now time.Time) (outP *ledger.Payment, outInv *ledger.Invoice, err error) {
	err = func() error {
		inv, debtor, err := lockWithDebtor(ctx, tx, invoiceID)
		if err != nil {
			return err
		}
		now = notBefore(now, inv.UpdateTime)
		today := l.Today(now, debtor.Jurisdiction)
		cand := *p
		cand.InvoiceID, cand.DebtorID = inv.ID, inv.DebtorID
		if cand.Instrument == "" {
			cand.Instrument = ledger.InstrumentTransfer
		}

		var v ledger.ValidationError
		ledger.ValidateRef(&v, "payment.reference", cand.Reference, true)
		if err := v.Err(); err != nil {
			return err
		}
		// A retry of a recorded payment must succeed whatever has happened
		// since, so the reference is looked up before any other check.
		prev, err := tx.GetPaymentByReference(ctx, inv.DebtorID, cand.Reference)
		switch {
		case err == nil && prev.SameContent(&cand):
			outP, outInv = prev, inv
			return nil
		case err == nil:
			return fmt.Errorf("%w: payment reference %q is already recorded with different content (%s)", ledger.ErrAlreadyExists, cand.Reference, "invoices/"+prev.InvoiceID.String()+"/payments/"+prev.ID.String())
		case !errors.Is(err, ledger.ErrNotFound):
			return err
		}

		ledger.ValidateAmount(&v, "payment.amount", ledger.MoneyOf(cand.Amount, cand.Currency))
		if cand.Currency != "" && cand.Currency != inv.Amount.Currency {
			v.Add("payment.amount.currency_code", "is %s but the invoice is in %s", cand.Currency, inv.Amount.Currency)
		}
		checkFactDate(&v, "payment.paid_on", cand.PaidOn, today)
		if !cand.Instrument.Valid() {
			v.Add("payment.instrument", "%q is not a payment instrument", cand.Instrument)
		}
		switch {
		case cand.Instrument.HasMaturity() && cand.MaturityOn.IsZero():
			v.Add("payment.maturity_on", "is required for a %s", cand.Instrument)
		case !cand.Instrument.HasMaturity() && !cand.MaturityOn.IsZero():
			v.Add("payment.maturity_on", "applies only to a commercial bill or receivable certificate")
		case !cand.MaturityOn.IsZero() && !cand.PaidOn.IsZero() && cand.MaturityOn.Before(cand.PaidOn):
			v.Add("payment.maturity_on", "%s is before paid_on %s", cand.MaturityOn, cand.PaidOn)
		}
		if inv.Status != ledger.StatusCancelled && cand.Amount > inv.Outstanding() {
			v.Add("payment.amount.minor_units", "%d exceeds the outstanding amount %d", cand.Amount, inv.Outstanding())
		}
		if err := v.Err(); err != nil {
			return err
		}
		if inv.Status == ledger.StatusCancelled {
			return fmt.Errorf("%w: the invoice was cancelled on %s", ledger.ErrFailedPrecondition, inv.CancelledOn)
		}
		if err := roomForFacts(ctx, tx, inv, factPayments, 1); err != nil {
			return err
		}
		cand.ID, cand.State, cand.CreateTime, cand.UpdateTime = newID(), ledger.PaymentRecorded, now, now
		cand.ReversedOn, cand.ReversalReason = civil.Date{}, ""
		if err := tx.CreatePayment(ctx, &cand, change(ctx, inv, cand.PaidOn, now, "RecordPayment")); err != nil {
			return err
		}
		next := *inv
		next.Paid += cand.Amount
		if err := l.saveDebtorChange(ctx, tx, inv, &next, cand.PaidOn, today, now, "RecordPayment"); err != nil {
			return err
		}
		outP, outInv = &cand, &next
		return nil
	}()
	return outP, outInv, err
}

// GetPayment returns a payment of an invoice.
func (l *Ledger) GetPayment(ctx context.Context, invoiceID, paymentID uuid.UUID) (*ledger.Payment, error) {
	return childOf(ctx, l, invoiceID, paymentID, l.store.GetPayment, func(p *ledger.Payment) uuid.UUID { return p.InvoiceID })
}

// childOf reads a record that belongs to an invoice the caller may see; a
// record of another invoice is not found, whatever its id. invoiceID
// uuid.Nil is any invoice (the wildcard of "invoices/-/payments/{id}"):
// the record's own invoice must then be one the caller may see.
func childOf[T any](ctx context.Context, l *Ledger, invoiceID, id uuid.UUID, get func(context.Context, uuid.UUID) (*T, error), parent func(*T) uuid.UUID) (*T, error) {
	if invoiceID == uuid.Nil {
		v, err := get(ctx, id)
		if err != nil {
			return nil, err
		}
		if _, err := visibleInvoice(ctx, l.store, parent(v), nil); err != nil {
			return nil, err
		}
		return v, nil
	}
	if _, err := visibleInvoice(ctx, l.store, invoiceID, nil); err != nil {
		return nil, err
	}
	v, err := get(ctx, id)
	if err != nil {
		return nil, err
	}
	if parent(v) != invoiceID {
		return nil, ledger.ErrNotFound
	}
	return v, nil
}

// ListPayments lists an invoice's payments.
func (l *Ledger) ListPayments(ctx context.Context, q store.PaymentQuery) ([]*ledger.Payment, error) {
	if _, err := visibleInvoice(ctx, l.store, q.InvoiceID, nil); err != nil {
		return nil, err
	}
	return l.store.ListPayments(ctx, q)
}

// ReversePayment stops a payment counting from reversedOn (a bounced
// transfer, a dishonoured bill). The payment stays on record.
func (l *Ledger) ReversePayment(ctx context.Context, invoiceID, paymentID uuid.UUID, reversedOn civil.Date, reason, etag string) (*ledger.Payment, *ledger.Invoice, error) {
	now := l.now()
	var outP *ledger.Payment
	var outInv *ledger.Invoice
	err := l.store.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		outP, outInv, err = l.reversePaymentTx(ctx, tx, invoiceID, paymentID, reversedOn, reason, etag, now)
		return err
	})
	return outP, outInv, err
}

// reversePaymentTx is ReversePayment inside a transaction the caller owns (the
// bulk sync runs many in one).
func (l *Ledger) reversePaymentTx(ctx context.Context, tx store.Tx, invoiceID, paymentID uuid.UUID, reversedOn civil.Date, reason, etag string, now time.Time) (outP *ledger.Payment, outInv *ledger.Invoice, err error) {
	err = func() error {
		inv, debtor, err := lockWithDebtor(ctx, tx, invoiceID)
		if err != nil {
			return err
		}
		now = notBefore(now, inv.UpdateTime)
		p, err := tx.GetPayment(ctx, paymentID)
		if err != nil {
			return err
		}
		if p.InvoiceID != inv.ID {
			return ledger.ErrNotFound
		}
		if err := checkEtag(etag, p.Version); err != nil {
			return err
		}
		today := l.Today(now, debtor.Jurisdiction)
		var v ledger.ValidationError
		checkFactDate(&v, "reversed_on", reversedOn, today)
		if !reversedOn.IsZero() && reversedOn.Before(p.PaidOn) {
			v.Add("reversed_on", "%s is before the payment's paid_on %s", reversedOn, p.PaidOn)
		}
		checkReason(&v, "reason", reason)
		if err := v.Err(); err != nil {
			return err
		}
		if p.State == ledger.PaymentReversed {
			return fmt.Errorf("%w: the payment was already reversed on %s", ledger.ErrFailedPrecondition, p.ReversedOn)
		}
		p.State, p.ReversedOn, p.ReversalReason, p.UpdateTime = ledger.PaymentReversed, reversedOn, reason, now
		if err := tx.UpdatePayment(ctx, p, change(ctx, inv, reversedOn, now, "ReversePayment")); err != nil {
			return err
		}
		next := *inv
		next.Paid -= p.Amount
		if err := l.saveDebtorChange(ctx, tx, inv, &next, reversedOn, today, now, "ReversePayment"); err != nil {
			return err
		}
		if err := recheckPlans(ctx, tx, inv, today, now); errors.Is(err, store.ErrUndecodable) {
			// A complaint that cannot be read (damaged, or a newer
			// release's) does not stop the reversal: its plan is judged
			// on its own date, as before.
			l.log.WarnContext(ctx, "reversal: complaints' plans not brought forward", "invoice", inv.ID, "err", err)
		} else if err != nil {
			// Anything else fails the reversal with it: a plan changed
			// meanwhile (a conflict) reruns the two together, and on
			// PostgreSQL a failed statement has aborted the transaction
			// anyway.
			return err
		}
		outP, outInv = p, &next
		return nil
	}()
	return outP, outInv, err
}

// recheckPlans brings forward to today the next check of the debtor's
// complaints resolved with a payment plan on the invoice, named by the
// complaint or through a claim acknowledged as it: an instalment found met
// on a payment now reversed was not, and the sweep judged it only at the
// plan's next date, weeks on, while the regulator saw the plan running.
func recheckPlans(ctx context.Context, tx store.Tx, inv *ledger.Invoice, today civil.Date, now time.Time) error {
	q := store.SupplierQuery{Scope: auth.Scope{All: true}, DebtorID: inv.DebtorID,
		State: []store.StringCond{{Op: store.OpEq, Value: string(complaint.Resolved)}}}
	for c, err := range listed(&q.Page, func() ([]*complaint.Complaint, error) { return tx.ListComplaints(ctx, q) }, complaintID) {
		if err != nil {
			return err
		}
		if c.Outcome != complaint.OutcomePaymentPlan || !c.NextCheck.After(today) {
			continue
		}
		ids, err := planInvoices(ctx, tx, c)
		if err != nil {
			return err
		}
		if !slices.Contains(ids, inv.ID) {
			continue
		}
		c.NextCheck, c.UpdateTime = today, notBefore(now, c.UpdateTime)
		if err := tx.UpdateComplaint(ctx, c, partyChange(ctx, today, c.UpdateTime, "ReversePayment")); err != nil {
			return err
		}
	}
	return nil
}

// CreateCreditNote reduces what is owed on an invoice from the note's date.
func (l *Ledger) CreateCreditNote(ctx context.Context, invoiceID uuid.UUID, cn *ledger.CreditNote, currency string, idem Idempotency) (*ledger.CreditNote, *ledger.Invoice, error) {
	now := l.now()
	var outCN *ledger.CreditNote
	var outInv *ledger.Invoice
	err := l.store.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
		inv, debtor, err := lockWithDebtor(ctx, tx, invoiceID)
		if err != nil {
			return err
		}
		now = notBefore(now, inv.UpdateTime)
		if id, ok, err := replay(ctx, tx, idem); err != nil || ok {
			if err == nil {
				outCN, err = tx.GetCreditNote(ctx, id)
				outInv = inv
			}
			return err
		}
		today := l.Today(now, debtor.Jurisdiction)
		// The issuer's reference names one credit note of the invoice, as
		// a payment's names one payment: the same note again (a retry
		// without a request id) is the first, whatever happened since,
		// and not a second credit of the same amount.
		if prev, err := creditNoteByReference(ctx, tx, inv.ID, cn.Reference); err != nil {
			return err
		} else if prev != nil {
			if prev.Amount != cn.Amount || prev.IssuedOn != cn.IssuedOn || prev.Reason != strings.TrimSpace(cn.Reason) ||
				(currency != "" && currency != inv.Amount.Currency) {
				return fmt.Errorf("%w: credit note reference %q is already recorded on this invoice with other content (%s)",
					ledger.ErrAlreadyExists, prev.Reference, "invoices/"+inv.ID.String()+"/creditNotes/"+prev.ID.String())
			}
			outCN, outInv = prev, inv
			return nil
		}
		var v ledger.ValidationError
		ledger.ValidateAmount(&v, "credit_note.amount", ledger.MoneyOf(cn.Amount, currency))
		if currency != "" && currency != inv.Amount.Currency {
			v.Add("credit_note.amount.currency_code", "is %s but the invoice is in %s", currency, inv.Amount.Currency)
		}
		checkFactDate(&v, "credit_note.issued_on", cn.IssuedOn, today)
		notBeforeIssue(&v, "credit_note.issued_on", cn.IssuedOn, inv)
		ledger.ValidateRef(&v, "credit_note.reference", cn.Reference, true)
		checkReason(&v, "credit_note.reason", cn.Reason)
		if inv.Status != ledger.StatusCancelled && cn.Amount > inv.Outstanding() {
			v.Add("credit_note.amount.minor_units", "%d exceeds the outstanding amount %d", cn.Amount, inv.Outstanding())
		}
		if err := v.Err(); err != nil {
			return err
		}
		if inv.Status == ledger.StatusCancelled {
			return fmt.Errorf("%w: the invoice was cancelled on %s", ledger.ErrFailedPrecondition, inv.CancelledOn)
		}
		note := *cn
		note.ID, note.InvoiceID, note.CreateTime = newID(), inv.ID, now
		next, err := l.applyCredit(ctx, tx, inv, &note, today, now, "CreateCreditNote")
		if err != nil {
			return err
		}
		outCN, outInv = &note, next
		return remember(ctx, tx, idem, note.ID, now)
	})
	return outCN, outInv, err
}

// creditNoteByReference is the invoice's credit note under ref (as
// stored: trimmed), nil if none.
func creditNoteByReference(ctx context.Context, tx store.Tx, invoiceID uuid.UUID, ref string) (*ledger.CreditNote, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil, nil
	}
	// Its credit notes only (at most MaxFactsPerKind), not its payments
	// and disputes as Facts reads them.
	notes, err := tx.ListCreditNotes(ctx, invoiceID, store.Page{Limit: ledger.MaxFactsPerKind})
	if err != nil {
		return nil, err
	}
	for _, n := range notes {
		if n.Reference == ref {
			return n, nil
		}
	}
	return nil, nil
}

// applyCredit records a credit note and lowers the invoice by it.
func (l *Ledger) applyCredit(ctx context.Context, tx store.Tx, inv *ledger.Invoice, note *ledger.CreditNote, today civil.Date, now time.Time, method string) (*ledger.Invoice, error) {
	if err := roomForFacts(ctx, tx, inv, factCreditNotes, 1); err != nil {
		return nil, err
	}
	if err := tx.CreateCreditNote(ctx, note, change(ctx, inv, note.IssuedOn, now, method)); err != nil {
		return nil, err
	}
	next := *inv
	next.Credited += note.Amount
	if err := l.saveDebtorChange(ctx, tx, inv, &next, note.IssuedOn, today, now, method); err != nil {
		return nil, err
	}
	return &next, nil
}

// GetCreditNote reads a credit note of an invoice the caller may see
// (invoiceID uuid.Nil: of whichever invoice holds it).
func (l *Ledger) GetCreditNote(ctx context.Context, invoiceID, id uuid.UUID) (*ledger.CreditNote, error) {
	return childOf(ctx, l, invoiceID, id, l.store.GetCreditNote, func(c *ledger.CreditNote) uuid.UUID { return c.InvoiceID })
}

// ListCreditNotes lists an invoice's credit notes.
func (l *Ledger) ListCreditNotes(ctx context.Context, invoiceID uuid.UUID, p store.Page) ([]*ledger.CreditNote, error) {
	if _, err := visibleInvoice(ctx, l.store, invoiceID, nil); err != nil {
		return nil, err
	}
	return l.store.ListCreditNotes(ctx, invoiceID, p)
}

// saveDebtorChange stores a change the debtor made to its record of an
// invoice: derived fields recomputed, a revision effective on eff, and the
// supplier's open contests marked corrected (the debtor changed the record
// they dispute).
func (l *Ledger) saveDebtorChange(ctx context.Context, tx store.Tx, before, next *ledger.Invoice, eff, today civil.Date, now time.Time, method string) error {
	next.UpdateTime = now
	next.Derive()
	if err := tx.UpdateInvoice(ctx, next, change(ctx, before, eff, now, method)); err != nil {
		return err
	}
	if err := l.resummarize(ctx, tx, []*ledger.Invoice{next}, now); err != nil {
		return err
	}
	return l.markCorrected(ctx, tx, next, today, now)
}

// factKind is one of the kinds of fact an invoice holds, each bounded by
// ledger.MaxFactsPerKind.
type factKind string

const (
	factPayments    factKind = "payments"
	factCreditNotes factKind = "credit notes"
	factDisputes    factKind = "disputes"
)

func (k factKind) count(f *store.Facts) int {
	if f == nil {
		return 0
	}
	switch k {
	case factPayments:
		return len(f.Payments)
	case factCreditNotes:
		return len(f.CreditNotes)
	}
	return len(f.Disputes)
}

// roomForFacts refuses to add n facts of a kind to an invoice that would
// then hold more of them than the judgement takes (ledger.MaxFactsPerKind):
// it could no longer be judged, and would drop out of every figure. Facts
// count in any state (a reversed payment, a closed dispute), as the
// judgement reads them. Only a write that adds facts asks: an invoice
// already past the limit (recorded before it was enforced) can still be
// corrected, cancelled and recounted.
func roomForFacts(ctx context.Context, tx store.Tx, inv *ledger.Invoice, kind factKind, n int) error {
	facts, err := tx.Facts(ctx, []uuid.UUID{inv.ID})
	if err != nil {
		return err
	}
	if have := kind.count(facts[inv.ID]); have+n > ledger.MaxFactsPerKind {
		return fmt.Errorf("%w: invoice %q holds %d %s; the ledger keeps at most %d for one invoice",
			ledger.ErrFailedPrecondition, inv.DocumentRef, have, kind, ledger.MaxFactsPerKind)
	}
	return nil
}
