package grpcapi

import (
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	arrearsv1 "github.com/arrears/arrears/gen/arrears/v1"
	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/jsonenc"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/money"
	"github.com/arrears/arrears/internal/regid"
	"github.com/arrears/arrears/internal/service"
)

// Conversions between wire messages and domain records. Input conversions
// report malformed values as violations of the field path they came from;
// output-only fields of input messages are ignored, as AIP-203 says.

// enumName maps a proto enum value name to the domain's name:
// PARTY_KIND_LARGE_ENTERPRISE -> LARGE_ENTERPRISE; unspecified -> "".
func enumName(protoName, prefix string) string {
	n := strings.TrimPrefix(protoName, prefix)
	if n == "UNSPECIFIED" || n == protoName {
		// The zero value, or a number with no name (sent over gRPC):
		// the latter keeps a recognisable form for the error message.
		if n == "UNSPECIFIED" {
			return ""
		}
		return "#" + protoName
	}
	return n
}

// enumValue maps a domain name back to the proto enum number.
func enumValue(values map[string]int32, prefix, name string) int32 {
	if name == "" {
		return 0
	}
	return values[prefix+name]
}

func dateFromProto(v *ledger.ValidationError, field string, d *arrearsv1.Date) civil.Date {
	if d == nil || (d.Year == 0 && d.Month == 0 && d.Day == 0) {
		return civil.Date{}
	}
	out, err := civil.New(int(d.Year), time.Month(d.Month), int(d.Day))
	if err != nil {
		v.Add(field, "is not a valid date: %v", err)
	}
	return out
}

// maxYearsAhead bounds a date a judgement is asked for (as_of, a report's
// period end) after today. Judging is linear in the half-years to that
// date and the findings they raise; the year 9999 made one invoice's
// judgement cost seconds.
const maxYearsAhead = 100

// judgedDateFromProto is dateFromProto for a date invoices are judged as
// of: at most maxYearsAhead years after now.
func judgedDateFromProto(v *ledger.ValidationError, field string, d *arrearsv1.Date, now time.Time) civil.Date {
	out := dateFromProto(v, field, d)
	if !out.IsZero() && out.Year > now.UTC().Year()+maxYearsAhead {
		v.Add(field, "%s is more than %d years ahead", out, maxYearsAhead)
		return civil.Date{}
	}
	return out
}

func dateToProto(d civil.Date) *arrearsv1.Date {
	if d.IsZero() {
		return nil
	}
	return &arrearsv1.Date{Year: int32(d.Year), Month: int32(d.Month), Day: int32(d.Day)}
}

func moneyFromProto(m *arrearsv1.Money) money.Money {
	if m == nil {
		return money.Money{}
	}
	return money.Money{Minor: m.MinorUnits, Currency: money.CodeUpper(strings.TrimSpace(m.CurrencyCode))}
}

func moneyToProto(minor int64, currency string) *arrearsv1.Money {
	return &arrearsv1.Money{CurrencyCode: currency, MinorUnits: minor}
}

