package service_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/auth"
	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/complaint"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/money"
	"github.com/arrears/arrears/internal/policy"
	"github.com/arrears/arrears/internal/service"
	"github.com/arrears/arrears/internal/store"
	"github.com/arrears/arrears/internal/store/sqlite"
)

// TestClaimsThatCanBeAcknowledged: a claim whose reference takes all 128
// characters becomes an invoice when the debtor acknowledges it, and a
// supplier cannot claim against itself (such a claim could never be
// acknowledged).
func TestClaimsThatCanBeAcknowledged(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, open, d(2025, 9, 1))
			claim := func(debtor service.PartyRef, ref string) (*complaint.Claim, error) {
				return f.a.CreateClaim(admin, service.ClaimInput{Creditor: f.creditor, Debtor: debtor, Claim: &complaint.Claim{
					DocumentRef: ref, Amount: 10000000, Currency: "CNY", IssuedOn: d(2025, 8, 1), DeliveredOn: d(2025, 7, 28), // f.invoice's amount
					DueOn: d(2025, 8, 31), Evidence: []string{"contract HT-1"}}})
			}
			long := strings.Repeat("A", ledger.MaxRefLength)
			c, err := claim(f.debtor, long)
			if err != nil {
				t.Fatal(err)
			}
			ack, err := f.a.AnswerClaim(admin, c.ID, complaint.ClaimAcknowledged, "", "", "", service.Idempotency{})
			if err != nil {
				t.Fatalf("acknowledging a claim with a %d-character reference: %v", len(long), err)
			}
			if inv := f.get(t, ack.Invoice); inv.DocumentRef != long || inv.ContractRef != long {
				t.Errorf("the acknowledged claim's invoice: %q / %q", inv.DocumentRef, inv.ContractRef)
			}
			_, err = claim(f.creditor, "SELF-1")
			var ve *ledger.ValidationError
			if !errors.As(err, &ve) || len(ve.Violations) != 1 || ve.Violations[0].Field != "claim.debtor" {
				t.Errorf("a claim against the claimant itself: %v", err)
			}
			// Acknowledged under a reference of the request's: a bad one is
			// named as the request names it, one the debtor already uses
			// is a clash, as CreateInvoice reports it.
			c2, err := claim(f.debtor, "CLAIM-2")
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.a.AnswerClaim(admin, c2.ID, complaint.ClaimAcknowledged, "", "-bad", "", service.Idempotency{})
			if !errors.As(err, &ve) || len(ve.Violations) != 1 || ve.Violations[0].Field != "document_ref" {
				t.Errorf("acknowledged under a malformed reference: %v", err)
			}
			if _, err = f.a.AnswerClaim(admin, c2.ID, complaint.ClaimAcknowledged, "", long, "", service.Idempotency{}); !errors.Is(err, ledger.ErrAlreadyExists) {
				t.Errorf("acknowledged under a reference the debtor uses: %v", err)
			}
			// A debt the debtor records already is contested, not claimed.
			if _, err := claim(f.debtor, long); !errors.Is(err, ledger.ErrAlreadyExists) {
				t.Errorf("a claim for a debt recorded as an invoice: %v", err)
			}
			// Nor is one claimed already: pending, or acknowledged under
			// another reference of the debtor's.
			if _, err := claim(f.debtor, "CLAIM-2"); !errors.Is(err, ledger.ErrAlreadyExists) {
				t.Errorf("a second claim for a pending claim's debt: %v", err)
			}
			c3, err := claim(f.debtor, "CLAIM-3")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.a.AnswerClaim(admin, c3.ID, complaint.ClaimAcknowledged, "", "DEBTOR-REF-3", "", service.Idempotency{}); err != nil {
				t.Fatal(err)
			}
			if _, err := claim(f.debtor, "CLAIM-3"); !errors.Is(err, ledger.ErrAlreadyExists) {
				t.Errorf("a second claim for an acknowledged claim's debt: %v", err)
			}
			// A twin made before claims were checked (written here to the
			// store directly) is not acknowledged a second time.
			twin := *c3
			twin.ID, twin.State, twin.Invoice, twin.AnsweredOn, twin.Answer = uuid.New(), complaint.ClaimSubmitted, uuid.Nil, civil.Date{}, ""
			if err := f.sb.ReadWriteTx(admin, func(ctx context.Context, tx store.Tx) error {
				return tx.CreateClaim(ctx, &twin, store.Change{Actor: "system", Debtor: twin.Debtor, Creditor: twin.Creditor, EffectiveOn: d(2025, 9, 1), RecordTime: f.clk.Now(), Method: "test"})
			}); err != nil {
				t.Fatal(err)
			}
			if _, err := f.a.AnswerClaim(admin, twin.ID, complaint.ClaimAcknowledged, "", "DEBTOR-REF-3B", "", service.Idempotency{}); !errors.Is(err, ledger.ErrAlreadyExists) {
				t.Errorf("acknowledging a twin of an acknowledged claim: %v", err)
			}
			// A claim whose debt the debtor then records itself, to this
			// supplier under the claim's reference, is acknowledged as that
			// invoice: refused under another reference, joined without one.
			c4, err := claim(f.debtor, "CLAIM-4")
			if err != nil {
				t.Fatal(err)
			}
			own := f.invoice(t, "CLAIM-4", d(2025, 7, 28))
			if _, err := f.a.AnswerClaim(admin, c4.ID, complaint.ClaimAcknowledged, "", "CLAIM-4B", "", service.Idempotency{}); !errors.Is(err, ledger.ErrAlreadyExists) || !strings.Contains(err.Error(), own.ID.String()) {
				t.Errorf("acknowledged under another reference when the debtor records the debt: %v", err)
			}
			if ack, err := f.a.AnswerClaim(admin, c4.ID, complaint.ClaimAcknowledged, "", "", "", service.Idempotency{}); err != nil || ack.Invoice != own.ID {
				t.Errorf("acknowledged when the debtor records the debt: %+v, %v; want invoices/%s", ack, err, own.ID)
			}
			if _, err := f.sb.GetInvoiceByDocumentRef(admin, own.DebtorID, "CLAIM-4B"); !errors.Is(err, ledger.ErrNotFound) {
				t.Errorf("a second invoice of the debt: %v", err)
			}
			// Recorded by the debtor under its own reference: joined when
			// acknowledged naming it, rather than refused as a clash.
			c6, err := claim(f.debtor, "CLAIM-6")
			if err != nil {
				t.Fatal(err)
			}
			mine := f.invoice(t, "DEBTOR-OWN-6", d(2025, 7, 28))
			if ack, err := f.a.AnswerClaim(admin, c6.ID, complaint.ClaimAcknowledged, "", "DEBTOR-OWN-6", "", service.Idempotency{}); err != nil || ack.Invoice != mine.ID {
				t.Errorf("acknowledged naming the debtor's own invoice of the debt: %+v, %v; want invoices/%s", ack, err, mine.ID)
			}
			// But not one another claim was acknowledged as.
			c7, err := claim(f.debtor, "CLAIM-7")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.a.AnswerClaim(admin, c7.ID, complaint.ClaimAcknowledged, "", "DEBTOR-OWN-6", "", service.Idempotency{}); !errors.Is(err, ledger.ErrAlreadyExists) || !strings.Contains(err.Error(), c6.ID.String()) {
				t.Errorf("acknowledged naming another claim's invoice: %v", err)
			}
			// Nor one another claim was acknowledged as under this claim's
			// own reference: that invoice records the other debt.
			c8, err := claim(f.debtor, "CLAIM-8")
			if err != nil {
				t.Fatal(err)
			}
			c9, err := claim(f.debtor, "CLAIM-9")
			if err != nil {
				t.Fatal(err)
			}
			ack8, err := f.a.AnswerClaim(admin, c8.ID, complaint.ClaimAcknowledged, "", "CLAIM-9", "", service.Idempotency{})
			if err != nil {
				t.Fatal(err)
			}
			if ack, err := f.a.AnswerClaim(admin, c9.ID, complaint.ClaimAcknowledged, "", "", "", service.Idempotency{}); !errors.Is(err, ledger.ErrAlreadyExists) || !strings.Contains(err.Error(), c8.ID.String()) {
				t.Errorf("acknowledged as the invoice another claim was acknowledged as under this claim's reference: %+v, %v", ack, err)
			}
			if ack, err := f.a.AnswerClaim(admin, c9.ID, complaint.ClaimAcknowledged, "", "DEBTOR-REF-9", "", service.Idempotency{}); err != nil || ack.Invoice == ack8.Invoice {
				t.Errorf("acknowledged under a new reference: %+v, %v", ack, err)
			}
			// A debt the debtor recorded and then cancelled is no longer
			// recorded: not contested (no correction could answer), but
			// claimed, and acknowledged under a new reference of the
			// debtor's (the cancelled invoice keeps its own).
			gone := f.invoice(t, "CLAIM-10", d(2025, 7, 28))
			if _, err := f.a.CancelInvoice(admin, gone.ID, d(2025, 8, 5), "raised in error", ""); err != nil {
				t.Fatal(err)
			}
			if _, _, err := f.a.OpenContest(admin, service.ContestInput{InvoiceID: gone.ID, Kind: complaint.OtherDifference, Detail: "still owed"}); !errors.Is(err, ledger.ErrFailedPrecondition) {
				t.Errorf("a contest of a cancelled invoice: %v, want failed precondition", err)
			}
			c10, err := claim(f.debtor, "CLAIM-10")
			if err != nil {
				t.Fatalf("a claim of a debt the debtor cancelled: %v", err)
			}
			if _, err := f.a.AnswerClaim(admin, c10.ID, complaint.ClaimAcknowledged, "", "", "", service.Idempotency{}); !errors.Is(err, ledger.ErrAlreadyExists) {
				t.Errorf("acknowledged under the cancelled invoice's reference: %v", err)
			}
			if ack, err := f.a.AnswerClaim(admin, c10.ID, complaint.ClaimAcknowledged, "", "CLAIM-10-R", "", service.Idempotency{}); err != nil || ack.Invoice == gone.ID || ack.Invoice == uuid.Nil {
				t.Errorf("acknowledged under a new reference: %+v, %v", ack, err)
			}
			// Recorded in another currency than claimed: not joined.
			c5, err := f.a.CreateClaim(admin, service.ClaimInput{Creditor: f.creditor, Debtor: f.debtor, Claim: &complaint.Claim{
				DocumentRef: "CLAIM-5", Amount: 120000, Currency: "USD", IssuedOn: d(2025, 8, 1), Evidence: []string{"contract HT-1"}}})
			if err != nil {
				t.Fatal(err)
			}
			f.invoice(t, "CLAIM-5", d(2025, 7, 28)) // in CNY
			if _, err := f.a.AnswerClaim(admin, c5.ID, complaint.ClaimAcknowledged, "", "", "", service.Idempotency{}); !errors.Is(err, ledger.ErrFailedPrecondition) {
				t.Errorf("acknowledged when the debtor records the debt in another currency: %v", err)
			}
			// Recorded for another amount than claimed: not the debt
			// claimed, so not joined (a claim of 500.00 "acknowledged" as
			// a settled invoice of 10.00 would leave the supplier owed
			// nothing), whichever reference names it.
			small := func(ref string) *complaint.Claim {
				c, err := f.a.CreateClaim(admin, service.ClaimInput{Creditor: f.creditor, Debtor: f.debtor, Claim: &complaint.Claim{
					DocumentRef: ref, Amount: 50000, Currency: "CNY", IssuedOn: d(2025, 8, 1), Evidence: []string{"contract HT-1"}}})
				if err != nil {
					t.Fatal(err)
				}
				return c
			}
			c11, c12, c13 := small("CLAIM-11"), small("CLAIM-12"), small("CLAIM-13")
			f.invoice(t, "CLAIM-11", d(2025, 7, 28))      // CNY 100000.00
			f.invoice(t, "DEBTOR-OWN-12", d(2025, 7, 28)) // the same
			for c, ref := range map[*complaint.Claim]string{c11: "", c12: "DEBTOR-OWN-12"} {
				_, err := f.a.AnswerClaim(admin, c.ID, complaint.ClaimAcknowledged, "", ref, "", service.Idempotency{})
				if !errors.Is(err, ledger.ErrFailedPrecondition) || !strings.Contains(err.Error(), "CNY 100000.00") || !strings.Contains(err.Error(), "CNY 500.00") {
					t.Errorf("%s acknowledged (document_ref %q) as an invoice of another amount than claimed: %v", c.DocumentRef, ref, err)
				}
			}
			// Another debt under the claim's reference does not stand in
			// the way of the debtor's own reference for this one.
			f.invoice(t, "CLAIM-13", d(2025, 7, 28)) // CNY 100000.00, not the 500.00 claimed
			if ack, err := f.a.AnswerClaim(admin, c13.ID, complaint.ClaimAcknowledged, "", "DEBTOR-OWN-13", "", service.Idempotency{}); err != nil || ack.Invoice == uuid.Nil {
				t.Errorf("acknowledged under the debtor's own reference, another debt under the claim's: %+v, %v", ack, err)
			} else if inv := f.get(t, ack.Invoice); inv.DocumentRef != "DEBTOR-OWN-13" || inv.Amount.Minor != 50000 {
				t.Errorf("the claim's invoice: %s for %d, want DEBTOR-OWN-13 for 50000", inv.DocumentRef, inv.Amount.Minor)
			}
			// A retried claim with its request id registers the debt once.
			retry := func() (*complaint.Claim, error) {
				return f.a.CreateClaim(admin, service.ClaimInput{Creditor: f.creditor, Debtor: f.debtor, Idem: service.Idempotency{Key: "claim-retry", Hash: "h1"},
					Claim: &complaint.Claim{DocumentRef: "CLAIM-RETRY", Amount: 1000, Currency: "CNY", IssuedOn: d(2025, 8, 1), Evidence: []string{"contract HT-1"}}})
			}
			first, err1 := retry()
			again, err2 := retry()
			if err1 != nil || err2 != nil || first.ID != again.ID {
				t.Errorf("a retried claim: %v, %v; ids %v and %v", err1, err2, first, again)
			}
			// A portal's retry after the supplier withdrew its authority
			// does not get the claim back.
			if err := f.a.AuthorizePortal(admin, f.creditor, "portal.example"); err != nil {
				t.Fatal(err)
			}
			portal := auth.WithPrincipal(context.Background(), &auth.Principal{Prefix: "ptl", Role: auth.RolePortal, Portal: "portal.example"})
			byPortal := func() (*complaint.Claim, error) {
				return f.a.CreateClaim(portal, service.ClaimInput{Creditor: f.creditor, Debtor: f.debtor, Idem: service.Idempotency{Key: "portal-retry", Hash: "h1"},
					Claim: &complaint.Claim{DocumentRef: "CLAIM-PORTAL", Amount: 1000, Currency: "CNY", IssuedOn: d(2025, 8, 1), Evidence: []string{"contract HT-1"}}})
			}
			if _, err := byPortal(); err != nil {
				t.Fatal(err)
			}
			if err := f.a.RevokePortal(admin, f.creditor, "portal.example"); err != nil {
				t.Fatal(err)
			}
			if c, err := byPortal(); !errors.Is(err, ledger.ErrPermissionDenied) {
				t.Errorf("a portal's retry after its authority was withdrawn: %+v, %v; want permission denied", c, err)
			}
			// Free text and dates are bounded where the claim is made.
			for field, edit := range map[string]func(*complaint.Claim){
				"claim.description":   func(c *complaint.Claim) { c.Description = strings.Repeat("x", 1001) },
				"claim.due_on":        func(c *complaint.Claim) { c.DueOn = d(9999, 12, 31) },
				"claim.evidence_refs": func(c *complaint.Claim) { c.Evidence = slices.Repeat([]string{"doc"}, 101) },
			} {
				c := &complaint.Claim{DocumentRef: "CLAIM-3", Amount: 1000, Currency: "CNY", IssuedOn: d(2025, 8, 1), Evidence: []string{"contract HT-1"}}
				edit(c)
				_, err := f.a.CreateClaim(admin, service.ClaimInput{Creditor: f.creditor, Debtor: f.debtor, Claim: c})
				if !errors.As(err, &ve) || len(ve.Violations) != 1 || ve.Violations[0].Field != field {
					t.Errorf("%s: %v", field, err)
				}
			}
		})
	}
}

