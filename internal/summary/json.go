package summary

import (
	"encoding/json"
	"strconv"

	"github.com/arrears/arrears/internal/civil"
)

// AppendJSON appends p as json.Marshal writes it to b. Every invoice a sync
// creates or corrects stores its profile, and by reflection that was a
// twentieth of the server's CPU. A randomized test compares the bytes; a
// key with a string json.Marshal would escape sends the profile to it.
func (p Profile) AppendJSON(b []byte) []byte {
	for _, s := range p {
		k := s.Key
		if !plain(k.Jurisdiction) || !plain(k.Region) || !plain(k.Kind) || !plain(k.Currency) {
			out, _ := json.Marshal(p) // strings, dates and integers always marshal
			return append(b, out...)
		}
	}
	if p == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range p {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"k":{"Jurisdiction":"`...)
		b = append(b, s.Key.Jurisdiction...)
		b = append(b, `","Region":"`...)
		b = append(b, s.Key.Region...)
		b = append(b, `","Kind":"`...)
		b = append(b, s.Key.Kind...)
		b = append(b, `","Currency":"`...)
		b = append(b, s.Key.Currency...)
		b = append(b, `"},"f":`...)
		b = appendDate(b, s.From)
		if !s.Due.IsZero() {
			b = appendDate(append(b, `,"d":`...), s.Due)
		}
		if s.Outstanding != 0 {
			b = strconv.AppendInt(append(b, `,"o":`...), s.Outstanding, 10)
		}
		if s.Net != 0 {
			b = strconv.AppendInt(append(b, `,"n":`...), s.Net, 10)
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

// plain reports whether json.Marshal writes s between quotes as it is:
// printable ASCII but the quote, the backslash and its HTML escapes.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// appendDate writes d as civil.Date.MarshalJSON does: null when unset.
func appendDate(b []byte, d civil.Date) []byte {
	if d.IsZero() {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = append(b, d.String()...)
	return append(b, '"')
}
