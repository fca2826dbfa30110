package ledger

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
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
	invs := randomInvoices(5000, escapes)
	for i, inv := range invs {
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

// Pieces of the strings of random invoices: escapes has every kind of
// escape json.Marshal writes (and none), plain none at all.
var (
	escapes = []string{"", "INV-1", "合同 2025/7", `quote " and \ back`, "<b>&amp;</b>", "tab\tnl\ncr\r", "\x00\x1f\x7f",
		"bad \xff utf8", "line\u2028sep\u2029", "€ 100", "emoji 🙂", "plain", "ASCII only"}
	plain = []string{"", "INV-1", "合同 2025/7", "€ 100", "emoji 🙂", "plain", "ASCII only", "a/b-c_d.e"}
)

// randomInvoices makes n invoices whose strings are made of pieces, and
// whose dates and times are set or not.
func randomInvoices(n int, pieces []string) []*Invoice {
	rng := rand.New(rand.NewPCG(7, 11))
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
	out := make([]*Invoice, n)
	for i := range out {
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
		out[i] = inv
	}
	return out
}

// TestReadSnapshotIsJSONUnmarshal: ReadSnapshot decodes what json.Unmarshal
// decodes, from snapshots AppendSnapshot wrote (by hand where it can: most
// of them), from older snapshots without the later fields, and from JSON
// in other forms; and it refuses what json.Unmarshal refuses.
func TestReadSnapshotIsJSONUnmarshal(t *testing.T) {
	var inputs [][]byte
	for _, inv := range append(randomInvoices(2000, escapes), randomInvoices(2000, plain)...) {
		snap, err := inv.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, snap)
	}
	one := &Invoice{ID: uuid.New(), DocumentRef: "A-1", Amount: money.Money{Minor: 5, Currency: "CNY"}, Status: StatusOpen,
		CreateTime: time.Date(2025, 7, 1, 8, 0, 0, 0, time.UTC), Contested: 2, CorrectedOn: civil.MustNew(2025, 8, 1)}
	snap, err := one.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	older := bytes.Replace(bytes.Replace(snap, []byte(`"contested":2,`), nil, 1), []byte(`"corrected_on":"2025-08-01",`), nil, 1)
	inputs = append(inputs, older,
		bytes.Replace(snap, []byte(`,"status"`), []byte(`, "status"`), 1),  // a space
		bytes.Replace(snap, []byte(`"id":`), []byte(`"extra":1,"id":`), 1), // a key of another version
		bytes.Replace(snap, []byte(`"minor":5`), []byte(`"minor":5.5`), 1), // not an integer
		bytes.Replace(snap, []byte(`"minor":5`), []byte(`"minor":05`), 1),  // not JSON
		bytes.Replace(snap, []byte(`"A-1"`), []byte("\"A-\xff\""), 1),      // raw invalid UTF-8, which json replaces
		append(bytes.Clone(snap), '}'), snap[:len(snap)-1], []byte("null"), []byte(`{}`))
	fast := 0
	for i, in := range inputs {
		var want Invoice
		wantErr := json.Unmarshal(in, &want)
		var got Invoice
		gotErr := ReadSnapshot(in, &got)
		if (gotErr != nil) != (wantErr != nil) {
			t.Fatalf("input %d %s: error %v, json.Unmarshal's %v", i, in, gotErr, wantErr)
		}
		if wantErr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("input %d %s:\n got %+v\nwant %+v", i, in, got, want)
		}
		var probe Invoice
		if readSnapshot(in, &probe) {
			fast++
		}
	}
	if fast < 1500 || !readSnapshot(older, new(Invoice)) {
		t.Fatalf("read by hand: %d of %d inputs (the older snapshot: %v)", fast, len(inputs), readSnapshot(older, new(Invoice)))
	}
	t.Logf("read by hand: %d of %d inputs", fast, len(inputs))
}

// TestAppendSnapshotRefusesWhatJSONRefuses: a time json.Marshal cannot
// write is its error, not a snapshot.
func TestAppendSnapshotRefusesWhatJSONRefuses(t *testing.T) {
	inv := &Invoice{CreateTime: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	if _, err := inv.Snapshot(); err == nil {
		t.Fatal("a year past 9999 made a snapshot")
	}
}
