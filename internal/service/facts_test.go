package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/money"
	"github.com/arrears/arrears/internal/policy"
	"github.com/arrears/arrears/internal/service"
	"github.com/arrears/arrears/internal/store"
)

// TestFactsBeyondTheLimitAreRefused: an invoice holding as many payments as
// the judgement takes (ledger.MaxFactsPerKind) refuses one more, by
// RecordPayment or by a sync record, and only that record: another record
// of the same invoice in the chunk that still fits is applied. An invoice
// already past the limit (recorded before it was enforced) can still be
// corrected and recounted. Without the refusal an invoice could be made
// unjudgeable, and would leave every figure.
func TestFactsBeyondTheLimitAreRefused(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, open, d(2025, 9, 1))
			id := f.created(t, "limit", f.record(1, "LIM-1", 100_000_000, 30))[0]
			inv := f.get(t, id)
			// The payments are loaded straight into the store: through the
			// API they would take minutes.
			load := func(from, n int) {
				t.Helper()
				pays := make([]*ledger.Payment, n)
				for i := range pays {
					pays[i] = &ledger.Payment{ID: uuid.Must(uuid.NewV7()), InvoiceID: id, DebtorID: inv.DebtorID, Amount: 1, Currency: "CNY",
						PaidOn: d(2025, 7, 1), Reference: fmt.Sprintf("LIM-P-%d", from+i), Instrument: ledger.InstrumentTransfer,
						State: ledger.PaymentRecorded, CreateTime: inv.CreateTime, UpdateTime: inv.CreateTime}
				}
				if err := f.sb.ReadWriteTx(admin, func(ctx context.Context, tx store.Tx) error {
					return tx.CreatePayments(ctx, pays, map[uuid.UUID]uuid.UUID{id: inv.CreditorID},
						store.Change{Actor: "system", Debtor: inv.DebtorID, Creditor: inv.CreditorID, EffectiveOn: d(2025, 7, 1), RecordTime: inv.CreateTime, Method: "test"})
				}); err != nil {
					t.Fatal(err)
				}
			}
			load(0, ledger.MaxFactsPerKind-1) // room for one more
			pay := func(ref string) service.SyncPayment {
				return service.SyncPayment{Payment: ledger.Payment{Amount: 1, Currency: "CNY", PaidOn: d(2025, 8, 1), Reference: ref}}
			}
			// Two records of LIM-1: the first takes the last place, the
			// second (the same payment and one more) is refused alone. A
			// new invoice with too many payments is refused; another
			// record is applied.
			var many []service.SyncPayment
			for i := range ledger.MaxFactsPerKind + 1 {
				many = append(many, pay(fmt.Sprintf("LIM-MANY-%d", i)))
			}
			res, _, err := f.a.SyncChunk(admin, f.debtor.ID, "limit", []service.SyncRecord{
				f.record(2, "LIM-1", 100_000_000, 30, pay("LIM-LAST")),
				f.record(3, "LIM-1", 100_000_000, 30, pay("LIM-LAST"), pay("LIM-OVER")),
				f.record(4, "LIM-2", 100_000_000, 30),
				f.record(5, "LIM-3", 100_000_000, 30, many...)})
			if err != nil {
				t.Fatal(err)
			}
			if len(res) != 4 || res[0].Outcome != service.SyncUpdated || res[2].Outcome != service.SyncCreated {
				t.Fatalf("sync: %+v, want the first and third records applied", res)
			}
			for _, r := range []service.SyncResult{res[1], res[3]} {
				if r.Outcome != service.SyncRejected || len(r.Violations) != 1 || !strings.HasPrefix(r.Violations[0].Field, "payments") {
					t.Errorf("%s: %+v, want it rejected for its payments", r.DocumentRef, r)
				}
			}
			if sess, err := f.sb.GetSyncSession(admin, f.debtor.ID, "limit"); err != nil || sess.AckedSeq != 5 {
				t.Errorf("session after the chunk: %+v, %v; want sequence 5 acknowledged", sess, err)
			}
			if _, err := f.sb.GetInvoiceByDocumentRef(admin, inv.DebtorID, "LIM-3"); !errors.Is(err, ledger.ErrNotFound) {
				t.Errorf("the rejected new invoice was recorded: %v", err)
			}
			full := f.get(t, id)
			if full.Paid != 1 {
				t.Errorf("LIM-1 paid %d through the sync, want the one payment that fit", full.Paid)
			}

			// Full: RecordPayment and a chunk of one record are refused.
			_, _, err = f.a.RecordPayment(admin, id, &ledger.Payment{Amount: 1, Currency: "CNY", PaidOn: d(2025, 8, 1), Reference: "LIM-ONE-MORE"})
			if !errors.Is(err, ledger.ErrFailedPrecondition) {
				t.Fatalf("payment %d: %v, want a failed precondition", ledger.MaxFactsPerKind+1, err)
			}
			res, _, err = f.a.SyncChunk(admin, f.debtor.ID, "limit", []service.SyncRecord{f.record(6, "LIM-1", 100_000_000, 30, pay("LIM-SYNCED"))})
			if err != nil || res[0].Outcome != service.SyncRejected || res[0].Violations[0].Field != "payments" {
				t.Fatalf("a record paying a full invoice: %+v, %v", res, err)
			}
			for _, ref := range []string{"LIM-OVER", "LIM-ONE-MORE", "LIM-SYNCED"} {
				if _, err := f.sb.GetPaymentByReference(admin, inv.DebtorID, ref); !errors.Is(err, ledger.ErrNotFound) {
					t.Errorf("refused payment %s was recorded: %v", ref, err)
				}
			}
			if got := f.get(t, id); got.Version != full.Version || got.Paid != full.Paid {
				t.Errorf("a refused payment changed the invoice: %+v", got)
			}

			// Past the limit already: still corrected and recounted.
			load(ledger.MaxFactsPerKind, 1)
			if _, err := f.a.UpdateInvoice(admin, id, &ledger.Invoice{ContractRef: "C-LIM"}, []string{"contract_ref"}, "", civil.Date{}, ""); err != nil {
				t.Errorf("correcting an invoice past the limit: %v", err)
			}
			if _, err := f.a.RebuildSummaries(admin); err != nil {
				t.Errorf("rebuilding the summaries with an invoice past the limit: %v", err)
			}
		})
	}
}

