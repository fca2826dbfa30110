package policy

import (
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/arrears/arrears/internal/civil"
)

func TestRateOn(t *testing.T) {
	r := embeddedRegistry(t)
	tests := []struct {
		desc  string
		table string
		on    string
		want  string
		ok    bool
	}{
		{"LPR on its first day", "CN-LPR-1Y", "2019-08-20", "4.25", true},
		{"LPR the day before the reform: the benchmark rate", "CN-LPR-1Y", "2019-08-19", "4.35", true},
		{"LPR before any entry", "CN-LPR-1Y", "2012-07-05", "", false},
		{"LPR on 2015-01-01: the benchmark rate", "CN-LPR-1Y", "2015-01-01", "5.60", true},
		{"ECB on 1 January 2015", "ECB-MRO", "2015-01-01", "0.05", true},
		{"LPR on 2023-03-01", "CN-LPR-1Y", "2023-03-01", "3.65", true},
		{"LPR the day before a change", "CN-LPR-1Y", "2025-05-19", "3.10", true},
		{"LPR on a change", "CN-LPR-1Y", "2025-05-20", "3.00", true},
		{"ECB on 1 January 2025", "ECB-MRO", "2025-01-01", "3.15", true},
		{"ECB on 1 July 2024", "ECB-MRO", "2024-07-01", "4.25", true},
		{"ECB on 1 July 2025", "ECB-MRO", "2025-07-01", "2.15", true},
		{"ECB in 2019 (zero)", "ECB-MRO", "2019-06-30", "0.00", true},
		{"BoE on 30 June 2023", "BOE-BASE", "2023-06-30", "5.00", true},
		{"BoE on 31 December 2023", "BOE-BASE", "2023-12-31", "5.25", true},
		{"BoE in 2019", "BOE-BASE", "2019-12-31", "0.75", true},
		{"Basiszins H1 2024", "DE-BASISZINS", "2024-03-01", "3.62", true},
		{"Basiszins H2 2024", "DE-BASISZINS", "2024-07-01", "3.37", true},
		{"Basiszins negative in 2019", "DE-BASISZINS", "2019-01-01", "-0.88", true},
		{"unknown table", "NOPE", "2024-01-01", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got, ok := r.RateOn(tc.table, d(tc.on))
			if got != tc.want || ok != tc.ok {
				t.Errorf("RateOn(%s, %s) = %q %v, want %q %v", tc.table, tc.on, got, ok, tc.want, tc.ok)
			}
		})
	}
	lpr, ok := r.RateTable("CN-LPR-1Y")
	if !ok || !strings.Contains(lpr.Source, "People's Bank of China") {
		t.Errorf("LPR source = %q", lpr.Source)
	}
}

// TestBasiszinsFollowsECB checks the German base rate against its rule:
// each half-year it moves by the change in the ECB rate between the last
// days of the two previous half-years.
// TestShippedRatesConfirmed: every shipped rate table says how far it was
// checked, and no later than its last entry.
func TestShippedRatesConfirmed(t *testing.T) {
	r := embeddedRegistry(t)
	for _, id := range []string{"BOE-BASE", "CN-LPR-1Y", "DE-BASISZINS", "ECB-MRO"} {
		tab, ok := r.RateTable(id)
		if !ok {
			t.Fatalf("no table %s", id)
		}
		ct := r.RateConfirmedThrough(id)
		if ct.IsZero() || ct != tab.ConfirmedThrough || ct.Before(tab.Entries[len(tab.Entries)-1].From) {
			t.Errorf("%s confirmed through %s (table says %s), last entry %s", id, ct, tab.ConfirmedThrough, tab.Entries[len(tab.Entries)-1].From)
		}
	}
	if ct := r.RateConfirmedThrough("NO-TABLE"); !ct.IsZero() {
		t.Errorf("a missing table is confirmed through %s", ct)
	}
}

