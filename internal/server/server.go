// Package server wires the ledger's gRPC service into a running process:
// a gRPC listener with logging and panic recovery, health and reflection,
// and an HTTP listener whose REST gateway calls the same services, with the
// same interceptors, on an in-process gRPC server of its own, so every
// check applies to REST as to gRPC (the rate limit is charged in front of
// the gateway, before a body is read). It also serves /healthz and the
// OpenAPI document, and stops gracefully.
package server

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/encoding/protojson"

	arrearsv1 "github.com/arrears/arrears/gen/arrears/v1"
	"github.com/arrears/arrears/gen/openapi"
	"github.com/arrears/arrears/internal/clock"
	"github.com/arrears/arrears/internal/metrics"
)

// Config is what the server needs from the process.
type Config struct {
	// GRPCAddr and HTTPAddr are listen addresses; port 0 picks a free one.
	GRPCAddr string
	HTTPAddr string
	// MaxRequestBytes bounds a request message (gRPC) or body (HTTP).
	MaxRequestBytes int
	// ShutdownTimeout bounds the graceful stop before connections are cut.
	ShutdownTimeout time.Duration
	// Metrics, when set, counts every call and its duration.
	Metrics *metrics.Registry
	// CallTimeout bounds each unary call, REST ones included (a client's
	// shorter deadline stands); 0 leaves calls unbounded.
	CallTimeout time.Duration
	// SyncIdleTimeout is how long POST /v1/sync awaits its first line (10
	// minutes if 0), as the SyncPayables stream awaits its SyncOpen.
	SyncIdleTimeout time.Duration
	// Ready reports whether the server can answer (the store is reachable).
	Ready func(ctx context.Context) error
	// HealthInterval is how often the gRPC health service asks Ready
	// (5 seconds if 0).
	HealthInterval time.Duration
	// Authn checks API keys; RateLimit bounds each key's calls.
	Authn     Authenticator
	RateLimit RateLimit
	Clock     clock.Clock
	// TLS, when set, is served on both listeners; with ClientCAs it
	// verifies client certificates that are presented (mutual TLS for
	// keys bound to a certificate).
	TLS *tls.Config
	Log *slog.Logger
}

// Server is a listening arrearsd.
type Server struct {
	cfg     Config
	grpc    *grpc.Server
	http    *http.Server
	grpcLis net.Listener
	httpLis net.Listener
	health  *health.Server
	conn    *grpc.ClientConn
	// inner serves the REST gateway, in process.
	inner    *grpc.Server
	innerLis *bufconn.Listener
	// watching is closed when the server begins to stop, ending health
	// watches and draining sync streams (Stopping).
	watching chan struct{}
	served   []string // the names the health service answers for
}

// Stopping is closed when the server begins to stop, whatever stops it:
// long calls that would hold the graceful stop (sync streams) end
// themselves on it.
func (s *Server) Stopping() <-chan struct{} { return s.watching }

// watchStream is a health watch with a context of its own, which the
// server's stop ends.
type watchStream struct {
	healthpb.Health_WatchServer
	ctx context.Context
}

func (w watchStream) Context() context.Context { return w.ctx }

