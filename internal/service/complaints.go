package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/auth"
	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/complaint"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/money"
	"github.com/arrears/arrears/internal/policy"
	"github.com/arrears/arrears/internal/store"
)

// calendar is a jurisdiction's working-day calendar: China's with its
// adjusted working weekends, Germany's and France's national holidays,
// weekends only elsewhere.
type calendar struct {
	reg *policy.Registry
	id  string
}

func (c calendar) IsWorkingDay(d civil.Date) (bool, bool) { return c.reg.IsWorkingDay(c.id, d) }

func (l *Ledger) calendarOf(jurisdiction string) complaint.Calendar {
	switch jurisdiction {
	case "CN", "DE", "FR":
		return calendar{l.policies, jurisdiction}
	}
	return calendar{l.policies, policy.CalendarWeekends}
}

// ComplaintInput is a supplier's complaint.
type ComplaintInput struct {
	Complainant        PartyRef
	Debtor             PartyRef
	ReceivingRegulator PartyRef // optional: default the most specific regulator covering the debtor
	Invoices           []uuid.UUID
	Claims             []uuid.UUID
	Summary            string
	Problems           ledger.ValidationError
	Idem               Idempotency
}

// MaxComplaintDebts bounds the invoices, and apart the claims, one
// complaint names: each is read when it is filed and whenever its plan is
// checked, and the complaint is kept as one document.
const MaxComplaintDebts = 1000

// dupes refuses an id named twice in a list.
func dupes(v *ledger.ValidationError, field string, ids []uuid.UUID) {
	seen := make(map[uuid.UUID]int, len(ids))
	for i, id := range ids {
		if id == uuid.Nil {
			continue // a name that did not parse, refused as such
		}
		if j, ok := seen[id]; ok {
			v.Add(fmt.Sprintf("%s[%d]", field, i), "names the same as %s[%d]", field, j)
			continue
		}
		seen[id] = i
	}
}

