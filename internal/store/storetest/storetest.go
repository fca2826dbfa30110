// Package storetest is the conformance suite of the storage contract. Every
// engine's test file calls Run with a function that opens a fresh, empty,
// migrated store; the suite then checks every method, unique keys,
// not-found, pagination, revisions and concurrent updates the same way for
// all of them.
package storetest

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/audit"
	"github.com/arrears/arrears/internal/auth"
	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/complaint"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/money"
	"github.com/arrears/arrears/internal/store"
	"github.com/arrears/arrears/internal/summary"
)

// Opener returns a fresh, empty, migrated store for one test.
type Opener func(t *testing.T) store.Store

// Run runs the whole suite.
func Run(t *testing.T, open Opener) {
	for _, tc := range []struct {
		name string
		f    func(*testing.T, store.Store)
	}{
		{"Parties", testParties},
		{"PartyListFilters", testPartyListFilters},
		{"Invoices", testInvoices},
		{"InvoiceListFiltersAndPages", testInvoiceListFiltersAndPages},
		{"CreditNotes", testCreditNotes},
		{"Payments", testPayments},
		{"Disputes", testDisputes},
		{"Revisions", testRevisions},
		{"BulkCreates", testBulkCreates},
		{"EscalationsInBulk", testEscalationsInBulk},
		{"DueEscalationsByKey", testDueEscalations},
		{"DueComplaintsByKeyOnly", testDueComplaints},
		{"SummaryChangeTimeNeverBack", testSummaryChangeTimeNeverBack},
		{"SummaryNodesMarkOverflow", testSummaryNodesMarkOverflow},
		{"BulkUpdates", testBulkUpdates},
		{"LookupsInBatches", testLookupsInBatches},
		{"Requests", testRequests},
		{"SyncSessions", testSyncSessions},
		{"Secret", testSecret},
		{"ConcurrentUpdatesLoseNothing", testConcurrentUpdates},
		{"SharedPartyHoldsOffChanges", testShareParty},
		{"LockedInvoicesHoldOffChanges", testLockInvoices},
		{"LockedInvoiceTakesNewFacts", testLockedInvoiceTakesNewFacts},
		{"LockedPartyTakesTurns", testLockedPartyTakesTurns},
		{"ContextEndingBeforeCommit", testContextEndingBeforeCommit},
		{"RollbackOnError", testRollback},
		{"RollbackOnPanic", testRollbackOnPanic},
		{"BeforeRetryRunsBetweenAttempts", testBeforeRetry},
		{"SnapshotReadSeesOneSnapshot", testSnapshotRead},
		{"Keys", testKeys},
		{"Scopes", testScopes},
		{"AuditChain", testAuditChain},
		{"CheckpointHeads", testCheckpointHeads},
		{"SupplierDocuments", testSupplierDocuments},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tc.f(t, s)
		})
	}
}

// The clock of the suite: a fixed instant, advanced explicitly.
var t0 = time.Date(2025, 7, 1, 8, 0, 0, 0, time.UTC)

// all sees everything, as an administrator does.
var everything = auth.Scope{All: true}

func change(method string) store.Change {
	return store.Change{EffectiveOn: civil.MustNew(2025, 7, 1), RecordTime: t0, Method: method, Actor: "ADMIN:test"}
}

// changeOn is a change to a fact of inv (a payment, a dispute): the store
// needs its parties to place the audit event.
func changeOn(inv *ledger.Invoice, method string) store.Change {
	c := change(method)
	c.Debtor, c.Creditor = inv.DebtorID, inv.CreditorID
	return c
}

func newID() uuid.UUID { return uuid.Must(uuid.NewV7()) }

func t0Date() civil.Date { return civil.MustNew(2025, 7, 1) }

func party(jur, reg, region string) *ledger.Party {
	return &ledger.Party{
		ID: newID(), DisplayName: "Party " + reg, Kind: ledger.KindLargeEnterprise, SizeClass: ledger.SizeLarge,
		Jurisdiction: jur, RegistrationID: reg, RegionCode: region, IndustryCode: "C33",
		CreateTime: t0, UpdateTime: t0,
	}
}

func mustTx(t *testing.T, s store.Store, f func(ctx context.Context, tx store.Tx) error) {
	t.Helper()
	if err := s.ReadWriteTx(context.Background(), f); err != nil {
		t.Fatalf("transaction: %v", err)
	}
}

func createParties(t *testing.T, s store.Store, ps ...*ledger.Party) {
	t.Helper()
	mustTx(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, p := range ps {
			if err := tx.CreateParty(ctx, p, change("CreateParty")); err != nil {
				return err
			}
		}
		return nil
	})
}

func invoice(debtor, creditor *ledger.Party, ref string, due civil.Date) *ledger.Invoice {
	inv := &ledger.Invoice{
		ID: newID(), DebtorID: debtor.ID, CreditorID: creditor.ID, DocumentRef: ref, ContractRef: "C-1",
		Amount:   money.Money{Minor: 100000, Currency: "CNY"},
		IssuedOn: civil.MustNew(2025, 5, 1), DeliveredOn: civil.MustNew(2025, 5, 2),
		AgreedDueDate: due, AgreedRate: &ledger.Rate{Percent: "0.05", PerDay: true},
		CreditorSizeAtSigning: ledger.SizeSmall, CreateTime: t0, UpdateTime: t0,
	}
	inv.Derive()
	return inv
}

func createInvoices(t *testing.T, s store.Store, invs ...*ledger.Invoice) {
	t.Helper()
	mustTx(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, inv := range invs {
			if err := tx.CreateInvoice(ctx, inv, change("CreateInvoice")); err != nil {
				return err
			}
		}
		return nil
	})
}

// fixture: a debtor, a creditor and one invoice.
func fixture(t *testing.T, s store.Store) (debtor, creditor *ledger.Party, inv *ledger.Invoice) {
	debtor = party("CN", "91350100M000100Y43", "350100")
	creditor = party("CN", "91110000600037341L", "110000")
	creditor.Kind, creditor.SizeClass = ledger.KindSME, ledger.SizeSmall
	createParties(t, s, debtor, creditor)
	inv = invoice(debtor, creditor, "INV-1", civil.MustNew(2025, 6, 30))
	createInvoices(t, s, inv)
	return debtor, creditor, inv
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: err = %v, want %v", what, err, want)
	}
}

func testParties(t *testing.T, s store.Store) {
	ctx := context.Background()
	p := party("CN", "91350100M000100Y43", "350100")
	createParties(t, s, p)
	if p.Version != 1 {
		t.Errorf("Version after create = %d, want 1", p.Version)
	}
	got, err := s.GetParty(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(p, got); diff != "" {
		t.Errorf("GetParty mismatch (-want +got):\n%s", diff)
	}
	got, err = s.GetPartyByRegistration(ctx, "CN", "91350100M000100Y43")
	if err != nil || got.ID != p.ID {
		t.Errorf("GetPartyByRegistration = %v, %v; want %v", got, err, p.ID)
	}
	_, err = s.GetParty(ctx, newID())
	wantErr(t, "GetParty(unknown)", err, ledger.ErrNotFound)
	_, err = s.GetPartyByRegistration(ctx, "GB", "91350100M000100Y43")
	wantErr(t, "GetPartyByRegistration(other jurisdiction)", err, ledger.ErrNotFound)

	dup := party("CN", "91350100M000100Y43", "350100")
	err = s.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.CreateParty(ctx, dup, change("CreateParty"))
	})
	wantErr(t, "CreateParty(duplicate registration)", err, ledger.ErrAlreadyExists)
	if _, err := s.GetParty(ctx, dup.ID); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("failed create left a row: %v", err)
	}

	upd := *got
	upd.DisplayName, upd.RegionCode, upd.UpdateTime = "Renamed", "350102", t0.Add(time.Hour)
	mustTx(t, s, func(ctx context.Context, tx store.Tx) error {
		cp := upd
		if err := tx.UpdateParty(ctx, &cp, change("UpdateParty")); err != nil {
			return err
		}
		upd = cp
		return nil
	})
	got, _ = s.GetParty(ctx, p.ID)
	if got.DisplayName != "Renamed" || got.RegionCode != "350102" || got.Version != 2 || !got.UpdateTime.Equal(t0.Add(time.Hour)) {
		t.Errorf("after update got %+v", got)
	}
	// A stale version never overwrites: the store reports the conflict.
	stale := *got
	stale.Version = 1
	err = s.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
		cp := stale
		return tx.UpdateParty(ctx, &cp, change("UpdateParty"))
	})
	wantErr(t, "UpdateParty(stale version)", err, ledger.ErrConflict)
}

func testPartyListFilters(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := party("CN", "A1", "350100")
	b := party("CN", "B2", "350200")
	c := party("GB", "C3", "GB-ENG")
	c.Kind, c.SizeClass = ledger.KindSME, ledger.SizeMicro
	createParties(t, s, a, b, c)
	for _, tc := range []struct {
		desc string
		q    store.PartyQuery
		want []*ledger.Party
	}{
		{"all", store.PartyQuery{Scope: everything}, []*ledger.Party{a, b, c}},
		{"jurisdiction", store.PartyQuery{Scope: everything, Jurisdiction: []store.StringCond{{Op: store.OpEq, Value: "CN"}}}, []*ledger.Party{a, b}},
		{"not jurisdiction", store.PartyQuery{Scope: everything, Jurisdiction: []store.StringCond{{Op: store.OpNe, Value: "CN"}}}, []*ledger.Party{c}},
		{"region prefix", store.PartyQuery{Scope: everything, RegionCode: []store.StringCond{{Op: store.OpPrefix, Value: "3502"}}}, []*ledger.Party{b}},
		{"prefix wildcard is literal", store.PartyQuery{Scope: everything, RegionCode: []store.StringCond{{Op: store.OpPrefix, Value: "35_"}}}, nil},
		{"prefix is case-sensitive, as on PostgreSQL", store.PartyQuery{Scope: everything, RegionCode: []store.StringCond{{Op: store.OpPrefix, Value: "gb-"}}}, nil},
		{"remit prefix is case-sensitive", store.PartyQuery{Scope: auth.Scope{Remit: &auth.Remit{Jurisdiction: "GB", RegionPrefix: "gb"}}}, nil},
		{"kind", store.PartyQuery{Scope: everything, Kind: []store.StringCond{{Op: store.OpEq, Value: "SME"}}}, []*ledger.Party{c}},
		{"page", store.PartyQuery{Scope: everything, Page: store.Page{AfterID: a.ID, Limit: 1}}, []*ledger.Party{b}},
	} {
		got, err := s.ListParties(ctx, tc.q)
		if err != nil {
			t.Fatalf("%s: %v", tc.desc, err)
		}
		if diff := cmp.Diff(ids(tc.want), ids(got)); diff != "" {
			t.Errorf("%s: (-want +got)\n%s", tc.desc, diff)
		}
	}
}

