package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/complaint"
	"github.com/arrears/arrears/internal/judgement"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/store"
)

// sweepComplaints does what happens to complaints by itself: a missed
// deadline is flagged (once per deadline) and escalated in the timeline; a
// missed instalment of an agreed plan reopens the complaint; a resolved,
// rejected or withdrawn complaint closes after 30 days. Like the invoice
// sweep it reads only complaints whose next check has come, and commits
// each through a versioned update, so replicas never act twice.
func (l *Ledger) sweepComplaints(ctx context.Context, horizon civil.Date) (int, error) {
	return sweepDue(func(after store.DueCursor, limit int) ([]store.DueCursor, error) {
		return l.store.DueComplaints(ctx, horizon, after, limit)
	}, oneByOne(ctx, l.log, "complaint", func(id uuid.UUID) (bool, error) { return l.sweepComplaint(ctx, id) }))
}

func (l *Ledger) sweepComplaint(ctx context.Context, id uuid.UUID) (bool, error) {
	swept, gone := false, false
	err := l.store.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
		swept, gone = false, false
		c, err := tx.GetComplaint(ctx, id)
		if errors.Is(err, ledger.ErrNotFound) {
			gone = true
			return nil
		}
		if err != nil {
			return err
		}
		// The clock now, not at the pass's start (a pass may take long, or
		// cross midnight), and never before the complaint's last change.
		now := notBefore(l.now(), c.UpdateTime)
		debtor, err := tx.GetParty(ctx, c.Debtor)
		if err != nil {
			// Not "gone": a complaint whose debtor cannot be read is an
			// error to see in the log, not one to skip in silence.
			return fmt.Errorf("complaint %s, debtor %s: %w", c.ID, c.Debtor, err)
		}
		today := l.Today(now, debtor.Jurisdiction)
		if c.NextCheck.IsZero() || c.NextCheck.After(today) {
			return nil
		}
		var events []*complaint.Event
		var planNext civil.Date // a plan still running: its next instalment's check
		event := func(kind string, to complaint.State, comment string, on civil.Date) {
			events = append(events, &complaint.Event{ID: newID(), ComplaintID: c.ID, Kind: kind, FromState: c.State, ToState: to,
				Actor: "system", Comment: comment, OccurredOn: on, RecordTime: now})
		}
		switch {
		case c.State.Open():
			dl := complaint.CurrentDeadline(c, l.calendarOf(debtor.Jurisdiction))
			if !dl.Due.IsZero() && dl.Due.Before(today) && c.MissedDue != dl.Due {
				event(complaint.EventDeadlineMissed, c.State, "deadline to "+dl.Step+" was "+dl.Due.String()+"; escalated", dl.Due.AddDays(1))
				c.MissedDue = dl.Due
			}
		case c.State == complaint.Resolved && c.Outcome == complaint.OutcomePaymentPlan:
			paidBy, err := l.paidSince(ctx, tx, c)
			if err != nil {
				return err
			}
			var missed *complaint.Instalment
			missed, planNext = complaint.PlanStatus(c.Plan, today.AddDays(-complaint.PlanGraceDays), paidBy)
			if !planNext.IsZero() {
				planNext = planNext.AddDays(complaint.PlanGraceDays)
			}
			last := c.Plan[len(c.Plan)-1].DueOn
			switch {
			case missed != nil:
				on := missed.DueOn.AddDays(1)
				// The miss changes nothing by itself (as a missed deadline):
				// the transition after it reopens, once.
				event(complaint.EventInstalmentMissed, c.State, "instalment due "+missed.DueOn.String()+" was not paid in full", on)
				event(complaint.EventTransition, complaint.InHandling, "reopened: a payment-plan instalment was missed", on)
				// Handling starts over, with its own 30 days: extensions
				// granted for the earlier handling do not carry over (the
				// timeline keeps them).
				// Reopened the day after the instalment, however late the
				// sweep came; the handler's 30 days run from the day the miss
				// was found (PlanGraceDays on, or later if the payment's
				// reversal was recorded later), when it came back to them.
				c.State, c.StateSince, c.HandlerReceivedOn, c.MissedDue = complaint.InHandling, on, today, civil.Date{}
				c.ExtensionDays, c.ExtensionReason = 0, ""
				// In handling again, it has no outcome until resolved anew.
				c.Outcome, c.Plan, c.PlanAgreedOn, c.PlanAgreedAt = "", nil, civil.Date{}, time.Time{}
			case !today.Before(last.AddDays(complaint.AutoCloseDays)):
				closed := last.AddDays(complaint.AutoCloseDays)
				event(complaint.EventTransition, complaint.Closed, "closed: the payment plan was met", closed)
				c.State, c.StateSince = complaint.Closed, closed
			}
		case c.State == complaint.Resolved || c.State == complaint.Rejected || c.State == complaint.Withdrawn:
			if !today.Before(c.StateSince.AddDays(complaint.AutoCloseDays)) {
				event(complaint.EventTransition, complaint.Closed, "closed automatically after 30 days", c.StateSince.AddDays(complaint.AutoCloseDays))
				c.State = complaint.Closed
				c.StateSince = c.StateSince.AddDays(complaint.AutoCloseDays)
			}
		}
		c.NextCheck = l.nextCheck(c, debtor.Jurisdiction)
		if c.State == complaint.Resolved && c.Outcome == complaint.OutcomePaymentPlan {
			// Still running (read above, in the same transaction): step to
			// the next instalment, or to the close after the last.
			if planNext.IsZero() {
				planNext = c.Plan[len(c.Plan)-1].DueOn.AddDays(complaint.AutoCloseDays)
			}
			c.NextCheck = planNext
		}
		c.UpdateTime = now
		if err := tx.UpdateComplaint(ctx, c, partyChange(ctx, today, now, "Sweep")); err != nil {
			return err
		}
		for _, e := range events {
			if err := tx.AddComplaintEvent(ctx, e, timelineChange(ctx, c, today, now, "Sweep")); err != nil {
				return err
			}
		}
		swept = true
		return nil
	})
	if gone {
		return false, nil
	}
	return swept, err
}

