// Package netaddr answers questions about network addresses that the
// server and its clients ask alike.
package netaddr

import (
	"net"
	"strings"
)

// Loopback reports whether an address (host:port, or a gRPC target such as
// dns:///host:port or unix:/path) reaches this host only: 127.0.0.1, ::1,
// localhost or a Unix socket. An empty host, every interface to a
// listener, is not; nor is a target it cannot read (it errs towards a
// warning).
func Loopback(addr string) bool {
	switch {
	case strings.HasPrefix(addr, "unix:"), strings.HasPrefix(addr, "unix-abstract:"):
		return true
	case strings.HasPrefix(addr, "dns:///"), strings.HasPrefix(addr, "passthrough:///"):
		_, addr, _ = strings.Cut(addr, ":///")
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
