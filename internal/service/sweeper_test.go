package service_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/auth"
	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/clock"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/money"
	"github.com/arrears/arrears/internal/policy"
	"github.com/arrears/arrears/internal/regid"
	"github.com/arrears/arrears/internal/service"
	"github.com/arrears/arrears/internal/store"
	"github.com/arrears/arrears/internal/store/pgtest"
	"github.com/arrears/arrears/internal/store/postgres"
	"github.com/arrears/arrears/internal/store/sqlite"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

var quiet = slog.New(slog.DiscardHandler)

// replicas opens two independent handles on one database, as two arrearsd
// replicas would have, for each engine.
func engines(t *testing.T) map[string]func(t *testing.T) (store.Store, store.Store) {
	return map[string]func(t *testing.T) (store.Store, store.Store){
		"SQLite": func(t *testing.T) (store.Store, store.Store) {
			path := filepath.Join(t.TempDir(), "ledger.db")
			a, err := sqlite.Open(context.Background(), path, quiet, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			b, err := sqlite.Open(context.Background(), path, quiet, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { a.Close(); b.Close() })
			return a, b
		},
		"PostgreSQL": func(t *testing.T) (store.Store, store.Store) {
			url := pgtest.URL(t)
			a, err := postgres.Open(context.Background(), url, quiet)
			if err != nil {
				t.Fatal(err)
			}
			b, err := postgres.Open(context.Background(), url, quiet)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { a.Close(); b.Close() })
			return a, b
		},
	}
}

var admin = auth.WithPrincipal(context.Background(), service.System)

func d(y, m, day int) civil.Date { return civil.MustNew(y, time.Month(m), day) }

// noonShanghai is the instant of noon on a civil date in Shanghai.
func noonShanghai(day civil.Date) time.Time {
	return time.Date(day.Year, day.Month, day.Day, 4, 0, 0, 0, time.UTC)
}

