package grpcapi

import (
	"context"
	"strings"

	"github.com/google/uuid"

	arrearsv1 "github.com/arrears/arrears/gen/arrears/v1"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/service"
)

func (s *Server) CreateCreditNote(ctx context.Context, req *arrearsv1.CreateCreditNoteRequest) (*arrearsv1.CreateCreditNoteResponse, error) {
	const method = "CreateCreditNote"
	var v ledger.ValidationError
	inv := parseID(&v, "parent", req.Parent, "invoices")
	if req.CreditNote == nil {
		v.Add("credit_note", "is required")
		return nil, s.fail(ctx, method, "", v.Err())
	}
	amount := moneyFromProto(req.CreditNote.Amount)
	cn := &ledger.CreditNote{
		Amount:    amount.Minor,
		IssuedOn:  dateFromProto(&v, "credit_note.issued_on", req.CreditNote.IssuedOn),
		Reference: strings.TrimSpace(req.CreditNote.Reference),
		Reason:    strings.TrimSpace(req.CreditNote.Reason),
	}
	idem := idempotency(ctx, &v, method, req.RequestId, req)
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, method, "", err)
	}
	out, invoice, err := s.svc.CreateCreditNote(ctx, inv, cn, amount.Currency, idem)
	if err != nil {
		return nil, s.fail(ctx, method, req.Parent, err)
	}
	return &arrearsv1.CreateCreditNoteResponse{CreditNote: creditNoteToProto(out, invoice.Amount.Currency), Invoice: invoiceToProto(invoice)}, nil
}

func (s *Server) GetCreditNote(ctx context.Context, req *arrearsv1.GetCreditNoteRequest) (*arrearsv1.GetCreditNoteResponse, error) {
	const method = "GetCreditNote"
	var v ledger.ValidationError
	inv, id := parseChildRead(&v, "name", req.Name, "creditNotes")
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, method, "", err)
	}
	c, err := s.svc.GetCreditNote(ctx, inv, id)
	if err != nil {
		return nil, s.fail(ctx, method, req.Name, err)
	}
	invoice, err := s.svc.GetInvoice(ctx, c.InvoiceID)
	if err != nil {
		return nil, s.fail(ctx, method, req.Name, err)
	}
	return &arrearsv1.GetCreditNoteResponse{CreditNote: creditNoteToProto(c, invoice.Amount.Currency)}, nil
}

func (s *Server) ListCreditNotes(ctx context.Context, req *arrearsv1.ListCreditNotesRequest) (*arrearsv1.ListCreditNotesResponse, error) {
	const method = "ListCreditNotes"
	var v ledger.ValidationError
	inv := parseID(&v, "parent", req.Parent, "invoices")
	size := pageSize(&v, req.PageSize)
	sc := scope(ctx, method, req.Parent, "")
	page := s.page(&v, sc, req.PageToken, size)
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, method, "", err)
	}
	invoice, err := s.svc.GetInvoice(ctx, inv)
	if err != nil {
		return nil, s.fail(ctx, method, req.Parent, err)
	}
	rows, err := s.svc.ListCreditNotes(ctx, inv, page)
	if err != nil {
		return nil, s.fail(ctx, method, req.Parent, err)
	}
	rows, next := nextToken(s, sc, rows, size, func(c *ledger.CreditNote) uuid.UUID { return c.ID })
	out := &arrearsv1.ListCreditNotesResponse{NextPageToken: next}
	for _, c := range rows {
		out.CreditNotes = append(out.CreditNotes, creditNoteToProto(c, invoice.Amount.Currency))
	}
	return out, nil
}

func (s *Server) RecordPayment(ctx context.Context, req *arrearsv1.RecordPaymentRequest) (*arrearsv1.RecordPaymentResponse, error) {
	const method = "RecordPayment"
	var v ledger.ValidationError
	inv := parseID(&v, "parent", req.Parent, "invoices")
	if req.Payment == nil {
		v.Add("payment", "is required")
		return nil, s.fail(ctx, method, "", v.Err())
	}
	amount := moneyFromProto(req.Payment.Amount)
	p := &ledger.Payment{
		Amount:     amount.Minor,
		Currency:   amount.Currency,
		PaidOn:     dateFromProto(&v, "payment.paid_on", req.Payment.PaidOn),
		Reference:  strings.TrimSpace(req.Payment.Reference),
		Instrument: ledger.PaymentInstrument(enumName(req.Payment.Instrument.String(), "PAYMENT_INSTRUMENT_")),
		MaturityOn: dateFromProto(&v, "payment.maturity_on", req.Payment.MaturityOn),
	}
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, method, "", err)
	}
	out, invoice, err := s.svc.RecordPayment(ctx, inv, p)
	if err != nil {
		return nil, s.fail(ctx, method, req.Parent, err)
	}
	return &arrearsv1.RecordPaymentResponse{Payment: paymentToProto(out), Invoice: invoiceToProto(invoice)}, nil
}

