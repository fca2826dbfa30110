package server

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"

	"github.com/arrears/arrears/internal/jsonenc"
	"github.com/arrears/arrears/internal/protojsonerr"
)

// The gateway's decoders name only the last segment of a field they refuse
// ("kind", "year") and speak their own libraries' words ("proto: (line
// 1:20): ...", "strconv.ParseInt: ..."). These helpers give such a refusal
// the field's whole path, as the API's own checks name fields
// ("party.kind", "as_of.year"), and plain words.

// fieldError is a JSON message protojson refused, named by the path of the
// field at fault. Its text is what the gateway passes on as the status
// message, which errorHandler reads back (badField).
type fieldError struct{ path, text string }

func (e *fieldError) Error() string { return "bad field " + strconv.Quote(e.path) + ": " + e.text }

// badField reads a fieldError's text back.
var badField = regexp.MustCompile(`^bad field ("(?:[^"\\]|\\.)*"): (.*)$`)

// describeJSONError names the field of data (the JSON protojson was given)
// that err, protojson's refusal, is about, in snake_case with list indexes
// ("invoice.amount.minor_units", "records[2].issued_on"), and says what is
// wrong in plain words. It returns err unchanged when the message gives no
// position inside data.
func describeJSONError(data []byte, err error) error {
	path, ok := protojsonerr.FieldPath(data, err.Error())
	if !ok {
		return err
	}
	return &fieldError{path: path, text: protojsonerr.Plain(err.Error())}
}

// queryFieldPath finds the query parameter a refusal of leaf (the last
// segment the gateway names, e.g. "year") is about, and names it in
// snake_case ("as_of.year"); bad is the value refused, when known, to tell
// apart parameters ending alike.
func queryFieldPath(q url.Values, leaf, bad string) (string, bool) {
	found := ""
	keys := make([]string, 0, len(q))
	for key := range q {
		keys = append(keys, key)
	}
	slices.Sort(keys) // the same answer every time when several end alike
	for _, key := range keys {
		vals := q[key]
		path := snakePath(key)
		if path != leaf && !strings.HasSuffix(path, "."+leaf) {
			continue
		}
		for _, v := range vals {
			if bad == "" || v == bad {
				return path, true
			}
		}
		if found == "" {
			found = path
		}
	}
	return found, found != ""
}

func snakePath(key string) string {
	parts := strings.Split(key, ".")
	for i, p := range parts {
		parts[i] = jsonenc.FieldName(p)
	}
	return strings.Join(parts, ".")
}

// The libraries' words for a value that is not of its field's type.
var (
	queryParse  = regexp.MustCompile(`^parsing field "([A-Za-z0-9_.]+)": (.*)$`)
	strconvFail = regexp.MustCompile(`^strconv\.(Parse[A-Za-z]+): parsing "((?:[^"\\]|\\.)*)": (.*)$`)
	timeFail    = regexp.MustCompile(`^parsing time "((?:[^"\\]|\\.)*)"`)
)

// plainQueryError rewrites the gateway's refusal of a query parameter into
// the field it names (its last segment) and plain words: the value refused
// and what the field takes.
func plainQueryError(msg string) (leaf, bad, text string, ok bool) {
	m := queryParse.FindStringSubmatch(msg)
	if m == nil {
		return "", "", "", false
	}
	leaf, cause := m[1], m[2]
	if s := strconvFail.FindStringSubmatch(cause); s != nil {
		bad, _ = strconv.Unquote(`"` + s[2] + `"`)
		want := "a number"
		switch {
		case strings.HasPrefix(s[1], "ParseInt"), strings.HasPrefix(s[1], "ParseUint"):
			want = "a whole number"
		case s[1] == "ParseBool":
			want = "true or false"
		}
		if s[3] == "value out of range" {
			return leaf, bad, strconv.Quote(bad) + " is out of range", true
		}
		return leaf, bad, strconv.Quote(bad) + " is not " + want, true
	}
	if s := timeFail.FindStringSubmatch(cause); s != nil {
		bad, _ = strconv.Unquote(`"` + s[1] + `"`)
		return leaf, bad, strconv.Quote(bad) + " is not an RFC 3339 timestamp (e.g. 2025-09-30T00:00:00Z)", true
	}
	if cause == `unsupported message type: "arrears.v1.Date"` {
		// ?asOf=2025-12-31: a date is given by its parts in a query.
		return leaf, "", fmt.Sprintf("a date is given in a query by its parts, e.g. %[1]s.year=2025&%[1]s.month=12&%[1]s.day=31", leaf), true
	}
	return leaf, "", cause, true
}

// bodySelector is, for each method whose REST body is one field of its
// request (a body other than "*" in arrears_gateway.yaml), that field: a
// refusal of the body names its fields below it, as the method's own
// checks do ("payment.amount.minor_units").
var bodySelector = map[string]string{
	"/arrears.v1.LedgerService/UpdateParty":   "party",
	"/arrears.v1.LedgerService/UpdateInvoice": "invoice",
	"/arrears.v1.LedgerService/RecordPayment": "payment",
	"/arrears.v1.AccessService/CreateApiKey":  "api_key",
	"/arrears.v1.SupplierService/OpenContest": "contest",
}

// runtimeMethod is the gRPC method the gateway was calling.
func runtimeMethod(ctx context.Context) string {
	m, _ := runtime.RPCMethod(ctx)
	return m
}
