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
	t := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	if d < 1 || t.Day() != d {
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
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("%q is not a date in the form YYYY-MM-DD", s)
	}
	return Date{t.Year(), t.Month(), t.Day()}, nil
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

// midnight is the UTC instant that starts d, used only for arithmetic.
func (d Date) midnight() time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC)
}

// AddDays returns the date n days after d (before, for negative n).
func (d Date) AddDays(n int) Date {
	t := d.midnight().AddDate(0, 0, n)
	return Date{t.Year(), t.Month(), t.Day()}
}

// DaysSince returns the number of days from e to d: positive if d is later.
func (d Date) DaysSince(e Date) int {
	// Both are UTC midnights, so the difference is an exact multiple of 24h.
	return int(d.midnight().Sub(e.midnight()).Hours() / 24)
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

// Weekday is the day of the week of d.
func (d Date) Weekday() time.Weekday { return d.midnight().Weekday() }

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
func (d Date) MarshalJSON() ([]byte, error) {
	if d.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(d.String())
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
