package money

import (
	"errors"
	"math"
	"sort"
	"testing"
)

func TestTableSorted(t *testing.T) {
	if !sort.SliceIsSorted(iso4217, func(i, j int) bool { return iso4217[i].Code < iso4217[j].Code }) {
		t.Error("iso4217 is not sorted by code")
	}
	if n := len(iso4217); n < 150 || n > 180 {
		t.Errorf("iso4217 has %d entries, want 150-180", n)
	}
	seen := map[string]bool{}
	for _, c := range iso4217 {
		if seen[c.Code] {
			t.Errorf("duplicate code %s", c.Code)
		}
		seen[c.Code] = true
		if len(c.Code) != 3 || c.Code[0] < 'A' || c.Code[0] > 'Z' || c.Code[1] < 'A' || c.Code[1] > 'Z' || c.Code[2] < 'A' || c.Code[2] > 'Z' {
			t.Errorf("malformed code %q", c.Code)
		}
		if c.Digits < 0 || c.Digits > 3 {
			t.Errorf("%s: %d digits; no active currency has more than 3", c.Code, c.Digits)
		}
		if c.Name == "" {
			t.Errorf("%s: empty name", c.Code)
		}
	}
}

func TestLookupCurrency(t *testing.T) {
	tests := []struct {
		desc   string
		code   string
		digits int
		ok     bool
	}{
		{"yuan", "CNY", 2, true},
		{"euro", "EUR", 2, true},
		{"pound", "GBP", 2, true},
		{"yen has no minor unit", "JPY", 0, true},
		{"won has no minor unit", "KRW", 0, true},
		{"CFA franc", "XOF", 0, true},
		{"Bahraini dinar", "BHD", 3, true},
		{"Kuwaiti dinar", "KWD", 3, true},
		{"Tunisian dinar", "TND", 3, true},
		{"Caribbean guilder (2025)", "XCG", 2, true},
		{"Sierra Leone new leone", "SLE", 2, true},
		{"lower case is refused", "cny", 0, false},
		{"gold", "XAU", 0, false},
		{"silver", "XAG", 0, false},
		{"platinum", "XPT", 0, false},
		{"palladium", "XPD", 0, false},
		{"testing code", "XTS", 0, false},
		{"no currency", "XXX", 0, false},
		{"bond market unit", "XBA", 0, false},
		{"SDR", "XDR", 0, false},
		{"Sucre", "XSU", 0, false},
		{"ADB unit", "XUA", 0, false},
		{"Mvdol fund", "BOV", 0, false},
		{"WIR euro", "CHE", 0, false},
		{"WIR franc", "CHW", 0, false},
		{"Unidad de Valor Real", "COU", 0, false},
		{"UDI", "MXV", 0, false},
		{"US dollar next day", "USN", 0, false},
		{"Unidad de Fomento (unit of account)", "CLF", 0, false},
		{"Unidad Previsional (unit of account)", "UYW", 0, false},
		{"Uruguay indexed units", "UYI", 0, false},
		{"withdrawn kuna", "HRK", 0, false},
		{"withdrawn ouguiya", "MRO", 0, false},
		{"empty", "", 0, false},
		{"nonsense", "ABC", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			c, ok := LookupCurrency(tc.code)
			if ok != tc.ok {
				t.Fatalf("LookupCurrency(%q) ok = %v, want %v", tc.code, ok, tc.ok)
			}
			if IsCurrency(tc.code) != tc.ok {
				t.Fatalf("IsCurrency(%q) = %v, want %v", tc.code, !tc.ok, tc.ok)
			}
			if !ok {
				if c != (Currency{}) {
					t.Errorf("LookupCurrency(%q) = %+v with ok false", tc.code, c)
				}
				return
			}
			if c.Code != tc.code || c.Digits != tc.digits || c.Name == "" {
				t.Errorf("LookupCurrency(%q) = %+v, want code %s with %d digits", tc.code, c, tc.code, tc.digits)
			}
		})
	}
}

func cny(minor int64) Money { return Money{Minor: minor, Currency: "CNY"} }

