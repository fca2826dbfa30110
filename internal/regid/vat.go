package regid

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// vatRule describes the VAT identification number of one EU member state.
//
// The formats follow the VIES format table published by the European
// Commission. A pattern is matched character by character: '9' is a digit,
// 'A' is a letter, 'X' is a letter or digit, and any other byte stands for
// itself.
type vatRule struct {
	prefix   string   // VAT country prefix; EL for Greece
	aliases  []string // other prefixes accepted on input
	timezone string   // IANA zone of the capital
	format   string   // human description of the body, for error messages
	patterns []string // accepted body layouts
	extra    string   // punctuation allowed in the body besides letters and digits
	// fix, if set, rewrites a body before it is matched (e.g. padding).
	fix func(body string) string
	// check, if set, applies rules beyond the pattern (check digits).
	check func(body string) error
}

// digits returns a pattern of n digits.
func digits(n int) string { return strings.Repeat("9", n) }

// vatRules has one entry per EU member state, keyed by ISO 3166-1 alpha-2.
var vatRules = map[string]vatRule{
	"AT": {prefix: "AT", timezone: "Europe/Vienna", format: "U followed by 8 digits", patterns: []string{"U" + digits(8)}},
	"BE": {prefix: "BE", timezone: "Europe/Brussels", format: "10 digits", patterns: []string{digits(10)}, fix: fixBE, check: checkBE},
	"BG": {prefix: "BG", timezone: "Europe/Sofia", format: "9 or 10 digits", patterns: []string{digits(9), digits(10)}},
	"HR": {prefix: "HR", timezone: "Europe/Zagreb", format: "11 digits", patterns: []string{digits(11)}},
	"CY": {prefix: "CY", timezone: "Asia/Nicosia", format: "8 digits followed by a letter", patterns: []string{digits(8) + "A"}},
	"CZ": {prefix: "CZ", timezone: "Europe/Prague", format: "8, 9 or 10 digits", patterns: []string{digits(8), digits(9), digits(10)}},
	"DK": {prefix: "DK", timezone: "Europe/Copenhagen", format: "8 digits", patterns: []string{digits(8)}},
	"EE": {prefix: "EE", timezone: "Europe/Tallinn", format: "9 digits", patterns: []string{digits(9)}},
	"FI": {prefix: "FI", timezone: "Europe/Helsinki", format: "8 digits", patterns: []string{digits(8)}},
	"FR": {prefix: "FR", timezone: "Europe/Paris", format: "a 2-character key followed by the 9-digit SIREN", patterns: []string{"XX" + digits(9)}, check: checkFR},
	"DE": {prefix: "DE", timezone: "Europe/Berlin", format: "9 digits", patterns: []string{digits(9)}, check: checkDE},
	"GR": {prefix: "EL", aliases: []string{"GR"}, timezone: "Europe/Athens", format: "9 digits", patterns: []string{digits(9)}},
	"HU": {prefix: "HU", timezone: "Europe/Budapest", format: "8 digits", patterns: []string{digits(8)}},
	"IE": {
		prefix:   "IE",
		timezone: "Europe/Dublin",
		format:   "7 digits and 1 or 2 letters, or (old form) a digit, a letter, '+' or '*', 5 digits and a letter",
		patterns: []string{digits(7) + "A", digits(7) + "AA", "9A" + digits(5) + "A", "9+" + digits(5) + "A", "9*" + digits(5) + "A"},
		extra:    "+*",
	},
	"IT": {prefix: "IT", timezone: "Europe/Rome", format: "11 digits", patterns: []string{digits(11)}, check: checkIT},
	"LV": {prefix: "LV", timezone: "Europe/Riga", format: "11 digits", patterns: []string{digits(11)}},
	"LT": {prefix: "LT", timezone: "Europe/Vilnius", format: "9 or 12 digits", patterns: []string{digits(9), digits(12)}},
	"LU": {prefix: "LU", timezone: "Europe/Luxembourg", format: "8 digits", patterns: []string{digits(8)}},
	"MT": {prefix: "MT", timezone: "Europe/Malta", format: "8 digits", patterns: []string{digits(8)}},
	"NL": {prefix: "NL", timezone: "Europe/Amsterdam", format: "9 digits, the letter B and 2 digits", patterns: []string{digits(9) + "B" + digits(2)}, check: checkNL},
	"PL": {prefix: "PL", timezone: "Europe/Warsaw", format: "10 digits", patterns: []string{digits(10)}},
	"PT": {prefix: "PT", timezone: "Europe/Lisbon", format: "9 digits", patterns: []string{digits(9)}},
	"RO": {
		prefix:   "RO",
		timezone: "Europe/Bucharest",
		format:   "2 to 10 digits",
		patterns: []string{digits(2), digits(3), digits(4), digits(5), digits(6), digits(7), digits(8), digits(9), digits(10)},
	},
	"SK": {prefix: "SK", timezone: "Europe/Bratislava", format: "10 digits", patterns: []string{digits(10)}},
	"SI": {prefix: "SI", timezone: "Europe/Ljubljana", format: "8 digits", patterns: []string{digits(8)}},
	"ES": {
		prefix:   "ES",
		timezone: "Europe/Madrid",
		format:   "a letter or digit, 7 digits and a letter or digit",
		patterns: []string{"X" + digits(7) + "X"},
		check:    checkES,
	},
	"SE": {prefix: "SE", timezone: "Europe/Stockholm", format: "12 digits ending in 01", patterns: []string{digits(10) + "01"}},
}

