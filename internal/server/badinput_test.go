package server

import (
	"fmt"
	"maps"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/arrears/arrears/internal/jsonenc"
)

// at writes protojson's message for a refusal at the first byte of mark in
// body: its line and column, the column counted in characters.
func at(body, mark string) string {
	i := strings.Index(body, mark)
	line := strings.Count(body[:i], "\n") + 1
	col := utf8.RuneCountInString(body[strings.LastIndex(body[:i], "\n")+1:i]) + 1
	return fmt.Sprintf("proto:\u00a0(line %d:%d): invalid value", line, col)
}

func TestBodyFieldPath(t *testing.T) {
	for _, tc := range []struct {
		body, mark, want string
	}{
		{`{"party": {"colour": "red"}}`, `"colour"`, "party.colour"},
		{`{"party": {"kind": "PARTY_KIND_GIANT"}}`, `"PARTY_KIND_GIANT"`, "party.kind"},
		{`{"invoice": {"documentRef": "A", "amount": {"currencyCode": "CNY", "minorUnits": "lots"}}}`, `"lots"`, "invoice.amount.minor_units"},
		{`{"records": [{"sequence": 1}, {"sequence": 2, "issued_on": {"year": "x"}}]}`, `"x"`, "records[1].issued_on.year"},
		{"{\n  \"party\": {\n    \"displayName\": \"Åsa Örn\",\n    \"kind\": 7.5\n  }\n}", `7.5`, "party.kind"},
		{`{"records": [[1, 2], [3, "four"]]}`, `"four"`, "records[1][1]"},
	} {
		got, ok := bodyFieldPath([]byte(tc.body), at(tc.body, tc.mark))
		if !ok || got != tc.want {
			t.Errorf("%s at %s: %q, %v; want %q", tc.body, tc.mark, got, ok, tc.want)
		}
	}
	if _, ok := bodyFieldPath([]byte(`{"a": 1}`), "unexpected EOF"); ok {
		t.Error("a message without a position gave a path")
	}
	if _, ok := bodyFieldPath([]byte(`{"a": 1}`), "proto: (line 9:1): x"); ok {
		t.Error("a position past the body gave a path")
	}
	// Either spacing of the prefix, as the protobuf module picks per binary.
	if p, ok := bodyFieldPath([]byte(`{"a": "b"}`), "proto: (line 1:7): x"); !ok || p != "a" {
		t.Errorf("a space after the prefix: %q, %v", p, ok)
	}
	if plainBodyError("proto:\u00a0syntax error\u00a0(line 1:2): unexpected token") != "syntax error: unexpected token" {
		t.Error("a syntax error's words kept the prefix")
	}
	if _, ok := bodyFieldPath([]byte(`{"a": 1}`), "proto: (line 9:1): x"); ok {
		t.Error("a position past the body gave a path")
	}
}

func TestDescribeJSONError(t *testing.T) {
	body := `{"records": [{"amount": {"minorUnits": "x"}}]}`
	err := describeJSONError([]byte(body), fmt.Errorf("%s", at(body, `"x"`)))
	if err.Error() != `bad field "records[0].amount.minor_units": invalid value` {
		t.Errorf("%v", err)
	}
	m := badField.FindStringSubmatch(err.Error())
	if m == nil || m[1] != `"records[0].amount.minor_units"` || m[2] != "invalid value" {
		t.Errorf("read back: %q", m)
	}
	// Without a position, the error is kept as it is.
	plain := fmt.Errorf("unexpected EOF")
	if describeJSONError([]byte(body), plain) != plain {
		t.Error("an error without a position was rewritten")
	}
	// A column past the end of its line is no place.
	if _, ok := byteOffset([]byte("{\n}"), 1, 5); ok {
		t.Error("a column past the line's end gave an offset")
	}
}

func TestPlainQueryError(t *testing.T) {
	q := url.Values{"asOf.year": {"abc"}, "knownAt": {"yesterday"}, "pageSize": {"many"}, "periodStart.year": {"2025"}}
	for _, tc := range []struct {
		msg, field, text string
	}{
		{`parsing field "year": strconv.ParseInt: parsing "abc": invalid syntax`, "as_of.year", `"abc" is not a whole number`},
		{`parsing field "known_at": parsing time "yesterday" as "2006-01-02T15:04:05.999999999Z07:00": cannot parse "yesterday" as "2006"`,
			"known_at", `"yesterday" is not an RFC 3339 timestamp (e.g. 2025-09-30T00:00:00Z)`},
		{`parsing field "page_size": strconv.ParseInt: parsing "many": invalid syntax`, "page_size", `"many" is not a whole number`},
	} {
		leaf, bad, text, ok := plainQueryError(tc.msg)
		if !ok || text != tc.text {
			t.Errorf("%s: %q, %v; want %q", tc.msg, text, ok, tc.text)
		}
		if field, _ := queryFieldPath(q, jsonenc.FieldName(leaf), bad); field != tc.field {
			t.Errorf("%s: field %q, want %q", tc.msg, field, tc.field)
		}
	}
	if _, _, _, ok := plainQueryError(`proto: (line 1:2): unknown field "x"`); ok {
		t.Error("a body's refusal read as a query's")
	}
}

// TestBodySelectorsMatchTheGateway: every route whose body is one field of
// its request is in bodySelector, with that field, and no other.
func TestBodySelectorsMatchTheGateway(t *testing.T) {
	raw, err := os.ReadFile("../../proto/arrears/v1/arrears_gateway.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	selector := ""
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if s, ok := strings.CutPrefix(line, "- selector: "); ok {
			i := strings.LastIndex(s, ".")
			selector = "/" + s[:i] + "/" + s[i+1:]
		}
		if b, ok := strings.CutPrefix(line, "body: "); ok && strings.Trim(b, `"`) != "*" {
			want[selector] = b
		}
	}
	if len(want) == 0 || !maps.Equal(want, bodySelector) {
		t.Errorf("bodySelector %v, the gateway's %v", bodySelector, want)
	}
}

// TestPostVerbsMatchTheGateway: verbsPostOnly knows every custom method
// the gateway routes, and each is served for POST only.
func TestPostVerbsMatchTheGateway(t *testing.T) {
	raw, err := os.ReadFile("../../proto/arrears/v1/arrears_gateway.yaml")
	if err != nil {
		t.Fatal(err)
	}
	verbs := map[string]bool{}
	for _, line := range strings.Split(string(raw), "\n") {
		method, path, ok := strings.Cut(strings.TrimSpace(line), ": /v1/")
		if !ok {
			continue
		}
		last := path[strings.LastIndexByte(path, '/')+1:]
		if i := strings.LastIndexByte(last, ':'); i >= 0 && !strings.Contains(last[i:], "}") {
			if method != "post" && last[i+1:] != "export" {
				t.Errorf("%s /v1/%s: a custom method not served for POST", method, path)
			}
			if method == "post" {
				verbs[last[i+1:]] = true
			}
		}
	}
	if got := slices.Sorted(maps.Keys(verbs)); !slices.Equal(got, postVerbs) {
		t.Errorf("postVerbs %v, the gateway's %v", postVerbs, got)
	}
}
