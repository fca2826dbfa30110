package service_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/auth"
	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/money"
	"github.com/arrears/arrears/internal/policy"
	"github.com/arrears/arrears/internal/service"
	"github.com/arrears/arrears/internal/store"
)

// TestSyncCorrectionMatchesUpdateInvoice: a synced record that changes a
// known invoice is saved in bulk with the chunk's others; what it writes
// (the invoice, its revision, audit event, escalation check and summary
// profile) is what UpdateInvoice writes for the same change, and a change
// UpdateInvoice would refuse is refused, naming the field, and changes
// nothing.
func TestSyncCorrectionMatchesUpdateInvoice(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, open, d(2025, 9, 1))
			rec := f.record
			pay := service.SyncPayment{Payment: ledger.Payment{Amount: 300000, Currency: "CNY", PaidOn: d(2025, 8, 1), Reference: "SC-PAY-1"}}
			ids := f.created(t, "c", rec(1, "SC-1", 500000, 30), rec(2, "SC-2", 500000, 30), rec(3, "SC-3", 500000, 30, pay))
			// SC-2 is corrected by hand, SC-1 by the sync, the same way.
			if _, err := f.a.UpdateInvoice(admin, ids[1], &ledger.Invoice{Amount: money.Money{Minor: 600000, Currency: "CNY"}, AgreedTermDays: 45},
				[]string{"amount", "agreed_term_days"}, "", d(2025, 9, 1), ""); err != nil {
				t.Fatal(err)
			}
			res, _, err := f.a.SyncChunk(admin, f.debtor.ID, "c", []service.SyncRecord{
				rec(4, "SC-1", 600000, 45), rec(5, "SC-3", 200000, 30)})
			if err != nil {
				t.Fatal(err)
			}
			if r := res[0]; r.Outcome != service.SyncUpdated || !slices.Equal(r.Changed, []string{"amount", "agreed_term_days"}) || r.InvoiceID != ids[0] {
				t.Fatalf("correction: %+v", r)
			}
			if r := res[1]; r.Outcome != service.SyncRejected || len(r.Violations) != 1 || r.Violations[0].Field != "amount.minor_units" {
				t.Fatalf("amount below what is paid: %+v", r)
			}
			synced, byHand := f.get(t, ids[0]), f.get(t, ids[1])
			if synced.Version != 2 || synced.CorrectedOn != d(2025, 9, 1) || synced.Amount.Minor != 600000 {
				t.Fatalf("synced correction: %+v", synced)
			}
			same := *synced
			same.ID, same.DocumentRef = byHand.ID, byHand.DocumentRef
			if ja, jb := mustJSON(t, same), mustJSON(t, byHand); ja != jb {
				t.Fatalf("synced and hand-made corrections differ:\n%s\n%s", ja, jb)
			}
			if refused := f.get(t, ids[2]); refused.Version != 1 || refused.Amount.Minor != 500000 {
				t.Fatalf("a refused correction changed the invoice: %+v", refused)
			}

			ctx := admin
			revs, err := f.sb.RevisionsOf(ctx, ids[:2])
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range ids[:2] {
				rs := revs[id]
				if len(rs) != 2 || rs[1].Method != "UpdateInvoice" || rs[1].EffectiveOn != d(2025, 9, 1) || rs[1].Revision != 2 {
					t.Fatalf("revisions of %s: %+v", id, rs)
				}
			}
			for _, id := range ids[:2] {
				e, err := f.sb.GetEscalation(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if e.NextCheck != d(2025, 9, 1) || e.Version != 2 {
					t.Fatalf("escalation of %s not brought forward: %+v", id, e)
				}
			}
			// The audit events say the same changes.
			changes := map[uuid.UUID]string{}
			evs, err := f.sb.ListChainEvents(ctx, f.debtor.ID, 0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range evs {
				if e.Revision == 2 && e.ResourceType == string(ledger.ResourceInvoice) {
					changes[e.ResourceID] = e.Changes
				}
			}
			if changes[ids[0]] == "" || changes[ids[0]] != changes[ids[1]] {
				t.Fatalf("audit changes differ:\n%s\n%s", changes[ids[0]], changes[ids[1]])
			}
			checkAudit(t, f.a, f.sb)
			// Both count alike in the summary aggregates, which the
			// summary tests compare with the judged summary.
			profiles, err := lockProfiles(t, f.sb, ids[:2])
			if err != nil {
				t.Fatal(err)
			}
			if profiles[ids[0]] == "" || profiles[ids[0]] != profiles[ids[1]] {
				t.Fatalf("summary profiles differ:\n%v\n%v", profiles[ids[0]], profiles[ids[1]])
			}
		})
	}
}

// record is a sync record of an invoice of f's creditor in CNY, signed on
// 1 June 2025 and issued and delivered on 10 June.
func (f *fixture) record(seq int64, ref string, amount int64, term int, pays ...service.SyncPayment) service.SyncRecord {
	return service.SyncRecord{Sequence: seq, Creditor: f.creditor, Payments: pays, Invoice: &ledger.Invoice{DocumentRef: ref,
		Amount: money.Money{Minor: amount, Currency: "CNY"}, ContractSignedOn: d(2025, 6, 1), IssuedOn: d(2025, 6, 10),
		DeliveredOn: d(2025, 6, 10), AgreedTermDays: term}}
}

// created syncs one chunk whose records must all be created, and returns
// their invoices' ids.
func (f *fixture) created(t *testing.T, session string, recs ...service.SyncRecord) []uuid.UUID {
	t.Helper()
	res, _, err := f.a.SyncChunk(admin, f.debtor.ID, session, recs)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]uuid.UUID, len(res))
	for i, r := range res {
		if r.Outcome != service.SyncCreated {
			t.Fatalf("record %d: %+v", i, r)
		}
		ids[i] = r.InvoiceID
	}
	return ids
}

func (f *fixture) get(t *testing.T, id uuid.UUID) *ledger.Invoice {
	t.Helper()
	inv, err := f.a.GetInvoice(admin, id)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// checkAudit signs a checkpoint and verifies every chain against it.
func checkAudit(t *testing.T, l *service.Ledger, s store.Store) {
	t.Helper()
	pub, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.SignCheckpoint(admin, key, 0); err != nil {
		t.Fatal(err)
	}
	rep, err := service.VerifyAudit(admin, s, pub)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) > 0 {
		t.Fatalf("audit: %v", rep.Problems)
	}
}

