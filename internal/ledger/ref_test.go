package ledger

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// refPattern is the rule isRef implements, as a regular expression: the
// reference the test compares it with.
var refPattern = regexp.MustCompile(`^[\p{L}\p{N}][\p{L}\p{N}\p{M} ._/#:()-]*$`)

// TestIsRefMatchesPattern: isRef accepts exactly what the pattern does, on
// chosen cases and on random strings drawn from letters, digits (of several
// scripts), the allowed punctuation, other symbols, control characters and
// bytes that are not UTF-8.
func TestIsRefMatchesPattern(t *testing.T) {
	cases := []string{"", "A", "INV-1", "-INV", " INV", "INV 1/2 (a) #3: x.y_z", "发票-2025/001", "٣٤٥", "Ⅻ-1",
		"INV\n1", "INV\t1", "INV+1", "INV,1", "a\xffb", "\xff", "İ", "x)", "(x", "1.", "a  b", "²", "ǅx",
		"बिल-001", "Cafe\u0301-1", "\u0301x"}
	pieces := []string{"A", "z", "7", "中", "é", "٣", "²", " ", ".", "_", "/", "#", ":", "(", ")", "-", "+", ",", "!", "€", "\n", "\x00", "\xff", "\u200b", "😀", "\u093f", "\u0301"}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var b strings.Builder
		for range rng.IntN(6) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		cases = append(cases, b.String())
	}
	for _, c := range cases {
		if got, want := isRef(c), refPattern.MatchString(c); got != want {
			t.Errorf("isRef(%q) = %v, the pattern says %v", c, got, want)
		}
	}
}

// TestRefTakesCombiningMarks: a reference in a script written with vowel
// signs, or with an accent sent decomposed, is a reference; a mark first
// is not.
func TestRefTakesCombiningMarks(t *testing.T) {
	for ref, want := range map[string]bool{"बिल-001": true, "Cafe\u0301-1": true, "ใบแจ้งหนี้-7": true, "\u0301x": false} {
		var v ValidationError
		ValidateRef(&v, "document_ref", ref, true)
		if ok := v.Err() == nil; ok != want {
			t.Errorf("ValidateRef(%q): valid %v, want %v (%v)", ref, ok, want, v.Err())
		}
	}
}