func uscc(t *testing.T, body string) string {
	c, err := regid.CompleteUSCC(body)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type fixture struct {
	a, b     *service.Ledger
	sb       store.Store // b's handle
	clk      *clock.Fake
	debtor   service.PartyRef
	creditor service.PartyRef
}

func newFixture(t *testing.T, open func(t *testing.T) (store.Store, store.Store), start civil.Date) *fixture {
	sa, sb := open(t)
	reg, err := policy.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{clk: clock.NewFake(noonShanghai(start)), sb: sb}
	f.a, f.b = service.New(sa, f.clk, reg, quiet), service.New(sb, f.clk, reg, quiet)
	dp, err := f.a.CreateParty(admin, &ledger.Party{DisplayName: "Buyer", Kind: ledger.KindLargeEnterprise, Jurisdiction: "CN",
		RegistrationID: uscc(t, "91350100MA2TWE001"), RegionCode: "350100"}, service.Idempotency{})
	if err != nil {
		t.Fatal(err)
	}
	cp, err := f.a.CreateParty(admin, &ledger.Party{DisplayName: "Supplier", Kind: ledger.KindSME, SizeClass: ledger.SizeSmall,
		Jurisdiction: "CN", RegistrationID: uscc(t, "92350102MA0TWE002"), RegionCode: "350102"}, service.Idempotency{})
	if err != nil {
		t.Fatal(err)
	}
	f.debtor, f.creditor = service.PartyRef{ID: dp.ID}, service.PartyRef{ID: cp.ID}
	return f
}

// regulator registers the Fujian SME office, a regulator whose remit
// covers the fixture's parties.
func (f *fixture) regulator(t *testing.T) *ledger.Party {
	t.Helper()
	reg, err := f.a.CreateParty(admin, &ledger.Party{DisplayName: "Fujian SME office", Kind: ledger.KindRegulator, Jurisdiction: "CN",
		RegistrationID: uscc(t, "11350000MB0TWE009"), RegionCode: "350000"}, service.Idempotency{})
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// invoice records a CNY 100,000.00 invoice delivered on delivered with a
// 30-day term.
func (f *fixture) invoice(t *testing.T, ref string, delivered civil.Date) *ledger.Invoice {
	inv, err := f.a.CreateInvoice(admin, service.CreateInvoiceInput{Debtor: f.debtor, Creditor: f.creditor, Invoice: &ledger.Invoice{
		DocumentRef: ref, Amount: money.Money{Minor: 10000000, Currency: "CNY"}, ContractSignedOn: delivered.AddDays(-10),
		DeliveredOn: delivered, IssuedOn: delivered, AgreedTermDays: 30}})
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// sweepBoth runs both replicas' sweepers at once.
func (f *fixture) sweepBoth(t *testing.T) {
	var wg sync.WaitGroup
	for _, s := range []*service.Ledger{f.a, f.b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Sweep(context.Background()); err != nil {
				t.Errorf("sweep: %v", err)
			}
		}()
	}
	wg.Wait()
}

type ev struct {
	Kind     string
	From, To int
	On       string
}

func events(t *testing.T, s *service.Ledger, inv *ledger.Invoice) []ev {
	es, err := s.ListEscalationEvents(admin, inv.ID, store.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	out := []ev{}
	for _, e := range es {
		out = append(out, ev{e.Kind, e.FromLevel, e.ToLevel, e.ChangedOn.String()})
	}
	return out
}

// The default ladder: 1 OVERDUE from the first day overdue, then 30, 60 and
// 90 days overdue. Delivered 2025-07-01 + 30 days: due 2025-07-31, overdue
// from 2025-08-01 (day 1); day 30 is 2025-08-30, day 60 2025-09-29, day 90
// 2025-10-29.
var ladderFromJuly = []ev{
	{"CHANGED", 0, 1, "2025-08-01"},
	{"CHANGED", 1, 2, "2025-08-30"},
	{"CHANGED", 2, 3, "2025-09-29"},
	{"CHANGED", 3, 4, "2025-10-29"},
}

// ladderFrom is the default ladder of an invoice due on due:
// ladderFromJuly moved to that day.
func ladderFrom(due civil.Date) []ev {
	out := make([]ev, len(ladderFromJuly))
	for i, e := range ladderFromJuly {
		e.On = due.AddDays([]int{1, 30, 60, 90}[i]).String()
		out[i] = e
	}
	return out
}

// TestSweeperRecordsEachChangeOnceAcrossReplicas sweeps invoices whose
// levels change on different days with both replicas at once, day by day:
// batches race, and every change is recorded once. The race is
// PostgreSQL's: SQLite's writers take turns (IMMEDIATE transactions), so
// the second always finds the first's rows moved on.
func TestSweeperRecordsEachChangeOnceAcrossReplicas(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, open, d(2025, 7, 1))
			daily := f.invoice(t, "SW-DAILY", d(2025, 7, 1))
			var others []*ledger.Invoice
			// Due on Wednesdays and Thursdays (working days, as ladderFrom
			// needs) of July.
			for k := range 4 {
				others = append(others, f.invoice(t, fmt.Sprintf("SW-WED-%d", k), d(2025, 6, 2).AddDays(7*k)),
					f.invoice(t, fmt.Sprintf("SW-THU-%d", k), d(2025, 6, 3).AddDays(7*k)))
			}
			// Day by day for five months, both replicas sweeping at once.
			for day := d(2025, 7, 1); !day.After(d(2025, 12, 1)); day = day.AddDays(1) {
				f.clk.Set(noonShanghai(day))
				f.sweepBoth(t)
			}
			if diff := cmp.Diff(ladderFromJuly, events(t, f.a, daily)); diff != "" {
				t.Errorf("daily sweeps (-want +got):\n%s", diff)
			}
			for _, inv := range others {
				if diff := cmp.Diff(ladderFrom(inv.DueDate), events(t, f.a, inv)); diff != "" {
					t.Errorf("%s (-want +got):\n%s", inv.DocumentRef, diff)
				}
			}
			// Sweeping again changes nothing.
			f.sweepBoth(t)
			if got := events(t, f.b, daily); len(got) != len(ladderFromJuly) {
				t.Errorf("a repeated sweep recorded %d events, want %d", len(got), len(ladderFromJuly))
			}
		})
	}
}

