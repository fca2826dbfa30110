package grpcapi

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	arrearsv1 "github.com/arrears/arrears/gen/arrears/v1"
	"github.com/arrears/arrears/internal/complaint"
	"github.com/arrears/arrears/internal/filter"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/service"
	"github.com/arrears/arrears/internal/store"
)

// Supplier implements arrearsv1.SupplierServiceServer.
type Supplier struct {
	arrearsv1.UnimplementedSupplierServiceServer
	s *Server
}

// NewSupplier returns the supplier-side service, sharing the ledger
// server's service, page tokens and logger.
func NewSupplier(s *Server) *Supplier { return &Supplier{s: s} }

func claimName(id uuid.UUID) string     { return "claims/" + id.String() }
func complaintName(id uuid.UUID) string { return "complaints/" + id.String() }

func (a *Supplier) claimToProto(ctx context.Context, c *complaint.Claim) *arrearsv1.Claim {
	out := &arrearsv1.Claim{
		Name: claimName(c.ID), Creditor: partyName(c.Creditor), Debtor: partyName(c.Debtor), DocumentRef: c.DocumentRef,
		Description: c.Description, Amount: moneyToProto(c.Amount, c.Currency), IssuedOn: dateToProto(c.IssuedOn),
		DeliveredOn: dateToProto(c.DeliveredOn), DueOn: dateToProto(c.DueOn), EvidenceRefs: c.Evidence, State: string(c.State),
		SubmittedOn: dateToProto(c.SubmittedOn), AnsweredOn: dateToProto(c.AnsweredOn), Answer: c.Answer,
		Etag: service.Etag(c.Version), CreateTime: timeToProto(c.CreateTime),
	}
	if c.Invoice != uuid.Nil {
		out.Invoice = invoiceName(c.Invoice)
	}
	if c.State == complaint.ClaimSubmitted {
		// Submitted on a date in the debtor's jurisdiction: count there.
		today, err := a.s.svc.TodayOf(ctx, c.Debtor)
		if err != nil {
			a.s.log.WarnContext(ctx, "claim age: debtor's jurisdiction unreadable; counting in UTC", "claim", c.ID, "err", err)
			today = a.s.svc.TodayUTC()
		}
		out.AgeDays = int32(today.DaysSince(c.SubmittedOn))
	}
	return out
}

func (a *Supplier) CreateClaim(ctx context.Context, req *arrearsv1.CreateClaimRequest) (*arrearsv1.CreateClaimResponse, error) {
	const method = "CreateClaim"
	var v ledger.ValidationError
	c := req.GetClaim()
	if c == nil {
		v.Add("claim", "is required")
		return nil, a.s.fail(ctx, method, "", v.Err())
	}
	amount := moneyFromProto(c.Amount)
	in := service.ClaimInput{
		Creditor: parsePartyName(&v, "claim.creditor", c.Creditor),
		Debtor:   parsePartyName(&v, "claim.debtor", c.Debtor),
		Claim: &complaint.Claim{DocumentRef: strings.TrimSpace(c.DocumentRef), Description: strings.TrimSpace(c.Description),
			Amount: amount.Minor, Currency: amount.Currency, IssuedOn: dateFromProto(&v, "claim.issued_on", c.IssuedOn),
			DeliveredOn: dateFromProto(&v, "claim.delivered_on", c.DeliveredOn), DueOn: dateFromProto(&v, "claim.due_on", c.DueOn),
			Evidence: c.EvidenceRefs},
	}
	in.Idem = idempotency(ctx, &v, method, req.RequestId, req)
	in.Problems = v
	out, err := a.s.svc.CreateClaim(ctx, in)
	if err != nil {
		return nil, a.s.fail(ctx, method, "", err)
	}
	return &arrearsv1.CreateClaimResponse{Claim: a.claimToProto(ctx, out)}, nil
}

func (a *Supplier) GetClaim(ctx context.Context, req *arrearsv1.GetClaimRequest) (*arrearsv1.GetClaimResponse, error) {
	var v ledger.ValidationError
	id := parseID(&v, "name", req.Name, "claims")
	if err := v.Err(); err != nil {
		return nil, a.s.fail(ctx, "GetClaim", "", err)
	}
	c, err := a.s.svc.GetClaim(ctx, id)
	if err != nil {
		return nil, a.s.fail(ctx, "GetClaim", req.Name, err)
	}
	return &arrearsv1.GetClaimResponse{Claim: a.claimToProto(ctx, c)}, nil
}

