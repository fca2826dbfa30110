package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("the commands left %d files behind", len(entries))
	}
}