// TestSweepAfterBulkLoadOfOverdueInvoices syncs more overdue invoices than
// one sweep batch holds: one sweep records every level each has passed.
func TestSweepAfterBulkLoadOfOverdueInvoices(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, open, d(2025, 7, 1))
			const n = 450
			recs := make([]service.SyncRecord, n)
			for i := range recs {
				delivered := d(2025, 3, 1).AddDays(i % 3)
				recs[i] = service.SyncRecord{Sequence: int64(i + 1), Creditor: f.creditor, Invoice: &ledger.Invoice{
					DocumentRef: fmt.Sprintf("LOAD-%d", i), Amount: money.Money{Minor: 10000000, Currency: "CNY"},
					ContractSignedOn: delivered.AddDays(-10), DeliveredOn: delivered, IssuedOn: delivered, AgreedTermDays: 30}}
			}
			res, _, err := f.a.SyncChunk(admin, f.debtor.ID, "load", recs)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := f.a.Sweep(admin); err != nil || got != n {
				t.Fatalf("sweep: %d invoices, %v; want %d", got, err, n)
			}
			ids := make([]uuid.UUID, n)
			for i, r := range res {
				ids[i] = r.InvoiceID
			}
			hist, err := f.sb.EscalationEventsOf(admin, ids)
			if err != nil {
				t.Fatal(err)
			}
			invs, err := f.sb.InvoicesOf(admin, ids)
			if err != nil {
				t.Fatal(err)
			}
			for i, id := range ids {
				var got []ev
				for _, e := range hist[id] {
					got = append(got, ev{e.Kind, e.FromLevel, e.ToLevel, e.ChangedOn.String()})
				}
				if diff := cmp.Diff(ladderFrom(invs[id].DueDate), got); diff != "" {
					t.Fatalf("LOAD-%d (-want +got):\n%s", i, diff)
				}
			}
			if got, err := f.b.Sweep(admin); err != nil || got != 0 {
				t.Errorf("a second sweep re-judged %d invoices (%v), want 0", got, err)
			}
		})
	}
}

func TestSweeperAfterDowntimeDatesEveryLevel(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, open, d(2025, 7, 1))
			inv := f.invoice(t, "SW-DOWN", d(2025, 7, 1))
			f.sweepBoth(t) // day 0: nothing yet
			f.clk.Set(noonShanghai(d(2025, 12, 15)))
			n, err := f.a.Sweep(context.Background())
			if err != nil || n != 1 {
				t.Fatalf("one sweep after downtime: %d invoices, %v", n, err)
			}
			if diff := cmp.Diff(ladderFromJuly, events(t, f.a, inv)); diff != "" {
				t.Errorf("after downtime (-want +got):\n%s", diff)
			}
			// Nothing more is due: the sweeper reads no invoice until the
			// next change (there is none after the top of the ladder).
			if n, _ := f.b.Sweep(context.Background()); n != 0 {
				t.Errorf("a second sweep re-judged %d invoices, want 0", n)
			}
		})
	}
}

