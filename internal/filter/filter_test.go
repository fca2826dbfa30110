package filter

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		desc    string
		in      string
		want    []Cond
		wantErr bool
	}{
		{desc: "empty", in: "  "},
		{desc: "one", in: "status = OPEN", want: []Cond{{"status", "=", "OPEN"}}},
		{desc: "no spaces", in: "status!=OPEN", want: []Cond{{"status", "!=", "OPEN"}}},
		{desc: "and, case-insensitive", in: `due_date >= 2025-01-01 and due_date<2025-02-01`,
			want: []Cond{{"due_date", ">=", "2025-01-01"}, {"due_date", "<", "2025-02-01"}}},
		{desc: "quoted with escapes", in: `debtor = "parties/CN:9135 \"x\" \\"`, want: []Cond{{"debtor", "=", `parties/CN:9135 "x" \`}}},
		{desc: "CRLF line breaks", in: "document_ref = INV-1\r\nAND status = OPEN\r\n",
			want: []Cond{{"document_ref", "=", "INV-1"}, {"status", "=", "OPEN"}}},
		{desc: "OR refused", in: "a = 1 OR b = 2", wantErr: true},
		{desc: "missing op", in: "status OPEN", wantErr: true},
		{desc: "missing value", in: "status =", wantErr: true},
		{desc: "unterminated", in: `a = "x`, wantErr: true},
		{desc: "unknown escape", in: `reference = "a\nb"`, wantErr: true},
		{desc: "bad field", in: `a-b = 1`, wantErr: true},
		{desc: "trailing AND", in: `a = 1 AND`, wantErr: true},
	} {
		got, err := Parse(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: Parse(%q) err = %v, wantErr %v", tc.desc, tc.in, err, tc.wantErr)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: (-want +got)\n%s", tc.desc, diff)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(`a = 1 AND b != "x y"`)
	f.Fuzz(func(t *testing.T, s string) {
		conds, err := Parse(s)
		if err == nil {
			for _, c := range conds {
				if c.Field == "" || c.Op == "" {
					t.Fatalf("Parse(%q) gave an empty field or op: %+v", s, c)
				}
			}
		}
	})
}
