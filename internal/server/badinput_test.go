package server

import (
	"fmt"
	"maps"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/arrears/arrears/internal/jsonenc"
)

func TestDescribeJSONError(t *testing.T) {
	body := `{"records": [{"amount": {"minorUnits": "x"}}]}`
	err := describeJSONError([]byte(body), fmt.Errorf("proto:\u00a0(line 1:40): invalid value")) // at "x"
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
}

func TestPlainQueryError(t *testing.T) {
	q := url.Values{"asOf.year": {"abc"}, "knownAt": {"yesterday"}, "pageSize": {"many"}, "periodStart.year": {"2025"}, "periodEnd": {"2025-12-31"}}
	for _, tc := range []struct {
		msg, field, text string
	}{
		{`parsing field "year": strconv.ParseInt: parsing "abc": invalid syntax`, "as_of.year", `"abc" is not a whole number`},
		{`parsing field "known_at": parsing time "yesterday" as "2006-01-02T15:04:05.999999999Z07:00": cannot parse "yesterday" as "2006"`,
			"known_at", `"yesterday" is not an RFC 3339 timestamp (e.g. 2025-09-30T00:00:00Z)`},
		{`parsing field "page_size": strconv.ParseInt: parsing "many": invalid syntax`, "page_size", `"many" is not a whole number`},
		// A date written whole, where a query takes its parts.
		{`parsing field "period_end": unsupported message type: "arrears.v1.Date"`, "period_end",
			"a date is given in a query by its parts, e.g. period_end.year=2025&period_end.month=12&period_end.day=31"},
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
