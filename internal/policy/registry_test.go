package policy

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/ledger"
)

func embeddedRegistry(t *testing.T) *Registry {
	t.Helper()
	r, err := Embedded()
	if err != nil {
		t.Fatalf("Embedded: %v", err)
	}
	return r
}

func d(s string) civil.Date {
	if s == "" {
		return civil.Date{}
	}
	v, err := civil.Parse(s)
	if err != nil {
		panic(err)
	}
	return v
}

func TestEmbeddedPolicies(t *testing.T) {
	r := embeddedRegistry(t)
	want := []string{
		IDCN728LargeEnterprise, IDCN728PublicBody, IDCN802LargeEnterprise, IDCN802PublicBody, IDCNContractTerms, IDContractTermsOnly,
		"DE-BGB-B2B", "DE-BGB-PUBLIC", IDEUB2B, IDEUPublic, "FR-L441-B2B", IDUKB2B, IDUKPublic, IDUSPromptPayment,
	}
	var got []string
	for _, p := range r.Policies() {
		got = append(got, p.ID)
		t.Run(p.ID, func(t *testing.T) {
			if err := p.Validate(); err != nil {
				t.Error(err)
			}
			if diff := cmp.Diff(DefaultEscalation(), p.Escalation); diff != "" {
				t.Errorf("escalation is not the default (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(DefaultBucketEdges(), p.BucketEdges); diff != "" {
				t.Errorf("buckets are not the default (-want +got):\n%s", diff)
			}
			// The US Treasury's own calculators round half up.
			if want := map[bool]Rounding{true: RoundHalfUp, false: RoundHalfEven}[p.ID == IDUSPromptPayment]; p.Rounding != want {
				t.Errorf("rounding %s, want %s", p.Rounding, want)
			}
		})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("shipped policies (-want +got):\n%s", diff)
	}
}

// TestShippedFigures pins the legal figures of each shipped policy, so that
// a data edit that changes the law applied is a visible test change.
func TestShippedFigures(t *testing.T) {
	r := embeddedRegistry(t)
	type figures struct {
		Default    int
		Cap        int
		CapKind    CapKind
		Adjust     Adjustment
		Calendar   string
		Method     InterestMethod
		Rate       string
		Fixing     Fixing
		DayCount   DayCount
		Agreed     bool
		Floor      string
		Comp       string
		Bands      int
		Bill       BillCounting
		ClockEvent ClockEvent
	}
	cn := func(def, cp int, kind CapKind) figures {
		return figures{def, cp, kind, AdjustNextWorkingDay, "CN", InterestDailyRate, "0.05", "", DayCountAct360, true, "CN-LPR-1Y", "", 0, BillAtMaturity, EventDelivery}
	}
	eu := func(kind CapKind, ref, pts, cal string) figures {
		return figures{30, 60, kind, AdjustNextWorkingDay, cal, InterestReferencePlus, ref + "+" + pts, FixingHalfYearly, DayCountAct365, false, "", "EUR", 1, BillAtIssue, EventLatestOf}
	}
	uk := func(cp int, kind CapKind) figures {
		return figures{30, cp, kind, AdjustNone, "", InterestReferencePlus, "BOE-BASE+8", FixingAtStart, DayCountAct365, false, "", "GBP", 3, BillAtIssue, EventLatestOf}
	}
	fr := eu(CapSoft, "ECB-MRO", "10", "FR")
	fr.ClockEvent = EventDelivery
	want := map[string]figures{
		IDCN802PublicBody:      cn(30, 60, CapHard),
		IDCN802LargeEnterprise: cn(60, 60, CapSoft),
		IDCN728PublicBody:      cn(30, 60, CapHard),
		IDCN728LargeEnterprise: cn(0, 0, CapNone),
		IDEUB2B:                eu(CapSoft, "ECB-MRO", "8", CalendarWeekends),
		IDEUPublic:             eu(CapHard, "ECB-MRO", "8", CalendarWeekends),
		"DE-BGB-B2B":           eu(CapSoft, "DE-BASISZINS", "9", "DE"),
		"DE-BGB-PUBLIC":        eu(CapHard, "DE-BASISZINS", "9", "DE"),
		"FR-L441-B2B":          fr,
		IDUKB2B:                uk(60, CapSoft),
		IDUKPublic:             uk(30, CapHard),
		IDUSPromptPayment:      {30, 0, CapNone, AdjustNextWorkingDay, "US", InterestReferencePlus, "US-PPA+0", FixingOnStart, DayCountAct360, false, "", "", 0, BillAtIssue, EventLatestOf},
		IDContractTermsOnly:    {0, 0, CapNone, AdjustNone, "", InterestNone, "", "", DayCountAct365, true, "", "", 0, BillAtIssue, EventDelivery},
		IDCNContractTerms:      {0, 0, CapNone, AdjustNextWorkingDay, "CN", InterestNone, "", "", DayCountAct360, true, "", "", 0, BillAtIssue, EventDelivery},
	}
	for id, w := range want {
		p, ok := r.Get(id, 0)
		if !ok {
			t.Errorf("%s missing", id)
			continue
		}
		rate := p.Interest.DailyPercent
		if p.Interest.Method == InterestReferencePlus {
			rate = p.Interest.Reference + "+" + p.Interest.Points
		}
		got := figures{p.DefaultTermDays, p.CapDays, p.CapKind, p.Adjust, p.Calendar, p.Interest.Method, rate, p.Interest.Fixing,
			p.Interest.DayCount, p.Interest.UseAgreedRate, p.Interest.AgreedRateFloor, p.Compensation.Currency, len(p.Compensation.Bands), p.BillCounts, p.ClockStart.Event}
		if diff := cmp.Diff(w, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", id, diff)
		}
	}
	ukPolicy, _ := r.Get(IDUKB2B, 0)
	if diff := cmp.Diff([]CompensationBand{{0, 4000}, {100000, 7000}, {1000000, 10000}}, ukPolicy.Compensation.Bands); diff != "" {
		t.Errorf("UK bands (-want +got):\n%s", diff)
	}
}

func TestSelect(t *testing.T) {
	r := embeddedRegistry(t)
	tests := []struct {
		desc         string
		kind         ledger.PartyKind
		jurisdiction string
		region       string
		sme          bool
		signed       string
		fallback     string
		want         string
		reasonHas    string
	}{
		{"CN public body, signed on the day 802 came into force", ledger.KindPublicBody, "CN", "350100", true, "2025-06-01", "2025-07-01", IDCN802PublicBody, "Decree 802"},
		{"CN public body, signed the day before", ledger.KindPublicBody, "CN", "350100", true, "2025-05-31", "2025-07-01", IDCN728PublicBody, "Decree 728"},
		{"CN large enterprise, 802", ledger.KindLargeEnterprise, "CN", "350100", true, "2025-08-01", "2025-08-01", IDCN802LargeEnterprise, "2025-08-01"},
		{"CN large enterprise, 728", ledger.KindLargeEnterprise, "CN", "350100", true, "2023-01-01", "2025-08-01", IDCN728LargeEnterprise, "Decree 728"},
		{"CN no contract date: the invoice date decides, and the reason says so", ledger.KindLargeEnterprise, "CN", "350100", true, "", "2025-06-02", IDCN802LargeEnterprise, "no contract date"},
		{"CN no contract date, invoice before 802", ledger.KindLargeEnterprise, "CN", "350100", true, "", "2025-05-02", IDCN728LargeEnterprise, "invoice date 2025-05-02"},
		{"CN signed before 728 came into force", ledger.KindPublicBody, "CN", "350100", true, "2019-05-01", "2021-01-01", IDCN728PublicBody, "before Decree 728 came into force"},
		{"CN supplier not an SME at signing", ledger.KindLargeEnterprise, "CN", "350100", false, "2025-08-01", "2025-08-01", IDCNContractTerms, "not an SME"},
		{"CN SME debtor", ledger.KindSME, "CN", "350100", true, "2025-08-01", "2025-08-01", IDCNContractTerms, "not a government organ"},
		{"GB business, SME supplier", ledger.KindLargeEnterprise, "GB", "", true, "", "2025-08-01", IDUKB2B, "any size"},
		{"GB business, large supplier: the Act still applies", ledger.KindSME, "GB", "", false, "", "2025-08-01", IDUKB2B, "any size"},
		{"GB public body", ledger.KindPublicBody, "GB", "", false, "", "2025-08-01", IDUKPublic, "30-day"},
		{"DE business", ledger.KindLargeEnterprise, "DE", "", false, "", "2025-08-01", "DE-BGB-B2B", "national"},
		{"DE public", ledger.KindPublicBody, "DE", "", false, "", "2025-08-01", "DE-BGB-PUBLIC", "national"},
		{"FR business", ledger.KindSME, "FR", "", true, "", "2025-08-01", "FR-L441-B2B", "national"},
		{"FR public: no national policy", ledger.KindPublicBody, "FR", "", true, "", "2025-08-01", IDEUPublic, "no national policy"},
		{"ES business: EU minimum", ledger.KindLargeEnterprise, "ES", "", true, "", "2025-08-01", IDEUB2B, "Directive 2011/7/EU minimum"},
		{"IT business: EU minimum, holidays unknown to it", ledger.KindLargeEnterprise, "IT", "", true, "", "2025-08-01", IDEUB2B, "not off IT's public holidays"},
		{"GR public: EU minimum", ledger.KindPublicBody, "GR", "", true, "", "2025-08-01", IDEUPublic, "public authorities"},
		{"PL business: EU minimum, the ECB rate standing in for the NBP's", ledger.KindLargeEnterprise, "PL", "", true, "", "2025-08-01", IDEUB2B, "outside the euro area"},
		{"SE public: EU minimum, the ECB rate standing in", ledger.KindPublicBody, "SE", "", true, "", "2025-08-01", IDEUPublic, "outside the euro area"},
		{"US state agency", ledger.KindPublicBody, "US", "US-IL", true, "", "2025-08-01", IDContractTermsOnly, "Prompt Payment Act binds only federal agencies"},
		{"US federal agency, any supplier", ledger.KindPublicBody, "US", "US", false, "", "2025-08-01", IDUSPromptPayment, "federal agency"},
		{"US business in the federal region: contract terms", ledger.KindLargeEnterprise, "US", "US", true, "", "2025-08-01", IDContractTermsOnly, "contract terms only"},
		{"AU", ledger.KindLargeEnterprise, "AU", "", true, "", "2025-08-01", IDContractTermsOnly, "Payment Times Reporting"},
		{"unknown jurisdiction", ledger.KindLargeEnterprise, "JP", "", true, "", "2025-08-01", IDContractTermsOnly, "contract terms only"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			p, reason := r.Select(tc.kind, tc.jurisdiction, tc.region, tc.sme, d(tc.signed), d(tc.fallback))
			if p.ID != tc.want {
				t.Errorf("Select = %s, want %s (%s)", p.ID, tc.want, reason)
			}
			if !strings.Contains(reason, tc.reasonHas) || !strings.HasSuffix(reason, ".") {
				t.Errorf("reason %q: want a sentence containing %q", reason, tc.reasonHas)
			}
		})
	}
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const customPolicy = `{
  "id": "CN-802-LARGE-ENTERPRISE", "version": 2, "name": "Decree 802, large enterprises, 45-day default",
  "jurisdictions": ["CN"], "debtor_kinds": ["LARGE_ENTERPRISE"], "source": "test",
  "clock_start": {"event": "DELIVERY", "fallback": ["ISSUE"]},
  "default_term_days": 45, "cap_days": 60, "cap_kind": "SOFT", "adjust": "NEXT_WORKING_DAY",
  "interest": {"method": "DAILY_RATE", "daily_percent": "0.05", "day_count": "ACT_360", "use_agreed_rate": true, "agreed_rate_floor": "CN-LPR-1Y"},
  "calendar": "CN"
}`

func TestOverrideAndVersions(t *testing.T) {
	r := embeddedRegistry(t)
	dir := t.TempDir()
	writeFile(t, dir, "policies/cn.json", customPolicy)
	writeFile(t, dir, "rates/CN-LPR-1Y.csv", "# Source: test\n2019-08-20,9.99\n")
	writeFile(t, dir, "calendars/XX.json", `{"id":"XX","name":"x","source":"test","years":[{"year":2025,"source":"t","holidays":[{"from":"2025-03-03","to":"2025-03-04","name":"h"}],"working_days":[]}]}`)
	if err := r.Override(dir); err != nil {
		t.Fatalf("Override: %v", err)
	}
	if p, ok := r.Get(IDCN802LargeEnterprise, 0); !ok || p.Version != 2 || p.DefaultTermDays != 45 {
		t.Errorf("latest = v%d default %d, want v2 45", p.Version, p.DefaultTermDays)
	}
	if p, ok := r.Get(IDCN802LargeEnterprise, 1); !ok || p.DefaultTermDays != 60 {
		t.Errorf("v1 = %+v, %v: an invoice judged under v1 keeps it", p, ok)
	}
	if _, ok := r.Get(IDCN802LargeEnterprise, 3); ok {
		t.Error("v3 found")
	}
	if _, ok := r.Get("NO-SUCH", 0); ok {
		t.Error("unknown policy found")
	}
	if p, _ := r.Select(ledger.KindLargeEnterprise, "CN", "350100", true, d("2025-07-01"), d("2025-07-01")); p.Version != 2 {
		t.Errorf("Select returned v%d, want the latest", p.Version)
	}
	if pct, ok := r.RateOn("CN-LPR-1Y", d("2025-01-01")); !ok || pct != "9.99" {
		t.Errorf("overridden LPR = %q %v, want the replacement table", pct, ok)
	}
	if w, pub := r.IsWorkingDay("XX", d("2025-03-04")); w || !pub {
		t.Errorf("custom calendar holiday: working %v published %v", w, pub)
	}
	// A fresh embedded registry is unaffected.
	if p, _ := embeddedRegistry(t).Get(IDCN802LargeEnterprise, 0); p.Version != 1 {
		t.Errorf("Embedded() shares state: v%d", p.Version)
	}
	// A copy returned by Get cannot change the registry.
	p, _ := r.Get(IDCN802LargeEnterprise, 1)
	p.Escalation[0].Name = "CHANGED"
	if q, _ := r.Get(IDCN802LargeEnterprise, 1); q.Escalation[0].Name != "OVERDUE" {
		t.Error("Get returned shared slices")
	}
}

func TestAddPolicyFile(t *testing.T) {
	r := embeddedRegistry(t)
	list := `{"policies": [` + strings.Replace(customPolicy, `"CN-802-LARGE-ENTERPRISE", "version": 2`, `"ACME-CUSTOM", "version": 1`, 1) + `]}`
	file := writeFile(t, t.TempDir(), "custom.json", list)
	if err := r.AddPolicyFile(file); err != nil {
		t.Fatalf("AddPolicyFile: %v", err)
	}
	if p, ok := r.Get("ACME-CUSTOM", 0); !ok || p.DefaultTermDays != 45 || len(p.Escalation) != 4 {
		t.Errorf("custom policy = %+v, %v", p, ok)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		desc    string
		files   map[string]string
		wantErr string
	}{
		{"empty directory", map[string]string{"README": "x"}, "has no policies"},
		{"unknown field", map[string]string{"policies/p.json": strings.Replace(customPolicy, `"name"`, `"nmae"`, 1)}, "unknown field"},
		{"invalid policy", map[string]string{"policies/p.json": strings.Replace(customPolicy, `"default_term_days": 45`, `"default_term_days": -1`, 1)}, "default_term_days"},
		{"a rate table the registry lacks", map[string]string{"policies/p.json": strings.Replace(customPolicy, `"CN-LPR-1Y"`, `"NO-TABLE"`, 1)}, "NO-TABLE"},
		{"a calendar the registry lacks", map[string]string{"policies/p.json": strings.Replace(customPolicy, `"calendar": "CN"`, `"calendar": "ZZ"`, 1)}, "calendar \"ZZ\""},
		{"the same version twice", map[string]string{"policies/a.json": customPolicy, "policies/b.json": customPolicy}, "defined twice"},
		{"rate table without a source", map[string]string{"rates/X.csv": "2020-01-01,1.0\n"}, "Source"},
		{"rate table out of order", map[string]string{"rates/X.csv": "# Source: t\n2020-01-01,1.0\n2019-01-01,2.0\n"}, "not after"},
		{"rate table with a bad percent", map[string]string{"rates/X.csv": "# Source: t\n2020-01-01,one\n"}, "not a decimal"},
		{"rate table with a bad date", map[string]string{"rates/X.csv": "# Source: t\n2020-02-30,1\n"}, "2020-02 has no day 30"},
		{"rate table confirmed before its last entry", map[string]string{"rates/X.csv": "# Source: t\n# Confirmed through: 2019-12-31\n2020-01-01,1\n"}, "before its last entry"},
		{"rate table with a bad confirmed-through date", map[string]string{"rates/X.csv": "# Source: t\n# Confirmed through: soon\n2020-01-01,1\n"}, "confirmed through"},
		{"rate table file name not an id", map[string]string{"rates/x y.csv": "# Source: t\n2020-01-01,1\n"}, "file name"},
		{"calendar id differs from the file name", map[string]string{"calendars/AA.json": `{"id":"BB","name":"x","source":"t","years":[]}`}, "differs"},
		{"calendar working day on a weekday", map[string]string{"calendars/AA.json": `{"id":"AA","name":"x","source":"t","years":[{"year":2025,"source":"t","holidays":[],"working_days":[{"date":"2025-03-03","name":"w"}]}]}`}, "not a weekend day"},
		{"calendar holiday in another year", map[string]string{"calendars/AA.json": `{"id":"AA","name":"x","source":"t","years":[{"year":2025,"source":"t","holidays":[{"from":"2024-03-03","to":"2024-03-03","name":"h"}],"working_days":[]}]}`}, "not a range in that year"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			r := embeddedRegistry(t)
			dir := t.TempDir()
			for name, text := range tc.files {
				writeFile(t, dir, name, text)
			}
			err := r.Override(dir)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Override error = %v, want one containing %q", err, tc.wantErr)
			}
			// A failed override leaves the registry as it was.
			if p, _ := r.Get(IDCN802LargeEnterprise, 0); p.Version != 1 {
				t.Errorf("failed override changed the registry: v%d", p.Version)
			}
		})
	}
	if err := embeddedRegistry(t).Override(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("Override of a missing directory succeeded")
	}
}

