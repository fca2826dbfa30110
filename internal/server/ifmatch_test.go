package server

import (
	"context"
	"net/http/httptest"
	"testing"

	"google.golang.org/protobuf/proto"

	arrearsv1 "github.com/arrears/arrears/gen/arrears/v1"
)

// TestETagOnlyForOneResource: an answer that is one resource carries its
// etag; one holding two (a created credit note with its invoice) carries
// none, nor does a stream's call without a message.
func TestETagOnlyForOneResource(t *testing.T) {
	for _, tc := range []struct {
		name string
		resp proto.Message
		want string
	}{
		{"one invoice", &arrearsv1.GetInvoiceResponse{Invoice: &arrearsv1.Invoice{Etag: "3"}}, `"3"`},
		{"a credit note and its invoice", &arrearsv1.CreateCreditNoteResponse{CreditNote: &arrearsv1.CreditNote{}, Invoice: &arrearsv1.Invoice{Etag: "4"}}, ""},
		{"no message", nil, ""},
	} {
		w := httptest.NewRecorder()
		if err := etagHeader(context.Background(), w, tc.resp); err != nil || w.Header().Get("ETag") != tc.want {
			t.Errorf("%s: ETag %q, %v; want %q", tc.name, w.Header().Get("ETag"), err, tc.want)
		}
	}
}
