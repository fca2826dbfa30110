package pgtest

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestReapStraysStopsOrphanedClusters starts a cluster, checks that a
// cluster whose owner is alive is left alone, then makes its owner a
// process that has exited and checks that the next reap stops the server
// and removes its directory.
func TestReapStraysStopsOrphanedClusters(t *testing.T) {
	c, err := NewCluster()
	if err != nil {
		if os.Getenv("ARREARS_REQUIRE_POSTGRES") == "1" {
			t.Fatalf("PostgreSQL is required (ARREARS_REQUIRE_POSTGRES=1) but could not start: %v", err)
		}
		t.Skipf("no PostgreSQL to start: %v", err)
	}
	defer c.Stop()
	pid, err := c.PID()
	if err != nil {
		t.Fatal(err)
	}
	reapStrays(c.pgctl)
	if _, err := os.Stat(c.dir); err != nil || !processAlive(pid) {
		t.Fatalf("a cluster whose owner is alive was reaped: %v, server alive %v", err, processAlive(pid))
	}

	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.dir, ownerFile), []byte(strconv.Itoa(gone.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	reapStrays(c.pgctl)
	if _, err := os.Stat(c.dir); !os.IsNotExist(err) {
		t.Fatalf("the orphaned cluster's directory is still there: %v", err)
	}
	// pg_ctl stop -w waits for the postmaster; a zombie may linger an instant.
	for i := 0; processAlive(pid) && i < 50; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if processAlive(pid) {
		t.Fatalf("the orphaned cluster's server (pid %d) is still running", pid)
	}
}

// TestStartTakesAnotherPortWhenOneIsTaken: a port another socket took
// between its choice and the server's bind fails that start, and the
// cluster starts on another port.
func TestStartTakesAnotherPortWhenOneIsTaken(t *testing.T) {
	if _, err := findBin("pg_ctl"); err != nil && os.Getenv("ARREARS_REQUIRE_POSTGRES") != "1" {
		t.Skipf("no PostgreSQL to start: %v", err)
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	real := freePort
	calls := 0
	freePort = func() (int, error) {
		calls++
		if calls == 1 {
			return taken.Addr().(*net.TCPAddr).Port, nil
		}
		return real()
	}
	defer func() { freePort = real }()
	c, err := NewCluster()
	if err != nil {
		t.Fatalf("start after a taken port: %v (%d ports tried)", err, calls)
	}
	defer c.Stop()
	if calls != 2 || c.port == taken.Addr().(*net.TCPAddr).Port {
		t.Errorf("started on port %d after %d choices", c.port, calls)
	}
}
