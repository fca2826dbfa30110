package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/arrears/arrears/internal/auth"
	"github.com/arrears/arrears/internal/clock"
)

// stalledKeys is a key store that answers only when the call gives up: a
// database that hangs.
type stalledKeys struct{}

func (stalledKeys) Authenticate(ctx context.Context, _ string) (*auth.Principal, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestRESTKeyCheckIsBounded: the key check a REST call makes before the
// gateway ends at the call timeout, as DEADLINE_EXCEEDED (504), rather
// than waiting on a hanging key store for as long as it hangs; the
// handler is never reached.
func TestRESTKeyCheckIsBounded(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	g := newGate(stalledKeys{}, RateLimit{}, clock.NewFake(time.Unix(0, 0)), log)
	reached := false
	h := requireKey(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }), stalledKeys{}, g.limits, 50*time.Millisecond, nil, log)
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/v1/invoices", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer ak_test_secret")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatalf("the key check did not end within the client's own 10 s: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusGatewayTimeout || !strings.Contains(string(body), `"code":4`) {
		t.Errorf("a hanging key check: %d %s, want 504 DEADLINE_EXCEEDED", resp.StatusCode, body)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("the key check ended after %v; the bound is 50ms", waited)
	}
	if reached {
		t.Error("the handler ran without a checked key")
	}
}

// TestCodedBodyIsCountedInvalid: a body in a content coding is refused in
// requireKey, which counts it as the INVALID_ARGUMENT it answers; a request
// with no body has nothing coded.
func TestCodedBodyIsCountedInvalid(t *testing.T) {
	if got := (&refusal{status: http.StatusUnsupportedMediaType}).code(); got != codes.InvalidArgument {
		t.Errorf("a 415 is counted %v", got)
	}
	withBody := httptest.NewRequest(http.MethodPost, "/v1/parties", strings.NewReader("x"))
	withBody.Header.Set("Content-Encoding", "identity, gzip")
	noBody := httptest.NewRequest(http.MethodGet, "/v1/parties", nil)
	noBody.Header.Set("Content-Encoding", "gzip")
	if codedBody(withBody) != "gzip" || codedBody(noBody) != "" {
		t.Errorf("coded bodies: %q, %q", codedBody(withBody), codedBody(noBody))
	}
}
