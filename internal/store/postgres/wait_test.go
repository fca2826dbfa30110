package postgres_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/arrears/arrears/internal/store/pgtest"
	"github.com/arrears/arrears/internal/store/postgres"
)

// gate stands between a client and a real server the way a server that
// is still starting would: its first connections are closed at once or
// answered "the database system is starting up" (57P03), as plan says,
// and those after are passed through.
type gate struct {
	ln        net.Listener
	network   string // of the real server
	addr      string
	plan      []string // "close" or "starting", one per connection, then through
	seen      atomic.Int32
	forwarded atomic.Int32
}

// newGate starts a gate before the server realURL names, and returns it
// with the URL that reaches the server through it.
func newGate(t *testing.T, realURL string, plan ...string) (*gate, string) {
	t.Helper()
	cfg, err := pgconn.ParseConfig(realURL)
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{network: "tcp", addr: net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))), plan: plan}
	if strings.HasPrefix(cfg.Host, "/") {
		g.network, g.addr = "unix", filepath.Join(cfg.Host, ".s.PGSQL."+strconv.Itoa(int(cfg.Port)))
	}
	if g.ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.ln.Close() })
	go g.serve()
	u, err := url.Parse(realURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = g.ln.Addr().String()
	q := u.Query()
	q.Del("host")
	q.Set("sslmode", "disable") // the gate answers a startup message, not a TLS request
	u.RawQuery = q.Encode()
	return g, u.String()
}

func (g *gate) serve() {
	for {
		c, err := g.ln.Accept()
		if err != nil {
			return
		}
		n := int(g.seen.Add(1))
		if n <= len(g.plan) {
			// Read the startup message first, as a server does: closing
			// with it unread would reset the connection instead.
			var size [4]byte
			if _, err := io.ReadFull(c, size[:]); err == nil {
				io.CopyN(io.Discard, c, int64(binary.BigEndian.Uint32(size[:]))-4)
			}
			if g.plan[n-1] == "starting" {
				c.Write(errorResponse("FATAL", "57P03", "the database system is starting up"))
			}
			c.Close()
			continue
		}
		g.forwarded.Add(1)
		go func() {
			defer c.Close()
			s, err := net.Dial(g.network, g.addr)
			if err != nil {
				return
			}
			defer s.Close()
			go io.Copy(s, c)
			io.Copy(c, s)
		}()
	}
}

// errorResponse is a protocol ErrorResponse message.
func errorResponse(severity, code, msg string) []byte {
	var body bytes.Buffer
	for _, f := range []struct {
		tag byte
		val string
	}{{'S', severity}, {'V', severity}, {'C', code}, {'M', msg}} {
		body.WriteByte(f.tag)
		body.WriteString(f.val)
		body.WriteByte(0)
	}
	body.WriteByte(0)
	out := []byte{'E', 0, 0, 0, 0}
	binary.BigEndian.PutUint32(out[1:], uint32(body.Len()+4))
	return append(out, body.Bytes()...)
}

// A server that closes connections, then says it is starting up, is
// waited for; the wait ends at the first connection that gets through.
// (pgx follows a connection closed in its startup with a second try at
// an older protocol version: a "close" can take two connections.)
func TestWaitForServerWaitsForAServerStartingUp(t *testing.T) {
	g, u := newGate(t, pgtest.URL(t), "close", "close", "starting", "starting")
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	if err := postgres.WaitForServer(context.Background(), u, time.Minute, log); err != nil {
		t.Fatalf("WaitForServer: %v", err)
	}
	if seen, fwd := g.seen.Load(), g.forwarded.Load(); seen != 5 || fwd != 1 {
		t.Errorf("gate saw %d connections, passed %d through; want 5 and 1 (four refused, then one through)", seen, fwd)
	}
	if !strings.Contains(logs.String(), "not reachable yet") || !strings.Contains(logs.String(), "PostgreSQL is up") {
		t.Errorf("log does not say it waited and then found the server:\n%s", logs.String())
	}
}

// A server that answers with a refusal waiting does not change (here, no
// such database) is tried once.
func TestWaitForServerDoesNotWaitOutARefusal(t *testing.T) {
	real := pgtest.URL(t)
	u, err := url.Parse(real)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/no_such_database_here"
	g, through := newGate(t, u.String())
	err = postgres.WaitForServer(context.Background(), through, time.Minute, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "no_such_database_here") {
		t.Fatalf("WaitForServer on a missing database: err = %v, want the server's refusal naming it", err)
	}
	if n := g.seen.Load(); n != 1 {
		t.Errorf("tried %d times, want once", n)
	}
}

// Nothing listening at all is waited for until the limit, then named.
func TestWaitForServerGivesUpAtItsLimit(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // the port refuses connections now
	err = postgres.WaitForServer(context.Background(), "postgres://postgres@"+addr+"/postgres?sslmode=disable", 700*time.Millisecond, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "not reachable after 700ms") || !strings.Contains(err.Error(), addr) ||
		!strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("WaitForServer with nothing listening: err = %v, want it to give up naming the server, the limit and the refusal seen", err)
	}
}

// The pool's own settings in the URL (the README suggests pool_max_conns)
// are the pool's, not run-time parameters to send the server, which
// refuses unknown ones.
func TestWaitForServerTakesThePoolsSettings(t *testing.T) {
	u := pgtest.URL(t)
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	if err := postgres.WaitForServer(context.Background(), u+sep+"pool_max_conns=5", time.Second, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("WaitForServer with pool_max_conns in the URL: %v", err)
	}
}