func TestBackdatedPaymentCorrectsRecordedEscalation(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, open, d(2025, 7, 1))
			inv := f.invoice(t, "SW-BACK", d(2025, 7, 1))
			f.clk.Set(noonShanghai(d(2025, 8, 5)))
			f.sweepBoth(t)
			if diff := cmp.Diff(ladderFromJuly[:1], events(t, f.a, inv)); diff != "" {
				t.Fatalf("before the payment (-want +got):\n%s", diff)
			}
			// The debtor now records that it paid in full on the due date.
			if _, _, err := f.a.RecordPayment(admin, inv.ID, &ledger.Payment{Amount: 10000000, Currency: "CNY",
				PaidOn: d(2025, 7, 31), Reference: "SW-BACK-P"}); err != nil {
				t.Fatal(err)
			}
			f.sweepBoth(t)
			got := events(t, f.a, inv)
			want := []ev{ladderFromJuly[0], {"CORRECTED", 0, 1, "2025-08-01"}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("after the backdated payment (-want +got):\n%s", diff)
			}
			// Months later nothing else happens to a settled debt.
			f.clk.Set(noonShanghai(d(2026, 3, 1)))
			f.sweepBoth(t)
			if diff := cmp.Diff(want, events(t, f.a, inv)); diff != "" {
				t.Errorf("months later (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFirstAdminKeyOnceAcrossReplicas starts two replicas on one empty
// database at once: exactly one writes the first admin key.
func TestFirstAdminKeyOnceAcrossReplicas(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			sa, sb := open(t)
			reg, err := policy.Embedded()
			if err != nil {
				t.Fatal(err)
			}
			clk := clock.NewFake(noonShanghai(d(2025, 7, 1)))
			replicas := []*service.Ledger{service.New(sa, clk, reg, quiet), service.New(sb, clk, reg, quiet)}
			tokens := make([]string, 2)
			errs := make([]error, 2)
			var wg sync.WaitGroup
			for i, l := range replicas {
				wg.Add(1)
				go func() {
					defer wg.Done()
					tokens[i], errs[i] = l.EnsureAdminKey(context.Background())
				}()
			}
			wg.Wait()
			if errs[0] != nil || errs[1] != nil {
				t.Fatalf("EnsureAdminKey: %v, %v", errs[0], errs[1])
			}
			if (tokens[0] == "") == (tokens[1] == "") {
				t.Errorf("tokens %q and %q: want exactly one", tokens[0], tokens[1])
			}
			if n, err := sa.CountKeys(context.Background()); err != nil || n != 1 {
				t.Errorf("keys = %d, %v; want 1", n, err)
			}
		})
	}
}

// TestNewInvoiceScheduledAsASweepWouldLeaveIt creates invoices due before,
// on and after today, one by one and in a bulk sync (some paid in full,
// some in part):
// only those already overdue wait for today's sweep; every other is
// written as a sweep run at once would leave it, and a sweep forced on it
// today finds nothing to record and leaves it as written.
func TestNewInvoiceScheduledAsASweepWouldLeaveIt(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			today := d(2025, 7, 1)
			f := newFixture(t, open, today)
			var invs []*ledger.Invoice
			overdue := 0
			var recs []service.SyncRecord
			for i, delivered := 0, today.AddDays(-75); !delivered.After(today); i, delivered = i+1, delivered.AddDays(3) {
				invs = append(invs, f.invoice(t, fmt.Sprintf("ONE-%d", i), delivered))
				r := service.SyncRecord{Sequence: int64(i + 1), Creditor: f.creditor, Invoice: &ledger.Invoice{
					DocumentRef: fmt.Sprintf("BULK-%d", i), Amount: money.Money{Minor: 10000000, Currency: "CNY"},
					ContractSignedOn: delivered.AddDays(-10), DeliveredOn: delivered, IssuedOn: delivered, AgreedTermDays: 30}}
				if i%2 == 0 { // paid in full, or a quarter
					r.Payments = []service.SyncPayment{{Payment: ledger.Payment{Reference: fmt.Sprintf("BULK-P-%d", i),
						Amount: 10000000 / int64(1+3*(i/2%2)), Currency: "CNY", PaidOn: delivered}}}
				}
				recs = append(recs, r)
				if delivered.AddDays(30).Before(today) {
					overdue += 2
				}
			}
			res, _, err := f.a.SyncChunk(admin, f.debtor.ID, "first-check", recs)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range res {
				if r.Outcome != service.SyncCreated {
					t.Fatalf("record %d: %+v", i, r)
				}
				inv, err := f.sb.GetInvoice(admin, r.InvoiceID)
				if err != nil {
					t.Fatal(err)
				}
				invs = append(invs, inv)
			}
			written := map[uuid.UUID]*ledger.Escalation{}
			for _, inv := range invs {
				e, err := f.sb.GetEscalation(admin, inv.ID)
				if err != nil {
					t.Fatal(err)
				}
				// Past its due date, even if paid: the sweeper walks the
				// days since (a paid one records nothing).
				late := inv.DueDate.Before(today)
				if late && (e.NextCheck != today || !e.CheckedOn.IsZero()) || !late && (e.CheckedOn != today || e.NextCheck == today) {
					t.Errorf("%s due %s: escalation %+v", inv.DocumentRef, inv.DueDate, e)
				}
				written[inv.ID] = e
			}
			if n, err := f.a.Sweep(admin); err != nil || n != overdue {
				t.Fatalf("today's sweep re-judged %d invoices (%v), want the %d overdue", n, err, overdue)
			}
			for _, inv := range invs {
				w := written[inv.ID]
				if w.NextCheck == today {
					continue // swept already
				}
				// Make the check due today and sweep: the sweep must leave
				// the row as it was written.
				err := f.sb.ReadWriteTx(admin, func(ctx context.Context, tx store.Tx) error {
					e, err := tx.GetEscalation(ctx, inv.ID)
					if err != nil {
						return err
					}
					e.NextCheck = today
					return tx.PutEscalation(ctx, e)
				})
				if err != nil {
					t.Fatal(err)
				}
				if n, err := f.b.Sweep(admin); err != nil || n != 1 {
					t.Fatalf("forced sweep of %s: %d, %v", inv.DocumentRef, n, err)
				}
				got, err := f.sb.GetEscalation(admin, inv.ID)
				if err != nil {
					t.Fatal(err)
				}
				if got.Level != w.Level || got.NextCheck != w.NextCheck || got.CheckedOn != w.CheckedOn {
					t.Errorf("%s due %s: written %+v, a sweep today leaves %+v", inv.DocumentRef, inv.DueDate, w, got)
				}
				if evs := events(t, f.a, inv); len(evs) != 0 {
					t.Errorf("%s: a sweep today recorded %v", inv.DocumentRef, evs)
				}
			}
		})
	}
}