func TestAddSub(t *testing.T) {
	tests := []struct {
		desc    string
		op      string // "+" or "-"
		a, b    Money
		want    Money
		wantErr error
	}{
		{"add", "+", cny(1050), cny(25), cny(1075), nil},
		{"add negative", "+", cny(100), cny(-250), cny(-150), nil},
		{"add zero", "+", cny(0), cny(0), cny(0), nil},
		{"sub", "-", cny(1050), cny(25), cny(1025), nil},
		{"sub to negative", "-", cny(5), cny(10), cny(-5), nil},
		{"sub negative", "-", cny(5), cny(-10), cny(15), nil},
		{"add mismatch", "+", cny(1), Money{1, "USD"}, Money{}, ErrCurrencyMismatch},
		{"sub mismatch", "-", Money{1, "JPY"}, cny(1), Money{}, ErrCurrencyMismatch},
		{"add mismatch with zero value", "+", cny(0), Money{}, Money{}, ErrCurrencyMismatch},
		{"add max", "+", cny(math.MaxInt64 - 1), cny(1), cny(math.MaxInt64), nil},
		{"add overflow", "+", cny(math.MaxInt64), cny(1), Money{}, ErrOverflow},
		{"add overflow both large", "+", cny(math.MaxInt64/2 + 1), cny(math.MaxInt64/2 + 1), Money{}, ErrOverflow},
		{"add min", "+", cny(math.MinInt64 + 1), cny(-1), cny(math.MinInt64), nil},
		{"add underflow", "+", cny(math.MinInt64), cny(-1), Money{}, ErrOverflow},
		{"add opposite extremes", "+", cny(math.MinInt64), cny(math.MaxInt64), cny(-1), nil},
		{"sub overflow", "-", cny(math.MaxInt64), cny(-1), Money{}, ErrOverflow},
		{"sub underflow", "-", cny(math.MinInt64), cny(1), Money{}, ErrOverflow},
		{"sub min from zero", "-", cny(0), cny(math.MinInt64), Money{}, ErrOverflow},
		{"sub min from minus one", "-", cny(-1), cny(math.MinInt64), cny(math.MaxInt64), nil},
		{"sub to min", "-", cny(-1), cny(math.MaxInt64), cny(math.MinInt64), nil},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			var got Money
			var err error
			if tc.op == "+" {
				got, err = tc.a.Add(tc.b)
			} else {
				got, err = tc.a.Sub(tc.b)
			}
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("%v %s %v: error = %v, want %v", tc.a, tc.op, tc.b, err, tc.wantErr)
				}
				if got != (Money{}) {
					t.Errorf("%v %s %v returned %v with an error", tc.a, tc.op, tc.b, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v %s %v: unexpected error %v", tc.a, tc.op, tc.b, err)
			}
			if got != tc.want {
				t.Fatalf("%v %s %v = %v, want %v", tc.a, tc.op, tc.b, got, tc.want)
			}
		})
	}
}

func TestIsZeroIsNegative(t *testing.T) {
	for _, tc := range []struct {
		m         Money
		zero, neg bool
	}{
		{Money{}, true, false},
		{cny(0), true, false},
		{cny(1), false, false},
		{cny(-1), false, true},
		{cny(math.MinInt64), false, true},
	} {
		if tc.m.IsZero() != tc.zero || tc.m.IsNegative() != tc.neg {
			t.Errorf("%#v: IsZero=%v IsNegative=%v, want %v %v", tc.m, tc.m.IsZero(), tc.m.IsNegative(), tc.zero, tc.neg)
		}
	}
}