// lockProfiles reads the stored summary profiles of invoices.
func lockProfiles(t *testing.T, s store.Store, ids []uuid.UUID) (map[uuid.UUID]string, error) {
	out := map[uuid.UUID]string{}
	err := s.ReadWriteTx(admin, func(ctx context.Context, tx store.Tx) error {
		ps, err := tx.LockSummaryProfiles(ctx, ids)
		for id, p := range ps {
			out[id] = mustJSON(t, p)
		}
		return err
	})
	return out, err
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSyncCreatesNewSuppliersWithTheirFirstInvoice: suppliers the ledger
// does not know are created unverified, in bulk, only if one of their
// invoices is accepted; the rest of their invoices then load in bulk too.
func TestSyncCreatesNewSuppliersWithTheirFirstInvoice(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, open, d(2025, 9, 1))
			good, bad := service.PartyRef{Jurisdiction: "CN", RegistrationID: uscc(t, "92350102MA0NEW001")},
				service.PartyRef{Jurisdiction: "CN", RegistrationID: uscc(t, "92350102MA0NEW002")}
			rec := func(seq int64, ref string, who service.PartyRef, term int) service.SyncRecord {
				return service.SyncRecord{Sequence: seq, Creditor: who, CreditorName: "New " + ref, CreditorSize: ledger.SizeSmall,
					Invoice: &ledger.Invoice{DocumentRef: ref, Amount: money.Money{Minor: 500000, Currency: "CNY"},
						ContractSignedOn: d(2025, 6, 1), IssuedOn: d(2025, 6, 10), DeliveredOn: d(2025, 6, 10), AgreedTermDays: term}}
			}
			third := service.PartyRef{Jurisdiction: "CN", RegistrationID: uscc(t, "92350102MA0NEW003")}
			res, _, err := f.a.SyncChunk(admin, f.debtor.ID, "", []service.SyncRecord{
				rec(1, "NS-1", good, 30), rec(2, "NS-2", good, 45), rec(3, "NS-3", bad, -5), rec(4, "NS-4", third, -5), rec(5, "NS-5", third, 30)})
			if err != nil {
				t.Fatal(err)
			}
			if res[0].Outcome != service.SyncCreated || res[1].Outcome != service.SyncCreated || res[2].Outcome != service.SyncRejected ||
				res[3].Outcome != service.SyncRejected || res[4].Outcome != service.SyncCreated {
				t.Fatalf("results: %+v", res)
			}
			// Made from its first accepted record, not the refused one
			// before it.
			if p, err := f.a.GetParty(admin, third); err != nil || p.DisplayName != "New NS-5" {
				t.Fatalf("supplier of a refused then an accepted record: %+v, %v", p, err)
			}
			if len(res[2].Violations) == 0 || res[2].Violations[0].Field != "agreed_term_days" {
				t.Fatalf("rejected record's violations: %+v", res[2].Violations)
			}
			p, err := f.a.GetParty(admin, good)
			if err != nil {
				t.Fatal(err)
			}
			if !p.Unverified || p.DisplayName != "New NS-1" || p.RegionCode != "350102" {
				t.Fatalf("new supplier: %+v", p)
			}
			for _, id := range []uuid.UUID{res[0].InvoiceID, res[1].InvoiceID} {
				if inv := f.get(t, id); inv.CreditorID != p.ID {
					t.Fatalf("invoice %s owed to %s, want %s", inv.DocumentRef, inv.CreditorID, p.ID)
				}
			}
			if _, err := f.a.GetParty(admin, bad); !errors.Is(err, ledger.ErrNotFound) {
				t.Fatalf("the supplier of a refused invoice: %v", err)
			}
			// A supplier's first record taken one by one (a bill, paid at
			// maturity) comes before its next, plain one: the supplier is
			// made from the first, as record by record, not the second.
			who := service.PartyRef{Jurisdiction: "CN", RegistrationID: uscc(t, "92350102MA0NEW005")}
			first, second := rec(7, "NS-7", who, 30), rec(8, "NS-8", who, 30)
			first.Payments = []service.SyncPayment{{Payment: ledger.Payment{Amount: 1000, Currency: "CNY", PaidOn: d(2025, 8, 1), Reference: "NS-BILL",
				Instrument: ledger.InstrumentCommercialBill, MaturityOn: d(2025, 10, 1)}}}
			second.CreditorName, second.CreditorSize = "Renamed", ledger.SizeLarge
			res, _, err = f.a.SyncChunk(admin, f.debtor.ID, "", []service.SyncRecord{first, second})
			if err != nil || res[0].Outcome != service.SyncCreated || res[1].Outcome != service.SyncCreated {
				t.Fatalf("a new supplier's records, the first one by one: %+v, %v", res, err)
			}
			if p, err := f.a.GetParty(admin, who); err != nil || p.DisplayName != "New NS-7" || p.SizeClass != ledger.SizeSmall {
				t.Fatalf("the supplier made: %+v, %v; want it from the first record", p, err)
			}
			// A new supplier's problems are named as the record holds them.
			nameless := rec(6, "NS-6", service.PartyRef{Jurisdiction: "CN", RegistrationID: uscc(t, "92350102MA0NEW004")}, 30)
			nameless.CreditorName = ""
			res, _, err = f.a.SyncChunk(admin, f.debtor.ID, "", []service.SyncRecord{nameless})
			if err != nil || res[0].Outcome != service.SyncRejected || len(res[0].Violations) != 1 || res[0].Violations[0].Field != "creditor_name" {
				t.Fatalf("a new supplier without a name: %+v, %v", res, err)
			}
			checkAudit(t, f.a, f.sb)
		})
	}
}

