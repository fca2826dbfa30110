package server

import "testing"

// TestAllowedFromTheAPIDocument: the methods a path is served for, read
// from the OpenAPI document's templates and their parameters' patterns.
func TestAllowedFromTheAPIDocument(t *testing.T) {
	for path, want := range map[string]string{
		"/v1/invoices": "GET, HEAD, POST",
		"/v1/parties/0193a2b4-7c1d-7e2f-8a3b-4c5d6e7f8091":           "GET, HEAD, PATCH",
		"/v1/invoices/0193a2b4-7c1d-7e2f-8a3b-4c5d6e7f8091/payments": "GET, HEAD, POST",
		"/v1/invoices/x/payments/y/revisions":                        "GET, HEAD",
		"/v1/nowhere":                                                "",
	} {
		if got := allowed(path); got != want {
			t.Errorf("allowed(%s) = %q, want %q", path, got, want)
		}
	}
}
