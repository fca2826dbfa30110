package server

import (
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	arrearsv1 "github.com/arrears/arrears/gen/arrears/v1"
	"github.com/arrears/arrears/internal/auth"
)

// reportMethods judge every invoice in the caller's scope (or read a year
// of them): seconds of CPU each on a large ledger, where a read of one
// record takes microseconds. The rate limit counts calls, not their cost.
var reportMethods = map[string]bool{
	arrearsv1.OversightService_GetOverdueSummary_FullMethodName:        true,
	arrearsv1.OversightService_ExportOverdueSummary_FullMethodName:     true,
	arrearsv1.OversightService_GetWatchList_FullMethodName:             true,
	arrearsv1.OversightService_GetAnnualDisclosure_FullMethodName:      true,
	arrearsv1.OversightService_GetPaymentPracticeReport_FullMethodName: true,
	arrearsv1.SupplierService_GetComplaintStatistics_FullMethodName:    true,
}

// MaxReportsPerKey bounds the reports one API key has running at once, per
// replica: forty parallel detailed summaries of one supplier key over
// 400,000 invoices held both CPUs for two minutes, and other keys' light
// calls ran 10 to 100 times slower. A dashboard asks a few at once.
const MaxReportsPerKey = 4

// reports counts each key's reports running, shared by the public server's
// gate and the gateway's, so REST and gRPC calls count alike.
type reports struct {
	mu      sync.Mutex
	running map[string]int
}

func newReports() *reports { return &reports{running: map[string]int{}} }

// enter takes a report's place for the caller's key, or refuses it with
// RESOURCE_EXHAUSTED (HTTP 429) while the key has MaxReportsPerKey running;
// the release gives the place back. Other methods, and calls without a
// key (public ones), pass.
func (r *reports) enter(p *auth.Principal, method string) (release func(), err error) {
	if r == nil || p == nil || !reportMethods[method] {
		return func() {}, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running[p.Prefix] >= MaxReportsPerKey {
		st, _ := status.New(codes.ResourceExhausted, "this API key has as many reports running as it may at once; retry when one has finished").
			WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(time.Second)})
		return nil, st.Err()
	}
	r.running[p.Prefix]++
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.running[p.Prefix]--; r.running[p.Prefix] <= 0 {
			delete(r.running, p.Prefix)
		}
	}, nil
}