// TestRegionMoveDuringSyncKeepsAggregates: a debtor moves region a dozen
// times while a sync of its invoices runs two chunks at a time; afterwards
// the aggregate summary equals the judged one. (The sync computes profiles
// from the debtor's region before it writes, and ShareParty keeps a move
// from committing in between; only a race with the last move would show
// here, so the store conformance test checks the lock itself.)
func TestRegionMoveDuringSyncKeepsAggregates(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, open, d(2025, 9, 1))
			if err := f.a.PrepareSummaries(admin); err != nil {
				t.Fatal(err)
			}
			stream := f.a.NewSyncStream(f.debtor.ID, "move")
			done := make(chan error, 1)
			go func() {
				var wg sync.WaitGroup
				errs := make(chan error, 40)
				for c := 0; c < 40; c++ {
					var recs []service.SyncRecord
					for i := 0; i < 25; i++ {
						n := c*25 + i
						recs = append(recs, service.SyncRecord{Sequence: int64(n + 1), Creditor: f.creditor, Invoice: &ledger.Invoice{
							DocumentRef: fmt.Sprintf("MV-%04d", n), Amount: money.Money{Minor: int64(100000 + n), Currency: "CNY"},
							ContractSignedOn: d(2025, 5, 1), IssuedOn: d(2025, 5, 10), DeliveredOn: d(2025, 5, 10), AgreedTermDays: 30}})
					}
					wg.Add(1)
					// Chunks take their places in order and run two at a
					// time, as the stream handler runs them.
					call := stream.Reserve(recs)
					go func() {
						defer wg.Done()
						_, _, err := call.Run(admin)
						errs <- err
					}()
					if c%2 == 1 {
						wg.Wait()
					}
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					if err != nil {
						done <- err
						return
					}
				}
				done <- nil
			}()
			regions := []string{"350100", "110000", "310000", "440100"}
			for i := 0; i < 12; i++ {
				if _, err := f.b.UpdateParty(admin, f.debtor, &ledger.Party{RegionCode: regions[i%len(regions)]}, []string{"region_code"}, ""); err != nil {
					t.Fatal(err)
				}
				time.Sleep(time.Duration(5+i%7) * time.Millisecond)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			q := service.SummaryQuery{AsOf: d(2025, 9, 1), GroupBy: []string{"region"}}
			fast, detailed, err := f.a.OverdueSummary(admin, q)
			if err != nil || detailed {
				t.Fatalf("aggregates: %v (judged: %v)", err, detailed)
			}
			q.Detail = true
			judged, _, err := f.a.OverdueSummary(admin, q)
			if err != nil {
				t.Fatal(err)
			}
			sameGroups(t, "after region moves during a sync", fast, judged)
		})
	}
}

// TestSyncRepeatsRecordedPayments: a resync of known invoices whose
// payments are all recorded already (one reversed, as the record says)
// reports them unchanged and writes nothing; a new payment beside them is
// recorded, and a payment under a recorded reference with other content is
// refused, as RecordPayment refuses it.
func TestSyncRepeatsRecordedPayments(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, open, d(2025, 9, 1))
			pay := func(ref string, amount int64) service.SyncPayment {
				return service.SyncPayment{Payment: ledger.Payment{Amount: amount, Currency: "CNY", PaidOn: d(2025, 8, 1), Reference: ref}}
			}
			rec := func(seq int64, ref string, pays ...service.SyncPayment) service.SyncRecord {
				return f.record(seq, ref, 500000, 30, pays...)
			}
			ids := f.created(t, "", rec(1, "RP-1", pay("RP-PAY-1", 100000)), rec(2, "RP-2", pay("RP-PAY-2", 50000)), rec(3, "RP-3"),
				rec(4, "RP-4", pay("RP-PAY-4", 70000)), rec(5, "RP-5", pay("RP-PAY-5", 30000)))
			p2, err := f.sb.GetPaymentByReference(admin, f.get(t, ids[1]).DebtorID, "RP-PAY-2")
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := f.a.ReversePayment(admin, ids[1], p2.ID, d(2025, 8, 20), "bounced", ""); err != nil {
				t.Fatal(err)
			}
			events := func() int {
				evs, err := f.sb.ListEvents(admin, store.EventQuery{Scope: auth.Scope{All: true}, Until: time.Now().Add(time.Hour), Limit: 10000})
				if err != nil {
					t.Fatal(err)
				}
				return len(evs)
			}
			before := events()
			versions := func() []int64 {
				var vs []int64
				for _, id := range ids {
					vs = append(vs, f.get(t, id).Version)
				}
				return vs
			}
			was := versions()

			reversed := pay("RP-PAY-2", 50000)
			reversed.ReversedOn, reversed.ReversalReason = d(2025, 8, 20), "bounced"
			reverse := pay("RP-PAY-5", 30000)
			reverse.ReversedOn, reverse.ReversalReason = d(2025, 8, 25), "recalled"
			res, _, err := f.a.SyncChunk(admin, f.debtor.ID, "", []service.SyncRecord{
				rec(6, "RP-1", pay("RP-PAY-1", 100000)), rec(7, "RP-2", reversed), rec(8, "RP-3", pay("RP-PAY-3", 20000)),
				rec(9, "RP-4", pay("RP-PAY-4", 70001)), rec(10, "RP-5", reverse)})
			if err != nil {
				t.Fatal(err)
			}
			if res[0].Outcome != service.SyncUnchanged || res[1].Outcome != service.SyncUnchanged {
				t.Fatalf("recorded payments again: %+v %+v", res[0], res[1])
			}
			if res[2].Outcome != service.SyncUpdated || !slices.Equal(res[2].Changed, []string{"payments[0]:recorded"}) {
				t.Fatalf("a new payment of a known invoice: %+v", res[2])
			}
			if res[3].Outcome != service.SyncRejected || len(res[3].Violations) == 0 {
				t.Fatalf("a recorded reference with other content: %+v", res[3])
			}
			if res[4].Outcome != service.SyncUpdated || !slices.Equal(res[4].Changed, []string{"payments[0]:reversed"}) {
				t.Fatalf("a recorded payment the record reverses: %+v", res[4])
			}
			now := versions()
			if now[0] != was[0] || now[1] != was[1] || now[3] != was[3] || now[2] == was[2] || now[4] == was[4] {
				t.Fatalf("invoice versions %v, then %v: only RP-3 and RP-5 should move", was, now)
			}
			if paid := f.get(t, ids[2]).Paid; paid != 20000 {
				t.Fatalf("RP-3 paid %d", paid)
			}
			// RP-3's new payment and RP-5's reversal, each with its
			// invoice's change: four events, no more.
			if after := events(); after != before+4 {
				t.Fatalf("%d audit events written, want 4", after-before)
			}
			checkAudit(t, f.a, f.sb)
		})
	}
}