func ids[T any](xs []*T) []string {
	out := []string{}
	for _, x := range xs {
		switch v := any(x).(type) {
		case *ledger.Party:
			out = append(out, v.ID.String())
		case *ledger.Invoice:
			out = append(out, v.DocumentRef)
		case *ledger.Payment:
			out = append(out, v.Reference)
		case *ledger.CreditNote:
			out = append(out, v.Reference)
		case *ledger.Dispute:
			out = append(out, v.Reason)
		}
	}
	return out
}

func testInvoices(t *testing.T, s store.Store) {
	ctx := context.Background()
	debtor, creditor, inv := fixture(t, s)
	got, err := s.GetInvoice(ctx, inv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(inv, got); diff != "" {
		t.Errorf("GetInvoice mismatch (-want +got):\n%s", diff)
	}
	_, err = s.GetInvoice(ctx, newID())
	wantErr(t, "GetInvoice(unknown)", err, ledger.ErrNotFound)

	dup := invoice(debtor, creditor, "INV-1", civil.Date{})
	err = s.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.CreateInvoice(ctx, dup, change("CreateInvoice"))
	})
	wantErr(t, "CreateInvoice(duplicate document_ref)", err, ledger.ErrAlreadyExists)
	// The same reference is free for another debtor.
	createInvoices(t, s, invoice(creditor, debtor, "INV-1", civil.Date{}))

	// Unknown parties are refused by the foreign keys.
	orphan := invoice(&ledger.Party{ID: newID()}, creditor, "INV-9", civil.Date{})
	if err := s.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.CreateInvoice(ctx, orphan, change("CreateInvoice"))
	}); err == nil {
		t.Error("CreateInvoice with an unknown debtor succeeded")
	}

	mustTx(t, s, func(ctx context.Context, tx store.Tx) error {
		cur, err := tx.LockInvoice(ctx, inv.ID)
		if err != nil {
			return err
		}
		cur.Paid = 40000
		cur.AgreedRate = nil
		cur.CancelReason = ""
		cur.UpdateTime = t0.Add(time.Minute)
		cur.Derive()
		return tx.UpdateInvoice(ctx, cur, change("RecordPayment"))
	})
	got, _ = s.GetInvoice(ctx, inv.ID)
	if got.Paid != 40000 || got.Outstanding() != 60000 || got.AgreedRate != nil || got.Version != 2 {
		t.Errorf("after update: paid %d outstanding %d rate %v version %d", got.Paid, got.Outstanding(), got.AgreedRate, got.Version)
	}
	if got.DebtorID != debtor.ID || got.DocumentRef != "INV-1" || !got.CreateTime.Equal(t0) {
		t.Errorf("update changed identity fields: %+v", got)
	}
}

func testInvoiceListFiltersAndPages(t *testing.T, s store.Store) {
	ctx := context.Background()
	d1 := party("CN", "D1", "350100")
	d2 := party("CN", "D2", "350100")
	d3 := party("CN", "D3", "350100")
	c := party("CN", "C1", "110000")
	createParties(t, s, d1, d2, d3, c)
	var all []*ledger.Invoice
	for i := 0; i < 7; i++ {
		d := d1
		if i%2 == 1 {
			d = d2
		}
		inv := invoice(d, c, fmt.Sprintf("INV-%d", i), civil.MustNew(2025, 1, 1).AddDays(10*i))
		if i == 6 {
			inv.Amount.Currency = "EUR"
			inv.CancelledOn = civil.MustNew(2025, 6, 1)
			inv.Derive()
		}
		all = append(all, inv)
	}
	// One without a due date (no term agreed), of a debtor of its own.
	all = append(all, invoice(d3, c, "INV-7", civil.Date{}))
	createInvoices(t, s, all...)
	cond := func(op store.Op, d civil.Date) []store.DateCond { return []store.DateCond{{Op: op, Value: d}} }
	for _, tc := range []struct {
		desc string
		q    store.InvoiceQuery
		want []string
	}{
		{"debtor", store.InvoiceQuery{Scope: everything, DebtorID: d2.ID}, []string{"INV-1", "INV-3", "INV-5"}},
		{"creditor", store.InvoiceQuery{Scope: everything, CreditorID: c.ID, Page: store.Page{Limit: 2}}, []string{"INV-0", "INV-1"}},
		{"due from", store.InvoiceQuery{Scope: everything, DueDate: cond(store.OpGe, civil.MustNew(2025, 2, 10))}, []string{"INV-4", "INV-5", "INV-6"}},
		{"due before", store.InvoiceQuery{Scope: everything, DueDate: cond(store.OpLt, civil.MustNew(2025, 1, 11))}, []string{"INV-0"}},
		{"due range", store.InvoiceQuery{Scope: everything, DueDate: append(cond(store.OpGt, civil.MustNew(2025, 1, 1)), cond(store.OpLe, civil.MustNew(2025, 1, 21))...)}, []string{"INV-1", "INV-2"}},
		// Without a due date, an invoice is not due on any given day:
		// "!=" holds for it, the orderings do not.
		{"due not", store.InvoiceQuery{Scope: everything, DueDate: cond(store.OpNe, civil.MustNew(2025, 1, 11))}, []string{"INV-0", "INV-2", "INV-3", "INV-4", "INV-5", "INV-6", "INV-7"}},
		{"status", store.InvoiceQuery{Scope: everything, Status: []store.StringCond{{Op: store.OpEq, Value: "CANCELLED"}}}, []string{"INV-6"}},
		{"status not", store.InvoiceQuery{Scope: everything, DebtorID: d1.ID, Status: []store.StringCond{{Op: store.OpNe, Value: "OPEN"}}}, []string{"INV-6"}},
		{"currency", store.InvoiceQuery{Scope: everything, Currency: []store.StringCond{{Op: store.OpEq, Value: "EUR"}}}, []string{"INV-6"}},
		{"document_ref", store.InvoiceQuery{Scope: everything, DocumentRef: []store.StringCond{{Op: store.OpEq, Value: "INV-3"}}}, []string{"INV-3"}},
		// Rows changed after ChangedAfter pass the stored-field conditions
		// (their caller checks them on what it shows); others do not.
		{"status, changed since", store.InvoiceQuery{Scope: everything, DebtorID: d1.ID, Status: []store.StringCond{{Op: store.OpEq, Value: "CANCELLED"}},
			ChangedAfter: t0.Add(-time.Microsecond)}, []string{"INV-0", "INV-2", "INV-4", "INV-6"}},
		{"status, unchanged since", store.InvoiceQuery{Scope: everything, DebtorID: d1.ID, Status: []store.StringCond{{Op: store.OpEq, Value: "CANCELLED"}},
			ChangedAfter: t0}, []string{"INV-6"}},
		{"document_ref, changed since", store.InvoiceQuery{Scope: everything, DocumentRef: []store.StringCond{{Op: store.OpEq, Value: "INV-3"}},
			ChangedAfter: t0.Add(-time.Microsecond)}, []string{"INV-3"}},
	} {
		got, err := s.ListInvoices(ctx, tc.q)
		if err != nil {
			t.Fatalf("%s: %v", tc.desc, err)
		}
		if diff := cmp.Diff(tc.want, ids(got)); diff != "" {
			t.Errorf("%s: (-want +got)\n%s", tc.desc, diff)
		}
	}
	// Walking pages of 3 visits every invoice once, in id order.
	var walked []string
	var after uuid.UUID
	for {
		page, err := s.ListInvoices(ctx, store.InvoiceQuery{Scope: everything, Page: store.Page{AfterID: after, Limit: 3}})
		if err != nil {
			t.Fatal(err)
		}
		walked = append(walked, ids(page)...)
		if len(page) < 3 {
			break
		}
		after = page[len(page)-1].ID
	}
	if diff := cmp.Diff(ids(all), walked); diff != "" {
		t.Errorf("paging: (-want +got)\n%s", diff)
	}
}

func testCreditNotes(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, _, inv := fixture(t, s)
	var cns []*ledger.CreditNote
	for i := 0; i < 3; i++ {
		cns = append(cns, &ledger.CreditNote{ID: newID(), InvoiceID: inv.ID, Amount: int64(100 * (i + 1)),
			IssuedOn: civil.MustNew(2025, 6, 1+i), Reference: fmt.Sprintf("CN-%d", i), Reason: "short delivery", CreateTime: t0})
	}
	mustTx(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, cn := range cns {
			if err := tx.CreateCreditNote(ctx, cn, changeOn(inv, "CreateCreditNote")); err != nil {
				return err
			}
		}
		return nil
	})
	got, err := s.GetCreditNote(ctx, cns[1].ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(cns[1], got); diff != "" {
		t.Errorf("GetCreditNote (-want +got):\n%s", diff)
	}
	_, err = s.GetCreditNote(ctx, newID())
	wantErr(t, "GetCreditNote(unknown)", err, ledger.ErrNotFound)
	page, err := s.ListCreditNotes(ctx, inv.ID, store.Page{AfterID: cns[0].ID, Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"CN-1", "CN-2"}, ids(page)); diff != "" {
		t.Errorf("ListCreditNotes (-want +got):\n%s", diff)
	}
}

func payment(inv *ledger.Invoice, ref string, amount int64, on civil.Date) *ledger.Payment {
	return &ledger.Payment{ID: newID(), InvoiceID: inv.ID, DebtorID: inv.DebtorID, Amount: amount, Currency: inv.Amount.Currency,
		PaidOn: on, Reference: ref, Instrument: ledger.InstrumentTransfer, State: ledger.PaymentRecorded,
		CreateTime: t0, UpdateTime: t0}
}