// TestShippedRatesReachBackToTheCalendars: the calendars publish years
// from 2015, so a debt overdue on their first day has its interest fixed
// in 2014 (the rate in force on 31 December or 30 June before, or on 1
// January): every shipped table has a rate from the start of 2014. The
// rate tables once began in 2016, and such debts could not be judged at
// all.
func TestShippedRatesReachBackToTheCalendars(t *testing.T) {
	r := embeddedRegistry(t)
	first := 0
	for _, id := range []string{"CN", "DE", "FR"} {
		y := 1990
		for ; y < 2100; y++ {
			if _, published := r.IsWorkingDay(id, civil.Date{Year: y, Month: 6, Day: 1}); published {
				break
			}
		}
		if y == 2100 {
			t.Fatalf("calendar %s publishes no year", id)
		}
		if first == 0 || y < first {
			first = y
		}
	}
	from := civil.Date{Year: first - 1, Month: 1, Day: 1}
	for _, id := range []string{"BOE-BASE", "CN-LPR-1Y", "DE-BASISZINS", "ECB-MRO"} {
		if _, ok := r.RateOn(id, from); !ok {
			t.Errorf("%s has no rate on %s, the year before the first calendar year (%d)", id, from, first)
		}
	}
}

// TestPromptPaymentRatesCoverTheCalendar: the US policy fixes the rate in
// force on the day interest starts, so the table must begin by the first
// day of the first year its calendar publishes.
func TestPromptPaymentRatesCoverTheCalendar(t *testing.T) {
	r := embeddedRegistry(t)
	if _, published := r.IsWorkingDay("US", civil.MustNew(2015, 6, 1)); !published {
		t.Fatal("the US calendar does not publish 2015")
	}
	if _, ok := r.RateOn("US-PPA", civil.MustNew(2015, 1, 1)); !ok {
		t.Error("US-PPA has no rate on 2015-01-01, the US calendar's first day")
	}
}

// TestFederalHolidaysFollowTheStatute: the US calendar lists the legal
// public holidays of 5 U.S.C. 6103(a) on the days they are observed (a
// Saturday's on the Friday before, a Sunday's on the Monday after), each
// day of each year checked against the holidays computed here.
func TestFederalHolidaysFollowTheStatute(t *testing.T) {
	r := embeddedRegistry(t)
	nth := func(year int, month time.Month, wd time.Weekday, n int) civil.Date {
		day := civil.MustNew(year, month, 1)
		for day.Weekday() != wd {
			day = day.AddDays(1)
		}
		return day.AddDays(7 * (n - 1))
	}
	lastMonday := func(year int, month time.Month) civil.Date {
		day := civil.MustNew(year, month+1, 1).AddDays(-1)
		for day.Weekday() != time.Monday {
			day = day.AddDays(-1)
		}
		return day
	}
	observed := func(day civil.Date) civil.Date {
		switch day.Weekday() {
		case time.Saturday:
			return day.AddDays(-1)
		case time.Sunday:
			return day.AddDays(1)
		}
		return day
	}
	want := map[civil.Date]bool{}
	for year := 2015; year <= 2031; year++ {
		fixed := [][2]int{{1, 1}, {7, 4}, {11, 11}, {12, 25}}
		if year >= 2021 {
			fixed = append(fixed, [2]int{6, 19}) // Juneteenth, from 2021
		}
		for _, md := range fixed {
			want[observed(civil.MustNew(year, time.Month(md[0]), md[1]))] = true
		}
		for _, day := range []civil.Date{nth(year, 1, time.Monday, 3), nth(year, 2, time.Monday, 3), lastMonday(year, 5),
			nth(year, 9, time.Monday, 1), nth(year, 10, time.Monday, 2), nth(year, 11, time.Thursday, 4)} {
			want[day] = true
		}
	}
	for day := civil.MustNew(2015, 1, 1); day.Year <= 2030; day = day.AddDays(1) {
		wd := day.Weekday()
		expect := wd != time.Saturday && wd != time.Sunday && !want[day]
		if working, published := r.IsWorkingDay("US", day); working != expect || !published {
			t.Errorf("US %s: working %v published %v, want working %v", day, working, published, expect)
		}
	}
}

