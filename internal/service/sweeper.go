package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
// Due invoices are handled a batch at a time (sweepBatch), each batch in
// one transaction with its reads made in bulk: one transaction per invoice
// cost 1.7 ms each on PostgreSQL, half an hour for the million overdue
// invoices of a first bulk load. Each invoice's escalation row is moved on
// from the version read: two replicas sweeping at once may both judge an
// invoice, but only one commits its events, so each change is recorded
// exactly once. A batch that keeps losing such races is swept again one
// invoice at a time, and an invoice that still does is left for the next
// pass, so one busy invoice holds up only itself.
func (l *Ledger) Sweep(ctx context.Context) (int, error) {
	ctx = auth.WithPrincipal(ctx, Sweeper)
	now := l.now()
	// The latest civil date anywhere on Earth: every invoice whose own
	// today has come is within it; each is then checked in its own zone.
	horizon := civil.DateOf(now, time.FixedZone("UTC+14", 14*3600))
	done, err := sweepDue(func(after store.DueCursor, limit int) ([]store.DueCursor, error) {
		due, err := l.store.DueEscalations(ctx, horizon, after, limit)
		rows := make([]store.DueCursor, len(due))
		for i, e := range due {
			rows[i] = store.DueCursor{On: e.NextCheck, ID: e.InvoiceID}
		}
		return rows, err
	}, func(ids []uuid.UUID) (map[uuid.UUID]bool, error) {
		swept, err := l.sweepInvoices(ctx, ids, now)
		if err == nil || ctx.Err() != nil || errors.Is(err, ledger.ErrUnavailable) {
			// A store that cannot write (down, its disk full) fails
			// the pass: each invoice alone would fail as the batch did.
			return swept, err
		}
		// A batch that failed (lost every race, or ran past its time) is
		// swept again one invoice at a time, and an invoice that still
		// fails is left for the next pass (oneByOne).
		return oneByOne(ctx, l.log, "invoice", func(id uuid.UUID) (bool, error) {
			one, err := l.sweepInvoices(ctx, []uuid.UUID{id}, now)
			return one[id], err
		})(ids)
	})
	// Complaints are swept whether or not the invoices' pass went through:
	// their deadlines do not wait for it.
	n, cerr := l.sweepComplaints(ctx, horizon)
	return done + n, errors.Join(err, cerr)
}

// sweepDue works through the rows a sweep finds due: list returns up to
// limit rows in next-check order after a cursor, many handles a batch of
// them and reports which were due in their own zone. The cursor moves past
// every row listed, swept or not (not yet due in its own zone, judged
// under a policy this server lacks, losing every race), so a pass reads
// each due row once and goes on past any number it cannot sweep; a row
// swept and listed again further on (its next check moved to a later date
// still within the horizon) is left for the next pass.
func sweepDue(list func(after store.DueCursor, limit int) ([]store.DueCursor, error), many func([]uuid.UUID) (map[uuid.UUID]bool, error)) (int, error) {
	done := 0
	swept := map[uuid.UUID]bool{}
	var after store.DueCursor
	for {
		due, err := list(after, sweepBatch)
		if err != nil || len(due) == 0 {
			return done, err
		}
		after = due[len(due)-1]
		var todo []uuid.UUID
		for _, r := range due {
			if !swept[r.ID] {
				todo = append(todo, r.ID)
			}
		}
		if len(todo) > 0 {
			res, err := many(todo)
			for _, id := range todo {
				if res[id] {
					done++
					swept[id] = true
				}
			}
			if err != nil {
				return done, err
			}
		}
		if len(due) < sweepBatch {
			return done, nil
		}
	}
}

// oneByOne makes a batch handler of a handler of one id. An id that fails
// is logged and left for the next pass, as the invoice sweep leaves one:
// stopping there would stop every pass there. Only the context's end, or
// the store unavailable, stops the batch: every id after would fail alike
// (with a full disk, a warning for each of 40,000 invoices per pass, and
// the pass counted a success).
func oneByOne(ctx context.Context, log *slog.Logger, what string, one func(uuid.UUID) (bool, error)) func([]uuid.UUID) (map[uuid.UUID]bool, error) {
	return func(ids []uuid.UUID) (map[uuid.UUID]bool, error) {
		swept := map[uuid.UUID]bool{}
		for _, id := range ids {
			ok, err := one(id)
			if err != nil {
				if ctx.Err() != nil || errors.Is(err, ledger.ErrUnavailable) {
					return swept, err
				}
				log.Warn("sweep: could not sweep; left for the next pass", "what", what, "id", id, "err", err)
				continue
			}
			swept[id] = ok
		}
		return swept, nil
	}
}

