package regid

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// uscc constants from GB 32100-2015. The alphabet omits I, O, Z, S and V so
// that no character can be confused with a digit or with another letter.
const (
	usccAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
	usccLen      = 18
)

var usccWeights = [usccLen - 1]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// usccCheck returns the check character for the first 17 characters of a
// unified social credit code, which must already be in the alphabet.
func usccCheck(body string) byte {
	sum := 0
	for i := 0; i < usccLen-1; i++ {
		sum += strings.IndexByte(usccAlphabet, body[i]) * usccWeights[i]
	}
	v := 31 - sum%31
	if v == 31 {
		v = 0
	}
	return usccAlphabet[v]
}

func normalizeCN(id string) (string, error) {
	s := clean(id, "")
	if s == "" {
		return "", errEmpty
	}
	if n := utf8.RuneCountInString(s); n != usccLen {
		return "", fmt.Errorf("must be %d characters, got %d", usccLen, n)
	}
	if r, pos, bad := firstInvalid(s, func(r rune) bool {
		return r < utf8.RuneSelf && strings.IndexByte(usccAlphabet, byte(r)) >= 0
	}); bad {
		return "", fmt.Errorf("character %q at position %d is not used in unified social credit codes", r, pos)
	}
	// From here on s is pure ASCII, so byte offsets are character offsets.
	if region := s[2:8]; !allDigits(region) {
		return "", fmt.Errorf("characters 3-8 (the administrative division code) must be digits, got %q", region)
	}
	if want := usccCheck(s); s[usccLen-1] != want {
		return "", fmt.Errorf("check character is %q, want %q", rune(s[usccLen-1]), rune(want))
	}
	return s, nil
}

// CNRegionCode returns characters 3-8 of a unified social credit code: the
// six-digit administrative division code (GB/T 2260) of the authority that
// registered the firm, which tells the ledger which province and city a
// Chinese supplier belongs to without a separate address lookup. It returns ""
// if uscc is not a valid code, because a region read from a mistyped code
// would be wrong as often as not.
func CNRegionCode(uscc string) string {
	s, err := normalizeCN(uscc)
	if err != nil {
		return ""
	}
	return s[2:8]
}

// CompleteUSCC appends the check character to the first 17 characters of a
// unified social credit code, for tools that issue test and demo codes.
// The body must use the code's alphabet; the result is then valid.
func CompleteUSCC(body string) (string, error) {
	body = strings.ToUpper(body)
	if len(body) != 17 {
		return "", fmt.Errorf("must be 17 characters, got %d", len(body))
	}
	for i := 0; i < len(body); i++ {
		// usccCheck indexes the alphabet by each character.
		if strings.IndexByte(usccAlphabet, body[i]) < 0 {
			return "", fmt.Errorf("character %d, %q, is not in the code's alphabet", i+1, body[i])
		}
	}
	code := body + string(usccCheck(body))
	return normalizeCN(code)
}