func testPayments(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, _, inv := fixture(t, s)
	p1 := payment(inv, "PAY-1", 1000, civil.MustNew(2025, 6, 1))
	p2 := payment(inv, "PAY-2", 2000, civil.MustNew(2025, 6, 15))
	p2.Instrument, p2.MaturityOn = ledger.InstrumentCommercialBill, civil.MustNew(2025, 12, 15)
	mustTx(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.CreatePayment(ctx, p1, changeOn(inv, "RecordPayment")); err != nil {
			return err
		}
		return tx.CreatePayment(ctx, p2, changeOn(inv, "RecordPayment"))
	})
	got, err := s.GetPayment(ctx, p2.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(p2, got); diff != "" {
		t.Errorf("GetPayment (-want +got):\n%s", diff)
	}
	got, err = s.GetPaymentByReference(ctx, inv.DebtorID, "PAY-1")
	if err != nil || got.ID != p1.ID {
		t.Errorf("GetPaymentByReference = %v, %v", got, err)
	}
	_, err = s.GetPaymentByReference(ctx, newID(), "PAY-1")
	wantErr(t, "GetPaymentByReference(other debtor)", err, ledger.ErrNotFound)
	_, err = s.GetPayment(ctx, newID())
	wantErr(t, "GetPayment(unknown)", err, ledger.ErrNotFound)

	// A duplicate reference is a lost race to the store: the transaction
	// retries (and the service then finds the first payment).
	err = s.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.CreatePayment(ctx, payment(inv, "PAY-1", 5, civil.MustNew(2025, 6, 2)), changeOn(inv, "RecordPayment"))
	})
	wantErr(t, "CreatePayment(duplicate reference)", err, ledger.ErrConflict)

	mustTx(t, s, func(ctx context.Context, tx store.Tx) error {
		p, err := tx.GetPayment(ctx, p1.ID)
		if err != nil {
			return err
		}
		p.State, p.ReversedOn, p.ReversalReason = ledger.PaymentReversed, civil.MustNew(2025, 6, 20), "bounced"
		return tx.UpdatePayment(ctx, p, changeOn(inv, "ReversePayment"))
	})
	for _, tc := range []struct {
		desc string
		q    store.PaymentQuery
		want []string
	}{
		{"all", store.PaymentQuery{InvoiceID: inv.ID}, []string{"PAY-1", "PAY-2"}},
		{"state", store.PaymentQuery{InvoiceID: inv.ID, State: []store.StringCond{{Op: store.OpEq, Value: "REVERSED"}}}, []string{"PAY-1"}},
		{"paid_on", store.PaymentQuery{InvoiceID: inv.ID, PaidOn: []store.DateCond{{Op: store.OpGe, Value: civil.MustNew(2025, 6, 2)}}}, []string{"PAY-2"}},
		{"reference", store.PaymentQuery{InvoiceID: inv.ID, Reference: []store.StringCond{{Op: store.OpEq, Value: "PAY-2"}}}, []string{"PAY-2"}},
		{"other invoice", store.PaymentQuery{InvoiceID: newID()}, []string{}},
	} {
		got, err := s.ListPayments(ctx, tc.q)
		if err != nil {
			t.Fatalf("%s: %v", tc.desc, err)
		}
		if diff := cmp.Diff(tc.want, ids(got)); diff != "" {
			t.Errorf("%s: (-want +got)\n%s", tc.desc, diff)
		}
	}
	got, _ = s.GetPayment(ctx, p1.ID)
	if got.State != ledger.PaymentReversed || got.ReversedOn != civil.MustNew(2025, 6, 20) || got.Version != 2 {
		t.Errorf("reversed payment = %+v", got)
	}

	// In bulk, by reference: the debtor's own, whole, and nothing for a
	// reference no payment uses or another debtor.
	byRef, err := s.PaymentsByReference(ctx, inv.DebtorID, []string{"PAY-2", "PAY-1", "PAY-9"})
	if err != nil {
		t.Fatal(err)
	}
	if len(byRef) != 2 || byRef["PAY-9"] != nil {
		t.Errorf("PaymentsByReference: %d payments: %v", len(byRef), byRef)
	}
	if diff := cmp.Diff(p2, byRef["PAY-2"]); diff != "" {
		t.Errorf("PaymentsByReference PAY-2 (-want +got):\n%s", diff)
	}
	if byRef["PAY-1"] == nil || byRef["PAY-1"].State != ledger.PaymentReversed {
		t.Errorf("PaymentsByReference PAY-1 = %+v", byRef["PAY-1"])
	}
	if other, err := s.PaymentsByReference(ctx, newID(), []string{"PAY-1"}); err != nil || len(other) != 0 {
		t.Errorf("PaymentsByReference(other debtor) = %v, %v", other, err)
	}

	// In bulk: each payment with its revision, effective on the day paid,
	// and its audit event, placed under the invoice's creditor.
	p3, p4 := payment(inv, "PAY-3", 300, civil.MustNew(2025, 6, 21)), payment(inv, "PAY-4", 400, civil.MustNew(2025, 6, 22))
	mustTx(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.CreatePayments(ctx, []*ledger.Payment{p3, p4}, map[uuid.UUID]uuid.UUID{inv.ID: inv.CreditorID}, change("RecordPayment"))
	})
	for _, p := range []*ledger.Payment{p3, p4} {
		got, err := s.GetPayment(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(p, got); diff != "" || got.Version != 1 {
			t.Errorf("CreatePayments %s (-want +got):\n%s", p.Reference, diff)
		}
		revs, err := s.ListRevisions(ctx, p.ID, 0, 10)
		if err != nil || len(revs) != 1 || revs[0].EffectiveOn != p.PaidOn || revs[0].Method != "RecordPayment" {
			t.Errorf("revisions of %s: %+v, %v", p.Reference, revs, err)
		}
	}
	evs, err := s.ListChainEvents(ctx, inv.DebtorID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	placed := 0
	for _, e := range evs {
		if (e.ResourceID == p3.ID || e.ResourceID == p4.ID) && e.Creditor == inv.CreditorID && e.Revision == 1 {
			placed++
		}
	}
	if placed != 2 {
		t.Errorf("%d of the 2 bulk payments' audit events are under the creditor", placed)
	}
	err = s.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.CreatePayments(ctx, []*ledger.Payment{payment(inv, "PAY-3", 5, civil.MustNew(2025, 6, 2))},
			map[uuid.UUID]uuid.UUID{inv.ID: inv.CreditorID}, change("RecordPayment"))
	})
	wantErr(t, "CreatePayments(duplicate reference)", err, ledger.ErrConflict)
}

func testDisputes(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, _, inv := fixture(t, s)
	d := &ledger.Dispute{ID: newID(), InvoiceID: inv.ID, Amount: 500, Reason: "damaged goods",
		OpenedOn: civil.MustNew(2025, 6, 5), State: ledger.DisputeOpen, CreateTime: t0, UpdateTime: t0}
	mustTx(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.CreateDispute(ctx, d, changeOn(inv, "OpenDispute"))
	})
	got, err := s.GetDispute(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(d, got); diff != "" {
		t.Errorf("GetDispute (-want +got):\n%s", diff)
	}
	cn := &ledger.CreditNote{ID: newID(), InvoiceID: inv.ID, Amount: 500, IssuedOn: civil.MustNew(2025, 6, 9), Reference: "CN-D", Reason: "dispute", CreateTime: t0}
	mustTx(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.CreateCreditNote(ctx, cn, changeOn(inv, "ResolveDispute")); err != nil {
			return err
		}
		cur, err := tx.GetDispute(ctx, d.ID)
		if err != nil {
			return err
		}
		cur.State, cur.Resolution, cur.ResolvedOn, cur.CreditNoteID = ledger.DisputeResolved, ledger.ResolutionCredited, civil.MustNew(2025, 6, 9), cn.ID
		return tx.UpdateDispute(ctx, cur, changeOn(inv, "ResolveDispute"))
	})
	got, _ = s.GetDispute(ctx, d.ID)
	if got.State != ledger.DisputeResolved || got.CreditNoteID != cn.ID || got.Version != 2 {
		t.Errorf("resolved dispute = %+v", got)
	}
	open, err := s.ListDisputes(ctx, store.DisputeQuery{InvoiceID: inv.ID, State: []store.StringCond{{Op: store.OpEq, Value: "OPEN"}}})
	if err != nil || len(open) != 0 {
		t.Errorf("open disputes = %v, %v; want none", ids(open), err)
	}
	_, err = s.GetDispute(ctx, newID())
	wantErr(t, "GetDispute(unknown)", err, ledger.ErrNotFound)
}

