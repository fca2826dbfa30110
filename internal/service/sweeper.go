package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/auth"
	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/judgement"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/policy"
	"github.com/arrears/arrears/internal/store"
)

// Sweeper is the principal of escalation recording, named in the audit
// trail as "ADMIN:sweeper".
var Sweeper = &auth.Principal{Role: auth.RoleAdmin, Prefix: "sweeper"}

// sweepBatch is how many due invoices one pass reads at a time.
const sweepBatch = 200

// maxTimelineSteps bounds the walk through an invoice's history of levels;
// each step moves at least one day, and real debts change far less often.
const maxTimelineSteps = 20000

// Sweep records every escalation change that has come due, dated on the day
// the level was reached, and returns how many invoices it re-judged. It
// reads only invoices whose next check has come (an indexed date), so its
// cost follows the changes, not the size of the ledger.
//
// Each invoice is handled in its own transaction that ends by moving the
// invoice's escalation row on from the version it read: two replicas
// sweeping at once may both judge an invoice, but only one commits its
// events, so each change is recorded exactly once.
func (l *Ledger) Sweep(ctx context.Context) (int, error) {
	ctx = auth.WithPrincipal(ctx, Sweeper)
	now := l.now()
	// The latest civil date anywhere on Earth: every invoice whose own
	// today has come is within it; each is then checked in its own zone.
	horizon := civil.DateOf(now, time.FixedZone("UTC+14", 14*3600))
	done, err := sweepDue(func(limit int) ([]uuid.UUID, error) {
		due, err := l.store.DueEscalations(ctx, horizon, limit)
		ids := make([]uuid.UUID, len(due))
		for i, e := range due {
			ids[i] = e.InvoiceID
		}
		return ids, err
	}, func(id uuid.UUID) (bool, error) {
		ok, err := l.sweepOne(ctx, id, now)
		if err != nil {
			err = fmt.Errorf("sweep invoice %s: %w", id, err)
		}
		return ok, err
	})
	if err != nil {
		return done, err
	}
	n, err := l.sweepComplaints(ctx, now, horizon)
	return done + n, err
}

// sweepDue works through the rows a sweep finds due: list returns up to
// limit ids in next-check order, one handles an id and reports whether it
// was due in its own zone. Rows due by the horizon but not yet in their own
// zone are skipped (and the next query asks for that many more), so a pass
// ends when a batch makes no progress or the list is exhausted.
func sweepDue(list func(limit int) ([]uuid.UUID, error), one func(uuid.UUID) (bool, error)) (int, error) {
	done := 0
	skipped := map[uuid.UUID]bool{}
	for {
		limit := sweepBatch + len(skipped)
		due, err := list(limit)
		if err != nil {
			return done, err
		}
		progressed := false
		for _, id := range due {
			if skipped[id] {
				continue
			}
			ok, err := one(id)
			if err != nil {
				return done, err
			}
			if ok {
				done++
				progressed = true
			} else {
				skipped[id] = true
			}
		}
		if !progressed || len(due) < limit {
			return done, nil
		}
	}
}

// transition is a change of level on a date.
type transition struct {
	from, to int
	name     string
	on       civil.Date
}

