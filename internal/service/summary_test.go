package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/clock"
	"github.com/arrears/arrears/internal/judgement"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/money"
	"github.com/arrears/arrears/internal/policy"
	"github.com/arrears/arrears/internal/service"
	"github.com/arrears/arrears/internal/store"
	"github.com/arrears/arrears/internal/summary"
)

// TestSummaryAggregatesMatchJudgedSummary drives a random history through
// every kind of write the ledger takes (creates single and in bulk,
// payments backdated and bills at maturity, reversals, credit notes,
// disputes opened and resolved, cancellations, corrections effective from
// a date, a debtor moving region) and checks that the summary read from
// the aggregates equals the summary judged invoice by invoice, as of many
// dates and for every grouping the aggregates serve, on both stores.
func TestSummaryAggregatesMatchJudgedSummary(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			sa, _ := open(t)
			reg, err := policy.Embedded()
			if err != nil {
				t.Fatal(err)
			}
			start := d(2024, 1, 2)
			clk := clock.NewFake(noonShanghai(start))
			l := service.New(sa, clk, reg, quiet)
			if err := l.PrepareSummaries(admin); err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(7, 8))
			ok := map[string]int{}
			var mu sync.Mutex
			try := func(op string, err error) {
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					ok[op]++
				} else if testing.Verbose() && ok["err:"+op] == 0 {
					ok["err:"+op]++
					t.Logf("%s: %v", op, err)
				}
			}

			type debtor struct {
				ref service.PartyRef
				cur string
			}
			var debtors []debtor
			for i, spec := range []struct {
				kind           ledger.PartyKind
				region, body   string
				jurisdiction   string
				registrationID string
				currency       string
			}{
				{ledger.KindLargeEnterprise, "350100", "91350100MA2QWA001", "CN", "", "CNY"},
				{ledger.KindPublicBody, "440300", "11440300MB0QWA002", "CN", "", "CNY"},
				{ledger.KindLargeEnterprise, "440106", "91440106MA0QWA003", "CN", "", "USD"},
				{ledger.KindPublicBody, "UKI3", "", "GB", "01234567", "GBP"},
			} {
				id := spec.registrationID
				if spec.jurisdiction == "CN" {
					id = uscc(t, spec.body)
				}
				p, err := l.CreateParty(admin, &ledger.Party{DisplayName: fmt.Sprint("D", i), Kind: spec.kind, Jurisdiction: spec.jurisdiction,
					RegistrationID: id, RegionCode: spec.region}, service.Idempotency{})
				if err != nil {
					t.Fatal(err)
				}
				debtors = append(debtors, debtor{service.PartyRef{ID: p.ID}, spec.currency})
			}
			var creditors []service.PartyRef
			for i, body := range []string{"92350102MA0QWA011", "92350102MA0QWA012"} {
				p, err := l.CreateParty(admin, &ledger.Party{DisplayName: fmt.Sprint("S", i), Kind: ledger.KindSME, SizeClass: ledger.SizeSmall,
					Jurisdiction: "CN", RegistrationID: uscc(t, body), RegionCode: "350102"}, service.Idempotency{})
				if err != nil {
					t.Fatal(err)
				}
				creditors = append(creditors, service.PartyRef{ID: p.ID})
			}

			type live struct {
				id       uuid.UUID
				debtor   debtor
				issued   civil.Date
				payments []uuid.UUID
				disputes []uuid.UUID
			}
			var invs []*live
			synced := map[uuid.UUID][]service.SyncRecord{}
			today := start
			n := 0
			newInvoice := func(dbt debtor) *ledger.Invoice {
				n++
				issued := today.AddDays(-r.IntN(90))
				inv := &ledger.Invoice{DocumentRef: fmt.Sprint("SUM-", n), Amount: money.Money{Minor: int64(100000 + r.IntN(10000000)), Currency: dbt.cur},
					ContractSignedOn: issued.AddDays(-20), IssuedOn: issued, DeliveredOn: issued}
				switch r.IntN(3) {
				case 0:
					inv.AgreedTermDays = 30 + r.IntN(60)
				case 1:
					inv.AgreedDueDate = issued.AddDays(r.IntN(120))
				}
				return inv
			}
			for day := 0; day < 420; day += 1 + r.IntN(4) {
				today = start.AddDays(day)
				clk.Set(noonShanghai(today))
				for range 1 + r.IntN(3) {
					op := r.IntN(13)
					var x *live
					if len(invs) > 0 {
						x = invs[r.IntN(len(invs))]
					}
					switch {
					case op <= 2 || x == nil:
						dbt := debtors[r.IntN(len(debtors))]
						inv, err := l.CreateInvoice(admin, service.CreateInvoiceInput{Debtor: dbt.ref, Creditor: creditors[r.IntN(2)], Invoice: newInvoice(dbt)})
						try("create", err)
						if err == nil {
							invs = append(invs, &live{id: inv.ID, debtor: dbt, issued: inv.IssuedOn})
						}
					case op == 3:
						dbt := debtors[r.IntN(len(debtors))]
						if _, _, err := l.OpenSync(admin, dbt.ref, "s"); err != nil {
							t.Fatal(err)
						}
						var recs []service.SyncRecord
						for k := range 1 + r.IntN(4) {
							rec := service.SyncRecord{Sequence: int64(n*10 + k), Invoice: newInvoice(dbt), Creditor: creditors[r.IntN(2)]}
							for j := range r.IntN(3) {
								// Plain payments are loaded in bulk with the invoice;
								// one paying more than is owed sends the record the
								// single way, where its invoice is created, then
								// rolled back with the refused payment.
								amount := rec.Invoice.Amount.Minor / 4
								if r.IntN(8) == 0 {
									amount = rec.Invoice.Amount.Minor * 2
								}
								rec.Payments = append(rec.Payments, service.SyncPayment{Payment: ledger.Payment{Amount: amount,
									Currency: dbt.cur, PaidOn: today.AddDays(-r.IntN(40)), Reference: fmt.Sprint("SP-", n, "-", k, "-", j)}})
							}
							recs = append(recs, rec)
						}
						// Records synced before, again with another amount: an
						// update taken one by one; with a payment of more than
						// is owed, one rolled back, correction included.
						for k, old := range synced[dbt.ref.ID] {
							if k >= 2 || r.IntN(2) == 0 {
								break
							}
							inv := *old.Invoice
							inv.Amount.Minor += int64(1000 + r.IntN(50000))
							again := service.SyncRecord{Sequence: int64(n*10 + 5 + k), Invoice: &inv, Creditor: old.Creditor}
							if r.IntN(2) == 0 {
								again.Payments = []service.SyncPayment{{Payment: ledger.Payment{Amount: inv.Amount.Minor * 3, Currency: dbt.cur,
									PaidOn: today, Reference: fmt.Sprint("OVER-", n, "-", k)}}}
							}
							recs = append(recs, again)
						}
						res, _, err := l.SyncChunk(admin, dbt.ref.ID, "s", recs)
						try("sync", err)
						for k, x := range res {
							switch x.Outcome {
							case service.SyncCreated:
								invs = append(invs, &live{id: x.InvoiceID, debtor: dbt})
								synced[dbt.ref.ID] = append(synced[dbt.ref.ID], recs[k])
							case service.SyncUpdated:
								ok["sync updated"]++
							case service.SyncRejected:
								ok["sync rejected"]++
							}
						}
					case op <= 6:
						p := &ledger.Payment{Amount: int64(10000 + r.IntN(3000000)), PaidOn: today.AddDays(-r.IntN(60)), Reference: fmt.Sprint("P-", n, "-", op, "-", r.Int()), Currency: x.debtor.cur}
						if r.IntN(4) == 0 {
							p.Instrument, p.MaturityOn = ledger.InstrumentCommercialBill, p.PaidOn.AddDays(r.IntN(120))
						}
						pay, _, err := l.RecordPayment(admin, x.id, p)
						try("payment", err)
						if err == nil {
							x.payments = append(x.payments, pay.ID)
						}
					case op == 7 && len(x.payments) > 0:
						_, _, err := l.ReversePayment(admin, x.id, x.payments[0], today.AddDays(-r.IntN(10)), "bounced", "")
						try("reversal", err)
					case op == 8:
						dp, _, err := l.OpenDispute(admin, x.id, &ledger.Dispute{Amount: int64(10000 + r.IntN(2000000)), Reason: "quality", OpenedOn: today.AddDays(-r.IntN(30))}, x.debtor.cur, service.Idempotency{})
						try("dispute", err)
						if err == nil {
							x.disputes = append(x.disputes, dp.ID)
						}
					case op == 9 && len(x.disputes) > 0:
						res := []ledger.DisputeResolution{ledger.ResolutionRejected, ledger.ResolutionCredited, ledger.ResolutionWithdrawn}[r.IntN(3)]
						_, _, err := l.ResolveDispute(admin, x.id, x.disputes[0], res, today, "settled", "")
						try("resolve", err)
					case op == 10:
						_, _, err := l.CreateCreditNote(admin, x.id, &ledger.CreditNote{Amount: int64(10000 + r.IntN(500000)), IssuedOn: today.AddDays(-r.IntN(20)), Reference: fmt.Sprint("CN-", r.Int()), Reason: "discount"}, x.debtor.cur, service.Idempotency{})
						try("credit", err)
					case op == 11:
						patch := &ledger.Invoice{Amount: money.Money{Minor: int64(200000 + r.IntN(9000000)), Currency: x.debtor.cur}, AgreedTermDays: 15 + r.IntN(90)}
						_, err := l.UpdateInvoice(admin, x.id, patch, []string{"amount", "agreed_term_days"}, "", today.AddDays(-r.IntN(200)), "")
						try("correction", err)
					case op == 12 && r.IntN(3) == 0:
						_, err := l.CancelInvoice(admin, x.id, today.AddDays(-r.IntN(15)), "withdrawn by the supplier", "")
						try("cancel", err)
					}
				}
				if day > 200 && ok["move"] == 0 {
					_, err := l.UpdateParty(admin, debtors[0].ref, &ledger.Party{RegionCode: "350200"}, []string{"region_code"}, "")
					try("move", err)
				}
			}
			// A debtor moves region while its invoices are being paid: each
			// profile change is computed against the one before it.
			var wg sync.WaitGroup
			wg.Add(2)
			go func() {
				defer wg.Done()
				for k := range 6 {
					_, err := l.UpdateParty(admin, debtors[1].ref, &ledger.Party{RegionCode: []string{"440301", "440300"}[k%2]}, []string{"region_code"}, "")
					try("move", err)
				}
			}()
			go func() {
				defer wg.Done()
				k := 0
				for _, x := range invs {
					if x.debtor.ref != debtors[1].ref || k == 30 {
						continue
					}
					k++
					_, _, err := l.RecordPayment(admin, x.id, &ledger.Payment{Amount: 1000, Currency: x.debtor.cur, PaidOn: today.AddDays(-k), Reference: fmt.Sprint("RACE-", k)})
					try("payment", err)
				}
			}()
			wg.Wait()

			for _, op := range []string{"create", "sync", "sync rejected", "sync updated", "payment", "reversal", "dispute", "resolve", "credit", "correction", "cancel", "move"} {
				if ok[op] == 0 {
					t.Errorf("the history has no successful %s (%v)", op, ok)
				}
			}

			// An invoice due before the rate table starts: interest cannot be
			// computed, but what is owed still counts, in both paths.
			old, err := l.CreateInvoice(admin, service.CreateInvoiceInput{Debtor: debtors[3].ref, Creditor: creditors[0], Invoice: &ledger.Invoice{
				DocumentRef: "OLD-1", Amount: money.Money{Minor: 750000, Currency: "GBP"}, ContractSignedOn: d(2008, 5, 1),
				IssuedOn: d(2008, 6, 1), DeliveredOn: d(2008, 6, 1), AgreedTermDays: 30}})
			if err != nil {
				t.Fatal(err)
			}
			j, err := l.JudgeInvoice(admin, old.ID, today, time.Time{})
			if err != nil || j.Judgement.Outstanding != 750000 || !slices.ContainsFunc(j.Judgement.Findings, func(f judgement.Finding) bool { return f.Code == "INTEREST_UNAVAILABLE" }) {
				t.Errorf("an invoice due before its rate table: %v %+v", err, j.Judgement)
			}

			queries := []service.SummaryQuery{
				{GroupBy: []string{"region"}},
				{GroupBy: []string{"region"}, RegionDigits: 2},
				{GroupBy: []string{"debtor_kind", "currency"}},
				{},
				{GroupBy: []string{"region"}, RegionPrefix: "35"},
				{GroupBy: []string{"currency"}, DebtorKind: ledger.KindPublicBody},
				{Currency: "CNY"},
				{GroupBy: []string{"debtor"}},
				{GroupBy: []string{"debtor", "region"}, RegionPrefix: "44", DebtorKind: ledger.KindLargeEnterprise},
			}
			dates := []civil.Date{today, today.AddDays(-365), start, start.AddDays(-1), today.AddDays(200)}
			for range 30 {
				dates = append(dates, start.AddDays(r.IntN(480)-20))
			}
			nonEmpty := 0
			for _, asOf := range dates {
				for _, q := range queries {
					q.AsOf = asOf
					fast, detailed, err := l.OverdueSummary(admin, q)
					if err != nil {
						t.Fatal(err)
					}
					if detailed {
						t.Fatalf("%+v as of %s: judged invoice by invoice", q, asOf)
					}
					q.Detail = true
					judged, _, err := l.OverdueSummary(admin, q)
					if err != nil {
						t.Fatal(err)
					}
					sameGroups(t, fmt.Sprintf("%+v as of %s", q, asOf), fast, judged)
					nonEmpty += len(judged)
				}
			}
			if nonEmpty < 100 {
				t.Errorf("only %d groups in all the summaries compared", nonEmpty)
			}
			// Records rolled back to their savepoints left no audit event
			// behind, and every chain verifies.
			checkAudit(t, l, sa)

			// Known at an earlier instant, the aggregates (which hold what
			// was recorded since) are not used.
			q := service.SummaryQuery{AsOf: today, GroupBy: []string{"region"}, KnownAt: noonShanghai(start.AddDays(100))}
			if _, detailed, err := l.OverdueSummary(admin, q); err != nil || !detailed {
				t.Errorf("a past known_at read the aggregates (err %v)", err)
			}
		})
	}
}

