package regid

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// gbLen is the length of every Companies House company number.
const gbLen = 8

// gbPrefixes are the two-character prefixes Companies House puts in front of
// six digits for registers other than the plain England and Wales companies
// register (SC Scotland, NI Northern Ireland, OC LLPs, LP limited
// partnerships, FC overseas companies, OE overseas entities, and so on; R0
// is the old Northern Ireland form), with each register's siblings in the
// other nations (AC, SZ, NZ assurance companies; NL Northern Ireland
// limited partnerships; GN Northern Ireland EEIGs; NA, NR, SR, SI and ES,
// EN other Scottish, Northern Ireland and England registers; BR, RC, FE
// branches and royal charters). A prefix left out refused real companies.
var gbPrefixes = map[string]bool{
	"SC": true, "NI": true, "OC": true, "SO": true, "NC": true, "LP": true,
	"SL": true, "SF": true, "NF": true, "GS": true, "GE": true, "FC": true,
	"SE": true, "SG": true, "SA": true, "ZC": true, "IP": true, "SP": true,
	"RS": true, "NP": true, "NO": true, "R0": true, "IC": true, "CE": true,
	"CS": true, "AC": true, "SZ": true, "NZ": true, "NL": true, "GN": true,
	"NA": true, "NR": true, "SR": true, "SI": true, "ES": true, "EN": true,
	"BR": true, "RC": true, "FE": true, "OE": true,
}

func normalizeGB(id string) (string, error) {
	s := clean(id, "")
	if s == "" {
		return "", errEmpty
	}
	if r, pos, bad := firstInvalid(s, func(r rune) bool { return isDigit(r) || isLetter(r) }); bad {
		return "", fmt.Errorf("character %q at position %d is not a letter or digit", r, pos)
	}
	// From here on s is pure ASCII.
	if allDigits(s) {
		if len(s) > gbLen {
			return "", fmt.Errorf("must be %d characters, got %d", gbLen, len(s))
		}
		if strings.Trim(s, "0") == "" {
			return "", fmt.Errorf("must not be all zeros")
		}
		// Leading zeros are often dropped when numbers pass through
		// spreadsheets; Companies House always shows all eight digits.
		return strings.Repeat("0", gbLen-len(s)) + s, nil
	}
	if n := utf8.RuneCountInString(s); n != gbLen {
		return "", fmt.Errorf("must be %d characters, got %d", gbLen, n)
	}
	prefix, number := s[:2], s[2:]
	if !gbPrefixes[prefix] {
		return "", fmt.Errorf("prefix %q is not a Companies House register prefix", prefix)
	}
	if !allDigits(number) {
		return "", fmt.Errorf("must be the prefix %q followed by 6 digits, got %q", prefix, s)
	}
	return s, nil
}
