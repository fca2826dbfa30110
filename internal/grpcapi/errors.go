package grpcapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/arrears/arrears/internal/auth"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/pagetoken"
)

// toStatus is the one place where errors become gRPC statuses (and, through
// the gateway, HTTP codes). Domain errors keep their message, which the
// service wrote for clients; anything else is logged with its detail and the
// client sees a generic message, never driver text.
// resource names what the request addressed, for NOT_FOUND messages.
func toStatus(ctx context.Context, log *slog.Logger, method, resource string, err error) error {
	var ve *ledger.ValidationError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ve):
		return invalid(ve)
	case errors.Is(err, ledger.ErrNotFound):
		if resource == "" {
			return status.Error(codes.NotFound, "not found")
		}
		return status.Error(codes.NotFound, resource+" not found")
	case errors.Is(err, ledger.ErrAlreadyExists):
		return status.Error(codes.AlreadyExists, clientMessage(err, "already exists"))
	case errors.Is(err, ledger.ErrStale):
		return status.Error(codes.Aborted, clientMessage(err, "stale etag"))
	case errors.Is(err, ledger.ErrPermissionDenied):
		return status.Error(codes.PermissionDenied, clientMessage(err, "permission denied"))
	case errors.Is(err, auth.ErrUnauthenticated):
		return status.Error(codes.Unauthenticated, "missing, invalid, expired or revoked API key")
	case errors.Is(err, ledger.ErrFailedPrecondition):
		return status.Error(codes.FailedPrecondition, clientMessage(err, "failed precondition"))
	case errors.Is(err, ledger.ErrConflict):
		log.WarnContext(ctx, "transaction conflict", "method", method, "err", err)
		return status.Error(codes.Aborted, "the request conflicted with a concurrent change; retry it")
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "request canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	case errors.Is(err, ledger.ErrUnavailable):
		log.ErrorContext(ctx, "store unavailable", "method", method, "err", err)
		return status.Error(codes.Unavailable, "the ledger database is unavailable; retry later")
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	log.ErrorContext(ctx, "internal error", "method", method, "err", err)
	return status.Error(codes.Internal, "internal error")
}

// clientMessage keeps only what the service wrote for the client. Domain
// errors are built as "sentinel: explanation"; store errors that carry
// driver detail never reach here with a sentinel other than the ones whose
// messages the service composed.
func clientMessage(err error, fallback string) string {
	msg := err.Error()
	if msg == "" {
		return fallback
	}
	return msg
}

// invalid turns violations into InvalidArgument with google.rpc.BadRequest
// details; the gateway renders the same details in the HTTP 400 body.
func invalid(ve *ledger.ValidationError) error {
	br := &errdetails.BadRequest{}
	for _, v := range ve.Violations {
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: v.Field, Description: v.Description})
	}
	if ve.Omitted > 0 {
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: "request",
			Description: fmt.Sprintf("%d more violations, not listed", ve.Omitted)})
	}
	st, err := status.New(codes.InvalidArgument, ve.Error()).WithDetails(br)
	if err != nil {
		return status.Error(codes.InvalidArgument, ve.Error())
	}
	return st.Err()
}

// badField is a single-violation InvalidArgument.
func badField(field, format string, args ...any) error {
	return ledger.Invalid(field, format, args...)
}

// pageTokenError reports a token that does not belong to the query.
func pageTokenError() error {
	return badField("page_token", "%s", pagetoken.ErrInvalid.Error())
}

func errorsIsNotFound(err error) bool { return errors.Is(err, ledger.ErrNotFound) }
