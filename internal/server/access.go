package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/arrears/arrears/internal/auth"
	"github.com/arrears/arrears/internal/clock"
	"github.com/arrears/arrears/internal/ledger"
)

// Authenticator turns a bearer token into a principal.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (*auth.Principal, error)
}

// RateLimit is the per-key budget, per replica: a token bucket refilled at
// PerSecond with room for Burst.
type RateLimit struct {
	PerSecond float64
	Burst     int
}

// gate authenticates every call, applies the access table and the rate
// limit, and puts the principal in the context. It is the one place where
// "who may call what" is enforced for gRPC and, through the gateway, REST.
type gate struct {
	authn Authenticator
	log   *slog.Logger
	// limits is the keys' buckets, nil where calls come charged already:
	// the gateway's server, whose REST calls requireKey charged before
	// their bodies were read.
	limits *limiter
	// rest is the gateway's server's gate: an If-Match header the gateway
	// passes on is read into the request (applyIfMatch).
	rest bool
	// reports bounds each key's reports running at once, for both gates.
	reports *reports
}

// limiter holds each key's token bucket, per replica.
type limiter struct {
	clock  clock.Clock
	limit  RateLimit
	mu     sync.Mutex
	bucket map[string]*rate.Limiter
}

func newGate(a Authenticator, l RateLimit, c clock.Clock, log *slog.Logger) *gate {
	return &gate{authn: a, log: log, limits: &limiter{limit: l, clock: c, bucket: map[string]*rate.Limiter{}}, reports: newReports()}
}

// charged is g for calls charged before they reach it.
func (g *gate) charged() *gate {
	return &gate{authn: g.authn, log: g.log, rest: true, reports: g.reports}
}

var errUnauthenticated = status.Error(codes.Unauthenticated, "missing, invalid, expired or revoked API key")

// admit authenticates a call, applies the access table and the rate limit,
// and takes the call's place among its key's reports (reports.enter): the
// caller runs release when the call ends.
func (g *gate) admit(ctx context.Context, method string) (_ context.Context, release func(), err error) {
	rule, ok := auth.Rules[method]
	if ok && rule.Public {
		return ctx, func() {}, nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	auths := md.Get("authorization")
	if len(auths) != 1 {
		// None, or several: which one would speak for the call is not
		// the caller's to leave ambiguous (a stream re-checks its key).
		return nil, nil, errUnauthenticated
	}
	token, ok2 := strings.CutPrefix(auths[0], "Bearer ")
	if token = strings.TrimSpace(token); !ok2 || token == "" {
		return nil, nil, errUnauthenticated
	}
	p, err := g.authn.Authenticate(ctx, token)
	if err != nil {
		if errors.Is(err, auth.ErrUnauthenticated) {
			return nil, nil, errUnauthenticated
		}
		if ctx.Err() != nil {
			// The call's own deadline (the client's, or -call-timeout)
			// ran out, or the client left: the key store is not at
			// fault, and a retry later would not help.
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, nil, status.Error(codes.DeadlineExceeded, "deadline exceeded")
			}
			return nil, nil, status.Error(codes.Canceled, "request canceled")
		}
		logKeyCheckFailure(ctx, g.log, err)
		return nil, nil, status.Error(codes.Unavailable, "cannot check the API key now; retry later")
	}
	if p.RequireCert != "" && peerCertSHA256(ctx) != p.RequireCert {
		// A key bound to a client certificate is useless without it.
		return nil, nil, errUnauthenticated
	}
	if !ok || !rule.Allows(p.Role) {
		return nil, nil, status.Errorf(codes.PermissionDenied, "a %s key may not call %s", p.Role, method)
	}
	if err := g.limits.allow(p); err != nil {
		return nil, nil, err
	}
	if release, err = g.reports.enter(p, method); err != nil {
		return nil, nil, err
	}
	return auth.WithPrincipal(ctx, p), release, nil
}

// allow spends one token from the key's bucket, or says how long to wait;
// a nil limiter allows everything.
func (g *limiter) allow(p *auth.Principal) error {
	if g == nil || g.limit.PerSecond <= 0 {
		return nil
	}
	g.mu.Lock()
	l, ok := g.bucket[p.Prefix]
	if !ok {
		l = rate.NewLimiter(rate.Limit(g.limit.PerSecond), g.limit.Burst)
		g.bucket[p.Prefix] = l
	}
	g.mu.Unlock()
	// The bucket runs on the injected clock, so tests can exhaust and
	// refill it without sleeping.
	now := g.clock.Now()
	r := l.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		wait := time.Duration(math.Ceil(d.Seconds())) * time.Second
		st, err := status.New(codes.ResourceExhausted, "rate limit of this API key exceeded; retry later").
			WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(wait)})
		if err != nil {
			return status.Error(codes.ResourceExhausted, "rate limit exceeded")
		}
		return st.Err()
	}
	return nil
}