// vatPrefixes maps every prefix accepted on input (including aliases such as
// GR) to the jurisdiction it belongs to, for recognising a number that was
// entered under the wrong member state.
var vatPrefixes = func() map[string]string {
	m := make(map[string]string)
	for code, rule := range vatRules {
		m[rule.prefix] = code
		for _, a := range rule.aliases {
			m[a] = code
		}
	}
	return m
}()

// vatNormalizer returns the Normalize function for the member state code.
func vatNormalizer(code string, rule vatRule) func(string) (string, error) {
	return func(id string) (string, error) {
		s := clean(id, ".-")
		if s == "" {
			return "", errEmpty
		}
		for _, p := range append([]string{rule.prefix}, rule.aliases...) {
			if !strings.HasPrefix(s, p) {
				continue
			}
			// An input that starts with the prefix is always read as
			// prefix and body. A French number whose key happens to be
			// "FR" must therefore be entered with its prefix
			// ("FRFR…"); reading "FR" plus nine digits as such a key
			// would instead accept a number whose key was forgotten.
			body, err := rule.body(s[len(p):])
			if err != nil {
				return "", err
			}
			return rule.prefix + body, nil
		}
		body, err := rule.body(s)
		if err == nil {
			return rule.prefix + body, nil
		}
		if len(s) >= 2 {
			if other, ok := vatPrefixes[s[:2]]; ok && other != code {
				return "", fmt.Errorf("starts with %q, the VAT prefix of another member state; want %q", s[:2], rule.prefix)
			}
		}
		return "", err
	}
}

// body validates the part of a VAT number after the country prefix and
// returns it in canonical form.
func (r vatRule) body(b string) (string, error) {
	if c, _, bad := firstInvalid(b, func(c rune) bool {
		return isDigit(c) || isLetter(c) || strings.ContainsRune(r.extra, c)
	}); bad {
		return "", fmt.Errorf("character %q is not allowed", c)
	}
	if r.fix != nil {
		b = r.fix(b)
	}
	n := utf8.RuneCountInString(b)
	lengthOK := false
	for _, p := range r.patterns {
		if len(p) != n {
			continue
		}
		lengthOK = true
		if matchPattern(p, b) {
			if r.check != nil {
				if err := r.check(b); err != nil {
					return "", err
				}
			}
			return b, nil
		}
	}
	if !lengthOK {
		return "", fmt.Errorf("must be %s after the %s prefix, got %d characters", r.format, r.prefix, n)
	}
	return "", fmt.Errorf("must be %s after the %s prefix, got %q", r.format, r.prefix, b)
}

