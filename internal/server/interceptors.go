package server

import (
	"context"
	"log/slog"
	"runtime/debug"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/arrears/arrears/internal/metrics"
)

// logUnary writes one structured line per call: method, code, duration.
// logUnary and logStream log every call and count it in the metrics (m,
// nil for none) under transport: "grpc" for the public server, "rest" for
// the gateway's.
func logUnary(log *slog.Logger, m *metrics.Registry, transport string) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := handler(ctx, req)
		logCall(ctx, log, m, transport, info.FullMethod, start, err)
		return resp, err
	}
}

func logStream(log *slog.Logger, m *metrics.Registry, transport string) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		start := time.Now()
		err := handler(srv, ss)
		logCall(ss.Context(), log, m, transport, info.FullMethod, start, err)
		return err
	}
}

func logCall(ctx context.Context, log *slog.Logger, m *metrics.Registry, transport, method string, start time.Time, err error) {
	code := status.Code(err)
	m.Call(transport, method, code, time.Since(start))
	level := slog.LevelInfo
	switch code {
	case codes.Internal, codes.Unknown, codes.DataLoss:
		level = slog.LevelError
	case codes.Unavailable, codes.Aborted, codes.ResourceExhausted:
		level = slog.LevelWarn
	}
	log.Log(ctx, level, "rpc", "method", method, "code", code.String(), "duration_ms", float64(time.Since(start).Microseconds())/1000)
}

// boundUnary gives a unary call at most d to run. A client that sets no
// deadline (curl and most REST clients, many gRPC ones) or a later one
// would otherwise hold a database connection, and perhaps a transaction's
// locks, for as long as a slow query takes. A shorter deadline of the
// client's own stands. Streams are not bounded here: a sync runs as long as
// its records last, bounded per chunk by the store's transaction limit.
func boundUnary(d time.Duration) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if d <= 0 {
			return handler(ctx, req)
		}
		ctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		return handler(ctx, req)
	}
}

// recoverUnary turns a panic in a handler into INTERNAL for that call
// instead of killing the process, and logs the stack.
func recoverUnary(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if r := recover(); r != nil {
				log.ErrorContext(ctx, "panic in handler", "method", info.FullMethod, "panic", r, "stack", string(debug.Stack()))
				err = status.Error(codes.Internal, "internal error")
			}
		}()
		return handler(ctx, req)
	}
}

func recoverStream(log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
		defer func() {
			if r := recover(); r != nil {
				log.ErrorContext(ss.Context(), "panic in handler", "method", info.FullMethod, "panic", r, "stack", string(debug.Stack()))
				err = status.Error(codes.Internal, "internal error")
			}
		}()
		return handler(srv, ss)
	}
}
