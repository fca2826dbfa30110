package service_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/auth"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/store"
)

// TestFeedKeepsARecordsChangesInOrder: three transactions change one
// invoice within one millisecond (the clock stands still here, as a
// lagging replica's record time is pinned to the last change's): the feed
// gives the invoice's revisions in order. Ids ordered by the millisecond
// and then by place in the transaction put the payment's transaction's
// second event (revision 2) after the correction's first (revision 3).
func TestFeedKeepsARecordsChangesInOrder(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, open, d(2025, 9, 1))
			inv := f.invoice(t, "FEED-ORDER", d(2025, 7, 1))
			if _, _, err := f.a.RecordPayment(admin, inv.ID, &ledger.Payment{Amount: 100000, Currency: "CNY", PaidOn: d(2025, 8, 1), Reference: "FEED-P1"}); err != nil {
				t.Fatal(err)
			}
			if _, err := f.a.UpdateInvoice(admin, inv.ID, &ledger.Invoice{ContractRef: "HT-2"}, []string{"contract_ref"}, "", d(2025, 9, 1), ""); err != nil {
				t.Fatal(err)
			}
			evs, err := f.sb.ListEvents(admin, store.EventQuery{Scope: auth.Scope{All: true}, Until: f.clk.Now().Add(time.Hour), Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			var revs []int64
			for _, e := range evs {
				if e.ResourceID == inv.ID {
					revs = append(revs, e.Revision)
				}
			}
			if len(revs) != 3 || revs[0] != 1 || revs[1] != 2 || revs[2] != 3 {
				t.Errorf("the invoice's revisions in feed order: %v, want [1 2 3]", revs)
			}
		})
	}
}

// TestLaggingClockKeepsRecordTimesInOrder: a write on a replica whose
// clock runs behind (the fake clock set back here) is recorded no earlier
// than the record's last change, for a party, a claim and a complaint as
// for an invoice: a read as known at an instant between the two would
// otherwise see the later change without the earlier.
func TestLaggingClockKeepsRecordTimesInOrder(t *testing.T) {
	f := newFixture(t, engines(t)["SQLite"], d(2025, 9, 1))
	ahead := f.clk.Now()
	if _, err := f.a.UpdateParty(admin, f.creditor, &ledger.Party{DisplayName: "Renamed once"}, []string{"display_name"}, ""); err != nil {
		t.Fatal(err)
	}
	f.clk.Set(ahead.Add(-5 * time.Second))
	p, err := f.a.UpdateParty(admin, f.creditor, &ledger.Party{DisplayName: "Renamed twice"}, []string{"display_name"}, "")
	if err != nil {
		t.Fatal(err)
	}
	revs, err := f.a.ListRevisions(admin, ledger.ResourceParty, uuid.Nil, p.ID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(revs); i++ {
		if revs[i].RecordTime.Before(revs[i-1].RecordTime) {
			t.Errorf("party revision %d recorded at %s, before revision %d at %s", revs[i].Revision, revs[i].RecordTime, revs[i-1].Revision, revs[i-1].RecordTime)
		}
	}
}