// transition is a change of level on a date.
type transition struct {
	from, to int
	name     string
	on       civil.Date
}

// sweepInvoices re-judges, in one transaction, those of the invoices whose
// check is due in their own zone, and reports which it did.
func (l *Ledger) sweepInvoices(ctx context.Context, ids []uuid.UUID, now time.Time) (map[uuid.UUID]bool, error) {
	var swept map[uuid.UUID]bool
	err := l.store.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
		swept = map[uuid.UUID]bool{}
		escs, err := tx.EscalationsOf(ctx, ids)
		if err != nil {
			return err
		}
		invs, err := tx.InvoicesOf(ctx, ids)
		if err != nil {
			return err
		}
		type job struct {
			inv   *ledger.Invoice
			esc   *ledger.Escalation
			pol   policy.Policy
			today civil.Date
		}
		var jobs []job
		var due, alien []uuid.UUID
		debtors := map[uuid.UUID]*ledger.Party{}
		for _, id := range ids {
			esc, inv := escs[id], invs[id]
			if esc == nil || inv == nil {
				continue
			}
			p, err := l.policyOf(inv)
			if err != nil {
				// Judged under a policy this server lacks (a newer replica's,
				// during an upgrade): left for a server that has it, without
				// holding up the invoices due after it.
				alien = append(alien, id)
				continue
			}
			debtor := debtors[inv.DebtorID]
			if debtor == nil {
				if debtor, err = tx.GetParty(ctx, inv.DebtorID); err != nil {
					return fmt.Errorf("sweep invoice %s: %w", id, err)
				}
				debtors[inv.DebtorID] = debtor
			}
			today := civil.DateOf(now, l.zoneOf(p, debtor.Jurisdiction))
			if esc.NextCheck.IsZero() || esc.NextCheck.After(today) {
				continue // another replica got here first, or not yet due here
			}
			jobs = append(jobs, job{inv, esc, p, today})
			due = append(due, id)
		}
		if len(alien) > 0 {
			l.log.Warn("escalation sweep skips invoices judged under a policy this server does not have",
				"invoices", len(alien), "first", alien[0])
		}
		if len(jobs) == 0 {
			return nil
		}
		facts, err := tx.Facts(ctx, due)
		if err != nil {
			return err
		}
		history, err := tx.EscalationEventsOf(ctx, due)
		if err != nil {
			return err
		}
		// A corrected invoice is judged on each date on the fields that
		// stood then, as everything else judges it: its revisions say which.
		var corrected []uuid.UUID
		for _, j := range jobs {
			if !j.inv.CorrectedOn.IsZero() {
				corrected = append(corrected, j.inv.ID)
			}
		}
		revs := map[uuid.UUID][]*ledger.Revision{}
		if len(corrected) > 0 {
			if revs, err = tx.RevisionsOf(ctx, corrected); err != nil {
				return err
			}
		}
		var rec recorder
		var unjudgeable []uuid.UUID
		var why error
		for _, j := range jobs {
			// An invoice whose facts cannot be judged as they stand (more
			// facts of a kind than the ledger now keeps, from before the
			// bound) has no schedule: its recorded levels stand, rather
			// than each being marked corrected, as judge reports it
			// unavailable rather than settled.
			//
			// Its check moves to tomorrow, its level and last check as they
			// were: every pass today (one a minute) read it and warned
			// again. A new fact of it brings the check forward, as any
			// change of an invoice does.
			if err := l.rejudge(ctx, &rec, j.inv, j.esc, j.pol, facts[j.inv.ID], history[j.inv.ID], revs[j.inv.ID], j.today); errors.Is(err, errUnjudgeable) {
				unjudgeable, why = append(unjudgeable, j.inv.ID), err
				j.esc.NextCheck = j.today.AddDays(1)
				rec.rows = append(rec.rows, j.esc)
				continue
			} else if err != nil {
				return err
			}
			swept[j.inv.ID] = true
		}
		if len(unjudgeable) > 0 {
			l.log.Warn("escalation sweep leaves invoices that cannot be judged as they stand; their levels stand",
				"invoices", len(unjudgeable), "first", unjudgeable[0], "reason", why)
		}
		// The rows move on first: a row another replica moved meanwhile
		// fails the batch before any of its events is written.
		if err := tx.PutEscalations(ctx, rec.rows); err != nil {
			return err
		}
		return tx.AddEscalationEvents(ctx, rec.events, rec.changes)
	})
	if err != nil {
		return nil, err
	}
	return swept, nil
}

