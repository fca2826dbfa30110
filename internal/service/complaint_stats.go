package service

import (
	"context"
	"fmt"
	"math"
	"sort"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/complaint"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/money"
	"github.com/arrears/arrears/internal/store"
)

// ComplaintCounts are the supplier-side figures of one group of debtors as
// of a date: complaints received and how they stand, and claims the debtors
// have not confirmed, apart from confirmed debts.
type ComplaintCounts struct {
	Group             string
	Received          int
	Open              int
	InTime            int
	Late              int
	ResolvedPaid      int
	ResolvedPlan      int
	Dismissed         int
	Rejected          int
	Withdrawn         int
	Closed            int
	UnconfirmedClaims int
	// UnconfirmedAmounts totals unanswered claims per currency, never across.
	UnconfirmedAmounts map[string]int64
	DisputedClaims     int
	// ContestedRecords counts debtor records the suppliers contest and the
	// two sides had not settled as of the date.
	ContestedRecords int
}

// Group-by choices for ComplaintStatistics.
const (
	ByDebtorGroup = "DEBTOR"
	ByRegionGroup = "REGION"
)

// ComplaintStatistics counts, for the complaints and claims the caller may
// see, what stood as of asOf (by the dates events happened), grouped by
// debtor or by the debtor's region code (cut to regionDigits characters when
// positive: 2 for a Chinese province, 4 for a city).
func (l *Ledger) ComplaintStatistics(ctx context.Context, asOf civil.Date, groupBy string, regionDigits int) ([]*ComplaintCounts, error) {
	groups := map[string]*ComplaintCounts{}
	parties := map[uuid.UUID]*ledger.Party{}
	partyOf := func(id uuid.UUID) (*ledger.Party, error) {
		p, ok := parties[id]
		if !ok {
			var err error
			if p, err = l.store.GetParty(ctx, id); err != nil {
				return nil, err
			}
			parties[id] = p
		}
		return p, nil
	}
	groupOf := func(debtorID uuid.UUID) (*ComplaintCounts, error) {
		p, err := partyOf(debtorID)
		if err != nil {
			return nil, err
		}
		key := "parties/" + p.ID.String()
		if groupBy == ByRegionGroup {
			key = p.RegionCode
			if regionDigits > 0 && len(key) > regionDigits {
				key = key[:regionDigits]
			}
		}
		g, ok := groups[key]
		if !ok {
			g = &ComplaintCounts{Group: key, UnconfirmedAmounts: map[string]int64{}}
			groups[key] = g
		}
		return g, nil
	}

	// The figures count by the remit alone, claims and contests as
	// complaints: a regulator's own complaints of a debtor that has moved
	// out of its remit (which it still reads one by one) would otherwise
	// make a group of a region it does not see.
	remit := scope(ctx)
	remit.Regulators = nil
	q := store.SupplierQuery{Scope: remit}
	for c, err := range listed(&q.Page, func() ([]*complaint.Complaint, error) { return l.store.ListComplaints(ctx, q) }, complaintID) {
		if err != nil {
			return nil, err
		}
		if c.SubmittedOn.After(asOf) {
			continue
		}
		evs, err := l.store.ListComplaintEvents(ctx, c.ID, store.Page{Limit: 10000})
		if err != nil {
			return nil, err
		}
		g, err := groupOf(c.Debtor)
		if err != nil {
			return nil, err
		}
		g.Received++
		state, late, closed := complaint.Submitted, false, false
		var outcome complaint.Outcome
		for _, e := range evs {
			if e.OccurredOn.After(asOf) {
				continue
			}
			switch e.Kind {
			case complaint.EventTransition:
				if e.ToState == complaint.Closed {
					// Closing shuts the file; the complaint still
					// counts by how it ended.
					closed = true
					continue
				}
				state = e.ToState
				if state == complaint.Resolved {
					// The resolution's own outcome; events recorded
					// before it was kept have only the latest.
					if outcome = e.Outcome; outcome == "" {
						outcome = c.Outcome
					}
				}
			case complaint.EventDeadlineMissed:
				late = true
			}
		}
		if late {
			g.Late++
		} else {
			g.InTime++
		}
		switch {
		case state.Open():
			g.Open++
		case state == complaint.Resolved && outcome == complaint.OutcomePaid:
			g.ResolvedPaid++
		case state == complaint.Resolved && outcome == complaint.OutcomePaymentPlan:
			g.ResolvedPlan++
		case state == complaint.Resolved:
			g.Dismissed++
		case state == complaint.Rejected:
			g.Rejected++
		case state == complaint.Withdrawn:
			g.Withdrawn++
		}
		if closed {
			g.Closed++
		}
	}

	cq := store.SupplierQuery{Scope: scope(ctx)}
	for c, err := range listed(&cq.Page, func() ([]*complaint.Claim, error) { return l.store.ListClaims(ctx, cq) }, claimID) {
		if err != nil {
			return nil, err
		}
		if c.SubmittedOn.After(asOf) {
			continue
		}
		answered := c.State != complaint.ClaimSubmitted && !c.AnsweredOn.After(asOf)
		if answered && c.State != complaint.ClaimDisputed {
			continue
		}
		g, err := groupOf(c.Debtor)
		if err != nil {
			return nil, err
		}
		if answered {
			g.DisputedClaims++
			continue
		}
		g.UnconfirmedClaims++
		if err := g.addUnconfirmed(c.Currency, c.Amount); err != nil {
			return nil, err
		}
	}
	tq := store.SupplierQuery{Scope: scope(ctx)}
	for c, err := range listed(&tq.Page, func() ([]*complaint.Contest, error) { return l.store.ListContests(ctx, tq) }, contestID) {
		if err != nil {
			return nil, err
		}
		// The day it was settled, in the debtor's jurisdiction, where
		// as_of and the contest's own dates are counted.
		debtor, err := partyOf(c.Debtor)
		if err != nil {
			return nil, err
		}
		settledBy := civil.DateOf(c.UpdateTime, l.location(debtor.Jurisdiction))
		if c.OpenedOn.After(asOf) || (!c.Disagreed() && !settledBy.After(asOf)) {
			continue
		}
		g, err := groupOf(c.Debtor)
		if err != nil {
			return nil, err
		}
		g.ContestedRecords++
	}
	out := make([]*ComplaintCounts, 0, len(groups))
	for _, g := range groups {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Group < out[j].Group })
	return out, nil
}

// addUnconfirmed adds a claim's amount to the group's total in its
// currency. Each claim is bounded, not how many a group has: a total past
// the int64 range is refused, as the overdue summary refuses one, not
// wrapped to a negative figure.
func (g *ComplaintCounts) addUnconfirmed(currency string, amount int64) error {
	total, ok := money.AddMinor(g.UnconfirmedAmounts[currency], amount)
	if !ok {
		return fmt.Errorf("%w: the unconfirmed claims of group %s total beyond %d minor units of %s; group them more narrowly",
			ledger.ErrFailedPrecondition, g.Group, int64(math.MaxInt64), currency)
	}
	g.UnconfirmedAmounts[currency] = total
	return nil
}
