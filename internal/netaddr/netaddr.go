// Package netaddr answers questions about network addresses that the
// server and its clients ask alike.
package netaddr

import (
	"net"
	"strings"
)

// Loopback reports whether an address (host:port, or a gRPC target such as
// dns:///host:port) reaches this host only: 127.0.0.1, ::1 or localhost.
// An empty host, every interface to a listener, is not.
func Loopback(addr string) bool {
	if i := strings.LastIndex(addr, ":///"); i >= 0 {
		addr = addr[i+len(":///"):]
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
