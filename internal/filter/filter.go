// Package filter parses the list-method filter strings of the API (a small
// subset of AIP-160): conditions "field op value" joined by AND, where op is
// one of = != < <= > >= and value is a bare word or a "double-quoted"
// string with \" and \\ escapes. Which fields and operators a list accepts
// is the caller's business; anything unparseable is an error that says where.
package filter

import (
	"fmt"
	"strings"
)

// Cond is one parsed condition.
type Cond struct {
	Field string
	Op    string
	Value string
}

// MaxLength bounds a filter string, so parsing cost stays trivial.
const MaxLength = 2048

// Parse reads a filter; the empty string is no condition.
func Parse(s string) ([]Cond, error) {
	if len(s) > MaxLength {
		return nil, fmt.Errorf("is %d bytes long, at most %d are allowed", len(s), MaxLength)
	}
	p := &parser{s: s}
	var out []Cond
	p.space()
	if p.done() {
		return nil, nil
	}
	for {
		c, err := p.cond()
		if err != nil {
			return nil, err
		}
		out = append(out, c)
		p.space()
		if p.done() {
			return out, nil
		}
		w := p.word()
		if !strings.EqualFold(w, "AND") {
			return nil, fmt.Errorf("expected AND at offset %d, found %q (only AND is supported)", p.i-len(w), w)
		}
		p.space()
	}
}

type parser struct {
	s string
	i int
}

func (p *parser) done() bool { return p.i >= len(p.s) }

func (p *parser) space() {
	for !p.done() && isSpace(p.s[p.i]) {
		p.i++
	}
}

// isSpace is ASCII white space: a filter written on lines with CRLF
// endings (or a form feed) separates its terms as one with LF does, not
// with a carriage return kept in a bare value, which then matched nothing.
func isSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\f' || b == '\v'
}

func isWordByte(b byte) bool {
	return !isSpace(b) && b != '=' && b != '!' && b != '<' && b != '>' && b != '"'
}

func (p *parser) word() string {
	start := p.i
	for !p.done() && isWordByte(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

func (p *parser) cond() (Cond, error) {
	start := p.i
	field := p.word()
	if field == "" {
		return Cond{}, fmt.Errorf("expected a field name at offset %d", start)
	}
	for _, r := range field {
		if !(r == '_' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return Cond{}, fmt.Errorf("%q at offset %d is not a field name", field, start)
		}
	}
	p.space()
	op := ""
	for _, cand := range []string{"!=", "<=", ">=", "=", "<", ">"} {
		if strings.HasPrefix(p.s[p.i:], cand) {
			op = cand
			break
		}
	}
	if op == "" {
		return Cond{}, fmt.Errorf("expected an operator (= != < <= > >=) after %q at offset %d", field, p.i)
	}
	p.i += len(op)
	p.space()
	if p.done() {
		return Cond{}, fmt.Errorf("expected a value after %s %s", field, op)
	}
	if p.s[p.i] != '"' {
		v := p.word()
		if v == "" {
			return Cond{}, fmt.Errorf("expected a value after %s %s at offset %d", field, op, p.i)
		}
		return Cond{Field: field, Op: op, Value: v}, nil
	}
	p.i++
	var b strings.Builder
	for {
		if p.done() {
			return Cond{}, fmt.Errorf("unterminated quoted value for %s", field)
		}
		c := p.s[p.i]
		p.i++
		switch {
		case c == '"':
			return Cond{Field: field, Op: op, Value: b.String()}, nil
		case c == '\\' && !p.done():
			// Only the quote and the backslash are escaped: "\n" read as
			// "n" would match other than the client meant.
			if e := p.s[p.i]; e != '"' && e != '\\' {
				return Cond{}, fmt.Errorf("%s: unknown escape \\%c in a quoted value (only \\\" and \\\\)", field, e)
			}
			b.WriteByte(p.s[p.i])
			p.i++
		default:
			b.WriteByte(c)
		}
	}
}