var supplierFields = map[string]fieldSpec{
	"debtor":          {ops: "=", kind: "party"},
	"creditor":        {ops: "=", kind: "party"},
	"complainant":     {ops: "=", kind: "party"},
	"deadline_missed": {ops: "=", kind: "enum", enums: []string{"TRUE", "FALSE"}},
}

// supplierQuery maps a filter to a query, resolving party names; a party
// that does not exist matches nothing. It also reports deadline_missed (nil:
// not in the filter).
func (a *Supplier) supplierQuery(ctx context.Context, v *ledger.ValidationError, f string, states []string, allowed ...string) (store.SupplierQuery, *bool, error) {
	fields := map[string]fieldSpec{"state": {ops: "= !=", kind: "enum", enums: states}}
	for _, k := range allowed {
		fields[k] = supplierFields[k]
	}
	var q store.SupplierQuery
	var missed *bool
	for _, c := range parseFilter(v, f, fields) {
		switch c.Field {
		case "state":
			q.State = append(q.State, store.StringCond{Op: store.Op(c.Op), Value: strings.ToUpper(c.Value)})
		case "deadline_missed":
			want := strings.EqualFold(c.Value, "TRUE")
			if missed != nil && *missed != want {
				// Both: nothing matches (no complaint is in state ""), as
				// with two states.
				q.State = append(q.State, store.StringCond{Op: store.OpEq, Value: ""})
			}
			missed = &want
		default:
			id, err := a.resolve(ctx, v, c)
			if err != nil {
				return q, nil, err
			}
			if c.Field == "debtor" {
				narrowTo(&q.DebtorID, id)
			} else {
				narrowTo(&q.CreditorID, id)
			}
		}
	}
	return q, missed, nil
}

func (a *Supplier) resolve(ctx context.Context, v *ledger.ValidationError, c filter.Cond) (uuid.UUID, error) {
	ref := parsePartyName(v, "filter", c.Value)
	if v.Err() != nil {
		return uuid.Nil, nil
	}
	p, err := a.s.svc.ResolveParty(ctx, ref)
	if errorsIsNotFound(err) {
		return uuid.Max, nil
	}
	if err != nil {
		return uuid.Nil, err
	}
	return p.ID, nil
}

func (a *Supplier) ListClaims(ctx context.Context, req *arrearsv1.ListClaimsRequest) (*arrearsv1.ListClaimsResponse, error) {
	const method = "ListClaims"
	var v ledger.ValidationError
	size := pageSize(&v, req.PageSize)
	sc := scope(ctx, method, "", req.Filter)
	q, _, err := a.supplierQuery(ctx, &v, req.Filter, names(complaint.ClaimStates), "debtor", "creditor")
	if err != nil {
		return nil, a.s.fail(ctx, method, "", err)
	}
	q.Page = a.s.page(&v, sc, req.PageToken, size)
	if err := v.Err(); err != nil {
		return nil, a.s.fail(ctx, method, "", err)
	}
	rows, err := a.s.svc.ListClaims(ctx, q)
	if err != nil {
		return nil, a.s.fail(ctx, method, "", err)
	}
	rows, next := nextToken(a.s, sc, rows, size, func(c *complaint.Claim) uuid.UUID { return c.ID })
	out := &arrearsv1.ListClaimsResponse{NextPageToken: next}
	for _, c := range rows {
		out.Claims = append(out.Claims, a.claimToProto(ctx, c))
	}
	return out, nil
}