// TestSyncPaymentMatchesRecordPayment: a new payment of a known invoice,
// synced in bulk with the chunk's others, writes what RecordPayment
// writes for the same payment: the payment, the invoice's paid total and
// status, their revisions (the invoice's effective on the day paid), audit
// changes, escalation check and summary profile.
func TestSyncPaymentMatchesRecordPayment(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, open, d(2025, 9, 1))
			rec := func(seq int64, ref string, pays ...service.SyncPayment) service.SyncRecord {
				return f.record(seq, ref, 500000, 30, pays...)
			}
			pay := func(ref string, on civil.Date) ledger.Payment {
				return ledger.Payment{Amount: 200000, Currency: "CNY", PaidOn: on, Reference: ref}
			}
			ids := f.created(t, "", rec(1, "PM-1"), rec(2, "PM-2"), rec(3, "PM-3"), rec(4, "PM-4"))
			// PM-1 and PM-3 paid by the sync, on two days; PM-2 and PM-4 by
			// hand, the same way.
			res, _, err := f.a.SyncChunk(admin, f.debtor.ID, "", []service.SyncRecord{
				rec(5, "PM-1", service.SyncPayment{Payment: pay("PM-PAY-1", d(2025, 8, 1))}),
				rec(6, "PM-3", service.SyncPayment{Payment: pay("PM-PAY-3", d(2025, 8, 20))})})
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range res {
				if r.Outcome != service.SyncUpdated || !slices.Equal(r.Changed, []string{"payments[0]:recorded"}) || r.InvoiceID != ids[2*i] {
					t.Fatalf("record %d: %+v", i, r)
				}
			}
			f.inBulk(t, ids[0], "PM-PAY-3")
			for i, on := range []civil.Date{d(2025, 8, 1), d(2025, 8, 20)} {
				p := pay(fmt.Sprintf("PM-PAY-%d", 2*i+2), on)
				if _, _, err := f.a.RecordPayment(admin, ids[2*i+1], &p); err != nil {
					t.Fatal(err)
				}
			}
			ctx := admin
			for i := 0; i < 4; i += 2 {
				if synced := f.get(t, ids[i]); synced.Paid != 200000 || synced.Version != 2 {
					t.Fatalf("synced payment: %+v", synced)
				}
				if revs := f.sameAsByHand(t, ids[i], ids[i+1], 2); revs[1].EffectiveOn != d(2025, 8, 1+19*(i/2)) {
					t.Fatalf("the payment's revision takes effect on %s", revs[1].EffectiveOn)
				}
				pa, err := f.sb.GetPaymentByReference(ctx, f.get(t, ids[i]).DebtorID, fmt.Sprintf("PM-PAY-%d", i+1))
				if err != nil {
					t.Fatal(err)
				}
				pb, err := f.sb.GetPaymentByReference(ctx, f.get(t, ids[i]).DebtorID, fmt.Sprintf("PM-PAY-%d", i+2))
				if err != nil {
					t.Fatal(err)
				}
				prs, err := f.sb.RevisionsOf(ctx, []uuid.UUID{pa.ID, pb.ID})
				if err != nil {
					t.Fatal(err)
				}
				for _, id := range []uuid.UUID{pa.ID, pb.ID} {
					if rs := prs[id]; len(rs) != 1 || rs[0].Method != "RecordPayment" || rs[0].EffectiveOn != pb.PaidOn {
						t.Fatalf("revisions of payment %s: %+v", id, rs)
					}
				}
				pa.ID, pa.InvoiceID, pa.Reference = pb.ID, pb.InvoiceID, pb.Reference
				if ja, jb := mustJSON(t, pa), mustJSON(t, pb); ja != jb {
					t.Fatalf("payments differ:\n%s\n%s", ja, jb)
				}
			}
			checkAudit(t, f.a, f.sb)
		})
	}
}

