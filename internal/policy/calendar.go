package policy

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/arrears/arrears/internal/civil"
)

// CalendarWeekends is the built-in calendar with Saturday and Sunday as rest
// days and no public holidays. It is published for every year, so a due date
// computed on it is never provisional.
const CalendarWeekends = "WEEKENDS"

// Calendar is a jurisdiction's working days for the years it covers: public
// holidays off, and (in China) adjusted weekend days worked in exchange.
// Saturday and Sunday are rest days unless listed as working days.
type Calendar struct {
	ID     string         `json:"id"`
	Name   string         `json:"name"`
	Source string         `json:"source"`
	Years  []CalendarYear `json:"years"`

	holidays map[civil.Date]bool
	working  map[civil.Date]bool
	years    map[int]bool
}

// CalendarYear is one year as published: China announces next year's
// holidays late in the year, so a year is covered only once listed here.
type CalendarYear struct {
	Year        int           `json:"year"`
	Source      string        `json:"source"`
	Holidays    []HolidaySpan `json:"holidays"`
	WorkingDays []WorkingDay  `json:"working_days"`
}

// HolidaySpan is a run of days off, From to To inclusive. Note carries
// "(verify)" for a day not confirmed from the official notice.
type HolidaySpan struct {
	From civil.Date `json:"from"`
	To   civil.Date `json:"to"`
	Name string     `json:"name"`
	Note string     `json:"note,omitempty"`
}

// WorkingDay is a weekend day worked in exchange for a holiday (调休).
type WorkingDay struct {
	Date civil.Date `json:"date"`
	Name string     `json:"name"`
	Note string     `json:"note,omitempty"`
}

// ParseCalendar reads and validates a calendar file.
func ParseCalendar(data []byte) (*Calendar, error) {
	var c Calendar
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("calendar: %v", err)
	}
	if err := c.index(); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *Calendar) index() error {
	if !idRE.MatchString(c.ID) || c.ID == CalendarWeekends {
		return fmt.Errorf("calendar: id %q must be upper-case letters, digits and dashes, and not %s", c.ID, CalendarWeekends)
	}
	if strings.TrimSpace(c.Source) == "" {
		return fmt.Errorf("calendar %s: source is required", c.ID)
	}
	c.holidays, c.working, c.years = map[civil.Date]bool{}, map[civil.Date]bool{}, map[int]bool{}
	for _, y := range c.Years {
		if y.Year < 1900 || y.Year > 9999 || c.years[y.Year] {
			return fmt.Errorf("calendar %s: year %d is out of range or listed twice", c.ID, y.Year)
		}
		if strings.TrimSpace(y.Source) == "" {
			return fmt.Errorf("calendar %s %d: source is required", c.ID, y.Year)
		}
		c.years[y.Year] = true
		for _, h := range y.Holidays {
			if h.From.IsZero() || h.To.IsZero() || h.To.Before(h.From) || h.From.Year != y.Year && h.To.Year != y.Year {
				return fmt.Errorf("calendar %s %d: holiday %q from %s to %s is not a range in that year", c.ID, y.Year, h.Name, h.From, h.To)
			}
			if h.To.DaysSince(h.From) > 31 {
				return fmt.Errorf("calendar %s %d: holiday %q is longer than a month", c.ID, y.Year, h.Name)
			}
			for d := h.From; !d.After(h.To); d = d.AddDays(1) {
				c.holidays[d] = true
			}
		}
		for _, w := range y.WorkingDays {
			if w.Date.Year != y.Year {
				return fmt.Errorf("calendar %s %d: working day %s is not in that year", c.ID, y.Year, w.Date)
			}
			if !isWeekend(w.Date) {
				return fmt.Errorf("calendar %s %d: working day %s is a %s, not a weekend day", c.ID, y.Year, w.Date, w.Date.Weekday())
			}
			c.working[w.Date] = true
		}
	}
	for d := range c.working {
		if c.holidays[d] {
			return fmt.Errorf("calendar %s: %s is both a holiday and a working day", c.ID, d)
		}
	}
	return nil
}

func isWeekend(d civil.Date) bool {
	wd := d.Weekday()
	return wd == time.Saturday || wd == time.Sunday
}

// IsWorkingDay reports whether d is a working day and whether the calendar
// covers d's year. For a year it does not cover, only weekends are rest days
// and published is false, so a due date computed on it is provisional.
func (c *Calendar) IsWorkingDay(d civil.Date) (working, published bool) {
	if !c.years[d.Year] {
		return !isWeekend(d), false
	}
	switch {
	case c.holidays[d]:
		return false, true
	case c.working[d]:
		return true, true
	}
	return !isWeekend(d), true
}

// Covers reports whether the calendar lists the year's holidays.
func (c *Calendar) Covers(year int) bool { return c.years[year] }