func (a *Supplier) AnswerClaim(ctx context.Context, req *arrearsv1.AnswerClaimRequest) (*arrearsv1.AnswerClaimResponse, error) {
	var v ledger.ValidationError
	id := parseID(&v, "name", req.Name, "claims")
	to := complaint.ClaimState(strings.ToUpper(strings.TrimSpace(req.Answer)))
	if to != complaint.ClaimAcknowledged && to != complaint.ClaimDisputed && to != complaint.ClaimWithdrawn {
		v.Add("answer", "must be ACKNOWLEDGED, DISPUTED or WITHDRAWN")
	} else if to != complaint.ClaimAcknowledged && strings.TrimSpace(req.DocumentRef) != "" {
		// Refused rather than dropped: a debtor disputing "as invoice
		// X" would believe the claim tied to X.
		v.Add("document_ref", "is taken only with answer ACKNOWLEDGED (the reference the claim's invoice is recorded under)")
	}
	idem := idempotency(ctx, &v, "AnswerClaim", req.RequestId, req)
	if err := v.Err(); err != nil {
		return nil, a.s.fail(ctx, "AnswerClaim", "", err)
	}
	c, err := a.s.svc.AnswerClaim(ctx, id, to, strings.TrimSpace(req.Comment), strings.TrimSpace(req.DocumentRef), req.Etag, idem)
	if err != nil {
		return nil, a.s.fail(ctx, "AnswerClaim", req.Name, err)
	}
	return &arrearsv1.AnswerClaimResponse{Claim: a.claimToProto(ctx, c)}, nil
}

func contestToProto(c *complaint.Contest) *arrearsv1.Contest {
	out := &arrearsv1.Contest{
		Name: invoiceName(c.InvoiceID) + "/contests/" + c.ID.String(), Kind: string(c.Kind), Detail: c.Detail,
		State: string(c.State), Decision: c.Decision, Comment: c.Comment, OpenedOn: dateToProto(c.OpenedOn),
		UpdateTime: timeToProto(c.UpdateTime), AwaitingCorrection: c.AwaitsCorrection(), Etag: service.Etag(c.Version),
	}
	if c.Payment != uuid.Nil {
		out.Payment = paymentName(c.InvoiceID, c.Payment)
	}
	return out
}

func (a *Supplier) OpenContest(ctx context.Context, req *arrearsv1.OpenContestRequest) (*arrearsv1.OpenContestResponse, error) {
	var v ledger.ValidationError
	inv := parseID(&v, "parent", req.Parent, "invoices")
	c := req.GetContest()
	if c == nil {
		v.Add("contest", "is required")
		return nil, a.s.fail(ctx, "OpenContest", "", v.Err())
	}
	in := service.ContestInput{InvoiceID: inv, Kind: complaint.ContestKind(strings.ToUpper(c.Kind)), Detail: strings.TrimSpace(c.Detail),
		Idem: idempotency(ctx, &v, "OpenContest", req.RequestId, req)}
	if c.Payment != "" {
		pinv, pid := parseChildName(&v, "contest.payment", c.Payment, "payments")
		if pinv != inv && v.Err() == nil {
			v.Add("contest.payment", "is not a payment of %s", req.Parent)
		}
		in.PaymentID = pid
	}
	if err := v.Err(); err != nil {
		return nil, a.s.fail(ctx, "OpenContest", "", err)
	}
	out, _, err := a.s.svc.OpenContest(ctx, in)
	if err != nil {
		return nil, a.s.fail(ctx, "OpenContest", req.Parent, err)
	}
	return &arrearsv1.OpenContestResponse{Contest: contestToProto(out)}, nil
}

func (a *Supplier) GetContest(ctx context.Context, req *arrearsv1.GetContestRequest) (*arrearsv1.GetContestResponse, error) {
	const method = "GetContest"
	var v ledger.ValidationError
	inv, id := parseChildRead(&v, "name", req.Name, "contests")
	if err := v.Err(); err != nil {
		return nil, a.s.fail(ctx, method, "", err)
	}
	c, err := a.s.svc.GetContest(ctx, inv, id)
	if err != nil {
		return nil, a.s.fail(ctx, method, req.Name, err)
	}
	return &arrearsv1.GetContestResponse{Contest: contestToProto(c)}, nil
}

func (a *Supplier) ListContests(ctx context.Context, req *arrearsv1.ListContestsRequest) (*arrearsv1.ListContestsResponse, error) {
	const method = "ListContests"
	var v ledger.ValidationError
	inv := parseID(&v, "parent", req.Parent, "invoices")
	size := pageSize(&v, req.PageSize)
	sc := scope(ctx, method, req.Parent, req.Filter)
	q, _, err := a.supplierQuery(ctx, &v, req.Filter, names(complaint.ContestStates))
	if err != nil {
		return nil, a.s.fail(ctx, method, "", err)
	}
	q.InvoiceID = inv
	q.Page = a.s.page(&v, sc, req.PageToken, size)
	if err := v.Err(); err != nil {
		return nil, a.s.fail(ctx, method, "", err)
	}
	rows, err := a.s.svc.ListContests(ctx, q)
	if err != nil {
		return nil, a.s.fail(ctx, method, req.Parent, err)
	}
	rows, next := nextToken(a.s, sc, rows, size, func(c *complaint.Contest) uuid.UUID { return c.ID })
	out := &arrearsv1.ListContestsResponse{NextPageToken: next}
	for _, c := range rows {
		out.Contests = append(out.Contests, contestToProto(c))
	}
	return out, nil
}

