package judgement

import (
	"testing"

	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/policy"
)

// TestEachShippedPolicy selects every shipped policy through the registry's
// rules and judges one invoice under it, so that each data file is
// exercised end to end.
func TestEachShippedPolicy(t *testing.T) {
	tests := []struct {
		desc         string
		kind         ledger.PartyKind
		jurisdiction string
		region       string
		sme          bool
		signed       string
		amount       string
		agreedTerm   int
		wantPolicy   string
		wantDue      string
		wantInterest bool
	}{
		{"CN 802 public body", ledger.KindPublicBody, "CN", "350100", true, "2025-07-01", "CNY 1000.00", 0, policy.IDCN802PublicBody, "2025-07-31", true},
		{"CN 802 large enterprise", ledger.KindLargeEnterprise, "CN", "350100", true, "2025-07-01", "CNY 1000.00", 0, policy.IDCN802LargeEnterprise, "2025-09-01", true},
		{"CN 728 public body", ledger.KindPublicBody, "CN", "350100", true, "2024-07-01", "CNY 1000.00", 0, policy.IDCN728PublicBody, "2025-07-31", true},
		{"CN 728 large enterprise: no default term", ledger.KindLargeEnterprise, "CN", "350100", true, "2024-07-01", "CNY 1000.00", 0, policy.IDCN728LargeEnterprise, "", false},
		{"CN non-SME supplier: contract terms", ledger.KindLargeEnterprise, "CN", "350100", false, "2025-07-01", "CNY 1000.00", 45, policy.IDCNContractTerms, "2025-08-15", false},
		// 92 days from 2025-07-01 end on 2025-10-01, in the National Day
		// break (to 10-08): the Civil Code moves it to the day after.
		{"CN non-SME supplier: a term ending in a holiday moves past it", ledger.KindLargeEnterprise, "CN", "350100", false, "2025-07-01", "CNY 1000.00", 92, policy.IDCNContractTerms, "2025-10-09", false},
		{"US: a term ending on a Wednesday stays", ledger.KindPublicBody, "US", "US-IL", true, "", "USD 1000.00", 92, policy.IDContractTermsOnly, "2025-10-01", false},
		{"EU minimum B2B (Spain)", ledger.KindLargeEnterprise, "ES", "", true, "", "EUR 1000.00", 0, policy.IDEUB2B, "2025-07-31", true},
		{"EU minimum public (Italy)", ledger.KindPublicBody, "IT", "", false, "", "EUR 1000.00", 0, policy.IDEUPublic, "2025-07-31", true},
		{"Germany B2B", ledger.KindSME, "DE", "", true, "", "EUR 1000.00", 0, "DE-BGB-B2B", "2025-07-31", true},
		{"Germany public", ledger.KindPublicBody, "DE", "", true, "", "EUR 1000.00", 0, "DE-BGB-PUBLIC", "2025-07-31", true},
		{"France B2B", ledger.KindLargeEnterprise, "FR", "", true, "", "EUR 1000.00", 0, "FR-L441-B2B", "2025-07-31", true},
		{"France public: EU minimum", ledger.KindPublicBody, "FR", "", true, "", "EUR 1000.00", 0, policy.IDEUPublic, "2025-07-31", true},
		// The Act's 30 days begin with the day of receipt (s. 4(5)): the
		// last is 2025-07-30.
		{"UK business, large supplier", ledger.KindLargeEnterprise, "GB", "", false, "", "GBP 1000.00", 0, policy.IDUKB2B, "2025-07-30", true},
		{"UK public", ledger.KindPublicBody, "GB", "", true, "", "GBP 1000.00", 0, policy.IDUKPublic, "2025-07-30", true},
		{"US state agency: contract terms", ledger.KindPublicBody, "US", "US-IL", true, "", "USD 1000.00", 45, policy.IDContractTermsOnly, "2025-08-15", false},
		// Received and delivered 2025-07-01: acceptance deemed on 07-08,
		// due 30 days later.
		{"US federal agency: Prompt Payment Act", ledger.KindPublicBody, "US", "US", false, "", "USD 1000.00", 0, policy.IDUSPromptPayment, "2025-08-07", true},
		{"AU: contract terms", ledger.KindLargeEnterprise, "AU", "", true, "", "AUD 1000.00", 45, policy.IDContractTermsOnly, "2025-08-15", false},
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			inv := invoice(tc.amount, "2025-07-01")
			inv.ContractSignedOn, inv.AgreedTermDays = d(tc.signed), tc.agreedTerm
			p, reason := registry(t).Select(tc.kind, tc.jurisdiction, tc.region, tc.sme, inv.ContractSignedOn, inv.IssuedOn)
			if p.ID != tc.wantPolicy {
				t.Fatalf("Select = %s (%s), want %s", p.ID, reason, tc.wantPolicy)
			}
			seen[p.ID] = true
			j := evaluate(t, Input{Invoice: inv, Policy: p, Tables: registry(t), AsOf: d("2025-09-30")})
			if j.DueDate != d(tc.wantDue) {
				t.Errorf("DueDate = %s, want %s (%s)", j.DueDate, tc.wantDue, j.DueDateRule)
			}
			if (j.Interest > 0) != tc.wantInterest {
				t.Errorf("Interest = %d, want positive: %v (%s)", j.Interest, tc.wantInterest, j.InterestRule)
			}
		})
	}
	for _, p := range registry(t).Policies() {
		if !seen[p.ID] {
			t.Errorf("shipped policy %s is never selected", p.ID)
		}
	}
}