func testRevisions(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, _, inv := fixture(t, s)
	for i := 1; i <= 2; i++ {
		mustTx(t, s, func(ctx context.Context, tx store.Tx) error {
			cur, err := tx.LockInvoice(ctx, inv.ID)
			if err != nil {
				return err
			}
			cur.ContractRef = fmt.Sprintf("C-%d", i+1)
			c := change("UpdateInvoice")
			c.EffectiveOn = civil.MustNew(2025, 7, i)
			c.RecordTime = t0.Add(time.Duration(i) * time.Hour)
			return tx.UpdateInvoice(ctx, cur, c)
		})
	}
	revs, err := s.ListRevisions(ctx, inv.ID, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(revs) != 3 {
		t.Fatalf("got %d revisions, want 3", len(revs))
	}
	for i, r := range revs {
		if r.Revision != int64(i+1) || r.ResourceType != ledger.ResourceInvoice || r.ResourceID != inv.ID {
			t.Errorf("revision %d = %+v", i, r)
		}
	}
	if revs[2].EffectiveOn != civil.MustNew(2025, 7, 2) || !revs[2].RecordTime.Equal(t0.Add(2*time.Hour)) || revs[2].Method != "UpdateInvoice" {
		t.Errorf("last revision metadata = %+v", revs[2])
	}
	// Each snapshot keeps the value of its time: nothing was overwritten.
	for i, want := range []string{`"contract_ref":"C-1"`, `"contract_ref":"C-2"`, `"contract_ref":"C-3"`} {
		if !contains(string(revs[i].Snapshot), want) {
			t.Errorf("revision %d snapshot lacks %s: %s", i+1, want, revs[i].Snapshot)
		}
	}
	later, err := s.ListRevisions(ctx, inv.ID, 2, 10)
	if err != nil || len(later) != 1 || later[0].Revision != 3 {
		t.Errorf("ListRevisions after 2 = %v, %v", later, err)
	}
	// RevisionsAt reads those named, as ListRevisions has them, and no
	// others; one not stored is absent.
	k := func(id uuid.UUID, rev int64) store.RevisionKey {
		return store.RevisionKey{ResourceID: id, Revision: rev}
	}
	at, err := s.RevisionsAt(ctx, []store.RevisionKey{k(inv.ID, 2), k(inv.ID, 4), k(newID(), 1)})
	if err != nil || len(at) != 1 || at[k(inv.ID, 2)] == nil || !reflect.DeepEqual(at[k(inv.ID, 2)], revs[1]) {
		t.Errorf("RevisionsAt revision 2, 4 and an unknown record's 1 = %v, %v; want revision 2 alone, as %+v", at, err, revs[1])
	}
	if at, err := s.RevisionsAt(ctx, nil); err != nil || len(at) != 0 {
		t.Errorf("RevisionsAt nothing = %v, %v", at, err)
	}
}

// testBulkCreates: CreateInvoices writes the invoices, each with its
// revision, audit event and escalation row as scheduled (a date left zero
// is none), and their payments; escalation rows that do not pair with the
// invoices write nothing.
func testBulkCreates(t *testing.T, s store.Store) {
	ctx := context.Background()
	debtor, creditor, _ := fixture(t, s)
	a := invoice(debtor, creditor, "BULK-1", civil.MustNew(2025, 7, 15))
	b := invoice(debtor, creditor, "BULK-2", civil.MustNew(2025, 6, 15))
	pay := &ledger.Payment{ID: newID(), InvoiceID: b.ID, DebtorID: debtor.ID, Amount: 40000, Currency: "CNY",
		PaidOn: civil.MustNew(2025, 6, 1), Reference: "BULK-P", Instrument: ledger.InstrumentTransfer,
		State: ledger.PaymentRecorded, CreateTime: t0, UpdateTime: t0}
	b.Paid = pay.Amount
	b.Derive()
	checks := []ledger.Escalation{{Level: 2, NextCheck: civil.MustNew(2025, 8, 1), CheckedOn: civil.MustNew(2025, 7, 1)}, {}}
	err := s.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.CreateInvoices(ctx, []*ledger.Invoice{a, b}, checks[:1], nil, change("SyncPayables"))
	})
	if err == nil {
		t.Fatal("CreateInvoices took one escalation row for two invoices")
	}
	if _, err := s.GetInvoice(ctx, a.ID); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("a refused CreateInvoices wrote an invoice: %v", err)
	}
	// More than one batch of rows, where an engine without COPY inserts
	// several per statement.
	all := []*ledger.Invoice{a, b}
	for i := range 70 {
		inv := invoice(debtor, creditor, fmt.Sprintf("BULK-MORE-%d", i), civil.MustNew(2025, 7, 1).AddDays(i))
		inv.ContractRef, inv.Amount.Minor = fmt.Sprintf("C-%d", i), int64(1000+i)
		inv.Derive()
		all = append(all, inv)
		checks = append(checks, ledger.Escalation{Level: i % 3, NextCheck: civil.MustNew(2025, 7, 2).AddDays(i)})
	}
	mustTx(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.CreateInvoices(ctx, all, checks, []*ledger.Payment{pay}, change("SyncPayables"))
	})
	for i, inv := range all[2:] {
		want := ledger.Escalation{InvoiceID: inv.ID, DebtorID: debtor.ID, CreditorID: creditor.ID, Level: i % 3,
			NextCheck: civil.MustNew(2025, 7, 2).AddDays(i), Version: 1}
		if e, err := s.GetEscalation(ctx, inv.ID); err != nil || *e != want {
			t.Errorf("escalation %+v (%v), want %+v", e, err, want)
		}
	}
	for _, w := range all {
		got, err := s.GetInvoice(ctx, w.ID)
		if err != nil || w.Version != 1 || !reflect.DeepEqual(got, w) {
			t.Errorf("read back %+v (%v)\nwrote %+v", got, err, w)
		}
	}
	want := []ledger.Escalation{
		{InvoiceID: a.ID, DebtorID: debtor.ID, CreditorID: creditor.ID, Level: 2, NextCheck: civil.MustNew(2025, 8, 1), CheckedOn: civil.MustNew(2025, 7, 1), Version: 1},
		{InvoiceID: b.ID, DebtorID: debtor.ID, CreditorID: creditor.ID, Version: 1},
	}
	for _, w := range want {
		if e, err := s.GetEscalation(ctx, w.InvoiceID); err != nil || *e != w {
			t.Errorf("escalation %+v (%v), want %+v", e, err, w)
		}
	}
	if ps, err := s.PaymentsByReference(ctx, debtor.ID, []string{"BULK-P"}); err != nil || ps["BULK-P"] == nil || ps["BULK-P"].InvoiceID != b.ID {
		t.Errorf("payment: %v, %v", ps, err)
	}
	revs, err := s.RevisionsOf(ctx, []uuid.UUID{a.ID, b.ID, pay.ID})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []uuid.UUID{a.ID, b.ID, pay.ID} {
		if len(revs[id]) != 1 || revs[id][0].Method != "SyncPayables" {
			t.Errorf("revisions of %s: %+v", id, revs[id])
		}
	}
	evs, err := s.ListChainEvents(ctx, debtor.ID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	audited := map[uuid.UUID]bool{}
	for _, e := range evs {
		audited[e.ResourceID] = true
		if e.Method == "SyncPayables" && e.Changes != audit.InRevision {
			t.Errorf("the creation of %s %s stores its snapshot again in its event: %s", e.ResourceType, e.ResourceID, e.Changes)
		}
	}
	if !audited[a.ID] || !audited[b.ID] || !audited[pay.ID] {
		t.Errorf("audit chain lacks a created record: %+v", evs)
	}
	// The feed shows each created record as its first revision has it.
	ids := []uuid.UUID{pay.ID}
	for _, inv := range all {
		ids = append(ids, inv.ID)
	}
	if revs, err = s.RevisionsOf(ctx, ids); err != nil {
		t.Fatal(err)
	}
	feed, err := s.ListEvents(ctx, store.EventQuery{Scope: auth.Scope{Debtors: []uuid.UUID{debtor.ID}}, Until: t0.Add(time.Hour), Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	shown := 0
	for _, e := range feed {
		if r := revs[e.ResourceID]; len(r) == 1 {
			shown++
			if e.Changes != string(r[0].Snapshot) {
				t.Errorf("feed shows the creation of %s as %q, want %s", e.ResourceID, e.Changes, r[0].Snapshot)
			}
		}
	}
	if shown != len(ids) {
		t.Errorf("feed shows %d of the %d created records", shown, len(ids))
	}
}

// twoInvoices is fixture with a second invoice of the same parties.
func twoInvoices(t *testing.T, s store.Store) (debtor, creditor *ledger.Party, first, second *ledger.Invoice) {
	debtor, creditor, first = fixture(t, s)
	second = invoice(debtor, creditor, "INV-2", civil.MustNew(2025, 6, 30))
	createInvoices(t, s, second)
	return debtor, creditor, first, second
}

// testDueEscalations: the due listing pages by (next_check, invoice) from
// a cursor, in order, each row once; rows with no next check, or one after
// the horizon, are not listed.
func testDueEscalations(t *testing.T, s store.Store) {
	ctx := context.Background()
	debtor, creditor, _ := fixture(t, s)
	checks := []civil.Date{civil.MustNew(2025, 7, 2), civil.MustNew(2025, 7, 1), civil.MustNew(2025, 7, 2), {},
		civil.MustNew(2025, 7, 1), civil.MustNew(2025, 7, 9), civil.MustNew(2025, 7, 2)}
	var want []store.DueCursor
	for i, on := range checks {
		inv := invoice(debtor, creditor, fmt.Sprintf("DUE-%d", i), civil.MustNew(2025, 6, 30))
		createInvoices(t, s, inv)
		mustTx(t, s, func(ctx context.Context, tx store.Tx) error {
			return tx.PutEscalation(ctx, &ledger.Escalation{InvoiceID: inv.ID, DebtorID: debtor.ID, CreditorID: creditor.ID, NextCheck: on})
		})
		if !on.IsZero() && !on.After(civil.MustNew(2025, 7, 5)) {
			want = append(want, store.DueCursor{On: on, ID: inv.ID})
		}
	}
	slices.SortFunc(want, func(a, b store.DueCursor) int {
		if c := a.On.Compare(b.On); c != 0 {
			return c
		}
		return bytes.Compare(a.ID[:], b.ID[:])
	})
	var got []store.DueCursor
	var after store.DueCursor
	for page := 0; page < 10; page++ {
		due, err := s.DueEscalations(ctx, civil.MustNew(2025, 7, 5), after, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range due {
			got = append(got, store.DueCursor{On: e.NextCheck, ID: e.InvoiceID})
		}
		if len(due) < 2 {
			break
		}
		after = got[len(got)-1]
	}
	if !slices.Equal(got, want) {
		t.Errorf("due rows by page of 2:\n got %v\nwant %v", got, want)
	}
}

// testDueComplaints: the due complaints are listed by key, from the
// columns, so one whose document cannot be decoded (damaged, or a newer
// release's) does not hide those due after it from the sweep.
func testDueComplaints(t *testing.T, s store.Store) {
	ctx := context.Background()
	debtor, creditor, inv := fixture(t, s)
	var want []store.DueCursor
	for i := range 3 {
		cp := &complaint.Complaint{ID: newID(), Complainant: creditor.ID, Debtor: debtor.ID, Invoices: []uuid.UUID{inv.ID}, Summary: "unpaid",
			State: complaint.Submitted, SubmittedOn: t0Date(), StateSince: t0Date(), Currency: "CNY", NextCheck: t0Date().AddDays(10 - i),
			CreateTime: t0, UpdateTime: t0}
		mustTx(t, s, func(ctx context.Context, tx store.Tx) error {
			return tx.CreateComplaint(ctx, cp, changeOn(inv, "test"))
		})
		want = append([]store.DueCursor{{On: cp.NextCheck, ID: cp.ID}}, want...)
	}
	db, ok := s.(interface{ DB() *sql.DB })
	if !ok {
		t.Skip("no SQL handle to damage a document with")
	}
	if _, err := db.DB().ExecContext(ctx, `UPDATE complaints SET data = '{"state": 7}' WHERE id = $1`, want[0].ID.String()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetComplaint(ctx, want[0].ID); err == nil {
		t.Fatal("the damaged document was read")
	}
	got, err := s.DueComplaints(ctx, t0Date().AddDays(30), store.DueCursor{}, 10)
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("due complaints: %v, %v; want %v", got, err, want)
	}
}

// testEscalationsInBulk: the sweeper's bulk reads return what the single
// reads do, keyed by invoice (unknown ids absent); PutEscalations moves
// every row or, one being stale, none; AddEscalationEvents writes events in
// bulk, each audited.
func testEscalationsInBulk(t *testing.T, s store.Store) {
	ctx := context.Background()
	debtor, creditor, first, second := twoInvoices(t, s)
	mustTx(t, s, func(ctx context.Context, tx store.Tx) error {
		for i, inv := range []*ledger.Invoice{first, second} {
			e := &ledger.Escalation{InvoiceID: inv.ID, DebtorID: debtor.ID, CreditorID: creditor.ID, Level: i, NextCheck: civil.MustNew(2025, 7, 1+i)}
			if err := tx.PutEscalation(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	// A new row for an invoice that has one already is a conflict, and
	// leaves the copy new: rerun, it inserts (and conflicts) again rather
	// than updating the row another writer made.
	again := &ledger.Escalation{InvoiceID: first.ID, DebtorID: debtor.ID, CreditorID: creditor.ID, Level: 3, NextCheck: civil.MustNew(2025, 7, 9)}
	err := s.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error { return tx.PutEscalation(ctx, again) })
	wantErr(t, "a second new escalation row", err, ledger.ErrConflict)
	if again.Version != 0 {
		t.Errorf("a new escalation row that conflicted is at version %d, want 0 (still new)", again.Version)
	}
	ids := []uuid.UUID{first.ID, second.ID, newID()}
	invs, err := s.InvoicesOf(ctx, ids)
	if err != nil || len(invs) != 2 {
		t.Fatalf("InvoicesOf: %d, %v", len(invs), err)
	}
	escs, err := s.EscalationsOf(ctx, ids)
	if err != nil || len(escs) != 2 {
		t.Fatalf("EscalationsOf: %d, %v", len(escs), err)
	}
	for _, inv := range []*ledger.Invoice{first, second} {
		one, err := s.GetInvoice(ctx, inv.ID)
		if err != nil || !reflect.DeepEqual(invs[inv.ID], one) {
			t.Errorf("InvoicesOf gave %+v, GetInvoice %+v (%v)", invs[inv.ID], one, err)
		}
		e, err := s.GetEscalation(ctx, inv.ID)
		if err != nil || *escs[inv.ID] != *e {
			t.Errorf("EscalationsOf gave %+v, GetEscalation %+v (%v)", escs[inv.ID], e, err)
		}
	}
	// One stale row: nothing moves.
	stale := *escs[first.ID]
	stale.Version++ // not the version stored
	fresh := *escs[second.ID]
	fresh.Level = 7
	err = s.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.PutEscalations(ctx, []*ledger.Escalation{&fresh, &stale})
	})
	wantErr(t, "stale PutEscalations", err, ledger.ErrConflict)
	if e, _ := s.GetEscalation(ctx, second.ID); e.Level != 1 || e.Version != 1 {
		t.Errorf("a refused PutEscalations moved a row: %+v", e)
	}
	a, b := *escs[first.ID], *escs[second.ID]
	a.Level, a.NextCheck, a.CheckedOn = 3, civil.Date{}, civil.MustNew(2025, 7, 9)
	b.Level, b.NextCheck, b.CheckedOn = 2, civil.MustNew(2025, 8, 1), civil.MustNew(2025, 7, 9)
	mustTx(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.PutEscalations(ctx, []*ledger.Escalation{&a, &b})
	})
	for _, w := range []ledger.Escalation{a, b} {
		if w.Version != 2 {
			t.Errorf("PutEscalations left version %d, want 2", w.Version)
		}
		if e, err := s.GetEscalation(ctx, w.InvoiceID); err != nil || *e != w {
			t.Errorf("read back %+v (%v), want %+v", e, err, w)
		}
	}
	changed := &ledger.EscalationEvent{ID: newID(), InvoiceID: first.ID, Kind: ledger.EscalationChanged, FromLevel: 0, ToLevel: 1,
		ToLevelName: "OVERDUE", ChangedOn: civil.MustNew(2025, 6, 1), RecordTime: t0}
	corrected := &ledger.EscalationEvent{ID: newID(), InvoiceID: first.ID, Kind: ledger.EscalationCorrected, FromLevel: 0, ToLevel: 1,
		ToLevelName: "OVERDUE", ChangedOn: civil.MustNew(2025, 6, 1), Corrects: changed.ID, RecordTime: t0}
	other := &ledger.EscalationEvent{ID: newID(), InvoiceID: second.ID, Kind: ledger.EscalationChanged, FromLevel: 1, ToLevel: 2,
		ToLevelName: "LATE", ChangedOn: civil.MustNew(2025, 6, 2), RecordTime: t0}
	mustTx(t, s, func(ctx context.Context, tx store.Tx) error {
		evs := []*ledger.EscalationEvent{changed, corrected, other}
		return tx.AddEscalationEvents(ctx, evs, []store.Change{changeOn(first, "Sweep"), changeOn(first, "Sweep"), changeOn(second, "Sweep")})
	})
	hist, err := s.EscalationEventsOf(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	for _, inv := range []*ledger.Invoice{first, second} {
		one, err := s.ListEscalationEvents(ctx, inv.ID, store.Page{})
		if err != nil || !reflect.DeepEqual(hist[inv.ID], one) {
			t.Errorf("EscalationEventsOf gave %+v, ListEscalationEvents %+v (%v)", hist[inv.ID], one, err)
		}
	}
	if got := hist[first.ID]; len(got) != 2 || *got[0] != *changed || *got[1] != *corrected {
		t.Errorf("events of the first: %+v", got)
	}
	if audited := chainEventsOf(t, s, debtor.ID, "escalation"); audited != 3 {
		t.Errorf("%d escalation events audited, want 3", audited)
	}
}

// testBulkUpdates: UpdateInvoices writes every column as UpdateInvoice
// does (nulls included), with a revision, an audit event and the
// escalation check per invoice; one stale invoice fails the lot.
func testBulkUpdates(t *testing.T, s store.Store) {
	ctx := context.Background()
	debtor, creditor, first, second := twoInvoices(t, s)
	mustTx(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.PutEscalation(ctx, &ledger.Escalation{InvoiceID: first.ID, DebtorID: debtor.ID, CreditorID: creditor.ID, NextCheck: civil.MustNew(2025, 8, 1)})
	})
	var want []*ledger.Invoice
	mustTx(t, s, func(ctx context.Context, tx store.Tx) error {
		a, err := tx.GetInvoice(ctx, first.ID)
		if err != nil {
			return err
		}
		b, err := tx.GetInvoice(ctx, second.ID)
		if err != nil {
			return err
		}
		a.ContractRef, a.Amount.Minor, a.AgreedDueDate, a.AgreedTermDays, a.AgreedRate = "C-9", 250000, civil.Date{}, 45, nil
		a.ReceivedOn, a.CorrectedOn, a.UpdateTime = civil.MustNew(2025, 5, 3), civil.MustNew(2025, 7, 1), t0.Add(time.Hour)
		b.AcceptanceRequired, b.AcceptancePeriodDays, b.AgreedRate = true, 15, &ledger.Rate{Percent: "12.5", PerDay: false}
		b.UpdateTime = t0.Add(time.Hour)
		a.Derive()
		b.Derive()
		c := change("UpdateInvoice")
		c.EffectiveOn, c.RecordTime = civil.MustNew(2025, 7, 1), t0.Add(time.Hour)
		want = []*ledger.Invoice{a, b}
		return tx.UpdateInvoices(ctx, want, c)
	})
	for _, w := range want {
		got, err := s.GetInvoice(ctx, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		if w.Version != 2 || !reflect.DeepEqual(got, w) {
			t.Errorf("read back %+v\nwrote %+v", got, w)
		}
	}
	revs, err := s.RevisionsOf(ctx, []uuid.UUID{first.ID, second.ID})
	if err != nil {
		t.Fatal(err)
	}
	if rs := revs[first.ID]; len(rs) != 2 || rs[1].Revision != 2 || rs[1].Method != "UpdateInvoice" || !contains(string(rs[1].Snapshot), `"contract_ref":"C-9"`) {
		t.Errorf("revisions of the first: %+v", rs)
	}
	if len(revs[second.ID]) != 2 {
		t.Errorf("revisions of the second: %+v", revs[second.ID])
	}
	if e, err := s.GetEscalation(ctx, first.ID); err != nil || e.NextCheck != civil.MustNew(2025, 7, 1) || e.Version != 2 {
		t.Errorf("escalation: %+v, %v", e, err)
	}
	evs, err := s.ListChainEvents(ctx, debtor.ID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range evs {
		if e.ResourceID == first.ID && e.Revision == 2 {
			found = contains(e.Changes, `"contract_ref":["C-1","C-9"]`)
		}
	}
	if !found {
		t.Errorf("no audit event says what changed: %+v", evs)
	}
	// A stale copy fails the whole call.
	stale := *first
	fresh := *want[1]
	fresh.ContractRef = "C-10"
	err = s.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateInvoices(ctx, []*ledger.Invoice{&fresh, &stale}, change("UpdateInvoice"))
	})
	wantErr(t, "stale bulk update", err, ledger.ErrConflict)
	if got, err := s.GetInvoice(ctx, second.ID); err != nil || got.Version != 2 || got.ContractRef != want[1].ContractRef {
		t.Errorf("a failed bulk update changed an invoice: %+v, %v", got, err)
	}
	// Nor the copies it was given: the transaction rerun with them would
	// otherwise conflict on the fresh one too, on one engine and not the
	// other.
	if fresh.Version != 2 {
		t.Errorf("a failed bulk update left the fresh copy at version %d, want 2 as read", fresh.Version)
	}
}

// testLookupsInBatches: the bulk reads of a sync chunk or a sweep batch
// (a thousand records and more) return every row asked for, however the
// engine splits them (SQLite binds at most a few hundred values to one
// statement; PostgreSQL takes an array); unknown keys are absent.
func testLookupsInBatches(t *testing.T, s store.Store) {
	ctx := context.Background()
	debtor, creditor, _ := fixture(t, s)
	const n, suppliers = 1100, 450
	invs := make([]*ledger.Invoice, n)
	checks := make([]ledger.Escalation, n)
	var pays []*ledger.Payment
	ids := make([]uuid.UUID, 0, n+1)
	refs, payRefs := make([]string, 0, n+1), make([]string, 0, n+1)
	for i := range invs {
		invs[i] = invoice(debtor, creditor, fmt.Sprintf("BATCH-%04d", i), civil.MustNew(2025, 6, 30))
		checks[i] = ledger.Escalation{NextCheck: civil.MustNew(2025, 7, 1)}
		pays = append(pays, payment(invs[i], fmt.Sprintf("BATCH-P%04d", i), 100, civil.MustNew(2025, 6, 1)))
		ids, refs, payRefs = append(ids, invs[i].ID), append(refs, invs[i].DocumentRef), append(payRefs, pays[i].Reference)
	}
	ids, refs, payRefs = append(ids, newID()), append(refs, "BATCH-NONE"), append(payRefs, "BATCH-PNONE")
	parties := make([]*ledger.Party, suppliers)
	keys := make([][2]string, 0, n)
	for i := range parties {
		parties[i] = party("CN", fmt.Sprintf("BATCHREG%06d", i), "350100")
		keys = append(keys, [2]string{"CN", parties[i].RegistrationID})
	}
	for i := suppliers; i < n; i++ {
		keys = append(keys, [2]string{"CN", fmt.Sprintf("BATCHREG%06d", i)}) // none such
	}
	createParties(t, s, parties...)
	mustTx(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.CreateInvoices(ctx, invs, checks, pays, change("SyncPayables"))
	})

	byRef, err := s.InvoicesByDocumentRef(ctx, debtor.ID, refs)
	if err != nil || len(byRef) != n || byRef["BATCH-1099"] == nil || byRef["BATCH-1099"].ID != invs[n-1].ID {
		t.Errorf("InvoicesByDocumentRef of %d references: %d found, %v", len(refs), len(byRef), err)
	}
	byPay, err := s.PaymentsByReference(ctx, debtor.ID, payRefs)
	if err != nil || len(byPay) != n || byPay["BATCH-P1099"] == nil || byPay["BATCH-P1099"].InvoiceID != invs[n-1].ID {
		t.Errorf("PaymentsByReference of %d references: %d found, %v", len(payRefs), len(byPay), err)
	}
	byReg, err := s.PartiesByRegistration(ctx, keys)
	if err != nil || len(byReg) != suppliers || byReg[keys[suppliers-1]] == nil || byReg[keys[suppliers-1]].ID != parties[suppliers-1].ID {
		t.Errorf("PartiesByRegistration of %d keys: %d found, want %d; %v", len(keys), len(byReg), suppliers, err)
	}
	byID, err := s.InvoicesOf(ctx, ids)
	if err != nil || len(byID) != n || byID[invs[n-1].ID] == nil {
		t.Errorf("InvoicesOf %d ids: %d found, %v", len(ids), len(byID), err)
	}
	payIDs := []uuid.UUID{newID()}
	for _, p := range pays {
		payIDs = append(payIDs, p.ID)
	}
	byPayID, err := s.PaymentsOf(ctx, payIDs)
	if err != nil || len(byPayID) != n || byPayID[pays[n-1].ID] == nil || byPayID[pays[n-1].ID].Reference != pays[n-1].Reference {
		t.Errorf("PaymentsOf %d ids: %d found, %v", len(payIDs), len(byPayID), err)
	}
	escs, err := s.EscalationsOf(ctx, ids)
	if err != nil || len(escs) != n || escs[invs[n-1].ID] == nil {
		t.Errorf("EscalationsOf %d ids: %d found, %v", len(ids), len(escs), err)
	}
	revs, err := s.RevisionsOf(ctx, ids)
	if err != nil || len(revs) != n || len(revs[invs[n-1].ID]) != 1 {
		t.Errorf("RevisionsOf %d ids: %d found, %v", len(ids), len(revs), err)
	}
	revKeys := make([]store.RevisionKey, len(ids))
	for i, id := range ids {
		revKeys[i] = store.RevisionKey{ResourceID: id, Revision: 1}
	}
	at, err := s.RevisionsAt(ctx, revKeys)
	if last := (store.RevisionKey{ResourceID: invs[n-1].ID, Revision: 1}); err != nil || len(at) != n || at[last] == nil || at[last].Method != revs[invs[n-1].ID][0].Method {
		t.Errorf("RevisionsAt %d keys: %d found, %v", len(revKeys), len(at), err)
	}
	facts, err := s.Facts(ctx, ids)
	if err != nil || facts[invs[n-1].ID] == nil || len(facts[invs[n-1].ID].Payments) != 1 {
		t.Errorf("Facts of %d ids: %v", len(ids), err)
	}
	paid := 0
	for _, f := range facts {
		paid += len(f.Payments)
	}
	if paid != n {
		t.Errorf("Facts of %d ids hold %d payments, want %d", len(ids), paid, n)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func testRequests(t *testing.T, s store.Store) {
	ctx := context.Background()
	r := &store.Request{Key: "CreateParty/abc", RequestHash: "h1", ResourceID: newID(), CreateTime: t0}
	mustTx(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutRequest(ctx, r) })
	got, err := s.GetRequest(ctx, r.Key)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, got); diff != "" {
		t.Errorf("GetRequest (-want +got):\n%s", diff)
	}
	_, err = s.GetRequest(ctx, "CreateParty/other")
	wantErr(t, "GetRequest(unknown)", err, ledger.ErrNotFound)
	err = s.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.PutRequest(ctx, &store.Request{Key: r.Key, RequestHash: "h2", ResourceID: newID(), CreateTime: t0})
	})
	wantErr(t, "PutRequest(duplicate)", err, ledger.ErrConflict)

	n, err := s.PurgeRequests(ctx, t0.Add(time.Second))
	if err != nil || n != 1 {
		t.Errorf("PurgeRequests = %d, %v; want 1", n, err)
	}
	_, err = s.GetRequest(ctx, r.Key)
	wantErr(t, "GetRequest(purged)", err, ledger.ErrNotFound)
}