// New listens on both addresses and registers the ledger service.
func New(ctx context.Context, cfg Config, ledger arrearsv1.LedgerServiceServer, access arrearsv1.AccessServiceServer,
	supplier arrearsv1.SupplierServiceServer, sync arrearsv1.SyncServiceServer, oversight arrearsv1.OversightServiceServer) (*Server, error) {
	if cfg.MaxRequestBytes <= 0 {
		cfg.MaxRequestBytes = 4 << 20
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 20 * time.Second
	}
	s := &Server{cfg: cfg, health: health.NewServer()}
	var err error
	if s.grpcLis, err = net.Listen("tcp", cfg.GRPCAddr); err != nil {
		return nil, fmt.Errorf("listen gRPC on %s: %w", cfg.GRPCAddr, err)
	}
	if s.httpLis, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		s.grpcLis.Close()
		return nil, fmt.Errorf("listen HTTP on %s: %w", cfg.HTTPAddr, err)
	}

	g := newGate(cfg.Authn, cfg.RateLimit, cfg.Clock, cfg.Log)
	const maxResponseBytes = 64 << 20 // syncclient.MaxAnswerBytes takes as much
	// The gateway's server admits calls as the public one does, but does not
	// charge them: requireKey charged each REST call before reading it.
	gi := g.charged()
	common := func(g *gate, transport string) []grpc.ServerOption {
		return []grpc.ServerOption{grpc.MaxRecvMsgSize(cfg.MaxRequestBytes),
			// An answer past this is refused, not sent (gRPC's own bound is
			// 2 GB); lists and reports are paged well below it.
			grpc.MaxSendMsgSize(maxResponseBytes),
			grpc.ForceServerCodecV2(newBoundedCodec(cfg.MaxRequestBytes)),
			grpc.ChainUnaryInterceptor(recoverUnary(cfg.Log), logUnary(cfg.Log, cfg.Metrics, transport), g.unary(), boundUnary(cfg.CallTimeout)),
			grpc.ChainStreamInterceptor(recoverStream(cfg.Log), logStream(cfg.Log, cfg.Metrics, transport), g.stream()),
		}
	}
	public := append(common(g, "grpc"),
		// A client's connection holds at most this many calls at once, so
		// none holds unbounded streams (a keyless one can open health
		// watches). The gateway has its own server, uncapped: its one
		// connection carries every REST call of every client.
		grpc.MaxConcurrentStreams(maxStreamsPerConn),
		// Connections idle, or kept alive too eagerly, are closed.
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: idleTimeout}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
	)
	if cfg.TLS != nil {
		public = append(public, grpc.Creds(credentials.NewTLS(cfg.TLS)))
	}
	s.grpc = grpc.NewServer(public...)
	// The gateway's server: the same services and interceptors, reached
	// in process (no socket another process could use), with no cap on
	// calls per connection, over a connection buffered as a socket's kernel
	// buffers are (an unbuffered pipe can stall HTTP/2 when both sides
	// write at once).
	s.inner, s.innerLis = grpc.NewServer(common(gi, "rest")...), bufconn.Listen(1<<20)
	for srv, g := range map[*grpc.Server]*gate{s.grpc: g, s.inner: gi} {
		srv.RegisterService(g.guard(&arrearsv1.LedgerService_ServiceDesc), ledger)
		srv.RegisterService(g.guard(&arrearsv1.AccessService_ServiceDesc), access)
		srv.RegisterService(g.guard(&arrearsv1.SupplierService_ServiceDesc), supplier)
		srv.RegisterService(g.guard(&arrearsv1.SyncService_ServiceDesc), sync)
		srv.RegisterService(g.guard(&arrearsv1.OversightService_ServiceDesc), oversight)
	}
	served := []string{"", arrearsv1.LedgerService_ServiceDesc.ServiceName, arrearsv1.AccessService_ServiceDesc.ServiceName,
		arrearsv1.SupplierService_ServiceDesc.ServiceName, arrearsv1.SyncService_ServiceDesc.ServiceName,
		arrearsv1.OversightService_ServiceDesc.ServiceName}
	s.watching = make(chan struct{})
	s.grpc.RegisterService(g.guard(&healthpb.Health_ServiceDesc), &knownHealth{Server: s.health, known: served, closing: s.watching})
	reflection.Register(s.grpc)
	for _, name := range served {
		s.health.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
	}
	s.served = served

	// The gateway is a gRPC client of the inner server: authentication,
	// the access table, logging and the decode limits then run once, in
	// the same interceptors, for gRPC and REST alike (the rate limit in
	// front of the gateway, in requireKey).
	s.conn, err = grpc.NewClient("passthrough:///gateway",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return s.innerLis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		s.closeListeners()
		return nil, fmt.Errorf("dial the gateway's gRPC server: %w", err)
	}
	gw := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &boundedJSON{JSONPb: &runtime.JSONPb{
			MarshalOptions:   protojson.MarshalOptions{EmitUnpopulated: false},
			UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
		}, budget: decodeBudgetFactor * cfg.MaxRequestBytes}),
		runtime.WithErrorHandler(errorHandler),
		// A route is taken by its method and path only: with the
		// fallbacks, a form-encoded POST to a GET route (or a POST saying
		// X-HTTP-Method-Override: GET) was served by the GET handler with
		// the form body as its query, past the checks the server makes of
		// a query (notUTF8), so a bad byte there answered 500.
		runtime.WithDisablePathLengthFallback(),
		runtime.WithDisableHTTPMethodOverride(),
		runtime.WithRoutingErrorHandler(routingError),
		runtime.WithForwardResponseOption(etagHeader),
	)
	if err := arrearsv1.RegisterLedgerServiceHandler(ctx, gw, s.conn); err != nil {
		s.closeListeners()
		return nil, fmt.Errorf("register gateway: %w", err)
	}
	for _, register := range []func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error{
		arrearsv1.RegisterAccessServiceHandler, arrearsv1.RegisterSupplierServiceHandler, arrearsv1.RegisterSyncServiceHandler,
		arrearsv1.RegisterOversightServiceHandler,
	} {
		if err := register(ctx, gw, s.conn); err != nil {
			s.closeListeners()
			return nil, fmt.Errorf("register gateway: %w", err)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openapi.Document)
	})
	mux.Handle("/", requireKey(verbsPostOnly(headAsGet(limitBody(gw, int64(cfg.MaxRequestBytes), cfg.CallTimeout))), cfg.Authn, g.limits, cfg.CallTimeout, cfg.Metrics, cfg.Log))
	exports := &csvExports{conn: s.conn, gw: gw, log: cfg.Log}
	for path, h := range map[string]http.HandlerFunc{
		"/v1/overdueSummary:export":                        exports.overdueSummary,
		"/v1/parties/{party}/paymentPracticeReport:export": exports.paymentPractice,
		"/v1/watchList:export":                             exports.watchList,
		"/v1/parties/{party}/annualDisclosure:export":      exports.annualDisclosure,
	} {
		mux.Handle("GET "+path, requireKey(h, cfg.Authn, g.limits, cfg.CallTimeout, cfg.Metrics, cfg.Log))
		// Other methods: 405, not the gateway's 404 for a path it lacks.
		mux.Handle(path, requireKey(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { methodNotAllowed(w, "GET, HEAD") }),
			cfg.Authn, g.limits, cfg.CallTimeout, cfg.Metrics, cfg.Log))
	}
	// The NDJSON sync stream is as long as the sync: each line is bounded
	// by the request limit instead.
	mux.Handle("POST /v1/sync", requireKey(requireRole(arrearsv1.SyncService_SyncPayables_FullMethodName,
		&syncNDJSON{conn: s.conn, gw: gw, maxLine: cfg.MaxRequestBytes, idle: cmp.Or(cfg.SyncIdleTimeout, 10*time.Minute), stopping: s.watching, log: cfg.Log}), cfg.Authn, g.limits, cfg.CallTimeout, cfg.Metrics, cfg.Log))
	mux.Handle("POST /v1/sync:batch", requireKey(requireRole(arrearsv1.SyncService_SyncPayablesBatch_FullMethodName,
		limitBody(gw, int64(cfg.MaxRequestBytes), cfg.CallTimeout)), cfg.Authn, g.limits, cfg.CallTimeout, cfg.Metrics, cfg.Log))
	s.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		// An idle keep-alive connection is closed; request bodies and
		// responses are not timed, since the sync and export streams are
		// as long as their data.
		IdleTimeout: idleTimeout,
		ErrorLog:    slog.NewLogLogger(cfg.Log.Handler(), slog.LevelWarn),
		TLSConfig:   cfg.TLS,
	}
	return s, nil
}