// TestCreditedDisputeCountsAsACreditNote: a dispute resolved CREDITED
// writes a credit note, so on an invoice holding the most credit notes the
// judgement takes it is refused as a credit note by hand would be, and
// nothing changes; the dispute can still be resolved otherwise.
func TestCreditedDisputeCountsAsACreditNote(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, open, d(2025, 9, 1))
			id := f.created(t, "notes", f.record(1, "CN-FULL-1", 100_000_000, 30))[0]
			dsp, _, err := f.a.OpenDispute(admin, id, &ledger.Dispute{Amount: 50000, OpenedOn: d(2025, 8, 1), Reason: "short delivery"}, "CNY", service.Idempotency{})
			if err != nil {
				t.Fatal(err)
			}
			inv := f.get(t, id)
			// Loaded straight into the store: through the API they would
			// take minutes.
			if err := f.sb.ReadWriteTx(admin, func(ctx context.Context, tx store.Tx) error {
				c := store.Change{Actor: "system", Debtor: inv.DebtorID, Creditor: inv.CreditorID, EffectiveOn: d(2025, 7, 1), RecordTime: inv.UpdateTime, Method: "test"}
				for i := range ledger.MaxFactsPerKind {
					if err := tx.CreateCreditNote(ctx, &ledger.CreditNote{ID: uuid.Must(uuid.NewV7()), InvoiceID: id, Amount: 1, IssuedOn: d(2025, 7, 1),
						Reference: fmt.Sprintf("CN-FULL-N-%d", i), Reason: "test", CreateTime: inv.UpdateTime}, c); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			before := f.get(t, id)
			if _, _, err := f.a.ResolveDispute(admin, id, dsp.ID, ledger.ResolutionCredited, d(2025, 8, 25), "", ""); !errors.Is(err, ledger.ErrFailedPrecondition) {
				t.Fatalf("a credited dispute on an invoice with %d credit notes: %v, want a failed precondition", ledger.MaxFactsPerKind, err)
			}
			if got := f.get(t, id); got.Version != before.Version || got.Disputed != before.Disputed {
				t.Errorf("the refused resolution changed the invoice: %+v", got)
			}
			if _, _, err := f.a.ResolveDispute(admin, id, dsp.ID, ledger.ResolutionRejected, d(2025, 8, 25), "", ""); err != nil {
				t.Errorf("resolving it REJECTED: %v", err)
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
			if r := res[0]; r.Outcome != service.SyncRejected || len(r.Violations) != 1 || r.Violations[0].Field != "amount.currency_code" {
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
			// Judged so late that one invoice's interest is beyond an
			// int64: still judged, without interest, and said so.
			j, err := f.a.JudgeInvoice(admin, ids(t, f, "HUGE-1"), d(2400, 1, 1), time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, fd := range j.Judgement.Findings {
				found = found || fd.Code == "INTEREST_UNAVAILABLE"
			}
			if !found || j.Judgement.Outstanding != ledger.MaxMinorUnits || j.Judgement.Interest != 0 || j.Judgement.DaysOverdue <= 0 ||
				!strings.HasPrefix(j.Judgement.InterestRule, "interest not computed: ") {
				t.Errorf("judged as of 2400: outstanding %d, interest %d, days overdue %d, findings %v", j.Judgement.Outstanding, j.Judgement.Interest, j.Judgement.DaysOverdue, j.Judgement.Findings)
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

// ids finds an invoice of f's debtor by its document reference.
func ids(t *testing.T, f *fixture, ref string) uuid.UUID {
	t.Helper()
	inv, err := f.sb.GetInvoiceByDocumentRef(admin, f.debtor.ID, ref)
	if err != nil {
		t.Fatal(err)
	}
	return inv.ID
}

// TestAsOfBeforeACorrectionOwesAsKnown: an invoice shown as of a date
// before its amount was raised shows the amount that stood then, and
// leaves owed what is owed as known: the raised amount less what was
// paid, not the older amount less it (which would be negative here).
func TestAsOfBeforeACorrectionOwesAsKnown(t *testing.T) {
	f := newFixture(t, engines(t)["SQLite"], d(2025, 9, 1))
	inv := f.invoice(t, "ASOF-1", d(2025, 7, 1)) // CNY 100,000.00
	if _, err := f.a.UpdateInvoice(admin, inv.ID, &ledger.Invoice{Amount: money.Money{Minor: 20000000, Currency: "CNY"}}, []string{"amount"}, "", d(2025, 8, 15), ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.a.RecordPayment(admin, inv.ID, &ledger.Payment{Amount: 15000000, Currency: "CNY", PaidOn: d(2025, 8, 20), Reference: "ASOF-P1"}); err != nil {
		t.Fatal(err)
	}
	j, err := f.a.JudgeInvoice(admin, inv.ID, d(2025, 8, 14), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if j.Invoice.Amount.Minor != 10000000 || j.Outstanding != 5000000 {
		t.Errorf("as of the day before the raise: amount %d, outstanding %d; want 10000000 and 5000000", j.Invoice.Amount.Minor, j.Outstanding)
	}
}

// TestSizeAtSigningIsNotCleared: a correction naming the supplier's size
// at signing must give one; sent empty it is refused, rather than making
// the supplier no SME and the invoice another law's.
func TestSizeAtSigningIsNotCleared(t *testing.T) {
	f := newFixture(t, engines(t)["SQLite"], d(2025, 9, 1))
	inv := f.invoice(t, "SIZE-1", d(2025, 7, 1))
	_, err := f.a.UpdateInvoice(admin, inv.ID, &ledger.Invoice{}, []string{"creditor_size_class_at_signing"}, "", civil.Date{}, "")
	var ve *ledger.ValidationError
	if !errors.As(err, &ve) || len(ve.Violations) != 1 || ve.Violations[0].Field != "invoice.creditor_size_class_at_signing" {
		t.Errorf("the size at signing cleared: %v", err)
	}
	if got := f.get(t, inv.ID); got.PolicyID != inv.PolicyID || got.CreditorSizeAtSigning != inv.CreditorSizeAtSigning {
		t.Errorf("the invoice changed: %s %s, was %s %s", got.PolicyID, got.CreditorSizeAtSigning, inv.PolicyID, inv.CreditorSizeAtSigning)
	}
}

// hookStore runs before once, just before the first read of facts: a
// write committing between a judged read's statements.
type hookStore struct {
	store.Store
	before func()
	once   sync.Once
}

func (h *hookStore) Facts(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]*store.Facts, error) {
	h.once.Do(h.before)
	return h.Store.Facts(ctx, ids)
}

func (h *hookStore) SnapshotRead(ctx context.Context, f func(context.Context, store.Reader) error) error {
	return h.Store.SnapshotRead(ctx, func(ctx context.Context, r store.Reader) error {
		return f(ctx, &hookReader{Reader: r, h: h})
	})
}

type hookReader struct {
	store.Reader
	h *hookStore
}

func (r *hookReader) Facts(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]*store.Facts, error) {
	r.h.once.Do(r.h.before)
	return r.Reader.Facts(ctx, ids)
}

// TestJudgedInvoiceReadInOneSnapshot: a payment committed while an invoice
// is read and judged counts in both the invoice's paid total and its
// judgement, or in neither: the two agree on what is owed.
func TestJudgedInvoiceReadInOneSnapshot(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, open, d(2025, 9, 1))
			inv := f.invoice(t, "SNAP-1", d(2025, 7, 1))
			h := &hookStore{Store: f.sb}
			h.before = func() {
				if _, _, err := f.a.RecordPayment(admin, inv.ID, &ledger.Payment{Amount: 4000000, Currency: "CNY", PaidOn: d(2025, 8, 20), Reference: "SNAP-P1"}); err != nil {
					t.Error(err)
				}
			}
			reg, err := policy.Embedded()
			if err != nil {
				t.Fatal(err)
			}
			l := service.New(h, f.clk, reg, quiet)
			j, err := l.JudgeInvoice(admin, inv.ID, civil.Date{}, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			if shown := j.Invoice.Amount.Minor - j.Invoice.Paid; j.Judgement.Outstanding != shown {
				t.Errorf("the invoice shows %d owed (paid %d), its judgement %d", shown, j.Invoice.Paid, j.Judgement.Outstanding)
			}
		})
	}
}

// TestCreditNoteNotBeforeTheInvoice: a credit note is issued against an
// invoice, so not before the invoice's own issue date (as its
// cancellation is not).
func TestCreditNoteNotBeforeTheInvoice(t *testing.T) {
	f := newFixture(t, engines(t)["SQLite"], d(2025, 9, 1))
	inv := f.invoice(t, "CNDATE-1", d(2025, 7, 1)) // issued 1 July
	_, _, err := f.a.CreateCreditNote(admin, inv.ID, &ledger.CreditNote{Amount: 1000, IssuedOn: d(2025, 6, 30), Reference: "CN-EARLY", Reason: "discount"}, "CNY", service.Idempotency{})
	var ve *ledger.ValidationError
	if !errors.As(err, &ve) || len(ve.Violations) != 1 || ve.Violations[0].Field != "credit_note.issued_on" {
		t.Errorf("a credit note dated before its invoice: %v", err)
	}
	if _, _, err := f.a.CreateCreditNote(admin, inv.ID, &ledger.CreditNote{Amount: 1000, IssuedOn: d(2025, 7, 1), Reference: "CN-SAME-DAY", Reason: "discount"}, "CNY", service.Idempotency{}); err != nil {
		t.Errorf("a credit note on its invoice's issue date: %v", err)
	}
}

// TestCreditNoteReferenceIsItsKey: the issuer's reference names one credit
// note of an invoice: the same note again, with no request id, is the first
// and credits once; other content under it is ALREADY_EXISTS; another
// invoice may use it.
func TestCreditNoteReferenceIsItsKey(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, open, d(2025, 9, 1))
			inv, other := f.invoice(t, "CNREF-1", d(2025, 7, 1)), f.invoice(t, "CNREF-2", d(2025, 7, 1))
			note := func() *ledger.CreditNote {
				return &ledger.CreditNote{Amount: 1000, IssuedOn: d(2025, 8, 1), Reference: "CN-7", Reason: "discount"}
			}
			first, _, err := f.a.CreateCreditNote(admin, inv.ID, note(), "CNY", service.Idempotency{})
			if err != nil {
				t.Fatal(err)
			}
			again, after, err := f.a.CreateCreditNote(admin, inv.ID, note(), "CNY", service.Idempotency{})
			if err != nil || again.ID != first.ID || after.Credited != 1000 {
				t.Fatalf("the same credit note again: %v, %v; credited %d, want the first and 1000", again, err, after.Credited)
			}
			changed := note()
			changed.Amount = 2000
			if _, _, err := f.a.CreateCreditNote(admin, inv.ID, changed, "CNY", service.Idempotency{}); !errors.Is(err, ledger.ErrAlreadyExists) {
				t.Errorf("another credit note under the same reference: %v, want ALREADY_EXISTS", err)
			}
			if _, _, err := f.a.CreateCreditNote(admin, other.ID, note(), "CNY", service.Idempotency{}); err != nil {
				t.Errorf("the reference on another invoice: %v", err)
			}
			if got := f.get(t, inv.ID); got.Credited != 1000 {
				t.Errorf("credited %d, want 1000", got.Credited)
			}
		})
	}
}