// sameGroups compares summaries in everything but the per-invoice detail.
func sameGroups(t *testing.T, what string, got, want []*service.SummaryGroup) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d groups from the aggregates, %d judged", what, len(got), len(want))
	}
	for i := range want {
		w := *want[i]
		w.Interest, w.OldestDaysOverdue, w.MaxLevel = 0, 0, 0
		g := *got[i]
		if fmt.Sprint(g) != fmt.Sprint(w) {
			t.Fatalf("%s: group %d from the aggregates\n%+v\njudged\n%+v", what, i, g, w)
		}
	}
}

// TestSyncRecordsNewPaymentOfKnownInvoice syncs an invoice, then the same
// record with its first payment: the payment is recorded (the bulk path
// leaves known invoices with payments to the record path).
func TestSyncRecordsNewPaymentOfKnownInvoice(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, open, d(2025, 9, 1))
			rec := func(seq int64, pays ...service.SyncPayment) service.SyncRecord {
				return service.SyncRecord{Sequence: seq, Creditor: f.creditor, Payments: pays, Invoice: &ledger.Invoice{DocumentRef: "SYNC-P1",
					Amount: money.Money{Minor: 500000, Currency: "CNY"}, ContractSignedOn: d(2025, 7, 1), IssuedOn: d(2025, 7, 10),
					DeliveredOn: d(2025, 7, 10), AgreedTermDays: 30}}
			}
			if _, _, err := f.a.OpenSync(admin, f.debtor, "p"); err != nil {
				t.Fatal(err)
			}
			res, _, err := f.a.SyncChunk(admin, f.debtor.ID, "p", []service.SyncRecord{rec(1)})
			if err != nil || res[0].Outcome != service.SyncCreated {
				t.Fatalf("first sync: %v %+v", err, res)
			}
			pay := service.SyncPayment{Payment: ledger.Payment{Amount: 200000, Currency: "CNY", PaidOn: d(2025, 8, 20), Reference: "SYNC-PAY-1"}}
			res, _, err = f.a.SyncChunk(admin, f.debtor.ID, "p", []service.SyncRecord{rec(2, pay)})
			if err != nil || res[0].Outcome == service.SyncRejected {
				t.Fatalf("second sync: %v %+v", err, res)
			}
			inv, err := f.a.GetInvoice(admin, res[0].InvoiceID)
			if err != nil {
				t.Fatal(err)
			}
			if inv.Paid != 200000 {
				t.Fatalf("paid %d after syncing the payment of a known invoice (outcome %s)", inv.Paid, res[0].Outcome)
			}
		})
	}
}

