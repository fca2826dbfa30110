package service

import (
	"fmt"
	"testing"
)

// TestSummaryGroupsRankWithinACurrency: minor units of different currencies
// do not compare, so groups come by currency, largest overdue first within
// each: KWD 1,234.567 (1,234,567 units) once ranked above USD 10,000.00.
func TestSummaryGroupsRankWithinACurrency(t *testing.T) {
	groups := map[string]*SummaryGroup{}
	for i, g := range []struct {
		currency string
		overdue  int64
	}{{"USD", 1000000}, {"KWD", 1234567}, {"JPY", 1234567}, {"USD", 2000000}, {"KWD", 5}} {
		key := map[string]string{"debtor": fmt.Sprint(i)}
		groupOf(groups, key, g.currency).Overdue = g.overdue
	}
	var got []string
	for _, g := range sortedGroups(groups) {
		got = append(got, fmt.Sprintf("%s %d", g.Currency, g.Overdue))
	}
	want := "[JPY 1234567 KWD 1234567 KWD 5 USD 2000000 USD 1000000]"
	if fmt.Sprint(got) != want {
		t.Errorf("order %v, want %s", got, want)
	}
}