// TestCreditedDisputeNotBeforeTheInvoice: a dispute resolved by credit
// issues a credit note dated on its resolution, which may not be before
// the invoice's issue date, as a credit note issued by hand may not.
func TestCreditedDisputeNotBeforeTheInvoice(t *testing.T) {
	f := newFixture(t, engines(t)["SQLite"], d(2025, 9, 1))
	inv := f.invoice(t, "DSDATE-1", d(2025, 7, 1)) // issued 1 July
	dp, _, err := f.a.OpenDispute(admin, inv.ID, &ledger.Dispute{Amount: 1000, Reason: "quality", OpenedOn: d(2025, 6, 20)}, "CNY", service.Idempotency{})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = f.a.ResolveDispute(admin, inv.ID, dp.ID, ledger.ResolutionCredited, d(2025, 6, 25), "settled", "")
	var ve *ledger.ValidationError
	if !errors.As(err, &ve) || !ve.Has("resolved_on") {
		t.Errorf("credited before the invoice was issued: %v", err)
	}
	if _, _, err := f.a.ResolveDispute(admin, inv.ID, dp.ID, ledger.ResolutionCredited, d(2025, 7, 2), "settled", ""); err != nil {
		t.Errorf("credited after the invoice was issued: %v", err)
	}
}

// TestDisputeWithNothingUndisputedLeft: payments since a dispute left less
// owed than it holds; another dispute is refused saying so, not naming a
// negative undisputed amount.
func TestDisputeWithNothingUndisputedLeft(t *testing.T) {
	f := newFixture(t, engines(t)["SQLite"], d(2025, 9, 1))
	inv := f.invoice(t, "NOTHING-FREE", d(2025, 7, 1)) // CNY 100,000.00
	if _, _, err := f.a.OpenDispute(admin, inv.ID, &ledger.Dispute{Amount: 5000000, OpenedOn: d(2025, 8, 1), Reason: "short delivery"}, "CNY", service.Idempotency{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.a.RecordPayment(admin, inv.ID, &ledger.Payment{Amount: 8000000, Currency: "CNY", PaidOn: d(2025, 8, 10), Reference: "NOTHING-FREE-P"}); err != nil {
		t.Fatal(err)
	}
	_, _, err := f.a.OpenDispute(admin, inv.ID, &ledger.Dispute{Amount: 100, OpenedOn: d(2025, 8, 20), Reason: "another"}, "CNY", service.Idempotency{})
	var ve *ledger.ValidationError
	if !errors.As(err, &ve) || len(ve.Violations) != 1 || !strings.Contains(ve.Violations[0].Description, "nothing undisputed is outstanding: 2000000 is owed and open disputes hold 5000000") {
		t.Errorf("a dispute with nothing undisputed left: %v", err)
	}
}

// TestCorrectedDateKeepsThePolicyVersion: an invoice keeps the policy
// version it was first judged under. A correction of its contract date,
// which chooses the law again, chose the newest version of the same law
// too: a date put right by a day (or a nightly resync) moved an old UK debt
// onto a version written since, with another due date and findings. A
// correction that changes the law itself (another policy) takes that law's
// newest version, as a new invoice would.
func TestCorrectedDateKeepsThePolicyVersion(t *testing.T) {
	f := newFixture(t, engines(t)["SQLite"], d(2025, 9, 1))
	debtor, err := f.a.CreateParty(admin, &ledger.Party{DisplayName: "Camden Council", Kind: ledger.KindLargeEnterprise, Jurisdiction: "GB",
		RegistrationID: "02234567", RegionCode: "E09000007"}, service.Idempotency{})
	if err != nil {
		t.Fatal(err)
	}
	creditor, err := f.a.CreateParty(admin, &ledger.Party{DisplayName: "Camden Joinery", Kind: ledger.KindSME, SizeClass: ledger.SizeSmall,
		Jurisdiction: "GB", RegistrationID: "03234567", RegionCode: "E09000007"}, service.Idempotency{})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := f.a.CreateInvoice(admin, service.CreateInvoiceInput{Debtor: service.PartyRef{ID: debtor.ID}, Creditor: service.PartyRef{ID: creditor.ID},
		Invoice: &ledger.Invoice{DocumentRef: "KEEP-VERSION", Amount: money.Money{Minor: 100000, Currency: "GBP"}, ContractSignedOn: d(2025, 6, 1),
			IssuedOn: d(2025, 7, 1), DeliveredOn: d(2025, 7, 1), AgreedTermDays: 60}})
	if err != nil {
		t.Fatal(err)
	}
	first := fmt.Sprintf("%s@%d", inv.PolicyID, inv.PolicyVersion)
	// A server that has since been given a newer version of the same law.
	reg, err := policy.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	p, _ := reg.Get(inv.PolicyID, inv.PolicyVersion)
	p.Version++
	def, err := json.Marshal(map[string]any{"policies": []policy.Policy{p}})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "newer.json")
	if err := os.WriteFile(file, def, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := reg.AddPolicyFile(file); err != nil {
		t.Fatal(err)
	}
	newer := service.New(f.sb, f.clk, reg, quiet)
	got, err := newer.UpdateInvoice(admin, inv.ID, &ledger.Invoice{ContractSignedOn: d(2025, 6, 2)}, []string{"contract_signed_on"}, "", civil.Date{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if now := fmt.Sprintf("%s@%d", got.PolicyID, got.PolicyVersion); now != first {
		t.Errorf("after a corrected contract date: %s, want %s kept", now, first)
	}
	// Asked for by name (policy in the mask, none named: the law's newest).
	got, err = newer.UpdateInvoice(admin, inv.ID, &ledger.Invoice{}, []string{"policy"}, "", civil.Date{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if got.PolicyVersion != p.Version {
		t.Errorf("asked to choose the policy again: %s@%d, want version %d", got.PolicyID, got.PolicyVersion, p.Version)
	}
}
