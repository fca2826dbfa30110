package store

import (
	"testing"

	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/ledger"
)

// TestMatchStoredDates: the check the lists make on invoices changed since
// a known-at instant agrees with the stores' SQL: an invoice without a due
// date is on no day, so "!=" holds for it and the orderings do not.
func TestMatchStoredDates(t *testing.T) {
	day := civil.MustNew(2025, 1, 11)
	for _, tc := range []struct {
		op   Op
		due  civil.Date
		want bool
	}{
		{OpNe, civil.Date{}, true},
		{OpEq, civil.Date{}, false},
		{OpLt, civil.Date{}, false},
		{OpGe, civil.Date{}, false},
		{OpNe, day, false},
		{OpNe, day.AddDays(1), true},
		{OpLe, day, true},
	} {
		q := InvoiceQuery{DueDate: []DateCond{{Op: tc.op, Value: day}}}
		if got := q.MatchStored(&ledger.Invoice{DueDate: tc.due}); got != tc.want {
			t.Errorf("due %s %s %s: %v, want %v", tc.due, tc.op, day, got, tc.want)
		}
	}
}
