package regid

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// einLen is the number of digits in an employer identification number.
const einLen = 9

// einBadPrefixes are the two-digit prefixes the IRS has never assigned to any
// campus, so an EIN starting with one of them is certainly mistyped.
var einBadPrefixes = map[string]bool{
	"00": true, "07": true, "08": true, "09": true, "17": true, "18": true,
	"19": true, "28": true, "29": true, "49": true, "69": true, "70": true,
	"78": true, "79": true, "89": true, "96": true, "97": true,
}

func normalizeUS(id string) (string, error) {
	s := clean(id, "")
	if s == "" {
		return "", errEmpty
	}
	if r, pos, bad := firstInvalid(s, func(r rune) bool { return isDigit(r) || r == '-' }); bad {
		return "", fmt.Errorf("character %q at position %d is not a digit", r, pos)
	}
	if strings.ContainsRune(s, '-') {
		if strings.Count(s, "-") != 1 || strings.IndexByte(s, '-') != 2 {
			return "", fmt.Errorf("may contain a dash only after the first two digits")
		}
		s = s[:2] + s[3:]
	}
	if n := utf8.RuneCountInString(s); n != einLen {
		return "", fmt.Errorf("must be %d digits, got %d", einLen, n)
	}
	if einBadPrefixes[s[:2]] {
		return "", fmt.Errorf("prefix %q is not assigned to any IRS campus", s[:2])
	}
	return s[:2] + "-" + s[2:], nil
}
