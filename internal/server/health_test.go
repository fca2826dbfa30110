package server

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	arrearsv1 "github.com/arrears/arrears/gen/arrears/v1"
	"github.com/arrears/arrears/internal/clock"
)

// TestHealthFollowsTheDatabase: the gRPC health service answers NOT_SERVING
// while Ready fails (the database unreachable) and SERVING again once it
// answers, as GET /healthz does.
func TestHealthFollowsTheDatabase(t *testing.T) {
	var down atomic.Bool
	ready := func(context.Context) error {
		if down.Load() {
			return errors.New("database unreachable")
		}
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := New(ctx, Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Ready: ready, HealthInterval: 10 * time.Millisecond,
		Clock: clock.NewFake(time.Now()), Log: slog.New(slog.DiscardHandler)},
		arrearsv1.UnimplementedLedgerServiceServer{}, arrearsv1.UnimplementedAccessServiceServer{}, arrearsv1.UnimplementedSupplierServiceServer{},
		arrearsv1.UnimplementedSyncServiceServer{}, arrearsv1.UnimplementedOversightServiceServer{})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx) }()
	defer func() { cancel(); <-served }()
	conn, err := grpc.NewClient(s.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)
	await := func(want healthpb.HealthCheckResponse_ServingStatus) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			all := true // the server as a whole, and a service of it
			for _, name := range []string{"", arrearsv1.LedgerService_ServiceDesc.ServiceName} {
				r, err := client.Check(context.Background(), &healthpb.HealthCheckRequest{Service: name})
				all = all && err == nil && r.Status == want
			}
			if all {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("health did not become %v", want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	await(healthpb.HealthCheckResponse_SERVING)
	down.Store(true)
	await(healthpb.HealthCheckResponse_NOT_SERVING)
	down.Store(false)
	await(healthpb.HealthCheckResponse_SERVING)
}