// testSyncSessions: a session moves on only from the version read, and its
// rejections are kept per session, listed in sequence order after a given
// one, and each sequence once.
func testSyncSessions(t *testing.T, s store.Store) {
	ctx := context.Background()
	debtor, other := party("CN", "91350100M000100Y43", "350100"), party("CN", "91350100M000200Y45", "350100")
	createParties(t, s, debtor, other)
	sess := &store.SyncSession{DebtorID: debtor.ID, Session: "nightly", CreateTime: t0, UpdateTime: t0, ResumeCheck: "chain-0"}
	mustTx(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutSyncSession(ctx, sess) })
	if got, err := s.GetSyncSession(ctx, debtor.ID, "nightly"); err != nil || got.ResumeCheck != "chain-0" || got.Version != 1 {
		t.Fatalf("GetSyncSession after its insert: %+v, %v", got, err)
	}
	stale := *sess
	sess.AckedSeq, sess.Records, sess.UpdateTime, sess.ResumeCheck = 40, 40, t0.Add(time.Minute), "chain-40"
	mustTx(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutSyncSession(ctx, sess) })
	got, err := s.GetSyncSession(ctx, debtor.ID, "nightly")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sess, got); diff != "" {
		t.Errorf("GetSyncSession (-want +got):\n%s", diff)
	}
	stale.AckedSeq = 20
	err = s.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error { return tx.PutSyncSession(ctx, &stale) })
	wantErr(t, "PutSyncSession(stale version)", err, ledger.ErrConflict)
	_, err = s.GetSyncSession(ctx, other.ID, "nightly")
	wantErr(t, "GetSyncSession(another debtor's)", err, ledger.ErrNotFound)

	rej := func(seq int64) *store.SyncRejection {
		return &store.SyncRejection{Sequence: seq, DocumentRef: fmt.Sprintf("INV-%d", seq),
			Problems: []ledger.FieldViolation{{Field: "amount.minor_units", Description: "must be positive"}, {Field: "issued_on", Description: `"2025-13-01" is no date`}}}
	}
	var want []*store.SyncRejection
	for _, chunk := range [][]int64{{3, 7}, {12, 18, 25}} {
		var rs []*store.SyncRejection
		for _, seq := range chunk {
			rs = append(rs, rej(seq))
		}
		want = append(want, rs...)
		mustTx(t, s, func(ctx context.Context, tx store.Tx) error {
			return tx.PutSyncRejections(ctx, debtor.ID, "nightly", rs)
		})
	}
	mustTx(t, s, func(ctx context.Context, tx store.Tx) error {
		// The same sequence in another session, and another debtor's.
		if err := tx.PutSyncRejections(ctx, debtor.ID, "weekly", []*store.SyncRejection{rej(7)}); err != nil {
			return err
		}
		return tx.PutSyncRejections(ctx, other.ID, "nightly", []*store.SyncRejection{rej(7), rej(8)})
	})
	all, err := s.ListSyncRejections(ctx, debtor.ID, "nightly", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, all); diff != "" {
		t.Errorf("ListSyncRejections (-want +got):\n%s", diff)
	}
	page, err := s.ListSyncRejections(ctx, debtor.ID, "nightly", 7, 2)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want[2:4], page); diff != "" {
		t.Errorf("ListSyncRejections(after 7, 2) (-want +got):\n%s", diff)
	}
	for _, c := range []struct {
		debtor  uuid.UUID
		session string
		want    int64
	}{{debtor.ID, "nightly", 5}, {debtor.ID, "weekly", 1}, {other.ID, "nightly", 2}, {other.ID, "weekly", 0}} {
		if n, err := s.CountSyncRejections(ctx, c.debtor, c.session); err != nil || n != c.want {
			t.Errorf("CountSyncRejections(%s) = %d, %v; want %d", c.session, n, err, c.want)
		}
	}
	err = s.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.PutSyncRejections(ctx, debtor.ID, "nightly", []*store.SyncRejection{rej(30), rej(12)})
	})
	wantErr(t, "PutSyncRejections(sequence kept already)", err, ledger.ErrConflict)
	if n, err := s.CountSyncRejections(ctx, debtor.ID, "nightly"); err != nil || n != 5 {
		t.Errorf("after the refused write, CountSyncRejections = %d, %v; want 5 (nothing of it kept)", n, err)
	}

	// Sessions idle past a cutoff go with their rejections; those moved
	// since stay, with theirs.
	idle := &store.SyncSession{DebtorID: other.ID, Session: "nightly", CreateTime: t0, UpdateTime: t0}
	mustTx(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutSyncSession(ctx, idle) })
	if n, err := s.PurgeSyncSessions(ctx, t0.Add(30*time.Second)); err != nil || n != 1 {
		t.Errorf("PurgeSyncSessions = %d, %v; want the idle session", n, err)
	}
	_, err = s.GetSyncSession(ctx, other.ID, "nightly")
	wantErr(t, "GetSyncSession(purged)", err, ledger.ErrNotFound)
	for _, c := range []struct {
		debtor  uuid.UUID
		session string
		want    int64
	}{{other.ID, "nightly", 0}, {debtor.ID, "nightly", 5}, {debtor.ID, "weekly", 1}} {
		if n, err := s.CountSyncRejections(ctx, c.debtor, c.session); err != nil || n != c.want {
			t.Errorf("after the purge, CountSyncRejections(%s) = %d, %v; want %d", c.session, n, err, c.want)
		}
	}
	if _, err := s.GetSyncSession(ctx, debtor.ID, "nightly"); err != nil {
		t.Errorf("the session moved since the cutoff: %v", err)
	}
	// Many more than one transaction of the purge takes: all go, and are
	// counted.
	const many = 1234
	mustTx(t, s, func(ctx context.Context, tx store.Tx) error {
		for i := range many {
			if err := tx.PutSyncSession(ctx, &store.SyncSession{DebtorID: other.ID, Session: fmt.Sprintf("old-%d", i), CreateTime: t0, UpdateTime: t0}); err != nil {
				return err
			}
		}
		return nil
	})
	if n, err := s.PurgeSyncSessions(ctx, t0.Add(30*time.Second)); err != nil || n != many {
		t.Errorf("PurgeSyncSessions of %d idle sessions = %d, %v", many, n, err)
	}
	if _, err := s.GetSyncSession(ctx, other.ID, fmt.Sprintf("old-%d", many-1)); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("the last idle session after the purge: %v", err)
	}
	if _, err := s.GetSyncSession(ctx, debtor.ID, "nightly"); err != nil {
		t.Errorf("the session moved since the cutoff, after a second purge: %v", err)
	}
}

