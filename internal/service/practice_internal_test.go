package service

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"testing"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/judgement"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/money"
	"github.com/arrears/arrears/internal/policy"
	"github.com/arrears/arrears/internal/store"
)

// TestPracticeLateBecauseOfDispute: a late payment is late because of a
// dispute only if one was open when the invoice fell due; and a term
// nothing agreed is the policy's default, not the due date a holiday moved.
func TestPracticeLateBecauseOfDispute(t *testing.T) {
	reg, err := policy.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	pol, _ := reg.Get(policy.IDCN802LargeEnterprise, 0)
	d := civil.MustNew
	// Delivered 2 Aug 2025, 60 days: 1 Oct, in the National Day break, so
	// due 9 Oct. Paid in full on 20 Oct, late.
	inv := &ledger.Invoice{ID: uuid.New(), DocumentRef: "P-1", Amount: money.Money{Minor: 100000, Currency: "CNY"},
		ContractSignedOn: d(2025, 7, 1), IssuedOn: d(2025, 8, 2), ReceivedOn: d(2025, 8, 2), DeliveredOn: d(2025, 8, 2),
		CreditorSizeAtSigning: ledger.SizeSmall, PolicyID: pol.ID, PolicyVersion: pol.Version}
	pay := ledger.Payment{ID: uuid.New(), Amount: 100000, Currency: "CNY", PaidOn: d(2025, 10, 20), State: ledger.PaymentRecorded, Instrument: ledger.InstrumentTransfer}
	for _, tc := range []struct {
		desc    string
		dispute ledger.Dispute
		want    int64
	}{
		{"open on the due date", ledger.Dispute{OpenedOn: d(2025, 9, 1)}, 1},
		{"opened after the due date", ledger.Dispute{OpenedOn: d(2025, 10, 12)}, 0},
		{"resolved before the due date", ledger.Dispute{OpenedOn: d(2025, 8, 5), ResolvedOn: d(2025, 8, 20), State: ledger.DisputeResolved, Resolution: ledger.ResolutionWithdrawn}, 0},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			dispute := tc.dispute
			dispute.ID, dispute.Amount = uuid.New(), 1000
			f := &store.Facts{Payments: []ledger.Payment{pay}, Disputes: []ledger.Dispute{dispute}}
			j, err := judgement.Evaluate(judgement.Input{Invoice: *inv, Payments: f.Payments, Disputes: f.Disputes, Policy: pol, Tables: reg, AsOf: d(2025, 12, 31)})
			if err != nil {
				t.Fatal(err)
			}
			if j.DueDate != d(2025, 10, 9) {
				t.Fatalf("due %s, want 2025-10-09", j.DueDate)
			}
			r := &PracticeReport{terms: map[int]int64{}}
			addPractice(r, inv, f, j, &pol, d(2025, 7, 1), d(2025, 12, 31), false, inv.Amount.Minor)
			if r.LateCount != 1 || r.LateDisputedCount != tc.want {
				t.Errorf("late %d, late because of a dispute %d; want 1, %d", r.LateCount, r.LateDisputedCount, tc.want)
			}
			if r.LongestTermDays != 60 {
				t.Errorf("term %d days, want the statutory 60, not the 68 to the moved due date", r.LongestTermDays)
			}
		})
	}
}

// TestSweepDueGoesPastUnsweepable: a pass goes past any number of rows it
// cannot sweep at the head of the due list (invoices of a policy this
// server lacks, or not yet due in their own zone) to the rows behind them,
// reading each row once, and ends.
func TestSweepDueGoesPastUnsweepable(t *testing.T) {
	var rows []store.DueCursor // the due list, in next-check order
	stuck := map[uuid.UUID]bool{}
	day := civil.MustNew(2025, 9, 1)
	for i := range 3*sweepBatch + 7 {
		id, _ := uuid.NewV7()
		rows = append(rows, store.DueCursor{On: day.AddDays(i / 50), ID: id})
		stuck[id] = i < 2*sweepBatch+3 // the head cannot be swept
	}
	moved := map[uuid.UUID]bool{}
	read := 0
	list := func(after store.DueCursor, limit int) ([]store.DueCursor, error) {
		var out []store.DueCursor
		for _, r := range rows {
			past := after.On.IsZero() || r.On.After(after.On) || r.On == after.On && bytes.Compare(r.ID[:], after.ID[:]) > 0
			if !moved[r.ID] && past && len(out) < limit {
				out = append(out, r)
			}
		}
		read += len(out)
		return out, nil
	}
	calls := 0
	many := func(ids []uuid.UUID) (map[uuid.UUID]bool, error) {
		if calls++; calls > 100 || len(ids) > sweepBatch {
			t.Fatalf("call %d with %d ids", calls, len(ids))
		}
		out := map[uuid.UUID]bool{}
		for _, id := range ids {
			if !stuck[id] {
				out[id], moved[id] = true, true
			}
		}
		return out, nil
	}
	done, err := sweepDue(list, many)
	if err != nil || done != sweepBatch+4 {
		t.Errorf("swept %d (%v), want the %d rows behind the stuck ones", done, err, sweepBatch+4)
	}
	if read != len(rows) {
		t.Errorf("read %d rows for a list of %d: rows passed over were read again", read, len(rows))
	}
}