// TestNamedPolicyStaysNamed: an invoice recorded under a named policy,
// without the supplier's size at signing, keeps that policy when the
// fields that choose the law are corrected; one whose policy the law chose
// has it chosen again, and says the size was assumed.
func TestNamedPolicyStaysNamed(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, open, d(2025, 9, 1))
			create := func(ref, pol string) *ledger.Invoice {
				inv, err := f.a.CreateInvoice(admin, service.CreateInvoiceInput{Debtor: f.debtor, Creditor: f.creditor, Policy: pol, Invoice: &ledger.Invoice{
					DocumentRef: ref, Amount: money.Money{Minor: 10000000, Currency: "CNY"}, ContractSignedOn: d(2025, 7, 1),
					DeliveredOn: d(2025, 7, 10), IssuedOn: d(2025, 7, 10), AgreedTermDays: 30}})
				if err != nil {
					t.Fatal(err)
				}
				return inv
			}
			named, chosen := create("NAMED-1", "CONTRACT-TERMS-ONLY"), create("CHOSEN-1", "")
			if strings.Contains(named.PolicyReason, "size at signing") || !strings.Contains(chosen.PolicyReason, "size at signing was not given") {
				t.Errorf("reasons: named %q, chosen %q", named.PolicyReason, chosen.PolicyReason)
			}
			for _, inv := range []*ledger.Invoice{named, chosen} {
				got, err := f.a.UpdateInvoice(admin, inv.ID, &ledger.Invoice{ContractSignedOn: d(2020, 1, 1)}, []string{"contract_signed_on"}, "", civil.Date{}, "")
				if err != nil {
					t.Fatal(err)
				}
				want := inv.PolicyID
				if inv == chosen {
					want = "CN-728-LARGE-ENTERPRISE" // signed before 2025-06-01
				}
				if got.PolicyID != want {
					t.Errorf("%s after correcting the signing date: policy %s, want %s", inv.DocumentRef, got.PolicyID, want)
				}
			}
		})
	}
}

// TestSessionSequencesStartAtOne: in a session a record without a sequence
// (0) is refused, naming the field; before, it passed for a record already
// acknowledged and was reported unchanged without being applied. Without a
// session, sequences are not used.
func TestSessionSequencesStartAtOne(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, open, d(2025, 9, 1))
			res, acked, err := f.a.SyncChunk(admin, f.debtor.ID, "seq", []service.SyncRecord{f.record(0, "SEQ-0", 100000, 30), f.record(1, "SEQ-1", 100000, 30)})
			if err != nil {
				t.Fatal(err)
			}
			if r := res[0]; r.Outcome != service.SyncRejected || len(r.Violations) != 1 || r.Violations[0].Field != "sequence" {
				t.Errorf("sequence 0 in a session: %+v", r)
			}
			if res[1].Outcome != service.SyncCreated || acked != 1 {
				t.Errorf("sequence 1: %+v, acknowledged %d", res[1], acked)
			}
			if res, _, err := f.a.SyncChunk(admin, f.debtor.ID, "", []service.SyncRecord{f.record(0, "SEQ-NONE", 100000, 30)}); err != nil || res[0].Outcome != service.SyncCreated {
				t.Errorf("no session, no sequence: %+v, %v", res, err)
			}
		})
	}
}

// TestLateStepCountsAsLate: a complaint accepted after its review deadline,
// before the sweeper flagged it, gets the missed deadline in its timeline
// first, dated the day after the deadline.
func TestLateStepCountsAsLate(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, open, d(2025, 9, 1))
			reg := f.regulator(t)
			inv := f.invoice(t, "CMP-1", d(2025, 6, 1))
			c, err := f.a.FileComplaint(admin, service.ComplaintInput{Complainant: f.creditor, Debtor: f.debtor,
				ReceivingRegulator: service.PartyRef{ID: reg.ID}, Invoices: []uuid.UUID{inv.ID}, Summary: "unpaid since July"})
			if err != nil {
				t.Fatal(err)
			}
			// Review is due 10 working days after 1 September: 15 September.
			f.clk.Advance(20 * 24 * time.Hour)
			if _, err := f.a.MoveComplaint(admin, c.ID, service.Transition{Action: complaint.Accept}, ""); err != nil {
				t.Fatal(err)
			}
			evs, err := f.a.ListComplaintEvents(admin, c.ID, store.Page{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			var kinds []string
			for _, e := range evs {
				kinds = append(kinds, e.Kind+"@"+e.OccurredOn.String())
			}
			want := []string{complaint.EventTransition + "@2025-09-01", complaint.EventDeadlineMissed + "@2025-09-16", complaint.EventTransition + "@2025-09-21"}
			if !slices.Equal(kinds, want) {
				t.Errorf("timeline %v, want %v", kinds, want)
			}
		})
	}
}