// sweepOne re-judges one invoice if its check is due in its own zone; it
// reports whether it did.
func (l *Ledger) sweepOne(ctx context.Context, id uuid.UUID, now time.Time) (bool, error) {
	swept := false
	err := l.store.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
		swept = false
		esc, err := tx.GetEscalation(ctx, id)
		if err != nil {
			return err
		}
		inv, err := tx.GetInvoice(ctx, id)
		if err != nil {
			return err
		}
		p, err := l.policyOf(inv)
		if err != nil {
			return err
		}
		debtor, err := tx.GetParty(ctx, inv.DebtorID)
		if err != nil {
			return err
		}
		today := civil.DateOf(now, l.zoneOf(p, debtor.Jurisdiction))
		if esc.NextCheck.IsZero() || esc.NextCheck.After(today) {
			return nil // another replica got here first, or not yet due here
		}
		facts, err := tx.Facts(ctx, []uuid.UUID{id})
		if err != nil {
			return err
		}
		f := facts[id]
		truth, last := l.timeline(inv, f, p, today)

		events, err := tx.ListEscalationEvents(ctx, id, store.Page{Limit: 100000})
		if err != nil {
			return err
		}
		corrected := map[uuid.UUID]bool{}
		for _, e := range events {
			if e.Kind == ledger.EscalationCorrected {
				corrected[e.Corrects] = true
			}
		}
		recorded := map[transition]bool{}
		// Dates come from the sweep's clock reading; the record time is
		// read now, so a long sweep stamps its events when it writes them
		// (the change feed orders by it).
		c := change(ctx, inv, today, l.now(), "Sweep")
		for _, e := range events {
			if e.Kind != ledger.EscalationChanged || corrected[e.ID] {
				continue
			}
			t := transition{from: e.FromLevel, to: e.ToLevel, name: e.ToLevelName, on: e.ChangedOn}
			if contains(truth, t) {
				recorded[t] = true
				continue
			}
			// A backdated fact undid this change: say so, keep the record.
			if err := tx.AddEscalationEvent(ctx, &ledger.EscalationEvent{ID: newID(), InvoiceID: id, Kind: ledger.EscalationCorrected,
				FromLevel: e.FromLevel, ToLevel: e.ToLevel, ToLevelName: e.ToLevelName, ChangedOn: e.ChangedOn, Corrects: e.ID,
				RecordTime: now}, c); err != nil {
				return err
			}
		}
		for _, t := range truth {
			if recorded[t] {
				continue
			}
			if err := tx.AddEscalationEvent(ctx, &ledger.EscalationEvent{ID: newID(), InvoiceID: id, Kind: ledger.EscalationChanged,
				FromLevel: t.from, ToLevel: t.to, ToLevelName: t.name, ChangedOn: t.on, RecordTime: now}, c); err != nil {
				return err
			}
		}
		esc.Level, esc.NextCheck, esc.CheckedOn = last.EscalationLevel, last.NextChange, today
		if err := tx.PutEscalation(ctx, esc); err != nil {
			return err
		}
		swept = true
		return nil
	})
	if errors.Is(err, ledger.ErrNotFound) {
		return false, nil
	}
	return swept, err
}

func contains[T comparable](xs []T, x T) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// timeline walks an invoice's judgement from its due date to today,
// jumping from one possible change to the next, and returns every change of
// escalation level on the facts as now recorded, with the judgement as of
// today.
func (l *Ledger) timeline(inv *ledger.Invoice, f *store.Facts, p policy.Policy, today civil.Date) ([]transition, judgement.Judgement) {
	now := l.judge(inv, f, p, today)
	if now.DueDate.IsZero() || !now.DueDate.Before(today) {
		return nil, now
	}
	var out []transition
	j := l.judge(inv, f, p, now.DueDate)
	level := j.EscalationLevel
	for step := 0; step < maxTimelineSteps; step++ {
		next := j.NextChange
		if next.IsZero() || next.After(today) {
			break
		}
		j = l.judge(inv, f, p, next)
		if j.EscalationLevel != level {
			out = append(out, transition{from: level, to: j.EscalationLevel, name: j.EscalationName, on: next})
			level = j.EscalationLevel
		}
	}
	return out, now
}

// firstCheck is the escalation row a new invoice with facts f is written
// with: what a sweep would leave if it ran at once. An invoice already
// overdue is checked today, so that the sweeper records each level it has
// passed, dated when it was reached. Any other has nothing to record yet
// and is first checked on the next date its level may change: a sweep after
// a bulk load of current invoices has nothing to do, where it used to
// re-judge each in a transaction of its own (20,000 took 34 s on
// PostgreSQL, 5 s on SQLite). Later facts bring the check forward as
// before.
func (l *Ledger) firstCheck(inv *ledger.Invoice, f *store.Facts, debtorJurisdiction string, now time.Time) ledger.Escalation {
	esc := ledger.Escalation{InvoiceID: inv.ID, DebtorID: inv.DebtorID, CreditorID: inv.CreditorID,
		NextCheck: l.Today(now, debtorJurisdiction)}
	p, err := l.policyOf(inv)
	if err != nil {
		return esc // the sweeper reports it
	}
	today := civil.DateOf(now, l.zoneOf(p, debtorJurisdiction))
	esc.NextCheck = today
	in := judgement.Input{Invoice: *inv, Policy: p, PolicyValidated: true, Tables: l.policies, AsOf: today}
	if f != nil {
		in.Payments, in.CreditNotes, in.Disputes = f.Payments, f.CreditNotes, f.Disputes
	}
	s, err := judgement.ScheduleOf(in)
	if err != nil || (!s.DueDate.IsZero() && s.DueDate.Before(today)) {
		return esc
	}
	esc.Level, esc.NextCheck, esc.CheckedOn = s.EscalationLevel, s.NextChange, today
	return esc
}