// TestSummaryAggregatesNeedTheirPolicyData: a server with other policy data
// than the aggregates were counted under judges every invoice, until a
// rebuild recounts them under its data; then the first server does.
func TestSummaryAggregatesNeedTheirPolicyData(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, open, d(2025, 9, 1))
			if err := f.a.PrepareSummaries(admin); err != nil {
				t.Fatal(err)
			}
			f.invoice(t, "FP-1", d(2025, 7, 1))
			reg, err := policy.Embedded()
			if err != nil {
				t.Fatal(err)
			}
			extra := reg.Policies()[0]
			extra.ID, extra.Version = "TEST-EXTRA", 1
			b, err := json.Marshal(map[string]any{"policies": []policy.Policy{extra}})
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(t.TempDir(), "extra.json")
			if err := os.WriteFile(file, b, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := reg.AddPolicyFile(file); err != nil {
				t.Fatal(err)
			}
			other := service.New(f.sb, f.clk, reg, quiet)
			if err := other.PrepareSummaries(admin); err != nil {
				t.Fatal(err)
			}
			detailed := func(l *service.Ledger) bool {
				_, det, err := l.OverdueSummary(admin, service.SummaryQuery{AsOf: d(2025, 9, 1), GroupBy: []string{"region"}})
				if err != nil {
					t.Fatal(err)
				}
				return det
			}
			if detailed(f.a) || !detailed(other) {
				t.Fatalf("before the rebuild: first judged %v, other judged %v", detailed(f.a), detailed(other))
			}
			if _, err := other.RebuildSummaries(admin); err != nil {
				t.Fatal(err)
			}
			if !detailed(f.a) || detailed(other) {
				t.Fatalf("after the rebuild: first judged %v, other judged %v", detailed(f.a), detailed(other))
			}
			// The first server, still running on its old data, records an
			// invoice: the aggregates now hold profiles of both data, and
			// neither server reads them until they are rebuilt again.
			f.invoice(t, "FP-2", d(2025, 7, 1))
			if !detailed(f.a) || !detailed(other) {
				t.Fatalf("after a write under other data: first judged %v, other judged %v", detailed(f.a), detailed(other))
			}
			if _, err := other.RebuildSummaries(admin); err != nil {
				t.Fatal(err)
			}
			if detailed(other) {
				t.Error("after the second rebuild the other server still judges every invoice")
			}
		})
	}
}

