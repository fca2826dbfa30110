package ledger

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	stdtime "time"

	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/money"
)

func fields(err error) []string {
	var ve *ValidationError
	if !errors.As(err, &ve) {
		return nil
	}
	var out []string
	for _, v := range ve.Violations {
		out = append(out, v.Field)
	}
	return out
}

func TestPartyNormalize(t *testing.T) {
	base := func() Party {
		return Party{DisplayName: " Buyer ", Kind: KindLargeEnterprise, Jurisdiction: "cn",
			RegistrationID: "91350100m000100y43", RegionCode: "350100", IndustryCode: "c33"}
	}
	for _, tc := range []struct {
		desc   string
		edit   func(*Party)
		fields []string
	}{
		{desc: "valid large enterprise gets LARGE", edit: func(p *Party) {}},
		{desc: "SME needs a size", edit: func(p *Party) { p.Kind = KindSME }, fields: []string{"size_class"}},
		{desc: "SME cannot be LARGE", edit: func(p *Party) { p.Kind, p.SizeClass = KindSME, SizeLarge }, fields: []string{"size_class"}},
		{desc: "public body cannot be SMALL", edit: func(p *Party) { p.Kind, p.SizeClass = KindPublicBody, SizeSmall }, fields: []string{"size_class"}},
		{desc: "bad check character", edit: func(p *Party) { p.RegistrationID = "91350100M000100Y44" }, fields: []string{"registration_id"}},
		{desc: "unknown jurisdiction", edit: func(p *Party) { p.Jurisdiction = "XX" }, fields: []string{"jurisdiction"}},
		{desc: "CN region must be 6 digits", edit: func(p *Party) { p.RegionCode = "35" }, fields: []string{"region_code"}},
		{desc: "everything missing", edit: func(p *Party) { *p = Party{} }, fields: []string{"display_name", "kind", "jurisdiction", "region_code"}},
	} {
		p := base()
		tc.edit(&p)
		err := p.Normalize()
		if got := strings.Join(fields(err), ","); got != strings.Join(tc.fields, ",") {
			t.Errorf("%s: violations %q (%v), want %q", tc.desc, got, err, strings.Join(tc.fields, ","))
		}
		if err == nil && (p.SizeClass != SizeLarge || p.RegistrationID != "91350100M000100Y43" || p.DisplayName != "Buyer" || p.Jurisdiction != "CN" || p.IndustryCode != "C33") {
			t.Errorf("%s: not normalised: %+v", tc.desc, p)
		}
	}
}

func d(y, m, day int) civil.Date { return civil.MustNew(y, stdtime.Month(m), day) }

func TestClockStartAndDueDate(t *testing.T) {
	for _, tc := range []struct {
		desc      string
		inv       Invoice
		wantStart civil.Date
		wantDue   civil.Date
	}{
		{desc: "delivery, 60 days, not counting the day itself",
			inv:       Invoice{IssuedOn: d(2025, 1, 15), DeliveredOn: d(2025, 1, 10), AgreedTermDays: 60},
			wantStart: d(2025, 1, 10), wantDue: d(2025, 3, 11)},
		{desc: "leap year", inv: Invoice{IssuedOn: d(2024, 1, 10), AgreedTermDays: 60},
			wantStart: d(2024, 1, 10), wantDue: d(2024, 3, 10)},
		{desc: "receipt when no delivery", inv: Invoice{IssuedOn: d(2025, 1, 1), ReceivedOn: d(2025, 1, 3), AgreedTermDays: 30},
			wantStart: d(2025, 1, 3), wantDue: d(2025, 2, 2)},
		{desc: "settlement confirmed first", inv: Invoice{IssuedOn: d(2025, 1, 1), DeliveredOn: d(2024, 12, 1), SettlementConfirmedOn: d(2025, 1, 20), AgreedTermDays: 30},
			wantStart: d(2025, 1, 20), wantDue: d(2025, 2, 19)},
		{desc: "acceptance passed", inv: Invoice{IssuedOn: d(2025, 1, 1), DeliveredOn: d(2025, 1, 1), AcceptanceRequired: true, AcceptancePeriodDays: 15, AcceptancePassedOn: d(2025, 1, 10), AgreedTermDays: 30},
			wantStart: d(2025, 1, 10), wantDue: d(2025, 2, 9)},
		{desc: "late acceptance: end of the agreed period", inv: Invoice{IssuedOn: d(2025, 1, 1), DeliveredOn: d(2025, 1, 1), AcceptanceRequired: true, AcceptancePeriodDays: 15, AcceptancePassedOn: d(2025, 3, 1), AgreedTermDays: 30},
			wantStart: d(2025, 1, 16), wantDue: d(2025, 2, 15)},
		{desc: "acceptance pending, period running", inv: Invoice{IssuedOn: d(2025, 1, 1), DeliveredOn: d(2025, 1, 1), AcceptanceRequired: true, AcceptancePeriodDays: 15, AgreedTermDays: 30},
			wantStart: d(2025, 1, 16), wantDue: d(2025, 2, 15)},
		{desc: "acceptance required, nothing known", inv: Invoice{IssuedOn: d(2025, 1, 1), AcceptanceRequired: true, AgreedTermDays: 30}},
		{desc: "agreed date wins", inv: Invoice{IssuedOn: d(2025, 1, 1), AgreedDueDate: d(2024, 12, 31)},
			wantStart: d(2025, 1, 1), wantDue: d(2024, 12, 31)},
		{desc: "no term", inv: Invoice{IssuedOn: d(2025, 1, 1)}, wantStart: d(2025, 1, 1)},
	} {
		inv := tc.inv
		inv.Derive()
		if got := inv.ClockStart(); got != tc.wantStart {
			t.Errorf("%s: ClockStart = %v, want %v", tc.desc, got, tc.wantStart)
		}
		if inv.DueDate != tc.wantDue {
			t.Errorf("%s: DueDate = %v, want %v", tc.desc, inv.DueDate, tc.wantDue)
		}
	}
}