func (s *Server) GetPayment(ctx context.Context, req *arrearsv1.GetPaymentRequest) (*arrearsv1.GetPaymentResponse, error) {
	var v ledger.ValidationError
	inv, id := parseChildRead(&v, "name", req.Name, "payments")
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, "GetPayment", "", err)
	}
	p, err := s.svc.GetPayment(ctx, inv, id)
	if err != nil {
		return nil, s.fail(ctx, "GetPayment", req.Name, err)
	}
	return &arrearsv1.GetPaymentResponse{Payment: paymentToProto(p)}, nil
}

func (s *Server) ListPayments(ctx context.Context, req *arrearsv1.ListPaymentsRequest) (*arrearsv1.ListPaymentsResponse, error) {
	const method = "ListPayments"
	var v ledger.ValidationError
	inv := parseID(&v, "parent", req.Parent, "invoices")
	size := pageSize(&v, req.PageSize)
	sc := scope(ctx, method, req.Parent, req.Filter)
	q := paymentQuery(parseFilter(&v, req.Filter, paymentFields))
	q.InvoiceID = inv
	q.Page = s.page(&v, sc, req.PageToken, size)
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, method, "", err)
	}
	rows, err := s.svc.ListPayments(ctx, q)
	if err != nil {
		return nil, s.fail(ctx, method, req.Parent, err)
	}
	rows, next := nextToken(s, sc, rows, size, func(p *ledger.Payment) uuid.UUID { return p.ID })
	out := &arrearsv1.ListPaymentsResponse{NextPageToken: next}
	for _, p := range rows {
		out.Payments = append(out.Payments, paymentToProto(p))
	}
	return out, nil
}

func (s *Server) ReversePayment(ctx context.Context, req *arrearsv1.ReversePaymentRequest) (*arrearsv1.ReversePaymentResponse, error) {
	const method = "ReversePayment"
	var v ledger.ValidationError
	inv, id := parseChildName(&v, "name", req.Name, "payments")
	on := dateFromProto(&v, "reversed_on", req.ReversedOn)
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, method, "", err)
	}
	p, invoice, err := s.svc.ReversePayment(ctx, inv, id, on, strings.TrimSpace(req.Reason), req.Etag)
	if err != nil {
		return nil, s.fail(ctx, method, req.Name, err)
	}
	return &arrearsv1.ReversePaymentResponse{Payment: paymentToProto(p), Invoice: invoiceToProto(invoice)}, nil
}

func (s *Server) OpenDispute(ctx context.Context, req *arrearsv1.OpenDisputeRequest) (*arrearsv1.OpenDisputeResponse, error) {
	const method = "OpenDispute"
	var v ledger.ValidationError
	inv := parseID(&v, "parent", req.Parent, "invoices")
	if req.Dispute == nil {
		v.Add("dispute", "is required")
		return nil, s.fail(ctx, method, "", v.Err())
	}
	amount := moneyFromProto(req.Dispute.Amount)
	d := &ledger.Dispute{
		Amount:   amount.Minor,
		Reason:   strings.TrimSpace(req.Dispute.Reason),
		OpenedOn: dateFromProto(&v, "dispute.opened_on", req.Dispute.OpenedOn),
	}
	idem := idempotency(ctx, &v, method, req.RequestId, req)
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, method, "", err)
	}
	out, invoice, err := s.svc.OpenDispute(ctx, inv, d, amount.Currency, idem)
	if err != nil {
		return nil, s.fail(ctx, method, req.Parent, err)
	}
	return &arrearsv1.OpenDisputeResponse{Dispute: disputeToProto(out, invoice.Amount.Currency), Invoice: invoiceToProto(invoice)}, nil
}

func (s *Server) GetDispute(ctx context.Context, req *arrearsv1.GetDisputeRequest) (*arrearsv1.GetDisputeResponse, error) {
	var v ledger.ValidationError
	inv, id := parseChildRead(&v, "name", req.Name, "disputes")
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, "GetDispute", "", err)
	}
	d, err := s.svc.GetDispute(ctx, inv, id)
	if err != nil {
		return nil, s.fail(ctx, "GetDispute", req.Name, err)
	}
	invoice, err := s.svc.GetInvoice(ctx, d.InvoiceID)
	if err != nil {
		return nil, s.fail(ctx, "GetDispute", req.Name, err)
	}
	return &arrearsv1.GetDisputeResponse{Dispute: disputeToProto(d, invoice.Amount.Currency)}, nil
}

func (s *Server) ListDisputes(ctx context.Context, req *arrearsv1.ListDisputesRequest) (*arrearsv1.ListDisputesResponse, error) {
	const method = "ListDisputes"
	var v ledger.ValidationError
	inv := parseID(&v, "parent", req.Parent, "invoices")
	size := pageSize(&v, req.PageSize)
	sc := scope(ctx, method, req.Parent, req.Filter)
	q := disputeQuery(parseFilter(&v, req.Filter, disputeFields))
	q.InvoiceID = inv
	q.Page = s.page(&v, sc, req.PageToken, size)
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, method, "", err)
	}
	invoice, err := s.svc.GetInvoice(ctx, inv)
	if err != nil {
		return nil, s.fail(ctx, method, req.Parent, err)
	}
	rows, err := s.svc.ListDisputes(ctx, q)
	if err != nil {
		return nil, s.fail(ctx, method, req.Parent, err)
	}
	rows, next := nextToken(s, sc, rows, size, func(d *ledger.Dispute) uuid.UUID { return d.ID })
	out := &arrearsv1.ListDisputesResponse{NextPageToken: next}
	for _, d := range rows {
		out.Disputes = append(out.Disputes, disputeToProto(d, invoice.Amount.Currency))
	}
	return out, nil
}