// TestMissedHandlingDeadlineFlaggedOnce: the handling period runs from the
// handler's receipt through FORWARDED, IN_HANDLING and DEBTOR_RESPONDED, so
// once missed it is flagged once, not again on each step taken after it.
func TestMissedHandlingDeadlineFlaggedOnce(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, open, d(2025, 9, 1))
			// About no debt of its own, a complaint is refused for that,
			// before a regulator is sought (whose absence would tell the
			// debtor's region).
			_, err := f.a.FileComplaint(admin, service.ComplaintInput{Complainant: f.creditor, Debtor: f.debtor,
				Invoices: []uuid.UUID{uuid.Must(uuid.NewV7())}, Summary: "unpaid"})
			var ve *ledger.ValidationError
			if !errors.As(err, &ve) || len(ve.Violations) != 1 || ve.Violations[0].Field != "complaint.invoices[0]" {
				t.Errorf("a complaint about no debt of the supplier's: %v", err)
			}
			reg := f.regulator(t)
			inv := f.invoice(t, "CMP-2", d(2025, 6, 1))
			in := service.ComplaintInput{Complainant: f.creditor, Debtor: f.debtor, ReceivingRegulator: service.PartyRef{ID: reg.ID},
				Invoices: []uuid.UUID{inv.ID}, Summary: "unpaid since July", Idem: service.Idempotency{Key: "file-once", Hash: "h"}}
			c, err := f.a.FileComplaint(admin, in)
			if err != nil {
				t.Fatal(err)
			}
			// Filed again with its request id (a retry): the same complaint.
			if again, err := f.a.FileComplaint(admin, in); err != nil || again.ID != c.ID {
				t.Fatalf("a retried complaint: %v, %v", again, err)
			}
			move := func(tr service.Transition) {
				t.Helper()
				if _, err := f.a.MoveComplaint(admin, c.ID, tr, ""); err != nil {
					t.Fatal(err)
				}
			}
			move(service.Transition{Action: complaint.Accept})
			move(service.Transition{Action: complaint.Forward, HandlingRegulator: service.PartyRef{ID: reg.ID}})
			// Handling is due 30 days after 1 September: 1 October, a
			// holiday in China, so the first working day after.
			sweep := func() {
				t.Helper()
				if _, err := f.a.Sweep(admin); err != nil {
					t.Fatal(err)
				}
			}
			f.clk.Advance(45 * 24 * time.Hour)
			sweep()
			// Too late to extend the period that was missed.
			if _, err := f.a.MoveComplaint(admin, c.ID, service.Transition{Action: service.ExtendAction, ExtendDays: 30, Comment: "more time"}, ""); !errors.Is(err, ledger.ErrFailedPrecondition) {
				t.Errorf("extending a missed deadline: %v, want a failed precondition", err)
			}
			move(service.Transition{Action: complaint.Handle})
			f.clk.Advance(24 * time.Hour)
			sweep()
			f.clk.Advance(24 * time.Hour)
			sweep()
			evs, err := f.a.ListComplaintEvents(admin, c.ID, store.Page{Limit: 50})
			if err != nil {
				t.Fatal(err)
			}
			missed := 0
			for _, e := range evs {
				if e.Kind == complaint.EventDeadlineMissed {
					missed++
				}
			}
			if missed != 1 {
				t.Errorf("the handling deadline was flagged missed %d times, want once: %+v", missed, evs)
			}
		})
	}
}

// TestSupplierKeyDoesNotAnswerForDebtor: a CREDITOR key that also holds the
// debtor's party cannot acknowledge a claim against that debtor (which
// would record an invoice in the debtor's payables); a DEBTOR key can.
func TestSupplierKeyDoesNotAnswerForDebtor(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, open, d(2025, 9, 1))
			c, err := f.a.CreateClaim(admin, service.ClaimInput{Creditor: f.creditor, Debtor: f.debtor, Claim: &complaint.Claim{
				DocumentRef: "ROLE-1", Amount: 120000, Currency: "CNY", IssuedOn: d(2025, 8, 1), DeliveredOn: d(2025, 7, 28),
				DueOn: d(2025, 8, 31), Evidence: []string{"contract HT-1"}}})
			if err != nil {
				t.Fatal(err)
			}
			both := []uuid.UUID{f.creditor.ID, f.debtor.ID}
			supplier := auth.WithPrincipal(context.Background(), &auth.Principal{Prefix: "sup", Role: auth.RoleCreditor, Parties: both})
			if _, err := f.a.AnswerClaim(supplier, c.ID, complaint.ClaimAcknowledged, "", "", "", service.Idempotency{}); err == nil {
				t.Fatal("a CREDITOR key acknowledged a claim for the debtor")
			}
			buyer := auth.WithPrincipal(context.Background(), &auth.Principal{Prefix: "buy", Role: auth.RoleDebtor, Parties: []uuid.UUID{f.debtor.ID}})
			if _, err := f.a.AnswerClaim(buyer, c.ID, complaint.ClaimAcknowledged, "", "", "", service.Idempotency{}); err != nil {
				t.Errorf("the debtor's key acknowledging: %v", err)
			}
		})
	}
}

