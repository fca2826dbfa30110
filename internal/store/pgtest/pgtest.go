// Package pgtest gives tests a real, throwaway PostgreSQL database.
//
// With ARREARS_TEST_DATABASE_URL set, it creates databases on that server.
// Otherwise it starts a private cluster from the local PostgreSQL binaries
// (initdb and pg_ctl on PATH or under /usr/lib/postgresql/*/bin), on a free
// loopback port, running as the postgres user when the tests run as root
// (initdb refuses root). Each test gets a fresh database copied from one
// migrated template (CREATE DATABASE ... TEMPLATE), which costs milliseconds.
// Without either, tests skip with a message, or fail when
// ARREARS_REQUIRE_POSTGRES=1.
package pgtest

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/arrears/arrears/internal/store/postgres"
)

var (
	once     sync.Once
	adminURL string // URL of the maintenance database
	baseURL  func(db string) string
	setupErr error
	cleanup  func()
	counter  atomic.Int64
)

const template = "arrears_template"

// Main runs the package's tests and then stops the cluster, if one was
// started. Call it from TestMain: os.Exit(pgtest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if cleanup != nil {
		cleanup()
	}
	return code
}

// URL returns the URL of a fresh, migrated database for this test, or skips
// the test when no PostgreSQL is available (fails if it is required).
func URL(t testing.TB) string {
	t.Helper()
	once.Do(setup) // sets templateName
	return newDatabase(t, templateName)
}

// EmptyURL returns the URL of a fresh database with no schema, for tests of
// migration itself.
func EmptyURL(t testing.TB) string {
	t.Helper()
	return newDatabase(t, "template1")
}

func newDatabase(t testing.TB, from string) string {
	t.Helper()
	once.Do(setup)
	if setupErr != nil {
		if os.Getenv("ARREARS_REQUIRE_POSTGRES") == "1" {
			t.Fatalf("PostgreSQL is required (ARREARS_REQUIRE_POSTGRES=1) but unavailable: %v", setupErr)
		}
		t.Skipf("skipping PostgreSQL test: %v (set ARREARS_TEST_DATABASE_URL or install PostgreSQL)", setupErr)
	}
	name := fmt.Sprintf("arrears_test_%d_%d", os.Getpid(), counter.Add(1))
	if err := adminExec(fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, from)); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		_ = adminExec(fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name))
	})
	return baseURL(name)
}