// FileComplaint files a complaint against a debtor about some of its
// invoices or claims, with the regulator that receives it.
func (l *Ledger) FileComplaint(ctx context.Context, in ComplaintInput) (*complaint.Complaint, error) {
	now := l.now()
	var out *complaint.Complaint
	err := l.store.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
		if id, ok, err := replay(ctx, tx, in.Idem); err != nil || ok {
			if err == nil {
				// Seen as a read would see it: a portal whose authority was
				// revoked since does not get the complaint back.
				if out, err = visibleComplaint(ctx, tx, id); errors.Is(err, ledger.ErrNotFound) {
					err = fmt.Errorf("%w: the complaint is not one this key may see", ledger.ErrPermissionDenied)
				}
			}
			return err
		}
		v := in.Problems
		complainant, err := lookupParty(ctx, tx, &v, "complaint.complainant", in.Complainant)
		if err != nil {
			return err
		}
		debtor, err := lookupParty(ctx, tx, &v, "complaint.debtor", in.Debtor)
		if err != nil {
			return err
		}
		checkReason(&v, "complaint.summary", in.Summary)
		switch {
		case len(in.Invoices)+len(in.Claims) == 0:
			v.Add("complaint.invoices", "name at least one invoice or claim the complaint is about")
		case len(in.Invoices) > MaxComplaintDebts:
			v.Add("complaint.invoices", "names %d invoices, at most %d are allowed: file several complaints", len(in.Invoices), MaxComplaintDebts)
		case len(in.Claims) > MaxComplaintDebts:
			v.Add("complaint.claims", "names %d claims, at most %d are allowed: file several complaints", len(in.Claims), MaxComplaintDebts)
		default:
			dupes(&v, "complaint.invoices", in.Invoices)
			dupes(&v, "complaint.claims", in.Claims)
		}
		if err := v.Err(); err != nil {
			return err
		}
		if ok, err := actsForCreditor(ctx, tx, complainant.ID); err != nil || !ok {
			if err == nil {
				err = fmt.Errorf("%w: complaint.complainant is not a supplier this key speaks for", ledger.ErrPermissionDenied)
			}
			return err
		}
		currency := ""
		for i, id := range in.Invoices {
			inv, err := tx.GetInvoice(ctx, id)
			if errors.Is(err, ledger.ErrNotFound) || (err == nil && (inv.DebtorID != debtor.ID || inv.CreditorID != complainant.ID)) {
				v.Add(fmt.Sprintf("complaint.invoices[%d]", i), "is not an invoice of this debtor to this supplier")
				continue
			} else if err != nil {
				return err
			}
			if currency != "" && inv.Amount.Currency != currency {
				v.Add(fmt.Sprintf("complaint.invoices[%d]", i), "is in %s while the complaint is about %s debts: file one complaint per currency", inv.Amount.Currency, currency)
			}
			currency = inv.Amount.Currency
		}
		for i, id := range in.Claims {
			c, err := tx.GetClaim(ctx, id)
			if errors.Is(err, ledger.ErrNotFound) || (err == nil && (c.Debtor != debtor.ID || c.Creditor != complainant.ID)) {
				v.Add(fmt.Sprintf("complaint.claims[%d]", i), "is not a claim of this supplier against this debtor")
				continue
			} else if err != nil {
				return err
			}
			if currency != "" && c.Currency != currency {
				v.Add(fmt.Sprintf("complaint.claims[%d]", i), "is in %s while the complaint is about %s debts: file one complaint per currency", c.Currency, currency)
			}
			currency = c.Currency
		}
		// Only a complaint about this supplier's own debts with the debtor
		// goes on to choose a regulator: answered before that, the choice
		// would tell any supplier the region of any registered party.
		if err := v.Err(); err != nil {
			return err
		}
		receiver, err := l.receivingRegulator(ctx, tx, &v, in.ReceivingRegulator, debtor)
		if err != nil {
			return err
		}
		if err := v.Err(); err != nil {
			return err
		}
		today := l.Today(now, debtor.Jurisdiction)
		c := &complaint.Complaint{ID: newID(), Complainant: complainant.ID, Debtor: debtor.ID, ReceivingRegulator: receiver.ID,
			Invoices: in.Invoices, Claims: in.Claims, Summary: in.Summary, State: complaint.Submitted, SubmittedOn: today,
			StateSince: today, Currency: currency, CreateTime: now, UpdateTime: now}
		c.NextCheck = l.nextCheck(c, debtor.Jurisdiction)
		if err := tx.CreateComplaint(ctx, c, partyChange(ctx, today, now, "FileComplaint")); err != nil {
			return err
		}
		if err := tx.AddComplaintEvent(ctx, &complaint.Event{ID: newID(), ComplaintID: c.ID, Kind: complaint.EventTransition,
			ToState: complaint.Submitted, Actor: actor(ctx), Comment: in.Summary, OccurredOn: today, RecordTime: now}, timelineChange(ctx, c, today, now, "FileComplaint")); err != nil {
			return err
		}
		out = c
		return remember(ctx, tx, in.Idem, c.ID, now)
	})
	return out, err
}

// receivingRegulator resolves the named regulator, or picks the most
// specific regulator party whose remit covers the debtor.
func (l *Ledger) receivingRegulator(ctx context.Context, tx store.Tx, v *ledger.ValidationError, ref PartyRef, debtor *ledger.Party) (*ledger.Party, error) {
	if debtor == nil {
		return nil, nil
	}
	if ref != (PartyRef{}) {
		r, err := lookupParty(ctx, tx, v, "complaint.receiving_regulator", ref)
		if err != nil || r == nil {
			return nil, err
		}
		if !r.Covers(debtor) {
			v.Add("complaint.receiving_regulator", "%s is not a regulator whose remit covers the debtor", ref)
		}
		return r, nil
	}
	var best *ledger.Party
	page := store.PartyQuery{Scope: auth.Scope{All: true}, Kind: []store.StringCond{{Op: store.OpEq, Value: string(ledger.KindRegulator)}},
		Jurisdiction: []store.StringCond{{Op: store.OpEq, Value: debtor.Jurisdiction}}}
	for r, err := range listed(&page.Page, func() ([]*ledger.Party, error) { return tx.ListParties(ctx, page) }, partyID) {
		if err != nil {
			return nil, err
		}
		if r.Covers(debtor) && (best == nil || len(r.RemitPrefix()) > len(best.RemitPrefix())) {
			best = r
		}
	}
	if best == nil {
		return nil, fmt.Errorf("%w: no regulator is registered for the debtor's region %s in %s", ledger.ErrFailedPrecondition, debtor.RegionCode, debtor.Jurisdiction)
	}
	return best, nil
}

