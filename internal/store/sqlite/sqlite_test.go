package sqlite_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/arrears/arrears/internal/store"
	"github.com/arrears/arrears/internal/store/sqlite"
	"github.com/arrears/arrears/internal/store/storetest"
)

// The SQLite engine runs the whole conformance suite on a real file per test;
// it skips nothing.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "ledger.db"), slog.Default(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestReopenKeepsDataAndSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	s, err := sqlite.Open(ctx, path, slog.Default(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Secret(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = sqlite.Open(ctx, path, slog.Default(), time.Now())
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	b, err := s.Secret(ctx, "k")
	if err != nil || string(a) != string(b) {
		t.Errorf("secret after reopen = %x, %v; want %x", b, err, a)
	}
}