func testSecret(t *testing.T, s store.Store) {
	ctx := context.Background()
	a, err := s.Secret(ctx, "page-token")
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Secret(ctx, "page-token")
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Secret(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	if len(a) < 32 || string(a) != string(b) || string(a) == string(c) {
		t.Errorf("secrets: a=%x b=%x c=%x; want a == b != c, 32 bytes", a, b, c)
	}
}

// testConcurrentUpdates runs read-modify-write transactions on one invoice
// from many goroutines; with versioned updates and retries, every increment
// must survive.
func testConcurrentUpdates(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, _, inv := fixture(t, s)
	const n = 12
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
				cur, err := tx.GetInvoice(ctx, inv.ID) // deliberately not locked
				if err != nil {
					return err
				}
				cur.Paid++
				return tx.UpdateInvoice(ctx, cur, change("RecordPayment"))
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent update: %v", err)
		}
	}
	got, err := s.GetInvoice(ctx, inv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Paid != n || got.Version != n+1 {
		t.Errorf("after %d concurrent increments: paid %d version %d", n, got.Paid, got.Version)
	}
	revs, _ := s.ListRevisions(ctx, inv.ID, 0, 100)
	if len(revs) != n+1 {
		t.Errorf("revisions = %d, want %d", len(revs), n+1)
	}
}