// contendedStore is a real store whose transactions always lose the race
// for more than one escalation row at once, as a batch would whose
// invoices other writers keep moving, and for the hot invoice's row even
// alone.
type contendedStore struct {
	store.Store
	batches int
	hot     uuid.UUID
}

type contendedTx struct {
	store.Tx
	s *contendedStore
}

func (s *contendedStore) ReadWriteTx(ctx context.Context, f func(ctx context.Context, tx store.Tx) error) error {
	return s.Store.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
		return f(ctx, contendedTx{tx, s})
	})
}

func (t contendedTx) PutEscalations(ctx context.Context, es []*ledger.Escalation) error {
	if len(es) > 1 {
		t.s.batches++
		return ledger.ErrConflict
	}
	if len(es) == 1 && es[0].InvoiceID == t.s.hot {
		return ledger.ErrConflict
	}
	return t.Tx.PutEscalations(ctx, es)
}

// TestSweepBatchLosingRacesGoesOneByOne: a batch that keeps losing is
// swept again invoice by invoice, and each change is recorded once; an
// invoice that keeps losing alone is left for the next pass.
func TestSweepBatchLosingRacesGoesOneByOne(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, open, d(2025, 7, 1))
			var invs []*ledger.Invoice
			for k := range 3 {
				invs = append(invs, f.invoice(t, fmt.Sprintf("SW-RACE-%d", k), d(2025, 5, 5).AddDays(7*k)))
			}
			hot := f.invoice(t, "SW-HOT", d(2025, 5, 5))
			reg, err := policy.Embedded()
			if err != nil {
				t.Fatal(err)
			}
			cs := &contendedStore{Store: f.sb, hot: hot.ID}
			swept, err := service.New(cs, f.clk, reg, quiet).Sweep(admin)
			if err != nil || swept != len(invs) {
				t.Fatalf("sweep: %d invoices, %v; want %d", swept, err, len(invs))
			}
			if cs.batches == 0 {
				t.Fatal("the sweep never tried a batch")
			}
			if got := events(t, f.a, hot); len(got) != 0 {
				t.Errorf("the invoice that kept losing has events %v", got)
			}
			for _, inv := range invs {
				var want []ev
				for _, e := range ladderFrom(inv.DueDate) {
					if e.On <= "2025-07-01" {
						want = append(want, e)
					}
				}
				if diff := cmp.Diff(want, events(t, f.a, inv)); diff != "" {
					t.Errorf("%s (-want +got):\n%s", inv.DocumentRef, diff)
				}
			}
		})
	}
}

