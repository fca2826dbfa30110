package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"flag"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/arrears/arrears/internal/store/sqlite"
	"github.com/arrears/arrears/internal/store/sqlstore"
)

// TestUsageDoesNotPrintTheDatabaseURL: a mistyped flag prints the usage,
// with every flag's default; the database URL, which carries a password,
// is not among them, and is still taken from the environment.
func TestUsageDoesNotPrintTheDatabaseURL(t *testing.T) {
	const url = "postgres://arrears:s3cret-pw@db.example/arrears"
	t.Setenv("ARREARS_DATABASE_URL", url)
	var out bytes.Buffer
	if _, err := parseConfig("arrearsd", []string{"-grpc-adr", ":9090"}, func(fs *flag.FlagSet) { fs.SetOutput(&out) }); err == nil {
		t.Fatal("a mistyped flag was accepted")
	}
	if strings.Contains(out.String(), "s3cret-pw") || !strings.Contains(out.String(), "-database-url") {
		t.Errorf("usage:\n%s", out.String())
	}
	c, err := parseConfig("arrearsd", nil)
	if err != nil || c.DatabaseURL != url {
		t.Errorf("database URL from the environment = %q, %v", c.DatabaseURL, err)
	}
	if c, err := parseConfig("arrearsd", []string{"-database-url", "postgres://other"}); err != nil || c.DatabaseURL != "postgres://other" {
		t.Errorf("database URL from the flag = %q, %v", c.DatabaseURL, err)
	}
	// The flag wins, empty included: the embedded store.
	if c, err := parseConfig("arrearsd", []string{"-database-url", ""}); err != nil || c.DatabaseURL != "" {
		t.Errorf("-database-url \"\" = %q, %v; want the embedded store", c.DatabaseURL, err)
	}
}

// TestOperatorCommandsNeedAnExistingLedger: run where no ledger is (the
// default -data-dir is relative), an operator command says so, naming the
// path, instead of making an empty ledger there.
func TestOperatorCommandsNeedAnExistingLedger(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	err := runKeys(context.Background(), []string{"list", "-data-dir", dir}, &out)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "arrears.db")) {
		t.Errorf("keys list where no ledger is: %v", err)
	}
	if err := runMigrate(context.Background(), []string{"-data-dir", dir}); err == nil {
		t.Error("migrate where no ledger is: no error")
	}
	// audit verify too, before it looks for the key (whose absence is not
	// what is wrong there).
	if err := runAudit(context.Background(), []string{"verify", "-data-dir", dir}, &out); err == nil || !strings.Contains(err.Error(), "no ledger at") {
		t.Errorf("audit verify where no ledger is: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("the commands left %d files behind", len(entries))
	}
}

// TestConfigRefusesWhatItCannotHonour: a blank environment variable is the
// default, not an empty address or directory; a rate limit that is no
// number, and a shutdown timeout that is not positive, are refused.
func TestConfigRefusesWhatItCannotHonour(t *testing.T) {
	t.Setenv("ARREARS_GRPC_ADDR", "")
	t.Setenv("ARREARS_DATA_DIR", "")
	c, err := parseConfig("arrearsd", nil)
	if err != nil || c.GRPCAddr != ":9090" || c.DataDir != "data" {
		t.Errorf("blank variables: grpc %q, data dir %q, %v; want the defaults", c.GRPCAddr, c.DataDir, err)
	}
	for _, args := range [][]string{{"-rate-limit", "NaN"}, {"-rate-limit", "Inf"}, {"-shutdown-timeout", "0s"}, {"-shutdown-timeout", "-5s"}, {"-call-timeout", "-1s"}, {"-call-timeout", "soon"}, {"-sync-idle-timeout", "0s"},
		{"-sync-session-retention", "1m"}, {"-sync-session-retention", "-24h"}, {"-database-wait", "-1s"}, {"-database-wait", "soon"}} {
		if _, err := parseConfig("arrearsd", args); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	for _, v := range []string{"0", "24h"} {
		if _, err := parseConfig("arrearsd", []string{"-sync-session-retention", v}); err != nil {
			t.Errorf("-sync-session-retention %s: %v", v, err)
		}
	}
}

// The server and its migrate command wait -database-wait for a PostgreSQL
// server that is not up, then name it; 0 tries once.
func TestDatabaseWait(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	url := "postgres://arrears@" + addr + "/arrears?sslmode=disable"
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	_, err = openStore(ctx, config{DatabaseURL: url, DatabaseWait: 400 * time.Millisecond}, quiet, time.Now())
	if err == nil || !strings.Contains(err.Error(), "not reachable after 400ms") {
		t.Errorf("serving with PostgreSQL down: err = %v, want it to wait 400ms and say so", err)
	}
	err = runMigrate(ctx, []string{"-database-url", url, "-database-wait", "300ms", "-log-level", "error"})
	if err == nil || !strings.Contains(err.Error(), "not reachable after 300ms") {
		t.Errorf("migrate with PostgreSQL down: err = %v, want it to wait 300ms and say so", err)
	}
	_, err = openStore(ctx, config{DatabaseURL: url}, quiet, time.Now())
	if err == nil || strings.Contains(err.Error(), "not reachable after") || !strings.Contains(err.Error(), addr) {
		t.Errorf("serving with PostgreSQL down and no wait: err = %v, want one try naming %s", err, addr)
	}
}

// TestKeysCreateReadsEveryFlag: flags after a stray word would be dropped
// unread (an ADMIN key meant to expire that never does): refused, as is a
// negative lifetime.
func TestKeysCreateReadsEveryFlag(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "arrears.db"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	for _, args := range [][]string{
		{"create", "-data-dir", dir, "-role", "ADMIN", "extra", "-expires", "1h"},
		{"create", "-data-dir", dir, "-role", "ADMIN", "-expires", "-24h"},
	} {
		if err := runKeys(context.Background(), args, &out); err == nil || !strings.Contains(err.Error(), "arrearsd keys create") {
			t.Errorf("%v: %v", args, err)
		}
	}
}

// TestOperatorCommandsLeaveTheSchema: an operator's command run against an
// embedded ledger of an older schema refuses, saying to migrate, and does
// not migrate it under the server that still serves it.
func TestOperatorCommandsLeaveTheSchema(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "arrears.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := sqlite.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sqlstore.Migrate(context.Background(), db, ms[:3], time.Now(), sqlite.Dialect.Retryable); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := runKeys(context.Background(), []string{"list", "-data-dir", dir}, &out); err == nil || !strings.Contains(err.Error(), "arrearsd migrate") {
		t.Errorf("keys list on an older schema: %v", err)
	}
	if v, err := sqlstore.SchemaVersion(context.Background(), db); err != nil || v != 3 {
		t.Errorf("schema version after the command: %d, %v; want 3, untouched", v, err)
	}
	db.Close()
}