// whileHeld runs hold in a transaction and, once hold has returned,
// other in a second one, and reports whether other ended while the first
// transaction was still open (it is kept open 300 ms, or 5 s when other is
// expected to get through), and other's error.
func whileHeld(t *testing.T, s store.Store, wait time.Duration, hold, other func(ctx context.Context, tx store.Tx) error) (during bool, otherErr error) {
	t.Helper()
	ctx := context.Background()
	held, done := make(chan struct{}), make(chan error, 1)
	go func() {
		<-held
		done <- s.ReadWriteTx(ctx, other)
	}()
	err := s.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := hold(ctx, tx); err != nil {
			return err
		}
		select {
		case <-held:
		default:
			close(held)
		}
		select {
		case err := <-done:
			during = true
			done <- err
		case <-time.After(wait):
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return during, <-done
}

// testLockedInvoiceTakesNewFacts: where writers run concurrently, a locked
// invoice does not hold off rows that merely refer to it (their foreign key
// checks): the sweeper records escalation events while a payment holds the
// invoice, and then waits on the escalation row the sweeper holds. Locking
// the invoice against key changes too made that a deadlock.
func testLockedInvoiceTakesNewFacts(t *testing.T, s store.Store) {
	if !s.ConcurrentWriters() {
		t.Skip("writers are serialized: nothing runs beside a lock")
	}
	_, _, inv := fixture(t, s)
	during, err := whileHeld(t, s, 5*time.Second, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.LockInvoice(ctx, inv.ID)
		return err
	}, func(ctx context.Context, tx store.Tx) error {
		ev := &ledger.EscalationEvent{ID: uuid.New(), InvoiceID: inv.ID, Kind: ledger.EscalationChanged, FromLevel: 0, ToLevel: 1,
			ToLevelName: "OVERDUE", ChangedOn: civil.MustNew(2025, 7, 1), RecordTime: t0}
		return tx.AddEscalationEvents(ctx, []*ledger.EscalationEvent{ev}, []store.Change{changeOn(inv, "Sweep")})
	})
	if !during {
		t.Error("an escalation event of a locked invoice waited for the lock")
	}
	if err != nil {
		t.Fatal(err)
	}
}

// testLockedPartyTakesTurns: a party locked with LockParty is not locked
// by another transaction until the first ends (writers serialized anyway
// take turns by themselves).
func testLockedPartyTakesTurns(t *testing.T, s store.Store) {
	if !s.ConcurrentWriters() {
		t.Skip("writers are serialized: each has the store to itself")
	}
	_, creditor, _ := fixture(t, s)
	lock := func(ctx context.Context, tx store.Tx) error {
		_, err := tx.LockParty(ctx, creditor.ID)
		return err
	}
	during, err := whileHeld(t, s, 300*time.Millisecond, lock, lock)
	if during {
		t.Error("a party locked by one transaction was locked by another before the first ended")
	}
	if err != nil {
		t.Fatal(err)
	}
}

// testContextEndingBeforeCommit: a transaction whose context ends after its
// last statement is not committed, and says why with the context's error
// (the API's CANCELLED), not as an internal failure: whether the end is
// met by a write the store makes at commit (the audit events) or by the
// commit itself.
func testContextEndingBeforeCommit(t *testing.T, s store.Store) {
	_, _, inv := fixture(t, s)
	for _, write := range []bool{true, false} {
		ctx, cancel := context.WithCancel(context.Background())
		err := s.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
			cur, err := tx.LockInvoice(ctx, inv.ID)
			if err != nil {
				return err
			}
			if write {
				cur.ContractRef = "HT-CANCELLED"
				if err := tx.UpdateInvoice(ctx, cur, change("UpdateInvoice")); err != nil {
					return err
				}
			}
			cancel()
			time.Sleep(20 * time.Millisecond) // database/sql notices and rolls back
			return nil
		})
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("write %v: err = %v, want %v", write, err, context.Canceled)
		}
	}
	got, err := s.GetInvoice(context.Background(), inv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ContractRef == "HT-CANCELLED" {
		t.Error("the change was committed")
	}
}

// testShareParty: a party read with ShareParty cannot be changed by another
// transaction until the reader's transaction ends.
func testShareParty(t *testing.T, s store.Store) {
	debtor, _, _ := fixture(t, s)
	during, err := whileHeld(t, s, 300*time.Millisecond, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.ShareParty(ctx, debtor.ID)
		return err
	}, func(ctx context.Context, tx store.Tx) error {
		p, err := tx.GetParty(ctx, debtor.ID)
		if err != nil {
			return err
		}
		p.RegionCode = "110000"
		return tx.UpdateParty(ctx, p, change("UpdateParty"))
	})
	if during {
		t.Error("a party read with ShareParty was changed before the reader's transaction ended")
	}
	if err != nil {
		t.Errorf("the change after the reader ended: %v", err)
	}
}

// testLockInvoices: invoices locked with LockInvoices (an id of no invoice
// among them) cannot be changed by another transaction until the locker's
// transaction ends.
func testLockInvoices(t *testing.T, s store.Store) {
	_, _, inv := fixture(t, s)
	during, err := whileHeld(t, s, 300*time.Millisecond, func(ctx context.Context, tx store.Tx) error {
		return tx.LockInvoices(ctx, []uuid.UUID{uuid.New(), inv.ID})
	}, func(ctx context.Context, tx store.Tx) error {
		cur, err := tx.GetInvoice(ctx, inv.ID)
		if err != nil {
			return err
		}
		cur.ContractRef = "HT-LOCKED"
		return tx.UpdateInvoice(ctx, cur, change("UpdateInvoice"))
	})
	if during {
		t.Error("an invoice locked with LockInvoices was changed before the locker's transaction ended")
	}
	if err != nil {
		t.Errorf("the change after the locker ended: %v", err)
	}
	// Its escalation row too, which the sweeper writes without the
	// invoice's lock.
	esc := &ledger.Escalation{InvoiceID: inv.ID, DebtorID: inv.DebtorID, CreditorID: inv.CreditorID, Level: 1, NextCheck: civil.MustNew(2025, 8, 1)}
	mustTx(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutEscalation(ctx, esc) })
	during, err = whileHeld(t, s, 300*time.Millisecond, func(ctx context.Context, tx store.Tx) error {
		return tx.LockInvoices(ctx, []uuid.UUID{inv.ID})
	}, func(ctx context.Context, tx store.Tx) error {
		next := *esc
		next.Level = 2
		return tx.PutEscalation(ctx, &next)
	})
	if during {
		t.Error("an escalation row of an invoice locked with LockInvoices was changed before the locker's transaction ended")
	}
	if err != nil {
		t.Errorf("the escalation change after the locker ended: %v", err)
	}
}

func testRollback(t *testing.T, s store.Store) {
	ctx := context.Background()
	p := party("CN", "R1", "350100")
	boom := errors.New("boom")
	err := s.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := tx.CreateParty(ctx, p, change("CreateParty")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if _, err := s.GetParty(ctx, p.ID); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("rolled-back party is visible: %v", err)
	}
	if revs, _ := s.ListRevisions(ctx, p.ID, 0, 10); len(revs) != 0 {
		t.Errorf("rolled-back revision is visible: %d", len(revs))
	}
}

// testRollbackOnPanic: a transaction whose function panics is rolled back
// as the panic leaves it, not left open with its locks held until its
// deadline (30 s): the panic reaches the caller promptly, nothing it wrote
// stays, and the next writer is not held up.
func testRollbackOnPanic(t *testing.T, s store.Store) {
	ctx := context.Background()
	p := party("CN", "RP1", "350100")
	done := make(chan any, 1)
	go func() {
		defer func() { done <- recover() }()
		_ = s.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
			if err := tx.CreateParty(ctx, p, change("CreateParty")); err != nil {
				return err
			}
			panic("boom")
		})
	}()
	select {
	case r := <-done:
		if r != "boom" {
			t.Fatalf("recovered %v, want the panic", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a panicking transaction had not returned after 10 s")
	}
	if _, err := s.GetParty(ctx, p.ID); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("the panicking transaction's party is visible: %v", err)
	}
	createParties(t, s, party("CN", "RP2", "350100"))
}

// testBeforeRetry: the function WithBeforeRetry gives runs once before each
// rerun, after the lost attempt has ended: a write it makes goes through
// (on SQLite, one writer at a time, it would wait for the attempt's lock),
// and the rerun sees it.
func testBeforeRetry(t *testing.T, s store.Store) {
	p := party("CN", "BR1", "350100")
	createParties(t, s, p)
	attempts, hooks := 0, 0
	ctx := store.WithBeforeRetry(context.Background(), func(ctx context.Context) error {
		hooks++
		if hooks != attempts {
			t.Errorf("hook %d ran after %d attempts", hooks, attempts)
		}
		hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return s.ReadWriteTx(hctx, func(ctx context.Context, tx store.Tx) error {
			cur, err := tx.GetParty(ctx, p.ID)
			if err != nil {
				return err
			}
			next := *cur
			next.DisplayName = "renamed between attempts"
			return tx.UpdateParty(ctx, &next, change("UpdateParty"))
		})
	})
	err := s.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
		attempts++
		cur, err := tx.GetParty(ctx, p.ID)
		if err != nil {
			return err
		}
		if attempts == 1 {
			next := *cur
			next.IndustryCode = "C34"
			if err := tx.UpdateParty(ctx, &next, change("UpdateParty")); err != nil {
				return err
			}
			return ledger.ErrConflict
		}
		if cur.DisplayName != "renamed between attempts" {
			t.Errorf("the rerun read %q, not the hook's write", cur.DisplayName)
		}
		return nil
	})
	if err != nil || attempts != 2 || hooks != 1 {
		t.Errorf("ReadWriteTx: %v after %d attempts and %d hooks, want nil, 2 and 1", err, attempts, hooks)
	}
}

