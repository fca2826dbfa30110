package civil

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

func TestNewRejectsImpossibleDays(t *testing.T) {
	for _, tc := range []struct {
		desc    string
		y, m, d int
		ok      bool
	}{
		{"leap day in leap year", 2024, 2, 29, true},
		{"leap day in common year", 2025, 2, 29, false},
		{"century not leap", 1900, 2, 29, false},
		{"400-year leap", 2000, 2, 29, true},
		{"april 31", 2025, 4, 31, false},
		{"month 13", 2025, 13, 1, false},
		{"day 0", 2025, 1, 0, false},
		{"year 0", 0, 1, 1, false},
	} {
		_, err := New(tc.y, time.Month(tc.m), tc.d)
		if (err == nil) != tc.ok {
			t.Errorf("%s: New(%d,%d,%d) err = %v, want ok=%v", tc.desc, tc.y, tc.m, tc.d, err, tc.ok)
		}
	}
}

func TestArithmetic(t *testing.T) {
	d := MustNew(2025, 1, 10)
	// RULES.md: 60 days from delivery on 10 January ends on 11 March in a
	// non-leap year.
	if got, want := d.AddDays(60), MustNew(2025, 3, 11); got != want {
		t.Errorf("AddDays(60) = %v, want %v", got, want)
	}
	if got, want := MustNew(2024, 1, 10).AddDays(60), MustNew(2024, 3, 10); got != want {
		t.Errorf("leap AddDays(60) = %v, want %v", got, want)
	}
	if got := MustNew(2025, 3, 11).DaysSince(d); got != 60 {
		t.Errorf("DaysSince = %d, want 60", got)
	}
	if got := d.DaysSince(MustNew(2025, 3, 11)); got != -60 {
		t.Errorf("DaysSince reversed = %d, want -60", got)
	}
	if !d.Before(d.AddDays(1)) || d.After(d) || d.Compare(d) != 0 {
		t.Errorf("ordering broken around %v", d)
	}
	if got := Max(Date{}, d, d.AddDays(-3), Date{}); got != d {
		t.Errorf("Max = %v, want %v", got, d)
	}
	if got := Max(); !got.IsZero() {
		t.Errorf("Max() = %v, want zero", got)
	}
	if got := Min(Date{}, d, d.AddDays(-3), Date{}); got != d.AddDays(-3) {
		t.Errorf("Min = %v, want %v", got, d.AddDays(-3))
	}
	if got := Min(); !got.IsZero() {
		t.Errorf("Min() = %v, want zero", got)
	}
}

func TestDateOfUsesTheZone(t *testing.T) {
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	// 20:00 UTC on 31 December is already 1 January in Shanghai.
	instant := time.Date(2025, 12, 31, 20, 0, 0, 0, time.UTC)
	if got, want := DateOf(instant, shanghai), MustNew(2026, 1, 1); got != want {
		t.Errorf("DateOf Shanghai = %v, want %v", got, want)
	}
	if got, want := DateOf(instant, time.UTC), MustNew(2025, 12, 31); got != want {
		t.Errorf("DateOf UTC = %v, want %v", got, want)
	}
}

func TestParseAndScan(t *testing.T) {
	want := MustNew(2025, 6, 1)
	for _, src := range []any{"2025-06-01", []byte("2025-06-01"), "2025-06-01T00:00:00Z", time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)} {
		var d Date
		if err := d.Scan(src); err != nil || d != want {
			t.Errorf("Scan(%v) = %v, %v; want %v", src, d, err, want)
		}
	}
	var d Date
	if err := d.Scan(nil); err != nil || !d.IsZero() {
		t.Errorf("Scan(nil) = %v, %v", d, err)
	}
	if _, err := Parse("2025-02-30"); err == nil {
		t.Error("Parse accepted 2025-02-30")
	}
	if _, err := Parse("0000-01-01"); err == nil {
		t.Error("Parse accepted year 0")
	}
	if v, err := (Date{10000, 1, 1}).Value(); err == nil {
		t.Errorf("Value of 10000-01-01 = %v, want an error", v)
	}
	b, _ := want.MarshalJSON()
	if string(b) != `"`+want.String()+`"` {
		t.Errorf("MarshalJSON = %s, want the quoted %s", b, want)
	}
	if b, _ := (Date{}).MarshalJSON(); string(b) != "null" {
		t.Errorf("MarshalJSON of the zero Date = %s, want null", b)
	}
	var back Date
	if err := back.UnmarshalJSON(b); err != nil || back != want {
		t.Errorf("JSON round trip = %v, %v", back, err)
	}
}

