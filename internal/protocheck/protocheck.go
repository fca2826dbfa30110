// Package protocheck finds, in a decoded request, values that no store of
// the ledger can hold, so that the transport refuses them naming the field
// before any of them reaches a query.
package protocheck

import (
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// NUL returns the path of the first string field of m (in the API's
// field-violation form: "invoice.document_ref", "payments[2].reference",
// "labels[key]") that holds a NUL character, or "" if none does.
//
// PostgreSQL's text cannot hold U+0000: a query that binds one fails
// (SQLSTATE 22021) as a whole, which a client would see as an internal
// error, and a bulk lookup would fail every record beside the one that
// carried it. Protobuf and JSON decoding let it through, since it is valid
// UTF-8, and no field of this API has a use for it.
func NUL(m protoreflect.Message) string {
	var path []string
	if nulIn(m, &path, 0) {
		return strings.Join(path, "")
	}
	return ""
}

// maxDepth stops the walk at a nesting no request of this API has.
const maxDepth = 32

func nulIn(m protoreflect.Message, path *[]string, depth int) bool {
	if depth > maxDepth {
		return false
	}
	found := false
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		name := string(fd.Name())
		if depth > 0 {
			name = "." + name
		}
		switch {
		case fd.IsList():
			l := v.List()
			for i := range l.Len() {
				if hasNUL(fd, l.Get(i), path, depth) {
					*path = append([]string{name + "[" + strconv.Itoa(i) + "]"}, *path...)
					found = true
					return false
				}
			}
		case fd.IsMap():
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				key := k.String()
				if strings.IndexByte(key, 0) >= 0 || hasNUL(fd.MapValue(), mv, path, depth) {
					*path = append([]string{name + "[" + strconv.Quote(key) + "]"}, *path...)
					found = true
				}
				return !found
			})
			if found {
				return false
			}
		case hasNUL(fd, v, path, depth):
			*path = append([]string{name}, *path...)
			found = true
			return false
		}
		return true
	})
	return found
}

// hasNUL reports whether one value of field fd holds a NUL: a string that
// does, or a message with such a string somewhere inside (whose path below
// it is then in *path).
func hasNUL(fd protoreflect.FieldDescriptor, v protoreflect.Value, path *[]string, depth int) bool {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return strings.IndexByte(v.String(), 0) >= 0
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return nulIn(v.Message(), path, depth+1)
	}
	return false
}
