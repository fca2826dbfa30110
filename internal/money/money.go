package money

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrCurrencyMismatch is wrapped by the error of [Money.Add] and [Money.Sub]
// when the two amounts are in different currencies. Converting between
// currencies needs a dated exchange rate, which is a business decision the
// ledger must make explicitly, so arithmetic refuses rather than guesses.
var ErrCurrencyMismatch = errors.New("currency mismatch")

// ErrOverflow is wrapped by errors for results or parsed amounts that do not
// fit in an int64 count of minor units. Such amounts are far beyond any real
// claim, so they signal corrupt input; wrapping around silently would flip
// the sign of a balance.
var ErrOverflow = errors.New("amount out of range")

// ErrUnknownCurrency is wrapped by the error of [Parse] when the code is not a
// currency known to [LookupCurrency], so callers can distinguish a wrong code
// from a malformed amount.
var ErrUnknownCurrency = errors.New("unknown currency")

// Money is an exact amount: Minor units of the smallest subdivision of
// Currency, an ISO 4217 alphabetic code such as "CNY". Integer minor units
// make sums and comparisons exact and make the zero value (no currency,
// nothing owed) cheap to test. The fields are exported so that storage layers
// can map them to an integer column and a code column directly.
type Money struct {
	Minor    int64  `json:"minor"`
	Currency string `json:"currency"`
}

// Currency describes one ISO 4217 currency. Digits is the number of minor-unit
// digits (2 for CNY and EUR, 0 for JPY and KRW, 3 for BHD and KWD), which
// fixes how many decimals an amount is written with and hence what one
// Money.Minor unit is worth; Name is the official English name, for display.
type Currency struct {
	Code   string `json:"code"`
	Digits int    `json:"digits"`
	Name   string `json:"name"`
}

// byCode indexes iso4217 for LookupCurrency.
var byCode = func() map[string]Currency {
	m := make(map[string]Currency, len(iso4217))
	for _, c := range iso4217 {
		m[c.Code] = c
	}
	return m
}()

// LookupCurrency returns the currency with the given ISO 4217 alphabetic code
// and ok true, or ok false for a code that is unknown or is not a currency a
// debt can be denominated in (precious metals such as XAU, fund codes, units of
// account, and the testing codes XTS and XXX are refused). Codes are matched
// exactly, in upper case as ISO 4217 writes them, so that a stored code has a
// single spelling.
func LookupCurrency(code string) (Currency, bool) {
	c, ok := byCode[code]
	return c, ok
}