// TestSweepLoneInvoiceLosingRacesEndsNothing: a batch of one invoice that
// keeps losing (the last of a pass, or the only one due) is left for the
// next pass; the pass goes on to the complaints and reports no error.
func TestSweepLoneInvoiceLosingRacesEndsNothing(t *testing.T) {
	f := newFixture(t, engines(t)["SQLite"], d(2025, 7, 1))
	hot := f.invoice(t, "SW-LONE", d(2025, 5, 5))
	reg, err := policy.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	swept, err := service.New(&contendedStore{Store: f.sb, hot: hot.ID}, f.clk, reg, quiet).Sweep(admin)
	if err != nil || swept != 0 {
		t.Errorf("sweep: %d invoices, %v; want none and no error", swept, err)
	}
	if got := events(t, f.a, hot); len(got) != 0 {
		t.Errorf("the invoice that kept losing has events %v", got)
	}
}

// TestSweepSkipsInvoiceOfUnknownPolicy: an invoice judged under a policy
// this server lacks (written by a newer replica) is left alone, and the
// invoices due after it are still swept.
func TestSweepSkipsInvoiceOfUnknownPolicy(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, open, d(2025, 7, 1))
			known := f.invoice(t, "SW-KNOWN", d(2025, 5, 5))
			alien := *known
			alien.ID, alien.DocumentRef, alien.PolicyID = uuid.Must(uuid.NewV7()), "SW-ALIEN", "FROM-A-NEWER-RELEASE"
			err := f.sb.ReadWriteTx(admin, func(ctx context.Context, tx store.Tx) error {
				c := store.Change{RecordTime: f.clk.Now(), Method: "CreateInvoice", Actor: "test", Debtor: alien.DebtorID, Creditor: alien.CreditorID}
				if err := tx.CreateInvoice(ctx, &alien, c); err != nil {
					return err
				}
				// Due before the known one, so a pass meets it first.
				return tx.PutEscalation(ctx, &ledger.Escalation{InvoiceID: alien.ID, DebtorID: alien.DebtorID,
					CreditorID: alien.CreditorID, NextCheck: d(2025, 6, 1)})
			})
			if err != nil {
				t.Fatal(err)
			}
			if n, err := f.a.Sweep(admin); err != nil || n != 1 {
				t.Fatalf("sweep: %d invoices, %v; want the known one", n, err)
			}
			if got := events(t, f.a, known); len(got) == 0 {
				t.Error("the known invoice was not swept")
			}
			if e, err := f.sb.GetEscalation(admin, alien.ID); err != nil || e.Version != 1 || e.NextCheck != d(2025, 6, 1) {
				t.Errorf("the unknown policy's invoice was touched: %+v, %v", e, err)
			}
		})
	}
}