// TestExposedKeys: the warnings at start name what other users can reach:
// a key file others may read (netaddr tells the addresses other hosts
// can).
func TestExposedKeys(t *testing.T) {
	dir := t.TempDir()
	private, shared := filepath.Join(dir, "private.key"), filepath.Join(dir, "shared.key")
	if err := os.WriteFile(private, []byte("k"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(shared, []byte("k"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(shared, 0o644); err != nil {
		t.Fatal(err)
	}
	if readableByOthers(private) || !readableByOthers(shared) || readableByOthers("") || readableByOthers(filepath.Join(dir, "none")) {
		t.Errorf("readableByOthers: private %v, shared %v", readableByOthers(private), readableByOthers(shared))
	}
}

// TestHelpNamesTheCommands: "arrearsd help" and each operator command's
// -h give their usage, not an error.
func TestHelpNamesTheCommands(t *testing.T) {
	if err := realMain(context.Background(), []string{"help"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("arrearsd help: %v", err)
	}
	var out bytes.Buffer
	if err := runKeys(context.Background(), []string{"-h"}, &out); !errors.Is(err, flag.ErrHelp) || !strings.Contains(out.String(), "keys create|list|revoke") {
		t.Errorf("arrearsd keys -h: %v, %q", err, out.String())
	}
	for _, args := range [][]string{{"frob"}, {"-data-dir", t.TempDir(), "list"}} {
		if err := runKeys(context.Background(), args, &out); err == nil || !strings.Contains(err.Error(), "unknown keys command") {
			t.Errorf("arrearsd keys %v: %v, want an unknown command", args, err)
		}
	}
	if err := runAudit(context.Background(), nil, &out); err == nil || errors.Is(err, flag.ErrHelp) {
		t.Errorf("arrearsd audit with no command: %v, want the usage as an error", err)
	}
	if !strings.Contains(commandsUsage, "arrearsd summary rebuild") {
		t.Error("the usage does not list summary rebuild")
	}
}

// TestRefusedValueNamesItsVariable: a value refused that came from the
// environment names the variable, not only the flag it stands for.
func TestRefusedValueNamesItsVariable(t *testing.T) {
	t.Setenv("ARREARS_RATE_LIMIT", "abc")
	if _, err := parseConfig("arrearsd", nil); err == nil || !strings.Contains(err.Error(), "ARREARS_RATE_LIMIT") {
		t.Errorf("ARREARS_RATE_LIMIT=abc: %v", err)
	}
	if _, err := parseConfig("arrearsd", []string{"-rate-limit", "xyz"}); err == nil || strings.Contains(err.Error(), "ARREARS_RATE_LIMIT") {
		t.Errorf("-rate-limit xyz given over the variable: %v", err)
	}
	t.Setenv("ARREARS_RATE_LIMIT", "")
	if _, err := parseConfig("arrearsd", []string{"-grpc-addr", "nonsense"}); err == nil || !strings.Contains(err.Error(), "-grpc-addr \"nonsense\" is not host:port") {
		t.Errorf("-grpc-addr nonsense: %v", err)
	}
}

// TestGCDefaults: the server's collector defaults, GOGC 400 and a 1 GiB
// soft memory limit, apply only where the environment sets neither.
func TestGCDefaults(t *testing.T) {
	gogc, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(-1)
	defer func() { debug.SetGCPercent(gogc); debug.SetMemoryLimit(limit) }()
	for _, name := range []string{"GOGC", "GOMEMLIMIT"} {
		if v, ok := os.LookupEnv(name); ok {
			t.Setenv(name, v) // restored after the test
			os.Unsetenv(name)
		}
	}
	debug.SetMemoryLimit(math.MaxInt64)
	setGCDefault()
	if got := debug.SetGCPercent(100); got != defaultGCPercent {
		t.Errorf("GOGC %d, want %d", got, defaultGCPercent)
	}
	if got := debug.SetMemoryLimit(-1); got != defaultMemoryLimit {
		t.Errorf("memory limit %d, want %d", got, defaultMemoryLimit)
	}
	t.Setenv("GOMEMLIMIT", "2GiB")
	debug.SetMemoryLimit(math.MaxInt64)
	setGCDefault()
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("memory limit %d with GOMEMLIMIT set, want it left to the runtime", got)
	}
}
