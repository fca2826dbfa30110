package grpcapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	arrearsv1 "github.com/arrears/arrears/gen/arrears/v1"
	"github.com/arrears/arrears/internal/audit"
	"github.com/arrears/arrears/internal/auth"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/service"
)

// Access implements arrearsv1.AccessServiceServer.
type Access struct {
	arrearsv1.UnimplementedAccessServiceServer
	s *Server
}

// NewAccess returns the access service, sharing the ledger server's
// service, page tokens and logger.
func NewAccess(s *Server) *Access { return &Access{s: s} }

func keyToProto(k *auth.Key) *arrearsv1.ApiKey {
	out := &arrearsv1.ApiKey{
		Name:              "apiKeys/" + k.Prefix,
		Prefix:            k.Prefix,
		Role:              arrearsv1.Role(arrearsv1.Role_value["ROLE_"+string(k.Role)]),
		Description:       k.Description,
		RemitJurisdiction: k.Remit.Jurisdiction,
		RemitRegionPrefix: k.Remit.RegionPrefix,
		Portal:            k.Portal,
		ClientCertSha256:  k.ClientCertSHA256,
		ExpireTime:        timeToProto(k.ExpireTime),
		CreateTime:        timeToProto(k.CreateTime),
		RevokeTime:        timeToProto(k.RevokeTime),
	}
	for _, p := range k.Parties {
		out.Parties = append(out.Parties, partyName(p))
	}
	return out
}

func (a *Access) CreateApiKey(ctx context.Context, req *arrearsv1.CreateApiKeyRequest) (*arrearsv1.CreateApiKeyResponse, error) {
	const method = "CreateApiKey"
	var v ledger.ValidationError
	k := req.GetApiKey()
	if k == nil {
		v.Add("api_key", "is required")
		return nil, a.s.fail(ctx, method, "", v.Err())
	}
	spec := service.KeySpec{
		Role:        auth.Role(enumName(k.Role.String(), "ROLE_")),
		Description: strings.TrimSpace(k.Description),
		Remit:       auth.Remit{Jurisdiction: strings.ToUpper(strings.TrimSpace(k.RemitJurisdiction)), RegionPrefix: strings.ToUpper(strings.TrimSpace(k.RemitRegionPrefix))},
		Portal:      strings.TrimSpace(k.Portal),

		ClientCertSHA256: strings.ToLower(strings.TrimSpace(k.ClientCertSha256)),
	}
	for i, p := range k.Parties {
		spec.Parties = append(spec.Parties, parsePartyName(&v, fmt.Sprintf("api_key.parties[%d]", i), p))
	}
	if k.ExpireTime != nil {
		if err := k.ExpireTime.CheckValid(); err != nil {
			v.Add("api_key.expire_time", "%v", err)
		}
		spec.ExpireTime = k.ExpireTime.AsTime()
	}
	if err := v.Err(); err != nil {
		return nil, a.s.fail(ctx, method, "", err)
	}
	key, token, err := a.s.svc.CreateKey(ctx, spec)
	if err != nil {
		return nil, a.s.fail(ctx, method, "", err)
	}
	return &arrearsv1.CreateApiKeyResponse{ApiKey: keyToProto(key), Token: token}, nil
}

func (a *Access) ListApiKeys(ctx context.Context, req *arrearsv1.ListApiKeysRequest) (*arrearsv1.ListApiKeysResponse, error) {
	const method = "ListApiKeys"
	var v ledger.ValidationError
	size := pageSize(&v, req.PageSize)
	sc := scope(ctx, method, "", "")
	page := a.s.page(&v, sc, req.PageToken, size)
	if err := v.Err(); err != nil {
		return nil, a.s.fail(ctx, method, "", err)
	}
	rows, err := a.s.svc.ListKeys(ctx, page)
	if err != nil {
		return nil, a.s.fail(ctx, method, "", err)
	}
	rows, next := nextToken(a.s, sc, rows, size, func(k *auth.Key) uuid.UUID { return k.ID })
	out := &arrearsv1.ListApiKeysResponse{NextPageToken: next}
	for _, k := range rows {
		out.ApiKeys = append(out.ApiKeys, keyToProto(k))
	}
	return out, nil
}

func (a *Access) RevokeApiKey(ctx context.Context, req *arrearsv1.RevokeApiKeyRequest) (*arrearsv1.RevokeApiKeyResponse, error) {
	prefix, ok := strings.CutPrefix(req.Name, "apiKeys/")
	if !ok || !auth.ValidPrefix(prefix) {
		return nil, a.s.fail(ctx, "RevokeApiKey", "", badField("name", "%q is not of the form apiKeys/{prefix}", req.Name))
	}
	k, err := a.s.svc.RevokeKey(ctx, prefix)
	if err != nil {
		return nil, a.s.fail(ctx, "RevokeApiKey", req.Name, err)
	}
	return &arrearsv1.RevokeApiKeyResponse{ApiKey: keyToProto(k)}, nil
}

func (a *Access) AuthorizePortal(ctx context.Context, req *arrearsv1.AuthorizePortalRequest) (*arrearsv1.AuthorizePortalResponse, error) {
	var v ledger.ValidationError
	ref := parsePartyName(&v, "creditor", req.Creditor)
	if err := v.Err(); err != nil {
		return nil, a.s.fail(ctx, "AuthorizePortal", "", err)
	}
	if err := a.s.svc.AuthorizePortal(ctx, ref, strings.TrimSpace(req.Portal)); err != nil {
		return nil, a.s.fail(ctx, "AuthorizePortal", req.Creditor, err)
	}
	return &arrearsv1.AuthorizePortalResponse{}, nil
}