// TestRecordTimesNeverGoBack: a change made on a replica whose clock runs
// behind (or read its clock before another committed) is recorded no
// earlier than the invoice's last change, so reads as known at any time see
// changes in the order they were made.
func TestRecordTimesNeverGoBack(t *testing.T) {
	f := newFixture(t, engines(t)["SQLite"], d(2025, 9, 1))
	inv := f.invoice(t, "TB-1", d(2025, 7, 1))
	reg, err := policy.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	behind := service.New(f.sb, clock.NewFake(f.clk.Now().Add(-time.Minute)), reg, quiet)
	_, after, err := behind.RecordPayment(admin, inv.ID, &ledger.Payment{Amount: 100, Currency: "CNY", PaidOn: d(2025, 8, 1), Reference: "TB-P1"})
	if err != nil {
		t.Fatal(err)
	}
	if after.UpdateTime.Before(inv.UpdateTime) {
		t.Errorf("a payment from a clock a minute behind moved the invoice's update time back, %v to %v", inv.UpdateTime, after.UpdateTime)
	}
	revs, err := f.a.ListRevisions(admin, ledger.ResourceInvoice, uuid.Nil, inv.ID, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(revs); i++ {
		if revs[i].RecordTime.Before(revs[i-1].RecordTime) {
			t.Errorf("revision %d recorded at %v, before revision %d at %v", revs[i].Revision, revs[i].RecordTime, revs[i-1].Revision, revs[i-1].RecordTime)
		}
	}
}

// TestSweepBehindLeavesLaterDaysAlone: a replica whose day has not yet
// turned (or whose clock runs behind) neither corrects a change another
// recorded for the day after its today, nor stamps its own events before
// the invoice's last change.
func TestSweepBehindLeavesLaterDaysAlone(t *testing.T) {
	f := newFixture(t, engines(t)["SQLite"], d(2025, 8, 29))
	// Delivered 1 July on 30 days: overdue from 1 August, 30 days on 30
	// August.
	inv := f.invoice(t, "SW-BEHIND", d(2025, 7, 1))
	if _, err := f.a.Sweep(admin); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(24 * time.Hour) // 30 August, on the replica ahead
	if _, err := f.a.Sweep(admin); err != nil {
		t.Fatal(err)
	}
	want := ladderFromJuly[:2]
	if diff := cmp.Diff(want, events(t, f.a, inv)); diff != "" {
		t.Fatalf("after the replica ahead (-want +got):\n%s", diff)
	}
	// A payment, recorded at its now, brings the invoice due again; the
	// replica still on 29 August sweeps it.
	if _, _, err := f.a.RecordPayment(admin, inv.ID, &ledger.Payment{Amount: 100, Currency: "CNY", PaidOn: d(2025, 8, 20), Reference: "SW-B-1"}); err != nil {
		t.Fatal(err)
	}
	paid, err := f.a.GetInvoice(admin, inv.ID)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := policy.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	behind := service.New(f.sb, clock.NewFake(f.clk.Now().Add(-24*time.Hour)), reg, quiet)
	if _, err := behind.Sweep(admin); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, events(t, f.a, inv)); diff != "" {
		t.Errorf("after the replica behind (-want +got):\n%s", diff)
	}
	es, err := f.a.ListEscalationEvents(admin, inv.ID, store.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Kind == ledger.EscalationCorrected && e.RecordTime.Before(paid.UpdateTime) {
			t.Errorf("a correction stamped %v, before the payment that caused it (%v)", e.RecordTime, paid.UpdateTime)
		}
	}
}

