package regid

import (
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // make LoadLocation independent of the host's zoneinfo
)

// The helpers below compute check characters independently of the package
// code (different formulations of the same published algorithms, or brute
// force over a validity predicate), so that a table entry built with them
// does not merely restate the implementation.

// testUSCC completes a 17-character prefix with its check character. The
// GB 32100-2015 weights are 3^i mod 31, which is how they are derived here.
func testUSCC(prefix17 string) string {
	const alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
	sum, w := 0, 1
	for i := 0; i < 17; i++ {
		sum += strings.IndexByte(alphabet, prefix17[i]) * w
		w = w * 3 % 31
	}
	return prefix17 + string(alphabet[(31-sum%31)%31])
}

// flipLast replaces the last character of s by another one from alphabet.
func flipLast(s, alphabet string) string {
	last := s[len(s)-1]
	i := strings.IndexByte(alphabet, last)
	return s[:len(s)-1] + string(alphabet[(i+1)%len(alphabet)])
}

// bruteDigit returns prefix+d for the unique digit d that makes valid true.
func bruteDigit(prefix string, valid func(string) bool) string {
	for d := '0'; d <= '9'; d++ {
		if s := prefix + string(d); valid(s) {
			return s
		}
	}
	panic("no check digit for " + prefix)
}

// abnValid is the ATO's published description, written out directly.
func abnValid(s string) bool {
	w := []int{10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19}
	sum := 0
	for i, c := range s {
		d := int(c - '0')
		if i == 0 {
			d--
		}
		sum += d * w[i]
	}
	return sum%89 == 0
}

// testABN completes 9 trailing digits with the 2 leading check digits.
func testABN(tail9 string) string {
	for p := 10; p <= 99; p++ {
		if s := strconv.Itoa(p) + tail9; abnValid(s) {
			return s
		}
	}
	panic("no ABN for " + tail9)
}

// mod1110Valid checks a full ISO 7064 MOD 11,10 string: running the recurrence
// over every digit, check digit included, must leave 1.
func mod1110Valid(s string) bool {
	p := 10
	for i, c := range s {
		t := (int(c-'0') + p) % 10
		if i == len(s)-1 {
			return t == 1
		}
		if t == 0 {
			t = 10
		}
		p = 2 * t % 11
	}
	return false
}

