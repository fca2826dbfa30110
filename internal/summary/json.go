package summary

import (
	"strconv"

	"github.com/arrears/arrears/internal/jsonenc"
)

// AppendJSON appends p as json.Marshal writes it to b. Every invoice a sync
// creates or corrects stores its profile, and by reflection that was a
// twentieth of the server's CPU. A randomized test compares the bytes.
func (p Profile) AppendJSON(b []byte) []byte {
	if p == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range p {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonenc.AppendString(append(b, `{"k":{"Jurisdiction":`...), s.Key.Jurisdiction)
		b = jsonenc.AppendString(append(b, `,"Region":`...), s.Key.Region)
		b = jsonenc.AppendString(append(b, `,"Kind":`...), s.Key.Kind)
		b = jsonenc.AppendString(append(b, `,"Currency":`...), s.Key.Currency)
		b = s.From.AppendJSON(append(b, `},"f":`...))
		if !s.Due.IsZero() {
			b = s.Due.AppendJSON(append(b, `,"d":`...))
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