// inBulk checks that the chunk's records went the bulk way: there the
// payment paid, of the chunk's second record, is audited before the first
// record's invoice is revised (all new payments of a step are created,
// then their invoices updated); one by one, the first record's invoice
// would be revised before the second record's payment is created.
func (f *fixture) inBulk(t *testing.T, first uuid.UUID, paid string) {
	t.Helper()
	p, err := f.sb.GetPaymentByReference(admin, f.debtor.ID, paid)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := f.sb.ListChainEvents(admin, f.debtor.ID, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	seq := func(id uuid.UUID, revision int64) int64 {
		for _, e := range evs {
			if e.ResourceID == id && e.Revision == revision {
				return e.Seq
			}
		}
		t.Fatalf("no audit event of %s revision %d", id, revision)
		return 0
	}
	if seq(p.ID, 1) > seq(first, 2) {
		t.Errorf("payment %s was audited after the first record's invoice was revised: the records went one by one", paid)
	}
}

// sameAsByHand checks that invoice synced, changed by a sync, and invoice
// byHand, changed the same way through single calls, hold the same: the
// invoice (but its id and reference), n revisions made by the same
// methods and taking effect on the same days, the audit trail's changes,
// the escalation row and the summary profile. It returns synced's
// revisions.
func (f *fixture) sameAsByHand(t *testing.T, synced, byHand uuid.UUID, n int) []*ledger.Revision {
	t.Helper()
	ctx := admin
	a, b := f.get(t, synced), f.get(t, byHand)
	same := *a
	same.ID, same.DocumentRef = b.ID, b.DocumentRef
	if ja, jb := mustJSON(t, same), mustJSON(t, b); ja != jb {
		t.Fatalf("invoices changed by sync and by hand differ:\n%s\n%s", ja, jb)
	}
	revs, err := f.sb.RevisionsOf(ctx, []uuid.UUID{synced, byHand})
	if err != nil {
		t.Fatal(err)
	}
	ra, rb := revs[synced], revs[byHand]
	if len(ra) != n || len(rb) != n {
		t.Fatalf("revisions: %d synced, %d by hand, want %d", len(ra), len(rb), n)
	}
	for k := range ra {
		if ra[k].Method != rb[k].Method || ra[k].EffectiveOn != rb[k].EffectiveOn {
			t.Fatalf("revision %d: synced %s on %s, by hand %s on %s", k+1, ra[k].Method, ra[k].EffectiveOn, rb[k].Method, rb[k].EffectiveOn)
		}
	}
	evs, err := f.sb.ListChainEvents(ctx, f.debtor.ID, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	changes := map[uuid.UUID][]string{}
	for _, e := range evs {
		if e.ResourceType == string(ledger.ResourceInvoice) && e.Revision > 1 {
			changes[e.ResourceID] = append(changes[e.ResourceID], e.Changes)
		}
	}
	if len(changes[synced]) != n-1 || !slices.Equal(changes[synced], changes[byHand]) {
		t.Fatalf("audit changes differ:\n%v\n%v", changes[synced], changes[byHand])
	}
	ea, err := f.sb.GetEscalation(ctx, synced)
	if err != nil {
		t.Fatal(err)
	}
	eb, err := f.sb.GetEscalation(ctx, byHand)
	if err != nil {
		t.Fatal(err)
	}
	if ea.NextCheck != eb.NextCheck || ea.Version != eb.Version || ea.Level != eb.Level {
		t.Fatalf("escalations differ: %+v, %+v", ea, eb)
	}
	profiles, err := lockProfiles(t, f.sb, []uuid.UUID{synced, byHand})
	if err != nil {
		t.Fatal(err)
	}
	if profiles[synced] == "" || profiles[synced] != profiles[byHand] {
		t.Fatalf("summary profiles differ:\n%v\n%v", profiles[synced], profiles[byHand])
	}
	return ra
}

// TestSyncRefusesCorrectingACancelledInvoice: a record that would correct
// a cancelled invoice is rejected naming the fields, as UpdateInvoice
// refuses the correction, by the bulk way and the record's way (a record
// carrying the cancellation); the same record as the ledger holds it is
// UNCHANGED.
func TestSyncRefusesCorrectingACancelledInvoice(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, open, d(2025, 9, 1))
			ids := f.created(t, "", f.record(1, "CX-1", 500000, 30))
			if _, err := f.a.CancelInvoice(admin, ids[0], d(2025, 8, 20), "ordered twice", ""); err != nil {
				t.Fatal(err)
			}
			same := f.record(2, "CX-1", 500000, 30)
			changed := f.record(3, "CX-1", 400000, 30)
			cancelling := f.record(4, "CX-1", 400000, 30)
			cancelling.CancelledOn, cancelling.CancelReason = d(2025, 8, 20), "ordered twice"
			for _, tc := range []struct {
				rec  service.SyncRecord
				want service.SyncOutcome
			}{{same, service.SyncUnchanged}, {changed, service.SyncRejected}, {cancelling, service.SyncRejected}} {
				res, _, err := f.a.SyncChunk(admin, f.debtor.ID, "", []service.SyncRecord{tc.rec})
				if err != nil {
					t.Fatal(err)
				}
				if r := res[0]; r.Outcome != tc.want || (tc.want == service.SyncRejected && (len(r.Violations) != 1 || r.Violations[0].Field != "amount")) {
					t.Errorf("record %d for a cancelled invoice: %+v, want %s", tc.rec.Sequence, r, tc.want)
				}
			}
			// The cancellation as the ledger holds it is UNCHANGED; on
			// another date or for another reason it is rejected naming
			// the field, not passed over.
			for i, tc := range []struct {
				on     civil.Date
				reason string
				want   string
			}{{d(2025, 8, 20), "ordered twice", ""}, {d(2025, 8, 20), "", ""}, {d(2025, 8, 21), "ordered twice", "cancelled_on"}, {d(2025, 8, 20), "wrong goods", "cancel_reason"}} {
				rec := f.record(int64(10+i), "CX-1", 500000, 30)
				rec.CancelledOn, rec.CancelReason = tc.on, tc.reason
				res, _, err := f.a.SyncChunk(admin, f.debtor.ID, "", []service.SyncRecord{rec})
				if err != nil {
					t.Fatal(err)
				}
				r := res[0]
				if tc.want == "" && r.Outcome != service.SyncUnchanged || tc.want != "" && (r.Outcome != service.SyncRejected || len(r.Violations) != 1 || r.Violations[0].Field != tc.want) {
					t.Errorf("cancelled on %s for %q again: %+v, want %q named", tc.on, tc.reason, r, tc.want)
				}
			}
			if inv := f.get(t, ids[0]); inv.Amount.Minor != 500000 || inv.Version != 2 {
				t.Errorf("the cancelled invoice: amount %d at version %d, want 500000 at 2", inv.Amount.Minor, inv.Version)
			}
			// A cancellation without its reason is rejected naming the
			// record's field, not CancelInvoice's.
			unexplained := f.record(5, "CX-2", 500000, 30)
			unexplained.CancelledOn = d(2025, 8, 20)
			res, _, err := f.a.SyncChunk(admin, f.debtor.ID, "", []service.SyncRecord{unexplained})
			if err != nil {
				t.Fatal(err)
			}
			if r := res[0]; r.Outcome != service.SyncRejected || len(r.Violations) != 1 || r.Violations[0].Field != "cancel_reason" {
				t.Errorf("a cancellation without a reason: %+v", r)
			}
			// So is a payment's reversal without its reason.
			pay := service.SyncPayment{Payment: ledger.Payment{Amount: 100000, Currency: "CNY", PaidOn: d(2025, 8, 1), Reference: "CX-PAY-1"}}
			f.created(t, "", f.record(6, "CX-3", 500000, 30, pay))
			pay.ReversedOn = d(2025, 8, 20)
			res, _, err = f.a.SyncChunk(admin, f.debtor.ID, "", []service.SyncRecord{f.record(7, "CX-3", 500000, 30, pay)})
			if err != nil {
				t.Fatal(err)
			}
			if r := res[0]; r.Outcome != service.SyncRejected || len(r.Violations) != 1 || r.Violations[0].Field != "payments[0].reversal_reason" {
				t.Errorf("a reversal without a reason: %+v", r)
			}
			// Reversed with its reason; then the same reversal again is
			// UNCHANGED, and one re-dated or re-argued is rejected naming
			// the field.
			for i, tc := range []struct {
				on     civil.Date
				reason string
				want   service.SyncOutcome
				field  string
			}{
				{d(2025, 8, 20), "the transfer was returned", service.SyncUpdated, ""},
				{d(2025, 8, 20), "the transfer was returned", service.SyncUnchanged, ""},
				{d(2025, 8, 20), "", service.SyncUnchanged, ""},
				{d(2025, 8, 21), "the transfer was returned", service.SyncRejected, "payments[0].reversed_on"},
				{d(2025, 8, 20), "a cheque bounced", service.SyncRejected, "payments[0].reversal_reason"},
			} {
				pay.ReversedOn, pay.ReversalReason = tc.on, tc.reason
				res, _, err = f.a.SyncChunk(admin, f.debtor.ID, "", []service.SyncRecord{f.record(int64(20+i), "CX-3", 500000, 30, pay)})
				if err != nil {
					t.Fatal(err)
				}
				if r := res[0]; r.Outcome != tc.want || (tc.field != "" && (len(r.Violations) != 1 || r.Violations[0].Field != tc.field)) {
					t.Errorf("reversed on %s for %q: %+v, want %s %s", tc.on, tc.reason, r, tc.want, tc.field)
				}
			}
		})
	}
}