// visibleComplaint reads a complaint the caller may see.
func visibleComplaint(ctx context.Context, r store.Reader, id uuid.UUID) (*complaint.Complaint, error) {
	c, err := r.GetComplaint(ctx, id)
	if err != nil {
		return nil, err
	}
	// A regulator sees the complaints it receives or handles wherever the
	// debtor is now, as ListComplaints lists them.
	if regs := scope(ctx).Regulators; contains(regs, c.ReceivingRegulator) || contains(regs, c.HandlingRegulator) {
		return c, nil
	}
	if ok, err := sees(ctx, r, c.Debtor, c.Complainant); err != nil || !ok {
		if err == nil {
			err = ledger.ErrNotFound
		}
		return nil, err
	}
	return c, nil
}

// ComplaintView is a complaint with its current deadline.
type ComplaintView struct {
	Complaint *complaint.Complaint
	Deadline  complaint.Deadline
	Missed    bool
}

func (l *Ledger) view(ctx context.Context, r store.Reader, c *complaint.Complaint, now time.Time) (*ComplaintView, error) {
	debtor, err := r.GetParty(ctx, c.Debtor)
	if err != nil {
		return nil, err
	}
	dl := complaint.CurrentDeadline(c, l.calendarOf(debtor.Jurisdiction))
	today := l.Today(now, debtor.Jurisdiction)
	return &ComplaintView{Complaint: c, Deadline: dl, Missed: !dl.Due.IsZero() && dl.Due.Before(today)}, nil
}

// GetComplaint returns a complaint with its deadline.
func (l *Ledger) GetComplaint(ctx context.Context, id uuid.UUID) (*ComplaintView, error) {
	c, err := visibleComplaint(ctx, l.store, id)
	if err != nil {
		return nil, err
	}
	return l.view(ctx, l.store, c, l.now())
}

// ListComplaints lists up to want complaints in the caller's scope after
// q.AfterID; missed, if not nil, keeps those whose current deadline has
// passed (true) or not (false). It returns the id to continue after (Nil
// at the end): so filtered, a page can come back short after a bounded
// scan, with a cursor, never ending the list early.
func (l *Ledger) ListComplaints(ctx context.Context, q store.SupplierQuery, missed *bool, want int) ([]*ComplaintView, uuid.UUID, error) {
	q.Scope = scope(ctx)
	now := l.now()
	var out []*ComplaintView
	scanned := 0
	for {
		q.Limit = want + 1
		if missed != nil {
			q.Limit = 200
		}
		cs, err := l.store.ListComplaints(ctx, q)
		if err != nil {
			return nil, uuid.Nil, err
		}
		for _, c := range cs {
			scanned++
			q.AfterID = c.ID
			v, err := l.view(ctx, l.store, c, now)
			if err != nil {
				return nil, uuid.Nil, err
			}
			if missed != nil && v.Missed != *missed {
				continue
			}
			if len(out) == want {
				// A further match exists: continue from the last returned.
				return out, out[len(out)-1].Complaint.ID, nil
			}
			out = append(out, v)
		}
		if len(cs) < q.Limit {
			return out, uuid.Nil, nil
		}
		if scanned >= maxJudgedScan {
			return out, q.AfterID, nil
		}
	}
}

// ListComplaintEvents is a complaint's timeline.
func (l *Ledger) ListComplaintEvents(ctx context.Context, id uuid.UUID, p store.Page) ([]*complaint.Event, error) {
	if _, err := visibleComplaint(ctx, l.store, id); err != nil {
		return nil, err
	}
	return l.store.ListComplaintEvents(ctx, id, p)
}

// actorsOn lists the caller's relations to a complaint.
func actorsOn(ctx context.Context, r store.Reader, c *complaint.Complaint) ([]complaint.Actor, error) {
	p := auth.FromContext(ctx)
	if p == nil {
		return nil, nil
	}
	if p.Role == auth.RoleAdmin {
		return []complaint.Actor{complaint.ByReceiver, complaint.ByHandler, complaint.ByDebtor, complaint.ByComplainant}, nil
	}
	var out []complaint.Actor
	if p.Role == auth.RoleRegulator && p.Acts(c.ReceivingRegulator) {
		out = append(out, complaint.ByReceiver)
	}
	if p.Role == auth.RoleRegulator && c.HandlingRegulator != uuid.Nil && p.Acts(c.HandlingRegulator) {
		out = append(out, complaint.ByHandler)
	}
	if p.Role == auth.RoleDebtor && p.Acts(c.Debtor) {
		out = append(out, complaint.ByDebtor)
	}
	ok, err := actsForCreditor(ctx, r, c.Complainant)
	if err != nil {
		return nil, err
	}
	if ok {
		out = append(out, complaint.ByComplainant)
	}
	return out, nil
}

