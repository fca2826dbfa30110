// Package protocheck finds, in a decoded request, values that no store of
// the ledger can hold, so that the transport refuses them naming the field
// before any of them reaches a query.
package protocheck

import (
	"strconv"
	"strings"
	"sync"

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

// NULProblem is what a field violation says of a value NUL found.
const NULProblem = "contains a NUL character (U+0000), which the ledger does not store"

// maxDepth stops the walk at a nesting no request of this API has.
const maxDepth = 32

// nulIn walks m's set fields by index (every sync record passes through
// here: no closure per message, and the field's name made only on the way
// back from a NUL), skipping messages that hold no text.
func nulIn(m protoreflect.Message, path *[]string, depth int) bool {
	if depth > maxDepth || !holdsText(m.Descriptor()) {
		return false
	}
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if !m.Has(fd) {
			continue
		}
		v := m.Get(fd)
		switch {
		case fd.IsList():
			l := v.List()
			for k := range l.Len() {
				if hasNUL(fd, l.Get(k), path, depth) {
					*path = append([]string{fieldName(fd, depth) + "[" + strconv.Itoa(k) + "]"}, *path...)
					return true
				}
			}
		case fd.IsMap():
			found := false
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				key := k.String()
				if strings.IndexByte(key, 0) >= 0 || hasNUL(fd.MapValue(), mv, path, depth) {
					*path = append([]string{fieldName(fd, depth) + "[" + strconv.Quote(key) + "]"}, *path...)
					found = true
				}
				return !found
			})
			if found {
				return true
			}
		case hasNUL(fd, v, path, depth):
			*path = append([]string{fieldName(fd, depth)}, *path...)
			return true
		}
	}
	return false
}

// fieldName is fd's name in a path, made only on the way back from a NUL:
// most requests hold none.
func fieldName(fd protoreflect.FieldDescriptor, depth int) string {
	if depth > 0 {
		return "." + string(fd.Name())
	}
	return string(fd.Name())
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

// texts caches, by message type, whether it can hold a string at all
// (itself, or a message it holds); a Date or a Timestamp cannot.
var texts sync.Map // protoreflect.FullName -> bool

func holdsText(md protoreflect.MessageDescriptor) bool {
	if v, ok := texts.Load(md.FullName()); ok {
		return v.(bool)
	}
	texts.Store(md.FullName(), true) // a type that holds itself: assume text while it is looked at
	holds := false
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.IsMap() {
			holds = true // a key or value may be text; maps are rare
			break
		}
		if fd.Kind() == protoreflect.StringKind ||
			(fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind) && holdsText(fd.Message()) {
			holds = true
			break
		}
	}
	texts.Store(md.FullName(), holds)
	return holds
}