func adminExec(stmt string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool, err := pgxpool.New(ctx, adminURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	_, err = pool.Exec(ctx, stmt)
	return err
}

func setup() {
	if u := os.Getenv("ARREARS_TEST_DATABASE_URL"); u != "" {
		adminURL = u
		baseURL = func(db string) string { return withDatabase(u, db) }
	} else if setupErr = startCluster(); setupErr != nil {
		return
	}
	// The template is private to this test process: drop a leftover, create,
	// migrate, then let tests copy it.
	tmpl := fmt.Sprintf("%s_%d", template, os.Getpid())
	_ = adminExec("DROP DATABASE IF EXISTS " + tmpl)
	if setupErr = adminExec("CREATE DATABASE " + tmpl); setupErr != nil {
		return
	}
	prev := cleanup
	cleanup = func() {
		_ = adminExec("DROP DATABASE IF EXISTS " + tmpl + " WITH (FORCE)")
		if prev != nil {
			prev()
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, setupErr = postgres.Migrate(ctx, baseURL(tmpl), time.Now()); setupErr != nil {
		return
	}
	templateName = tmpl
}

var templateName string

// withDatabase replaces the database name in a postgres:// URL.
func withDatabase(u, db string) string {
	rest, query, _ := strings.Cut(u, "?")
	if i := strings.LastIndex(rest, "/"); i > len("postgres://") {
		rest = rest[:i]
	}
	if query != "" {
		return rest + "/" + db + "?" + query
	}
	return rest + "/" + db
}

// findBin looks for a PostgreSQL server binary on PATH, then under the
// Debian layout, newest version first.
func findBin(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	if len(dirs) > 0 {
		return dirs[0], nil
	}
	return "", fmt.Errorf("%s not found on PATH or in /usr/lib/postgresql/*/bin", name)
}

func startCluster() error {
	c, err := NewCluster()
	if err != nil {
		return err
	}
	cleanup = c.Stop
	baseURL = c.URL
	adminURL = c.URL("postgres")
	return nil
}

// Cluster is a private PostgreSQL server in a temporary directory, for
// tests and benchmarks.
type Cluster struct {
	dir, data, pgctl string
	port             int
	asUser           []string
}

// NewCluster initialises and starts a cluster on a free loopback port, as
// the postgres user when running as root. settings are extra server
// settings, "name=value" (a benchmark sizes the buffers as production
// would).
func NewCluster(settings ...string) (*Cluster, error) {
	initdb, err := findBin("initdb")
	if err != nil {
		return nil, err
	}
	pgctl, err := findBin("pg_ctl")
	if err != nil {
		return nil, err
	}
	reapStrays(pgctl)
	dir, err := os.MkdirTemp("", clusterPrefix)
	if err != nil {
		return nil, err
	}
	// The owner's pid, so that a later run can stop this cluster if this
	// process is killed before it does (reapStrays).
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	c := &Cluster{dir: dir, data: filepath.Join(dir, "data"), pgctl: pgctl}
	// initdb refuses to run as root: hand the directory to postgres.
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root and there is no postgres user to run the server as: %w", err)
		}
		if out, err := exec.Command("chown", u.Username, dir).CombinedOutput(); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("chown %s: %v: %s", dir, err, out)
		}
		c.asUser = []string{"runuser", "-u", "postgres", "--"}
	}
	if err := c.run(initdb, "-D", c.data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// The port is free when chosen but not held: another process (a test
	// package beside this one, a client's own port) may take it before
	// the server binds it. That start is tried again on another port.
	var startErr error
	for range 3 {
		if c.port, err = freePort(); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		// Durability is pointless for a throwaway cluster; speed is not.
		opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200", c.port, dir)
		for _, s := range settings {
			opts += " -c " + s
		}
		logPath := filepath.Join(dir, "log")
		var seen int64 // the log is appended to: only this attempt's lines count
		if fi, err := os.Stat(logPath); err == nil {
			seen = fi.Size()
		}
		if startErr = c.run(pgctl, "-D", c.data, "-o", opts, "-l", logPath, "-w", "-t", "60", "start"); startErr == nil {
			return c, nil
		}
		// A server that came up after pg_ctl stopped waiting is stopped
		// before its directory goes: nothing could find it after.
		_ = c.run(pgctl, "-D", c.data, "-m", "immediate", "stop")
		if log, _ := os.ReadFile(logPath); int64(len(log)) < seen || !bytes.Contains(log[seen:], []byte("Address already in use")) {
			break
		}
	}
	os.RemoveAll(dir)
	return nil, startErr
}

const (
	clusterPrefix = "arrears-pg-"
	ownerFile     = "owner.pid"
)

// reapStrays stops and removes the clusters of test or benchmark processes
// that were killed before they could stop them (Ctrl-C during make test, a
// timeout): left running, each held its memory and a port until reboot. A
// cluster whose owner is alive, or that has no owner file yet (it is being
// created), is left alone.
func reapStrays(pgctl string) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), clusterPrefix+"*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || processAlive(pid) {
			continue
		}
		c := &Cluster{dir: dir, data: filepath.Join(dir, "data"), pgctl: pgctl}
		if fi, err := os.Stat(dir); err == nil && os.Geteuid() == 0 {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 {
				c.asUser = []string{"runuser", "-u", "postgres", "--"}
			}
		}
		c.Stop()
	}
}

// processAlive reports whether a process with pid exists (signal 0 checks
// without sending; EPERM means it exists but is not ours).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func (c *Cluster) run(args ...string) error {
	args = append(append([]string{}, c.asUser...), args...)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// URL is the URL of a database of the cluster.
func (c *Cluster) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, db)
}

// CreateDatabase creates an empty database and returns its URL.
func (c *Cluster) CreateDatabase(ctx context.Context, name string) (string, error) {
	if err := c.exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	return c.URL(name), nil
}

// DropDatabase drops a database, closing its connections.
func (c *Cluster) DropDatabase(ctx context.Context, name string) error {
	return c.exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)")
}

// exec runs a statement in the maintenance database.
func (c *Cluster) exec(ctx context.Context, stmt string) error {
	pool, err := pgxpool.New(ctx, c.URL("postgres"))
	if err != nil {
		return err
	}
	defer pool.Close()
	_, err = pool.Exec(ctx, stmt)
	return err
}

// PID is the postmaster's process id, from its pid file: a benchmark reads
// the server's CPU time from it and its children.
func (c *Cluster) PID() (int, error) {
	b, err := os.ReadFile(filepath.Join(c.data, "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	first, _, _ := strings.Cut(string(b), "\n")
	return strconv.Atoi(strings.TrimSpace(first))
}

// Stop stops the server and removes its files.
func (c *Cluster) Stop() {
	_ = c.run(c.pgctl, "-D", c.data, "-m", "immediate", "-w", "stop")
	os.RemoveAll(c.dir)
}

// freePort is a port no socket holds now; a variable so that a test can
// hand out one already taken.
var freePort = func() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// DB opens database/sql on a test database, for tests that inspect or
// tamper with rows directly.
func DB(t testing.TB, url string) *sql.DB {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDBFromPool(pool)
	t.Cleanup(func() { db.Close(); pool.Close() })
	return db
}