// Transition is a request to move a complaint.
type Transition struct {
	Action            complaint.Action
	Comment           string
	HandlingRegulator PartyRef // FORWARD
	Outcome           complaint.Outcome
	Plan              []PlanInstalment // RESOLVE with PAYMENT_PLAN
	ExtendDays        int              // EXTEND
	Idem              Idempotency      // a retry with it changes nothing
}

// unasked refuses, by name, what a move carries that its action does not
// take. Dropped in silence, a payment plan sent with the outcome PAID
// looked recorded to the regulator who sent it, and no sweep ever watched
// its instalments.
func (tr Transition) unasked() error {
	var v ledger.ValidationError
	if tr.HandlingRegulator != (PartyRef{}) && tr.Action != complaint.Forward {
		v.Add("handling_regulator", "is for FORWARD only, not %s", tr.Action)
	}
	if tr.Outcome != "" && tr.Action != complaint.Resolve {
		v.Add("outcome", "is for RESOLVE only, not %s", tr.Action)
	}
	if len(tr.Plan) > 0 && (tr.Action != complaint.Resolve || tr.Outcome != complaint.OutcomePaymentPlan) {
		v.Add("payment_plan", "is for RESOLVE with the outcome PAYMENT_PLAN only")
	}
	if tr.ExtendDays != 0 && tr.Action != ExtendAction {
		v.Add("extend_days", "is for %s only, not %s", ExtendAction, tr.Action)
	}
	return v.Err()
}

// PlanInstalment is an instalment of a payment plan as a regulator agrees
// it: an amount in the complaint's currency due by a date.
type PlanInstalment struct {
	DueOn  civil.Date
	Amount money.Money
}

// MaxPlanInstalments bounds a payment plan: ten years of monthly
// instalments and more, and with each amount bounded too, the plan's
// running total stays far inside an int64.
const MaxPlanInstalments = 360

// maxPlanDays bounds how far ahead an instalment may fall due: thirty
// years, the instalments' count allowing monthly ones for that long.
const maxPlanDays = 30 * 366

// ExtendAction lengthens the handling deadline; it is not a state change.
const ExtendAction complaint.Action = "EXTEND_DEADLINE"