func (a *Supplier) MoveContest(ctx context.Context, req *arrearsv1.MoveContestRequest) (*arrearsv1.MoveContestResponse, error) {
	var v ledger.ValidationError
	inv, id := parseChildName(&v, "name", req.Name, "contests")
	action := complaint.ContestAction(strings.ToUpper(strings.TrimSpace(req.Action)))
	if !slices.Contains(complaint.ContestActions, action) {
		v.Add("action", "%s: one of %s", requiredOr(req.Action), joinNames(complaint.ContestActions))
	}
	if err := v.Err(); err != nil {
		return nil, a.s.fail(ctx, "MoveContest", "", err)
	}
	c, _, err := a.s.svc.MoveContest(ctx, inv, id, action, strings.TrimSpace(req.Comment), req.Etag)
	if err != nil {
		return nil, a.s.fail(ctx, "MoveContest", req.Name, err)
	}
	return &arrearsv1.MoveContestResponse{Contest: contestToProto(c)}, nil
}

func complaintToProto(v *service.ComplaintView) *arrearsv1.Complaint {
	c := v.Complaint
	out := &arrearsv1.Complaint{
		Name: complaintName(c.ID), Complainant: partyName(c.Complainant), Debtor: partyName(c.Debtor),
		ReceivingRegulator: partyName(c.ReceivingRegulator), Summary: c.Summary, State: string(c.State), Outcome: string(c.Outcome),
		SubmittedOn: dateToProto(c.SubmittedOn), StateSince: dateToProto(c.StateSince), Deadline: dateToProto(v.Deadline.Due),
		DeadlineStep: v.Deadline.Step, DeadlineMissed: v.Missed, DeadlineProvisional: v.Deadline.Provisional,
		ExtensionDays: int32(c.ExtensionDays), Etag: service.Etag(c.Version),
	}
	if c.HandlingRegulator != uuid.Nil {
		out.HandlingRegulator = partyName(c.HandlingRegulator)
	}
	for _, id := range c.Invoices {
		out.Invoices = append(out.Invoices, invoiceName(id))
	}
	for _, id := range c.Claims {
		out.Claims = append(out.Claims, claimName(id))
	}
	for _, in := range c.Plan {
		out.PaymentPlan = append(out.PaymentPlan, &arrearsv1.Instalment{DueOn: dateToProto(in.DueOn), Amount: moneyToProto(in.Amount, c.Currency)})
	}
	return out
}

func (a *Supplier) FileComplaint(ctx context.Context, req *arrearsv1.FileComplaintRequest) (*arrearsv1.FileComplaintResponse, error) {
	var v ledger.ValidationError
	c := req.GetComplaint()
	if c == nil {
		v.Add("complaint", "is required")
		return nil, a.s.fail(ctx, "FileComplaint", "", v.Err())
	}
	in := service.ComplaintInput{
		Complainant: parsePartyName(&v, "complaint.complainant", c.Complainant),
		Debtor:      parsePartyName(&v, "complaint.debtor", c.Debtor),
		Summary:     strings.TrimSpace(c.Summary),
	}
	if c.ReceivingRegulator != "" {
		in.ReceivingRegulator = parsePartyName(&v, "complaint.receiving_regulator", c.ReceivingRegulator)
	}
	for i, n := range c.Invoices {
		in.Invoices = append(in.Invoices, parseID(&v, fmt.Sprintf("complaint.invoices[%d]", i), n, "invoices"))
	}
	for i, n := range c.Claims {
		in.Claims = append(in.Claims, parseID(&v, fmt.Sprintf("complaint.claims[%d]", i), n, "claims"))
	}
	in.Idem = idempotency(ctx, &v, "FileComplaint", req.RequestId, req)
	in.Problems = v
	out, err := a.s.svc.FileComplaint(ctx, in)
	if err != nil {
		return nil, a.s.fail(ctx, "FileComplaint", "", err)
	}
	view, err := a.s.svc.GetComplaint(ctx, out.ID)
	if err != nil {
		return nil, a.s.fail(ctx, "FileComplaint", "", err)
	}
	return &arrearsv1.FileComplaintResponse{Complaint: complaintToProto(view)}, nil
}

