// Package jsonenc writes JSON values by hand, byte for byte as
// encoding/json writes them, for the records a bulk sync stores by the
// million (invoice snapshots, summary profiles), where encoding by
// reflection was a large share of the server's CPU. It also reads the
// API's JSON field names back as the proto's (FieldName).
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

// FieldName is the proto field name a JSON name stands for: the API writes
// lowerCamelCase ("minorUnits") and takes snake_case too, and its errors
// and update masks name fields in snake_case ("minor_units"). A name with
// no capital is returned as it is.
func FieldName(name string) string {
	i := 0
	for i < len(name) && (name[i] < 'A' || name[i] > 'Z') {
		i++
	}
	if i == len(name) {
		return name
	}
	b := make([]byte, 0, len(name)+4)
	for j := 0; j < len(name); j++ {
		c := name[j]
		if 'A' <= c && c <= 'Z' {
			if j > 0 {
				b = append(b, '_')
			}
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return string(b)
}
