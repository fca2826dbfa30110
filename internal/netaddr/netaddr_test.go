package netaddr

import "testing"

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:9090":                true,
		"[::1]:9090":                    true,
		"localhost:9090":                true,
		"dns:///localhost:9090":         true,
		":9090":                         false, // every interface
		"0.0.0.0:9090":                  false,
		"arrears.internal:9090":         false,
		"dns:///arrears.internal:9090":  false,
		"10.0.0.5:9090":                 false,
		"127.0.0.1":                     false, // no port: not an address
		"passthrough:///127.0.0.1:9090": true,
		"unix:/run/arrears.sock":        true,
		"unix:///run/arrears.sock":      true,
		"other:///127.0.0.1:9090":       false, // a scheme it does not read
	} {
		if got := Loopback(addr); got != want {
			t.Errorf("Loopback(%q) = %v, want %v", addr, got, want)
		}
	}
}
