package jsonenc

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// TestAppendStringIsMarshal compares AppendString with json.Marshal on
// random strings of printable ASCII, the characters json.Marshal escapes,
// control bytes, multi-byte UTF-8, invalid UTF-8 and U+2028.
func TestAppendStringIsMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	pieces := []string{"a", "Z", "0", " ", "-", "/", ":", "\"", "\\", "<", ">", "&", "\n", "\t", "\x00", "\x7f", "é", "中", "\u2028", "\xff", "\xe4\xb8"}
	for range 20_000 {
		var s string
		for range r.IntN(8) {
			if r.IntN(3) == 0 {
				s += pieces[r.IntN(len(pieces))]
			} else {
				s += pieces[r.IntN(7)]
			}
		}
		want, _ := json.Marshal(s)
		if got := AppendString([]byte("x"), s); !bytes.Equal(got, append([]byte("x"), want...)) {
			t.Fatalf("AppendString(%q) = %s, json.Marshal writes %s", s, got[1:], want)
		}
	}
}

func TestFieldName(t *testing.T) {
	for in, want := range map[string]string{"minorUnits": "minor_units", "minor_units": "minor_units", "asOf": "as_of",
		"creditorSizeClassAtSigning": "creditor_size_class_at_signing", "kind": "kind", "": ""} {
		if got := FieldName(in); got != want {
			t.Errorf("FieldName(%q) = %q, want %q", in, got, want)
		}
	}
}
