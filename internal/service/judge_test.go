package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/service"
	"github.com/arrears/arrears/internal/store"
)

// TestUnknownPolicyLeavesTheOthersJudged: an invoice judged under a policy
// this server lacks (a newer replica's, during an upgrade) is listed with
// its judgement unavailable, saying why; the other invoices of the page are
// judged as usual, and the list does not fail.
func TestUnknownPolicyLeavesTheOthersJudged(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, open, d(2025, 9, 1))
			ids := f.created(t, "", f.record(1, "UP-1", 500000, 30), f.record(2, "UP-2", 500000, 30))
			inv := f.get(t, ids[0])
			inv.PolicyVersion = 99
			if err := f.sb.ReadWriteTx(admin, func(ctx context.Context, tx store.Tx) error {
				return tx.UpdateInvoice(ctx, inv, store.Change{Actor: "system", Debtor: inv.DebtorID, Creditor: inv.CreditorID,
					EffectiveOn: d(2025, 9, 1), RecordTime: inv.UpdateTime.Add(time.Second), Method: "test"})
			}); err != nil {
				t.Fatal(err)
			}
			js, _, err := f.a.ListJudged(admin, store.InvoiceQuery{Page: store.Page{Limit: 10}}, 10, civil.Date{}, time.Time{}, nil)
			if err != nil {
				t.Fatalf("listing with an invoice of an unknown policy: %v", err)
			}
			found := map[string]string{}
			for _, j := range js {
				code := ""
				for _, fd := range j.Judgement.Findings {
					if fd.Code == "JUDGEMENT_UNAVAILABLE" {
						code = fd.Code
					}
				}
				found[j.Invoice.DocumentRef] = code
				if j.Invoice.DocumentRef == "UP-2" && j.Judgement.Outstanding != 500000 {
					t.Errorf("UP-2 judged: %+v", j.Judgement)
				}
			}
			if len(found) != 2 || found["UP-1"] != "JUDGEMENT_UNAVAILABLE" || found["UP-2"] != "" {
				t.Errorf("judged: %v; want UP-1 unavailable and UP-2 judged", found)
			}
			// Without figures it matches no filter on them, not even one
			// every judged invoice meets.
			js, _, err = f.a.ListJudged(admin, store.InvoiceQuery{Page: store.Page{Limit: 10}}, 10, civil.Date{}, time.Time{},
				[]service.JudgementFilter{{Field: "days_overdue", Op: ">=", Value: "0"}})
			if err != nil || len(js) != 1 || js[0].Invoice.DocumentRef != "UP-2" {
				t.Errorf("days_overdue >= 0 lists %d invoices (%v), want UP-2 alone", len(js), err)
			}
		})
	}
}