// TestSyncLowersAmountWithTheReversalThatAllowsIt: an invoice paid in
// full, then a record lowering its amount below that payment and reversing
// it (the ERP's correction of a wrong invoice and its payment): applied,
// the reversal first. Lowered without the reversal, it is still refused.
func TestSyncLowersAmountWithTheReversalThatAllowsIt(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, open, d(2025, 9, 1))
			full := service.SyncPayment{Payment: ledger.Payment{Amount: 500000, Currency: "CNY", PaidOn: d(2025, 8, 1), Reference: "LO-PAY-1"}}
			ids := f.created(t, "", f.record(1, "LO-1", 500000, 30, full))
			res, _, err := f.a.SyncChunk(admin, f.debtor.ID, "", []service.SyncRecord{f.record(2, "LO-1", 300000, 30, full)})
			if err != nil {
				t.Fatal(err)
			}
			if r := res[0]; r.Outcome != service.SyncRejected || len(r.Violations) != 1 || r.Violations[0].Field != "amount.minor_units" {
				t.Fatalf("lowered below what is paid: %+v", r)
			}
			reversed := full
			reversed.ReversedOn, reversed.ReversalReason = d(2025, 8, 20), "paid against the wrong amount"
			res, _, err = f.a.SyncChunk(admin, f.debtor.ID, "", []service.SyncRecord{f.record(3, "LO-1", 300000, 30, reversed)})
			if err != nil {
				t.Fatal(err)
			}
			if r := res[0]; r.Outcome != service.SyncUpdated || !slices.Equal(r.Changed, []string{"payments[0]:reversed", "amount"}) {
				t.Fatalf("lowered with the reversal: %+v", r)
			}
			if inv := f.get(t, ids[0]); inv.Amount.Minor != 300000 || inv.Paid != 0 {
				t.Errorf("the invoice: amount %d, paid %d; want 300000 and 0", inv.Amount.Minor, inv.Paid)
			}
		})
	}
}

// TestSyncRefusesAnotherInvoicesPayment: a payment belongs to one invoice.
// A record naming a payment another invoice holds, to match it or to
// reverse it, is rejected naming the payment, as RecordPayment refuses the
// reference, and changes nothing (matched silently, its own invoice would
// stay unpaid while the ERP shows it paid); the holder's own record, later
// in the chunk, is applied.
func TestSyncRefusesAnotherInvoicesPayment(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, open, d(2025, 9, 1))
			held := service.SyncPayment{Payment: ledger.Payment{Amount: 100000, Currency: "CNY", PaidOn: d(2025, 8, 1), Reference: "KO-PAY-0"}}
			rec := func(seq int64, ref string, pays ...service.SyncPayment) service.SyncRecord {
				return f.record(seq, ref, 500000, 30, pays...)
			}
			ids := f.created(t, "", rec(1, "KO-X", held), rec(2, "KO-Y"))
			reversing := held
			reversing.ReversedOn, reversing.ReversalReason = d(2025, 8, 10), "bounced"
			fresh := service.SyncPayment{Payment: ledger.Payment{Amount: 50000, Currency: "CNY", PaidOn: d(2025, 8, 15), Reference: "KO-PAY-1"}}
			res, _, err := f.a.SyncChunk(admin, f.debtor.ID, "", []service.SyncRecord{rec(3, "KO-Y", held), rec(4, "KO-Y", reversing), rec(5, "KO-X", held, fresh)})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res[:2] {
				if r.Outcome != service.SyncRejected || len(r.Violations) != 1 || r.Violations[0].Field != "payments[0].reference" {
					t.Errorf("record naming another invoice's payment: %+v", r)
				}
			}
			if r := res[2]; r.Outcome != service.SyncUpdated || !slices.Equal(r.Changed, []string{"payments[1]:recorded"}) {
				t.Fatalf("the holder's own record: %+v", r)
			}
			if x, y := f.get(t, ids[0]), f.get(t, ids[1]); x.Paid != 150000 || y.Paid != 0 || y.Version != 1 {
				t.Fatalf("paid: KO-X %d (want 150000), KO-Y %d at version %d (want 0 at 1)", x.Paid, y.Paid, y.Version)
			}
		})
	}
}

