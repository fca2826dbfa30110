package pagetoken

import (
	"testing"

	"github.com/google/uuid"
)

func TestRoundTripAndBinding(t *testing.T) {
	c := New([]byte("0123456789abcdef0123456789abcdef"))
	id := uuid.Must(uuid.NewV7())
	tok := c.Encode("ListInvoices|status = OPEN", id)
	got, err := c.Decode("ListInvoices|status = OPEN", tok)
	if err != nil || got != id {
		t.Fatalf("Decode = %v, %v; want %v", got, err, id)
	}
	if _, err := c.Decode("ListInvoices|status = SETTLED", tok); err == nil {
		t.Error("token accepted for a different filter")
	}
	if _, err := New([]byte("another key, another server.....")).Decode("ListInvoices|status = OPEN", tok); err == nil {
		t.Error("token accepted under another key")
	}
	forged := []byte(tok)
	forged[3] ^= 1
	if _, err := c.Decode("ListInvoices|status = OPEN", string(forged)); err == nil {
		t.Error("tampered token accepted")
	}
	for _, bad := range []string{"", "!!!", "AAAA"} {
		if _, err := c.Decode("x", bad); err == nil {
			t.Errorf("Decode(%q) accepted", bad)
		}
	}
}