func TestBasiszinsFollowsECB(t *testing.T) {
	r := embeddedRegistry(t)
	for _, tc := range []struct{ on, prevRef, ref string }{
		{"2014-01-01", "2013-06-30", "2013-12-31"},
		{"2014-07-01", "2013-12-31", "2014-06-30"},
		{"2015-01-01", "2014-06-30", "2014-12-31"},
		{"2016-07-01", "2015-12-31", "2016-06-30"},
		{"2023-01-01", "2022-06-30", "2022-12-31"},
		{"2023-07-01", "2022-12-31", "2023-06-30"},
		{"2024-01-01", "2023-06-30", "2023-12-31"},
		{"2024-07-01", "2023-12-31", "2024-06-30"},
		{"2025-01-01", "2024-06-30", "2024-12-31"},
		{"2025-07-01", "2024-12-31", "2025-06-30"},
		{"2026-01-01", "2025-06-30", "2025-12-31"},
	} {
		rate := func(table, on string) *big.Rat {
			s, ok := r.RateOn(table, d(on))
			if !ok {
				t.Fatalf("%s on %s missing", table, on)
			}
			v, _ := ParseDecimal(s)
			return v
		}
		prev := rate("DE-BASISZINS", d(tc.on).AddDays(-1).String())
		delta := new(big.Rat).Sub(rate("ECB-MRO", tc.ref), rate("ECB-MRO", tc.prevRef))
		if want := new(big.Rat).Add(prev, delta); want.Cmp(rate("DE-BASISZINS", tc.on)) != 0 {
			t.Errorf("Basiszins on %s = %s, want %s by the ECB rule", tc.on, rate("DE-BASISZINS", tc.on).FloatString(2), want.FloatString(2))
		}
	}
}

func TestIsWorkingDay(t *testing.T) {
	r := embeddedRegistry(t)
	tests := []struct {
		desc      string
		cal       string
		on        string
		working   bool
		published bool
	}{
		{"CN ordinary Monday", "CN", "2025-03-03", true, true},
		{"CN ordinary Sunday", "CN", "2025-03-02", false, true},
		{"CN Spring Festival 2025, a Tuesday", "CN", "2025-01-28", false, true},
		{"CN adjusted working Sunday 2025-01-26", "CN", "2025-01-26", true, true},
		{"CN adjusted working Saturday 2025-02-08", "CN", "2025-02-08", true, true},
		{"CN National Day 2025-10-08 (Mid-Autumn added)", "CN", "2025-10-08", false, true},
		{"CN adjusted working Saturday 2025-10-11", "CN", "2025-10-11", true, true},
		{"CN New Year 2024", "CN", "2024-01-01", false, true},
		{"CN adjusted working Sunday 2024-02-04", "CN", "2024-02-04", true, true},
		{"CN Dragon Boat 2024", "CN", "2024-06-10", false, true},
		{"CN Spring Festival 2026", "CN", "2026-02-17", false, true},
		{"CN 2026 make-up Saturday", "CN", "2026-02-28", true, true},
		{"CN 2027 weekday: not published", "CN", "2027-01-04", true, false},
		{"CN 2027 Saturday: not published", "CN", "2027-01-02", false, false},
		{"CN 2019: not covered", "CN", "2019-10-02", true, false},
		{"CN National Day 2023, a Monday", "CN", "2023-10-02", false, true},
		{"CN adjusted working Saturday 2023-10-07", "CN", "2023-10-07", true, true},
		{"CN 2020 make-up Sunday 2020-01-19", "CN", "2020-01-19", true, true},
		{"CN 2020-02-01: the extended Spring Festival cancelled its make-up day", "CN", "2020-02-01", false, true},
		{"CN 2020-02-03: work resumed", "CN", "2020-02-03", true, true},
		{"CN Mid-Autumn 2021 make-up Saturday", "CN", "2021-09-18", true, true},
		{"CN Qingming 2022, a Tuesday", "CN", "2022-04-05", false, true},
		{"DE Tag der Deutschen Einheit", "DE", "2024-10-03", false, true},
		{"DE ordinary Friday", "DE", "2024-10-04", true, true},
		{"FR 14 juillet 2025 (Monday)", "FR", "2025-07-14", false, true},
		{"DE Tag der Deutschen Einheit 2023, before the first calendar year shipped", "DE", "2023-10-03", false, true},
		{"FR 14 juillet 2023 (Friday)", "FR", "2023-07-14", false, true},
		{"DE 2031: not covered", "DE", "2031-10-03", true, false},
		{"WEEKENDS Saturday", CalendarWeekends, "2031-05-03", false, true},
		{"WEEKENDS Monday", CalendarWeekends, "2031-05-05", true, true},
		{"unknown calendar", "XX", "2025-05-05", true, false},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			w, p := r.IsWorkingDay(tc.cal, d(tc.on))
			if w != tc.working || p != tc.published {
				t.Errorf("IsWorkingDay(%s, %s) = %v %v, want %v %v", tc.cal, tc.on, w, p, tc.working, tc.published)
			}
		})
	}
}

