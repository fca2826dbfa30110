// Package jsonenc writes JSON values by hand, byte for byte as
// encoding/json writes them, for the records a bulk sync stores by the
// million (invoice snapshots, summary profiles), where encoding by
// reflection was a large share of the server's CPU.
package jsonenc

import "encoding/json"

// AppendString appends s as json.Marshal writes it. Printable ASCII other
// than the quote, the backslash and the three characters json.Marshal
// escapes for HTML (<, >, &) is copied as is; anything else goes through
// encoding/json.
func AppendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			out, _ := json.Marshal(s) // a string always marshals
			return append(b, out...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
