package service_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/arrears/arrears/internal/complaint"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/service"
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
					DocumentRef: ref, Amount: 120000, Currency: "CNY", IssuedOn: d(2025, 8, 1), DeliveredOn: d(2025, 7, 28),
					DueOn: d(2025, 8, 31), Evidence: []string{"contract HT-1"}}})
			}
			long := strings.Repeat("A", ledger.MaxRefLength)
			c, err := claim(f.debtor, long)
			if err != nil {
				t.Fatal(err)
			}
			ack, err := f.a.AnswerClaim(admin, c.ID, complaint.ClaimAcknowledged, "", "")
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
		})
	}
}
