package syncclient

import (
	"os"
	"path/filepath"
	"testing"
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
		if _, _, err := scan(p); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	p := filepath.Join(dir, "ok.ndjson")
	os.WriteFile(p, []byte(`{"documentRef":"A","creditor":"parties/CN:x"}`+"\n\n"+`{"documentRef":"B"}`+"\n"), 0o600)
	n, digest, err := scan(p)
	if err != nil || n != 2 || len(digest) != 64 {
		t.Errorf("ndjson scan = %d, %q, %v", n, digest, err)
	}
}
