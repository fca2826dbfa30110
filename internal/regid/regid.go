package regid

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode"
)

// ErrUnknownJurisdiction is wrapped by the error [Normalize] returns when the
// jurisdiction code itself is not supported. Callers can test for it with
// errors.Is to tell a configuration or programming mistake (a bad country
// code) apart from a user's mistyped identifier, which needs a different
// response.
var ErrUnknownJurisdiction = errors.New("unknown jurisdiction")

// jurisdiction describes how identifiers are handled in one jurisdiction.
type jurisdiction struct {
	scheme    string
	timezone  string
	eu        bool
	normalize func(string) (string, error)
}

// Scheme names, shared by the table below.
const (
	schemeCN  = "unified social credit code"
	schemeGB  = "Companies House company number"
	schemeAU  = "Australian Business Number"
	schemeUS  = "employer identification number"
	schemeVAT = "VAT identification number"
)

// jurisdictions is the registry of every supported jurisdiction. The EU
// entries are added by init from vatRules so that the two tables cannot
// disagree about which member states exist.
var jurisdictions = map[string]jurisdiction{
	"CN": {scheme: schemeCN, timezone: "Asia/Shanghai", normalize: normalizeCN},
	"GB": {scheme: schemeGB, timezone: "Europe/London", normalize: normalizeGB},
	"AU": {scheme: schemeAU, timezone: "Australia/Sydney", normalize: normalizeAU},
	"US": {scheme: schemeUS, timezone: "America/New_York", normalize: normalizeUS},
}

// sortedCodes caches the answer of Jurisdictions.
var sortedCodes []string

func init() {
	for code, rule := range vatRules {
		jurisdictions[code] = jurisdiction{
			scheme:    schemeVAT,
			timezone:  rule.timezone,
			eu:        true,
			normalize: vatNormalizer(code, rule),
		}
	}
	for code := range jurisdictions {
		sortedCodes = append(sortedCodes, code)
	}
	sort.Strings(sortedCodes)
}

// IsJurisdiction reports whether code is a jurisdiction this package can
// validate identifiers for. Codes are matched exactly (upper case), because
// they come from the ledger's own data rather than from free-form input; use
// it to validate such a code before storing it next to an identifier.
func IsJurisdiction(code string) bool {
	_, ok := jurisdictions[code]
	return ok
}

// Jurisdictions returns every supported jurisdiction code in sorted order,
// for building selection lists and for tests that must cover every scheme.
// The caller owns the returned slice.
func Jurisdictions() []string {
	out := make([]string, len(sortedCodes))
	copy(out, sortedCodes)
	return out
}

// IsEUMember reports whether code is one of the 27 EU member states. The
// ledger needs this because EU firms are identified by VAT number and
// cross-border claims inside the Union follow common rules (for example the
// Late Payment Directive) that do not apply to the other jurisdictions.
func IsEUMember(code string) bool {
	return jurisdictions[code].eu
}

// Scheme returns the human name of the identifier scheme used in a
// jurisdiction, such as "unified social credit code" for CN, so that forms and
// error reports can tell the user which number is being asked for. It returns
// "" for an unsupported jurisdiction.
func Scheme(jurisdiction string) string {
	return jurisdictions[jurisdiction].scheme
}

// Timezone returns the IANA time zone whose civil dates are business dates in
// a jurisdiction: Asia/Shanghai for CN, Europe/London for GB, Australia/Sydney
// for AU, America/New_York for US, and the zone of the capital for each EU
// member state. Due dates and payment terms are counted in local business
// days, so a timestamp must be converted to this zone before its date is
// taken. For countries spanning several zones (AU, US) the zone of the main
// financial centre is used, as a single, predictable convention.
// It returns "" for an unsupported jurisdiction.
func Timezone(jurisdiction string) string {
	return jurisdictions[jurisdiction].timezone
}

// Normalize validates id as an identifier of the given jurisdiction's scheme
// and returns its canonical form, so that one firm is always stored under one
// string. Input may be in either case and may contain spaces; each scheme also
// tolerates its usual punctuation (a dash in a US EIN; dots and dashes in a VAT
// number). The canonical form is upper case with that punctuation removed,
// except for the US, whose canonical form is NN-NNNNNNN.
//
// On failure the error message is a plain sentence saying what is wrong,
// without naming the field, so the caller can add its own label. Character
// positions in messages are 1-based and counted after white space has been
// removed. An unsupported jurisdiction yields an error wrapping
// [ErrUnknownJurisdiction].
//
// Normalize is idempotent: a value it returned is accepted again unchanged.
func Normalize(jurisdiction, id string) (string, error) {
	j, ok := jurisdictions[jurisdiction]
	if !ok {
		return "", fmt.Errorf("%w %q", ErrUnknownJurisdiction, jurisdiction)
	}
	return j.normalize(id)
}

var errEmpty = errors.New("must not be empty")

// clean upper-cases ASCII letters and drops white space and any rune in drop.
// Other non-ASCII runes are kept so that the scheme's character check reports
// them, rather than having them folded into look-alike ASCII letters (as
// strings.ToUpper would do with 'ı' or 'ſ').
func clean(s, drop string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case unicode.IsSpace(r) || strings.ContainsRune(drop, r):
			continue
		case 'a' <= r && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func isDigit(r rune) bool  { return '0' <= r && r <= '9' }
func isLetter(r rune) bool { return 'A' <= r && r <= 'Z' }

// allDigits reports whether s is non-empty and made of ASCII digits only.
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !isDigit(r) {
			return false
		}
	}
	return true
}

// firstInvalid returns the first rune of s (and its 1-based position) for
// which ok is false, or found false when every rune is acceptable.
func firstInvalid(s string, ok func(rune) bool) (r rune, pos int, found bool) {
	for _, r := range s {
		pos++
		if !ok(r) {
			return r, pos, true
		}
	}
	return 0, 0, false
}

// digitsMod returns the number written by the ASCII digits of s modulo m,
// without overflowing however long s is.
func digitsMod(s string, m int) int {
	rem := 0
	for _, r := range s {
		rem = (rem*10 + int(r-'0')) % m
	}
	return rem
}