func TestStatusAndOutstanding(t *testing.T) {
	inv := Invoice{Amount: money.Money{Minor: 1000, Currency: "CNY"}, IssuedOn: d(2025, 1, 1)}
	inv.Derive()
	if inv.Status != StatusOpen || inv.Outstanding() != 1000 {
		t.Errorf("new: %s %d", inv.Status, inv.Outstanding())
	}
	inv.Paid, inv.Credited = 600, 400
	inv.Derive()
	if inv.Status != StatusSettled || inv.Outstanding() != 0 {
		t.Errorf("settled: %s %d", inv.Status, inv.Outstanding())
	}
	inv.Paid = 100
	inv.CancelledOn = d(2025, 2, 1)
	inv.Derive()
	if inv.Status != StatusCancelled || inv.Outstanding() != 0 {
		t.Errorf("cancelled: %s %d", inv.Status, inv.Outstanding())
	}
}

func TestInvoiceNormalize(t *testing.T) {
	today := d(2025, 6, 1)
	valid := func() Invoice {
		return Invoice{DocumentRef: " INV-1 ", Amount: money.Money{Minor: 100, Currency: "cny"}, IssuedOn: d(2025, 5, 1),
			DeliveredOn: d(2025, 4, 28), AgreedTermDays: 60, AgreedRate: &Rate{Percent: "0.05", PerDay: true}}
	}
	for _, tc := range []struct {
		desc   string
		edit   func(*Invoice)
		fields []string
	}{
		{desc: "valid", edit: func(*Invoice) {}},
		{desc: "due before issue is legal", edit: func(i *Invoice) { i.AgreedTermDays, i.AgreedDueDate = 0, d(2025, 4, 30) }},
		{desc: "zero amount", edit: func(i *Invoice) { i.Amount.Minor = 0 }, fields: []string{"amount.minor_units"}},
		{desc: "unknown currency", edit: func(i *Invoice) { i.Amount.Currency = "ABC" }, fields: []string{"amount.currency_code"}},
		{desc: "future delivery", edit: func(i *Invoice) { i.DeliveredOn = d(2025, 6, 2) }, fields: []string{"delivered_on"}},
		{desc: "acceptance before delivery", edit: func(i *Invoice) { i.AcceptancePassedOn = d(2025, 4, 27) }, fields: []string{"acceptance_passed_on"}},
		{desc: "received before issued", edit: func(i *Invoice) { i.ReceivedOn = d(2025, 4, 30) }, fields: []string{"received_on"}},
		{desc: "term and date", edit: func(i *Invoice) { i.AgreedDueDate = d(2025, 7, 1) }, fields: []string{"agreed_due_date"}},
		{desc: "period without acceptance", edit: func(i *Invoice) { i.AcceptancePeriodDays = 10 }, fields: []string{"acceptance_period_days"}},
		{desc: "rate over 100", edit: func(i *Invoice) { i.AgreedRate.Percent = "100.5" }, fields: []string{"agreed_interest_rate.percent"}},
		{desc: "rate exactly 100", edit: func(i *Invoice) { i.AgreedRate.Percent = "100" }},
		{desc: "rate not decimal", edit: func(i *Invoice) { i.AgreedRate.Percent = "5%" }, fields: []string{"agreed_interest_rate.percent"}},
		{desc: "rate zero", edit: func(i *Invoice) { i.AgreedRate.Percent = "0.000" }, fields: []string{"agreed_interest_rate.percent"}},
		{desc: "term too long", edit: func(i *Invoice) { i.AgreedTermDays = MaxTermDays + 1 }, fields: []string{"agreed_term_days"}},
		{desc: "due date at the calendar's end", edit: func(i *Invoice) { i.AgreedTermDays, i.AgreedDueDate = 0, d(9999, 12, 31) }, fields: []string{"agreed_due_date"}},
		{desc: "due date twenty years on", edit: func(i *Invoice) { i.AgreedTermDays, i.AgreedDueDate = 0, d(2045, 4, 26) }},
		{desc: "reference with control characters", edit: func(i *Invoice) { i.DocumentRef = "A\x00B" }, fields: []string{"document_ref"}},
	} {
		inv := valid()
		tc.edit(&inv)
		err := inv.Normalize(today)
		if got := strings.Join(fields(err), ","); got != strings.Join(tc.fields, ",") {
			t.Errorf("%s: violations %q (%v), want %q", tc.desc, got, err, strings.Join(tc.fields, ","))
		}
		if err == nil && (inv.DocumentRef != "INV-1" || inv.Amount.Currency != "CNY") {
			t.Errorf("%s: not normalised: %q %q", tc.desc, inv.DocumentRef, inv.Amount.Currency)
		}
	}
}

