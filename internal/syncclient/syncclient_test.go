package syncclient

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arrears/arrears/internal/money"
)

func TestParseAmount(t *testing.T) {
	for _, tc := range []struct {
		cur, in string
		want    int64
		ok      bool
	}{
		{"CNY", "1234.50", 123450, true},
		{"CNY", "1234.5", 123450, true},
		{"CNY", "0.01", 1, true},
		{"JPY", "1234", 1234, true},
		{"JPY", "12.5", 0, false},
		{"BHD", "1.125", 1125, true},
		{"CNY", "1.005", 0, false},
		{"CNY", "abc", 0, false},
		{"XYZ", "1", 0, false},
	} {
		m, err := parseAmount(tc.cur, tc.in)
		if (err == nil) != tc.ok || (err == nil && m.MinorUnits != tc.want) {
			t.Errorf("parseAmount(%s, %q) = %v, %v; want %d ok=%v", tc.cur, tc.in, m, err, tc.want, tc.ok)
		}
	}
}

func TestReadersRefuseBadFiles(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"unknown-column.csv": "document_ref,colour\nA,red\n",
		"missing-column.csv": "document_ref\nA\n",
		"bad.txt":            "x",
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o600)
		if _, _, err := scan(context.Background(), p); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	p := filepath.Join(dir, "ok.ndjson")
	os.WriteFile(p, []byte(`{"documentRef":"A","creditor":"parties/CN:x"}`+"\n\n"+`{"documentRef":"B"}`+"\n"), 0o600)
	n, digest, err := scan(context.Background(), p)
	if err != nil || n != 2 || len(digest) != 64 {
		t.Errorf("ndjson scan = %d, %q, %v", n, digest, err)
	}
}

// TestParseAmountMatchesRat compares parseAmount with the exact big.Rat
// reading it used alone before, on random amounts in the plain form and in
// the others big.Rat reads (a plus sign, ".5", "5.", an exponent, a
// fraction), for currencies of 0, 2 and 3 decimals.
func TestParseAmountMatchesRat(t *testing.T) {
	byRat := func(currency, s string) (int64, bool) {
		cur, ok := money.LookupCurrency(currency)
		if !ok {
			return 0, false
		}
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			return 0, false
		}
		r.Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(cur.Digits)), nil)))
		if !r.IsInt() || !r.Num().IsInt64() {
			return 0, false
		}
		return r.Num().Int64(), true
	}
	r := rand.New(rand.NewPCG(11, 12))
	forms := []string{"%d", "%d.%d", "-%d.%d", "+%d.%d", ".%[2]d", "%d.", "%de2", "%d/%d", "%d.%02d", "%d.%03d", "%d.%04d", " %d", "0%d.%d"}
	for range 100_000 {
		cur := []string{"CNY", "JPY", "BHD", "EUR"}[r.IntN(4)]
		whole := r.Int64N(1 << uint(r.IntN(63)))
		s := fmt.Sprintf(forms[r.IntN(len(forms))], whole, r.IntN(1000))
		want, wantOK := byRat(cur, s)
		m, err := parseAmount(cur, s)
		if (err == nil) != wantOK || (err == nil && (m.MinorUnits != want || m.CurrencyCode != cur)) {
			t.Fatalf("parseAmount(%s, %q) = %v, %v; big.Rat reads %d, ok=%v", cur, s, m, err, want, wantOK)
		}
	}
}

// TestScanStopsWhenCancelled: Ctrl-C while a file is being counted stops
// the count, as the interrupted run reports it.
func TestScanStopsWhenCancelled(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big.ndjson")
	os.WriteFile(p, []byte(strings.Repeat(`{"documentRef":"A"}`+"\n", 10000)), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := scan(ctx, p); !errors.Is(err, context.Canceled) {
		t.Errorf("scan after Ctrl-C: %v", err)
	}
	if n, _, err := scan(context.Background(), p); err != nil || n != 10000 {
		t.Errorf("scan: %d, %v", n, err)
	}
}
