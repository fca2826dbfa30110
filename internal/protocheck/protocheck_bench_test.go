package protocheck

import (
	"testing"

	arrearsv1 "github.com/arrears/arrears/gen/arrears/v1"
)

// BenchmarkNULRecord: the check every sync record passes.
func BenchmarkNULRecord(b *testing.B) {
	r := &arrearsv1.PayableRecord{Sequence: 1, DocumentRef: "ERP-000001", Creditor: "parties/CN:92350121MA0TY0001X", CreditorName: "Supplier 1",
		Amount: &arrearsv1.Money{CurrencyCode: "CNY", MinorUnits: 100000}, ContractSignedOn: &arrearsv1.Date{Year: 2025, Month: 6, Day: 1},
		IssuedOn: &arrearsv1.Date{Year: 2025, Month: 7, Day: 1}, DeliveredOn: &arrearsv1.Date{Year: 2025, Month: 7, Day: 1}, AgreedTermDays: 60}
	b.ReportAllocs()
	for b.Loop() {
		if NUL(r.ProtoReflect()) != "" {
			b.Fatal()
		}
	}
}
