package service_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/arrears/arrears/internal/auth"
	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/clock"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/money"
	"github.com/arrears/arrears/internal/policy"
	"github.com/arrears/arrears/internal/service"
	"github.com/arrears/arrears/internal/store/pgtest"
	"github.com/arrears/arrears/internal/store/postgres"
)

// BenchmarkSyncChunkPostgres measures the sync of plain new invoices of
// known suppliers (the bulk path), per record, in chunks of 1000.
func BenchmarkSyncChunkPostgres(b *testing.B) {
	st, err := postgres.Open(context.Background(), pgtest.URL(b), quiet)
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
	if _, err := svc.CreateParty(ctx, &ledger.Party{DisplayName: "S", Kind: ledger.KindSME, SizeClass: ledger.SizeSmall, Jurisdiction: "CN",
		RegistrationID: "91110000600037341L", RegionCode: "110000"}, service.Idempotency{}); err != nil {
		b.Fatal(err)
	}
	cred := service.PartyRef{Jurisdiction: "CN", RegistrationID: "91110000600037341L"}
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(1000, b.N-done)
		recs := make([]service.SyncRecord, n)
		for i := range recs {
			k := done + i
			recs[i] = service.SyncRecord{Sequence: int64(k + 1), Creditor: cred,
				Invoice: &ledger.Invoice{DocumentRef: fmt.Sprintf("I-%d", k), Amount: money.Money{Minor: 100000, Currency: "CNY"},
					IssuedOn: civil.MustNew(2025, 7, 1), DeliveredOn: civil.MustNew(2025, 7, 1), AgreedTermDays: 60}}
		}
		t0 := time.Now()
		if _, _, err := svc.SyncChunk(ctx, d.ID, "bench", recs); err != nil {
			b.Fatal(err)
		}
		if done == 0 {
			b.Logf("first chunk of %d: %v", n, time.Since(t0))
		}
		done += n
	}
}
