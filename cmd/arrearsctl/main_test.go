package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestUsageDoesNotPrintTheToken: asking for the flags prints their
// defaults; the API key, taken from the environment, is not among them.
func TestUsageDoesNotPrintTheToken(t *testing.T) {
	const token = "ark_abcdefgh_0123456789secret"
	t.Setenv("ARREARS_TOKEN", token)
	var stdout, stderr bytes.Buffer
	_ = run(context.Background(), []string{"sync", "-h"}, &stdout, &stderr)
	if strings.Contains(stderr.String()+stdout.String(), "0123456789secret") || !strings.Contains(stderr.String(), "-token") {
		t.Errorf("usage:\n%s", stderr.String())
	}
}