// luhnValid is the usual right-to-left Luhn test over the whole string.
func luhnValid(s string) bool {
	sum := 0
	for i := 0; i < len(s); i++ {
		d := int(s[len(s)-1-i] - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

// testFRKey returns the numeric key of a SIREN using integer parsing.
func testFRKey(siren string) string {
	n, _ := strconv.ParseInt(siren, 10, 64)
	return fmt.Sprintf("%02d", (12+3*(n%97))%97)
}

// testBE completes 8 digits with the Belgian check pair.
func testBE(first8 string) string {
	n, _ := strconv.ParseInt(first8, 10, 64)
	return first8 + fmt.Sprintf("%02d", 97-n%97)
}

// nl11Valid is the Dutch 11-test with weight -1 on the last digit.
func nl11Valid(nine string) bool {
	sum := 0
	for i := 0; i < 9; i++ {
		w := 9 - i
		if i == 8 {
			w = -1
		}
		sum += int(nine[i]-'0') * w
	}
	return sum%11 == 0
}

// nl97Valid converts letters to numbers (A=10 … Z=35) and reduces the
// resulting integer modulo 97 with math/big.
func nl97Valid(vat string) bool {
	var sb strings.Builder
	for _, c := range vat {
		if c >= 'A' && c <= 'Z' {
			sb.WriteString(strconv.Itoa(int(c-'A') + 10))
		} else {
			sb.WriteRune(c)
		}
	}
	n, _ := new(big.Int).SetString(sb.String(), 10)
	return new(big.Int).Mod(n, big.NewInt(97)).Int64() == 1
}

// testNL97 completes "NL"+nine+"B" with the two digits that pass mod 97.
func testNL97(nine string) string {
	for i := 0; i < 100; i++ {
		if s := fmt.Sprintf("NL%sB%02d", nine, i); nl97Valid(s) {
			return s
		}
	}
	panic("no NL suffix for " + nine)
}

var (
	usccA     = testUSCC("91350100M000100Y4")
	usccB     = testUSCC("12100000000000000")
	abnA      = testABN("123456789")
	deA       = bruteDigit("12345678", mod1110Valid)
	deB       = bruteDigit("27182818", mod1110Valid)
	itA       = bruteDigit("1234567890", luhnValid)
	frSIREN   = "732829320"
	frA       = testFRKey(frSIREN) + frSIREN
	beA       = testBE("04030192")
	beOld     = testBE("02022399") // first digit 0, so the 9-digit form drops it
	nl11      = bruteDigit("12345678", nl11Valid)
	nl97      = testNL97("123456780") // 123456780 fails the 11-test
	itWrong   = flipLast(itA, "0123456789")
	deWrong   = flipLast(deA, "0123456789")
	usccWrong = flipLast(usccA, "0123456789ABCDEFGHJKLMNPQRTUWXY")
)

func TestHelpersAreConsistent(t *testing.T) {
	// Guard the test data itself: each generated value must differ from its
	// corrupted twin and the NL examples must exercise distinct checks.
	if nl11Valid("123456780") {
		t.Fatal("test data: 123456780 unexpectedly passes the 11-test")
	}
	if !nl11Valid(nl11) {
		t.Fatalf("test data: %s fails the 11-test", nl11)
	}
	if itA == itWrong || deA == deWrong || usccA == usccWrong {
		t.Fatal("test data: corruption did not change the value")
	}
}

type normCase struct {
	desc         string
	jurisdiction string
	in           string
	want         string
	wantErr      string // substring of the error message; "" means success
}

func runCases(t *testing.T, cases []normCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.jurisdiction+"/"+tc.desc, func(t *testing.T) {
			got, err := Normalize(tc.jurisdiction, tc.in)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("Normalize(%q, %q) = %q, want error containing %q", tc.jurisdiction, tc.in, got, tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Normalize(%q, %q) error = %q, want it to contain %q", tc.jurisdiction, tc.in, err, tc.wantErr)
				}
				if got != "" {
					t.Errorf("Normalize(%q, %q) returned %q together with an error", tc.jurisdiction, tc.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Normalize(%q, %q) error = %v, want %q", tc.jurisdiction, tc.in, err, tc.want)
			}
			if got != tc.want {
				t.Fatalf("Normalize(%q, %q) = %q, want %q", tc.jurisdiction, tc.in, got, tc.want)
			}
			again, err := Normalize(tc.jurisdiction, got)
			if err != nil || again != got {
				t.Fatalf("Normalize(%q, %q) = %q, %v; want it unchanged", tc.jurisdiction, got, again, err)
			}
		})
	}
}

func TestNormalizeCN(t *testing.T) {
	runCases(t, []normCase{
		{"computed check character", "CN", usccA, usccA, ""},
		{"second computed code", "CN", usccB, usccB, ""},
		{"real published code (Huawei Technologies)", "CN", "914403001922038216", "914403001922038216", ""},
		{"real published code with letter check (Tencent)", "CN", "9144030071526726XG", "9144030071526726XG", ""},
		{"lower case and spaces", "CN", "  9144 0300 7152 6726 xg ", "9144030071526726XG", ""},
		{"empty", "CN", "   ", "", "must not be empty"},
		{"too short", "CN", usccA[:17], "", "must be 18 characters, got 17"},
		{"too long", "CN", usccA + "0", "", "must be 18 characters, got 19"},
		{"letter I is not in the alphabet", "CN", "91I" + usccA[3:], "", "character 'I' at position 3"},
		{"letter O is not in the alphabet", "CN", usccA[:17] + "O", "", "character 'O' at position 18"},
		{"non-ASCII character", "CN", "9一" + usccA[2:], "", "character '一' at position 2"},
		{"region code must be digits", "CN", testUSCC("9135A100M000100Y4"), "", "characters 3-8"},
		{"wrong check character", "CN", usccWrong, "", fmt.Sprintf("check character is %q, want %q", rune(usccWrong[17]), rune(usccA[17]))},
		{"documented message shape", "CN", "91350100M000100Y4Y", "", "check character is 'Y', want '" + usccA[17:] + "'"},
	})
}

func TestCNRegionCode(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"914403001922038216", "440300"},
		{" 91350100m000100y4" + usccA[17:], "350100"},
		{usccWrong, ""},
		{"9144", ""},
		{"", ""},
	} {
		if got := CNRegionCode(tc.in); got != tc.want {
			t.Errorf("CNRegionCode(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestNormalizeGB(t *testing.T) {
	runCases(t, []normCase{
		{"eight digits", "GB", "00445790", "00445790", ""},
		{"padding of short number", "GB", "445790", "00445790", ""},
		{"padding of one digit", "GB", "7", "00000007", ""},
		{"spaces", "GB", " 0044 5790 ", "00445790", ""},
		{"Scottish prefix lower case", "GB", "sc123456", "SC123456", ""},
		{"LLP prefix", "GB", "OC301234", "OC301234", ""},
		{"old Northern Ireland R0", "GB", "R0000123", "R0000123", ""},
		{"Northern Ireland limited partnership", "GB", "NL000123", "NL000123", ""},
		{"overseas entity", "GB", "oe012345", "OE012345", ""},
		{"assurance company", "GB", "AC000123", "AC000123", ""},
		{"empty", "GB", "", "", "must not be empty"},
		{"nine digits", "GB", "123456789", "", "must be 8 characters, got 9"},
		{"prefix with five digits", "GB", "SC12345", "", "must be 8 characters, got 7"},
		{"unknown prefix", "GB", "XX123456", "", `prefix "XX" is not a Companies House register prefix`},
		{"letters after prefix", "GB", "SC12345A", "", `followed by 6 digits`},
		{"punctuation", "GB", "SC-12345", "", "character '-' at position 3"},
		{"all zeros", "GB", "0", "", "must not be all zeros"},
	})
}

func TestNormalizeAU(t *testing.T) {
	runCases(t, []normCase{
		{"ATO published example", "AU", "51 824 753 556", "51824753556", ""},
		{"computed check digits", "AU", abnA, abnA, ""},
		{"empty", "AU", " ", "", "must not be empty"},
		{"too short", "AU", "5182475355", "", "must be 11 digits, got 10"},
		{"too long", "AU", "518247535560", "", "must be 11 digits, got 12"},
		{"letter", "AU", "51 824 753 55A", "", "character 'A' at position 11 is not a digit"},
		{"dash is not allowed", "AU", "51-824-753-556", "", "character '-' at position 3"},
		{"leading zero", "AU", "01824753556", "", "must not start with 0"},
		{"wrong check digits", "AU", "52824753556", "", `check digits are "52", want "51"`},
		{"transposed digits", "AU", "51824753565", "", "check digits are"},
	})
}

func TestNormalizeUS(t *testing.T) {
	runCases(t, []normCase{
		{"with dash", "US", "12-3456789", "12-3456789", ""},
		{"without dash", "US", "123456789", "12-3456789", ""},
		{"spaces", "US", " 12 3456789 ", "12-3456789", ""},
		{"empty", "US", "", "", "must not be empty"},
		{"too short", "US", "12-345678", "", "must be 9 digits, got 8"},
		{"too long", "US", "1234567890", "", "must be 9 digits, got 10"},
		{"letter", "US", "12-34567X9", "", "character 'X' at position 9 is not a digit"},
		{"dash in the wrong place", "US", "123-45-6789", "", "dash only after the first two digits"},
		{"two dashes", "US", "12--3456789", "", "dash only after the first two digits"},
		{"unassigned prefix 00", "US", "00-1234567", "", `prefix "00" is not assigned`},
		{"unassigned prefix 07", "US", "071234567", "", `prefix "07" is not assigned`},
		{"unassigned prefix 97", "US", "97-1234567", "", `prefix "97" is not assigned`},
	})
}

func TestNormalizeEU(t *testing.T) {
	nl97bad := nl97[:len(nl97)-1] + string("0123456789"[(int(nl97[len(nl97)-1]-'0')+1)%10])
	beWrongCheck := beA[:8] + fmt.Sprintf("%02d", (mustAtoi(beA[8:])+1)%100)
	frKeyWrong := fmt.Sprintf("%02d", (mustAtoi(frA[:2])+1)%97) + frSIREN
	runCases(t, []normCase{
		// Germany: ISO 7064 MOD 11,10.
		{"DE computed", "DE", deA, "DE" + deA, ""},
		{"DE with prefix, spaces and dots", "DE", "de " + deB[:3] + "." + deB[3:6] + "." + deB[6:], "DE" + deB, ""},
		{"DE published example", "DE", "DE136695976", "DE136695976", ""},
		{"DE wrong check digit", "DE", "DE" + deWrong, "", fmt.Sprintf("check digit is %q, want %q", rune(deWrong[8]), rune(deA[8]))},
		{"DE too short", "DE", "DE12345678", "", "must be 9 digits after the DE prefix, got 8 characters"},
		{"DE letter", "DE", "DE12345678X", "", `must be 9 digits after the DE prefix, got "12345678X"`},
		{"DE leading zero", "DE", "DE012345678", "", "must not start with 0"},
		{"DE number under another prefix", "DE", "FR" + deA, "", `starts with "FR", the VAT prefix of another member state; want "DE"`},
		{"DE empty", "DE", " - ", "", "must not be empty"},
		{"DE bad character", "DE", "DE12345/789", "", "character '/' is not allowed"},

		// France: numeric key from the SIREN.
		{"FR computed numeric key", "FR", frA, "FR" + frA, ""},
		{"FR published example", "FR", "FR 40 303 265 045", "FR40303265045", ""},
		{"FR alphanumeric key accepted by format", "FR", "FRA1" + frSIREN, "FRA1" + frSIREN, ""},
		{"FR key whose letters equal the prefix", "FR", "FR" + frSIREN[:0] + "FR" + frSIREN, "FRFR" + frSIREN, ""},
		{"FR wrong numeric key", "FR", "FR" + frKeyWrong, "", fmt.Sprintf("key is %q, want %q", frKeyWrong[:2], frA[:2])},
		{"FR key with I", "FR", "FRI1" + frSIREN, "", "must not contain the letters I or O"},
		{"FR too short", "FR", "FR" + frSIREN, "", "got 9 characters"},

		// Italy: Luhn.
		{"IT computed", "IT", itA, "IT" + itA, ""},
		{"IT published example", "IT", "IT00743110157", "IT00743110157", ""},
		{"IT wrong check digit", "IT", "IT" + itWrong, "", fmt.Sprintf("check digit is %q, want %q", rune(itWrong[10]), rune(itA[10]))},
		{"IT too long", "IT", "IT" + itA + "0", "", "must be 11 digits after the IT prefix, got 12 characters"},

		// Spain: format only.
		{"ES company", "ES", "es b-12345678", "ESB12345678", ""},
		{"ES person", "ES", "12345678Z", "ES12345678Z", ""},
		{"ES foreigner", "ES", "ESX1234567L", "ESX1234567L", ""},
		{"ES all digits", "ES", "ES123456789", "", "must start or end with a letter"},
		{"ES letter in the middle", "ES", "ESB1234A678", "", "must be a letter or digit, 7 digits and a letter or digit"},

		// Netherlands: 11-test or mod 97.
		{"NL 11-test", "NL", "nl" + nl11 + "b01", "NL" + nl11 + "B01", ""},
		{"NL published example", "NL", "NL004495445B01", "NL004495445B01", ""},
		{"NL mod 97 (2020 scheme)", "NL", nl97, nl97, ""},
		{"NL fails both checks", "NL", nl97bad, "", "fails both Dutch checks"},
		{"NL missing B", "NL", "NL" + nl11 + "001", "", "9 digits, the letter B and 2 digits"},

		// Belgium: 97 minus the first eight digits mod 97.
		{"BE computed", "BE", beA, "BE" + beA, ""},
		{"BE with dots", "BE", "BE " + beA[:4] + "." + beA[4:7] + "." + beA[7:], "BE" + beA, ""},
		{"BE old 9-digit form", "BE", "BE" + beOld[1:], "BE" + beOld, ""},
		{"BE starting with 1", "BE", testBE("10000000"), "BE" + testBE("10000000"), ""},
		{"BE starting with 2", "BE", testBE("20000000"), "", "must start with 0 or 1"},
		{"BE wrong check", "BE", beWrongCheck, "", fmt.Sprintf("check digits are %q, want %q", beWrongCheck[8:], beA[8:])},

		// Greece: jurisdiction GR, VAT prefix EL.
		{"GR with EL prefix", "GR", "EL123456789", "EL123456789", ""},
		{"GR without prefix", "GR", "123456789", "EL123456789", ""},
		{"GR written with GR prefix", "GR", "gr 123 456 789", "EL123456789", ""},
		{"GR too short", "GR", "EL12345678", "", "must be 9 digits after the EL prefix, got 8 characters"},

		// Format-only member states.
		{"AT", "AT", "atu12345678", "ATU12345678", ""},
		{"AT missing U", "AT", "AT123456789", "", "U followed by 8 digits"},
		{"BG 9 digits", "BG", "BG123456789", "BG123456789", ""},
		{"BG 10 digits", "BG", "1234567890", "BG1234567890", ""},
		{"BG 11 digits", "BG", "12345678901", "", "9 or 10 digits"},
		{"HR", "HR", "HR12345678901", "HR12345678901", ""},
		{"CY", "CY", "cy12345678l", "CY12345678L", ""},
		{"CY missing letter", "CY", "CY123456789", "", "8 digits followed by a letter"},
		{"CZ 8", "CZ", "CZ12345678", "CZ12345678", ""},
		{"CZ 10", "CZ", "CZ1234567890", "CZ1234567890", ""},
		{"CZ 11", "CZ", "CZ12345678901", "", "8, 9 or 10 digits"},
		{"DK with spaces", "DK", "DK 12 34 56 78", "DK12345678", ""},
		{"EE", "EE", "EE123456789", "EE123456789", ""},
		{"FI with dash", "FI", "FI1234567-8", "FI12345678", ""},
		{"HU", "HU", "HU12345678", "HU12345678", ""},
		{"IE new form", "IE", "IE1234567T", "IE1234567T", ""},
		{"IE new form two letters", "IE", "IE1234567WA", "IE1234567WA", ""},
		{"IE old form", "IE", "IE8Z49289F", "IE8Z49289F", ""},
		{"IE old form with plus", "IE", "IE1+23456A", "IE1+23456A", ""},
		{"IE all digits", "IE", "IE12345678", "", "7 digits and 1 or 2 letters"},
		{"LV", "LV", "LV12345678901", "LV12345678901", ""},
		{"LT 9", "LT", "LT123456789", "LT123456789", ""},
		{"LT 12", "LT", "LT123456789012", "LT123456789012", ""},
		{"LT 10", "LT", "LT1234567890", "", "9 or 12 digits"},
		{"LU", "LU", "LU12345678", "LU12345678", ""},
		{"MT", "MT", "MT12345678", "MT12345678", ""},
		{"PL with dashes", "PL", "PL123-456-78-90", "PL1234567890", ""},
		{"PT", "PT", "PT123456789", "PT123456789", ""},
		{"RO 2 digits", "RO", "RO12", "RO12", ""},
		{"RO 10 digits", "RO", "RO1234567890", "RO1234567890", ""},
		{"RO 1 digit", "RO", "RO1", "", "2 to 10 digits"},
		{"SK", "SK", "SK1234567890", "SK1234567890", ""},
		{"SI", "SI", "SI12345678", "SI12345678", ""},
		{"SE", "SE", "SE123456789701", "SE123456789701", ""},
		{"SE not ending in 01", "SE", "SE123456789702", "", "12 digits ending in 01"},
	})
}

func mustAtoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return n
}

func TestNormalizeUnknownJurisdiction(t *testing.T) {
	for _, j := range []string{"", "XX", "gb", "EL", "UK", "EU"} {
		_, err := Normalize(j, "123")
		if !errors.Is(err, ErrUnknownJurisdiction) {
			t.Errorf("Normalize(%q, ...) error = %v, want ErrUnknownJurisdiction", j, err)
		}
	}
}

var euMembers = []string{"AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"}

func TestJurisdictions(t *testing.T) {
	got := Jurisdictions()
	if len(got) != 31 {
		t.Fatalf("Jurisdictions() has %d entries, want 31: %v", len(got), got)
	}
	if !sort.StringsAreSorted(got) {
		t.Errorf("Jurisdictions() is not sorted: %v", got)
	}
	got[0] = "mutated"
	if Jurisdictions()[0] == "mutated" {
		t.Error("Jurisdictions() returned shared storage")
	}
	if len(euMembers) != 27 {
		t.Fatalf("test data: %d EU members", len(euMembers))
	}
	for _, c := range euMembers {
		if !IsJurisdiction(c) || !IsEUMember(c) {
			t.Errorf("%s: IsJurisdiction=%v IsEUMember=%v, want both true", c, IsJurisdiction(c), IsEUMember(c))
		}
		if Scheme(c) != "VAT identification number" {
			t.Errorf("Scheme(%q) = %q", c, Scheme(c))
		}
	}
	for _, c := range []string{"CN", "GB", "AU", "US"} {
		if !IsJurisdiction(c) || IsEUMember(c) {
			t.Errorf("%s: IsJurisdiction=%v IsEUMember=%v, want true, false", c, IsJurisdiction(c), IsEUMember(c))
		}
	}
	for _, c := range []string{"", "EL", "UK", "XX", "de"} {
		if IsJurisdiction(c) || IsEUMember(c) || Scheme(c) != "" || Timezone(c) != "" {
			t.Errorf("%q should not be a jurisdiction", c)
		}
	}
	if got := Scheme("CN"); got != "unified social credit code" {
		t.Errorf(`Scheme("CN") = %q`, got)
	}
}

func TestTimezone(t *testing.T) {
	fixed := map[string]string{
		"CN": "Asia/Shanghai", "GB": "Europe/London", "AU": "Australia/Sydney", "US": "America/New_York",
		"DE": "Europe/Berlin", "FR": "Europe/Paris", "GR": "Europe/Athens", "CY": "Asia/Nicosia",
		"IE": "Europe/Dublin", "PT": "Europe/Lisbon", "FI": "Europe/Helsinki",
	}
	for c, want := range fixed {
		if got := Timezone(c); got != want {
			t.Errorf("Timezone(%q) = %q, want %q", c, got, want)
		}
	}
	for _, c := range Jurisdictions() {
		tz := Timezone(c)
		if tz == "" {
			t.Errorf("Timezone(%q) is empty", c)
			continue
		}
		if _, err := time.LoadLocation(tz); err != nil {
			t.Errorf("Timezone(%q) = %q: %v", c, tz, err)
		}
	}
}

func FuzzNormalize(f *testing.F) {
	codes := Jurisdictions()
	seeds := map[string][]string{
		"CN": {usccA, "914403001922038216", " 9144 0300 7152 6726 xg"},
		"GB": {"445790", "sc123456", "R0000123"},
		"AU": {"51 824 753 556"},
		"US": {"12-3456789", "123456789"},
		"DE": {"de 136.695.976", "FR136695976"},
		"FR": {"FRFR" + frSIREN, "FR" + frSIREN, frA},
		"BE": {"BE" + beOld[1:], beA},
		"GR": {"GR123456789", "EL123456789"},
		"IE": {"IE1+23456A"},
		"NL": {nl97, "NL004495445B01"},
		"ES": {"es b-12345678"},
	}
	for i, c := range codes {
		for _, s := range seeds[c] {
			f.Add(uint8(i), s)
		}
		f.Add(uint8(i), "")
	}
	f.Fuzz(func(t *testing.T, idx uint8, id string) {
		j := codes[int(idx)%len(codes)]
		out, err := Normalize(j, id)
		if err != nil {
			if out != "" {
				t.Fatalf("Normalize(%q, %q) returned %q with error %v", j, id, out, err)
			}
			if err.Error() == "" {
				t.Fatalf("Normalize(%q, %q): empty error message", j, id)
			}
			return
		}
		again, err := Normalize(j, out)
		if err != nil {
			t.Fatalf("Normalize(%q, %q) = %q, but normalising that fails: %v", j, id, out, err)
		}
		if again != out {
			t.Fatalf("Normalize(%q, %q) = %q, but normalising that gives %q", j, id, out, again)
		}
	})
}

// TestCompleteUSCC: a body in the code's alphabet gets its check character;
// one with a character outside it (which used to index the alphabet out of
// range and panic) is an error.
func TestCompleteUSCC(t *testing.T) {
	code, err := CompleteUSCC("91350100M000100Y4")
	if err != nil || code != "91350100M000100Y43" {
		t.Errorf("CompleteUSCC = %q, %v; want 91350100M000100Y43", code, err)
	}
	for _, bad := range []string{"0000000000000000I", "0000000000000000-", "000000000000000ſ", "short"} {
		if code, err := CompleteUSCC(bad); err == nil {
			t.Errorf("CompleteUSCC(%q) = %q, want an error", bad, code)
		}
	}
}