// TestViolationsBounded: past MaxViolations, violations are counted, not
// listed, and the message says how many more there were.
func TestViolationsBounded(t *testing.T) {
	var v ValidationError
	for i := range MaxViolations + 5 {
		v.Add(fmt.Sprintf("f[%d]", i), "bad")
	}
	var w ValidationError
	w.Merge("x.", &v)
	if len(v.Violations) != MaxViolations || v.Omitted != 5 || !strings.HasSuffix(v.Error(), "; and 5 more") {
		t.Errorf("%d listed, %d omitted, %q", len(v.Violations), v.Omitted, v.Error()[len(v.Error())-20:])
	}
	if len(w.Violations) != MaxViolations || w.Omitted != 5 {
		t.Errorf("merged: %d listed, %d omitted", len(w.Violations), w.Omitted)
	}
}

// TestRequiredOnlyOfUnrefusedFields: a field refused already (a date the
// transport could not read) is not also "required", by Add or by Merge;
// a field with no other problem is.
func TestRequiredOnlyOfUnrefusedFields(t *testing.T) {
	var v ValidationError
	v.Add("invoice.issued_on", "is not a valid date: %s", "2024-02 has no day 30")
	v.Add("invoice.issued_on", Required)
	var domain ValidationError
	domain.Add("issued_on", Required)
	domain.Add("amount", Required)
	v.Merge("invoice.", &domain)
	var got []string
	for _, f := range v.Violations {
		got = append(got, f.Field+": "+f.Description)
	}
	want := []string{"invoice.issued_on: is not a valid date: 2024-02 has no day 30", "invoice.amount: is required"}
	if !slices.Equal(got, want) {
		t.Errorf("violations %q, want %q", got, want)
	}
}

// TestCurrencyFoldedInASCIIOnly: an invoice's currency typed in lower case
// is read in upper case, but a Unicode letter that folds to an ASCII
// capital does not make a currency of it.
func TestCurrencyFoldedInASCIIOnly(t *testing.T) {
	for code, ok := range map[string]bool{"cny": true, "u\u017fd": false} {
		inv := Invoice{DocumentRef: "CUR-1", Amount: money.Money{Minor: 100, Currency: code}, IssuedOn: civil.MustNew(2025, 7, 1)}
		err := inv.Normalize(civil.MustNew(2025, 9, 1))
		var ve *ValidationError
		refused := errors.As(err, &ve) && ve.Has("amount.currency_code")
		if refused == ok {
			t.Errorf("currency %q: %v", code, err)
		}
	}
}

// TestRenamedKeepsTheProblems: renaming fields keeps each description and
// the count of those not listed.
func TestRenamedKeepsTheProblems(t *testing.T) {
	v := ValidationError{Violations: []FieldViolation{{Field: "amount", Description: "bad"}}, Omitted: 3}
	r := v.Renamed(func(f string) string { return "invoice." + f })
	if len(r.Violations) != 1 || r.Violations[0] != (FieldViolation{Field: "invoice.amount", Description: "bad"}) || r.Omitted != 3 {
		t.Errorf("renamed: %+v", r)
	}
	if v.Violations[0].Field != "amount" {
		t.Error("renaming changed the original")
	}
}
