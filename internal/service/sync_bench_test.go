package service_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/arrears/arrears/internal/auth"
	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/clock"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/money"
	"github.com/arrears/arrears/internal/policy"
	"github.com/arrears/arrears/internal/service"
	"github.com/arrears/arrears/internal/store/sqlite"
)

// BenchmarkSyncChunkSQLite measures the row-at-a-time sync path on the
// embedded store, per record (b.N records in chunks of 1000).
func BenchmarkSyncChunkSQLite(b *testing.B) {
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "l.db"), quiet, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	reg, _ := policy.Embedded()
	svc := service.New(st, clock.NewFake(time.Date(2025, 11, 20, 4, 0, 0, 0, time.UTC)), reg, quiet)
	ctx := auth.WithPrincipal(context.Background(), service.System)
	d, err := svc.CreateParty(ctx, &ledger.Party{DisplayName: "B", Kind: ledger.KindLargeEnterprise, Jurisdiction: "CN",
		RegistrationID: "91350100M000100Y43", RegionCode: "350100"}, service.Idempotency{})
	if err != nil {
		b.Fatal(err)
	}
	cred := service.PartyRef{Jurisdiction: "CN", RegistrationID: "91110000600037341L"}
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(1000, b.N-done)
		recs := make([]service.SyncRecord, n)
		for i := range recs {
			k := done + i
			recs[i] = service.SyncRecord{Sequence: int64(k + 1), Creditor: cred, CreditorName: "S", CreditorSize: ledger.SizeSmall,
				Invoice: &ledger.Invoice{DocumentRef: fmt.Sprintf("I-%d", k), Amount: money.Money{Minor: 100000, Currency: "CNY"},
					IssuedOn: civil.MustNew(2025, 7, 1), DeliveredOn: civil.MustNew(2025, 7, 1), AgreedTermDays: 60}}
			if k%5 == 0 {
				recs[i].Payments = []service.SyncPayment{{Payment: ledger.Payment{Reference: fmt.Sprintf("P-%d", k), Amount: 100, Currency: "CNY", PaidOn: civil.MustNew(2025, 9, 1)}}}
			}
		}
		if _, _, err := svc.SyncChunk(ctx, d.ID, "bench", recs); err != nil {
			b.Fatal(err)
		}
		done += n
	}
}
