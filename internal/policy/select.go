package policy

import (
	"fmt"
	"slices"
	"sort"

	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/regid"
)

// IDs of the shipped policies that selection names directly.
const (
	IDCN802PublicBody      = "CN-802-PUBLIC-BODY"
	IDCN802LargeEnterprise = "CN-802-LARGE-ENTERPRISE"
	IDCN728PublicBody      = "CN-728-PUBLIC-BODY"
	IDCN728LargeEnterprise = "CN-728-LARGE-ENTERPRISE"
	IDEUB2B                = "EU-2011-7-B2B"
	IDEUPublic             = "EU-2011-7-PUBLIC"
	IDUKB2B                = "UK-1998-B2B"
	IDUKPublic             = "UK-1998-PUBLIC"
	IDUSPromptPayment      = "US-PPA-FEDERAL"
	IDContractTermsOnly    = "CONTRACT-TERMS-ONLY"
	IDCNContractTerms      = "CN-CONTRACT-TERMS"
)

var (
	// Decree802From is the day Decree 802 came into force; it governs
	// contracts signed from that day.
	Decree802From = civil.MustNew(2025, 6, 1)
	// Decree728From is the day Decree 728 came into force.
	Decree728From = civil.MustNew(2020, 9, 1)
)

// Select chooses the policy that governs a debt and says why, in a sentence
// a supplier can read. It returns the latest version; the caller records it
// with the invoice, which keeps it. The policy's lists are the registry's,
// as Lookup's are: read them, and change a copy from Get.
//
//   - CN: Decrees 802/728 protect a supplier that was an SME when the
//     contract was signed, owed by an organ, public institution or large
//     enterprise. 802 governs contracts signed on or after 2025-06-01, 728
//     those before. Without a contract date, fallbackDate (the issue date)
//     decides, and the reason says so. Anything else: contract terms only,
//     with the Civil Code's rule that a period ending on a rest day or
//     holiday ends on the next working day (CN-CONTRACT-TERMS).
//   - GB: the 1998 Act, for suppliers of any size (it has applied to all
//     businesses since 2002); public buyer or business by debtor kind.
//   - EU member states: a national policy for the state and debtor kind if
//     one is loaded (DE, FR ship), else the Directive 2011/7 minimum; the
//     Directive protects suppliers of any size.
//   - US: the Prompt Payment Act for a federal agency, a public body whose
//     region is the nation ("US", where a state's or a locality's is
//     "US-XX"), owing a business of any size; anything else, contract
//     terms only (state prompt-payment laws are not modelled).
//   - anywhere else (AU, ...): contract terms only.
func (r *Registry) Select(debtorKind ledger.PartyKind, debtorJurisdiction, debtorRegion string, creditorSMEAtSigning bool, contractSignedOn civil.Date, fallbackDate civil.Date) (Policy, string) {
	switch {
	case debtorJurisdiction == "US" && debtorKind == ledger.KindPublicBody && debtorRegion == "US":
		return r.pick(IDUSPromptPayment, "The debtor is a US federal agency (a public body of region US): the Prompt Payment Act (31 U.S.C. 3901-3907, 5 CFR 1315) applies to its payments to businesses of any size.")
	case debtorJurisdiction == "CN":
		return r.selectCN(debtorKind, creditorSMEAtSigning, contractSignedOn, fallbackDate)
	case debtorJurisdiction == "GB":
		if debtorKind == ledger.KindPublicBody {
			return r.pick(IDUKPublic, "The debtor is a UK public body: the Late Payment of Commercial Debts (Interest) Act 1998 applies to suppliers of any size, and a public buyer's agreed term may not exceed the 30-day default.")
		}
		return r.pick(IDUKB2B, "The debtor is a UK business: the Late Payment of Commercial Debts (Interest) Act 1998 applies to suppliers of any size.")
	case regid.IsEUMember(debtorJurisdiction):
		if p, ok := r.national(debtorJurisdiction, debtorKind); ok {
			return p, fmt.Sprintf("The debtor is a %s %s: the national late-payment law transposing Directive 2011/7/EU applies (%s).", debtorJurisdiction, kindWords(debtorKind), p.Name)
		}
		// What the minimum cannot know of the state, said where every
		// invoice judged under it shows its reason.
		rate := fmt.Sprintf(" Its due dates move off weekends only, not off %s's public holidays: the minimum knows no national calendar (a national policy naming one, added with -policy-dir, would count them).", debtorJurisdiction)
		if nonEuro[debtorJurisdiction] {
			rate += fmt.Sprintf(" %s is outside the euro area: the Directive's reference rate there is its central bank's, which is not loaded, so the ECB rate stands in for it.", debtorJurisdiction)
		}
		if debtorKind == ledger.KindPublicBody {
			return r.pick(IDEUPublic, fmt.Sprintf("The debtor is a public authority in %s and no national policy is loaded, so the Directive 2011/7/EU minimum for public authorities applies.%s", debtorJurisdiction, rate))
		}
		return r.pick(IDEUB2B, fmt.Sprintf("The debtor is a business in %s and no national policy is loaded, so the Directive 2011/7/EU minimum for commercial transactions applies.%s", debtorJurisdiction, rate))
	}
	why := fmt.Sprintf("No statutory payment-term policy is loaded for debtors in %q", debtorJurisdiction)
	switch debtorJurisdiction {
	case "US":
		why = "The US Prompt Payment Act binds only federal agencies (public bodies of region US); state and local prompt-payment laws are not modelled"
	case "AU":
		why = "Australia sets no statutory payment term (the Payment Times Reporting Scheme only requires reporting)"
	}
	return r.pick(IDContractTermsOnly, why+", so the invoice is judged on its contract terms only: the agreed due date or term and the agreed interest rate, if any, with no statutory compensation.")
}