func TestValidate(t *testing.T) {
	r := embeddedRegistry(t)
	base, _ := r.Get(IDUKB2B, 0)
	tests := []struct {
		desc  string
		edit  func(*Policy)
		field string
	}{
		{"lower-case id", func(p *Policy) { p.ID = "uk" }, "id"},
		{"version 0", func(p *Policy) { p.Version = 0 }, "version"},
		{"no source", func(p *Policy) { p.Source = " " }, "source"},
		{"unknown jurisdiction", func(p *Policy) { p.Jurisdictions = []string{"XX"} }, "jurisdictions[0]"},
		{"unknown debtor kind", func(p *Policy) { p.DebtorKinds = []ledger.PartyKind{"BANK"} }, "debtor_kinds[0]"},
		{"LATEST_OF with one event", func(p *Policy) { p.ClockStart.Of = []ClockEvent{EventReceipt} }, "clock_start.of"},
		{"unknown fallback event", func(p *Policy) { p.ClockStart.Fallback = []ClockEvent{"PAYMENT"} }, "clock_start.fallback[0]"},
		{"cap without a kind", func(p *Policy) { p.CapKind = CapNone }, "cap_days"},
		{"hard cap of 0", func(p *Policy) { p.CapDays = 0 }, "cap_days"},
		{"a cap's first day without a cap", func(p *Policy) { p.CapKind, p.CapDays = CapNone, 0 }, "cap_includes_event_day"},
		{"next working day without a calendar", func(p *Policy) { p.Adjust = AdjustNextWorkingDay }, "calendar"},
		{"reference rate without a table", func(p *Policy) { p.Interest.Reference = "" }, "interest.reference"},
		{"points not a decimal", func(p *Policy) { p.Interest.Points = "8%" }, "interest.points"},
		{"no fixing", func(p *Policy) { p.Interest.Fixing = "" }, "interest.fixing"},
		{"bad day count", func(p *Policy) { p.Interest.DayCount = "30_360" }, "interest.day_count"},
		{"floor without agreed rates", func(p *Policy) { p.Interest.AgreedRateFloor = "CN-LPR-1Y" }, "agreed_rate_floor"},
		{"compensation bands out of order", func(p *Policy) { p.Compensation.Bands[2].FromDebtMinor = 1 }, "compensation.bands[2].from_debt_minor"},
		{"compensation not from zero", func(p *Policy) { p.Compensation.Bands[0].FromDebtMinor = 5 }, "compensation.bands[0].from_debt_minor"},
		{"compensation in a bad currency", func(p *Policy) { p.Compensation.Currency = "XTS" }, "compensation.currency"},
		{"escalation days not increasing", func(p *Policy) { p.Escalation[2].Days = 30 }, "escalation[2].days"},
		{"escalation name NONE", func(p *Policy) { p.Escalation[0].Name = LevelNone }, "escalation[0].name"},
		{"escalation minimum dropped by a higher level", func(p *Policy) {
			p.Escalation[1].MinNetOverdue = &Amount{Minor: 100, Currency: "GBP"}
		}, "escalation[2].min_net_overdue"},
		{"bucket edges not increasing", func(p *Policy) { p.BucketEdges = []int{30, 30} }, "bucket_edges"},
		{"a bucket edge past the calendar", func(p *Policy) { p.BucketEdges = []int{30, math.MaxInt} }, "bucket_edges"},
		{"escalation days past the calendar", func(p *Policy) { p.Escalation[len(p.Escalation)-1].Days = math.MaxInt }, fmt.Sprintf("escalation[%d].days", len(base.Escalation)-1)},
		{"bad rounding", func(p *Policy) { p.Rounding = "BANKERS" }, "rounding"},
		{"bad time zone", func(p *Policy) { p.TimeZone = "London time" }, "time_zone"},
		{"bad bill counting", func(p *Policy) { p.BillCounts = "NEVER" }, "bill_counts"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			p := clonePolicy(base)
			tc.edit(&p)
			err := p.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.field+":") {
				t.Errorf("Validate = %v, want a violation of %s", err, tc.field)
			}
		})
	}
	if err := base.Validate(); err != nil {
		t.Errorf("the unedited policy is invalid: %v", err)
	}
}