func (a *Supplier) GetComplaint(ctx context.Context, req *arrearsv1.GetComplaintRequest) (*arrearsv1.GetComplaintResponse, error) {
	var v ledger.ValidationError
	id := parseID(&v, "name", req.Name, "complaints")
	if err := v.Err(); err != nil {
		return nil, a.s.fail(ctx, "GetComplaint", "", err)
	}
	c, err := a.s.svc.GetComplaint(ctx, id)
	if err != nil {
		return nil, a.s.fail(ctx, "GetComplaint", req.Name, err)
	}
	return &arrearsv1.GetComplaintResponse{Complaint: complaintToProto(c)}, nil
}

func (a *Supplier) ListComplaints(ctx context.Context, req *arrearsv1.ListComplaintsRequest) (*arrearsv1.ListComplaintsResponse, error) {
	const method = "ListComplaints"
	var v ledger.ValidationError
	size := pageSize(&v, req.PageSize)
	sc := scope(ctx, method, "", req.Filter)
	q, missed, err := a.supplierQuery(ctx, &v, req.Filter, names(complaint.States), "debtor", "complainant", "deadline_missed")
	if err != nil {
		return nil, a.s.fail(ctx, method, "", err)
	}
	q.Page = a.s.page(&v, sc, req.PageToken, size)
	if err := v.Err(); err != nil {
		return nil, a.s.fail(ctx, method, "", err)
	}
	rows, last, err := a.s.svc.ListComplaints(ctx, q, missed, size)
	if err != nil {
		return nil, a.s.fail(ctx, method, "", err)
	}
	out := &arrearsv1.ListComplaintsResponse{}
	if last != uuid.Nil {
		out.NextPageToken = a.s.tokens.Encode(sc, last)
	}
	for _, c := range rows {
		out.Complaints = append(out.Complaints, complaintToProto(c))
	}
	return out, nil
}

func (a *Supplier) MoveComplaint(ctx context.Context, req *arrearsv1.MoveComplaintRequest) (*arrearsv1.MoveComplaintResponse, error) {
	var v ledger.ValidationError
	id := parseID(&v, "name", req.Name, "complaints")
	tr := service.Transition{Action: complaint.Action(strings.ToUpper(strings.TrimSpace(req.Action))), Comment: strings.TrimSpace(req.Comment),
		Outcome: complaint.Outcome(strings.ToUpper(req.Outcome)), ExtendDays: int(req.ExtendDays)}
	if actions := append(slices.Clone(complaint.Actions), service.ExtendAction); !slices.Contains(actions, tr.Action) {
		v.Add("action", "%s: one of %s", requiredOr(req.Action), joinNames(actions))
	}
	if req.HandlingRegulator != "" {
		tr.HandlingRegulator = parsePartyName(&v, "handling_regulator", req.HandlingRegulator)
	} else if tr.Action == complaint.Forward {
		v.Add("handling_regulator", "is required to forward a complaint")
	}
	for i, in := range req.PaymentPlan {
		tr.Plan = append(tr.Plan, service.PlanInstalment{
			DueOn:  dateFromProto(&v, fmt.Sprintf("payment_plan[%d].due_on", i), in.DueOn),
			Amount: moneyFromProto(in.Amount)})
	}
	tr.Idem = idempotency(ctx, &v, "MoveComplaint", req.RequestId, req)
	if err := v.Err(); err != nil {
		return nil, a.s.fail(ctx, "MoveComplaint", "", err)
	}
	c, err := a.s.svc.MoveComplaint(ctx, id, tr, req.Etag)
	if err != nil {
		return nil, a.s.fail(ctx, "MoveComplaint", req.Name, err)
	}
	return &arrearsv1.MoveComplaintResponse{Complaint: complaintToProto(c)}, nil
}

