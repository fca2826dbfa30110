package service

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/money"
)

// TestOwnSnapshotCoversOwnFields: decoding a snapshot through ownSnapshot
// gives every one of ownFields, each set to a value unlike its zero, so a
// field added to one list and not the other fails here.
func TestOwnSnapshotCoversOwnFields(t *testing.T) {
	d := civil.MustNew(2025, 3, 4)
	inv := ledger.Invoice{ContractRef: "C", Amount: money.Money{Minor: 5, Currency: "CNY"}, ContractSignedOn: d, IssuedOn: d.AddDays(1),
		ReceivedOn: d.AddDays(2), DeliveredOn: d.AddDays(3), AcceptanceRequired: true, AcceptancePeriodDays: 7,
		AcceptancePassedOn: d.AddDays(4), SettlementConfirmedOn: d.AddDays(5), AgreedTermDays: 30, AgreedDueDate: d.AddDays(40),
		AgreedRate: &ledger.Rate{Percent: "0.05", PerDay: true}, CreditorSizeAtSigning: ledger.SizeSmall,
		PolicyID: "P", PolicyVersion: 2, PolicyReason: "why"}
	for i, f := range ownFields(&inv) {
		if reflect.ValueOf(f).Elem().IsZero() {
			t.Fatalf("own field %d is zero in the sample: give it a value", i)
		}
	}
	snap, err := json.Marshal(inv)
	if err != nil {
		t.Fatal(err)
	}
	var own ownSnapshot
	if err := json.Unmarshal(snap, &own); err != nil {
		t.Fatal(err)
	}
	var got ledger.Invoice
	own.into(&got)
	want, have := ownFields(&inv), ownFields(&got)
	for i := range want {
		if !reflect.DeepEqual(reflect.ValueOf(want[i]).Elem().Interface(), reflect.ValueOf(have[i]).Elem().Interface()) {
			t.Errorf("own field %d: got %v, want %v", i, reflect.ValueOf(have[i]).Elem(), reflect.ValueOf(want[i]).Elem())
		}
	}
	if n := reflect.TypeOf(own).NumField(); n != len(want) {
		t.Errorf("ownSnapshot has %d fields, ownFields %d", n, len(want))
	}
}
