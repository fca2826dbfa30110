// Package protojsonerr names the field of a JSON message that protojson
// refused, and says the refusal in plain words. protojson names a place as
// "(line L:C)" and speaks in its library's words ("proto: (line 1:20):
// unexpected token"); a client wants "records[2].issued_on" and what is
// wrong with it. The REST gateway and arrearsctl's NDJSON reader both
// answer so.
package protojsonerr

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/arrears/arrears/internal/jsonenc"
)

// position reads protojson's "(line L:C)", and its "syntax error".
// The protobuf module spaces its prefix with a space or a no-break space,
// chosen per binary, so that no one relies on its text: both are read.
var position = regexp.MustCompile(`^proto:[ \x{a0}](syntax error[ \x{a0}])?\(line (\d+):(\d+)\):[ \x{a0}]`)

// FieldPath finds, in JSON data refused with msg, the path of the field
// at the position msg gives. ok is false when msg gives no position or data
// does not reach it.
func FieldPath(data []byte, msg string) (path string, ok bool) {
	m := position.FindStringSubmatch(msg)
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

// bare is protojson's prefix on a message with no position.
var bare = regexp.MustCompile(`^proto:[ \x{a0}]`)

// Plain drops protojson's prefix and position from its message.
func Plain(msg string) string {
	m := position.FindStringSubmatch(msg)
	switch {
	case m == nil && bare.MatchString(msg):
		rest := msg[len(bare.FindString(msg)):]
		if rest == "unexpected EOF" {
			// A line cut short, or a brace left open.
			return "the JSON ends before the value does"
		}
		return rest
	case m == nil:
		return msg
	case m[1] != "":
		return "syntax error: " + msg[len(m[0]):]
	}
	return msg[len(m[0]):]
}