// sincePlan places a payment or credit recorded at recorded and counting
// from on against c's plan: whether it was recorded once the plan was agreed
// (always, for a plan agreed before that time was kept, which counts by
// dates alone), and the day it counts from, never before the plan's.
func sincePlan(c *complaint.Complaint, recorded time.Time, on civil.Date) (civil.Date, bool) {
	if c.PlanAgreedAt.IsZero() {
		return on, true
	}
	return civil.Max(on, c.PlanAgreedOn), !recorded.Before(c.PlanAgreedAt)
}

// paidSince returns, for a complaint's plan, the total paid on its invoices
// from the day the plan was agreed up to a date. A payment reversed since
// pays nothing, whenever the reversal came: an instalment met by a payment
// that later bounced was not met, and the complaint reopens. A credit the
// supplier grants after the plan was agreed (a credit note, a dispute
// resolved with one) counts as paid from its date, or from the plan's if
// backdated: it takes that much off the debt the plan settles, and a
// debtor who paid the rest has met the plan, not missed it (a payment of
// the full instalment would be refused as more than owed). One recorded
// before the plan was agreed, dated by its day, was in the debt the plan
// was agreed on, even on the same day. Payments count alike. Times are the
// recording replicas' clocks: a fact recorded in the same moment as the
// plan counts towards it. (Plans agreed before their time was kept count
// what is dated on or after the plan's day.)
func (l *Ledger) paidSince(ctx context.Context, tx store.Tx, c *complaint.Complaint) (func(civil.Date) int64, error) {
	invoices, err := planInvoices(ctx, tx, c)
	if err != nil {
		return nil, err
	}
	facts, err := tx.Facts(ctx, invoices)
	if err != nil {
		return nil, err
	}
	// A payment pays an instalment from the day it reduces the debt, as
	// the judgement counts it: a bill handed over under a policy that
	// settles bills at maturity, from its maturity.
	type counted struct {
		ledger.Payment
		on civil.Date
	}
	invs, err := tx.InvoicesOf(ctx, invoices)
	if err != nil {
		return nil, err
	}
	var pays []counted
	for id, f := range facts {
		inv, ok := invs[id]
		if !ok {
			return nil, fmt.Errorf("complaint %s: invoice %s: %w", c.ID, id, ledger.ErrNotFound)
		}
		pol, polErr := l.policyOf(inv)
		for _, p := range f.Payments {
			on := p.PaidOn
			if polErr == nil {
				on = judgement.PaymentCounts(&pol, &p)
			}
			on, after := sincePlan(c, p.CreateTime, on)
			if !after {
				// In the debt the plan was agreed on (a bill too, whenever
				// it matures: the ledger's outstanding, on which plans are
				// agreed, counts it paid when recorded), unless reversed
				// since (a bill dishonoured, a transfer returned): then the
				// debt grew by it, and what was paid towards the plan
				// shrinks.
				if p.State == ledger.PaymentReversed && !p.UpdateTime.Before(c.PlanAgreedAt) {
					undo := ledger.Payment{Amount: -p.Amount, Currency: p.Currency, State: ledger.PaymentRecorded}
					pays = append(pays, counted{undo, civil.Max(p.ReversedOn, c.PlanAgreedOn)})
				}
				continue
			}
			pays = append(pays, counted{p, on})
		}
		for _, cn := range f.CreditNotes {
			if on, after := sincePlan(c, cn.CreateTime, cn.IssuedOn); after {
				credit := ledger.Payment{Amount: cn.Amount, Currency: inv.Amount.Currency, State: ledger.PaymentRecorded}
				pays = append(pays, counted{credit, on})
			}
		}
	}
	return func(by civil.Date) int64 {
		var sum int64
		for _, p := range pays {
			if p.on.Before(c.PlanAgreedOn) || p.on.After(by) {
				continue
			}
			// Money of another currency pays nothing of the plan's (an
			// invoice's currency may change while no payment is recorded
			// on it), and amounts of two currencies are never added.
			if p.State == ledger.PaymentReversed || p.Currency != c.Currency {
				continue
			}
			sum += p.Amount
		}
		return sum
	}, nil
}
