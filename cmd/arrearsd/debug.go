package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/arrears/arrears/internal/metrics"
)

// serveDebug serves Go's profiler on its own listener, apart from the API
// ports: profiles expose internals and cost CPU, so an operator opts in and
// binds it where only they can reach it. It stops with ctx.
func serveDebug(ctx context.Context, addr string, log *slog.Logger) error {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	// Not /debug/pprof/cmdline: the command line may hold -database-url
	// with its password.
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return serveOps(ctx, addr, "the profiler", mux, log)
}

// serveMetrics serves the metrics for Prometheus at /metrics on their own
// listener, apart from the API ports: a scraper needs no API key, and the
// figures (methods, counts, pool sizes) are an operator's, not a client's.
func serveMetrics(ctx context.Context, addr string, m *metrics.Registry, log *slog.Logger) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	return serveOps(ctx, addr, "metrics", mux, log)
}

// serveOps serves an operator's endpoint (what) on its own listener until
// ctx is done.
func serveOps(ctx context.Context, addr, what string, h http.Handler, log *slog.Logger) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen for %s on %s: %w", what, addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	go func() {
		if err := srv.Serve(lis); err != nil && err != http.ErrServerClosed {
			log.Warn("serving "+what, "err", err)
		}
	}()
	log.Info("serving "+what, "addr", lis.Addr().String())
	return nil
}