// unary admits the calls of a service registered without guard. Every
// unary service is guarded now; this keeps one added without it from
// running unauthenticated.
func (g *gate) unary() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if ctx.Value(admittedKey{}) != nil {
			return handler(ctx, req)
		}
		ctx, release, err := g.admit(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		defer release()
		return handler(ctx, req)
	}
}

// admittedKey marks a call guard admitted, so unary does not admit it
// (and spend its rate budget) twice.
type admittedKey struct{}

// guard returns desc with each unary method admitting its call before the
// request is read. gRPC decodes a unary request before any interceptor
// runs, so a gate that is only an interceptor would let a caller without a
// key make the server decode (and allocate) a whole request first. Here the
// interceptors run first, with no request (none of them reads it), and
// inside them the call is admitted, then decoded, then served: every call
// is logged and recovered from as before, a refused one included.
func (g *gate) guard(desc *grpc.ServiceDesc) *grpc.ServiceDesc {
	out := *desc
	out.Methods = make([]grpc.MethodDesc, len(desc.Methods))
	for i, m := range desc.Methods {
		full, handle := "/"+desc.ServiceName+"/"+m.MethodName, m.Handler
		out.Methods[i] = grpc.MethodDesc{MethodName: m.MethodName, Handler: func(srv any, ctx context.Context, dec func(any) error,
			chain grpc.UnaryServerInterceptor) (any, error) {
			serve := func(ctx context.Context, _ any) (any, error) {
				actx, release, err := g.admit(ctx, full)
				if err != nil {
					return nil, err
				}
				defer release()
				decode := func(v any) error {
					if err := dec(v); err != nil {
						return err
					}
					if err := takeRefusal(v); err != nil {
						return err
					}
					if g.rest {
						return applyIfMatch(ctx, full, v)
					}
					return nil
				}
				return handle(srv, actx, decode, nil)
			}
			if chain == nil {
				return serve(ctx, nil)
			}
			return chain(context.WithValue(ctx, admittedKey{}, true), nil, &grpc.UnaryServerInfo{Server: srv, FullMethod: full}, serve)
		}}
	}
	return &out
}

func (g *gate) stream() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, release, err := g.admit(ss.Context(), info.FullMethod)
		if err != nil {
			return err
		}
		defer release()
		return handler(srv, &principalStream{ServerStream: ss, ctx: ctx})
	}
}

// principalStream carries the authenticated context into a stream handler.
type principalStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *principalStream) Context() context.Context { return s.ctx }

// RecvMsg answers a message the codec refused as INVALID_ARGUMENT. The
// refusal is taken whatever the read returns: gRPC decodes a second
// message into the same one to check a client sends no more than one, and
// fails the read after the codec has refused it, which left the refusal
// in the map for good (a keyless health watch could grow it without end).
func (s *principalStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	refused := takeRefusal(m)
	if err != nil {
		return err
	}
	return refused
}

// peerCertSHA256 is the hex SHA-256 of the verified client certificate of
// the call's TLS connection, or "" when there is none.
func peerCertSHA256(ctx context.Context) string {
	pr, ok := peer.FromContext(ctx)
	if !ok {
		return ""
	}
	info, ok := pr.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.VerifiedChains) == 0 || len(info.State.PeerCertificates) == 0 {
		return ""
	}
	sum := sha256.Sum256(info.State.PeerCertificates[0].Raw)
	return hex.EncodeToString(sum[:])
}

// logKeyCheckFailure logs a key that could not be checked: no verdict on
// the key, so not "authentication failed", on which alerts for guessed keys
// fire. The key store unreachable (the database down, which the health
// check reports too) is a warning, once per call as the calls come; any
// other failure an error.
func logKeyCheckFailure(ctx context.Context, log *slog.Logger, err error) {
	if errors.Is(err, ledger.ErrUnavailable) {
		log.WarnContext(ctx, "cannot check the API key: the key store is unavailable", "err", err)
		return
	}
	log.ErrorContext(ctx, "cannot check the API key", "err", err)
}