func (a *Supplier) ListComplaintEvents(ctx context.Context, req *arrearsv1.ListComplaintEventsRequest) (*arrearsv1.ListComplaintEventsResponse, error) {
	const method = "ListComplaintEvents"
	var v ledger.ValidationError
	id := parseID(&v, "parent", req.Parent, "complaints")
	size := pageSize(&v, req.PageSize)
	sc := scope(ctx, method, req.Parent, "")
	page := a.s.page(&v, sc, req.PageToken, size)
	if err := v.Err(); err != nil {
		return nil, a.s.fail(ctx, method, "", err)
	}
	rows, err := a.s.svc.ListComplaintEvents(ctx, id, page)
	if err != nil {
		return nil, a.s.fail(ctx, method, req.Parent, err)
	}
	rows, next := nextToken(a.s, sc, rows, size, func(e *complaint.Event) uuid.UUID { return e.ID })
	out := &arrearsv1.ListComplaintEventsResponse{NextPageToken: next}
	for _, e := range rows {
		out.Events = append(out.Events, &arrearsv1.ComplaintEvent{Name: complaintEventName(e.ComplaintID, e.ID), Kind: e.Kind, FromState: string(e.FromState), ToState: string(e.ToState),
			Actor: e.Actor, Comment: e.Comment, OccurredOn: dateToProto(e.OccurredOn), RecordTime: timeToProto(e.RecordTime), Outcome: string(e.Outcome)})
	}
	return out, nil
}

// complaintEventName names a line of a complaint's timeline, as the line
// and the change feed's event of it say.
func complaintEventName(complaintID, id uuid.UUID) string {
	return complaintName(complaintID) + "/events/" + id.String()
}

func (a *Supplier) GetComplaintStatistics(ctx context.Context, req *arrearsv1.GetComplaintStatisticsRequest) (*arrearsv1.GetComplaintStatisticsResponse, error) {
	var v ledger.ValidationError
	asOf := dateFromProto(&v, "as_of", req.AsOf)
	group := strings.ToUpper(req.GroupBy)
	switch group {
	case "":
		group = service.ByDebtorGroup
	case service.ByDebtorGroup, service.ByRegionGroup:
	default:
		v.Add("group_by", "must be DEBTOR or REGION")
	}
	if req.RegionDigits < 0 {
		v.Add("region_digits", "must not be negative")
	}
	if err := v.Err(); err != nil {
		return nil, a.s.fail(ctx, "GetComplaintStatistics", "", err)
	}
	if asOf.IsZero() {
		var err error
		if asOf, err = a.s.svc.CallerToday(ctx); err != nil {
			return nil, a.s.fail(ctx, "GetComplaintStatistics", "", err)
		}
	}
	groups, err := a.s.svc.ComplaintStatistics(ctx, asOf, group, int(req.RegionDigits))
	if err != nil {
		return nil, a.s.fail(ctx, "GetComplaintStatistics", "", err)
	}
	out := &arrearsv1.GetComplaintStatisticsResponse{}
	for _, g := range groups {
		pc := &arrearsv1.ComplaintCounts{Group: g.Group, Received: int32(g.Received), Open: int32(g.Open), InTime: int32(g.InTime),
			Late: int32(g.Late), ResolvedPaid: int32(g.ResolvedPaid), ResolvedPaymentPlan: int32(g.ResolvedPlan),
			Dismissed: int32(g.Dismissed), Rejected: int32(g.Rejected), Withdrawn: int32(g.Withdrawn), Closed: int32(g.Closed),
			UnconfirmedClaims: int32(g.UnconfirmedClaims), DisputedClaims: int32(g.DisputedClaims), ContestedRecords: int32(g.ContestedRecords)}
		for cur, amt := range g.UnconfirmedAmounts {
			pc.UnconfirmedAmounts = append(pc.UnconfirmedAmounts, moneyToProto(amt, cur))
		}
		out.Groups = append(out.Groups, pc)
	}
	return out, nil
}

// requiredOr describes a missing or unknown name given for an enumeration.
func requiredOr(given string) string {
	if strings.TrimSpace(given) == "" {
		return "is required"
	}
	return fmt.Sprintf("%q is not known", given)
}

// joinNames lists an enumeration's names for an error message.
func joinNames[T ~string](ns []T) string { return strings.Join(names(ns), ", ") }

// names are an enumeration's values as strings.
func names[T ~string](ns []T) []string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = string(n)
	}
	return s
}
