package protojsonerr

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// at writes protojson's message for a refusal at the first byte of mark in
// body: its line and column, the column counted in characters.
func at(body, mark string) string {
	i := strings.Index(body, mark)
	line := strings.Count(body[:i], "\n") + 1
	col := utf8.RuneCountInString(body[strings.LastIndex(body[:i], "\n")+1:i]) + 1
	return fmt.Sprintf("proto:\u00a0(line %d:%d): invalid value", line, col)
}

func TestFieldPath(t *testing.T) {
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
		got, ok := FieldPath([]byte(tc.body), at(tc.body, tc.mark))
		if !ok || got != tc.want {
			t.Errorf("%s at %s: %q, %v; want %q", tc.body, tc.mark, got, ok, tc.want)
		}
	}
	if _, ok := FieldPath([]byte(`{"a": 1}`), "unexpected EOF"); ok {
		t.Error("a message without a position gave a path")
	}
	if _, ok := FieldPath([]byte(`{"a": 1}`), "proto: (line 9:1): x"); ok {
		t.Error("a position past the body gave a path")
	}
	// Either spacing of the prefix, as the protobuf module picks per binary.
	if p, ok := FieldPath([]byte(`{"a": "b"}`), "proto: (line 1:7): x"); !ok || p != "a" {
		t.Errorf("a space after the prefix: %q, %v", p, ok)
	}
	if got := Plain("proto: unexpected EOF"); got != "the JSON ends before the value does" {
		t.Errorf("Plain of a JSON cut short: %q", got)
	}
	if Plain("proto:\u00a0syntax error\u00a0(line 1:2): unexpected token") != "syntax error: unexpected token" {
		t.Error("a syntax error's words kept the prefix")
	}
	// A column past the end of its line is no place.
	if _, ok := byteOffset([]byte("{\n}"), 1, 5); ok {
		t.Error("a column past the line's end gave an offset")
	}
}
