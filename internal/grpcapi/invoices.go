package grpcapi

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	arrearsv1 "github.com/arrears/arrears/gen/arrears/v1"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/service"
)

func (s *Server) CreateInvoice(ctx context.Context, req *arrearsv1.CreateInvoiceRequest) (*arrearsv1.CreateInvoiceResponse, error) {
	const method = "CreateInvoice"
	var v ledger.ValidationError
	if req.Invoice == nil {
		v.Add("invoice", "is required")
		return nil, s.fail(ctx, method, "", v.Err())
	}
	in := service.CreateInvoiceInput{
		Invoice:  invoiceFromProto(&v, req.Invoice),
		Debtor:   parsePartyName(&v, "invoice.debtor", req.Invoice.Debtor),
		Creditor: parsePartyName(&v, "invoice.creditor", req.Invoice.Creditor),
		Idem:     idempotency(ctx, &v, method, req.RequestId, req),
		Policy:   strings.TrimSpace(req.Invoice.Policy),
	}
	in.Problems = v
	inv, err := s.svc.CreateInvoice(ctx, in)
	if err != nil {
		return nil, s.fail(ctx, method, "", err)
	}
	return &arrearsv1.CreateInvoiceResponse{Invoice: invoiceToProto(inv)}, nil
}

func (s *Server) GetInvoice(ctx context.Context, req *arrearsv1.GetInvoiceRequest) (*arrearsv1.GetInvoiceResponse, error) {
	var v ledger.ValidationError
	id := parseID(&v, "name", req.Name, "invoices")
	asOf := judgedDateFromProto(&v, "as_of", req.AsOf, s.svc.Now())
	knownAt := knownAtFromProto(&v, "known_at", req.KnownAt, s.svc.Now())
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, "GetInvoice", "", err)
	}
	j, err := s.svc.JudgeInvoice(ctx, id, asOf, knownAt)
	if err != nil {
		return nil, s.fail(ctx, "GetInvoice", req.Name, err)
	}
	return &arrearsv1.GetInvoiceResponse{Invoice: judgedToProto(j)}, nil
}

func (s *Server) ListInvoices(ctx context.Context, req *arrearsv1.ListInvoicesRequest) (*arrearsv1.ListInvoicesResponse, error) {
	const method = "ListInvoices"
	var v ledger.ValidationError
	size := pageSize(&v, req.PageSize)
	sc := scope(ctx, method, "", req.Filter+"\x00"+protoDateKey(req.AsOf)+"\x00"+req.GetKnownAt().AsTime().String())
	conds := parseFilter(&v, req.Filter, invoiceFields)
	q := invoiceQueryBase(conds)
	judged := judgementFilters(conds)
	asOf := judgedDateFromProto(&v, "as_of", req.AsOf, s.svc.Now())
	knownAt := knownAtFromProto(&v, "known_at", req.KnownAt, s.svc.Now())
	q.Page = s.page(&v, sc, req.PageToken, size)
	// Party conditions name parties as clients know them; resolve each.
	// A name that resolves to nothing matches no invoice.
	for _, c := range conds {
		if c.Field != "debtor" && c.Field != "creditor" {
			continue
		}
		ref := parsePartyName(&v, "filter", c.Value)
		if v.Err() != nil {
			break
		}
		p, err := s.svc.ResolveParty(ctx, ref)
		id := uuid.Max // no party has it
		if err == nil {
			id = p.ID
		} else if !errorsIsNotFound(err) {
			return nil, s.fail(ctx, method, "", err)
		}
		if c.Field == "debtor" {
			narrowTo(&q.DebtorID, id)
		} else {
			narrowTo(&q.CreditorID, id)
		}
	}
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, method, "", err)
	}
	rows, last, err := s.svc.ListJudged(ctx, q, size, asOf, knownAt, judged)
	if err != nil {
		return nil, s.fail(ctx, method, "", err)
	}
	out := &arrearsv1.ListInvoicesResponse{}
	if last != uuid.Nil {
		out.NextPageToken = s.tokens.Encode(sc, last)
	}
	for _, j := range rows {
		out.Invoices = append(out.Invoices, judgedToProto(j))
	}
	return out, nil
}

func (s *Server) UpdateInvoice(ctx context.Context, req *arrearsv1.UpdateInvoiceRequest) (*arrearsv1.UpdateInvoiceResponse, error) {
	const method = "UpdateInvoice"
	var v ledger.ValidationError
	if req.Invoice == nil {
		v.Add("invoice", "is required")
		return nil, s.fail(ctx, method, "", v.Err())
	}
	id := parseID(&v, "invoice.name", req.Invoice.Name, "invoices")
	patch := invoiceFromProto(&v, req.Invoice)
	effective := dateFromProto(&v, "effective_on", req.EffectiveOn)
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, method, "", err)
	}
	// The policy is named only when the mask says so: a client sending the
	// invoice back as read (its policy included) asks for the law to be
	// chosen again when a field that chooses it changes, not pinned.
	mask := maskPaths(req.GetUpdateMask())
	named := ""
	if slices.Contains(mask, "policy") {
		named = strings.TrimSpace(req.Invoice.Policy)
	}
	inv, err := s.svc.UpdateInvoice(ctx, id, patch, mask, req.Invoice.Etag, effective, named)
	if err != nil {
		return nil, s.fail(ctx, method, req.Invoice.Name, err)
	}
	return &arrearsv1.UpdateInvoiceResponse{Invoice: invoiceToProto(inv)}, nil
}