// TestPracticeUnpaidCountsFromIssue: a debt due in the period and unpaid at
// its end is in arrears only if its invoice was issued by then, as in the
// overdue summary.
func TestPracticeUnpaidCountsFromIssue(t *testing.T) {
	reg, err := policy.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	pol, _ := reg.Get(policy.IDCN802LargeEnterprise, 0)
	d := civil.MustNew
	for _, tc := range []struct {
		issued civil.Date
		want   int64
	}{{d(2025, 9, 1), 1}, {d(2026, 1, 10), 0}} {
		// Delivered 1 Sep 2025, 60 days: due 31 Oct, in the quarter.
		inv := &ledger.Invoice{ID: uuid.New(), DocumentRef: "P-2", Amount: money.Money{Minor: 100000, Currency: "CNY"},
			ContractSignedOn: d(2025, 8, 1), IssuedOn: tc.issued, DeliveredOn: d(2025, 9, 1),
			CreditorSizeAtSigning: ledger.SizeSmall, PolicyID: pol.ID, PolicyVersion: pol.Version}
		j, err := judgement.Evaluate(judgement.Input{Invoice: *inv, Policy: pol, Tables: reg, AsOf: d(2025, 12, 31)})
		if err != nil {
			t.Fatal(err)
		}
		r := &PracticeReport{terms: map[int]int64{}}
		addPractice(r, inv, nil, j, &pol, d(2025, 10, 1), d(2025, 12, 31), false, inv.Amount.Minor)
		if r.UnpaidPastDueCount != tc.want {
			t.Errorf("issued %s: unpaid past due %d, want %d (due %s)", tc.issued, r.UnpaidPastDueCount, tc.want, j.DueDate)
		}
	}
}

