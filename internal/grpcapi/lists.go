package grpcapi

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/filter"
	"github.com/arrears/arrears/internal/judgement"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/money"
	"github.com/arrears/arrears/internal/policy"
	"github.com/arrears/arrears/internal/regid"
	"github.com/arrears/arrears/internal/service"
	"github.com/arrears/arrears/internal/store"
)

// Page sizes of every list method (AIP-158).
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// pageSize applies the default and the maximum.
func pageSize(v *ledger.ValidationError, n int32) int {
	switch {
	case n < 0:
		v.Add("page_size", "must not be negative, got %d", n)
		return DefaultPageSize
	case n == 0:
		return DefaultPageSize
	case n > MaxPageSize:
		return MaxPageSize
	}
	return int(n)
}

// page decodes the token against the query's scope and asks the store for
// one row more than the page, to know whether another page follows without
// a second query.
func (s *Server) page(v *ledger.ValidationError, scope, token string, size int) store.Page {
	p := store.Page{Limit: size + 1}
	if token != "" {
		after, err := s.tokens.Decode(scope, token)
		if err != nil {
			v.Add("page_token", "%s", err)
		}
		p.AfterID = after
	}
	return p
}

// nextToken trims the look-ahead row and returns the token for the next
// page, or "" at the end of the list.
func nextToken[T any](s *Server, scope string, rows []*T, size int, id func(*T) uuid.UUID) ([]*T, string) {
	if len(rows) <= size {
		return rows, ""
	}
	rows = rows[:size]
	return rows, s.tokens.Encode(scope, id(rows[len(rows)-1]))
}

// seqPosition is a page position holding a number (a revision, a
// sequence) in its last 8 bytes, as lists paged by number carry it in
// their tokens; positionSeq reads it back.
func seqPosition(n int64) uuid.UUID {
	var pos uuid.UUID
	for i := 0; i < 8; i++ {
		pos[15-i] = byte(n >> (8 * i))
	}
	return pos
}

func positionSeq(pos uuid.UUID) int64 {
	var n int64
	for _, b := range pos[8:] {
		n = n<<8 | int64(b)
	}
	return n
}

// scope binds a page token to the caller, the method, the parent and the
// filter: a token handed to someone else, or replayed with a wider filter,
// is refused.
func scope(ctx context.Context, method, parent, filter string) string {
	return callerKey(ctx) + "\x00" + method + "\x00" + parent + "\x00" + filter
}

// filterFields says, per field of one list, which operators it takes and
// how its value is checked.
type fieldSpec struct {
	ops   string // e.g. "= !=", or "= != < <= > >="
	kind  string // "enum", "date", "text", "party", "prefix", "int", "currency"
	enums []string
}

// parseFilter parses and checks a filter against a list's fields.
func parseFilter(v *ledger.ValidationError, s string, fields map[string]fieldSpec) []filter.Cond {
	conds, err := filter.Parse(s)
	if err != nil {
		v.Add("filter", "%v", err)
		return nil
	}
	var ok []filter.Cond
	for _, c := range conds {
		spec, known := fields[c.Field]
		if !known {
			v.Add("filter", "cannot filter on %q; supported fields: %s", c.Field, strings.Join(sortedKeys(fields), ", "))
			continue
		}
		if !contains(strings.Fields(spec.ops), c.Op) {
			v.Add("filter", "%s supports only the operators %s", c.Field, spec.ops)
			continue
		}
		if !utf8.ValidString(c.Value) || strings.ContainsRune(c.Value, 0) {
			// Not text to PostgreSQL, which would fail the query.
			v.Add("filter", "%s: the value is not UTF-8 text or holds a NUL character", c.Field)
			continue
		}
		switch spec.kind {
		case "enum":
			c.Value = strings.ToUpper(c.Value)
			if !contains(spec.enums, c.Value) {
				v.Add("filter", "%s must be one of %s, got %q", c.Field, strings.Join(spec.enums, ", "), c.Value)
				continue
			}
		case "currency":
			if c.Value = money.CodeUpper(c.Value); !money.IsCurrency(c.Value) {
				v.Add("filter", "%s: %q is not an ISO 4217 currency", c.Field, c.Value)
				continue
			}
		case "date":
			if _, err := civil.Parse(c.Value); err != nil {
				v.Add("filter", "%s: %v", c.Field, err)
				continue
			}
		case "int":
			if n, err := strconv.Atoi(c.Value); err != nil || n < 0 {
				v.Add("filter", "%s must be a whole number of at least 0, got %q", c.Field, c.Value)
				continue
			}
		}
		ok = append(ok, c)
	}
	return ok
}

func sortedKeys(m map[string]fieldSpec) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	for i := range ks {
		for j := i + 1; j < len(ks); j++ {
			if ks[j] < ks[i] {
				ks[i], ks[j] = ks[j], ks[i]
			}
		}
	}
	return ks
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func strCond(c filter.Cond) store.StringCond {
	return store.StringCond{Op: store.Op(c.Op), Value: c.Value}
}

// prefixCond reads "value*" as a prefix match (province "35*" covers every
// city and county code under it) and anything else as equality.
func prefixCond(c filter.Cond) store.StringCond {
	if v, ok := strings.CutSuffix(c.Value, "*"); ok {
		return store.StringCond{Op: store.OpPrefix, Value: v}
	}
	return strCond(c)
}

func dateCond(c filter.Cond) store.DateCond {
	d, _ := civil.Parse(c.Value) // checked in parseFilter
	return store.DateCond{Op: store.Op(c.Op), Value: d}
}