// TestPaymentPlanFollowsTheDebt: a plan is refused for a complaint with
// nothing a payment could be recorded against; a bill handed over on an
// instalment's date pays it only at maturity under a policy that settles
// bills so (the complaint reopens, without its old outcome and plan); and
// a plan met closes the complaint 30 days after its last instalment.
func TestPaymentPlanFollowsTheDebt(t *testing.T) {
	f := newFixture(t, engines(t)["SQLite"], d(2025, 9, 1))
	reg := f.regulator(t)
	regRef := service.PartyRef{ID: reg.ID}
	cny := func(minor int64) money.Money { return money.Money{Minor: minor, Currency: "CNY"} }
	file := func(in service.ComplaintInput) *complaint.Complaint {
		t.Helper()
		in.Complainant, in.Debtor, in.ReceivingRegulator, in.Summary = f.creditor, f.debtor, regRef, "unpaid"
		c, err := f.a.FileComplaint(admin, in)
		if err != nil {
			t.Fatal(err)
		}
		for _, tr := range []service.Transition{{Action: complaint.Accept}, {Action: complaint.Forward, HandlingRegulator: regRef}, {Action: complaint.Handle}} {
			if _, err := f.a.MoveComplaint(admin, c.ID, tr, ""); err != nil {
				t.Fatal(err)
			}
		}
		return c
	}
	plan := func(c *complaint.Complaint, due civil.Date) error {
		_, err := f.a.MoveComplaint(admin, c.ID, service.Transition{Action: complaint.Resolve, Outcome: complaint.OutcomePaymentPlan,
			Plan: []service.PlanInstalment{{DueOn: due, Amount: cny(5000000)}}}, "")
		return err
	}

	// A claim the debtor disputed has no invoice: no plan can be followed.
	cl, err := f.a.CreateClaim(admin, service.ClaimInput{Creditor: f.creditor, Debtor: f.debtor, Claim: &complaint.Claim{
		DocumentRef: "PLAN-C", Amount: 120000, Currency: "CNY", IssuedOn: d(2025, 8, 1), DeliveredOn: d(2025, 7, 28),
		DueOn: d(2025, 8, 31), Evidence: []string{"contract HT-1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.a.AnswerClaim(admin, cl.ID, complaint.ClaimDisputed, "no such order", "", "", service.Idempotency{}); err != nil {
		t.Fatal(err)
	}
	onlyClaim := file(service.ComplaintInput{Claims: []uuid.UUID{cl.ID}})
	if err := plan(onlyClaim, d(2025, 9, 30)); !errors.Is(err, ledger.ErrFailedPrecondition) {
		t.Errorf("a plan for a complaint naming only a disputed claim: %v, want a failed precondition", err)
	}

	// A bill handed over before the plan, maturing after it was agreed and
	// before its instalment, was in the debt the plan settles (the
	// ledger's outstanding counts it paid): it does not pay the instalment
	// again, and with nothing paid after the plan, the plan is missed.
	early := file(service.ComplaintInput{Invoices: []uuid.UUID{f.invoice(t, "PLAN-0", d(2025, 6, 1)).ID}})
	if _, _, err := f.a.RecordPayment(admin, early.Invoices[0], &ledger.Payment{Amount: 5000000, Currency: "CNY", PaidOn: d(2025, 8, 25),
		Reference: "BILL-0", Instrument: ledger.InstrumentCommercialBill, MaturityOn: d(2025, 9, 5)}); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(time.Minute) // the plan is agreed after the bill was recorded
	if err := plan(early, d(2025, 9, 30)); err != nil {
		t.Fatal(err)
	}

	// A bill handed over on the due date, maturing in 60 days, has not
	// paid the instalment on its date.
	billed := file(service.ComplaintInput{Invoices: []uuid.UUID{f.invoice(t, "PLAN-1", d(2025, 6, 1)).ID}})
	if err := plan(billed, d(2025, 9, 10)); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(9 * 24 * time.Hour) // 10 September
	inv := billed.Invoices[0]
	if _, _, err := f.a.RecordPayment(admin, inv, &ledger.Payment{Amount: 5000000, Currency: "CNY", PaidOn: d(2025, 9, 10), Reference: "BILL-1",
		Instrument: ledger.InstrumentCommercialBill, MaturityOn: d(2025, 11, 9)}); err != nil {
		t.Fatal(err)
	}

	// Paid by transfer: met, and closed 30 days after the instalment.
	paid := file(service.ComplaintInput{Invoices: []uuid.UUID{f.invoice(t, "PLAN-2", d(2025, 6, 1)).ID}})
	if err := plan(paid, d(2025, 9, 12)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.a.RecordPayment(admin, paid.Invoices[0], &ledger.Payment{Amount: 5000000, Currency: "CNY", PaidOn: d(2025, 9, 10),
		Reference: "TRF-1", Instrument: ledger.InstrumentTransfer}); err != nil {
		t.Fatal(err)
	}

	// Paid on time by a transfer reversed after the instalment's date: the
	// plan was not met after all.
	bounced := file(service.ComplaintInput{Invoices: []uuid.UUID{f.invoice(t, "PLAN-3", d(2025, 6, 1)).ID}})
	if err := plan(bounced, d(2025, 9, 12)); err != nil {
		t.Fatal(err)
	}
	bp, _, err := f.a.RecordPayment(admin, bounced.Invoices[0], &ledger.Payment{Amount: 5000000, Currency: "CNY", PaidOn: d(2025, 9, 10),
		Reference: "TRF-3", Instrument: ledger.InstrumentTransfer})
	if err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(5 * 24 * time.Hour) // 15 September
	if _, _, err := f.a.ReversePayment(admin, bounced.Invoices[0], bp.ID, d(2025, 9, 15), "returned by the bank", ""); err != nil {
		t.Fatal(err)
	}

	f.clk.Advance(35 * 24 * time.Hour) // 20 October
	if _, err := f.a.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	get := func(id uuid.UUID) *complaint.Complaint {
		t.Helper()
		v, err := f.a.GetComplaint(admin, id)
		if err != nil {
			t.Fatal(err)
		}
		return v.Complaint
	}
	if v := get(billed.ID); v.State != complaint.InHandling || v.Outcome != "" || len(v.Plan) != 0 {
		t.Errorf("plan paid by a bill maturing later: %s, outcome %q, %d instalments; want IN_HANDLING with neither", v.State, v.Outcome, len(v.Plan))
	}
	if v := get(early.ID); v.State != complaint.InHandling {
		t.Errorf("plan of the debt left after a bill handed over before it, nothing paid since: %s, want IN_HANDLING", v.State)
	}
	if v := get(paid.ID); v.State != complaint.Closed || v.StateSince != d(2025, 10, 12) {
		t.Errorf("plan met: %s since %s, want CLOSED since 2025-10-12", v.State, v.StateSince)
	}
	if v := get(bounced.ID); v.State != complaint.InHandling {
		t.Errorf("plan paid by a transfer reversed after the instalment: %s, want IN_HANDLING again", v.State)
	}
	// Reopened on the day after the instalment, though found only on 20
	// October (the sweep came late here): the handler's 30 days run from
	// the day it came back to them.
	if v := get(billed.ID); v.StateSince != d(2025, 9, 11) || v.HandlerReceivedOn != d(2025, 10, 20) {
		t.Errorf("reopened plan: in handling since %s, received %s; want 2025-09-11 and 2025-10-20", v.StateSince, v.HandlerReceivedOn)
	}

	// A field the action does not take is refused by name, and the
	// complaint stays as it was: a plan sent with PAID, days to extend with
	// a response.
	for field, tr := range map[string]service.Transition{
		"payment_plan": {Action: complaint.Resolve, Outcome: complaint.OutcomePaid, Plan: []service.PlanInstalment{{DueOn: d(2025, 12, 1), Amount: money.Money{Minor: 100, Currency: "CNY"}}}},
		"extend_days":  {Action: complaint.Respond, ExtendDays: 10},
		"outcome":      {Action: complaint.Respond, Outcome: complaint.OutcomeDismissed},
	} {
		var ve *ledger.ValidationError
		if _, err := f.a.MoveComplaint(admin, billed.ID, tr, ""); !errors.As(err, &ve) || len(ve.Violations) != 1 || ve.Violations[0].Field != field {
			t.Errorf("%s with %s: %v, want one violation naming %s", tr.Action, field, err, field)
		}
	}
	if v := get(billed.ID); v.State != complaint.InHandling {
		t.Errorf("after refused moves: %s, want IN_HANDLING still", v.State)
	}
	// Resolved again, as paid: the statistics as of a day the plan stood
	// still count a resolution with a plan.
	if _, err := f.a.MoveComplaint(admin, billed.ID, service.Transition{Action: complaint.Resolve, Outcome: complaint.OutcomePaid}, ""); err != nil {
		t.Fatal(err)
	}
	counts := func(asOf civil.Date) (plan, paid, closed int) {
		t.Helper()
		gs, err := f.a.ComplaintStatistics(admin, asOf, service.ByDebtorGroup, 0)
		if err != nil || len(gs) != 1 {
			t.Fatalf("statistics as of %s: %v, %d groups", asOf, err, len(gs))
		}
		return gs[0].ResolvedPlan, gs[0].ResolvedPaid, gs[0].Closed
	}
	if plan, paid, closed := counts(d(2025, 9, 5)); plan != 2 || paid != 0 || closed != 0 {
		t.Errorf("as of 5 September: %d resolved with a plan, %d paid, %d closed; want 2, 0 and 0", plan, paid, closed)
	}
	// The plan met and closed on 12 October still counts as a plan; the
	// one missed (early), in handling again, no longer does.
	if plan, paid, closed := counts(d(2025, 10, 20)); plan != 1 || paid != 1 || closed != 1 {
		t.Errorf("as of 20 October: %d resolved with a plan, %d paid, %d closed; want 1, 1 and 1", plan, paid, closed)
	}

	// A payment made on the instalment's day but recorded days later (the
	// debtor's bank run) meets it: the sweep waits PlanGraceDays first.
	lagged := file(service.ComplaintInput{Invoices: []uuid.UUID{f.invoice(t, "PLAN-4", d(2025, 6, 1)).ID}})
	if err := plan(lagged, d(2025, 10, 21)); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(2 * 24 * time.Hour) // 22 October
	if _, err := f.a.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(24 * time.Hour) // 23 October
	if _, _, err := f.a.RecordPayment(admin, lagged.Invoices[0], &ledger.Payment{Amount: 5000000, Currency: "CNY", PaidOn: d(2025, 10, 21),
		Reference: "TRF-4", Instrument: ledger.InstrumentTransfer}); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(5 * 24 * time.Hour) // 28 October
	if _, err := f.a.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if v := get(lagged.ID); v.State != complaint.Resolved {
		t.Errorf("plan paid on its day, recorded two days later: %s, want RESOLVED", v.State)
	}

	// A plan in yuan is not paid in dollars: the invoice's currency
	// corrected (nothing recorded on it yet) and a dollar payment made.
	foreign := file(service.ComplaintInput{Invoices: []uuid.UUID{f.invoice(t, "PLAN-5", d(2025, 6, 1)).ID}})
	if err := plan(foreign, d(2025, 10, 30)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.a.UpdateInvoice(admin, foreign.Invoices[0], &ledger.Invoice{Amount: money.Money{Minor: 10000000, Currency: "USD"}}, []string{"amount"}, "", civil.Date{}, ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.a.RecordPayment(admin, foreign.Invoices[0], &ledger.Payment{Amount: 5000000, Currency: "USD", PaidOn: d(2025, 10, 28),
		Reference: "USD-5", Instrument: ledger.InstrumentTransfer}); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(8 * 24 * time.Hour) // 5 November
	if _, err := f.a.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if v := get(foreign.ID); v.State != complaint.InHandling {
		t.Errorf("a yuan plan paid in dollars: %s, want IN_HANDLING again", v.State)
	}
}

// TestCorrectionsKeepTheInvoiceConsistent: an invoice whose contract date
// is unknown has its law chosen again when its invoice date (standing in
// for it) is corrected; an amount below what is paid, credited and in
// open disputes is refused, naming the field; and a dispute on an invoice
// with nothing outstanding cannot be resolved by a credit nothing carries.
func TestCorrectionsKeepTheInvoiceConsistent(t *testing.T) {
	f := newFixture(t, engines(t)["SQLite"], d(2025, 9, 1))
	create := func(ref string, signed civil.Date) *ledger.Invoice {
		t.Helper()
		inv, err := f.a.CreateInvoice(admin, service.CreateInvoiceInput{Debtor: f.debtor, Creditor: f.creditor, Invoice: &ledger.Invoice{
			DocumentRef: ref, Amount: money.Money{Minor: 100000, Currency: "CNY"}, ContractSignedOn: signed,
			DeliveredOn: d(2025, 6, 10), IssuedOn: d(2025, 6, 10), AgreedTermDays: 30, CreditorSizeAtSigning: ledger.SizeSmall}})
		if err != nil {
			t.Fatal(err)
		}
		return inv
	}
	unsigned := create("CK-1", civil.Date{})
	// Nor is an invoice cancelled before it was issued.
	_, err := f.a.CancelInvoice(admin, unsigned.ID, d(2025, 6, 1), "raised in error", "")
	if ve := (*ledger.ValidationError)(nil); !errors.As(err, &ve) || !ve.Has("cancelled_on") {
		t.Errorf("cancelled before its issue date: %v, want cancelled_on named", err)
	}
	if unsigned.PolicyID != policy.IDCN802LargeEnterprise {
		t.Fatalf("issued 10 June 2025 without a contract date: %s", unsigned.PolicyID)
	}
	got, err := f.a.UpdateInvoice(admin, unsigned.ID, &ledger.Invoice{IssuedOn: d(2025, 5, 20)}, []string{"issued_on"}, "", civil.Date{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if got.PolicyID != policy.IDCN728LargeEnterprise {
		t.Errorf("invoice date corrected to 20 May 2025: policy %s, want %s", got.PolicyID, policy.IDCN728LargeEnterprise)
	}

	disputed := create("CK-2", d(2025, 6, 1))
	if _, _, err := f.a.OpenDispute(admin, disputed.ID, &ledger.Dispute{Amount: 80000, OpenedOn: d(2025, 8, 1), Reason: "short delivery"}, "CNY", service.Idempotency{}); err != nil {
		t.Fatal(err)
	}
	_, err = f.a.UpdateInvoice(admin, disputed.ID, &ledger.Invoice{Amount: money.Money{Minor: 30000, Currency: "CNY"}}, []string{"amount"}, "", civil.Date{}, "")
	var ve *ledger.ValidationError
	if !errors.As(err, &ve) || ve.Violations[0].Field != "invoice.amount.minor_units" {
		t.Errorf("amount below what is in dispute: %v", err)
	}

	settled := create("CK-3", d(2025, 6, 1))
	dsp, _, err := f.a.OpenDispute(admin, settled.ID, &ledger.Dispute{Amount: 30000, OpenedOn: d(2025, 8, 1), Reason: "short delivery"}, "CNY", service.Idempotency{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.a.RecordPayment(admin, settled.ID, &ledger.Payment{Amount: 100000, Currency: "CNY", PaidOn: d(2025, 8, 20), Reference: "CK-P3"}); err != nil {
		t.Fatal(err)
	}
	// Paid in full with a dispute still open: other corrections still go.
	if _, err := f.a.UpdateInvoice(admin, settled.ID, &ledger.Invoice{ContractRef: "HT-9"}, []string{"contract_ref"}, "", civil.Date{}, ""); err != nil {
		t.Errorf("correcting the contract reference of a settled invoice with an open dispute: %v", err)
	}
	if _, _, err := f.a.ResolveDispute(admin, settled.ID, dsp.ID, ledger.ResolutionCredited, d(2025, 8, 25), "", ""); !errors.Is(err, ledger.ErrFailedPrecondition) {
		t.Errorf("crediting a dispute on a settled invoice: %v, want a failed precondition", err)
	}
	if _, _, err := f.a.ResolveDispute(admin, settled.ID, dsp.ID, ledger.ResolutionWithdrawn, d(2025, 8, 25), "", ""); err != nil {
		t.Errorf("withdrawing it: %v", err)
	}
}

// TestCurrencyCorrectionAppliesThroughout: an invoice whose currency was
// corrected (before any fact) is judged in the new currency on every date,
// earlier ones included, once facts in that currency are recorded.
func TestCurrencyCorrectionAppliesThroughout(t *testing.T) {
	f := newFixture(t, engines(t)["SQLite"], d(2025, 9, 1))
	inv := f.invoice(t, "CUR-1", d(2025, 6, 1))
	if _, err := f.a.UpdateInvoice(admin, inv.ID, &ledger.Invoice{Amount: money.Money{Minor: 500000, Currency: "EUR"}}, []string{"amount"}, "", civil.Date{}, ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.a.RecordPayment(admin, inv.ID, &ledger.Payment{Amount: 1000, Currency: "EUR", PaidOn: d(2025, 8, 1), Reference: "CUR-P1"}); err != nil {
		t.Fatal(err)
	}
	// A later correction of the amount alone, from 10 September: before
	// it, the amount the currency correction set.
	f.clk.Advance(10 * 24 * time.Hour)
	if _, err := f.a.UpdateInvoice(admin, inv.ID, &ledger.Invoice{Amount: money.Money{Minor: 600000, Currency: "EUR"}}, []string{"amount"}, "", civil.Date{}, ""); err != nil {
		t.Fatal(err)
	}
	for asOf, want := range map[civil.Date]int64{d(2025, 8, 15): 499000, d(2025, 9, 5): 499000, d(2025, 9, 11): 599000} {
		j, err := f.a.JudgeInvoice(admin, inv.ID, asOf, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if j.Judgement.Currency != "EUR" || j.Judgement.Outstanding != want {
			t.Errorf("as of %s: %s %d outstanding, findings %v; want EUR %d", asOf, j.Judgement.Currency, j.Judgement.Outstanding, j.Judgement.Findings, want)
		}
	}

	// Back and forth: CNY, then GBP, then CNY again: an earlier date takes
	// the amount of the last correction into the current currency.
	other := f.invoice(t, "CUR-2", d(2025, 6, 1))
	// In order: GBP from 1 August, CNY again from 1 September; judged on
	// 15 August, between them.
	for _, c := range []struct {
		on civil.Date
		a  money.Money
	}{{d(2025, 8, 1), money.Money{Minor: 600000, Currency: "GBP"}}, {d(2025, 9, 1), money.Money{Minor: 499000, Currency: "CNY"}}} {
		if _, err := f.a.UpdateInvoice(admin, other.ID, &ledger.Invoice{Amount: c.a}, []string{"amount"}, "", c.on, ""); err != nil {
			t.Fatal(err)
		}
	}
	if j, err := f.a.JudgeInvoice(admin, other.ID, d(2025, 8, 15), time.Time{}); err != nil || j.Judgement.Outstanding != 499000 {
		t.Errorf("CNY, GBP from 1 August, CNY again from 1 September, as of 15 August: %v, %d outstanding; want 499000", err, j.Judgement.Outstanding)
	}
}

// TestRegulatorIsNoPartyToADebt: a regulator handles complaints; an
// invoice or a claim naming one as debtor or creditor is refused by name.
func TestRegulatorIsNoPartyToADebt(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, open, d(2025, 9, 1))
			reg := f.regulator(t)
			regulator := service.PartyRef{ID: reg.ID}
			refused := func(what, field string, err error) {
				t.Helper()
				var ve *ledger.ValidationError
				if !errors.As(err, &ve) || !ve.Has(field) {
					t.Errorf("%s: %v, want a violation of %s", what, err, field)
				}
			}
			invoice := func(debtor, creditor service.PartyRef) error {
				_, err := f.a.CreateInvoice(admin, service.CreateInvoiceInput{Debtor: debtor, Creditor: creditor, Invoice: &ledger.Invoice{
					DocumentRef: "REG-1", Amount: money.Money{Minor: 100000, Currency: "CNY"}, IssuedOn: d(2025, 8, 1), AgreedTermDays: 30}})
				return err
			}
			refused("an invoice a regulator owes", "invoice.debtor", invoice(regulator, f.creditor))
			refused("an invoice owed to a regulator", "invoice.creditor", invoice(f.debtor, regulator))
			_, err := f.a.CreateClaim(admin, service.ClaimInput{Creditor: f.creditor, Debtor: regulator, Claim: &complaint.Claim{
				DocumentRef: "REG-C1", Amount: 1000, Currency: "CNY", IssuedOn: d(2025, 8, 1), Evidence: []string{"contract HT-1"}}})
			refused("a claim on a regulator", "claim.debtor", err)
			// Nor does a firm become a regulator, or a regulator a firm.
			_, err = f.a.UpdateParty(admin, f.debtor, &ledger.Party{Kind: ledger.KindRegulator}, []string{"kind"}, "")
			refused("a debtor made a regulator", "party.kind", err)
			_, err = f.a.UpdateParty(admin, regulator, &ledger.Party{Kind: ledger.KindSME, SizeClass: ledger.SizeSmall}, []string{"kind", "size_class"}, "")
			refused("a regulator made an SME", "party.kind", err)
		})
	}
}

// TestComplaintNamesEachDebtOnce: a complaint naming an invoice twice, or
// more invoices than MaxComplaintDebts, is refused naming the field.
func TestComplaintNamesEachDebtOnce(t *testing.T) {
	f := newFixture(t, engines(t)["SQLite"], d(2025, 9, 1))
	reg := f.regulator(t)
	inv := f.invoice(t, "CMP-TWICE", d(2025, 6, 1))
	file := func(ids []uuid.UUID) error {
		_, err := f.a.FileComplaint(admin, service.ComplaintInput{Complainant: f.creditor, Debtor: f.debtor,
			ReceivingRegulator: service.PartyRef{ID: reg.ID}, Invoices: ids, Summary: "unpaid"})
		return err
	}
	var ve *ledger.ValidationError
	if err := file([]uuid.UUID{inv.ID, inv.ID}); !errors.As(err, &ve) || !ve.Has("complaint.invoices[1]") {
		t.Errorf("an invoice named twice: %v", err)
	}
	many := make([]uuid.UUID, service.MaxComplaintDebts+1)
	for i := range many {
		many[i] = uuid.New()
	}
	if err := file(many); !errors.As(err, &ve) || !ve.Has("complaint.invoices") {
		t.Errorf("%d invoices: %v", len(many), err)
	}
	if err := file([]uuid.UUID{inv.ID}); err != nil {
		t.Errorf("the invoice once: %v", err)
	}
}

// TestClaimRetriedWhileTheFirstRuns: a portal's retry of a claim, sent
// while the first request still runs, waits for it and gets its claim
// back, not a refusal as a second claim of the debt.
func TestClaimRetriedWhileTheFirstRuns(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, open, d(2025, 9, 1))
			if !f.sb.ConcurrentWriters() {
				t.Skip("writers are serialized: the retry runs after the first")
			}
			held, release := make(chan struct{}), make(chan struct{})
			holder := make(chan error, 1)
			go func() {
				holder <- f.sb.ReadWriteTx(admin, func(ctx context.Context, tx store.Tx) error {
					if _, err := tx.LockParty(ctx, f.creditor.ID); err != nil {
						return err
					}
					close(held)
					<-release
					return nil
				})
			}()
			<-held
			type result struct {
				c   *complaint.Claim
				err error
			}
			results := make(chan result, 2)
			for range 2 {
				go func() {
					c, err := f.a.CreateClaim(admin, service.ClaimInput{Creditor: f.creditor, Debtor: f.debtor, Idem: service.Idempotency{Key: "claim-r1", Hash: "h1"},
						Claim: &complaint.Claim{DocumentRef: "CLAIM-R1", Amount: 1000, Currency: "CNY", IssuedOn: d(2025, 8, 1), Evidence: []string{"contract HT-1"}}})
					results <- result{c, err}
				}()
			}
			// Both have read that the request is new and wait on the lock.
			time.Sleep(300 * time.Millisecond)
			close(release)
			if err := <-holder; err != nil {
				t.Fatal(err)
			}
			r1, r2 := <-results, <-results
			if r1.err != nil || r2.err != nil || r1.c.ID != r2.c.ID {
				t.Errorf("a claim and its retry: %v, %v", r1, r2)
			}
		})
	}
}

// TestContestRetriedOpensOnce: a contest sent again with its request id
// (a portal that lost the answer) is opened once.
func TestContestRetriedOpensOnce(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, open, d(2025, 9, 1))
			inv := f.invoice(t, "CONTESTED-1", d(2025, 7, 1))
			in := service.ContestInput{InvoiceID: inv.ID, Kind: complaint.OtherDifference, Detail: "the goods were returned",
				Idem: service.Idempotency{Key: "contest-r1", Hash: "h1"}}
			c1, _, err1 := f.a.OpenContest(admin, in)
			c2, inv2, err2 := f.a.OpenContest(admin, in)
			if err1 != nil || err2 != nil || c1.ID != c2.ID || inv2.Contested != 1 {
				t.Fatalf("a contest and its retry: %v, %v; %v and %v; the invoice has %d open", err1, err2, c1, c2, inv2.Contested)
			}
			if got := f.get(t, inv.ID); got.Contested != 1 {
				t.Errorf("the invoice has %d open contests, want 1", got.Contested)
			}
			in.Idem.Hash = "h2"
			if _, _, err := f.a.OpenContest(admin, in); !errors.Is(err, ledger.ErrAlreadyExists) {
				t.Errorf("the request id again for another contest: %v", err)
			}
		})
	}
}

