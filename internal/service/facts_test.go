package service_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/money"
	"github.com/arrears/arrears/internal/service"
	"github.com/arrears/arrears/internal/store"
)

// TestFactsBeyondTheLimitAreRefused: an invoice holding as many payments as
// the judgement takes (ledger.MaxFactsPerKind) refuses one more, by
// RecordPayment or by a sync, and nothing changes; it stays judged and
// counted. Without the refusal it could not be judged, and would leave
// every figure.
func TestFactsBeyondTheLimitAreRefused(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, open, d(2025, 9, 1))
			id := f.created(t, "limit", f.record(1, "LIM-1", 100_000_000, 30))[0]
			inv := f.get(t, id)
			// The payments are loaded straight into the store: through the
			// API they would take minutes.
			pays := make([]*ledger.Payment, ledger.MaxFactsPerKind)
			for i := range pays {
				pays[i] = &ledger.Payment{ID: uuid.Must(uuid.NewV7()), InvoiceID: id, DebtorID: inv.DebtorID, Amount: 1, Currency: "CNY",
					PaidOn: d(2025, 7, 1), Reference: fmt.Sprintf("LIM-P-%d", i), Instrument: ledger.InstrumentTransfer,
					State: ledger.PaymentRecorded, CreateTime: inv.CreateTime, UpdateTime: inv.CreateTime}
			}
			if err := f.sb.ReadWriteTx(admin, func(ctx context.Context, tx store.Tx) error {
				return tx.CreatePayments(ctx, pays, map[uuid.UUID]uuid.UUID{id: inv.CreditorID},
					store.Change{Actor: "system", Debtor: inv.DebtorID, Creditor: inv.CreditorID, EffectiveOn: d(2025, 7, 1), RecordTime: inv.CreateTime, Method: "test"})
			}); err != nil {
				t.Fatal(err)
			}

			_, _, err := f.a.RecordPayment(admin, id, &ledger.Payment{Amount: 1, Currency: "CNY", PaidOn: d(2025, 8, 1), Reference: "LIM-ONE-MORE"})
			if !errors.Is(err, ledger.ErrFailedPrecondition) {
				t.Fatalf("payment %d: %v, want a failed precondition", ledger.MaxFactsPerKind+1, err)
			}
			// A record that takes a known invoice past the limit, or brings
			// a new one with too many payments, is rejected alone; the
			// chunk's other record is applied.
			var many []service.SyncPayment
			for i := range ledger.MaxFactsPerKind + 1 {
				many = append(many, service.SyncPayment{Payment: ledger.Payment{Amount: 1, Currency: "CNY", PaidOn: d(2025, 8, 1), Reference: fmt.Sprintf("LIM-MANY-%d", i)}})
			}
			res, _, err := f.a.SyncChunk(admin, f.debtor.ID, "limit", []service.SyncRecord{
				f.record(2, "LIM-1", 100_000_000, 30, service.SyncPayment{Payment: ledger.Payment{Amount: 1, Currency: "CNY", PaidOn: d(2025, 8, 1), Reference: "LIM-SYNCED"}}),
				f.record(3, "LIM-2", 100_000_000, 30),
				f.record(4, "LIM-3", 100_000_000, 30, many...)})
			if err != nil {
				t.Fatal(err)
			}
			if len(res) != 3 || res[1].Outcome != service.SyncCreated {
				t.Fatalf("sync: %+v, want the second record created", res)
			}
			for _, r := range []service.SyncResult{res[0], res[2]} {
				if r.Outcome != service.SyncRejected || len(r.Violations) != 1 || r.Violations[0].Field != "payments" {
					t.Errorf("%s: %+v, want it rejected for its payments", r.DocumentRef, r)
				}
			}
			if sess, err := f.sb.GetSyncSession(admin, f.debtor.ID, "limit"); err != nil || sess.AckedSeq != 4 {
				t.Errorf("session after the chunk: %+v, %v; want sequence 4 acknowledged", sess, err)
			}
			if _, err := f.sb.GetInvoiceByDocumentRef(admin, inv.DebtorID, "LIM-3"); !errors.Is(err, ledger.ErrNotFound) {
				t.Errorf("the rejected new invoice was recorded: %v", err)
			}
			for _, ref := range []string{"LIM-ONE-MORE", "LIM-SYNCED"} {
				if _, err := f.sb.GetPaymentByReference(admin, inv.DebtorID, ref); !errors.Is(err, ledger.ErrNotFound) {
					t.Errorf("refused payment %s was recorded: %v", ref, err)
				}
			}
			if got := f.get(t, id); got.Version != inv.Version || got.Paid != inv.Paid {
				t.Errorf("a refused payment changed the invoice: %+v", got)
			}
		})
	}
}

