// Package grpcapi is the gRPC face of the ledger: it validates each request
// (naming the offending field), converts wire messages to domain records,
// calls the service, and maps every error to a status in one place
// (errors.go). REST reaches the same handlers through the gateway.
package grpcapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"slices"
	"strings"
	"unicode"

	"github.com/google/uuid"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	arrearsv1 "github.com/arrears/arrears/gen/arrears/v1"
	"github.com/arrears/arrears/internal/auth"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/pagetoken"
	"github.com/arrears/arrears/internal/service"
)

// Server implements arrearsv1.LedgerServiceServer.
type Server struct {
	arrearsv1.UnimplementedLedgerServiceServer
	svc    *service.Ledger
	tokens *pagetoken.Codec
	log    *slog.Logger
}

// New returns the gRPC service. secret keys the page tokens; every replica
// must use the same one (the store's "page-token" secret).
func New(svc *service.Ledger, secret []byte, log *slog.Logger) *Server {
	return &Server{svc: svc, tokens: pagetoken.New(secret), log: log}
}

// fail maps err for method; resource names what was addressed.
func (s *Server) fail(ctx context.Context, method, resource string, err error) error {
	return toStatus(ctx, s.log, method, resource, err)
}

// idempotency derives the key and request digest of a create request with
// an optional request_id.
// The key includes the caller's key, so two callers never share request ids.
func idempotency(ctx context.Context, v *ledger.ValidationError, method, requestID string, req proto.Message) service.Idempotency {
	if requestID == "" {
		return service.Idempotency{}
	}
	if len(requestID) > 128 {
		v.Add("request_id", "is %d characters long, at most 128 are allowed", len(requestID))
	}
	for _, r := range requestID {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			v.Add("request_id", "must be printable characters without spaces")
			break
		}
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(req)
	if err != nil {
		v.Add("request_id", "request cannot be hashed: %v", err)
	}
	sum := sha256.Sum256(b)
	return service.Idempotency{Key: method + "/" + callerKey(ctx) + "/" + requestID, Hash: hex.EncodeToString(sum[:])}
}

func (s *Server) CreateParty(ctx context.Context, req *arrearsv1.CreatePartyRequest) (*arrearsv1.CreatePartyResponse, error) {
	const method = "CreateParty"
	var v ledger.ValidationError
	if req.Party == nil {
		v.Add("party", "is required")
	}
	idem := idempotency(ctx, &v, method, req.RequestId, req)
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, method, "", err)
	}
	p, err := s.svc.CreateParty(ctx, partyFromProto(req.Party), idem)
	if err != nil {
		return nil, s.fail(ctx, method, "", err)
	}
	return &arrearsv1.CreatePartyResponse{Party: partyToProto(p)}, nil
}

func (s *Server) GetParty(ctx context.Context, req *arrearsv1.GetPartyRequest) (*arrearsv1.GetPartyResponse, error) {
	var v ledger.ValidationError
	ref := parsePartyName(&v, "name", req.Name)
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, "GetParty", "", err)
	}
	p, err := s.svc.GetParty(ctx, ref)
	if err != nil {
		return nil, s.fail(ctx, "GetParty", req.Name, err)
	}
	return &arrearsv1.GetPartyResponse{Party: partyToProto(p)}, nil
}

func (s *Server) ListParties(ctx context.Context, req *arrearsv1.ListPartiesRequest) (*arrearsv1.ListPartiesResponse, error) {
	const method = "ListParties"
	var v ledger.ValidationError
	size := pageSize(&v, req.PageSize)
	sc := scope(ctx, method, "", req.Filter)
	q := partyQuery(parseFilter(&v, req.Filter, partyFields))
	q.Page = s.page(&v, sc, req.PageToken, size)
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, method, "", err)
	}
	rows, err := s.svc.ListParties(ctx, q)
	if err != nil {
		return nil, s.fail(ctx, method, "", err)
	}
	rows, next := nextToken(s, sc, rows, size, func(p *ledger.Party) uuid.UUID { return p.ID })
	out := &arrearsv1.ListPartiesResponse{NextPageToken: next}
	for _, p := range rows {
		out.Parties = append(out.Parties, partyToProto(p))
	}
	return out, nil
}

func (s *Server) UpdateParty(ctx context.Context, req *arrearsv1.UpdatePartyRequest) (*arrearsv1.UpdatePartyResponse, error) {
	const method = "UpdateParty"
	var v ledger.ValidationError
	if req.Party == nil {
		v.Add("party", "is required")
		return nil, s.fail(ctx, method, "", v.Err())
	}
	ref := parsePartyName(&v, "party.name", req.Party.Name)
	mask := maskPaths(req.GetUpdateMask())
	patch := partyFromProto(req.Party)
	if slices.Contains(mask, "verification_state") {
		switch req.Party.VerificationState {
		case arrearsv1.VerificationState_VERIFICATION_STATE_VERIFIED:
		case arrearsv1.VerificationState_VERIFICATION_STATE_UNVERIFIED:
			patch.Unverified = true
		default:
			v.Add("party.verification_state", "must be VERIFICATION_STATE_VERIFIED or VERIFICATION_STATE_UNVERIFIED")
		}
	}
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, method, "", err)
	}
	p, err := s.svc.UpdateParty(ctx, ref, patch, mask, req.Party.Etag)
	if err != nil {
		return nil, s.fail(ctx, method, req.Party.Name, err)
	}
	return &arrearsv1.UpdatePartyResponse{Party: partyToProto(p)}, nil
}

// callerKey identifies the caller's API key, binding idempotency keys and
// page tokens to it.
func callerKey(ctx context.Context) string {
	if p := auth.FromContext(ctx); p != nil {
		return p.KeyID.String()
	}
	return "-"
}

// reauthenticate checks that the key a long-lived stream was opened with
// is still valid.
func (s *Server) reauthenticate(ctx context.Context) error {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("authorization"); len(v) == 1 {
		if t, ok := strings.CutPrefix(v[0], "Bearer "); ok {
			p, err := s.svc.Authenticate(ctx, strings.TrimSpace(t))
			if err != nil {
				return s.fail(ctx, "SyncPayables", "", err)
			}
			// The key checked must be the one the stream runs as.
			if cur := auth.FromContext(ctx); cur != nil && cur.KeyID != p.KeyID {
				return s.fail(ctx, "SyncPayables", "", auth.ErrUnauthenticated)
			}
			return nil
		}
	}
	return s.fail(ctx, "SyncPayables", "", auth.ErrUnauthenticated)
}
