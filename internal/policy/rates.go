package policy

import (
	"bufio"
	"fmt"
	"sort"
	"strings"

	"github.com/arrears/arrears/internal/civil"
)

// RateTable is a dated series of a reference rate (percent per annum): each
// entry is in force from its date until the next entry's. Central banks
// publish changes, not daily values, so a table of changes answers "the rate
// in force on D" exactly.
type RateTable struct {
	// ID is the file's base name, e.g. "ECB-MRO".
	ID string
	// Source is the header comment that cites where the figures come from.
	Source string
	// Entries are in strictly increasing date order.
	Entries []RateEntry
	// ConfirmedThrough, when set, is the last day the table is known to be
	// complete ("# Confirmed through: 2026-02-05": the publisher's decisions
	// up to then were checked). The last entry is assumed to hold after it,
	// and a judgement that relies on that says so. Zero: no such statement.
	ConfirmedThrough civil.Date
}

// RateEntry is one change of a reference rate.
type RateEntry struct {
	From    civil.Date
	Percent string
	// Note is the row's optional third column; "(verify)" marks a figure
	// not confirmed from the publisher's own text.
	Note string
}

// On returns the rate in force on d, or ok false when d is before the first
// entry (the table cannot say what the rate was then).
func (t *RateTable) On(d civil.Date) (percent string, ok bool) {
	i := sort.Search(len(t.Entries), func(i int) bool { return t.Entries[i].From.After(d) })
	if i == 0 {
		return "", false
	}
	return t.Entries[i-1].Percent, true
}

// ParseRateTable reads a rate table in the CSV form the data files use:
//
//	# <title>
//	# Source: <citation>
//	# Confirmed through: 2026-02-05   (optional)
//	# from,percent[,note]
//	2019-08-20,4.25
//	2025-12-18,3.75,(verify)
//
// Lines starting with # are comments, and at least one must cite the
// source ("# Source: ..."), so that no figure enters the ledger unsourced.
// Dates must strictly increase; percents are decimals and may be negative
// (the German base rate was).
func ParseRateTable(id, text string) (*RateTable, error) {
	t := &RateTable{ID: id}
	var sources []string
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if c, ok := strings.CutPrefix(line, "#"); ok {
			c = strings.TrimSpace(c)
			if v, ok := cutFold(c, "source:"); ok && v != "" {
				sources = append(sources, v)
			}
			if v, ok := cutFold(c, "confirmed through:"); ok {
				d, err := civil.Parse(v)
				if err != nil {
					return nil, fmt.Errorf("rate table %s line %d: confirmed through: %v", id, n, err)
				}
				t.ConfirmedThrough = d
			}
			continue
		}
		fields := strings.SplitN(line, ",", 3)
		if len(fields) < 2 {
			return nil, fmt.Errorf("rate table %s line %d: want date,percent[,note], got %q", id, n, line)
		}
		d, err := civil.Parse(strings.TrimSpace(fields[0]))
		if err != nil {
			return nil, fmt.Errorf("rate table %s line %d: %v", id, n, err)
		}
		pct := strings.TrimSpace(fields[1])
		if _, err := ParseDecimal(pct); err != nil {
			return nil, fmt.Errorf("rate table %s line %d: %v", id, n, err)
		}
		e := RateEntry{From: d, Percent: pct}
		if len(fields) == 3 {
			e.Note = strings.TrimSpace(fields[2])
		}
		if k := len(t.Entries); k > 0 && !d.After(t.Entries[k-1].From) {
			return nil, fmt.Errorf("rate table %s line %d: %s is not after the previous entry %s", id, n, d, t.Entries[k-1].From)
		}
		t.Entries = append(t.Entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("rate table %s: %v", id, err)
	}
	if len(sources) == 0 {
		return nil, fmt.Errorf("rate table %s: a header comment \"# Source: ...\" citing the publisher is required", id)
	}
	if len(t.Entries) == 0 {
		return nil, fmt.Errorf("rate table %s: no entries", id)
	}
	if last := t.Entries[len(t.Entries)-1].From; !t.ConfirmedThrough.IsZero() && t.ConfirmedThrough.Before(last) {
		return nil, fmt.Errorf("rate table %s: confirmed through %s, before its last entry %s", id, t.ConfirmedThrough, last)
	}
	t.Source = strings.Join(sources, "; ")
	return t, nil
}

// cutFold cuts a case-insensitive prefix and trims what follows.
func cutFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return "", false
	}
	return strings.TrimSpace(s[len(prefix):]), true
}
