package main

import (
	"context"
	"log/slog"

	"github.com/arrears/arrears/internal/demo"
	"github.com/arrears/arrears/internal/service"
)

// loadDemo adds the demo data set's parties and invoices not already there.
func loadDemo(ctx context.Context, svc *service.Ledger, log *slog.Logger) error {
	n, err := demo.Load(ctx, svc)
	if err != nil {
		return err
	}
	if n > 0 {
		log.Info("loaded the demo ledger", "invoices", n)
	} else {
		log.Info("demo ledger already loaded")
	}
	return nil
}