// TestCurrencyStaysWithFacts: an invoice whose only payment was reversed
// (its running total back at zero) keeps its currency, by UpdateInvoice or
// by a sync, since the payment's row is still in the old one; an invoice
// with no facts may change it.
func TestCurrencyStaysWithFacts(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, open, d(2025, 9, 1))
			ids := f.created(t, "cur", f.record(1, "CUR-1", 500000, 30), f.record(2, "CUR-2", 500000, 30))
			p, _, err := f.a.RecordPayment(admin, ids[0], &ledger.Payment{Amount: 100, Currency: "CNY", PaidOn: d(2025, 8, 1), Reference: "CUR-P"})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := f.a.ReversePayment(admin, ids[0], p.ID, d(2025, 8, 2), "bounced", ""); err != nil {
				t.Fatal(err)
			}
			before := f.get(t, ids[0])
			usd := money.Money{Minor: 500000, Currency: "USD"}
			_, err = f.a.UpdateInvoice(admin, ids[0], &ledger.Invoice{Amount: usd}, []string{"amount"}, "", civil.Date{}, "")
			var ve *ledger.ValidationError
			if !errors.As(err, &ve) || len(ve.Violations) != 1 || ve.Violations[0].Field != "invoice.amount.currency_code" {
				t.Fatalf("UpdateInvoice to USD after a reversed payment: %v", err)
			}
			rec := f.record(3, "CUR-1", 500000, 30)
			rec.Invoice.Amount = usd
			res, _, err := f.a.SyncChunk(admin, f.debtor.ID, "cur", []service.SyncRecord{rec})
			if err != nil {
				t.Fatal(err)
			}
			if r := res[0]; r.Outcome != service.SyncRejected || len(r.Violations) != 1 || r.Violations[0].Field != "invoice.amount.currency_code" {
				t.Fatalf("sync to USD after a reversed payment: %+v", r)
			}
			if got := f.get(t, ids[0]); got.Version != before.Version || got.Amount.Currency != "CNY" {
				t.Fatalf("a refused change of currency changed the invoice: %+v", got)
			}
			if got, err := f.a.UpdateInvoice(admin, ids[1], &ledger.Invoice{Amount: usd}, []string{"amount"}, "", civil.Date{}, ""); err != nil || got.Amount != usd {
				t.Fatalf("UpdateInvoice to USD with no facts: %+v, %v", got, err)
			}
		})
	}
}

// TestSummaryTotalsAreExactOrRefused: each invoice's interest fits an
// int64, but two of them, at an agreed 100% a day for two centuries, do
// not; the detailed summary refuses rather than wrap to a negative total,
// and one invoice alone is summed exactly.
func TestSummaryTotalsAreExactOrRefused(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, open, d(2025, 9, 1))
			huge := func(seq int64, ref string) service.SyncRecord {
				r := f.record(seq, ref, ledger.MaxMinorUnits, 30)
				r.Invoice.AgreedRate = &ledger.Rate{Percent: "100", PerDay: true}
				return r
			}
			f.created(t, "huge", huge(1, "HUGE-1"))
			q := service.SummaryQuery{AsOf: d(2270, 1, 1), GroupBy: []string{"debtor"}, Detail: true}
			groups, _, err := f.a.OverdueSummary(admin, q)
			if err != nil || len(groups) != 1 || groups[0].Interest <= 0 {
				t.Fatalf("one invoice: %+v, %v", groups, err)
			}
			f.created(t, "huge", huge(2, "HUGE-2"))
			groups, _, err = f.a.OverdueSummary(admin, q)
			if !errors.Is(err, ledger.ErrFailedPrecondition) {
				t.Fatalf("two invoices: %+v, %v; want the summary refused", groups, err)
			}
		})
	}
}

// TestRebuildRechecksEscalations: after policy data changed, "summary
// rebuild" makes every invoice's escalation check due, so an invoice the
// old data left with no next check (here: a row reset by hand to level 0
// and no check, as a clock that never started would leave it) is judged
// again by the next sweep and gets its levels.
func TestRebuildRechecksEscalations(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, open, d(2025, 9, 1))
			inv := f.invoice(t, "REB-1", d(2025, 6, 1)) // due 2025-07-01, two months overdue
			if _, err := f.a.Sweep(admin); err != nil {
				t.Fatal(err)
			}
			if err := f.sb.ReadWriteTx(admin, func(ctx context.Context, tx store.Tx) error {
				e, err := tx.GetEscalation(ctx, inv.ID)
				if err != nil {
					return err
				}
				e.Level, e.NextCheck, e.CheckedOn = 0, civil.Date{}, civil.Date{}
				return tx.PutEscalations(ctx, []*ledger.Escalation{e})
			}); err != nil {
				t.Fatal(err)
			}
			if n, err := f.a.Sweep(admin); err != nil || n != 0 {
				t.Fatalf("a row with no next check was swept: %d, %v", n, err)
			}
			if _, err := f.a.RebuildSummaries(admin); err != nil {
				t.Fatal(err)
			}
			if n, err := f.a.Sweep(admin); err != nil || n != 1 {
				t.Fatalf("sweep after the rebuild: %d, %v; want the invoice judged again", n, err)
			}
			e, err := f.sb.GetEscalation(admin, inv.ID)
			if err != nil || e.Level < 2 || e.NextCheck.IsZero() {
				t.Errorf("escalation after the rebuild and a sweep: %+v, %v", e, err)
			}
		})
	}
}