// TestSyncNamesWhatItCreates: an invoice a sync creates is recorded as
// made by SyncPayables whichever way its record went: the chunk's bulk
// way, or one at a time (a record cancelling its invoice at once).
func TestSyncNamesWhatItCreates(t *testing.T) {
	f := newFixture(t, engines(t)["SQLite"], d(2025, 9, 1))
	cancelled := f.record(2, "NM-SLOW", 500000, 30)
	cancelled.CancelledOn, cancelled.CancelReason = d(2025, 8, 1), "raised in error"
	ids := f.created(t, "", f.record(1, "NM-FAST", 500000, 30), cancelled)
	revs, err := f.sb.RevisionsOf(admin, ids)
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		if rs := revs[id]; len(rs) == 0 || rs[0].Method != "SyncPayables" {
			t.Errorf("record %d's first revision: %+v, want made by SyncPayables", i+1, rs)
		}
	}
	// A new invoice's payments are named in its result whichever way it
	// went: in bulk (a plain payment), or alone (one reversed at once).
	plain := service.SyncPayment{Payment: ledger.Payment{Amount: 1000, Currency: "CNY", PaidOn: d(2025, 8, 1), Reference: "NM-PAY-1"}}
	bounced := service.SyncPayment{Payment: ledger.Payment{Amount: 1000, Currency: "CNY", PaidOn: d(2025, 8, 1), Reference: "NM-PAY-2"},
		ReversedOn: d(2025, 8, 5), ReversalReason: "bounced"}
	res, _, err := f.a.SyncChunk(admin, f.debtor.ID, "", []service.SyncRecord{f.record(3, "NM-PAID", 500000, 30, plain), f.record(4, "NM-BOUNCED", 500000, 30, bounced)})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Outcome != service.SyncCreated || !slices.Equal(r.Changed, []string{"payments[0]:recorded"}) {
			t.Errorf("%s: %s %v, want CREATED naming payments[0]:recorded", r.DocumentRef, r.Outcome, r.Changed)
		}
	}
}

// TestSyncNamesWhatDiffersInAPayment: a record whose payment differs from
// the one recorded under its reference is rejected naming each field that
// differs, not the whole record with the name of a payment; one listing a
// reference twice with other content is rejected naming the second, not as
// differing from the first, which its rejection undid; the same payment
// listed twice is one.
func TestSyncNamesWhatDiffersInAPayment(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, open, d(2025, 9, 1))
			paid := service.SyncPayment{Payment: ledger.Payment{Amount: 2500, Currency: "CNY", PaidOn: d(2025, 8, 1), Reference: "ND-PAY-0"}}
			ids := f.created(t, "", f.record(1, "ND-X", 500000, 30, paid))
			changed := paid
			changed.Payment.Amount, changed.Payment.PaidOn = 2525, d(2025, 8, 2)
			other := service.SyncPayment{Payment: ledger.Payment{Amount: 100, Currency: "CNY", PaidOn: d(2025, 8, 1), Reference: "ND-PAY-1"}}
			twice := other
			twice.Payment.Amount = 200
			res, _, err := f.a.SyncChunk(admin, f.debtor.ID, "", []service.SyncRecord{
				f.record(2, "ND-X", 500000, 30, changed),
				f.record(3, "ND-Y", 500000, 30, other, twice),
				f.record(4, "ND-Z", 500000, 30, other, other),
			})
			if err != nil {
				t.Fatal(err)
			}
			var fields []string
			for _, v := range res[0].Violations {
				fields = append(fields, v.Field)
			}
			if res[0].Outcome != service.SyncRejected || !slices.Equal(fields, []string{"payments[0].amount", "payments[0].paid_on"}) ||
				!strings.Contains(res[0].Violations[0].Description, "recorded with amount CNY 25.00, not CNY 25.25") {
				t.Errorf("a changed payment: %+v", res[0])
			}
			if r := res[1]; r.Outcome != service.SyncRejected || len(r.Violations) != 1 || r.Violations[0].Field != "payments[1].reference" ||
				strings.Contains(r.Violations[0].Description, "payments/") {
				t.Errorf("a reference listed twice with other content: %+v", r)
			}
			if r := res[2]; r.Outcome != service.SyncCreated {
				t.Errorf("the same payment listed twice: %+v", r)
			}
			if x := f.get(t, ids[0]); x.Paid != 2500 || x.Version != 1 {
				t.Errorf("ND-X paid %d at version %d, want 2500 at 1", x.Paid, x.Version)
			}
		})
	}
}

// TestSyncPaymentsMatchRecordPayments: a record bringing three new payments
// of a known invoice, on two days and out of date order, leaves what three
// RecordPayment calls in the record's order leave: the invoice, a revision
// per payment with its date, the audit trail's changes, the escalation row
// and the summary profile. Two such records go in one chunk, beside a
// record with one new payment.
func TestSyncPaymentsMatchRecordPayments(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, open, d(2025, 9, 1))
			if err := f.a.PrepareSummaries(admin); err != nil {
				t.Fatal(err)
			}
			rec := func(seq int64, ref string, pays ...service.SyncPayment) service.SyncRecord {
				return f.record(seq, ref, 500000, 30, pays...)
			}
			pay := func(ref string, amount int64, on civil.Date) ledger.Payment {
				return ledger.Payment{Amount: amount, Currency: "CNY", PaidOn: on, Reference: ref}
			}
			ids := f.created(t, "", rec(1, "MP-1"), rec(2, "MP-2"), rec(3, "MP-3"), rec(4, "MP-4"), rec(5, "MP-5"))
			plan := func(i int) []ledger.Payment {
				return []ledger.Payment{pay(fmt.Sprintf("MP-%d-A", i), 100000, d(2025, 8, 20)),
					pay(fmt.Sprintf("MP-%d-B", i), 150000, d(2025, 8, 1)), pay(fmt.Sprintf("MP-%d-C", i), 50000, d(2025, 8, 20))}
			}
			var recs []service.SyncRecord
			for i, ref := range []string{"MP-1", "MP-3"} {
				var sps []service.SyncPayment
				for _, p := range plan(2 * i) {
					sps = append(sps, service.SyncPayment{Payment: p})
				}
				recs = append(recs, rec(int64(6+i), ref, sps...))
			}
			recs = append(recs, rec(8, "MP-5", service.SyncPayment{Payment: pay("MP-5-A", 100000, d(2025, 8, 5))}))
			res, _, err := f.a.SyncChunk(admin, f.debtor.ID, "", recs)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range res[:2] {
				want := []string{"payments[0]:recorded", "payments[1]:recorded", "payments[2]:recorded"}
				if r.Outcome != service.SyncUpdated || !slices.Equal(r.Changed, want) || r.InvoiceID != ids[2*i] {
					t.Fatalf("record %d: %+v", i, r)
				}
			}
			f.inBulk(t, ids[0], "MP-2-A")
			for i := range 2 {
				for _, p := range plan(2 * i) {
					p.Reference += "-BY-HAND"
					if _, _, err := f.a.RecordPayment(admin, ids[2*i+1], &p); err != nil {
						t.Fatal(err)
					}
				}
			}
			for i := 0; i < 4; i += 2 {
				if synced := f.get(t, ids[i]); synced.Paid != 300000 || synced.Version != 4 {
					t.Fatalf("synced payments: %+v", synced)
				}
				revs := f.sameAsByHand(t, ids[i], ids[i+1], 4)
				for k, p := range plan(0) {
					if revs[k+1].EffectiveOn != p.PaidOn {
						t.Errorf("revision %d takes effect on %s, its payment was made on %s", k+2, revs[k+1].EffectiveOn, p.PaidOn)
					}
				}
			}
			if one := f.get(t, ids[4]); one.Paid != 100000 || one.Version != 2 {
				t.Errorf("the record with one new payment: %+v", one)
			}
			// The aggregates count each invoice once, as judged.
			for _, asOf := range []civil.Date{d(2025, 8, 10), d(2025, 9, 1), d(2025, 12, 1)} {
				q := service.SummaryQuery{AsOf: asOf, GroupBy: []string{"debtor"}}
				fast, detailed, err := f.a.OverdueSummary(admin, q)
				if err != nil || detailed {
					t.Fatalf("summary as of %s: %v (judged one by one: %v)", asOf, err, detailed)
				}
				q.Detail = true
				judged, _, err := f.a.OverdueSummary(admin, q)
				if err != nil {
					t.Fatal(err)
				}
				sameGroups(t, "as of "+asOf.String(), fast, judged)
			}
			checkAudit(t, f.a, f.sb)
		})
	}
}