func (s *Server) ResolveDispute(ctx context.Context, req *arrearsv1.ResolveDisputeRequest) (*arrearsv1.ResolveDisputeResponse, error) {
	const method = "ResolveDispute"
	var v ledger.ValidationError
	inv, id := parseChildName(&v, "name", req.Name, "disputes")
	on := dateFromProto(&v, "resolved_on", req.ResolvedOn)
	res := ledger.DisputeResolution(enumName(req.Resolution.String(), "DISPUTE_RESOLUTION_"))
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, method, "", err)
	}
	d, invoice, err := s.svc.ResolveDispute(ctx, inv, id, res, on, strings.TrimSpace(req.Comment), req.Etag)
	if err != nil {
		return nil, s.fail(ctx, method, req.Name, err)
	}
	return &arrearsv1.ResolveDisputeResponse{Dispute: disputeToProto(d, invoice.Amount.Currency), Invoice: invoiceToProto(invoice)}, nil
}

// ListRevisions pages by revision number (seqPosition in the token).
func (s *Server) ListRevisions(ctx context.Context, req *arrearsv1.ListRevisionsRequest) (*arrearsv1.ListRevisionsResponse, error) {
	const method = "ListRevisions"
	var v ledger.ValidationError
	var typ ledger.ResourceType
	var parent, id uuid.UUID
	var party service.PartyRef
	switch parts := strings.Split(req.Parent, "/"); {
	case len(parts) == 2 && parts[0] == "parties":
		// By id or by natural key, as GetParty takes it.
		typ, party = ledger.ResourceParty, parsePartyName(&v, "parent", req.Parent)
		id = party.ID
	case len(parts) == 2:
		typ, id = ledger.ResourceInvoice, parseID(&v, "parent", req.Parent, "invoices")
	case len(parts) == 4 && parts[2] == "payments":
		typ = ledger.ResourcePayment
		parent, id = parseChildRead(&v, "parent", req.Parent, "payments")
	case len(parts) == 4 && parts[2] == "disputes":
		typ = ledger.ResourceDispute
		parent, id = parseChildRead(&v, "parent", req.Parent, "disputes")
	default:
		v.Add("parent", "%q is not a party, invoice, payment or dispute name", req.Parent)
	}
	size := pageSize(&v, req.PageSize)
	sc := scope(ctx, method, req.Parent, "")
	var after int64
	if req.PageToken != "" {
		pos, err := s.tokens.Decode(sc, req.PageToken)
		if err != nil {
			v.Add("page_token", "%s", err)
		}
		after = positionSeq(pos)
	}
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, method, "", err)
	}
	name := req.Parent
	if typ == ledger.ResourceParty && id == uuid.Nil {
		p, err := s.svc.GetParty(ctx, party)
		if err != nil {
			return nil, s.fail(ctx, method, req.Parent, err)
		}
		id, name = p.ID, partyName(p.ID)
	}
	rows, err := s.svc.ListRevisions(ctx, typ, parent, id, after, size+1)
	if err != nil {
		return nil, s.fail(ctx, method, req.Parent, err)
	}
	if parent == uuid.Nil && (typ == ledger.ResourcePayment || typ == ledger.ResourceDispute) {
		// Asked by the wildcard name: the revisions name the record by
		// its full one.
		if name, err = s.childName(ctx, typ, id); err != nil {
			return nil, s.fail(ctx, method, req.Parent, err)
		}
	}
	rows, next := nextToken(s, sc, rows, size, func(r *ledger.Revision) uuid.UUID { return seqPosition(r.Revision) })
	out := &arrearsv1.ListRevisionsResponse{NextPageToken: next}
	for _, r := range rows {
		out.Revisions = append(out.Revisions, revisionToProto(name, r))
	}
	return out, nil
}

// childName is the full name of a payment or dispute known by its id.
func (s *Server) childName(ctx context.Context, typ ledger.ResourceType, id uuid.UUID) (string, error) {
	if typ == ledger.ResourcePayment {
		p, err := s.svc.GetPayment(ctx, uuid.Nil, id)
		if err != nil {
			return "", err
		}
		return invoiceName(p.InvoiceID) + "/payments/" + id.String(), nil
	}
	d, err := s.svc.GetDispute(ctx, uuid.Nil, id)
	if err != nil {
		return "", err
	}
	return invoiceName(d.InvoiceID) + "/disputes/" + id.String(), nil
}