// TestSummaryBucketsOnDefaultEdges: an invoice judged under a policy with
// its own bucket edges is aged on the default edges in a summary, whose
// buckets are named for them, so the buckets add up to the totals.
func TestSummaryBucketsOnDefaultEdges(t *testing.T) {
	f := newFixture(t, engines(t)["SQLite"], d(2025, 9, 1))
	reg, err := policy.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	found, ok := reg.Lookup(policy.IDCN802LargeEnterprise, 1)
	if !ok {
		t.Fatal("no CN-802 policy")
	}
	custom := *found
	custom.ID, custom.Version, custom.BucketEdges = "TEST-EDGES", 1, []int{15, 45, 90}
	b, err := json.Marshal(map[string]any{"policies": []policy.Policy{custom}})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "edges.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := reg.AddPolicyFile(file); err != nil {
		t.Fatal(err)
	}
	l := service.New(f.sb, f.clk, reg, quiet)
	// Delivered 2025-06-01 on 30 days: due 2025-07-01, 62 days overdue
	// on 2025-09-01: "46-90" under the custom edges, "61-90" by default.
	inv, err := l.CreateInvoice(admin, service.CreateInvoiceInput{Debtor: f.debtor, Creditor: f.creditor, Policy: "TEST-EDGES@1",
		Invoice: &ledger.Invoice{DocumentRef: "EDGES-1", Amount: money.Money{Minor: 500000, Currency: "CNY"},
			ContractSignedOn: d(2025, 5, 20), DeliveredOn: d(2025, 6, 1), IssuedOn: d(2025, 6, 1), AgreedTermDays: 30}})
	if err != nil {
		t.Fatal(err)
	}
	if inv.PolicyID != "TEST-EDGES" {
		t.Fatalf("judged under %s", inv.PolicyID)
	}
	// Judged invoice by invoice, and from the aggregates, which therefore
	// serve a deployment with such a policy too.
	if err := l.PrepareSummaries(admin); err != nil {
		t.Fatal(err)
	}
	for _, detail := range []bool{true, false} {
		groups, detailed, err := l.OverdueSummary(admin, service.SummaryQuery{AsOf: d(2025, 9, 1), Detail: detail})
		if err != nil {
			t.Fatal(err)
		}
		if detailed != detail || len(groups) != 1 {
			t.Fatalf("detail %v: judged %v, %d groups", detail, detailed, len(groups))
		}
		g := groups[0]
		if got := g.Buckets["61-90"]; got.Count != 1 || got.Amount != 500000 || len(g.Buckets) != 1 {
			t.Errorf("detail %v: buckets %v, want the invoice in 61-90 alone", detail, g.Buckets)
		}
		if got := g.BucketsNet["61-90"]; got.Count != 1 || len(g.BucketsNet) != 1 {
			t.Errorf("detail %v: net buckets %v, want the invoice in 61-90 alone", detail, g.BucketsNet)
		}
	}
	// A list filtered by bucket finds it where the summary counts it.
	for _, field := range []string{"bucket", "bucket_net"} {
		page, _, err := l.ListJudged(admin, store.InvoiceQuery{}, 10, d(2025, 9, 1), time.Time{},
			[]service.JudgementFilter{{Field: field, Op: "=", Value: "61-90"}})
		if err != nil || len(page) != 1 {
			t.Errorf("%s = 61-90: %d invoices, %v; want the one", field, len(page), err)
		}
	}
}