var (
	partyFields = map[string]fieldSpec{
		"jurisdiction":    {ops: "= !=", kind: "text"},
		"kind":            {ops: "= !=", kind: "enum", enums: []string{"LARGE_ENTERPRISE", "PUBLIC_BODY", "SME", "REGULATOR"}},
		"size_class":      {ops: "= !=", kind: "enum", enums: []string{"MICRO", "SMALL", "MEDIUM", "LARGE"}},
		"region_code":     {ops: "=", kind: "prefix"},
		"industry_code":   {ops: "= !=", kind: "text"},
		"registration_id": {ops: "=", kind: "text"},
	}
	invoiceFields = map[string]fieldSpec{
		"debtor":       {ops: "=", kind: "party"},
		"creditor":     {ops: "=", kind: "party"},
		"status":       {ops: "= !=", kind: "enum", enums: []string{"OPEN", "SETTLED", "CANCELLED"}},
		"currency":     {ops: "=", kind: "currency"},
		"document_ref": {ops: "=", kind: "text"},
		"due_date":     {ops: "= != < <= > >=", kind: "date"},
		// On the judgement as of as_of.
		"bucket":           {ops: "= !=", kind: "enum", enums: bucketNames},
		"bucket_net":       {ops: "= !=", kind: "enum", enums: bucketNames},
		"escalation_level": {ops: "= != < <= > >=", kind: "int"},
		"days_overdue":     {ops: "= != < <= > >=", kind: "int"},
	}
	paymentFields = map[string]fieldSpec{
		"state":     {ops: "= !=", kind: "enum", enums: []string{"RECORDED", "REVERSED"}},
		"paid_on":   {ops: "= != < <= > >=", kind: "date"},
		"reference": {ops: "=", kind: "text"},
	}
	disputeFields = map[string]fieldSpec{
		"state": {ops: "= !=", kind: "enum", enums: []string{"OPEN", "RESOLVED"}},
	}
)

// partyQuery maps a parsed party filter to the store query.
func partyQuery(conds []filter.Cond) store.PartyQuery {
	var q store.PartyQuery
	for _, c := range conds {
		sc := strCond(c)
		switch c.Field {
		case "jurisdiction":
			sc.Value = strings.ToUpper(sc.Value)
			q.Jurisdiction = append(q.Jurisdiction, sc)
		case "kind":
			q.Kind = append(q.Kind, sc)
		case "size_class":
			q.SizeClass = append(q.SizeClass, sc)
		case "region_code":
			sc = prefixCond(c)
			sc.Value = strings.ToUpper(sc.Value)
			q.RegionCode = append(q.RegionCode, sc)
		case "industry_code":
			sc.Value = strings.ToUpper(sc.Value)
			q.IndustryCode = append(q.IndustryCode, sc)
		case "registration_id":
			q.RegistrationID = append(q.RegistrationID, registrationForms(conds, c.Value))
		default:
			panic(fmt.Sprintf("unmapped party filter field %q", c.Field))
		}
	}
	return q
}

// registrationForms are the forms a registration_id filter value may be
// stored in (regid.Normalize), as a party name's is taken: in the scheme of
// the filter's jurisdiction (jurisdiction = X), else in each scheme that
// accepts it, and always upper case without white space (every scheme's
// canonical form but the US's, and that of ids stored before a scheme's
// rules changed).
func registrationForms(conds []filter.Cond, v string) []string {
	plain := strings.ToUpper(strings.Join(strings.Fields(v), ""))
	forms := []string{plain}
	add := func(j string) {
		if n, err := regid.Normalize(j, v); err == nil && !slices.Contains(forms, n) {
			forms = append(forms, n)
		}
	}
	for _, c := range conds {
		if c.Field == "jurisdiction" && c.Op == "=" {
			add(strings.ToUpper(c.Value))
			return forms
		}
	}
	for _, j := range regid.Jurisdictions() {
		add(j)
	}
	return forms
}

// bucketNames are the default aging buckets (judgement.BucketNames) plus
// NONE for nothing outstanding.
var bucketNames = append([]string{judgement.BucketNone}, judgement.BucketNames(policy.DefaultBucketEdges())...)

// judgementFilters picks the conditions that apply to the judgement.
func judgementFilters(conds []filter.Cond) []service.JudgementFilter {
	var out []service.JudgementFilter
	for _, c := range conds {
		switch c.Field {
		case "bucket", "bucket_net", "escalation_level", "days_overdue":
			out = append(out, service.JudgementFilter{Field: c.Field, Op: c.Op, Value: c.Value})
		}
	}
	return out
}

// invoiceQueryBase maps the invoice filter's non-party fields.
func invoiceQueryBase(conds []filter.Cond) store.InvoiceQuery {
	var q store.InvoiceQuery
	for _, c := range conds {
		switch c.Field {
		case "status":
			q.Status = append(q.Status, strCond(c))
		case "currency":
			c.Value = strings.ToUpper(c.Value)
			q.Currency = append(q.Currency, strCond(c))
		case "document_ref":
			q.DocumentRef = append(q.DocumentRef, strCond(c))
		case "due_date":
			q.DueDate = append(q.DueDate, dateCond(c))
		}
	}
	return q
}

func paymentQuery(conds []filter.Cond) store.PaymentQuery {
	var q store.PaymentQuery
	for _, c := range conds {
		switch c.Field {
		case "state":
			q.State = append(q.State, strCond(c))
		case "paid_on":
			q.PaidOn = append(q.PaidOn, dateCond(c))
		case "reference":
			q.Reference = append(q.Reference, strCond(c))
		}
	}
	return q
}

func disputeQuery(conds []filter.Cond) store.DisputeQuery {
	var q store.DisputeQuery
	for _, c := range conds {
		if c.Field == "state" {
			q.State = append(q.State, strCond(c))
		}
	}
	return q
}
