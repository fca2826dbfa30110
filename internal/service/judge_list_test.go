package service_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/store"
)

// TestListFiltersStoredFieldsAsShown: a list as known at an earlier instant
// shows each invoice as it then stood, and its filters on stored fields
// (status, due date) select on that, not on the row as it stands now.
func TestListFiltersStoredFieldsAsShown(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, open, d(2025, 9, 1))
			paid := f.invoice(t, "SHOWN-PAID", d(2025, 7, 1))
			moved := f.invoice(t, "SHOWN-MOVED", d(2025, 7, 1))
			before := f.clk.Now()
			f.clk.Advance(time.Hour)
			if _, _, err := f.a.RecordPayment(admin, paid.ID, &ledger.Payment{Amount: paid.Amount.Minor, Currency: "CNY",
				PaidOn: d(2025, 8, 20), Reference: "SHOWN-P1"}); err != nil {
				t.Fatal(err)
			}
			cur, err := f.a.UpdateInvoice(admin, moved.ID, &ledger.Invoice{AgreedTermDays: 60}, []string{"agreed_term_days"}, "", civil.Date{}, "")
			if err != nil {
				t.Fatal(err)
			}
			if cur.DueDate == moved.DueDate {
				t.Fatalf("the correction left the due date at %s", cur.DueDate)
			}

			list := func(q store.InvoiceQuery, asOf civil.Date, knownAt time.Time) []uuid.UUID {
				t.Helper()
				q.DebtorID = f.debtor.ID
				js, _, err := f.a.ListJudged(admin, q, 10, asOf, knownAt, nil)
				if err != nil {
					t.Fatal(err)
				}
				var ids []uuid.UUID
				for _, j := range js {
					ids = append(ids, j.Invoice.ID)
				}
				return ids
			}
			status := func(s ledger.InvoiceStatus) store.InvoiceQuery {
				return store.InvoiceQuery{Status: []store.StringCond{{Op: store.OpEq, Value: string(s)}}}
			}
			due := func(day civil.Date) store.InvoiceQuery {
				return store.InvoiceQuery{DueDate: []store.DateCond{{Op: store.OpEq, Value: day}}}
			}
			for _, tc := range []struct {
				desc    string
				q       store.InvoiceQuery
				asOf    civil.Date
				knownAt time.Time
				want    []uuid.UUID
			}{
				{"settled now", status(ledger.StatusSettled), civil.Date{}, time.Time{}, []uuid.UUID{paid.ID}},
				{"settled, known before the payment", status(ledger.StatusSettled), civil.Date{}, before, nil},
				{"open, known before the payment", status(ledger.StatusOpen), civil.Date{}, before, []uuid.UUID{paid.ID, moved.ID}},
				{"open now", status(ledger.StatusOpen), civil.Date{}, time.Time{}, []uuid.UUID{moved.ID}},
				{"first due date, known before the correction", due(moved.DueDate), civil.Date{}, before, []uuid.UUID{paid.ID, moved.ID}},
				{"corrected due date, known before the correction", due(cur.DueDate), civil.Date{}, before, nil},
				{"corrected due date now", due(cur.DueDate), civil.Date{}, time.Time{}, []uuid.UUID{moved.ID}},
				{"first due date now", due(moved.DueDate), civil.Date{}, time.Time{}, []uuid.UUID{paid.ID}},
				{"open and first due date, known before", store.InvoiceQuery{Status: status(ledger.StatusOpen).Status, DueDate: due(moved.DueDate).DueDate},
					civil.Date{}, before, []uuid.UUID{paid.ID, moved.ID}},
			} {
				got := list(tc.q, tc.asOf, tc.knownAt)
				if !sameIDs(got, tc.want) {
					t.Errorf("%s: listed %v, want %v", tc.desc, got, tc.want)
				}
			}
			// Read by a replica whose clock is an hour behind the one that
			// wrote the payment and the correction: with no known_at, the
			// list is as known at its own now, and selects on that too.
			f.clk.Set(before)
			if got := list(status(ledger.StatusOpen), civil.Date{}, time.Time{}); !sameIDs(got, []uuid.UUID{paid.ID, moved.ID}) {
				t.Errorf("open, now on a clock behind the writer's: listed %v, want both", got)
			}
			if got := list(status(ledger.StatusSettled), civil.Date{}, time.Time{}); len(got) != 0 {
				t.Errorf("settled, now on a clock behind the writer's: listed %v, want none", got)
			}
		})
	}
}

func sameIDs(a, b []uuid.UUID) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[uuid.UUID]bool{}
	for _, id := range a {
		seen[id] = true
	}
	for _, id := range b {
		if !seen[id] {
			return false
		}
	}
	return true
}