// TestDayCountMatchesTime compares the day count with the time package's
// arithmetic, which the date methods used before it: every day of the
// years around the Gregorian exceptions and of the range's ends, and random
// dates and offsets across years 1-9999, off-calendar dates included.
func TestDayCountMatchesTime(t *testing.T) {
	viaTime := func(d Date, n int) Date {
		u := d.midnight().AddDate(0, 0, n)
		return Date{u.Year(), u.Month(), u.Day()}
	}
	check := func(d, e Date, n int) {
		t.Helper()
		if got, want := d.AddDays(n), viaTime(d, n); got != want {
			t.Fatalf("%v.AddDays(%d) = %v, want %v", d, n, got, want)
		}
		// Unix seconds, not Sub: a time.Duration overflows past 292 years.
		if got, want := d.DaysSince(e), int((d.midnight().Unix()-e.midnight().Unix())/86400); got != want {
			t.Fatalf("%v.DaysSince(%v) = %d, want %d", d, e, got, want)
		}
		if got, want := d.Weekday(), d.midnight().Weekday(); got != want {
			t.Fatalf("%v.Weekday() = %v, want %v", d, got, want)
		}
	}
	prev := Date{}
	for _, y := range []int{1, 2, 3, 4, 5, 99, 100, 101, 399, 400, 401, 1600, 1899, 1900, 1999, 2000, 2023, 2024, 2100, 9996, 9999} {
		for d := MustNew(y, 1, 1); d.Year == y; d = viaTime(d, 1) {
			check(d, prev, 1)
			check(d, prev, -1)
			prev = d
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200_000 {
		d := Date{1 + r.IntN(9999), time.Month(1 + r.IntN(12)), 1 + r.IntN(31)}
		if r.IntN(20) == 0 { // off the calendar: day 0, month 0 or 13
			d = Date{r.IntN(10001), time.Month(r.IntN(14)), r.IntN(33)}
		}
		e := Date{1 + r.IntN(9999), time.Month(1 + r.IntN(12)), 1 + r.IntN(28)}
		n := r.IntN(2_000_001) - 1_000_000
		if r.IntN(2) == 0 {
			n = r.IntN(801) - 400
		}
		check(d, e, n)
	}
	// The ends of the range, and past them, where time.Date takes over.
	for _, n := range []int{-1, 0, 1} {
		check(MustNew(1, 1, 1), MustNew(9999, 12, 31), n)
		check(MustNew(9999, 12, 31), MustNew(1, 1, 1), n)
	}
	if got := (Date{}).DaysSince(MustNew(1, 1, 1)); got >= 0 {
		t.Fatalf("the zero Date is %d days after 0001-01-01, want before", got)
	}
}

// TestParseMatchesTimeParse compares Parse with time.Parse, which it
// used alone before: real dates, impossible ones (day 31 of a short month,
// 29 February of a common year, year 0) and malformed text.
func TestParseMatchesTimeParse(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	inputs := []string{"", "2025-02-29", "2024-02-29", "0000-01-01", "2025-13-01", "2025-00-10", "2025-04-31", "2025-4-30",
		"+025-04-30", "2025-04-3x", "2025/04/30", "20250430", "2025-04-30 ", "9999-12-31", "0001-01-01"}
	for range 100_000 {
		b := []byte(fmt.Sprintf("%04d-%02d-%02d", r.IntN(10000), r.IntN(14), r.IntN(33)))
		if r.IntN(10) == 0 {
			b[r.IntN(len(b))] = "0123456789-+ x"[r.IntN(14)]
		}
		inputs = append(inputs, string(b))
	}
	for _, s := range inputs {
		got, err := Parse(s)
		tt, terr := time.Parse(time.DateOnly, s)
		if terr == nil && tt.Year() == 0 {
			terr = errors.New("year 0") // which time.Parse takes and the calendar here does not
		}
		if (err == nil) != (terr == nil) || (err == nil && got != (Date{tt.Year(), tt.Month(), tt.Day()})) {
			t.Fatalf("Parse(%q) = %v, %v; time.Parse gives %v, %v", s, got, err, tt, terr)
		}
	}
}

// TestParseSaysWhatIsWrong: a string in the form but not on the calendar
// is said to be no date, with why; one not in the form is said to be so.
func TestParseSaysWhatIsWrong(t *testing.T) {
	for s, want := range map[string]string{
		"2025-02-30": `"2025-02-30" is no date: 2025-02 has no day 30`,
		"2025-13-01": `"2025-13-01" is no date: month 13 is out of range 1-12`,
		"30/02/2025": `"30/02/2025" is not a date in the form YYYY-MM-DD`,
	} {
		if _, err := Parse(s); err == nil || err.Error() != want {
			t.Errorf("Parse(%q): %v, want %s", s, err, want)
		}
	}
}
