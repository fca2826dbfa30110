package demo_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/arrears/arrears/internal/auth"
	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/clock"
	"github.com/arrears/arrears/internal/demo"
	"github.com/arrears/arrears/internal/policy"
	"github.com/arrears/arrears/internal/service"
	"github.com/arrears/arrears/internal/store"
	"github.com/arrears/arrears/internal/store/sqlite"
)

// TestLoadTwice: the demo ledger loads into an empty store, every invoice
// judged; loaded again (a restart with -demo) it adds nothing and says so.
func TestLoadTwice(t *testing.T) {
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	clk := clock.NewFake(time.Date(2026, 3, 2, 4, 0, 0, 0, time.UTC))
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ledger.db"), quiet, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	reg, err := policy.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	svc := service.New(s, clk, reg, quiet)
	n, err := demo.Load(ctx, svc)
	if err != nil || n == 0 {
		t.Fatalf("first load: %d invoices, %v", n, err)
	}
	admin := auth.WithPrincipal(ctx, service.System)
	js, _, err := svc.ListJudged(admin, store.InvoiceQuery{}, 1000, civil.Date{}, time.Time{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(js) != n {
		t.Errorf("the ledger holds %d invoices, the load said %d", len(js), n)
	}
	for _, j := range js {
		for _, f := range j.Judgement.Findings {
			if f.Code == "JUDGEMENT_UNAVAILABLE" || f.Code == "INTEREST_UNAVAILABLE" {
				t.Errorf("invoice %s: %s", j.Invoice.DocumentRef, f.Message)
			}
		}
	}
	clk.Advance(time.Minute)
	if again, err := demo.Load(ctx, svc); err != nil || again != 0 {
		t.Errorf("second load: %d invoices, %v; want none added", again, err)
	}
	if js2, _, err := svc.ListJudged(admin, store.InvoiceQuery{}, 1000, civil.Date{}, time.Time{}, nil); err != nil || len(js2) != n {
		t.Errorf("after the second load: %d invoices, %v; want %d", len(js2), err, n)
	}
}
