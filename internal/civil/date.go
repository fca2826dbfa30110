// Package civil provides the calendar date that payment law counts in.
//
// A Date is a day on a calendar, with no time of day and no zone: "delivered
// on 10 January" is the same day wherever the server runs. Converting an
// instant to a Date always names the zone (DateOf), so no code can take "today"
// in the server's zone by accident.
package civil

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"time"
)

// Date is a civil date. The zero Date means "not set".
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// New returns the date y-m-d, or an error if no such day exists
// (e.g. 2025-02-29).
func New(y int, m time.Month, d int) (Date, error) {
	if y < 1 || y > 9999 {
		return Date{}, fmt.Errorf("year %d is out of range 1-9999", y)
	}
	if m < 1 || m > 12 {
		return Date{}, fmt.Errorf("month %d is out of range 1-12", int(m))
	}
	if d < 1 || d > daysIn(y, m) {
		return Date{}, fmt.Errorf("%04d-%02d has no day %d", y, int(m), d)
	}
	return Date{y, m, d}, nil
}

// MustNew is New for dates known valid, in tests and tables.
func MustNew(y int, m time.Month, d int) Date {
	dt, err := New(y, m, d)
	if err != nil {
		panic(err)
	}
	return dt
}

// Parse reads "YYYY-MM-DD".
func Parse(s string) (Date, error) {
	// Digits read by hand first: every date of every synced record is
	// parsed, and time.Parse is general. Digits New refuses are no date;
	// anything else goes to time.Parse.
	if len(s) == 10 && s[4] == '-' && s[7] == '-' {
		y, okY := digits(s[0:4])
		m, okM := digits(s[5:7])
		d, okD := digits(s[8:10])
		if okY && okM && okD {
			dt, err := New(y, time.Month(m), d)
			if err == nil {
				return dt, nil
			}
			// In the form, but no day of the calendar (2025-02-30):
			// said so, not that the form is wrong.
			return Date{}, fmt.Errorf("%q is no date: %w", s, err)
		}
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("%q is not a date in the form YYYY-MM-DD", s)
	}
	// time.Parse takes year 0, which New (and PostgreSQL) refuse.
	return New(t.Year(), t.Month(), t.Day())
}

// digits reads s, ASCII digits only, as a number.
func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// DateOf is the civil date of instant t in zone loc.
func DateOf(t time.Time, loc *time.Location) Date {
	t = t.In(loc)
	return Date{t.Year(), t.Month(), t.Day()}
}

// IsZero reports whether d is unset.
func (d Date) IsZero() bool { return d == Date{} }

// String formats d as YYYY-MM-DD, or "" when unset.
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	if d.Year < 0 || d.Year > 9999 || d.Month < 1 || d.Month > 12 || d.Day < 1 || d.Day > 31 {
		return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
	}
	// By hand: dates are formatted for every stored row and snapshot.
	b := [10]byte{'0' + byte(d.Year/1000), '0' + byte(d.Year/100%10), '0' + byte(d.Year/10%10), '0' + byte(d.Year%10), '-',
		'0' + byte(d.Month/10), '0' + byte(d.Month%10), '-', '0' + byte(d.Day/10), '0' + byte(d.Day%10)}
	return string(b[:])
}

// midnight is the UTC instant that starts d. Arithmetic goes through it only
// for dates off the calendar (day 0, month 13, the zero Date), which
// time.Date normalizes; real days take the day count below, since the
// judgement and the summaries add days to dates many times per invoice.
func (d Date) midnight() time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC)
}

// AddDays returns the date n days after d (before, for negative n).
func (d Date) AddDays(n int) Date {
	if d.real() {
		if z := d.day() + n; z >= firstDay && z <= lastDay {
			return dateOfDay(z)
		}
	}
	t := d.midnight().AddDate(0, 0, n)
	return Date{t.Year(), t.Month(), t.Day()}
}

// DaysSince returns the number of days from e to d: positive if d is later.
func (d Date) DaysSince(e Date) int {
	if d.real() && e.real() {
		return d.day() - e.day()
	}
	// Both are UTC midnights, a whole number of days apart. Unix seconds,
	// not Sub: a time.Duration overflows past 292 years.
	return int((d.midnight().Unix() - e.midnight().Unix()) / 86400)
}

// Weekday is the day of the week of d.
func (d Date) Weekday() time.Weekday {
	if d.real() {
		// Day 0, 0000-03-01, was a Wednesday, as was 2000-03-01: 400
		// Gregorian years are 146,097 days, a whole number of weeks.
		return time.Weekday((d.day() + int(time.Wednesday)) % 7)
	}
	return d.midnight().Weekday()
}

// The day count numbers the days from 0000-03-01 (day 0) of the proleptic
// Gregorian calendar. Its years start in March, so that the leap day ends a
// year, and the months from March repeat the lengths 31 30 31 30 31, whose
// running total (153*m+2)/5 gives. Only real dates of years 1-9999 are
// counted, so every number is positive and integer division is floor
// division.

