package server

import "testing"

func TestTextCellsDoNotRunAsFormulas(t *testing.T) {
	for in, want := range map[string]string{
		"Minjiang Heavy Machinery": "Minjiang Heavy Machinery",
		"=HYPERLINK(\"x\")":        "'=HYPERLINK(\"x\")",
		"+86 591":                  "'+86 591",
		"-1":                       "'-1",
		"@SUM(A1)":                 "'@SUM(A1)",
		"\tx":                      "'\tx",
		"":                         "",
		"350100":                   "350100",
	} {
		if got := text(in); got != want {
			t.Errorf("text(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSummaryColumnsAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range summaryColumns() {
		if seen[c] {
			t.Errorf("column %q twice", c)
		}
		seen[c] = true
	}
	if len(seen) != 16+4*len(summaryBuckets) {
		t.Errorf("%d columns for %d buckets", len(seen), len(summaryBuckets))
	}
}
