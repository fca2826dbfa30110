package server

import (
	"strings"
	"testing"
)

func TestJSONOverBudget(t *testing.T) {
	budget := 100 * jsonObjectCost
	for _, c := range []struct {
		body string
		over bool
	}{
		{`{"records":[` + strings.Repeat(`{},`, 98) + `{}]}`, true},
		{`{"records":[` + strings.Repeat(`{},`, 40) + `{}]}`, false},
		// Braces inside strings, escaped quotes included, are text.
		{`{"ref":"` + strings.Repeat(`{`, 10000) + `"}`, false},
		{`{"ref":"\"` + strings.Repeat(`{`, 10000) + `"}`, false},
		{`{"ref":"\\"` + strings.Repeat(`{`, 200) + `}`, true},
	} {
		if got := jsonOverBudget([]byte(c.body), budget); got != c.over {
			t.Errorf("jsonOverBudget(%.40q...) = %v, want %v", c.body, got, c.over)
		}
	}
}