// MoveComplaint applies a transition, refusing with FAILED_PRECONDITION what
// the current state does not allow and with PERMISSION_DENIED what is not
// the caller's to do.
func (l *Ledger) MoveComplaint(ctx context.Context, id uuid.UUID, tr Transition, etag string) (*ComplaintView, error) {
	if err := optionalText("comment", tr.Comment); err != nil {
		return nil, err
	}
	if err := tr.unasked(); err != nil {
		return nil, err
	}
	now := l.now()
	var out *ComplaintView
	err := l.store.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
		c, err := visibleComplaint(ctx, tx, id)
		if err != nil {
			return err
		}
		now = notBefore(now, c.UpdateTime)
		// A retry answers the complaint as it stands (a move made since
		// included). Two at once: both change the complaint, the second's
		// write conflicts, and its rerun finds the first's key here.
		if moved, ok, err := replay(ctx, tx, tr.Idem); err != nil {
			return err
		} else if ok {
			if moved != c.ID {
				return fmt.Errorf("%w: request_id was already used for another complaint", ledger.ErrAlreadyExists)
			}
			out, err = l.view(ctx, tx, c, now)
			return err
		}
		if err := checkEtag(etag, c.Version); err != nil {
			return err
		}
		debtor, err := tx.GetParty(ctx, c.Debtor)
		if err != nil {
			return err
		}
		today := l.Today(now, debtor.Jurisdiction)
		actors, err := actorsOn(ctx, tx, c)
		if err != nil {
			return err
		}
		// A deadline that passed before the sweeper came by is flagged
		// first, dated the day after it as the sweeper would date it: a step
		// taken late then counts as late.
		var missed *complaint.Event
		if c.State.Open() {
			dl := complaint.CurrentDeadline(c, l.calendarOf(debtor.Jurisdiction))
			if !dl.Due.IsZero() && dl.Due.Before(today) && c.MissedDue != dl.Due {
				missed = &complaint.Event{ID: newID(), ComplaintID: c.ID, Kind: complaint.EventDeadlineMissed, FromState: c.State, ToState: c.State,
					Actor: "system", Comment: "deadline to " + dl.Step + " was " + dl.Due.String() + "; escalated", OccurredOn: dl.Due.AddDays(1), RecordTime: now}
				c.MissedDue = dl.Due
			}
		}
		from := c.State
		ev := &complaint.Event{ID: newID(), ComplaintID: c.ID, Kind: complaint.EventTransition, FromState: from,
			Actor: actor(ctx), Comment: tr.Comment, OccurredOn: today, RecordTime: now}
		if tr.Action == ExtendAction {
			// The state first: before forwarding there is no handler, and
			// the answer is the state's, whoever asks.
			if err := complaint.Extendable(c.State); err != nil {
				return machineErr(err)
			}
			if !contains(actors, complaint.ByHandler) {
				return fmt.Errorf("%w: the handling regulator extends the handling deadline", ledger.ErrPermissionDenied)
			}
			if strings.TrimSpace(tr.Comment) == "" {
				return ledger.Invalid("comment", "a reason is required to extend the deadline")
			}
			if err := complaint.Extend(c, l.calendarOf(debtor.Jurisdiction), today, tr.ExtendDays, strings.TrimSpace(tr.Comment)); err != nil {
				if errors.Is(err, complaint.ErrNotAllowed) {
					return machineErr(err)
				}
				return ledger.Invalid("extend_days", "%v", err)
			}
			ev.Kind, ev.ToState = complaint.EventExtended, c.State
		} else {
			to, err := complaint.Next(c.State, tr.Action, actors)
			if err != nil {
				return machineErr(err)
			}
			var v ledger.ValidationError
			switch tr.Action {
			case complaint.Reject:
				checkReason(&v, "comment", tr.Comment)
				c.RejectReason = tr.Comment
			case complaint.Forward:
				h, err := lookupParty(ctx, tx, &v, "handling_regulator", tr.HandlingRegulator)
				if err != nil {
					return err
				}
				if h != nil && !h.Covers(debtor) {
					v.Add("handling_regulator", "is not a regulator whose remit covers the debtor")
				}
				if h != nil {
					c.HandlingRegulator, c.HandlerReceivedOn = h.ID, today
				}
			case complaint.Resolve:
				if !tr.Outcome.Valid() {
					v.Add("outcome", "must be PAID, PAYMENT_PLAN or DISMISSED")
				}
				c.Outcome, ev.Outcome = tr.Outcome, tr.Outcome
				c.Plan, c.PlanAgreedOn, c.PlanAgreedAt = nil, civil.Date{}, time.Time{}
				if tr.Outcome == complaint.OutcomePaymentPlan {
					c.Plan, c.PlanAgreedOn, c.PlanAgreedAt = checkPlan(&v, tr.Plan, c.Currency, today), today, now
				}
			}
			if err := v.Err(); err != nil {
				return err
			}
			if tr.Action == complaint.Resolve && tr.Outcome == complaint.OutcomePaymentPlan {
				if err := planTrackable(ctx, tx, c); err != nil {
					return err
				}
			}
			c.State, c.StateSince = to, today
			// A deadline already flagged missed stays flagged while the
			// new state runs to the same deadline (handling runs from the
			// handler's receipt through FORWARDED, IN_HANDLING and
			// DEBTOR_RESPONDED): it was missed once, and is reported once.
			if complaint.CurrentDeadline(c, l.calendarOf(debtor.Jurisdiction)).Due != c.MissedDue {
				c.MissedDue = civil.Date{}
			}
			ev.ToState = to
		}
		c.UpdateTime = now
		c.NextCheck = l.nextCheck(c, debtor.Jurisdiction)
		if err := tx.UpdateComplaint(ctx, c, partyChange(ctx, today, now, "MoveComplaint")); err != nil {
			return err
		}
		if missed != nil {
			if err := tx.AddComplaintEvent(ctx, missed, timelineChange(ctx, c, today, now, "MoveComplaint")); err != nil {
				return err
			}
		}
		if err := tx.AddComplaintEvent(ctx, ev, timelineChange(ctx, c, today, now, "MoveComplaint")); err != nil {
			return err
		}
		if err := remember(ctx, tx, tr.Idem, c.ID, now); err != nil {
			return err
		}
		out, err = l.view(ctx, tx, c, now)
		return err
	})
	return out, err
}