// TestSyncRecordLosingARaceIsNotRejected: two sessions syncing the same
// new records taken one by one (each cancels its invoice) race to create
// them; the one that finds a reference taken between its read and its
// write reruns its chunk and takes the update path, rather than rejecting
// (and acknowledging) a record that only lost the race.
func TestSyncRecordLosingARaceIsNotRejected(t *testing.T) {
	f := newFixture(t, engines(t)["PostgreSQL"], d(2025, 9, 1))
	for round := range 5 {
		var recs []service.SyncRecord
		for i := range 20 {
			r := f.record(int64(i+1), fmt.Sprintf("RACE-%d-%02d", round, i), 100000, 30)
			r.CancelledOn, r.CancelReason = d(2025, 8, 20), "raised in error"
			recs = append(recs, r)
		}
		results := make([][]service.SyncResult, 2)
		var wg sync.WaitGroup
		for k, l := range []*service.Ledger{f.a, f.b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, _, err := l.SyncChunk(admin, f.debtor.ID, fmt.Sprintf("race-%d-%d", round, k), recs)
				if err != nil {
					t.Errorf("session %d: %v", k, err)
				}
				results[k] = res
			}()
		}
		wg.Wait()
		for k, res := range results {
			for _, r := range res {
				if r.Outcome == service.SyncRejected {
					t.Fatalf("round %d, session %d: %s rejected: %v", round, k, r.DocumentRef, r.Violations)
				}
			}
		}
	}
}

// panickyStore panics in every write transaction.
type panickyStore struct{ store.Store }

func (panickyStore) ReadWriteTx(context.Context, func(context.Context, store.Tx) error) error {
	panic("a bug in the write path")
}

// TestSyncChunkPanicFailsTheChunk: a panic while a stream's chunk is
// applied (in a goroutine no interceptor recovers) fails that chunk, and
// the chunk after it, instead of ending the process or leaving the next
// chunk waiting for ever.
func TestSyncChunkPanicFailsTheChunk(t *testing.T) {
	f := newFixture(t, engines(t)["SQLite"], d(2025, 9, 1))
	reg, err := policy.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	l := service.New(panickyStore{f.sb}, f.clk, reg, quiet)
	s := l.NewSyncStream(f.debtor.ID, "panics")
	first, second := s.Reserve([]service.SyncRecord{f.record(1, "PANIC-1", 100000, 30)}), s.Reserve([]service.SyncRecord{f.record(2, "PANIC-2", 100000, 30)})
	if _, _, err := first.Run(admin); err == nil || !strings.Contains(err.Error(), "panic") {
		t.Errorf("the chunk that panicked: %v", err)
	}
	ctx, cancel := context.WithTimeout(admin, 10*time.Second)
	defer cancel()
	if _, _, err := second.Run(ctx); err == nil || ctx.Err() != nil {
		t.Errorf("the chunk after it: %v (context %v)", err, ctx.Err())
	}
}

// TestSyncChunkWaitsForTheOneBeforeOutsideItsTransaction: a chunk whose
// first attempt gave up waiting for the chunk before it (still running)
// waits for it outside any transaction, then runs in a new one, its record
// time read anew: the wait no longer counts against the transaction's
// time limit (store.MaxTxDuration), which two heavy chunks in a row ran
// out of.
func TestSyncChunkWaitsForTheOneBeforeOutsideItsTransaction(t *testing.T) {
	f := newFixture(t, engines(t)["PostgreSQL"], d(2025, 9, 1))
	if f.a.SyncDepth() < 2 {
		t.Skip("chunks run one at a time on this store")
	}
	s := f.a.NewSyncStream(f.debtor.ID, "slow-before")
	first, second := s.Reserve([]service.SyncRecord{f.record(1, "SLOW-1", 100000, 30)}), s.Reserve([]service.SyncRecord{f.record(2, "SLOW-2", 100000, 30)})
	done := make(chan error, 1)
	go func() {
		_, _, err := second.Run(admin)
		done <- err
	}()
	// The second gives up on the first after its wait limit (2 s), while
	// the first has not even started; an hour passes before it runs.
	time.Sleep(3 * time.Second)
	f.clk.Advance(time.Hour)
	if _, _, err := first.Run(admin); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the second chunk: %v", err)
	}
	inv, err := f.sb.GetInvoiceByDocumentRef(admin, f.debtor.ID, "SLOW-2")
	if err != nil {
		t.Fatal(err)
	}
	if !inv.CreateTime.Equal(f.clk.Now()) {
		t.Errorf("the second chunk's invoice recorded at %s, want %s: the time its own transaction ran", inv.CreateTime, f.clk.Now())
	}
}