func (r *Registry) selectCN(kind ledger.PartyKind, sme bool, signed, fallback civil.Date) (Policy, string) {
	if !sme {
		return r.pick(IDCNContractTerms, "The supplier was not an SME when the contract was signed, so the Regulations on Ensuring Payment to SMEs (Decrees 802/728, Art. 3) do not apply; the invoice is judged on its contract terms only, its periods counted under the Civil Code.")
	}
	if kind != ledger.KindPublicBody && kind != ledger.KindLargeEnterprise {
		return r.pick(IDCNContractTerms, "The debtor is not a government organ, public institution or large enterprise, so Decrees 802/728 do not apply; the invoice is judged on its contract terms only, its periods counted under the Civil Code.")
	}
	date, which := signed, "the contract was signed on "+signed.String()
	if signed.IsZero() {
		date, which = fallback, "no contract date is recorded, so the invoice date "+fallback.String()+" stands in for it"
	}
	public := kind == ledger.KindPublicBody
	buyer := "a large enterprise"
	if public {
		buyer = "a government organ or public institution"
	}
	if date.IsZero() || !date.Before(Decree802From) {
		id := IDCN802LargeEnterprise
		if public {
			id = IDCN802PublicBody
		}
		if date.IsZero() {
			which = "neither a contract date nor an invoice date is recorded, so the decree in force now is assumed"
		}
		return r.pick(id, fmt.Sprintf("The supplier was an SME at signing and the debtor is %s; %s, on or after 2025-06-01, so Decree 802 applies.", buyer, which))
	}
	id := IDCN728LargeEnterprise
	if public {
		id = IDCN728PublicBody
	}
	note := ""
	if date.Before(Decree728From) {
		note = " (before Decree 728 came into force on 2020-09-01; it is applied as the rule in force when the debt is judged)"
	}
	return r.pick(id, fmt.Sprintf("The supplier was an SME at signing and the debtor is %s; %s, before 2025-06-01, so Decree 728 applies%s.", buyer, which, note))
}

// nonEuro are the member states outside the euro area (Bulgaria joined it
// on 2026-01-01), whose statutory rate under the Directive is their own
// central bank's (Art. 2(7)(b)). The EU fallback policies name the ECB rate;
// their reason says so for these states.
var nonEuro = map[string]bool{"CZ": true, "DK": true, "HU": true, "PL": true, "RO": true, "SE": true}

// national finds a loaded policy written for the state itself (not the EU
// marker) that covers the debtor kind; the lowest id wins a tie, so the
// choice is stable.
func (r *Registry) national(state string, kind ledger.PartyKind) (Policy, bool) {
	r.mu.RLock()
	var ids []string
	for id, vs := range r.policies {
		p := vs[len(vs)-1]
		if slices.Contains(p.Jurisdictions, state) && slices.Contains(p.DebtorKinds, kind) {
			ids = append(ids, id)
		}
	}
	r.mu.RUnlock()
	if len(ids) == 0 {
		return Policy{}, false
	}
	sort.Strings(ids)
	p, ok := r.Lookup(ids[0], 0)
	if !ok {
		return Policy{}, false
	}
	return *p, true
}

// pick returns the latest version of id. A registry always holds the shipped
// policies (Embedded loads them and nothing removes one), so a miss means a
// broken build; the contract-terms policy is the least presumptuous answer.
func (r *Registry) pick(id, reason string) (Policy, string) {
	if p, ok := r.Lookup(id, 0); ok {
		return *p, reason
	}
	var p Policy
	if c, ok := r.Lookup(IDContractTermsOnly, 0); ok {
		p = *c
	}
	return p, reason + " (policy " + id + " is not loaded; contract terms only were used)"
}

func kindWords(k ledger.PartyKind) string {
	switch k {
	case ledger.KindPublicBody:
		return "public authority"
	case ledger.KindSME:
		return "small or medium business"
	}
	return "business"
}