// testSnapshotRead: a snapshot read sees the database as of its first read,
// not what commits while it runs, and does not hold up the writer.
func testSnapshotRead(t *testing.T, s store.Store) {
	p := party("CN", "SR1", "350100")
	createParties(t, s, p)
	err := s.SnapshotRead(context.Background(), func(ctx context.Context, r store.Reader) error {
		before, err := r.GetParty(ctx, p.ID)
		if err != nil {
			return err
		}
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		later := party("CN", "SR2", "350100")
		if err := s.ReadWriteTx(wctx, func(ctx context.Context, tx store.Tx) error {
			next := *before
			next.DisplayName = "renamed meanwhile"
			if err := tx.UpdateParty(ctx, &next, change("UpdateParty")); err != nil {
				return err
			}
			return tx.CreateParty(ctx, later, change("CreateParty"))
		}); err != nil {
			t.Fatalf("a write during a snapshot read: %v", err)
		}
		again, err := r.GetParty(ctx, p.ID)
		if err != nil {
			return err
		}
		if again.DisplayName != before.DisplayName {
			t.Errorf("the snapshot saw a rename committed after its first read: %q", again.DisplayName)
		}
		if _, err := r.GetParty(ctx, later.ID); !errors.Is(err, ledger.ErrNotFound) {
			t.Errorf("the snapshot saw a party created after its first read: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetParty(context.Background(), p.ID); got == nil || got.DisplayName != "renamed meanwhile" {
		t.Errorf("after the snapshot read the party is %+v", got)
	}
}

// testSummaryChangeTimeNeverBack: a profile written by a transaction whose
// clock read is older than the profile's last change keeps the later time,
// so SummaryChangedAfter still sees that change.
func testSummaryChangeTimeNeverBack(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, _, inv := fixture(t, s)
	put := func(at time.Time, isNew bool) {
		t.Helper()
		mustTx(t, s, func(ctx context.Context, tx store.Tx) error {
			return tx.PutSummaryProfiles(ctx, []store.ProfileChange{{InvoiceID: inv.ID, DebtorID: inv.DebtorID, New: isNew}}, nil, at)
		})
	}
	put(t0.Add(10*time.Second), true)
	put(t0.Add(5*time.Second), false)
	if changed, err := s.SummaryChangedAfter(ctx, t0.Add(7*time.Second)); err != nil || !changed {
		t.Errorf("SummaryChangedAfter(t0+7s) = %v, %v; want true: the change at t0+10s was counted", changed, err)
	}
}

// testSummaryNodesMarkOverflow: a change that would take an aggregate
// figure past the int64 range (either way) is not added, and marks the
// group's rows instead of failing the write or rounding the figure; the
// figures it does not take past the range are added; other groups are
// untouched. Rows whose figures sum past the range on reading say so.
func testSummaryNodesMarkOverflow(t *testing.T, s store.Store) {
	ctx := context.Background()
	debtor, _, _ := fixture(t, s)
	key := func(region string) summary.Key {
		return summary.Key{Debtor: debtor.ID.String(), Jurisdiction: "CN", Region: region, Kind: "LARGE_ENTERPRISE", Currency: "CNY"}
	}
	change := func(region string, node int32, count, amount int64) summary.NodeChange {
		c := summary.NodeChange{Key: key(region), Node: node}
		c.M[0][summary.Count], c.M[0][summary.Amount] = count, amount
		return c
	}
	add := func(cs ...summary.NodeChange) {
		t.Helper()
		mustTx(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutSummaryProfiles(ctx, nil, cs, t0) })
	}
	add(change("OVF-UP", 1, 1, math.MaxInt64-10), change("OVF-DOWN", 1, 1, math.MinInt64+10), change("OVF-NONE", 1, 1, 100),
		change("OVF-SUM", 1, 1, math.MaxInt64-10), change("OVF-SUM", 2, 1, math.MaxInt64-10),
		change("OVF-NEG", 1, 1, -7), change("OVF-NEG", 2, 1, math.MinInt64+10))
	add(change("OVF-UP", 1, 1, 20), change("OVF-DOWN", 1, 1, -20), change("OVF-NONE", 1, 1, 100))
	for _, byDebtor := range []bool{false, true} {
		nq := store.NodeQuery{Nodes: []int32{1, 2}, Jurisdiction: "CN", ByDebtor: byDebtor}
		sums, err := s.SummaryNodes(ctx, nq)
		if err != nil {
			t.Fatalf("by debtor %v: %v", byDebtor, err)
		}
		// The same read inside a transaction (which PostgreSQL ends at an
		// error) gives the same groups.
		var inTx []store.NodeSum
		if err := s.SnapshotRead(ctx, func(ctx context.Context, r store.Reader) error {
			var err error
			inTx, err = r.SummaryNodes(ctx, nq)
			return err
		}); err != nil || !reflect.DeepEqual(sortedSums(inTx), sortedSums(sums)) {
			t.Errorf("by debtor %v, in a snapshot read: %v, %v; want %v", byDebtor, inTx, err, sums)
		}
		got := map[string]store.NodeSum{}
		for _, n := range sums {
			got[n.Key.Region] = n
		}
		for region, want := range map[string]struct {
			count, amount    int64
			marked, overflow bool
		}{
			"OVF-UP":   {2, math.MaxInt64 - 10, true, false},
			"OVF-DOWN": {2, math.MinInt64 + 10, true, false},
			"OVF-NONE": {2, 200, false, false},
			"OVF-SUM":  {2, 0, false, true}, // the amount has no total
			"OVF-NEG":  {2, math.MinInt64 + 3, false, false},
		} {
			n, ok := got[region]
			if !ok || n.M[0][summary.Count] != want.count || (!want.overflow && n.M[0][summary.Amount] != want.amount) ||
				n.Marked != want.marked || n.Overflow != want.overflow {
				t.Errorf("by debtor %v, %s: count %d, amount %d, marked %v, overflow %v (found %v); want %d, %d, %v, %v", byDebtor, region,
					n.M[0][summary.Count], n.M[0][summary.Amount], n.Marked, n.Overflow, ok, want.count, want.amount, want.marked, want.overflow)
			}
		}
	}
}

// sortedSums orders summary groups by key, as engines return them in any.
func sortedSums(ns []store.NodeSum) []store.NodeSum {
	ns = slices.Clone(ns)
	slices.SortFunc(ns, func(a, b store.NodeSum) int {
		return strings.Compare(a.Key.Debtor+"|"+a.Key.Region+"|"+a.Key.Currency, b.Key.Debtor+"|"+b.Key.Region+"|"+b.Key.Currency)
	})
	return ns
}

// chainEventsOf counts the events about resources of type typ in a chain's
// first 100.
func chainEventsOf(t *testing.T, s store.Store, chain uuid.UUID, typ string) int {
	t.Helper()
	evs, err := s.ListChainEvents(context.Background(), chain, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.ResourceType == typ {
			n++
		}
	}
	return n
}

// testSupplierDocuments: claims, contests and complaints are kept as
// documents beside the columns lists and the sweeper read; they read back
// as written, an update checks the version, and the columns agree with the
// document (DocColumnsDiffer, which audit verification relies on).
func testSupplierDocuments(t *testing.T, s store.Store) {
	debtor, creditor, inv := fixture(t, s)
	ctx := context.Background()
	cl := &complaint.Claim{ID: newID(), Creditor: creditor.ID, Debtor: debtor.ID, DocumentRef: "CL-1", Amount: 1000, Currency: "CNY",
		IssuedOn: t0Date(), Evidence: []string{"contract"}, State: complaint.ClaimSubmitted, SubmittedOn: t0Date(), CreateTime: t0, UpdateTime: t0}
	ct := &complaint.Contest{ID: newID(), InvoiceID: inv.ID, Creditor: creditor.ID, Debtor: debtor.ID, Kind: "AMOUNT_DIFFERS", Detail: "x",
		State: complaint.ContestOpen, OpenedOn: t0Date(), CreateTime: t0, UpdateTime: t0}
	cp := &complaint.Complaint{ID: newID(), Complainant: creditor.ID, Debtor: debtor.ID, Invoices: []uuid.UUID{inv.ID}, Summary: "unpaid",
		State: complaint.Submitted, SubmittedOn: t0Date(), StateSince: t0Date(), Currency: "CNY", NextCheck: t0Date().AddDays(14), CreateTime: t0, UpdateTime: t0}
	mustTx(t, s, func(ctx context.Context, tx store.Tx) error {
		c := changeOn(inv, "test")
		if err := tx.CreateClaim(ctx, cl, c); err != nil {
			return err
		}
		if err := tx.CreateContest(ctx, ct, c); err != nil {
			return err
		}
		return tx.CreateComplaint(ctx, cp, c)
	})
	// A complaint moved on, and a stale copy refused.
	stale := *cp
	cp.State, cp.NextCheck = complaint.Accepted, t0Date().AddDays(20)
	mustTx(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateComplaint(ctx, cp, changeOn(inv, "test"))
	})
	err := s.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateComplaint(ctx, &stale, changeOn(inv, "test"))
	})
	wantErr(t, "updating a stale complaint", err, ledger.ErrConflict)

	gotCl, err := s.GetClaim(ctx, cl.ID)
	if err != nil || gotCl.DocumentRef != "CL-1" || gotCl.Version != 1 {
		t.Errorf("claim read back: %+v, %v", gotCl, err)
	}
	gotCt, err := s.GetContest(ctx, ct.ID)
	if err != nil || gotCt.InvoiceID != inv.ID || gotCt.State != complaint.ContestOpen {
		t.Errorf("contest read back: %+v, %v", gotCt, err)
	}
	gotCp, err := s.GetComplaint(ctx, cp.ID)
	if err != nil || gotCp.State != complaint.Accepted || gotCp.Version != 2 || gotCp.NextCheck != t0Date().AddDays(20) {
		t.Errorf("complaint read back: %+v, %v", gotCp, err)
	}
	// A regulator sees the complaints its parties receive or handle,
	// wherever the debtor is (a remit elsewhere), and follows a handover.
	receiver, handler, successor := newID(), newID(), newID()
	cp.ReceivingRegulator, cp.HandlingRegulator = receiver, handler
	mustTx(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateComplaint(ctx, cp, changeOn(inv, "test"))
	})
	listed := func(regs ...uuid.UUID) bool {
		cs, err := s.ListComplaints(ctx, store.SupplierQuery{Scope: auth.Scope{Remit: &auth.Remit{Jurisdiction: "GB"}, Regulators: regs}})
		if err != nil {
			t.Fatal(err)
		}
		return len(cs) == 1 && cs[0].ID == cp.ID
	}
	if !listed(receiver) || !listed(handler) || listed(successor) || listed() {
		t.Errorf("complaint received by r1, handled by r2: listed for r1 %v, r2 %v, another %v, none %v", listed(receiver), listed(handler), listed(successor), listed())
	}
	cp.HandlingRegulator = successor
	mustTx(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateComplaint(ctx, cp, changeOn(inv, "test"))
	})
	if !listed(successor) || listed(handler) {
		t.Errorf("after the handover: listed for the new handler %v, the old %v", listed(successor), listed(handler))
	}
	for typ, id := range map[ledger.ResourceType]uuid.UUID{ledger.ResourceClaim: cl.ID, ledger.ResourceContest: ct.ID, ledger.ResourceComplaint: cp.ID} {
		if col, err := s.DocColumnsDiffer(ctx, typ, id); err != nil || col != "" {
			t.Errorf("%s columns against its document: %q, %v", typ, col, err)
		}
		_, err := s.DocColumnsDiffer(ctx, typ, newID())
		wantErr(t, "the columns of a "+string(typ)+" that does not exist", err, ledger.ErrNotFound)
	}
}