// TestOneByOneLeavesAFailingIDForTheNextPass: a complaint that fails to
// sweep is left for the next pass, and those after it in the batch are
// swept; only the context's end stops the batch.
func TestOneByOneLeavesAFailingIDForTheNextPass(t *testing.T) {
	bad := uuid.New()
	ids := []uuid.UUID{uuid.New(), bad, uuid.New()}
	one := func(id uuid.UUID) (bool, error) {
		if id == bad {
			return false, errors.New("boom")
		}
		return true, nil
	}
	swept, err := oneByOne(context.Background(), slog.New(slog.DiscardHandler), "complaint", one)(ids)
	if err != nil || !swept[ids[0]] || !swept[ids[2]] || swept[bad] {
		t.Errorf("swept %v, %v; want all but the failing one, and no error", swept, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := oneByOne(ctx, slog.New(slog.DiscardHandler), "complaint", one)(ids); err == nil {
		t.Error("a batch after the context ended went on")
	}
}

// TestPracticeNotPaidWithinTerms: the share not paid within agreed terms
// is over the payments due in the period, those still owed included: of
// two invoices due in the half-year, one unpaid and one paid early, half
// were not paid within terms, though every payment made was on time; an
// invoice due before the period and paid late in it is not among them.
func TestPracticeNotPaidWithinTerms(t *testing.T) {
	reg, err := policy.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	pol, _ := reg.Get(policy.IDUKB2B, 0)
	d := civil.MustNew
	r := &PracticeReport{terms: map[int]int64{}}
	for _, tc := range []struct {
		received, due civil.Date
		paidOn        civil.Date
	}{
		{d(2025, 3, 1), d(2025, 3, 31), civil.Date{}},    // unpaid
		{d(2025, 4, 1), d(2025, 5, 1), d(2025, 4, 20)},   // paid early
		{d(2024, 11, 1), d(2024, 12, 1), d(2025, 1, 15)}, // due before the period, paid late in it
	} {
		inv := &ledger.Invoice{ID: uuid.New(), DocumentRef: "NW", Amount: money.Money{Minor: 1000000, Currency: "GBP"},
			IssuedOn: tc.received, ReceivedOn: tc.received, DeliveredOn: tc.received, AgreedDueDate: tc.due,
			CreditorSizeAtSigning: ledger.SizeSmall, PolicyID: pol.ID, PolicyVersion: pol.Version}
		f := &store.Facts{}
		if !tc.paidOn.IsZero() {
			f.Payments = []ledger.Payment{{ID: uuid.New(), Amount: 1000000, Currency: "GBP", PaidOn: tc.paidOn, State: ledger.PaymentRecorded,
				Instrument: ledger.InstrumentTransfer}}
		}
		j, err := judgement.Evaluate(judgement.Input{Invoice: *inv, Payments: f.Payments, Policy: pol, Tables: reg, AsOf: d(2025, 6, 30)})
		if err != nil {
			t.Fatal(err)
		}
		addPractice(r, inv, f, j, &pol, d(2025, 1, 1), d(2025, 6, 30), false, inv.Amount.Minor)
	}
	if r.DueCount != 2 || r.DueAmount != 2000000 || r.NotWithinTermsCount != 1 || r.NotWithinTermsAmount != 1000000 {
		t.Errorf("due %d (%d), not within terms %d (%d); want 2 (2000000), 1 (1000000)", r.DueCount, r.DueAmount, r.NotWithinTermsCount, r.NotWithinTermsAmount)
	}
	if r.LateCount != 1 {
		t.Errorf("payments made late in the period: %d, want the one", r.LateCount)
	}
}

// TestPracticeCreditedDisputeWasNeverOwed: a part disputed before the due
// date and later credited was never owed, as the judgement holds, so the
// rest paid on time is within terms, whenever the credit note came.
func TestPracticeCreditedDisputeWasNeverOwed(t *testing.T) {
	reg, err := policy.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	pol, _ := reg.Get(policy.IDUKB2B, 0)
	d := civil.MustNew
	inv := &ledger.Invoice{ID: uuid.New(), DocumentRef: "CR", Amount: money.Money{Minor: 1000000, Currency: "GBP"},
		IssuedOn: d(2025, 3, 1), ReceivedOn: d(2025, 3, 1), DeliveredOn: d(2025, 3, 1), AgreedDueDate: d(2025, 3, 31),
		CreditorSizeAtSigning: ledger.SizeSmall, PolicyID: pol.ID, PolicyVersion: pol.Version}
	note := ledger.CreditNote{ID: uuid.New(), InvoiceID: inv.ID, Amount: 200000, IssuedOn: d(2025, 4, 15)}
	f := &store.Facts{
		Payments: []ledger.Payment{{ID: uuid.New(), Amount: 800000, Currency: "GBP", PaidOn: d(2025, 3, 20), State: ledger.PaymentRecorded,
			Instrument: ledger.InstrumentTransfer}},
		CreditNotes: []ledger.CreditNote{note},
		Disputes: []ledger.Dispute{{ID: uuid.New(), InvoiceID: inv.ID, Amount: 200000, OpenedOn: d(2025, 3, 10), State: ledger.DisputeResolved,
			Resolution: ledger.ResolutionCredited, ResolvedOn: d(2025, 4, 15), CreditNoteID: note.ID}},
	}
	j, err := judgement.Evaluate(judgement.Input{Invoice: *inv, Payments: f.Payments, CreditNotes: f.CreditNotes, Disputes: f.Disputes,
		Policy: pol, Tables: reg, AsOf: d(2025, 6, 30)})
	if err != nil {
		t.Fatal(err)
	}
	r := &PracticeReport{terms: map[int]int64{}}
	addPractice(r, inv, f, j, &pol, d(2025, 1, 1), d(2025, 6, 30), false, inv.Amount.Minor)
	if r.DueCount != 1 || r.DueAmount != 800000 || r.NotWithinTermsCount != 0 {
		t.Errorf("due %d (%d), not within terms %d; want 1 (800000), 0", r.DueCount, r.DueAmount, r.NotWithinTermsCount)
	}
}

// TestPracticeTotalsRefuseOverflow: amounts summed past the int64 range mark
// the report (PaymentPractice then refuses it) instead of wrapping round to
// a negative total: 92,234 payments of the largest amount the ledger takes
// reach it.
func TestPracticeTotalsRefuseOverflow(t *testing.T) {
	reg, err := policy.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	pol, _ := reg.Get(policy.IDCN802LargeEnterprise, 0)
	d := civil.MustNew
	inv := &ledger.Invoice{ID: uuid.New(), DocumentRef: "P-MAX", Amount: money.Money{Minor: ledger.MaxMinorUnits, Currency: "CNY"},
		ContractSignedOn: d(2025, 8, 1), IssuedOn: d(2025, 9, 1), DeliveredOn: d(2025, 9, 1),
		CreditorSizeAtSigning: ledger.SizeSmall, PolicyID: pol.ID, PolicyVersion: pol.Version}
	j, err := judgement.Evaluate(judgement.Input{Invoice: *inv, Policy: pol, Tables: reg, AsOf: d(2025, 12, 31)})
	if err != nil {
		t.Fatal(err)
	}
	n := math.MaxInt64/ledger.MaxMinorUnits + 1
	f := &store.Facts{Payments: make([]ledger.Payment, n)}
	for i := range f.Payments {
		f.Payments[i] = ledger.Payment{Amount: ledger.MaxMinorUnits, Currency: "CNY", PaidOn: d(2025, 10, 1), State: ledger.PaymentRecorded}
	}
	r := &PracticeReport{terms: map[int]int64{}}
	addPractice(r, inv, f, j, &pol, d(2025, 7, 1), d(2025, 12, 31), false, inv.Amount.Minor)
	if !r.sum.overflow {
		t.Errorf("%d payments of %d summed to %d without an overflow", n, int64(ledger.MaxMinorUnits), r.Amount)
	}
}
