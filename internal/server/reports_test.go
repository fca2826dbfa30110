package server

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	arrearsv1 "github.com/arrears/arrears/gen/arrears/v1"
	"github.com/arrears/arrears/internal/auth"
	"github.com/arrears/arrears/internal/clock"
)

// TestReportsPerKeyAreBounded: a key runs at most MaxReportsPerKey reports
// at once; one more is RESOURCE_EXHAUSTED until one ends, while another
// key's reports and the key's other calls go on.
func TestReportsPerKeyAreBounded(t *testing.T) {
	r := newReports()
	a, b := &auth.Principal{Prefix: "aaaa"}, &auth.Principal{Prefix: "bbbb"}
	summary := arrearsv1.OversightService_GetOverdueSummary_FullMethodName
	var releases []func()
	for i := range MaxReportsPerKey {
		release, err := r.enter(a, summary)
		if err != nil {
			t.Fatalf("report %d of the key: %v", i+1, err)
		}
		releases = append(releases, release)
	}
	if _, err := r.enter(a, arrearsv1.OversightService_ExportOverdueSummary_FullMethodName); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("one report more: %v, want RESOURCE_EXHAUSTED", err)
	}
	if _, err := r.enter(a, arrearsv1.LedgerService_GetInvoice_FullMethodName); err != nil {
		t.Errorf("the key's read of an invoice meanwhile: %v", err)
	}
	if release, err := r.enter(b, summary); err != nil {
		t.Errorf("another key's report meanwhile: %v", err)
	} else {
		release()
	}
	releases[0]()
	if release, err := r.enter(a, summary); err != nil {
		t.Errorf("a report once one ended: %v", err)
	} else {
		release()
	}
	for _, release := range releases[1:] {
		release()
	}
	if len(r.running) != 0 {
		t.Errorf("running after every report ended: %v", r.running)
	}
}

// oneKey authenticates every token as one regulator key.
type oneKey struct{}

func (oneKey) Authenticate(context.Context, string) (*auth.Principal, error) {
	return &auth.Principal{Prefix: "regk", Role: auth.RoleRegulator}, nil
}

// TestGatesShareTheReportsBound: the public server's gate and the
// gateway's count one key's reports together, so REST and gRPC calls are
// bounded alike.
func TestGatesShareTheReportsBound(t *testing.T) {
	g := newGate(oneKey{}, RateLimit{}, clock.NewFake(time.Unix(0, 0)), slog.New(slog.DiscardHandler))
	gates := []*gate{g, g.charged()}
	method := arrearsv1.OversightService_GetOverdueSummary_FullMethodName
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer ak_test_secret"))
	hold, started := make(chan struct{}), make(chan struct{}, MaxReportsPerKey)
	var wg sync.WaitGroup
	for i := range MaxReportsPerKey {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = gates[i%2].unary()(ctx, nil, &grpc.UnaryServerInfo{FullMethod: method}, func(context.Context, any) (any, error) {
				started <- struct{}{}
				<-hold
				return nil, nil
			})
		}()
	}
	for range MaxReportsPerKey {
		<-started
	}
	for _, gt := range gates {
		_, err := gt.unary()(ctx, nil, &grpc.UnaryServerInfo{FullMethod: method}, func(context.Context, any) (any, error) { return nil, nil })
		if status.Code(err) != codes.ResourceExhausted {
			t.Errorf("a report past the bound: %v, want RESOURCE_EXHAUSTED", err)
		}
	}
	close(hold)
	wg.Wait()
	if _, err := g.unary()(ctx, nil, &grpc.UnaryServerInfo{FullMethod: method}, func(context.Context, any) (any, error) { return nil, nil }); err != nil {
		t.Errorf("a report once the others ended: %v", err)
	}
}