// planTrackable refuses a payment plan the sweeper could never see met: the
// plan is paid through the complaint's invoices and its acknowledged claims'
// invoices, and a complaint with none (its claims disputed, withdrawn or
// unanswered) has nothing a payment could be recorded against. Nor may the
// instalments total more than those invoices still owe in the complaint's
// currency, as the ledger records it (a bill handed over counting as paid):
// payments beyond it are refused, and such a plan could only be missed.
func planTrackable(ctx context.Context, tx store.Tx, c *complaint.Complaint) error {
	ids, err := planInvoices(ctx, tx, c)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return fmt.Errorf("%w: the complaint names no invoice and no acknowledged claim, so payments against a plan could not be followed; "+
			"record the debt as an invoice and file a complaint naming it, or resolve otherwise", ledger.ErrFailedPrecondition)
	}
	invs, err := tx.InvoicesOf(ctx, ids)
	if err != nil {
		return err
	}
	var owed, total int64
	for _, inv := range invs {
		if inv.Amount.Currency == c.Currency {
			owed += inv.Outstanding()
		}
	}
	for _, in := range c.Plan {
		total += in.Amount
	}
	if total > owed {
		return ledger.Invalid("payment_plan", "the instalments total %s, more than the %s the complaint's invoices still owe: a plan settles the debt as the ledger records it",
			money.Money{Minor: total, Currency: c.Currency}, money.Money{Minor: owed, Currency: c.Currency})
	}
	return nil
}

// planInvoices lists the invoices a complaint's plan is paid through: those
// it names, and those its claims became when the debtor acknowledged them.
func planInvoices(ctx context.Context, r store.Reader, c *complaint.Complaint) ([]uuid.UUID, error) {
	ids := slices.Clone(c.Invoices)
	for _, id := range c.Claims {
		cl, err := r.GetClaim(ctx, id)
		if err != nil {
			return nil, err
		}
		if cl.Invoice != uuid.Nil {
			ids = append(ids, cl.Invoice)
		}
	}
	return ids, nil
}

// nextCheck is the next date on which the complaint changes by itself or a
// deadline passes; the sweeper looks at it then.
func (l *Ledger) nextCheck(c *complaint.Complaint, jurisdiction string) civil.Date {
	switch c.State {
	case complaint.Closed:
		return civil.Date{}
	case complaint.Resolved, complaint.Rejected, complaint.Withdrawn:
		if c.State == complaint.Resolved && c.Outcome == complaint.OutcomePaymentPlan && len(c.Plan) > 0 {
			// The day after the first instalment falls due; the sweeper
			// steps through the rest.
			return c.Plan[0].DueOn.AddDays(1)
		}
		return c.StateSince.AddDays(complaint.AutoCloseDays)
	}
	dl := complaint.CurrentDeadline(c, l.calendarOf(jurisdiction))
	if dl.Due.IsZero() || c.MissedDue == dl.Due {
		return civil.Date{}
	}
	return dl.Due.AddDays(1)
}

// checkPlan checks a payment plan's instalments, naming the request's
// fields, and returns them in date order.
func checkPlan(v *ledger.ValidationError, plan []PlanInstalment, currency string, today civil.Date) []complaint.Instalment {
	switch {
	case len(plan) == 0:
		v.Add("payment_plan", "a payment plan needs its instalments")
	case len(plan) > MaxPlanInstalments:
		v.Add("payment_plan", "at most %d instalments, got %d", MaxPlanInstalments, len(plan))
	}
	out := make([]complaint.Instalment, 0, len(plan))
	for i, in := range plan {
		f := fmt.Sprintf("payment_plan[%d].", i)
		ledger.ValidateAmount(v, f+"amount", in.Amount)
		if currency != "" && in.Amount.Currency != "" && in.Amount.Currency != currency {
			v.Add(f+"amount.currency_code", "is %s but the complaint is in %s", in.Amount.Currency, currency)
		}
		switch {
		case in.DueOn.IsZero() || in.DueOn.Before(today):
			v.Add(f+"due_on", "must be today or later")
		case in.DueOn.After(today.AddDays(maxPlanDays)):
			// A plan is a debt's settlement, not a lease; and the day
			// after its last instalment must still be a date.
			v.Add(f+"due_on", "%s is more than %d days after today (%s)", in.DueOn, maxPlanDays, today)
		}
		out = append(out, complaint.Instalment{DueOn: in.DueOn, Amount: in.Amount.Minor})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].DueOn.Before(out[j].DueOn) })
	return out
}