// TestOpenContestsAreBounded: an invoice holds at most MaxOpenContests
// unresolved contests; one more is refused as a failed precondition. The
// debtor's correction marks every one of them corrected, and the
// supplier's accepting one makes room again.
func TestOpenContestsAreBounded(t *testing.T) {
	f := newFixture(t, engines(t)["SQLite"], d(2025, 9, 1))
	inv := f.invoice(t, "CONTESTED-MANY", d(2025, 7, 1))
	// A history of 1,000 contests a regulator rejected, which stay in the
	// invoice's listing (written to the store directly, as decided): the
	// correction must page past them to the open ones.
	if err := f.sb.ReadWriteTx(admin, func(ctx context.Context, tx store.Tx) error {
		for range 1000 {
			c := &complaint.Contest{ID: uuid.Must(uuid.NewV7()), InvoiceID: inv.ID, Creditor: inv.CreditorID, Debtor: inv.DebtorID, Kind: complaint.OtherDifference,
				Detail: "rejected", State: complaint.ContestDecided, Decision: "REJECTED", OpenedOn: d(2025, 8, 1), CreateTime: f.clk.Now(), UpdateTime: f.clk.Now()}
			if err := tx.CreateContest(ctx, c, store.Change{Actor: "system", Debtor: inv.DebtorID, Creditor: inv.CreditorID, EffectiveOn: d(2025, 8, 1), RecordTime: f.clk.Now(), Method: "test"}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	open := func() error {
		_, _, err := f.a.OpenContest(admin, service.ContestInput{InvoiceID: inv.ID, Kind: complaint.OtherDifference, Detail: "the goods were returned"})
		return err
	}
	for i := range service.MaxOpenContests {
		if err := open(); err != nil {
			t.Fatalf("contest %d: %v", i+1, err)
		}
	}
	if err := open(); !errors.Is(err, ledger.ErrFailedPrecondition) {
		t.Errorf("contest %d: %v, want a failed precondition", service.MaxOpenContests+1, err)
	}
	if got := f.get(t, inv.ID); got.Contested != service.MaxOpenContests {
		t.Fatalf("the invoice has %d open contests, want %d", got.Contested, service.MaxOpenContests)
	}
	got, err := f.a.UpdateInvoice(admin, inv.ID, &ledger.Invoice{ContractRef: "HT-CORRECTED"}, []string{"contract_ref"}, "", civil.Date{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if got.Contested != service.MaxOpenContests {
		t.Errorf("after the debtor's correction the invoice has %d unresolved contests, want %d (each awaits the supplier)", got.Contested, service.MaxOpenContests)
	}
	byState := func(st complaint.ContestState) []*complaint.Contest {
		cs, err := f.a.ListContests(admin, store.SupplierQuery{InvoiceID: inv.ID, State: []store.StringCond{{Op: store.OpEq, Value: string(st)}}, Page: store.Page{Limit: 1000}})
		if err != nil {
			t.Fatal(err)
		}
		return cs
	}
	if open := byState(complaint.ContestOpen); len(open) != 0 {
		t.Errorf("%d contests still open after the correction, the first %s", len(open), open[0].ID)
	}
	cs := byState(complaint.ContestCorrected)
	if len(cs) != service.MaxOpenContests {
		t.Errorf("%d contests corrected, want %d", len(cs), service.MaxOpenContests)
	}
	if _, _, err := f.a.MoveContest(admin, inv.ID, cs[0].ID, complaint.ContestAccept, "", ""); err != nil {
		t.Fatal(err)
	}
	if err := open(); err != nil {
		t.Errorf("a contest after the supplier accepted one: %v", err)
	}
}

// TestContestMovedAsRead: a move sent with the contest's etag is refused
// once the contest changed since it was read: a regulator deciding on a
// contest the debtor has meanwhile corrected decides on what it has not
// seen.
func TestContestMovedAsRead(t *testing.T) {
	f := newFixture(t, engines(t)["SQLite"], d(2025, 9, 1))
	inv := f.invoice(t, "CONTEST-ETAG", d(2025, 7, 1))
	c, _, err := f.a.OpenContest(admin, service.ContestInput{InvoiceID: inv.ID, Kind: complaint.AmountDiffers, Detail: "the amount is 120,000"})
	if err != nil {
		t.Fatal(err)
	}
	read := service.Etag(c.Version)
	if _, err := f.a.UpdateInvoice(admin, inv.ID, &ledger.Invoice{ContractRef: "HT-CORRECTED"}, []string{"contract_ref"}, "", civil.Date{}, ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.a.MoveContest(admin, inv.ID, c.ID, complaint.ContestDecideReject, "", read); !errors.Is(err, ledger.ErrStale) {
		t.Errorf("a decision on the contest as read before the correction: %v, want stale", err)
	}
	now, err := f.a.ListContests(admin, store.SupplierQuery{InvoiceID: inv.ID, Page: store.Page{Limit: 10}})
	if err != nil || len(now) != 1 || now[0].State != complaint.ContestCorrected {
		t.Fatalf("the contest after the correction: %v, %v", now, err)
	}
	// The debtor changes its record again before the supplier answers: an
	// ACCEPT of the first correction, as read, is not an acceptance of
	// the record as it now stands.
	first := service.Etag(now[0].Version)
	if _, err := f.a.UpdateInvoice(admin, inv.ID, &ledger.Invoice{ContractRef: "HT-CORRECTED-AGAIN"}, []string{"contract_ref"}, "", civil.Date{}, ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.a.MoveContest(admin, inv.ID, c.ID, complaint.ContestAccept, "", first); !errors.Is(err, ledger.ErrStale) {
		t.Errorf("an ACCEPT of the first correction after a second: %v, want stale", err)
	}
	now, err = f.a.ListContests(admin, store.SupplierQuery{InvoiceID: inv.ID, Page: store.Page{Limit: 10}})
	if err != nil || len(now) != 1 || now[0].State != complaint.ContestCorrected || now[0].Comment != "the debtor changed its record again" {
		t.Fatalf("the contest after the second correction: %+v, %v", now, err)
	}
	if _, _, err := f.a.MoveContest(admin, inv.ID, c.ID, complaint.ContestAccept, "", service.Etag(now[0].Version)); err != nil {
		t.Errorf("accepted as read after the second correction: %v", err)
	}
}

// TestRegulatorStaysWithinItsKeysRemit: a regulator is not moved to a
// region outside the remit of a key acting for it (complaints routed to it
// there would be outside what its key may see); within it, it moves.
func TestRegulatorStaysWithinItsKeysRemit(t *testing.T) {
	f := newFixture(t, engines(t)["SQLite"], d(2025, 9, 1))
	reg := f.regulator(t) // region 350000
	if _, _, err := f.a.CreateKey(admin, service.KeySpec{Role: auth.RoleRegulator, Parties: []service.PartyRef{{ID: reg.ID}},
		Remit: auth.Remit{Jurisdiction: "CN", RegionPrefix: "35"}}); err != nil {
		t.Fatal(err)
	}
	move := func(region string) error {
		_, err := f.a.UpdateParty(admin, service.PartyRef{ID: reg.ID}, &ledger.Party{RegionCode: region}, []string{"region_code"}, "")
		return err
	}
	var ve *ledger.ValidationError
	if err := move("360100"); !errors.As(err, &ve) || !ve.Has("party.region_code") {
		t.Errorf("a regulator moved out of its key's remit: %v", err)
	}
	if err := move("350100"); err != nil {
		t.Errorf("a regulator moved within its key's remit: %v", err)
	}
	// Fuzhou (350100) covers 3501*: a key limited to 350100* could not
	// see a complaint about a debtor of 350102 routed there.
	key := func(prefix string) error {
		_, _, err := f.a.CreateKey(admin, service.KeySpec{Role: auth.RoleRegulator, Parties: []service.PartyRef{{ID: reg.ID}},
			Remit: auth.Remit{Jurisdiction: "CN", RegionPrefix: prefix}})
		return err
	}
	if err := key("350100"); !errors.As(err, &ve) || !ve.Has("api_key.parties[0]") {
		t.Errorf("a key for Fuzhou limited to 350100*: %v, want refused", err)
	}
	if err := key("3501"); err != nil {
		t.Errorf("a key for Fuzhou over 3501*: %v", err)
	}
	// With that key acting for it, Fuzhou's office cannot become the
	// province's (35*), which the key does not hold whole.
	if err := move("350000"); !errors.As(err, &ve) || !ve.Has("party.region_code") {
		t.Errorf("a regulator moved to a remit wider than its key's: %v", err)
	}
	// A district office (350102) with a key over 35010*: made city-wide
	// (350100, 3501*), its remit would outgrow the key's, though the
	// region code itself starts with the key's prefix.
	if err := move("350102"); err != nil {
		t.Fatalf("a regulator moved to a district within its keys' remits: %v", err)
	}
	if err := key("35010"); err != nil {
		t.Fatalf("a key for the district office over 35010*: %v", err)
	}
	if err := move("350100"); !errors.As(err, &ve) || !ve.Has("party.region_code") {
		t.Errorf("a district office made city-wide beyond its key's remit: %v", err)
	}
}

// resolvedWithPlan files the complaint in and resolves it with a plan of
// instalments of amount (CNY minor units) due on the dates given.
func (f *fixture) resolvedWithPlan(t *testing.T, in service.ComplaintInput, reg service.PartyRef, amount int64, due ...civil.Date) *complaint.Complaint {
	t.Helper()
	c, err := f.a.FileComplaint(admin, in)
	if err != nil {
		t.Fatal(err)
	}
	var plan []service.PlanInstalment
	for _, on := range due {
		plan = append(plan, service.PlanInstalment{DueOn: on, Amount: money.Money{Minor: amount, Currency: "CNY"}})
	}
	for _, tr := range []service.Transition{{Action: complaint.Accept}, {Action: complaint.Forward, HandlingRegulator: reg}, {Action: complaint.Handle},
		{Action: complaint.Resolve, Outcome: complaint.OutcomePaymentPlan, Plan: plan}} {
		if _, err := f.a.MoveComplaint(admin, c.ID, tr, ""); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// planPaid files the complaint in, resolves it with a plan of two
// instalments of CNY 50,000.00 (12 September and 12 October 2025), and
// records a payment of the first on invoice invID on 10 September.
func (f *fixture) planPaid(t *testing.T, in service.ComplaintInput, reg service.PartyRef, invID uuid.UUID) (*complaint.Complaint, *ledger.Payment) {
	t.Helper()
	c := f.resolvedWithPlan(t, in, reg, 5000000, d(2025, 9, 12), d(2025, 10, 12))
	p, _, err := f.a.RecordPayment(admin, invID, &ledger.Payment{Amount: 5000000, Currency: "CNY", PaidOn: d(2025, 9, 10), Reference: "RECHECK-P1"})
	if err != nil {
		t.Fatal(err)
	}
	return c, p
}

// TestExtensionRetriedAppliesOnce: a handler's EXTEND_DEADLINE sent again
// with its request id (the answer lost) extends the handling once, with one
// line on the timeline; the id again for another move is refused.
func TestExtensionRetriedAppliesOnce(t *testing.T) {
	f := newFixture(t, engines(t)["SQLite"], d(2025, 9, 10))
	reg := service.PartyRef{ID: f.regulator(t).ID}
	invID := f.invoice(t, "EXTEND-ONCE", d(2025, 6, 1)).ID
	c, err := f.a.FileComplaint(admin, service.ComplaintInput{Complainant: f.creditor, Debtor: f.debtor, ReceivingRegulator: reg, Summary: "unpaid", Invoices: []uuid.UUID{invID}})
	if err != nil {
		t.Fatal(err)
	}
	extend := service.Transition{Action: service.ExtendAction, ExtendDays: 30, Comment: "expert opinion awaited",
		Idem: service.Idempotency{Key: "extend-1", Hash: "h1"}}
	// Before it is forwarded there is no handler to extend anything: the
	// state answers, to the receiving regulator as to anyone.
	regulator := auth.WithPrincipal(context.Background(), &auth.Principal{Prefix: "reg", Role: auth.RoleRegulator, Parties: []uuid.UUID{reg.ID},
		Remit: auth.Remit{Jurisdiction: "CN", RegionPrefix: "35"}})
	if _, err := f.a.MoveComplaint(admin, c.ID, service.Transition{Action: complaint.Accept}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.a.MoveComplaint(regulator, c.ID, extend, ""); !errors.Is(err, ledger.ErrFailedPrecondition) {
		t.Errorf("the receiving regulator extending an accepted complaint: %v, want failed precondition", err)
	}
	for _, tr := range []service.Transition{{Action: complaint.Forward, HandlingRegulator: reg}, {Action: complaint.Handle}} {
		if _, err := f.a.MoveComplaint(admin, c.ID, tr, ""); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		v, err := f.a.MoveComplaint(admin, c.ID, extend, "")
		if err != nil {
			t.Fatal(err)
		}
		if v.Complaint.ExtensionDays != 30 {
			t.Errorf("an extension of 30 days and its retry: extended by %d", v.Complaint.ExtensionDays)
		}
	}
	events, err := f.a.ListComplaintEvents(admin, c.ID, store.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	extended := 0
	for _, e := range events {
		if e.Kind == complaint.EventExtended {
			extended++
		}
	}
	if extended != 1 {
		t.Errorf("%d EXTENDED lines on the timeline, want 1", extended)
	}
	other := extend
	other.ExtendDays, other.Idem.Hash = 10, "h2"
	if _, err := f.a.MoveComplaint(admin, c.ID, other, ""); !errors.Is(err, ledger.ErrAlreadyExists) {
		t.Errorf("the request id again for another move: %v", err)
	}
}

// TestPlanMetWithACredit: a plan of two instalments of CNY 50,000.00 on an
// invoice of CNY 100,000.00; the first is paid, then the supplier credits
// CNY 20,000.00 (recorded on 30 September, dated back to 1 September,
// before the plan) and the debtor pays the CNY 30,000.00 left (a payment of
// the full instalment would be refused as more than owed). The debt is
// settled: the plan is met and the complaint closes, not reopened for an
// instalment missed.
func TestPlanMetWithACredit(t *testing.T) {
	f := newFixture(t, engines(t)["SQLite"], d(2025, 9, 10))
	reg := service.PartyRef{ID: f.regulator(t).ID}
	invID := f.invoice(t, "PLAN-CREDIT", d(2025, 6, 1)).ID
	c, _ := f.planPaid(t, service.ComplaintInput{Complainant: f.creditor, Debtor: f.debtor, ReceivingRegulator: reg, Summary: "unpaid", Invoices: []uuid.UUID{invID}}, reg, invID)
	f.clk.Advance(20 * 24 * time.Hour) // 30 September
	if _, _, err := f.a.CreateCreditNote(admin, invID, &ledger.CreditNote{Amount: 2000000, IssuedOn: d(2025, 9, 1), Reference: "PLAN-CN", Reason: "damaged goods"}, "CNY", service.Idempotency{}); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(10 * 24 * time.Hour) // 10 October
	if _, _, err := f.a.RecordPayment(admin, invID, &ledger.Payment{Amount: 3000000, Currency: "CNY", PaidOn: d(2025, 10, 10), Reference: "PLAN-P2"}); err != nil {
		t.Fatal(err)
	}
	for _, days := range []int{10, 40} { // 20 October (the second instalment checked), 29 November
		f.clk.Advance(time.Duration(days) * 24 * time.Hour)
		if _, err := f.a.Sweep(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	v, err := f.a.GetComplaint(admin, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if v.Complaint.State != complaint.Closed {
		t.Errorf("a plan met with a credit and the rest paid: %s (outcome %q), want CLOSED", v.Complaint.State, v.Complaint.Outcome)
	}
}

// TestPlanCountsOnlyLaterCredits: a credit (or a payment) recorded before
// the plan was agreed, on the same day, is in the debt the plan was agreed
// on (CNY 80,000.00 in two instalments of 40,000.00): paying 40,000.00 and
// then 20,000.00 misses the second instalment, the credit or payment not
// counting again.
func TestPlanCountsOnlyLaterCredits(t *testing.T) {
	for _, early := range []string{"credit", "payment"} {
		t.Run(early, func(t *testing.T) { testPlanAfterEarlyReduction(t, early) })
	}
}

// testPlanAfterEarlyReduction is TestPlanCountsOnlyLaterCredits with the
// debt reduced on the plan's day, before it was agreed, by a credit note or
// a payment.
func testPlanAfterEarlyReduction(t *testing.T, early string) {
	f := newFixture(t, engines(t)["SQLite"], d(2025, 9, 10))
	reg := service.PartyRef{ID: f.regulator(t).ID}
	invID := f.invoice(t, "PLAN-EARLY-"+early, d(2025, 6, 1)).ID
	var err error
	if early == "credit" {
		_, _, err = f.a.CreateCreditNote(admin, invID, &ledger.CreditNote{Amount: 2000000, IssuedOn: d(2025, 9, 10), Reference: "EARLY-CN", Reason: "damaged goods"}, "CNY", service.Idempotency{})
	} else {
		_, _, err = f.a.RecordPayment(admin, invID, &ledger.Payment{Amount: 2000000, Currency: "CNY", PaidOn: d(2025, 9, 10), Reference: "EARLY-PAY"})
	}
	if err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(time.Hour) // the plan is agreed later that day
	c := f.resolvedWithPlan(t, service.ComplaintInput{Complainant: f.creditor, Debtor: f.debtor, ReceivingRegulator: reg, Summary: "unpaid", Invoices: []uuid.UUID{invID}},
		reg, 4000000, d(2025, 9, 12), d(2025, 10, 12))
	for _, p := range []struct {
		on     civil.Date
		amount int64
	}{{d(2025, 9, 11), 4000000}, {d(2025, 10, 10), 2000000}} {
		f.clk.Set(noonShanghai(p.on))
		if _, _, err := f.a.RecordPayment(admin, invID, &ledger.Payment{Amount: p.amount, Currency: "CNY", PaidOn: p.on, Reference: fmt.Sprint("EARLY-P", p.on)}); err != nil {
			t.Fatal(err)
		}
	}
	if st := f.stateAfterSweeps(t, c.ID, d(2025, 10, 20)); st != complaint.InHandling {
		t.Errorf("a plan short by the credit agreed into it: %s, want IN_HANDLING (the second instalment missed)", st)
	}
}

// stateAfterSweeps sweeps at noon in Shanghai on each date and returns the
// complaint's state after the last.
func (f *fixture) stateAfterSweeps(t *testing.T, id uuid.UUID, on ...civil.Date) complaint.State {
	t.Helper()
	for _, day := range on {
		f.clk.Set(noonShanghai(day))
		if _, err := f.a.Sweep(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	v, err := f.a.GetComplaint(admin, id)
	if err != nil {
		t.Fatal(err)
	}
	return v.Complaint.State
}

// TestPlanIsAgreedOnTheLedgersOutstanding: a commercial bill handed over
// and recorded before the plan counts as paid in the ledger's outstanding
// (CNY 50,000.00 of 100,000.00 left), whenever it matures: a plan of
// 100,000.00 is refused, as payments beyond what is owed would be; one of
// 50,000.00 is missed if nothing is paid after it, the bill not counting
// again at its maturity.
func TestPlanIsAgreedOnTheLedgersOutstanding(t *testing.T) {
	f := newFixture(t, engines(t)["SQLite"], d(2025, 9, 10))
	reg := service.PartyRef{ID: f.regulator(t).ID}
	invID := f.invoice(t, "PLAN-BILL", d(2025, 6, 1)).ID
	if _, _, err := f.a.RecordPayment(admin, invID, &ledger.Payment{Amount: 5000000, Currency: "CNY", PaidOn: d(2025, 9, 10), Reference: "PLAN-BILL-1",
		Instrument: ledger.InstrumentCommercialBill, MaturityOn: d(2025, 10, 1)}); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(time.Hour) // the plan is agreed later that day
	in := service.ComplaintInput{Complainant: f.creditor, Debtor: f.debtor, ReceivingRegulator: reg, Summary: "unpaid", Invoices: []uuid.UUID{invID}}
	c, err := f.a.FileComplaint(admin, in)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range []service.Transition{{Action: complaint.Accept}, {Action: complaint.Forward, HandlingRegulator: reg}, {Action: complaint.Handle}} {
		if _, err := f.a.MoveComplaint(admin, c.ID, tr, ""); err != nil {
			t.Fatal(err)
		}
	}
	cny := money.Money{Minor: 5000000, Currency: "CNY"}
	resolve := func(plan ...service.PlanInstalment) error {
		_, err := f.a.MoveComplaint(admin, c.ID, service.Transition{Action: complaint.Resolve, Outcome: complaint.OutcomePaymentPlan, Plan: plan}, "")
		return err
	}
	var ve *ledger.ValidationError
	if err := resolve(service.PlanInstalment{DueOn: d(2025, 10, 5), Amount: cny}, service.PlanInstalment{DueOn: d(2025, 11, 5), Amount: cny}); !errors.As(err, &ve) || !ve.Has("payment_plan") {
		t.Errorf("a plan of more than the ledger's outstanding: %v, want refused naming payment_plan", err)
	}
	if err := resolve(service.PlanInstalment{DueOn: d(2025, 11, 5), Amount: cny}); err != nil {
		t.Fatal(err)
	}
	// Nothing paid after the plan: its instalment is missed, the bill
	// maturing meanwhile paying nothing of it.
	if st := f.stateAfterSweeps(t, c.ID, d(2025, 11, 12)); st != complaint.InHandling {
		t.Errorf("a plan of the outstanding, nothing paid after it: %s, want IN_HANDLING", st)
	}
}

// TestPlanSeesAnEarlierPaymentReversed: a transfer recorded before the
// plan was in the debt it settles; returned by the bank after the plan was
// agreed, it is owed again, and the plan's instalment paid since does not
// meet the plan any more.
func TestPlanSeesAnEarlierPaymentReversed(t *testing.T) {
	f := newFixture(t, engines(t)["SQLite"], d(2025, 9, 10))
	reg := service.PartyRef{ID: f.regulator(t).ID}
	invID := f.invoice(t, "PLAN-EARLY-BOUNCE", d(2025, 6, 1)).ID
	early, _, err := f.a.RecordPayment(admin, invID, &ledger.Payment{Amount: 5000000, Currency: "CNY", PaidOn: d(2025, 9, 10), Reference: "EARLY-TRF"})
	if err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(time.Hour) // the plan is agreed later that day
	c := f.resolvedWithPlan(t, service.ComplaintInput{Complainant: f.creditor, Debtor: f.debtor, ReceivingRegulator: reg, Summary: "unpaid", Invoices: []uuid.UUID{invID}},
		reg, 5000000, d(2025, 10, 10))
	f.clk.Set(noonShanghai(d(2025, 10, 1)))
	if _, _, err := f.a.RecordPayment(admin, invID, &ledger.Payment{Amount: 5000000, Currency: "CNY", PaidOn: d(2025, 10, 1), Reference: "PLAN-TRF"}); err != nil {
		t.Fatal(err)
	}
	f.clk.Set(noonShanghai(d(2025, 10, 3)))
	if _, _, err := f.a.ReversePayment(admin, invID, early.ID, d(2025, 10, 3), "returned by the bank", ""); err != nil {
		t.Fatal(err)
	}
	if st := f.stateAfterSweeps(t, c.ID, d(2025, 10, 20)); st != complaint.InHandling {
		t.Errorf("a plan whose earlier payment bounced after it: %s, want IN_HANDLING", st)
	}
}

// sqliteAt opens the fixture's two stores on one SQLite file at path, and
// returns it with a plain connection to it, to change rows in place as an
// older release (or damage) left them.
func sqliteAt(t *testing.T, path string) (func(t *testing.T) (store.Store, store.Store), *sql.DB) {
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return func(t *testing.T) (store.Store, store.Store) {
		var ss [2]store.Store
		for i := range ss {
			s, err := sqlite.Open(context.Background(), path, quiet, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			ss[i] = s
		}
		return ss[0], ss[1]
	}, db
}

// TestLegacyDisputeWithdrawnByEitherSide: a dispute from before the ledger
// kept who raised it is withdrawn by either side, as one an operator
// raised; the debtor could not, nor the supplier, and it stood until a
// regulator ruled.
func TestLegacyDisputeWithdrawnByEitherSide(t *testing.T) {
	open, db := sqliteAt(t, filepath.Join(t.TempDir(), "ledger.db"))
	f := newFixture(t, open, d(2025, 9, 10))
	inv := f.invoice(t, "LEGACY-DISPUTE", d(2025, 6, 1))
	buyer := auth.WithPrincipal(context.Background(), &auth.Principal{Prefix: "buy", Role: auth.RoleDebtor, Parties: []uuid.UUID{f.debtor.ID}})
	dsp, _, err := f.a.OpenDispute(buyer, inv.ID, &ledger.Dispute{Amount: 30000, OpenedOn: d(2025, 8, 1), Reason: "short delivery"}, "CNY", service.Idempotency{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE disputes SET opened_by = '' WHERE id = ?`, dsp.ID.String()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.a.ResolveDispute(buyer, inv.ID, dsp.ID, ledger.ResolutionWithdrawn, d(2025, 9, 10), "delivered after all", ""); err != nil {
		t.Errorf("the debtor withdrawing a dispute from before sides were kept: %v", err)
	}
}

// TestReversalNotStoppedByADamagedComplaint: a complaint of the debtor's
// that does not decode (damaged, or a newer release's) leaves the plans
// unchecked but does not stop a reversal, on a real SQLite file whose
// complaint row is damaged in place.
func TestReversalNotStoppedByADamagedComplaint(t *testing.T) {
	open, db := sqliteAt(t, filepath.Join(t.TempDir(), "ledger.db"))
	f := newFixture(t, open, d(2025, 9, 10))
	reg := service.PartyRef{ID: f.regulator(t).ID}
	invID := f.invoice(t, "DAMAGED-1", d(2025, 6, 1)).ID
	c, p := f.planPaid(t, service.ComplaintInput{Complainant: f.creditor, Debtor: f.debtor, ReceivingRegulator: reg, Summary: "unpaid", Invoices: []uuid.UUID{invID}}, reg, invID)
	// Cut short, or whole but with a date no release writes.
	for i, damaged := range []string{`{"id": `, `{"submitted_on": "2025-13-45"}`} {
		if _, err := db.Exec(`UPDATE complaints SET data = ? WHERE id = ?`, damaged, c.ID.String()); err != nil {
			t.Fatal(err)
		}
		pay := p
		if i == 1 {
			var err error
			if pay, _, err = f.a.RecordPayment(admin, invID, &ledger.Payment{Amount: 1000, Currency: "CNY", PaidOn: d(2025, 9, 10), Reference: "DAMAGED-P2"}); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := f.a.ReversePayment(admin, invID, pay.ID, d(2025, 9, 10), "returned by the bank", ""); err != nil {
			t.Errorf("a reversal beside a complaint damaged as %s: %v", damaged, err)
		}
	}
}

// TestReversalRechecksAPlan: a payment that met an instalment, reversed
// after the sweep found the instalment met, reopens the complaint at the
// next sweep, not only at the plan's next instalment weeks on.
func TestReversalRechecksAPlan(t *testing.T) {
	// The plan's debt named by the complaint, or through a claim the
	// debtor acknowledged as an invoice.
	for _, viaClaim := range []bool{false, true} {
		f := newFixture(t, engines(t)["SQLite"], d(2025, 9, 10))
		reg := service.PartyRef{ID: f.regulator(t).ID}
		in := service.ComplaintInput{Complainant: f.creditor, Debtor: f.debtor, ReceivingRegulator: reg, Summary: "unpaid"}
		var invID uuid.UUID
		if viaClaim {
			cl, err := f.a.CreateClaim(admin, service.ClaimInput{Creditor: f.creditor, Debtor: f.debtor, Claim: &complaint.Claim{
				DocumentRef: "RECHECK-C", Amount: 20000000, Currency: "CNY", IssuedOn: d(2025, 6, 1), DueOn: d(2025, 7, 1), Evidence: []string{"contract HT-1"}}})
			if err != nil {
				t.Fatal(err)
			}
			ack, err := f.a.AnswerClaim(admin, cl.ID, complaint.ClaimAcknowledged, "", "", "", service.Idempotency{})
			if err != nil {
				t.Fatal(err)
			}
			in.Claims, invID = []uuid.UUID{cl.ID}, ack.Invoice
		} else {
			invID = f.invoice(t, "RECHECK-1", d(2025, 6, 1)).ID
			in.Invoices = []uuid.UUID{invID}
		}
		c, p := f.planPaid(t, in, reg, invID)
		f.clk.Advance(8 * 24 * time.Hour) // 18 September: the first instalment found met
		if _, err := f.a.Sweep(context.Background()); err != nil {
			t.Fatal(err)
		}
		f.clk.Advance(4 * 24 * time.Hour) // 22 September: the payment bounces
		if _, _, err := f.a.ReversePayment(admin, invID, p.ID, d(2025, 9, 22), "returned by the bank", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := f.a.Sweep(context.Background()); err != nil {
			t.Fatal(err)
		}
		v, err := f.a.GetComplaint(admin, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if v.Complaint.State != complaint.InHandling || v.Complaint.HandlerReceivedOn != d(2025, 9, 22) {
			t.Errorf("through a claim %v: after the payment meeting the first instalment bounced: %s, handler received %s; want IN_HANDLING from 2025-09-22",
				viaClaim, v.Complaint.State, v.Complaint.HandlerReceivedOn)
		}
	}
}

// TestAnswerClaimRetriedAnswersOnce: an acknowledgement sent again with its
// request id (a debtor's system that lost the reply) gets the claim back,
// acknowledged as the first made it, and records the debt once; where the
// etag alone was stale by then.
func TestAnswerClaimRetriedAnswersOnce(t *testing.T) {
	f := newFixture(t, engines(t)["SQLite"], d(2025, 9, 1))
	c, err := f.a.CreateClaim(admin, service.ClaimInput{Creditor: f.creditor, Debtor: f.debtor, Claim: &complaint.Claim{
		DocumentRef: "ANSWER-ONCE", Amount: 120000, Currency: "CNY", IssuedOn: d(2025, 8, 1), Evidence: []string{"contract HT-1"}}})
	if err != nil {
		t.Fatal(err)
	}
	idem := service.Idempotency{Key: "answer-1", Hash: "h1"}
	first, err := f.a.AnswerClaim(admin, c.ID, complaint.ClaimAcknowledged, "", "", service.Etag(c.Version), idem)
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.a.AnswerClaim(admin, c.ID, complaint.ClaimAcknowledged, "", "", service.Etag(c.Version), idem)
	if err != nil || again.State != complaint.ClaimAcknowledged || again.Invoice != first.Invoice {
		t.Errorf("the answer retried: %+v, %v; want the claim acknowledged as invoices/%s", again, err, first.Invoice)
	}
	other := idem
	other.Hash = "h2"
	if _, err := f.a.AnswerClaim(admin, c.ID, complaint.ClaimDisputed, "not ours", "", "", other); !errors.Is(err, ledger.ErrAlreadyExists) {
		t.Errorf("the request id again for another answer: %v", err)
	}
}

// TestClaimAcknowledgedWhileTheDebtorRecordsIt: on PostgreSQL, the debtor
// acknowledges a claim while recording the same debt itself under the
// claim's reference, at once. The acknowledgement that read no invoice
// under the reference, then failed to make one because the debtor's had
// committed meanwhile, answered ALREADY_EXISTS telling the debtor to use
// its own reference (which then was refused too); it runs again and joins
// the claim to the debtor's invoice, as had they come one after the other.
func TestClaimAcknowledgedWhileTheDebtorRecordsIt(t *testing.T) {
	f := newFixture(t, engines(t)["PostgreSQL"], d(2025, 9, 1))
	for k := range 20 {
		ref := fmt.Sprint("RACE-", k)
		c, err := f.a.CreateClaim(admin, service.ClaimInput{Creditor: f.creditor, Debtor: f.debtor, Claim: &complaint.Claim{
			DocumentRef: ref, Amount: 120000, Currency: "CNY", IssuedOn: d(2025, 8, 1), Evidence: []string{"contract HT-1"}}})
		if err != nil {
			t.Fatal(err)
		}
		var answered *complaint.Claim
		var answerErr, createErr error
		var wg sync.WaitGroup
		wg.Go(func() {
			_, createErr = f.b.CreateInvoice(admin, service.CreateInvoiceInput{Debtor: f.debtor, Creditor: f.creditor, Invoice: &ledger.Invoice{
				DocumentRef: ref, Amount: money.Money{Minor: 120000, Currency: "CNY"}, IssuedOn: d(2025, 8, 1), DeliveredOn: d(2025, 8, 1)}})
		})
		wg.Go(func() {
			answered, answerErr = f.a.AnswerClaim(admin, c.ID, complaint.ClaimAcknowledged, "", "", "", service.Idempotency{})
		})
		wg.Wait()
		// Whichever came first, one invoice records the debt, and the
		// claim is acknowledged as it (the debtor's own call, second,
		// finds the reference taken).
		if answerErr != nil {
			t.Errorf("%s: the acknowledgement: %v", ref, answerErr)
			continue
		}
		if createErr != nil && !errors.Is(createErr, ledger.ErrAlreadyExists) {
			t.Errorf("%s: the debtor's invoice: %v", ref, createErr)
		}
		inv, err := f.a.GetInvoice(admin, answered.Invoice)
		if err != nil || inv.DocumentRef != ref {
			t.Errorf("%s: the claim joined invoices/%s (%v), want the invoice under its reference", ref, answered.Invoice, err)
		}
	}
}
