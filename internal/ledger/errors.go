package ledger

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Stores and services wrap them with detail (errors.Is
// still matches); the API layer turns each into one status code.
var (
	// ErrNotFound: the resource does not exist, or the caller may not see it.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: a unique key (registration id, document reference,
	// payment reference, request id) is taken by a different resource.
	ErrAlreadyExists = errors.New("already exists")
	// ErrStale: the caller's etag no longer matches; re-read and retry.
	ErrStale = errors.New("stale etag")
	// ErrFailedPrecondition: the request is well-formed but the resource's
	// state does not allow it (paying a cancelled invoice, for instance).
	ErrFailedPrecondition = errors.New("failed precondition")
	// ErrPermissionDenied: the caller may see the resource but not do
	// this to it (a debtor key naming another debtor, for instance).
	ErrPermissionDenied = errors.New("permission denied")
	// ErrConflict is a store-level signal that a concurrent transaction
	// changed the row being written; the service retries the transaction.
	ErrConflict = errors.New("concurrent update")
	// ErrUnavailable: the store cannot be reached or is not ready (e.g. an
	// unmigrated schema); the client may retry later.
	ErrUnavailable = errors.New("unavailable")
)

// FieldViolation names one invalid field by its path in the request (e.g.
// "invoice.amount.currency_code") and says what is wrong with it.
type FieldViolation struct {
	Field       string
	Description string
}

// ValidationError collects every problem with a request, so a client fixes
// them all in one round trip instead of one per call.
type ValidationError struct {
	Violations []FieldViolation
	// Omitted counts violations past MaxViolations, not listed.
	Omitted int
}

// MaxViolations bounds the violations listed: a request of a million bad
// entries would otherwise be answered with a message a hundred times its
// size.
const MaxViolations = 100

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Violations), len(e.Violations)+1)
	for i, v := range e.Violations {
		parts[i] = v.Field + ": " + v.Description
	}
	if e.Omitted > 0 {
		parts = append(parts, fmt.Sprintf("and %d more", e.Omitted))
	}
	return "invalid request: " + strings.Join(parts, "; ")
}

// Add records a violation of field. "is required" of a field refused
// already is dropped: a date the transport could not read reaches the
// domain's checks empty, and "is required" beside "2024-02 has no day 30"
// is false.
func (e *ValidationError) Add(field, format string, args ...any) {
	desc := fmt.Sprintf(format, args...)
	if desc == Required && e.Has(field) {
		return
	}
	if len(e.Violations) >= MaxViolations {
		e.Omitted++
		return
	}
	e.Violations = append(e.Violations, FieldViolation{Field: field, Description: desc})
}

// Required is the violation of a field left empty.
const Required = "is required"

// Has reports whether field is refused already.
func (e *ValidationError) Has(field string) bool {
	for _, v := range e.Violations {
		if v.Field == field {
			return true
		}
	}
	return false
}

// Renamed is e with each field renamed by name: the same problems, named
// as another request holds the values (a sync record's fields for
// CreateInvoice's checks, say). The count of those omitted is kept.
func (e *ValidationError) Renamed(name func(field string) string) *ValidationError {
	out := &ValidationError{Violations: make([]FieldViolation, len(e.Violations)), Omitted: e.Omitted}
	for i, v := range e.Violations {
		out.Violations[i] = FieldViolation{Field: name(v.Field), Description: v.Description}
	}
	return out
}

// Merge adds o's violations with each field prefixed by prefix (e.g.
// "invoice."), so domain checks that know only their own field names can be
// reported by their path in the request.
func (e *ValidationError) Merge(prefix string, o error) {
	var ve *ValidationError
	if o == nil {
		return
	}
	if !errors.As(o, &ve) {
		e.Add(strings.TrimSuffix(prefix, "."), "%v", o)
		return
	}
	for _, v := range ve.Violations {
		e.Add(prefix+v.Field, "%s", v.Description)
	}
	e.Omitted += ve.Omitted
}

// Err returns e if it holds any violation, nil otherwise.
func (e *ValidationError) Err() error {
	if len(e.Violations) == 0 {
		return nil
	}
	return e
}

// Invalid returns a ValidationError with one violation.
func Invalid(field, format string, args ...any) error {
	e := &ValidationError{}
	e.Add(field, format, args...)
	return e
}
