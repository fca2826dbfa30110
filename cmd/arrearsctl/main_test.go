package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUsageDoesNotPrintTheToken: asking for the flags prints their
// defaults; the API key, taken from the environment, is not among them.
func TestUsageDoesNotPrintTheToken(t *testing.T) {
	const token = "ark_abcdefgh_0123456789secret"
	t.Setenv("ARREARS_TOKEN", token)
	var stdout, stderr bytes.Buffer
	_ = run(context.Background(), nil, []string{"sync", "-h"}, &stdout, &stderr)
	if strings.Contains(stderr.String()+stdout.String(), "0123456789secret") || !strings.Contains(stderr.String(), "-token") {
		t.Errorf("usage:\n%s", stderr.String())
	}
}

// TestInterruptedWhileCounting: Ctrl-C before anything was sent (while the
// file is counted) ends with the interrupted status, not a crash.
func TestInterruptedWhileCounting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "payables.ndjson")
	os.WriteFile(path, []byte(strings.Repeat(`{"documentRef":"A"}`+"\n", 10)), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, nil, []string{"sync", "-server", "127.0.0.1:1", "-token", "k", "-debtor", "parties/CN:x", path}, &stdout, &stderr)
	var ex exitError
	if !errors.As(err, &ex) || ex.code != exitInterrupted {
		t.Errorf("interrupted while counting: %v", err)
	}
}