// firstDay and lastDay are the numbers of 0001-01-01 and 9999-12-31.
var (
	firstDay = Date{1, time.January, 1}.day()
	lastDay  = Date{9999, time.December, 31}.day()
)

// real reports whether d is a day of the calendar in years 1-9999.
func (d Date) real() bool {
	return d.Year >= 1 && d.Year <= 9999 && d.Month >= time.January && d.Month <= time.December &&
		d.Day >= 1 && d.Day <= daysIn(d.Year, d.Month)
}

func daysIn(y int, m time.Month) int {
	switch m {
	case time.February:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}

// day is d's number in the day count; d must be real.
func (d Date) day() int {
	y, m := d.Year, int(d.Month)-3 // m: 0 for March, 11 for February
	if m < 0 {
		y, m = y-1, m+12
	}
	cycle, year := y/400, y%400 // 400-year cycle, year in it
	return cycle*146097 + year*365 + year/4 - year/100 + (153*m+2)/5 + d.Day - 1
}

// dateOfDay is the date numbered z, for z from firstDay to lastDay.
func dateOfDay(z int) Date {
	cycle, n := z/146097, z%146097
	// The year in the cycle: n less the leap days before it, over 365. The
	// corrections are for the day ending each 4-, 100- and 400-year run.
	year := (n - n/1460 + n/36524 - n/146096) / 365
	inYear := n - (year*365 + year/4 - year/100)
	m := (5*inYear + 2) / 153
	day := inYear - (153*m+2)/5 + 1
	y, month := cycle*400+year, m+3
	if month > 12 {
		y, month = y+1, month-12
	}
	return Date{y, time.Month(month), day}
}

// Compare returns -1, 0 or +1 as d is before, equal to or after e.
func (d Date) Compare(e Date) int {
	switch {
	case d.Year != e.Year:
		return cmpInt(d.Year, e.Year)
	case d.Month != e.Month:
		return cmpInt(int(d.Month), int(e.Month))
	default:
		return cmpInt(d.Day, e.Day)
	}
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Before reports whether d is strictly before e.
func (d Date) Before(e Date) bool { return d.Compare(e) < 0 }

// After reports whether d is strictly after e.
func (d Date) After(e Date) bool { return d.Compare(e) > 0 }

// Max returns the latest of the set dates, or the zero Date if none is set.
func Max(ds ...Date) Date {
	var m Date
	for _, d := range ds {
		if !d.IsZero() && (m.IsZero() || d.After(m)) {
			m = d
		}
	}
	return m
}

// Min returns the earliest of ds that is set, or the zero Date.
func Min(ds ...Date) Date {
	var m Date
	for _, d := range ds {
		if !d.IsZero() && (m.IsZero() || d.Before(m)) {
			m = d
		}
	}
	return m
}

// MarshalJSON writes "YYYY-MM-DD" (or null when unset), so snapshots of
// domain records read naturally.
func (d Date) MarshalJSON() ([]byte, error) { return d.AppendJSON(nil), nil }

// AppendJSON appends what MarshalJSON writes, for encoders that write JSON
// by hand. A date's text is digits and dashes, which JSON never escapes.
func (d Date) AppendJSON(b []byte) []byte {
	if d.IsZero() {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = append(b, d.String()...)
	return append(b, '"')
}

// UnmarshalJSON reads what MarshalJSON writes.
func (d *Date) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*d = Date{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	p, err := Parse(s)
	if err != nil {
		return err
	}
	*d = p
	return nil
}

// Value stores d as "YYYY-MM-DD" (SQL NULL when unset): a string that both a
// PostgreSQL date column and a SQLite text column accept and order correctly.
func (d Date) Value() (driver.Value, error) {
	if d.IsZero() {
		return nil, nil
	}
	if !d.real() {
		// Stored as text in SQLite, "10000-01-01" would sort before every
		// real date and fail to read back.
		return nil, fmt.Errorf("civil: %s is not a date of years 1-9999", d)
	}
	return d.String(), nil
}

// Scan reads a date from either engine: PostgreSQL returns a time.Time at
// UTC midnight, SQLite the stored string.
func (d *Date) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*d = Date{}
	case time.Time:
		*d = Date{v.Year(), v.Month(), v.Day()}
	case string:
		return d.scanString(v)
	case []byte:
		return d.scanString(string(v))
	default:
		return fmt.Errorf("civil: cannot scan %T into Date", src)
	}
	return nil
}

func (d *Date) scanString(s string) error {
	if len(s) > 10 {
		s = s[:10] // "2025-01-02T00:00:00Z" from a driver that formats times
	}
	p, err := Parse(s)
	if err != nil {
		return err
	}
	*d = p
	return nil
}
