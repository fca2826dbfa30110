package regid

import (
	"fmt"
	"unicode/utf8"
)

// abnLen is the number of digits in an Australian Business Number.
const abnLen = 11

var abnWeights = [abnLen]int{10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19}

// abnWantPrefix returns the two check digits that make the ABN whose last
// nine digits are tail valid. The first two digits contribute
// 10*(d1-1) + d2 to the weighted sum, a value from 0 to 89, so exactly one
// choice (up to the equivalent pair 10 and 99) makes the sum divisible by 89.
func abnWantPrefix(tail string) string {
	rest := 0
	for i := 2; i < abnLen; i++ {
		rest += int(tail[i-2]-'0') * abnWeights[i]
	}
	x := (89 - rest%89) % 89
	return string([]byte{byte('0' + x/10 + 1), byte('0' + x%10)})
}

func normalizeAU(id string) (string, error) {
	s := clean(id, "")
	if s == "" {
		return "", errEmpty
	}
	if r, pos, bad := firstInvalid(s, isDigit); bad {
		return "", fmt.Errorf("character %q at position %d is not a digit", r, pos)
	}
	if n := utf8.RuneCountInString(s); n != abnLen {
		return "", fmt.Errorf("must be %d digits, got %d", abnLen, n)
	}
	if s[0] == '0' {
		return "", fmt.Errorf("must not start with 0")
	}
	sum := 0
	for i := 0; i < abnLen; i++ {
		d := int(s[i] - '0')
		if i == 0 {
			d--
		}
		sum += d * abnWeights[i]
	}
	if sum%89 != 0 {
		return "", fmt.Errorf("check digits are %q, want %q", s[:2], abnWantPrefix(s[2:]))
	}
	return s, nil
}