// TestFingerprint: the same data digests the same; another policy changes
// it.
func TestFingerprint(t *testing.T) {
	a, b := embeddedRegistry(t), embeddedRegistry(t)
	if a.Fingerprint() != b.Fingerprint() || len(a.Fingerprint()) != 64 {
		t.Fatalf("two loads of the embedded data: %s and %s", a.Fingerprint(), b.Fingerprint())
	}
	list := `{"policies": [` + strings.Replace(customPolicy, `"CN-802-LARGE-ENTERPRISE", "version": 2`, `"ACME-CUSTOM", "version": 1`, 1) + `]}`
	if err := b.AddPolicyFile(writeFile(t, t.TempDir(), "custom.json", list)); err != nil {
		t.Fatal(err)
	}
	if a.Fingerprint() == b.Fingerprint() {
		t.Error("an added policy left the fingerprint unchanged")
	}
}

// TestVersionsListsEvery: a version superseded for new invoices still
// judges the old ones, and is listed beside its successor.
func TestVersionsListsEvery(t *testing.T) {
	var uk []string
	for _, p := range embeddedRegistry(t).Versions() {
		if p.ID == IDUKB2B {
			uk = append(uk, fmt.Sprintf("%s@%d", p.ID, p.Version))
		}
	}
	if want := []string{IDUKB2B + "@1", IDUKB2B + "@2"}; !slices.Equal(uk, want) {
		t.Errorf("versions of %s: %v, want %v", IDUKB2B, uk, want)
	}
}
