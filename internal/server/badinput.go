package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"

	"github.com/arrears/arrears/internal/jsonenc"
)

// The gateway's decoders name only the last segment of a field they refuse
// ("kind", "year") and speak their own libraries' words ("proto: (line
// 1:20): ...", "strconv.ParseInt: ..."). These helpers give such a refusal
// the field's whole path, as the API's own checks name fields
// ("party.kind", "as_of.year"), and plain words.

// jsonPosition reads protojson's "(line L:C)", and its "syntax error".
// The protobuf module spaces its prefix with a space or a no-break space,
// chosen per binary, so that no one relies on its text: both are read.
var jsonPosition = regexp.MustCompile(`^proto:[ \x{a0}](syntax error[ \x{a0}])?\(line (\d+):(\d+)\):[ \x{a0}]`)

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
	path, ok := bodyFieldPath(data, err.Error())
	if !ok {
		return err
	}
	return &fieldError{path: path, text: plainBodyError(err.Error())}
}

// bodyFieldPath finds, in JSON data refused with msg, the path of the field
// at the position msg gives. ok is false when msg gives no position or data
// does not reach it.
func bodyFieldPath(data []byte, msg string) (path string, ok bool) {
	m := jsonPosition.FindStringSubmatch(msg)
	if m == nil {
		return "", false
	}
	line, _ := strconv.Atoi(m[2])
	col, _ := strconv.Atoi(m[3])
	off, ok := byteOffset(data, line, col)
	if !ok {
		return "", false
	}
	return pathAt(data, off)
}

// byteOffset turns a 1-based line and column (in characters) into a byte
// offset; ok is false when data has no such place.
func byteOffset(data []byte, line, col int) (int64, bool) {
	off := 0
	for l := 1; l < line; l++ {
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			return 0, false
		}
		off += i + 1
	}
	for c := 1; c < col; c++ {
		if off >= len(data) || data[off] == '\n' {
			return 0, false
		}
		_, n := utf8.DecodeRune(data[off:])
		off += n
	}
	return int64(off), true
}

// pathAt walks body's tokens to the one spanning off and names its place.
func pathAt(body []byte, off int64) (string, bool) {
	type frame struct {
		object  bool
		key     string
		index   int
		wantKey bool
	}
	var stack []frame
	name := func() string {
		var b strings.Builder
		for _, f := range stack {
			switch {
			case f.object && f.key != "":
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(jsonenc.FieldName(f.key))
			case !f.object && f.index >= 0:
				b.WriteString("[" + strconv.Itoa(f.index) + "]")
			}
		}
		return b.String()
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		end := dec.InputOffset()
		if err != nil {
			// Broken JSON at the position: the place reached so far.
			p := name()
			return p, p != ""
		}
		var top *frame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		if s, isString := tok.(string); isString && top != nil && top.object && top.wantKey {
			top.key, top.wantKey = s, false
			if off < end {
				return name(), true
			}
			continue
		}
		if d, isDelim := tok.(json.Delim); isDelim && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			if len(stack) > 0 && stack[len(stack)-1].object {
				stack[len(stack)-1].wantKey = true
			}
			continue
		}
		if top != nil && !top.object {
			top.index++
		}
		if off < end {
			p := name()
			return p, p != ""
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{object: true, wantKey: true})
		case json.Delim('['):
			stack = append(stack, frame{index: -1})
		default:
			if top != nil && top.object {
				top.wantKey = true
			}
		}
	}
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
	return leaf, "", cause, true
}

// plainBodyError drops protojson's prefix and position from its message.
func plainBodyError(msg string) string {
	m := jsonPosition.FindStringSubmatch(msg)
	switch {
	case m == nil:
		return msg
	case m[1] != "":
		return "syntax error: " + msg[len(m[0]):]
	}
	return msg[len(m[0]):]
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
