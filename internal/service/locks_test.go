package service_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/store"
)

// TestDebtorChangeAndInvoiceWritesTakeLocksInOneOrder: a debtor moving
// region (its row locked, then each of its invoices) while its invoices are
// paid (each invoice locked, its debtor's row shared) on PostgreSQL. Taken
// in opposite orders the two deadlocked, and the transaction PostgreSQL
// chose to abort was rerun: the writes all landed, so only the reruns tell.
// In one order, one waits for the other and nothing is rerun.
func TestDebtorChangeAndInvoiceWritesTakeLocksInOneOrder(t *testing.T) {
	f := newFixture(t, engines(t)["PostgreSQL"], d(2025, 9, 1))
	const n = 25
	var ids [n]ledger.Invoice
	for i := range ids {
		ids[i] = *f.invoice(t, fmt.Sprint("LOCK-ORDER-", i), d(2025, 7, 1))
	}
	var reruns atomic.Int64
	ctx := store.WithBeforeRetry(admin, func(context.Context) error {
		reruns.Add(1)
		return nil
	})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for k := range 8 {
			region := []string{"350102", "350100"}[k%2]
			if _, err := f.a.UpdateParty(ctx, f.debtor, &ledger.Party{RegionCode: region}, []string{"region_code"}, ""); err != nil {
				t.Errorf("move to %s: %v", region, err)
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := range ids {
			if _, _, err := f.b.RecordPayment(ctx, ids[i].ID, &ledger.Payment{Amount: 1000, Currency: "CNY", PaidOn: d(2025, 8, 1), Reference: fmt.Sprint("LOCK-ORDER-P", i)}); err != nil {
				t.Errorf("payment %d: %v", i, err)
			}
		}
	}()
	wg.Wait()
	if got := reruns.Load(); got != 0 {
		t.Errorf("%d transactions rerun: the two kinds of writer lock the debtor and its invoices in different orders", got)
	}
}