// TestDisclosureCountsFromIssue: the year-end disclosure, like the overdue
// summary, counts an invoice from its issue date: a debt overdue on 31
// December whose invoice came in January is not in that year's figures.
func TestDisclosureCountsFromIssue(t *testing.T) {
	f := newFixture(t, engines(t)["SQLite"], d(2026, 2, 1))
	for ref, issued := range map[string]civil.Date{"DC-1": d(2025, 9, 1), "DC-2": d(2026, 1, 10)} {
		// Delivered 1 Sep 2025 on 30 days: overdue on 31 December.
		if _, err := f.a.CreateInvoice(admin, service.CreateInvoiceInput{Debtor: f.debtor, Creditor: f.creditor, Invoice: &ledger.Invoice{
			DocumentRef: ref, Amount: money.Money{Minor: 100000, Currency: "CNY"}, ContractSignedOn: d(2025, 8, 20),
			DeliveredOn: d(2025, 9, 1), IssuedOn: issued, AgreedTermDays: 30}}); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := f.a.AnnualDisclosure(admin, f.debtor, 2025, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].Count != 1 || ds[0].Amount != 100000 {
		t.Errorf("disclosure %+v, want the invoice issued in 2025 alone", ds)
	}
	// A payment dated in December but recorded after the disclosure was
	// published: the disclosure as known then still counts the debt.
	published := f.clk.Now()
	f.clk.Advance(24 * time.Hour)
	js, _, err := f.a.ListJudged(admin, store.InvoiceQuery{DocumentRef: []store.StringCond{{Op: store.OpEq, Value: "DC-1"}}}, 1, civil.Date{}, time.Time{}, nil)
	if err != nil || len(js) != 1 {
		t.Fatalf("DC-1: %v", err)
	}
	dc1 := js[0].Invoice.ID
	if _, _, err := f.a.RecordPayment(admin, dc1, &ledger.Payment{Amount: 100000, Currency: "CNY", PaidOn: d(2025, 12, 20), Reference: "DC-P1"}); err != nil {
		t.Fatal(err)
	}
	// Nothing overdue is disclosed as a dated zero in the currency owed.
	if now, err := f.a.AnnualDisclosure(admin, f.debtor, 2025, time.Time{}); err != nil || len(now) != 1 ||
		now[0].Currency != "CNY" || now[0].Count != 0 || now[0].Amount != 0 || now[0].AsOf != d(2025, 12, 31) {
		t.Errorf("disclosure now: %+v, %v; want zero CNY as of 2025-12-31", now, err)
	}
	// A year before the debtor owed anything: nothing to disclose in.
	if none, err := f.a.AnnualDisclosure(admin, f.debtor, 2024, time.Time{}); err != nil || len(none) != 0 {
		t.Errorf("disclosure of 2024: %+v, %v; want none", none, err)
	}
	then, err := f.a.AnnualDisclosure(admin, f.debtor, 2025, published)
	if err != nil || len(then) != 1 || then[0].Amount != 100000 || !then[0].KnownAt.Equal(published) {
		t.Errorf("disclosure as published: %+v, %v; want the debt, known at %s", then, err, published)
	}
	// Known before the year was out, the year-end position was not known:
	// refused, not an empty answer that reads as nothing overdue.
	var ve *ledger.ValidationError
	if _, err := f.a.AnnualDisclosure(admin, f.debtor, 2025, time.Date(2025, 12, 31, 12, 0, 0, 0, time.UTC)); !errors.As(err, &ve) || !ve.Has("known_at") {
		t.Errorf("a 2025 disclosure as known on 31 December 2025: %v, want known_at refused", err)
	}
	// The debtor reclassified since as an SME: it was a large enterprise
	// when the year ended, so its 2025 disclosure stands, now and as
	// published; a year it ends as an SME it has none.
	f.clk.Advance(time.Hour)
	if _, err := f.a.UpdateParty(admin, f.debtor, &ledger.Party{Kind: ledger.KindSME, SizeClass: ledger.SizeMedium}, []string{"kind", "size_class"}, ""); err != nil {
		t.Fatal(err)
	}
	if now, err := f.a.AnnualDisclosure(admin, f.debtor, 2025, time.Time{}); err != nil || len(now) != 1 {
		t.Errorf("the 2025 disclosure of a debtor reclassified as an SME in 2026: %+v, %v; want it, as the year ended", now, err)
	}
	if again, err := f.a.AnnualDisclosure(admin, f.debtor, 2025, published); err != nil || len(again) != 1 || again[0].Amount != 100000 {
		t.Errorf("the disclosure as published, after the debtor was reclassified: %+v, %v", again, err)
	}
	f.clk.Set(time.Date(2027, 1, 5, 0, 0, 0, 0, time.UTC))
	if _, err := f.a.AnnualDisclosure(admin, f.debtor, 2026, time.Time{}); !errors.Is(err, ledger.ErrFailedPrecondition) {
		t.Errorf("a 2026 disclosure of a debtor that ended 2026 an SME: %v", err)
	}
}

// TestPrepareSummariesCountsInvoicesWithoutProfile: invoices with no
// summary profile (written before the aggregates, or by an older replica)
// are counted at start, on a real SQLite file whose profile rows are gone:
// the start once failed on them ("not found"), the batch knowing them by
// id alone.
func TestPrepareSummariesCountsInvoicesWithoutProfile(t *testing.T) {
	open, db := sqliteAt(t, filepath.Join(t.TempDir(), "ledger.db"))
	f := newFixture(t, open, d(2025, 9, 1))
	f.invoice(t, "NO-PROFILE-1", d(2025, 7, 1))
	f.invoice(t, "NO-PROFILE-2", d(2025, 7, 2))
	if _, err := db.Exec(`DELETE FROM summary_profiles`); err != nil {
		t.Fatal(err)
	}
	if err := f.a.PrepareSummaries(admin); err != nil {
		t.Fatalf("preparing the aggregates over invoices without a profile: %v", err)
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM summary_profiles`).Scan(&n); err != nil || n != 2 {
		t.Errorf("%d profiles after preparing, %v; want 2", n, err)
	}
}

// TestSummaryRefusesAnOverflowedGroup: a change that would take a group's
// aggregate past the int64 range leaves the write standing; a group whose
// nodes sum past the range is refused as a total beyond it is, not read
// wrong or failed as an internal error; one whose stored figure a change
// was left out of is judged invoice by invoice; invoice writes go on.
func TestSummaryRefusesAnOverflowedGroup(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, open, d(2025, 9, 1))
			if err := f.a.PrepareSummaries(admin); err != nil {
				t.Fatal(err)
			}
			inv := f.invoice(t, "OVF-1", d(2025, 7, 1))
			q := service.SummaryQuery{AsOf: d(2025, 9, 1), GroupBy: []string{"region"}}
			before, detailed, err := f.a.OverdueSummary(admin, q)
			if err != nil || detailed || len(before) != 1 {
				t.Fatalf("before: %d groups, detailed %v, %v", len(before), detailed, err)
			}
			// What a debtor's ledger of extreme amounts adds to the group.
			c := summary.NodeChange{Key: summary.Key{Debtor: inv.DebtorID.String(), Jurisdiction: "CN", Region: "350100",
				Kind: string(ledger.KindLargeEnterprise), Currency: "CNY"}, Node: summary.Path(d(2025, 9, 1))[0]}
			c.M[summary.Levels-1][summary.Amount] = math.MaxInt64
			extreme := func() {
				t.Helper()
				if err := f.sb.ReadWriteTx(admin, func(ctx context.Context, tx store.Tx) error {
					return tx.PutSummaryProfiles(ctx, nil, []summary.NodeChange{c}, f.clk.Now())
				}); err != nil {
					t.Fatalf("a change past the range failed the write: %v", err)
				}
			}
			extreme()
			if _, _, err := f.a.OverdueSummary(admin, q); !errors.Is(err, ledger.ErrFailedPrecondition) {
				t.Errorf("summary of a group whose nodes sum past the range: %v, want FAILED_PRECONDITION", err)
			}
			extreme() // now past the range in the row itself: not added, marked
			after, detailed, err := f.a.OverdueSummary(admin, q)
			if err != nil || !detailed {
				t.Fatalf("summary of a marked group: detailed %v, %v; want judged invoice by invoice", detailed, err)
			}
			sameGroups(t, "a marked group judged", before, after)
			f.invoice(t, "OVF-2", d(2025, 7, 2))
		})
	}
}

// TestSummaryInterestBeyondRangeOnlyRefusedWhenShown: a group whose
// interest sums past the int64 range is refused only where the interest is
// shown (the detail); the counts and amounts, well in range, are given
// without it.
func TestSummaryInterestBeyondRangeOnlyRefusedWhenShown(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, open, d(2025, 9, 1))
			const n, amount = 25, 100_000_000_000_000
			for i := range n {
				_, err := f.a.CreateInvoice(admin, service.CreateInvoiceInput{Debtor: f.debtor, Creditor: f.creditor, Invoice: &ledger.Invoice{
					DocumentRef: fmt.Sprintf("RATE-%d", i), Amount: money.Money{Minor: amount, Currency: "CNY"},
					ContractSignedOn: d(2013, 1, 1), DeliveredOn: d(2013, 1, 4), IssuedOn: d(2013, 1, 4), AgreedTermDays: 30,
					AgreedRate: &ledger.Rate{Percent: "100", PerDay: true}}})
				if err != nil {
					t.Fatal(err)
				}
			}
			q := service.SummaryQuery{AsOf: d(2025, 9, 1), GroupBy: []string{"industry"}}
			groups, _, err := f.a.OverdueSummary(admin, q)
			if err != nil || len(groups) != 1 || groups[0].Invoices != n || groups[0].Overdue != n*amount {
				t.Fatalf("without the detail: %v, %v; want %d invoices overdue %d", groups, err, n, n*amount)
			}
			q.Detail = true
			if _, _, err := f.a.OverdueSummary(admin, q); !errors.Is(err, ledger.ErrFailedPrecondition) {
				t.Errorf("with the detail, interest past the range: %v, want FAILED_PRECONDITION", err)
			}
		})
	}
}