func (a *Access) RevokePortalAuthorization(ctx context.Context, req *arrearsv1.RevokePortalAuthorizationRequest) (*arrearsv1.RevokePortalAuthorizationResponse, error) {
	const method = "RevokePortalAuthorization"
	var v ledger.ValidationError
	ref := parsePartyName(&v, "creditor", req.Creditor)
	if err := v.Err(); err != nil {
		return nil, a.s.fail(ctx, method, "", err)
	}
	if err := a.s.svc.RevokePortal(ctx, ref, strings.TrimSpace(req.Portal)); err != nil {
		// Not found names the authorisation: the supplier may well exist.
		return nil, a.s.fail(ctx, method, fmt.Sprintf("the authorisation of portal %q for %s", strings.TrimSpace(req.Portal), req.Creditor), err)
	}
	return &arrearsv1.RevokePortalAuthorizationResponse{}, nil
}

// Feed page sizes.
const (
	defaultEventPage = 100
	maxEventPage     = 1000
)

func eventName(e *audit.Event) string {
	switch e.ResourceType {
	case "party", "portal_grant":
		return partyName(e.ResourceID)
	case "invoice", "escalation":
		// An escalation event's resource is its invoice.
		return invoiceName(e.ResourceID)
	case "claim":
		return claimName(e.ResourceID)
	case "complaint":
		return complaintName(e.ResourceID)
	case "credit_note":
		return "invoices/-/creditNotes/" + e.ResourceID.String()
	}
	// A payment, credit note, dispute or contest: the event carries its
	// own id, not its invoice's, so the parent is the AIP-159 wildcard "-".
	return "invoices/-/" + e.ResourceType + "s/" + e.ResourceID.String()
}

func (a *Access) ListEvents(ctx context.Context, req *arrearsv1.ListEventsRequest) (*arrearsv1.ListEventsResponse, error) {
	const method = "ListEvents"
	var v ledger.ValidationError
	size := int(req.PageSize)
	switch {
	case size < 0:
		v.Add("page_size", "must not be negative")
	case size == 0:
		size = defaultEventPage
	case size > maxEventPage:
		size = maxEventPage
	}
	// The cursor is sealed like a page token, bound to the caller.
	sc := scope(ctx, method, "", "")
	var after uuid.UUID
	if req.AfterCursor != "" {
		var err error
		if after, err = a.s.tokens.Decode(sc, req.AfterCursor); err != nil {
			v.Add("after_cursor", "is not a cursor this caller was given")
		}
	}
	if err := v.Err(); err != nil {
		return nil, a.s.fail(ctx, method, "", err)
	}
	evs, err := a.s.svc.ListEvents(ctx, after, size)
	if err != nil {
		return nil, a.s.fail(ctx, method, "", err)
	}
	out := &arrearsv1.ListEventsResponse{NextCursor: req.AfterCursor}
	prefixes := map[uuid.UUID]string{} // API keys are named by prefix
	for _, e := range evs {
		cursor := a.s.tokens.Encode(sc, e.EventID)
		name := eventName(e)
		if e.ResourceType == "api_key" {
			prefix, seen := prefixes[e.ResourceID]
			if !seen {
				var err error
				switch prefix, err = a.s.svc.KeyPrefix(ctx, e.ResourceID); {
				case errors.Is(err, ledger.ErrNotFound):
					// The key row is gone (audit verify reports it): the
					// feed names it by its id rather than stop here.
					prefix = e.ResourceID.String()
				case err != nil:
					return nil, a.s.fail(ctx, method, "", err)
				}
				prefixes[e.ResourceID] = prefix
			}
			name = "apiKeys/" + prefix
		}
		if e.ResourceType == "complaint_event" {
			// A line of a complaint's timeline, which its event names by
			// the line's id: named under the timeline it is on (which
			// lists it, under that name), the complaint as the audited
			// line itself says. Each line its own name: named by the
			// timeline alone, every line was revision 1 of one resource.
			var line struct {
				ComplaintID uuid.UUID `json:"complaint_id"`
			}
			if json.Unmarshal([]byte(e.Changes), &line) == nil && line.ComplaintID != uuid.Nil {
				name = complaintEventName(line.ComplaintID, e.ResourceID)
			} else {
				name = "complaints/-/events/" + e.ResourceID.String()
			}
		}
		out.Events = append(out.Events, &arrearsv1.Event{
			Cursor: cursor, RecordTime: timestamppb.New(e.RecordTime), Actor: e.Actor, Method: e.Method,
			Resource: name, Revision: e.Revision, ChangesJson: e.Changes, Chain: partyName(e.Chain),
			Sequence: e.Seq, Hash: e.Hash,
		})
		out.NextCursor = cursor
	}
	return out, nil
}

func (a *Access) GetAuditCheckpoint(ctx context.Context, _ *arrearsv1.GetAuditCheckpointRequest) (*arrearsv1.GetAuditCheckpointResponse, error) {
	cp, err := a.s.svc.LatestCheckpoint(ctx)
	if err != nil {
		return nil, a.s.fail(ctx, "GetAuditCheckpoint", "audit checkpoint", err)
	}
	return &arrearsv1.GetAuditCheckpointResponse{
		CreateTime: timestamppb.New(cp.CreateTime), ChainCount: cp.ChainCount, EventCount: cp.EventCount,
		HeadsDigest: cp.HeadsDigest, Signature: cp.Signature, PublicKey: cp.PublicKey, Statement: cp.Statement,
	}, nil
}