// TestSweepKeepsHistoryBeforeACorrection: a correction effective from a
// date changes the level from that date; the levels reached before it
// stand, as judgements as of those dates say, instead of being marked
// corrected.
func TestSweepKeepsHistoryBeforeACorrection(t *testing.T) {
	f := newFixture(t, engines(t)["SQLite"], d(2025, 7, 1))
	inv := f.invoice(t, "SW-CORR", d(2025, 5, 5)) // 30 days: due 2025-06-04
	if _, err := f.a.Sweep(admin); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(9 * 24 * time.Hour) // 10 July: 36 days overdue
	if _, err := f.a.Sweep(admin); err != nil {
		t.Fatal(err)
	}
	before := []ev{{"CHANGED", 0, 1, "2025-06-05"}, {"CHANGED", 1, 2, "2025-07-04"}}
	if diff := cmp.Diff(before, events(t, f.a, inv)); diff != "" {
		t.Fatalf("before the correction (-want +got):\n%s", diff)
	}
	// The term was 90 days, from today on: not overdue from 10 July.
	if _, err := f.a.UpdateInvoice(admin, inv.ID, &ledger.Invoice{AgreedTermDays: 90}, []string{"agreed_term_days"}, "", civil.Date{}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.a.Sweep(admin); err != nil {
		t.Fatal(err)
	}
	want := append(before, ev{"CHANGED", 2, 0, "2025-07-10"})
	if diff := cmp.Diff(want, events(t, f.a, inv)); diff != "" {
		t.Errorf("after the correction (-want +got):\n%s", diff)
	}
	j, err := f.a.JudgeInvoice(admin, inv.ID, d(2025, 7, 5), time.Time{})
	if err != nil || j.Judgement.EscalationLevel != 2 {
		t.Errorf("judged as of 5 July: level %d, %v; want 2, as the history says", j.Judgement.EscalationLevel, err)
	}
}

// TestSweepLeavesAnUnjudgeableInvoiceAlone: an invoice whose facts cannot
// be judged as they stand (here a payment in another currency, written
// past the service's checks) keeps its recorded levels: the sweep does not
// mark each corrected as though the debt were never overdue.
func TestSweepLeavesAnUnjudgeableInvoiceAlone(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, open, d(2025, 9, 10))
			inv := f.invoice(t, "SW-BAD", d(2025, 7, 1)) // due 31 July: two levels by 10 September
			if _, err := f.a.Sweep(admin); err != nil {
				t.Fatal(err)
			}
			before := events(t, f.a, inv)
			if len(before) != 2 {
				t.Fatalf("levels before: %v", before)
			}
			err := f.sb.ReadWriteTx(admin, func(ctx context.Context, tx store.Tx) error {
				p := &ledger.Payment{ID: uuid.Must(uuid.NewV7()), InvoiceID: inv.ID, DebtorID: inv.DebtorID, Amount: 100, Currency: "USD",
					PaidOn: d(2025, 8, 5), Reference: "SW-BAD-USD", Instrument: ledger.InstrumentTransfer, State: ledger.PaymentRecorded,
					CreateTime: f.clk.Now(), UpdateTime: f.clk.Now()}
				c := store.Change{RecordTime: f.clk.Now(), Method: "test", Actor: "test", Debtor: inv.DebtorID, Creditor: inv.CreditorID}
				if err := tx.CreatePayment(ctx, p, c); err != nil {
					return err
				}
				e, err := tx.GetEscalation(ctx, inv.ID)
				if err != nil {
					return err
				}
				e.NextCheck = d(2025, 8, 5)
				return tx.PutEscalation(ctx, e)
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.a.Sweep(admin); err != nil {
				t.Fatal(err)
			}
			if after := events(t, f.a, inv); !slices.Equal(after, before) {
				t.Errorf("levels of an invoice that cannot be judged: %v, were %v", after, before)
			}
			// Looked at again tomorrow, not at every pass today.
			e, err := f.sb.GetEscalation(admin, inv.ID)
			if err != nil || e.NextCheck != d(2025, 9, 11) || e.Level != 2 {
				t.Errorf("the unjudgeable invoice's check: next %s, level %d, %v; want 2025-09-11, level 2", e.NextCheck, e.Level, err)
			}
			if n, err := f.a.Sweep(admin); err != nil || n != 0 {
				t.Errorf("a second pass the same day swept %d, %v; want none", n, err)
			}
		})
	}
}

// unwritableStore is a real store that cannot commit, as one whose disk is
// full or whose database is down; it counts the transactions tried.
type unwritableStore struct {
	store.Store
	tries int
}

func (s *unwritableStore) ReadWriteTx(ctx context.Context, f func(ctx context.Context, tx store.Tx) error) error {
	s.tries++
	return fmt.Errorf("commit: %w: database or disk is full", ledger.ErrUnavailable)
}

// TestSweepStopsWhenTheStoreCannotWrite: a pass whose store cannot write
// ends at the first batch with the store's error (so the job counts it
// failed), rather than trying, and logging, every due invoice alone and
// reporting success.
func TestSweepStopsWhenTheStoreCannotWrite(t *testing.T) {
	f := newFixture(t, engines(t)["SQLite"], d(2025, 7, 1))
	for k := range 5 {
		f.invoice(t, fmt.Sprintf("SW-FULL-%d", k), d(2025, 5, 5))
	}
	reg, err := policy.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	us := &unwritableStore{Store: f.sb}
	swept, err := service.New(us, f.clk, reg, quiet).Sweep(admin)
	if !errors.Is(err, ledger.ErrUnavailable) || swept != 0 || us.tries != 1 {
		t.Errorf("sweep on a store that cannot write: %d invoices, %v, after %d transactions; want the store's error after one", swept, err, us.tries)
	}
}
