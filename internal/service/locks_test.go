package service_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/money"
	"github.com/arrears/arrears/internal/service"
	"github.com/arrears/arrears/internal/store"
)

// TestDebtorChangeAndInvoiceWritesTakeLocksInOneOrder: a debtor moving
// region (its row locked, then each of its invoices) while its invoices
// change on PostgreSQL: paid one by one, corrected by a bulk sync, and
// recounted by a summary rebuild. Taken in opposite orders the two
// deadlocked, and the transaction PostgreSQL chose to abort was rerun: the
// writes all landed, so only the reruns tell. In one order, one waits for
// the other and nothing is rerun.
func TestDebtorChangeAndInvoiceWritesTakeLocksInOneOrder(t *testing.T) {
	f := newFixture(t, engines(t)["PostgreSQL"], d(2025, 9, 1))
	const n = 25
	var ids [n]uuid.UUID
	for i := range ids {
		ids[i] = f.invoice(t, fmt.Sprint("LOCK-ORDER-", i), d(2025, 7, 1)).ID
	}
	var synced [n]service.SyncRecord
	for i := range synced {
		synced[i] = f.record(int64(i+1), fmt.Sprint("LOCK-SYNC-", i), 500000, 30)
	}
	f.created(t, "locks", synced[:]...)
	// The mover beside one kind of writer at a time: the mover and a
	// writer take turns on the debtor's row (and writers of one debtor on
	// its audit chain, TestWritersOfOneDebtorQueueOnItsChain).
	move := func(ctx context.Context, k int) error {
		_, err := f.a.UpdateParty(ctx, f.debtor, &ledger.Party{RegionCode: []string{"350102", "350100"}[k%2]}, []string{"region_code"}, "")
		return err
	}
	seq := int64(n)
	for _, w := range []struct {
		what  string
		write func(ctx context.Context, k int) error
	}{
		{"payment", func(ctx context.Context, k int) error {
			_, _, err := f.b.RecordPayment(ctx, ids[k], &ledger.Payment{Amount: 1000, Currency: "CNY", PaidOn: d(2025, 8, 1), Reference: fmt.Sprint("LOCK-ORDER-P", k)})
			return err
		}},
		{"sync correction", func(ctx context.Context, k int) error {
			// Known invoices only, each with a new amount: written in
			// bulk, then counted in the summaries.
			recs := make([]service.SyncRecord, 0, 5)
			for j := range 5 {
				seq++
				r := synced[(k*5+j)%n]
				inv := *r.Invoice
				inv.Amount.Minor = int64(400000 + k*1000 + j)
				r.Sequence, r.Invoice = seq, &inv
				recs = append(recs, r)
			}
			_, _, err := f.b.SyncChunk(ctx, f.debtor.ID, "locks", recs)
			return err
		}},
		{"summary rebuild", func(ctx context.Context, k int) error {
			if k%5 != 0 {
				return nil
			}
			_, err := f.b.RebuildSummaries(ctx)
			return err
		}},
	} {
		var reruns atomic.Int64
		ctx := store.WithBeforeRetry(admin, func(context.Context) error {
			reruns.Add(1)
			return nil
		})
		var wg sync.WaitGroup
		for what, write := range map[string]func(context.Context, int) error{"move": move, w.what: w.write} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range n {
					if err := write(ctx, k); err != nil {
						t.Errorf("%s %d: %v", what, k, err)
					}
				}
			}()
		}
		wg.Wait()
		if got := reruns.Load(); got != 0 {
			t.Errorf("region moves beside %s: %d transactions rerun; the two lock the debtor and its invoices in different orders", w.what, got)
		}
	}
}

// TestWritersOfOneDebtorQueueOnItsChain: on PostgreSQL, many writers of one
// debtor at once, through two servers, each append to the debtor's audit
// chain. They wait their turn at its head rather than read the same head,
// fail on (chain, seq) and rerun: with 32 at once a quarter of them ran out
// of reruns and answered ABORTED.
func TestWritersOfOneDebtorQueueOnItsChain(t *testing.T) {
	f := newFixture(t, engines(t)["PostgreSQL"], d(2025, 9, 1))
	var reruns atomic.Int64
	ctx := store.WithBeforeRetry(admin, func(context.Context) error {
		reruns.Add(1)
		return nil
	})
	const n = 32
	errs := make([]error, n)
	var wg sync.WaitGroup
	for k := range n {
		wg.Go(func() {
			l := f.a
			if k%2 == 1 {
				l = f.b
			}
			_, errs[k] = l.CreateInvoice(ctx, service.CreateInvoiceInput{Debtor: f.debtor, Creditor: f.creditor, Invoice: &ledger.Invoice{
				DocumentRef: fmt.Sprint("QUEUE-", k), Amount: money.Money{Minor: 100000, Currency: "CNY"}, ContractSignedOn: d(2025, 7, 1),
				DeliveredOn: d(2025, 7, 1), IssuedOn: d(2025, 7, 1)}})
		})
	}
	wg.Wait()
	for k, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", k, err)
		}
	}
	if r := reruns.Load(); r != 0 {
		t.Errorf("%d reruns; want none: writers of a chain queue on it", r)
	}
}