func timeToProto(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// Resource names.

func partyName(id uuid.UUID) string   { return "parties/" + id.String() }
func invoiceName(id uuid.UUID) string { return "invoices/" + id.String() }
func paymentName(inv, id uuid.UUID) string {
	return invoiceName(inv) + "/payments/" + id.String()
}
func disputeName(inv, id uuid.UUID) string {
	return invoiceName(inv) + "/disputes/" + id.String()
}
func creditNoteName(inv, id uuid.UUID) string {
	return invoiceName(inv) + "/creditNotes/" + id.String()
}

// parsePartyName reads "parties/{uuid}" or "parties/{jurisdiction}:{registration_id}".
func parsePartyName(v *ledger.ValidationError, field, name string) service.PartyRef {
	rest, ok := strings.CutPrefix(name, "parties/")
	if !ok || rest == "" {
		v.Add(field, "%q is not a party name: want parties/{id} or parties/{jurisdiction}:{registration_id}", name)
		return service.PartyRef{}
	}
	if id, err := uuid.Parse(rest); err == nil && len(rest) == 36 {
		return service.PartyRef{ID: id}
	}
	jur, reg, ok := strings.Cut(rest, ":")
	if !ok || jur == "" || reg == "" {
		v.Add(field, "%q is not a party name: want parties/{id} or parties/{jurisdiction}:{registration_id}", name)
		return service.PartyRef{}
	}
	p := ledger.Party{Jurisdiction: jur, RegistrationID: reg}
	canon, err := normalizeRegistration(&p)
	if err != "" {
		v.Add(field, "%s", err)
		return service.PartyRef{}
	}
	return service.PartyRef{Jurisdiction: p.Jurisdiction, RegistrationID: canon}
}

// parseID reads "{collection}/{uuid}" (with the collection given).
func parseID(v *ledger.ValidationError, field, name, collection string) uuid.UUID {
	rest, ok := strings.CutPrefix(name, collection+"/")
	id, err := uuid.Parse(rest)
	if !ok || err != nil || len(rest) != 36 {
		v.Add(field, "%q is not a resource name of the form %s/{id}", name, collection)
		return uuid.Nil
	}
	return id
}

// parseChildRead is parseChildName for a read, which also takes the
// AIP-159 wildcard "-" for the invoice (returned as uuid.Nil): the change
// feed names a payment, dispute, credit note or contest so, its event
// carrying the record's id but not its invoice's.
func parseChildRead(v *ledger.ValidationError, field, name, collection string) (uuid.UUID, uuid.UUID) {
	if rest, ok := strings.CutPrefix(name, "invoices/-/"+collection+"/"); ok && len(rest) == 36 {
		if id, err := uuid.Parse(rest); err == nil {
			return uuid.Nil, id
		}
	}
	return parseChildName(v, field, name, collection)
}

// parseChildName reads "invoices/{uuid}/{collection}/{uuid}". The nil
// UUID is no invoice's id: it stands for the wildcard in the service, and
// is refused here.
func parseChildName(v *ledger.ValidationError, field, name, collection string) (uuid.UUID, uuid.UUID) {
	parts := strings.Split(name, "/")
	if len(parts) == 4 && parts[0] == "invoices" && parts[2] == collection && len(parts[1]) == 36 && len(parts[3]) == 36 {
		inv, err1 := uuid.Parse(parts[1])
		id, err2 := uuid.Parse(parts[3])
		if err1 == nil && err2 == nil && inv != uuid.Nil {
			return inv, id
		}
	}
	v.Add(field, "%q is not a resource name of the form invoices/{id}/%s/{id}", name, collection)
	return uuid.Nil, uuid.Nil
}

// Parties.

func partyFromProto(p *arrearsv1.Party) *ledger.Party {
	return &ledger.Party{
		DisplayName:    p.GetDisplayName(),
		Kind:           ledger.PartyKind(enumName(p.GetKind().String(), "PARTY_KIND_")),
		SizeClass:      ledger.SizeClass(enumName(p.GetSizeClass().String(), "SIZE_CLASS_")),
		Jurisdiction:   p.GetJurisdiction(),
		RegistrationID: p.GetRegistrationId(),
		RegionCode:     p.GetRegionCode(),
		IndustryCode:   p.GetIndustryCode(),
	}
}

func partyToProto(p *ledger.Party) *arrearsv1.Party {
	vs := arrearsv1.VerificationState_VERIFICATION_STATE_VERIFIED
	if p.Unverified {
		vs = arrearsv1.VerificationState_VERIFICATION_STATE_UNVERIFIED
	}
	return &arrearsv1.Party{
		Name:              partyName(p.ID),
		DisplayName:       p.DisplayName,
		Kind:              arrearsv1.PartyKind(enumValue(arrearsv1.PartyKind_value, "PARTY_KIND_", string(p.Kind))),
		SizeClass:         arrearsv1.SizeClass(enumValue(arrearsv1.SizeClass_value, "SIZE_CLASS_", string(p.SizeClass))),
		Jurisdiction:      p.Jurisdiction,
		RegistrationId:    p.RegistrationID,
		RegionCode:        p.RegionCode,
		IndustryCode:      p.IndustryCode,
		VerificationState: vs,
		Etag:              service.Etag(p.Version),
		CreateTime:        timeToProto(p.CreateTime),
		UpdateTime:        timeToProto(p.UpdateTime),
	}
}

// Invoices.

func rateFromProto(v *ledger.ValidationError, r *arrearsv1.InterestRate) *ledger.Rate {
	if r == nil || (r.Percent == "" && r.Basis == arrearsv1.RateBasis_RATE_BASIS_UNSPECIFIED) {
		return nil
	}
	out := &ledger.Rate{Percent: strings.TrimSpace(r.Percent)}
	switch r.Basis {
	case arrearsv1.RateBasis_RATE_BASIS_PER_ANNUM:
	case arrearsv1.RateBasis_RATE_BASIS_PER_DAY:
		out.PerDay = true
	default:
		v.Add("invoice.agreed_interest_rate.basis", "must be PER_ANNUM or PER_DAY")
	}
	return out
}

func invoiceFromProto(v *ledger.ValidationError, in *arrearsv1.Invoice) *ledger.Invoice {
	f := func(name string, d *arrearsv1.Date) civil.Date { return dateFromProto(v, "invoice."+name, d) }
	return &ledger.Invoice{
		DocumentRef:           in.GetDocumentRef(),
		ContractRef:           in.GetContractRef(),
		Amount:                moneyFromProto(in.GetAmount()),
		ContractSignedOn:      f("contract_signed_on", in.GetContractSignedOn()),
		IssuedOn:              f("issued_on", in.GetIssuedOn()),
		ReceivedOn:            f("received_on", in.GetReceivedOn()),
		DeliveredOn:           f("delivered_on", in.GetDeliveredOn()),
		AcceptanceRequired:    in.GetAcceptanceRequired(),
		AcceptancePeriodDays:  int(in.GetAcceptancePeriodDays()),
		AcceptancePassedOn:    f("acceptance_passed_on", in.GetAcceptancePassedOn()),
		SettlementConfirmedOn: f("settlement_confirmed_on", in.GetSettlementConfirmedOn()),
		AgreedTermDays:        int(in.GetAgreedTermDays()),
		AgreedDueDate:         f("agreed_due_date", in.GetAgreedDueDate()),
		AgreedRate:            rateFromProto(v, in.GetAgreedInterestRate()),
		CreditorSizeAtSigning: ledger.SizeClass(enumName(in.GetCreditorSizeClassAtSigning().String(), "SIZE_CLASS_")),
	}
}

func invoiceToProto(inv *ledger.Invoice) *arrearsv1.Invoice {
	out := &arrearsv1.Invoice{
		Name:                       invoiceName(inv.ID),
		Debtor:                     partyName(inv.DebtorID),
		Creditor:                   partyName(inv.CreditorID),
		DocumentRef:                inv.DocumentRef,
		ContractRef:                inv.ContractRef,
		Amount:                     moneyToProto(inv.Amount.Minor, inv.Amount.Currency),
		ContractSignedOn:           dateToProto(inv.ContractSignedOn),
		IssuedOn:                   dateToProto(inv.IssuedOn),
		ReceivedOn:                 dateToProto(inv.ReceivedOn),
		DeliveredOn:                dateToProto(inv.DeliveredOn),
		AcceptanceRequired:         inv.AcceptanceRequired,
		AcceptancePeriodDays:       int32(inv.AcceptancePeriodDays),
		AcceptancePassedOn:         dateToProto(inv.AcceptancePassedOn),
		SettlementConfirmedOn:      dateToProto(inv.SettlementConfirmedOn),
		AgreedTermDays:             int32(inv.AgreedTermDays),
		AgreedDueDate:              dateToProto(inv.AgreedDueDate),
		CreditorSizeClassAtSigning: arrearsv1.SizeClass(enumValue(arrearsv1.SizeClass_value, "SIZE_CLASS_", string(inv.CreditorSizeAtSigning))),
		Status:                     arrearsv1.InvoiceStatus(enumValue(arrearsv1.InvoiceStatus_value, "INVOICE_STATUS_", string(inv.Status))),
		DueDate:                    dateToProto(inv.DueDate),
		Credited:                   moneyToProto(inv.Credited, inv.Amount.Currency),
		Paid:                       moneyToProto(inv.Paid, inv.Amount.Currency),
		Outstanding:                moneyToProto(inv.Outstanding(), inv.Amount.Currency),
		Disputed:                   moneyToProto(inv.Disputed, inv.Amount.Currency),
		CancelledOn:                dateToProto(inv.CancelledOn),
		CancelReason:               inv.CancelReason,
		Etag:                       service.Etag(inv.Version),
		Revision:                   inv.Version,
		CreateTime:                 timeToProto(inv.CreateTime),
		UpdateTime:                 timeToProto(inv.UpdateTime),
		Policy:                     fmt.Sprintf("%s@%d", inv.PolicyID, inv.PolicyVersion),
		PolicyReason:               inv.PolicyReason,
		OpenContests:               int32(inv.Contested),
		BothSidesAgree:             inv.Contested == 0,
	}
	if inv.AgreedRate != nil {
		basis := arrearsv1.RateBasis_RATE_BASIS_PER_ANNUM
		if inv.AgreedRate.PerDay {
			basis = arrearsv1.RateBasis_RATE_BASIS_PER_DAY
		}
		out.AgreedInterestRate = &arrearsv1.InterestRate{Percent: inv.AgreedRate.Percent, Basis: basis}
	}
	return out
}

// Facts.

func creditNoteToProto(c *ledger.CreditNote, currency string) *arrearsv1.CreditNote {
	return &arrearsv1.CreditNote{
		Name:       creditNoteName(c.InvoiceID, c.ID),
		Amount:     moneyToProto(c.Amount, currency),
		IssuedOn:   dateToProto(c.IssuedOn),
		Reference:  c.Reference,
		Reason:     c.Reason,
		CreateTime: timeToProto(c.CreateTime),
	}
}

func paymentToProto(p *ledger.Payment) *arrearsv1.Payment {
	return &arrearsv1.Payment{
		Name:           paymentName(p.InvoiceID, p.ID),
		Amount:         moneyToProto(p.Amount, p.Currency),
		PaidOn:         dateToProto(p.PaidOn),
		Reference:      p.Reference,
		Instrument:     arrearsv1.PaymentInstrument(enumValue(arrearsv1.PaymentInstrument_value, "PAYMENT_INSTRUMENT_", string(p.Instrument))),
		MaturityOn:     dateToProto(p.MaturityOn),
		State:          arrearsv1.PaymentState(enumValue(arrearsv1.PaymentState_value, "PAYMENT_STATE_", string(p.State))),
		ReversedOn:     dateToProto(p.ReversedOn),
		ReversalReason: p.ReversalReason,
		Etag:           service.Etag(p.Version),
		CreateTime:     timeToProto(p.CreateTime),
		UpdateTime:     timeToProto(p.UpdateTime),
	}
}

func disputeToProto(d *ledger.Dispute, currency string) *arrearsv1.Dispute {
	out := &arrearsv1.Dispute{
		Name:              disputeName(d.InvoiceID, d.ID),
		Amount:            moneyToProto(d.Amount, currency),
		Reason:            d.Reason,
		OpenedOn:          dateToProto(d.OpenedOn),
		State:             arrearsv1.DisputeState(enumValue(arrearsv1.DisputeState_value, "DISPUTE_STATE_", string(d.State))),
		Resolution:        arrearsv1.DisputeResolution(enumValue(arrearsv1.DisputeResolution_value, "DISPUTE_RESOLUTION_", string(d.Resolution))),
		ResolvedOn:        dateToProto(d.ResolvedOn),
		ResolutionComment: d.Comment,
		OpenedBy:          d.OpenedBy,
		Etag:              service.Etag(d.Version),
		CreateTime:        timeToProto(d.CreateTime),
		UpdateTime:        timeToProto(d.UpdateTime),
	}
	if d.CreditNoteID != uuid.Nil {
		out.CreditNote = creditNoteName(d.InvoiceID, d.CreditNoteID)
	}
	return out
}

func revisionToProto(name string, r *ledger.Revision) *arrearsv1.Revision {
	return &arrearsv1.Revision{
		Resource:     name,
		Revision:     r.Revision,
		EffectiveOn:  dateToProto(r.EffectiveOn),
		RecordTime:   timeToProto(r.RecordTime),
		Method:       r.Method,
		SnapshotJson: string(r.Snapshot),
	}
}

// normalizeRegistration canonicalises a natural key, returning a message
// for the client when it cannot be valid.
func normalizeRegistration(p *ledger.Party) (string, string) {
	p.Jurisdiction = strings.ToUpper(strings.TrimSpace(p.Jurisdiction))
	if !regid.IsJurisdiction(p.Jurisdiction) {
		return "", fmt.Sprintf("%q is not a supported jurisdiction (CN, GB, AU, US or an EU member state)", p.Jurisdiction)
	}
	canon, err := regid.Normalize(p.Jurisdiction, p.RegistrationID)
	if err != nil {
		return "", fmt.Sprintf("%q is not a valid %s: %v", p.RegistrationID, regid.Scheme(p.Jurisdiction), err)
	}
	return canon, ""
}

// judgementToProto renders a judgement; amounts are in the invoice's
// currency except compensation, which carries its own.
func judgementToProto(j *service.Judged) *arrearsv1.Judgement {
	jd := j.Judgement
	cur := j.Invoice.Amount.Currency
	bucket, bucketNet := service.APIBuckets(jd)
	out := &arrearsv1.Judgement{
		AsOf:               dateToProto(jd.AsOf),
		KnownAt:            timeToProto(j.KnownAt),
		ClockStartEvent:    string(jd.ClockStartEvent),
		ClockStart:         dateToProto(jd.ClockStart),
		DueDate:            dateToProto(jd.DueDate),
		Provisional:        jd.Provisional,
		DueDateRule:        jd.DueDateRule,
		Outstanding:        moneyToProto(jd.Outstanding, cur),
		Disputed:           moneyToProto(jd.DisputedOpen, cur),
		DaysOverdue:        int32(jd.DaysOverdue),
		DaysOverdueNet:     int32(jd.DaysOverdueNet),
		Bucket:             bucket,
		BucketNet:          bucketNet,
		Interest:           moneyToProto(jd.Interest, cur),
		ContingentInterest: moneyToProto(jd.ContingentInterest, cur),
		InterestRule:       jd.InterestRule,
		EscalationLevel:    int32(jd.EscalationLevel),
		EscalationName:     jd.EscalationName,
		NextChange:         dateToProto(jd.NextChange),
	}
	if jd.Compensation.Currency != "" && jd.Compensation.Minor != 0 {
		out.Compensation = moneyToProto(jd.Compensation.Minor, jd.Compensation.Currency)
	}
	for _, f := range jd.Findings {
		out.Findings = append(out.Findings, &arrearsv1.Finding{Code: f.Code, Message: f.Message})
	}
	return out
}

// judgedToProto is an invoice with its judgement.
func judgedToProto(j *service.Judged) *arrearsv1.Invoice {
	out := invoiceToProto(j.Invoice)
	out.Outstanding = moneyToProto(j.Outstanding, j.Invoice.Amount.Currency)
	out.Judgement = judgementToProto(j)
	return out
}

// maskPaths are an update mask's field paths in the proto's snake_case
// names. A mask in a JSON body reaches the server converted, but one in a
// REST query parameter (?updateMask=displayName) arrives as the client
// wrote it, and the API's JSON names are lowerCamelCase: each is taken in
// either form. A snake_case path has no upper case and stays as it is.
func maskPaths(m *fieldmaskpb.FieldMask) []string {
	paths := m.GetPaths()
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = jsonenc.FieldName(p)
	}
	return out
}
