package grpcapi

import (
	"context"

	"github.com/google/uuid"

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
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, "GetInvoice", "", err)
	}
	inv, err := s.svc.GetInvoice(ctx, id)
	if err != nil {
		return nil, s.fail(ctx, "GetInvoice", req.Name, err)
	}
	return &arrearsv1.GetInvoiceResponse{Invoice: invoiceToProto(inv)}, nil
}

func (s *Server) ListInvoices(ctx context.Context, req *arrearsv1.ListInvoicesRequest) (*arrearsv1.ListInvoicesResponse, error) {
	const method = "ListInvoices"
	var v ledger.ValidationError
	size := pageSize(&v, req.PageSize)
	sc := scope(ctx, method, "", req.Filter)
	conds := parseFilter(&v, req.Filter, invoiceFields)
	q := invoiceQueryBase(conds)
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
			q.DebtorID = id
		} else {
			q.CreditorID = id
		}
	}
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, method, "", err)
	}
	rows, err := s.svc.ListInvoices(ctx, q)
	if err != nil {
		return nil, s.fail(ctx, method, "", err)
	}
	rows, next := nextToken(s, sc, rows, size, func(i *ledger.Invoice) uuid.UUID { return i.ID })
	out := &arrearsv1.ListInvoicesResponse{NextPageToken: next}
	for _, inv := range rows {
		out.Invoices = append(out.Invoices, invoiceToProto(inv))
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
	inv, err := s.svc.UpdateInvoice(ctx, id, patch, req.GetUpdateMask().GetPaths(), req.Invoice.Etag, effective)
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
	inv, err := s.svc.CancelInvoice(ctx, id, on, req.Reason, req.Etag)
	if err != nil {
		return nil, s.fail(ctx, method, req.Name, err)
	}
	return &arrearsv1.CancelInvoiceResponse{Invoice: invoiceToProto(inv)}, nil
}