// TestConcurrentSyncChunksOfOneDebtorDoNotDeadlock: on PostgreSQL, chunks
// of one debtor sent at once by several clients (no session), each
// correcting and paying the same invoices in its own order. Their bulk
// update locked rows in the order of its join, the records taken one by
// one in the chunk's order: the chunks deadlocked, and after PostgreSQL
// broke the deadlocks again and again a batch of ten records answered
// ABORTED or ran past its time limit. Each chunk now locks the invoices it
// will change in one order, before changing any.
func TestConcurrentSyncChunksOfOneDebtorDoNotDeadlock(t *testing.T) {
	f := newFixture(t, engines(t)["PostgreSQL"], d(2025, 9, 1))
	const n = 10
	var base [n]service.SyncRecord
	for i := range base {
		base[i] = f.record(0, fmt.Sprint("DEADLOCK-", i), 500000, 30)
	}
	f.created(t, "", base[:]...)
	var wg sync.WaitGroup
	var reruns atomic.Int64
	ctx := store.WithBeforeRetry(admin, func(context.Context) error {
		reruns.Add(1)
		return nil
	})
	for c := range 4 {
		wg.Go(func() {
			for round := range 5 {
				recs := make([]service.SyncRecord, n)
				for i := range recs {
					// Each client in its own order: rotated and, for odd
					// clients, reversed.
					k := (i + c*3) % n
					if c%2 == 1 {
						k = n - 1 - k
					}
					r := base[k]
					inv := *r.Invoice
					inv.Amount.Minor = int64(500000 + (round%2)*10000 + c)
					r.Invoice = &inv
					r.Payments = []service.SyncPayment{{Payment: ledger.Payment{Amount: 100, Currency: "CNY", PaidOn: d(2025, 8, 1),
						Reference: fmt.Sprintf("DEADLOCK-P-%d-%d-%d", c, round, k)}}}
					recs[i] = r
				}
				res, _, err := f.b.SyncChunk(ctx, f.debtor.ID, "", recs)
				if err != nil {
					t.Errorf("client %d round %d: %v", c, round, err)
					continue
				}
				for _, r := range res {
					if r.Outcome == service.SyncRejected {
						t.Errorf("client %d round %d: %s rejected: %v", c, round, r.DocumentRef, r.Violations)
					}
				}
			}
		})
	}
	wg.Wait()
	// Locked in one order, the chunks queue: a rerun is left only for a
	// change committed between a chunk's read and its lock. Deadlocked,
	// the 20 chunks reran about 40 times (and some ran out of reruns).
	if r := reruns.Load(); r > 10 {
		t.Errorf("%d reruns of 20 chunks; want the chunks to queue, not deadlock", r)
	}
}

// TestConcurrentSyncCorrectionsOfOneDebtorComeThrough: on PostgreSQL,
// chunks correcting the same invoices in bulk, sent side by side through
// two servers. A chunk reads the invoices, then queues for their locks
// while another commits: its version check fails and it runs again. The
// rerun read again unlocked, queued again, and lost again, until after its
// last rerun it answered ABORTED; a rerun now reads under the locks.
func TestConcurrentSyncCorrectionsOfOneDebtorComeThrough(t *testing.T) {
	f := newFixture(t, engines(t)["PostgreSQL"], d(2025, 9, 1))
	const n = 10
	var base [n]service.SyncRecord
	for i := range base {
		base[i] = f.record(0, fmt.Sprint("CORRECT-", i), 500000, 30)
	}
	f.created(t, "", base[:]...)
	var wg sync.WaitGroup
	for c := range 8 {
		wg.Go(func() {
			l := f.a
			if c%2 == 1 {
				l = f.b
			}
			for round := range 4 {
				recs := make([]service.SyncRecord, n)
				for i := range recs {
					r := base[i]
					inv := *r.Invoice
					inv.Amount.Minor = int64(500000 + round*100 + c + 1)
					r.Invoice = &inv
					recs[i] = r
				}
				res, _, err := l.SyncChunk(admin, f.debtor.ID, "", recs)
				if err != nil {
					t.Errorf("client %d round %d: %v", c, round, err)
					continue
				}
				for _, r := range res {
					if r.Outcome != service.SyncUpdated && r.Outcome != service.SyncUnchanged {
						t.Errorf("client %d round %d: %s %s %v", c, round, r.DocumentRef, r.Outcome, r.Violations)
					}
				}
			}
		})
	}
	wg.Wait()
}