// recorder gathers what a batch writes: the escalation rows moved on, then
// their events.
type recorder struct {
	rows    []*ledger.Escalation
	events  []*ledger.EscalationEvent
	changes []store.Change
}

func (r *recorder) add(e *ledger.EscalationEvent, c store.Change) {
	r.events, r.changes = append(r.events, e), append(r.changes, c)
}

// rejudge brings one invoice's escalation record up to date: every change
// of level its facts now give up to today is recorded once (in rec), dated
// when it happened; a recorded change they no longer give is marked
// corrected; the row moves on to the next date the level may change.
func (l *Ledger) rejudge(ctx context.Context, rec *recorder, inv *ledger.Invoice, esc *ledger.Escalation, p policy.Policy, f *store.Facts, events []*ledger.EscalationEvent, revs []*ledger.Revision, today civil.Date) error {
	id := inv.ID
	truth, last, err := l.timeline(inv, f, p, revs, today)
	if err != nil {
		return fmt.Errorf("sweep invoice %s: %w", id, err)
	}
	corrected := map[uuid.UUID]bool{}
	for _, e := range events {
		if e.Kind == ledger.EscalationCorrected {
			corrected[e.Corrects] = true
		}
	}
	recorded := map[transition]bool{}
	// Dates come from the sweep's clock reading; the record time is read
	// now, so a long sweep stamps its events when it writes them (the
	// change feed orders by it).
	c := change(ctx, inv, today, notBefore(l.now(), inv.UpdateTime), "Sweep")
	for _, e := range events {
		if e.Kind != ledger.EscalationChanged || corrected[e.ID] {
			continue
		}
		// One dated after today was recorded by a replica whose day had
		// already turned (or whose clock runs ahead): not this pass's to
		// judge.
		t := transition{from: e.FromLevel, to: e.ToLevel, name: e.ToLevelName, on: e.ChangedOn}
		if e.ChangedOn.After(today) || contains(truth, t) {
			recorded[t] = true
			continue
		}
		// A backdated fact undid this change: say so, keep the record.
		rec.add(&ledger.EscalationEvent{ID: newID(), InvoiceID: id, Kind: ledger.EscalationCorrected,
			FromLevel: e.FromLevel, ToLevel: e.ToLevel, ToLevelName: e.ToLevelName, ChangedOn: e.ChangedOn, Corrects: e.ID,
			RecordTime: c.RecordTime}, c)
	}
	for _, t := range truth {
		if recorded[t] {
			continue
		}
		rec.add(&ledger.EscalationEvent{ID: newID(), InvoiceID: id, Kind: ledger.EscalationChanged,
			FromLevel: t.from, ToLevel: t.to, ToLevelName: t.name, ChangedOn: t.on, RecordTime: c.RecordTime}, c)
	}
	esc.Level, esc.NextCheck, esc.CheckedOn = last.EscalationLevel, last.NextChange, today
	rec.rows = append(rec.rows, esc)
	return nil
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
// escalation level on the facts as now recorded, with the schedule as of
// today. A corrected invoice is judged on each date on the fields that
// stood then (revs, its revisions): a correction effective from a date
// changes the level from that date, as judgements as of any date say, and
// does not rewrite what came before it.
func (l *Ledger) timeline(inv *ledger.Invoice, f *store.Facts, p policy.Policy, revs []*ledger.Revision, today civil.Date) ([]transition, judgement.Schedule, error) {
	fieldsOn := func(civil.Date) *ledger.Invoice { return inv }
	var bounds []civil.Date // where one version of the fields gives way to the next
	var probes []civil.Date // a date within each earlier version
	if !inv.CorrectedOn.IsZero() && len(revs) > 0 {
		versions, err := fieldVersions(inv, revs)
		if err != nil {
			return nil, judgement.Schedule{}, err
		}
		if len(versions) > 1 {
			fieldsOn = func(d civil.Date) *ledger.Invoice {
				v := versions[0]
				for _, x := range versions[1:] {
					if !d.Before(x.from) {
						v = x
					}
				}
				return v.fields
			}
			probes = []civil.Date{versions[1].from.AddDays(-1)}
			for _, v := range versions[1:] {
				bounds, probes = append(bounds, v.from), append(probes, v.from)
			}
		}
	}
	// Each version under its own policy, as judgements as of its dates
	// take it (a correction may have chosen another).
	atErr := func(d civil.Date) (judgement.Schedule, error) {
		fields, pol := fieldsOn(d), p
		if fields.PolicyID != inv.PolicyID || fields.PolicyVersion != inv.PolicyVersion {
			if vp, err := l.policyOf(fields); err == nil {
				pol = vp
			}
		}
		return l.scheduleOf(fields, f, pol, d)
	}
	at := func(d civil.Date) judgement.Schedule {
		s, _ := atErr(d)
		return s
	}
	now, err := atErr(today)
	if err != nil {
		// No schedule, and no timeline: its recorded levels stand,
		// rather than each being marked corrected by an empty one.
		return nil, judgement.Schedule{}, fmt.Errorf("%w: %v", errUnjudgeable, err)
	}
	// The walk starts at the earliest due date of any version.
	start := now.DueDate
	for _, on := range probes {
		if due := at(on).DueDate; !due.IsZero() && (start.IsZero() || due.Before(start)) {
			start = due
		}
	}
	if start.IsZero() || !start.Before(today) {
		return nil, now, nil
	}
	var out []transition
	d, j := start, at(start)
	level := j.EscalationLevel
	for step := 0; step < maxTimelineSteps; step++ {
		next := j.NextChange
		for _, b := range bounds {
			if b.After(d) && (next.IsZero() || b.Before(next)) {
				next = b
			}
		}
		if next.IsZero() || next.After(today) {
			break
		}
		d, j = next, at(next)
		if j.EscalationLevel != level {
			out = append(out, transition{from: level, to: j.EscalationLevel, name: j.EscalationName, on: next})
			level = j.EscalationLevel
		}
	}
	return out, now, nil
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
	s := l.schedule(inv, f, p, today)
	if !s.DueDate.IsZero() && s.DueDate.Before(today) {
		return esc
	}
	esc.Level, esc.NextCheck, esc.CheckedOn = s.EscalationLevel, s.NextChange, today
	return esc
}

// errUnjudgeable is an invoice the sweep cannot judge as its facts stand.
var errUnjudgeable = errors.New("cannot be judged as its facts stand")

// schedule is an invoice's due date, escalation level and next change on
// asOf (judgement.ScheduleOf), as judge gives them for every invoice whose
// interest can be computed or is missing a rate; all zero for an invoice
// that cannot be judged at all, as judge reports it. (An invoice whose
// interest overflows is judged nothing by judge but gets its schedule
// here: the sweeper still escalates it.)
func (l *Ledger) schedule(inv *ledger.Invoice, f *store.Facts, p policy.Policy, asOf civil.Date) judgement.Schedule {
	s, err := l.scheduleOf(inv, f, p, asOf)
	if err != nil {
		return judgement.Schedule{}
	}
	return s
}

// scheduleOf is schedule with the reason an invoice cannot be judged.
func (l *Ledger) scheduleOf(inv *ledger.Invoice, f *store.Facts, p policy.Policy, asOf civil.Date) (judgement.Schedule, error) {
	in := judgement.Input{Invoice: *inv, Policy: p, PolicyValidated: true, Tables: l.policies, AsOf: asOf}
	if f != nil {
		in.Payments, in.CreditNotes, in.Disputes = f.Payments, f.CreditNotes, f.Disputes
	}
	return judgement.ScheduleOf(in)
}
