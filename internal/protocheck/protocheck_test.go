package protocheck

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	arrearsv1 "github.com/arrears/arrears/gen/arrears/v1"
)

func TestNULNamesTheField(t *testing.T) {
	rec := func(edit func(*arrearsv1.PayableRecord)) proto.Message {
		r := &arrearsv1.PayableRecord{DocumentRef: "INV-1", Payments: []*arrearsv1.PayablePayment{{Reference: "P-1"}, {Reference: "P-2"}}}
		edit(r)
		return &arrearsv1.SyncPayablesBatchRequest{Records: []*arrearsv1.PayableRecord{{DocumentRef: "INV-0"}, r}}
	}
	nested, _ := structpb.NewStruct(map[string]any{"a": "fine", "b": map[string]any{"c": []any{"x", "y\x00"}}})
	badKey, _ := structpb.NewStruct(map[string]any{"k\x00": "v"})
	for _, c := range []struct {
		m    proto.Message
		want string
	}{
		{rec(func(*arrearsv1.PayableRecord) {}), ""},
		{rec(func(r *arrearsv1.PayableRecord) { r.DocumentRef = "\x00" }), "records[1].document_ref"},
		{rec(func(r *arrearsv1.PayableRecord) { r.Payments[1].Reference = "P\x002" }), "records[1].payments[1].reference"},
		{rec(func(r *arrearsv1.PayableRecord) { r.Amount = &arrearsv1.Money{CurrencyCode: "CN\x00"} }), "records[1].amount.currency_code"},
		{&arrearsv1.CreateInvoiceRequest{RequestId: "a\x00"}, "request_id"},
		{nested, `fields["b"].struct_value.fields["c"].list_value.values[1].string_value`},
		{badKey, `fields["k\x00"]`},
	} {
		if got := NUL(c.m.ProtoReflect()); got != c.want {
			t.Errorf("NUL(%v) = %q, want %q", c.m, got, c.want)
		}
	}
}