func TestParseDecimal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		ok   bool
	}{
		{"0.05", "1/20", true},
		{"-0.88", "-22/25", true},
		{"8", "8/1", true},
		{"1/3", "", false},
		{"1e5", "", false},
		{" 1", "", false},
		{"", "", false},
	} {
		r, err := ParseDecimal(tc.in)
		if (err == nil) != tc.ok || (tc.ok && r.String() != tc.want) {
			t.Errorf("ParseDecimal(%q) = %v, %v; want %s ok %v", tc.in, r, err, tc.want, tc.ok)
		}
	}
}

// TestStatutoryCalendarsFollowEaster: Germany's and France's nationwide
// holidays are fixed by statute (fixed dates, and feasts a set number of
// days from Easter), so each year the calendars list is checked day by day
// against the holidays computed here, the years before and after the
// current one included: a debt of any year the rate tables cover moves
// off a holiday of its year.
func TestStatutoryCalendarsFollowEaster(t *testing.T) {
	r := embeddedRegistry(t)
	for _, cal := range []struct {
		id     string
		fixed  [][2]int // month, day
		easter []int    // days from Easter Sunday
	}{
		{"DE", [][2]int{{1, 1}, {5, 1}, {10, 3}, {12, 25}, {12, 26}}, []int{-2, 1, 39, 50}},
		{"FR", [][2]int{{1, 1}, {5, 1}, {5, 8}, {7, 14}, {8, 15}, {11, 1}, {11, 11}, {12, 25}}, []int{1, 39, 50}},
	} {
		for year := 2015; year <= 2030; year++ {
			want := map[civil.Date]bool{}
			for _, md := range cal.fixed {
				want[civil.MustNew(year, time.Month(md[0]), md[1])] = true
			}
			for _, n := range cal.easter {
				want[easterSunday(year).AddDays(n)] = true
			}
			if cal.id == "DE" && year == 2017 {
				want[civil.MustNew(2017, 10, 31)] = true // the Reformation's 500th year, once in every Land
			}
			for day := civil.MustNew(year, 1, 1); day.Year == year; day = day.AddDays(1) {
				wd := day.Weekday()
				expect := wd != time.Saturday && wd != time.Sunday && !want[day]
				if working, published := r.IsWorkingDay(cal.id, day); working != expect || !published {
					t.Errorf("%s %s: working %v published %v, want working %v", cal.id, day, working, published, expect)
				}
			}
		}
	}
}

// easterSunday is the Gregorian Easter Sunday of year (the anonymous
// Gregorian algorithm, as Meeus gives it).
func easterSunday(year int) civil.Date {
	a, b, c := year%19, year/100, year%100
	d, e := b/4, b%4
	f := (b + 8) / 25
	g := (b - f + 1) / 3
	h := (19*a + b - d - g + 15) % 30
	i, k := c/4, c%4
	l := (32 + 2*e + 2*i - h - k) % 7
	m := (a + 11*h + 22*l) / 451
	return civil.MustNew(year, time.Month((h+l-7*m+114)/31), (h+l-7*m+114)%31+1)
}