// matchPattern reports whether the ASCII string s has the layout p; see
// vatRule for the pattern letters. len(p) == len(s) is assumed.
func matchPattern(p, s string) bool {
	for i := 0; i < len(p); i++ {
		c := rune(s[i])
		switch p[i] {
		case '9':
			if !isDigit(c) {
				return false
			}
		case 'A':
			if !isLetter(c) {
				return false
			}
		case 'X':
			if !isDigit(c) && !isLetter(c) {
				return false
			}
		default:
			if p[i] != s[i] {
				return false
			}
		}
	}
	return true
}

// fixBE restores the leading 0 of a Belgian number written in the 9-digit
// form used before 2007, which VIES no longer accepts.
func fixBE(b string) string {
	if len(b) == 9 && allDigits(b) {
		return "0" + b
	}
	return b
}

// checkBE: the enterprise number starts with 0 or 1, and its last two digits
// are 97 minus the first eight modulo 97.
func checkBE(b string) error {
	if b[0] != '0' && b[0] != '1' {
		return fmt.Errorf("must start with 0 or 1 after the BE prefix, got %q", b[:1])
	}
	want := 97 - digitsMod(b[:8], 97)
	if got, _ := strconv.Atoi(b[8:]); got != want {
		return fmt.Errorf("check digits are %q, want \"%02d\"", b[8:], want)
	}
	return nil
}

// checkDE: ISO 7064 MOD 11,10 over the first eight digits gives the ninth.
// German VAT numbers never start with 0.
func checkDE(b string) error {
	if b[0] == '0' {
		return fmt.Errorf("must not start with 0 after the DE prefix")
	}
	product := 10
	for i := 0; i < 8; i++ {
		sum := (int(b[i]-'0') + product) % 10
		if sum == 0 {
			sum = 10
		}
		product = (2 * sum) % 11
	}
	want := 11 - product
	if want == 10 {
		want = 0
	}
	if got := int(b[8] - '0'); got != want {
		return fmt.Errorf("check digit is %q, want %q", rune(b[8]), rune('0'+want))
	}
	return nil
}

// checkFR: the key is two characters in front of the SIREN. A numeric key
// must equal (12 + 3 × (SIREN mod 97)) mod 97; keys containing letters use an
// algorithm the tax administration does not publish and are accepted by
// format, except that I and O never appear in them.
func checkFR(b string) error {
	key, siren := b[:2], b[2:]
	if strings.ContainsAny(key, "IO") {
		return fmt.Errorf("key %q must not contain the letters I or O", key)
	}
	if !allDigits(key) {
		return nil
	}
	want := (12 + 3*digitsMod(siren, 97)) % 97
	if got, _ := strconv.Atoi(key); got != want {
		return fmt.Errorf("key is %q, want \"%02d\" for SIREN %s", key, want, siren)
	}
	return nil
}

// checkIT: the partita IVA ends in a Luhn check digit.
func checkIT(b string) error {
	sum := 0
	for i := 0; i < 10; i++ {
		d := int(b[i] - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	want := (10 - sum%10) % 10
	if got := int(b[10] - '0'); got != want {
		return fmt.Errorf("check digit is %q, want %q", rune(b[10]), rune('0'+want))
	}
	return nil
}

// checkNL accepts a number that passes either Dutch check: the 11-test on
// the nine digits, used by numbers derived from the RSIN (companies), or the
// ISO 7064 MOD 97-10 test over the whole "NL…B.." string, used by the numbers
// issued since 2020 to sole traders.
func checkNL(b string) error {
	sum := 0
	for i := 0; i < 8; i++ {
		sum += int(b[i]-'0') * (9 - i)
	}
	if sum%11 == int(b[8]-'0') {
		return nil
	}
	rem := 0
	for _, c := range "NL" + b {
		if isLetter(c) {
			rem = (rem*100 + int(c-'A'+10)) % 97
		} else {
			rem = (rem*10 + int(c-'0')) % 97
		}
	}
	if rem == 1 {
		return nil
	}
	return fmt.Errorf("fails both Dutch checks (the 11-test on the first 9 digits and the mod-97 test on the whole number)")
}

// checkES: a Spanish NIF has a letter at one end at least; an all-digit
// string of that length is not a NIF.
func checkES(b string) error {
	if isDigit(rune(b[0])) && isDigit(rune(b[len(b)-1])) {
		return fmt.Errorf("must start or end with a letter after the ES prefix")
	}
	return nil
}