func TestStringParseRoundTrip(t *testing.T) {
	tests := []struct {
		desc string
		m    Money
		s    string
	}{
		{"two digits", cny(123450), "CNY 1234.50"},
		{"two digits small", cny(5), "CNY 0.05"},
		{"two digits negative", cny(-5), "CNY -0.05"},
		{"two digits zero", cny(0), "CNY 0.00"},
		{"two digits one unit", cny(100), "CNY 1.00"},
		{"zero digits", Money{1234, "JPY"}, "JPY 1234"},
		{"zero digits negative", Money{-7, "KRW"}, "KRW -7"},
		{"zero digits zero", Money{0, "JPY"}, "JPY 0"},
		{"three digits", Money{125, "BHD"}, "BHD 0.125"},
		{"three digits large", Money{1234567, "KWD"}, "KWD 1234.567"},
		{"three digits negative", Money{-1001, "TND"}, "TND -1.001"},
		{"max", cny(math.MaxInt64), "CNY 92233720368547758.07"},
		{"min", cny(math.MinInt64), "CNY -92233720368547758.08"},
		{"min zero digits", Money{math.MinInt64, "JPY"}, "JPY -9223372036854775808"},
		{"max three digits", Money{math.MaxInt64, "BHD"}, "BHD 9223372036854775.807"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			if got := tc.m.String(); got != tc.s {
				t.Fatalf("%#v.String() = %q, want %q", tc.m, got, tc.s)
			}
			if dec := tc.m.Decimal(); tc.m.Currency+" "+dec != tc.s {
				t.Fatalf("%#v.Decimal() = %q, want the amount of %q", tc.m, dec, tc.s)
			}
			got, err := Parse(tc.s)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.s, err)
			}
			if got != tc.m {
				t.Fatalf("Parse(%q) = %#v, want %#v", tc.s, got, tc.m)
			}
		})
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		desc    string
		in      string
		want    Money
		wantErr error // nil for success; errAny for an error without sentinel
	}{
		{"fewer decimals", "CNY 12.5", cny(1250), nil},
		{"no decimals", "CNY 12", cny(1200), nil},
		{"leading zeros", "CNY 007.00", cny(700), nil},
		{"negative zero", "CNY -0.00", cny(0), nil},
		{"three digits fewer decimals", "BHD 1.5", Money{1500, "BHD"}, nil},
		{"unknown currency", "ZZZ 1.00", Money{}, ErrUnknownCurrency},
		{"lower-case code", "cny 1.00", Money{}, ErrUnknownCurrency},
		{"refused metal", "XAU 1", Money{}, ErrUnknownCurrency},
		{"refused unit of account", "CLF 1.0000", Money{}, ErrUnknownCurrency},
		{"too many decimals", "CNY 1.234", Money{}, errAny},
		{"decimals on zero-digit currency", "JPY 1.0", Money{}, errAny},
		{"no amount", "CNY", Money{}, errAny},
		{"empty amount", "CNY ", Money{}, errAny},
		{"empty", "", Money{}, errAny},
		{"sign before code", "-CNY 0.05", Money{}, ErrUnknownCurrency},
		{"plus sign", "CNY +1.00", Money{}, errAny},
		{"double minus", "CNY --1.00", Money{}, errAny},
		{"bare point", "CNY 1.", Money{}, errAny},
		{"leading point", "CNY .50", Money{}, errAny},
		{"thousands separator", "CNY 1,234.50", Money{}, errAny},
		{"inner space", "CNY 1 234.50", Money{}, errAny},
		{"two spaces", "CNY  1.00", Money{}, errAny},
		{"trailing space", "CNY 1.00 ", Money{}, errAny},
		{"exponent", "CNY 1e3", Money{}, errAny},
		{"overflow", "CNY 92233720368547758.08", Money{}, ErrOverflow},
		{"negative overflow", "CNY -92233720368547758.09", Money{}, ErrOverflow},
		{"overflow zero digits", "JPY 9223372036854775808", Money{}, ErrOverflow},
		{"huge", "JPY 99999999999999999999999", Money{}, ErrOverflow},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got, err := Parse(tc.in)
			switch {
			case tc.wantErr == nil:
				if err != nil {
					t.Fatalf("Parse(%q): %v", tc.in, err)
				}
				if got != tc.want {
					t.Fatalf("Parse(%q) = %#v, want %#v", tc.in, got, tc.want)
				}
			case tc.wantErr == errAny:
				if err == nil {
					t.Fatalf("Parse(%q) = %#v, want an error", tc.in, got)
				}
			default:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Parse(%q) error = %v, want %v", tc.in, err, tc.wantErr)
				}
			}
		})
	}
}

// errAny marks a test case that expects some error without a sentinel.
var errAny = errors.New("any error")

func TestStringUnknownCurrency(t *testing.T) {
	m := Money{Minor: 150, Currency: "ZZZ"}
	if got := m.Decimal(); got != "150" {
		t.Errorf("Decimal() = %q, want the count of minor units", got)
	}
	want := "ZZZ 150 minor units (unknown currency)"
	if got := m.String(); got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
	if _, err := Parse(m.String()); err == nil {
		t.Fatal("Parse accepted the String of an unknown currency")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"CNY 1234.50", "JPY -1", "BHD 0.125", "CNY 12.5", "CNY -0.00", "KWD 9223372036854775.807"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := Parse(s)
		if err != nil {
			return
		}
		back, err := Parse(m.String())
		if err != nil || back != m {
			t.Fatalf("Parse(%q) = %#v; Parse(String()) = %#v, %v", s, m, back, err)
		}
	})
}

// TestCodeUpper: a code typed in lower case is read in upper case; a letter
// that Unicode folds to an ASCII capital is not, so the code stays unknown.
func TestCodeUpper(t *testing.T) {
	for in, want := range map[string]bool{"cny": true, "Eur": true, "USD": true, "u\u017fd": false, "\u0131nr": false} {
		if got := IsCurrency(CodeUpper(in)); got != want {
			t.Errorf("IsCurrency(CodeUpper(%q)) = %v, want %v", in, got, want)
		}
	}
}