// maxStreamsPerConn bounds the calls in flight on one connection.
const maxStreamsPerConn = 1024

// knownHealth is the health service answering only for the services this
// server has: Watch is public and long-lived, and the stock server keeps
// each watched name (a client's text, as long as a request may be) for as
// long as the stream lasts.
type knownHealth struct {
	*health.Server
	known []string
	// closing ends the watches when the server stops: a watch lasts as
	// long as its client likes, and a graceful stop waits for every call.
	closing chan struct{}
}

func (h *knownHealth) Watch(req *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	if !slices.Contains(h.known, req.GetService()) {
		return status.Error(codes.NotFound, "unknown service")
	}
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	go func() {
		select {
		case <-h.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	return h.Server.Watch(req, watchStream{stream, ctx})
}

// idleTimeout closes a connection (gRPC or HTTP) that has carried nothing
// for that long: idle connections held open tie up descriptors.
const idleTimeout = 2 * time.Minute

// GRPCAddr is the address the gRPC listener is bound to.
func (s *Server) GRPCAddr() string { return s.grpcLis.Addr().String() }

// HTTPAddr is the address the HTTP listener is bound to.
func (s *Server) HTTPAddr() string { return s.httpLis.Addr().String() }

func (s *Server) closeListeners() {
	s.grpcLis.Close()
	s.httpLis.Close()
	if s.innerLis != nil {
		s.innerLis.Close()
	}
}

// Serve answers until ctx is done, then stops gracefully: health turns
// NOT_SERVING, in-flight requests finish (up to ShutdownTimeout), and the
// listeners close.
func (s *Server) Serve(ctx context.Context) error {
	errc := make(chan error, 3)
	go func() { errc <- s.grpc.Serve(s.grpcLis) }()
	go func() {
		// It returns nil once stopped; anything else is a failure.
		if err := s.inner.Serve(s.innerLis); err != nil {
			errc <- fmt.Errorf("serve the gateway's gRPC: %w", err)
		}
	}()
	go func() {
		serve := func() error { return s.http.Serve(s.httpLis) }
		if s.cfg.TLS != nil {
			serve = func() error { return s.http.ServeTLS(s.httpLis, "", "") }
		}
		if err := serve(); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
			return
		}
		errc <- nil
	}()
	go s.watchReady()
	s.cfg.Log.Info("serving", "grpc", s.GRPCAddr(), "http", s.HTTPAddr())
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	s.cfg.Log.Info("shutting down")
	s.health.Shutdown()
	close(s.watching)
	// The public port stops taking calls at once, and its calls in flight
	// drain beside REST's. REST first, while the inner gRPC server still
	// serves the gateway's calls; then the inner one. Each window is
	// ShutdownTimeout: a REST stream as long as the first must not leave
	// the gRPC calls none (they would be cut at once), and what outlives
	// both is closed.
	publicStopped := make(chan struct{})
	go func() { s.grpc.GracefulStop(); close(publicStopped) }()
	httpCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	if s.http.Shutdown(httpCtx) != nil {
		_ = s.http.Close()
	}
	cancel()
	grpcCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	stopped := make(chan struct{})
	go func() {
		s.inner.GracefulStop()
		<-publicStopped
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-grpcCtx.Done():
		s.inner.Stop()
		s.grpc.Stop()
	}
	s.conn.Close()
	return err
}

// watchReady asks Ready every HealthInterval until the server stops, and
// sets the gRPC health service's answer by it: NOT_SERVING while the
// database cannot be reached, so that an orchestrator or load balancer
// probing gRPC health stops sending calls, as one probing /healthz does.
func (s *Server) watchReady() {
	if s.cfg.Ready == nil {
		return
	}
	every := s.cfg.HealthInterval
	if every <= 0 {
		every = 5 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	serving := true
	for {
		select {
		case <-s.watching:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), min(every, 2*time.Second))
		err := s.cfg.Ready(ctx)
		cancel()
		if ok := err == nil; ok != serving {
			serving = ok
			st := healthpb.HealthCheckResponse_SERVING
			if !ok {
				st = healthpb.HealthCheckResponse_NOT_SERVING
				s.cfg.Log.Warn("not serving: the database cannot be reached", "err", err)
			} else {
				s.cfg.Log.Info("serving again: the database answers")
			}
			for _, name := range s.served {
				s.health.SetServingStatus(name, st)
			}
		}
	}
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "application/json")
	if s.cfg.Ready != nil {
		if err := s.cfg.Ready(ctx); err != nil {
			s.cfg.Log.Warn("health check failed", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"status":"unavailable"}`))
			return
		}
	}
	_, _ = w.Write([]byte(`{"status":"ok"}`))
}