// CodeUpper is a currency code as a client typed it, its ASCII letters in
// upper case ("cny" is CNY). Other letters stay as they are, so that one
// Unicode case-folds to an ASCII capital ("uſd") is refused as unknown
// rather than read as a currency.
func CodeUpper(code string) string {
	b := []byte(code)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// IsCurrency reports whether code is accepted by [LookupCurrency]; use it to
// validate a currency field before an amount is recorded in it.
func IsCurrency(code string) bool {
	_, ok := byCode[code]
	return ok
}

// Add returns m + o. It fails with an error wrapping [ErrCurrencyMismatch] if
// the currencies differ and with one wrapping [ErrOverflow] if the sum does
// not fit in an int64, so that a ledger total is either exact or an error.
func (m Money) Add(o Money) (Money, error) {
	if m.Currency != o.Currency {
		return Money{}, fmt.Errorf("%w: cannot add %s to %s", ErrCurrencyMismatch, o.Currency, m.Currency)
	}
	s, ok := AddMinor(m.Minor, o.Minor)
	if !ok {
		return Money{}, fmt.Errorf("%w: %s + %s", ErrOverflow, m, o)
	}
	return Money{Minor: s, Currency: m.Currency}, nil
}

// AddMinor adds two amounts in minor units; ok is false when the sum does
// not fit in an int64 (the sum returned has then wrapped), for totals kept
// as bare int64s.
func AddMinor(a, b int64) (sum int64, ok bool) {
	s := a + b
	// Overflow happened iff both operands have the same sign and the sum's
	// sign differs from it.
	return s, (a^s)&(b^s) >= 0
}

// Sub returns m - o, with the same errors as [Money.Add] for the same reasons.
func (m Money) Sub(o Money) (Money, error) {
	if m.Currency != o.Currency {
		return Money{}, fmt.Errorf("%w: cannot subtract %s from %s", ErrCurrencyMismatch, o.Currency, m.Currency)
	}
	d := m.Minor - o.Minor
	// Overflow happened iff the operands have different signs and the
	// difference's sign differs from m's.
	if (m.Minor^o.Minor)&(m.Minor^d) < 0 {
		return Money{}, fmt.Errorf("%w: %s - %s", ErrOverflow, m, o)
	}
	return Money{Minor: d, Currency: m.Currency}, nil
}

// IsZero reports whether the amount is zero, whatever its currency, so that
// a settled claim can be recognised without constructing a zero of the right
// currency to compare with.
func (m Money) IsZero() bool { return m.Minor == 0 }

// IsNegative reports whether the amount is below zero, which in the ledger
// means money owed the other way (an overpayment or credit note).
func (m Money) IsNegative() bool { return m.Minor < 0 }

// String formats m as its currency code, a space and the amount with exactly
// the currency's number of decimals, for example "CNY 1234.50", "JPY 1234"
// or "CNY -0.05"; [Parse] reads it back. The sign is placed after the code so
// that the code always comes first and amounts line up in plain-text reports.
//
// An amount whose currency is unknown cannot be scaled, so it is shown as a
// raw count, e.g. "ZZZ 150 minor units (unknown currency)", which Parse
// refuses rather than misreads.
func (m Money) String() string {
	c, ok := LookupCurrency(m.Currency)
	if !ok {
		return fmt.Sprintf("%s %d minor units (unknown currency)", m.Currency, m.Minor)
	}
	return c.Code + " " + m.Decimal()
}

// Decimal formats the amount alone with exactly the currency's number of
// decimals ("1234.50", "-0.05"), as spreadsheets and CSV files want it; an
// unknown currency gives the count of minor units.
func (m Money) Decimal() string {
	c, ok := LookupCurrency(m.Currency)
	if !ok {
		return strconv.FormatInt(m.Minor, 10)
	}
	var b strings.Builder
	// Work on the magnitude as uint64 so that math.MinInt64 is handled.
	mag := uint64(m.Minor)
	if m.Minor < 0 {
		b.WriteByte('-')
		mag = -mag
	}
	digits := strconv.FormatUint(mag, 10)
	if c.Digits == 0 {
		b.WriteString(digits)
		return b.String()
	}
	if len(digits) <= c.Digits {
		digits = strings.Repeat("0", c.Digits-len(digits)+1) + digits
	}
	split := len(digits) - c.Digits
	b.WriteString(digits[:split])
	b.WriteByte('.')
	b.WriteString(digits[split:])
	return b.String()
}

// Parse reads an amount in the form written by [Money.String]: a known
// currency code, exactly one space, an optional minus sign, the integer part,
// and optionally a point followed by at most as many decimals as the currency
// has minor-unit digits ("CNY 12.5" is CNY 12.50; "CNY 12.345" is refused,
// because accepting it would silently round). Parse does not accept
// thousands separators, a plus sign or surrounding space: it is meant for
// machine-written text, where anything else indicates a bug.
//
// Errors wrap [ErrUnknownCurrency] for an unknown code and [ErrOverflow] for
// an amount outside the int64 range of minor units.
func Parse(s string) (Money, error) {
	code, amount, ok := strings.Cut(s, " ")
	if !ok {
		return Money{}, fmt.Errorf("parse %q: want a currency code, a space and an amount, such as \"CNY 1234.50\"", s)
	}
	c, ok := LookupCurrency(code)
	if !ok {
		return Money{}, fmt.Errorf("parse %q: %w %q", s, ErrUnknownCurrency, code)
	}
	neg := strings.HasPrefix(amount, "-")
	if neg {
		amount = amount[1:]
	}
	whole, frac, hasPoint := strings.Cut(amount, ".")
	if !isDigits(whole) {
		return Money{}, fmt.Errorf("parse %q: amount must be digits with an optional minus sign and decimal point", s)
	}
	if hasPoint {
		if c.Digits == 0 {
			return Money{}, fmt.Errorf("parse %q: %s has no minor unit, so the amount must not have decimals", s, c.Code)
		}
		if !isDigits(frac) {
			return Money{}, fmt.Errorf("parse %q: a decimal point must be followed by digits", s)
		}
		if len(frac) > c.Digits {
			return Money{}, fmt.Errorf("parse %q: %s has %d decimals, got %d", s, c.Code, c.Digits, len(frac))
		}
	}
	frac += strings.Repeat("0", c.Digits-len(frac))

	// Accumulate the magnitude in uint64; a negative amount may reach
	// 2^63, one more than a positive one.
	limit := uint64(1<<63 - 1)
	if neg {
		limit = 1 << 63
	}
	var mag uint64
	for _, r := range whole + frac {
		d := uint64(r - '0')
		if mag > (limit-d)/10 {
			return Money{}, fmt.Errorf("parse %q: %w", s, ErrOverflow)
		}
		mag = mag*10 + d
	}
	minor := int64(mag)
	if neg {
		minor = int64(-mag)
	}
	return Money{Minor: minor, Currency: c.Code}, nil
}

// isDigits reports whether s is non-empty and all ASCII digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
