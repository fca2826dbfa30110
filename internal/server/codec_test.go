package server

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/arrears/arrears/internal/clock"
)

func TestJSONOverBudget(t *testing.T) {
	budget := 100 * jsonObjectCost
	for _, c := range []struct {
		body string
		over bool
	}{
		{`{"records":[` + strings.Repeat(`{},`, 98) + `{}]}`, true},
		{`{"records":[` + strings.Repeat(`{},`, 40) + `{}]}`, false},
		// Braces inside strings, escaped quotes included, are text.
		{`{"ref":"` + strings.Repeat(`{`, 10000) + `"}`, false},
		{`{"ref":"\"` + strings.Repeat(`{`, 10000) + `"}`, false},
		{`{"ref":"\\"` + strings.Repeat(`{`, 200) + `}`, true},
	} {
		if got := jsonOverBudget([]byte(c.body), budget); got != c.over {
			t.Errorf("jsonOverBudget(%.40q...) = %v, want %v", c.body, got, c.over)
		}
	}
}

// TestGuardRunsEverythingInsideTheInterceptors: a guarded unary call is
// admitted, decoded and served inside the interceptor chain, so a request
// the codec refused is answered INVALID_ARGUMENT and still passes through
// the interceptors (logged, recovered from) like any other call.
func TestGuardRunsEverythingInsideTheInterceptors(t *testing.T) {
	g := newGate(nil, RateLimit{}, clock.NewFake(time.Now()), slog.New(slog.DiscardHandler))
	desc := g.guard(&healthpb.Health_ServiceDesc)
	var seen []codes.Code
	chain := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		resp, err := handler(ctx, req)
		seen = append(seen, status.Code(err))
		return resp, err
	}
	refuse := func(v any) error {
		refusals.Store(v, badRequest("service", "too many elements"))
		return nil
	}
	_, err := desc.Methods[0].Handler(health.NewServer(), context.Background(), refuse, chain)
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("a refused request: %v, want InvalidArgument", err)
	}
	if len(seen) != 1 || seen[0] != codes.InvalidArgument {
		t.Errorf("the interceptors saw %v, want the one refused call", seen)
	}
}

// refusingStream is a stream whose read has the codec refuse the message
// and then fails, as gRPC's check that a client sent only one message
// fails after decoding a second one into the same message.
type refusingStream struct{ grpc.ServerStream }

func (refusingStream) RecvMsg(m any) error {
	refusals.Store(m, badRequest("request", "not a protobuf encoding of the method's request message"))
	return status.Error(codes.Internal, "grpc: client streaming cardinality violation")
}

// TestFailedReadLeavesNoRefusal: a read that fails after the codec refused
// the message forgets the refusal, so no entry is left in the map.
func TestFailedReadLeavesNoRefusal(t *testing.T) {
	s := &principalStream{ServerStream: refusingStream{}, ctx: context.Background()}
	m := &healthpb.HealthCheckRequest{}
	if err := s.RecvMsg(m); status.Code(err) != codes.Internal {
		t.Fatalf("read: %v, want the stream's own error", err)
	}
	if _, left := refusals.Load(m); left {
		t.Error("the refusal of a failed read was left behind")
	}
}