func (s *Server) CancelInvoice(ctx context.Context, req *arrearsv1.CancelInvoiceRequest) (*arrearsv1.CancelInvoiceResponse, error) {
	const method = "CancelInvoice"
	var v ledger.ValidationError
	id := parseID(&v, "name", req.Name, "invoices")
	on := dateFromProto(&v, "cancelled_on", req.CancelledOn)
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, method, "", err)
	}
	inv, err := s.svc.CancelInvoice(ctx, id, on, strings.TrimSpace(req.Reason), req.Etag)
	if err != nil {
		return nil, s.fail(ctx, method, req.Name, err)
	}
	return &arrearsv1.CancelInvoiceResponse{Invoice: invoiceToProto(inv)}, nil
}

// knownAtFromProto reads known_at; unset means now. What will be known
// later is not known yet: a time past now is refused, beyond a minute's
// allowance for the client's clock (within it, it is now), so that figures
// "as known at" a time never change once given.
func knownAtFromProto(v *ledger.ValidationError, field string, ts *timestamppb.Timestamp, now time.Time) time.Time {
	if ts == nil {
		return time.Time{}
	}
	if err := ts.CheckValid(); err != nil {
		v.Add(field, "%v", err)
		return time.Time{}
	}
	t := ts.AsTime()
	switch {
	case ts.GetSeconds() < 0:
		// Nothing was recorded before 1970, and 0001-01-01T00:00:00Z is
		// the zero time, which the service reads as now: a query for
		// what was known then answered with what is known today.
		v.Add(field, "%s is before 1970-01-01T00:00:00Z", t.Format(time.RFC3339Nano))
		return time.Time{}
	case t.After(now.Add(clockAllowance)):
		v.Add(field, "%s is in the future (now is %s)", t.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
		return time.Time{}
	case t.After(now):
		return now
	}
	return t
}

// clockAllowance is how far a client's clock may run ahead of the server's.
const clockAllowance = time.Minute

func protoDateKey(d *arrearsv1.Date) string {
	if d == nil {
		return ""
	}
	return fmt.Sprintf("%d-%d-%d", d.Year, d.Month, d.Day)
}

func (s *Server) ListEscalationEvents(ctx context.Context, req *arrearsv1.ListEscalationEventsRequest) (*arrearsv1.ListEscalationEventsResponse, error) {
	const method = "ListEscalationEvents"
	var v ledger.ValidationError
	inv := parseID(&v, "parent", req.Parent, "invoices")
	size := pageSize(&v, req.PageSize)
	sc := scope(ctx, method, req.Parent, "")
	page := s.page(&v, sc, req.PageToken, size)
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, method, "", err)
	}
	rows, err := s.svc.ListEscalationEvents(ctx, inv, page)
	if err != nil {
		return nil, s.fail(ctx, method, req.Parent, err)
	}
	rows, next := nextToken(s, sc, rows, size, func(e *ledger.EscalationEvent) uuid.UUID { return e.ID })
	out := &arrearsv1.ListEscalationEventsResponse{NextPageToken: next}
	for _, e := range rows {
		pe := &arrearsv1.EscalationEvent{
			Name: invoiceName(e.InvoiceID) + "/escalationEvents/" + e.ID.String(), Kind: e.Kind,
			FromLevel: int32(e.FromLevel), ToLevel: int32(e.ToLevel), ToLevelName: e.ToLevelName,
			ChangedOn: dateToProto(e.ChangedOn), RecordTime: timeToProto(e.RecordTime),
		}
		if e.Corrects != uuid.Nil {
			pe.Corrects = invoiceName(e.InvoiceID) + "/escalationEvents/" + e.Corrects.String()
		}
		out.EscalationEvents = append(out.EscalationEvents, pe)
	}
	return out, nil
}

func (s *Server) ListPaymentPolicies(ctx context.Context, _ *arrearsv1.ListPaymentPoliciesRequest) (*arrearsv1.ListPaymentPoliciesResponse, error) {
	out := &arrearsv1.ListPaymentPoliciesResponse{}
	for _, p := range s.svc.Policies() {
		def, err := json.Marshal(p)
		if err != nil {
			return nil, s.fail(ctx, "ListPaymentPolicies", "", err)
		}
		out.PaymentPolicies = append(out.PaymentPolicies, &arrearsv1.PaymentPolicy{
			Name: fmt.Sprintf("%s@%d", p.ID, p.Version), Title: p.Name, Source: p.Source, DefinitionJson: string(def)})
	}
	return out, nil
}

// narrowTo adds the condition "party = id" to a query's party, ANDed with
// any given before: two different parties match nothing (uuid.Max, which
// no party has).
func narrowTo(party *uuid.UUID, id uuid.UUID) {
	if *party != uuid.Nil && *party != id {
		id = uuid.Max
	}
	*party = id
}
