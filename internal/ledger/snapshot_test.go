package ledger

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/money"
)

// TestAppendSnapshotIsJSONMarshal: the hand-written snapshot is byte for
// byte what json.Marshal writes, for random invoices whose strings need
// every kind of escape and whose dates and times are set or not.
func TestAppendSnapshotIsJSONMarshal(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	pieces := []string{"", "INV-1", "合同 2025/7", `quote " and \ back`, "<b>&amp;</b>", "tab\tnl\ncr\r", "\x00\x1f\x7f",
		"bad \xff utf8", "line\u2028sep\u2029", "€ 100", "emoji 🙂"}
	str := func() string { return pieces[rng.IntN(len(pieces))] + pieces[rng.IntN(len(pieces))] }
	date := func() civil.Date {
		if rng.IntN(3) == 0 {
			return civil.Date{}
		}
		return civil.Date{Year: 1900 + rng.IntN(300), Month: time.Month(1 + rng.IntN(12)), Day: 1 + rng.IntN(28)}
	}
	zones := []*time.Location{time.UTC, time.FixedZone("CST", 8*3600), time.FixedZone("odd", -(3*3600 + 30*60))}
	instant := func() time.Time {
		switch rng.IntN(4) {
		case 0:
			return time.Time{}
		case 1:
			return time.Now() // carries a monotonic reading
		}
		return time.Unix(rng.Int64N(4e9), rng.Int64N(1e9)).In(zones[rng.IntN(len(zones))])
	}
	num := func() int64 { return rng.Int64() - rng.Int64() }
	for i := range 5000 {
		inv := &Invoice{ID: uuid.New(), DebtorID: uuid.New(), DocumentRef: str(), ContractRef: str(),
			Amount: money.Money{Minor: num(), Currency: str()}, ContractSignedOn: date(), IssuedOn: date(), ReceivedOn: date(),
			DeliveredOn: date(), AcceptanceRequired: rng.IntN(2) == 0, AcceptancePeriodDays: int(num()),
			AcceptancePassedOn: date(), SettlementConfirmedOn: date(), AgreedTermDays: rng.IntN(400) - 200,
			AgreedDueDate: date(), CreditorSizeAtSigning: SizeClass(str()), Status: InvoiceStatus(str()), DueDate: date(),
			Credited: num(), Paid: num(), Disputed: num(), Contested: rng.IntN(5), CorrectedOn: date(), PolicyID: str(),
			PolicyVersion: rng.IntN(9), PolicyReason: str(), CancelledOn: date(), CancelReason: str(), Version: num(),
			CreateTime: instant(), UpdateTime: instant()}
		if i%3 == 0 {
			inv.CreditorID = uuid.New()
		}
		if rng.IntN(2) == 0 {
			inv.AgreedRate = &Rate{Percent: str(), PerDay: rng.IntN(2) == 0}
		}
		want, err := json.Marshal(inv)
		if err != nil {
			t.Fatal(err)
		}
		got, err := inv.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("invoice %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

// TestAppendSnapshotRefusesWhatJSONRefuses: a time json.Marshal cannot
// write is its error, not a snapshot.
func TestAppendSnapshotRefusesWhatJSONRefuses(t *testing.T) {
	inv := &Invoice{CreateTime: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	if _, err := inv.Snapshot(); err == nil {
		t.Fatal("a year past 9999 made a snapshot")
	}
}
