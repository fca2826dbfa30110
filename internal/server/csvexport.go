package server

import (
	"cmp"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	arrearsv1 "github.com/arrears/arrears/gen/arrears/v1"
	"github.com/arrears/arrears/internal/judgement"
	"github.com/arrears/arrears/internal/money"
	"github.com/arrears/arrears/internal/policy"
	"github.com/arrears/arrears/internal/service"
)

// csvExports serves the regulators' figures as CSV. Each handler reads
// the query string as the JSON route does, then calls the gRPC method over
// the gateway's own connection with the caller's key, so access checks,
// limits and logging are those of the API; it only changes the encoding.
//
// Amounts are decimals in the currency's major unit with exactly its
// number of decimals, so a spreadsheet adds them exactly; counts are
// integers; dates are ISO 8601. The column set of each export is fixed and
// documented in the README: new columns are only ever appended.
type csvExports struct {
	conn *grpc.ClientConn
	gw   *runtime.ServeMux
	log  *slog.Logger
}

// summaryBuckets are the aging buckets that get columns, in order.
var summaryBuckets = judgement.BucketNames(policy.DefaultBucketEdges())

// summaryColumns is the header of the overdue-summary export.
func summaryColumns() []string {
	cols := []string{"as_of", "known_at", "debtor", "debtor_kind", "region", "industry", "creditor_size", "currency",
		"invoices", "outstanding", "overdue", "overdue_net", "interest"}
	for _, net := range []string{"", "net_"} {
		for _, b := range summaryBuckets {
			cols = append(cols, "bucket_"+net+b+"_count", "bucket_"+net+b+"_amount")
		}
	}
	// Appended later, as the README promises new columns are: the export
	// computes the detail, and the JSON and the watch list carry these.
	return append(cols, "overdue_invoices", "oldest_days_overdue", "max_escalation_level")
}

// summaryKeyColumns are the grouping dimensions, in column order.
var summaryKeyColumns = []string{"debtor", "debtor_kind", "region", "industry", "creditor_size"}

func (c *csvExports) overdueSummary(w http.ResponseWriter, r *http.Request) {
	q := &arrearsv1.GetOverdueSummaryRequest{}
	bom, ok := c.parse(w, r, q)
	if !ok {
		return
	}
	ctx := outgoing(r)
	stream, err := arrearsv1.NewOversightServiceClient(c.conn).ExportOverdueSummary(ctx, &arrearsv1.ExportOverdueSummaryRequest{Query: q})
	var first *arrearsv1.ExportOverdueSummaryResponse
	if err == nil {
		first, err = stream.Recv()
	}
	if err != nil {
		// The query string's fields are the summary's own, not nested.
		c.fail(w, r, unnest(err, "query."))
		return
	}
	cw := c.start(w, bom, "overdue-summary-"+dateString(first.AsOf)+".csv")
	_ = cw.Write(summaryColumns())
	asOf, knownAt := dateString(first.AsOf), first.KnownAt.AsTime().UTC().Format(time.RFC3339Nano)
	for msg := first; ; {
		for _, g := range msg.Groups {
			cur := g.Outstanding.GetCurrencyCode()
			row := []string{asOf, knownAt}
			for _, k := range summaryKeyColumns {
				row = append(row, text(g.Key[k]))
			}
			row = append(row, cur, strconv.FormatInt(g.Invoices, 10), decimal(g.Outstanding, cur), decimal(g.Overdue, cur),
				decimal(g.OverdueNet, cur), decimal(g.Interest, cur))
			for _, buckets := range [][]*arrearsv1.BucketTotal{g.Buckets, g.BucketsNet} {
				for _, name := range summaryBuckets {
					n, amount := int64(0), money.Money{Currency: cur}
					for _, b := range buckets {
						if b.Bucket == name {
							n, amount.Minor = b.Count, b.Amount.GetMinorUnits()
						}
					}
					row = append(row, strconv.FormatInt(n, 10), amount.Decimal())
				}
			}
			row = append(row, strconv.FormatInt(g.OverdueInvoices, 10), strconv.Itoa(int(g.OldestDaysOverdue)), strconv.Itoa(int(g.MaxEscalationLevel)))
			_ = cw.Write(row)
		}
		cw.Flush()
		if msg, err = stream.Recv(); errors.Is(err, io.EOF) {
			return
		} else if err != nil {
			c.abort(r, err)
		}
	}
}

func (c *csvExports) paymentPractice(w http.ResponseWriter, r *http.Request) {
	q := &arrearsv1.GetPaymentPracticeReportRequest{}
	bom, ok := c.parse(w, r, q)
	if !ok {
		return
	}
	q.Debtor = "parties/" + r.PathValue("party")
	resp, err := arrearsv1.NewOversightServiceClient(c.conn).GetPaymentPracticeReport(outgoing(r), q)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	cw := c.start(w, bom, fmt.Sprintf("payment-practice-%s-%s.csv", dateString(q.PeriodStart), dateString(q.PeriodEnd)))
	header := []string{"debtor", "period_start", "period_end", "known_at", "currency", "payments", "amount", "average_days_to_pay"}
	// The band columns are the chosen set's, whether or not any row follows.
	for _, b := range service.PracticeBands[cmp.Or(strings.ToUpper(q.Bands), "UK")] {
		header = append(header, "band_"+b.Label+"_count", "band_"+b.Label+"_amount", "band_"+b.Label+"_count_share_bp", "band_"+b.Label+"_value_share_bp")
	}
	header = append(header, "late_count", "late_amount", "late_count_share_bp", "late_value_share_bp", "late_disputed_count",
		"late_disputed_amount", "unpaid_past_due_count", "unpaid_past_due_amount", "contracts", "standard_term_days",
		"longest_term_days", "terms_over_cap", "due_count", "due_amount", "not_within_terms_count", "not_within_terms_amount",
		"not_within_terms_count_share_bp", "not_within_terms_value_share_bp")
	_ = cw.Write(header)
	i64 := func(n int64) string { return strconv.FormatInt(n, 10) }
	for _, p := range resp.Reports {
		cur := p.Amount.GetCurrencyCode()
		row := []string{p.Debtor, dateString(p.PeriodStart), dateString(p.PeriodEnd), p.KnownAt.AsTime().UTC().Format(time.RFC3339Nano),
			cur, i64(p.Payments), decimal(p.Amount, cur), i64(int64(p.AverageDaysToPay))}
		for _, b := range p.Bands {
			row = append(row, i64(b.Count), decimal(b.Amount, cur), i64(int64(b.CountShareBp)), i64(int64(b.ValueShareBp)))
		}
		row = append(row, i64(p.LateCount), decimal(p.LateAmount, cur), i64(int64(p.LateCountShareBp)), i64(int64(p.LateValueShareBp)),
			i64(p.LateDisputedCount), decimal(p.LateDisputedAmount, cur), i64(p.UnpaidPastDueCount), decimal(p.UnpaidPastDueAmount, cur),
			i64(p.Contracts), i64(int64(p.StandardTermDays)), i64(int64(p.LongestTermDays)), i64(p.TermsOverCap),
			i64(p.DueCount), decimal(p.DueAmount, cur), i64(p.NotWithinTermsCount), decimal(p.NotWithinTermsAmount, cur),
			i64(int64(p.NotWithinTermsCountShareBp)), i64(int64(p.NotWithinTermsValueShareBp)))
		_ = cw.Write(row)
	}
	cw.Flush()
}

func (c *csvExports) watchList(w http.ResponseWriter, r *http.Request) {
	q := &arrearsv1.GetWatchListRequest{}
	bom, ok := c.parse(w, r, q)
	if !ok {
		return
	}
	resp, err := arrearsv1.NewOversightServiceClient(c.conn).GetWatchList(outgoing(r), q)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	cw := c.start(w, bom, "watch-list-"+dateString(resp.AsOf)+".csv")
	_ = cw.Write([]string{"as_of", "since", "known_at", "currency", "rank", "debtor", "display_name", "region_code",
		"overdue_invoices", "overdue", "oldest_days_overdue", "max_escalation_level", "rank_since", "overdue_invoices_since",
		"overdue_since", "max_escalation_level_since", "overdue_change"})
	i64 := func(n int64) string { return strconv.FormatInt(n, 10) }
	knownAt := resp.KnownAt.AsTime().UTC().Format(time.RFC3339Nano)
	for _, e := range resp.Entries {
		cur := e.Overdue.GetCurrencyCode()
		_ = cw.Write([]string{dateString(resp.AsOf), dateString(resp.Since), knownAt, cur, i64(int64(e.Rank)), e.Debtor, text(e.DisplayName),
			text(e.RegionCode), i64(e.OverdueInvoices), decimal(e.Overdue, cur), i64(int64(e.OldestDaysOverdue)), i64(int64(e.MaxEscalationLevel)),
			i64(int64(e.RankSince)), i64(e.OverdueInvoicesSince), decimal(e.OverdueSince, cur), i64(int64(e.MaxEscalationLevelSince)),
			decimal(e.OverdueChange, cur)})
	}
	cw.Flush()
}

func (c *csvExports) annualDisclosure(w http.ResponseWriter, r *http.Request) {
	q := &arrearsv1.GetAnnualDisclosureRequest{}
	bom, ok := c.parse(w, r, q)
	if !ok {
		return
	}
	q.Debtor = "parties/" + r.PathValue("party")
	resp, err := arrearsv1.NewOversightServiceClient(c.conn).GetAnnualDisclosure(outgoing(r), q)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	cw := c.start(w, bom, fmt.Sprintf("annual-disclosure-%d.csv", q.Year))
	// known_at last: columns are only ever appended.
	_ = cw.Write([]string{"debtor", "year", "as_of", "currency", "count", "amount", "contract_count", "known_at"})
	for _, d := range resp.Disclosures {
		cur := d.Amount.GetCurrencyCode()
		_ = cw.Write([]string{d.Debtor, strconv.Itoa(int(d.Year)), dateString(d.AsOf), cur, strconv.FormatInt(d.Count, 10), decimal(d.Amount, cur),
			strconv.FormatInt(d.ContractCount, 10), d.KnownAt.AsTime().UTC().Format(time.RFC3339Nano)})
	}
	cw.Flush()
}

// parse fills msg from the query string as the gateway would, and reads
// bom=true (a UTF-8 byte-order mark first, for spreadsheet programs). On a
// bad parameter it answers 400 and returns false.
func (c *csvExports) parse(w http.ResponseWriter, r *http.Request, msg proto.Message) (bom, ok bool) {
	values := url.Values{}
	for k, v := range r.URL.Query() {
		values[k] = v
	}
	if s := values.Get("bom"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			c.fail(w, r, status.Errorf(codes.InvalidArgument, "parsing field \"bom\": %q is not true or false", s))
			return false, false
		}
		bom = b
	}
	delete(values, "bom")
	if err := runtime.PopulateQueryParameters(msg, values, utilities.NewDoubleArray(nil)); err != nil {
		c.fail(w, r, status.Error(codes.InvalidArgument, err.Error()))
		return false, false
	}
	return bom, true
}

// start writes the headers of a CSV download and returns its writer.
func (c *csvExports) start(w http.ResponseWriter, bom bool, filename string) *csv.Writer {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+filename+`"`)
	w.WriteHeader(http.StatusOK)
	if bom {
		_, _ = io.WriteString(w, "\uFEFF")
	}
	cw := csv.NewWriter(w)
	cw.UseCRLF = true // RFC 4180
	return cw
}

// fail answers an error before any row is written, as the JSON route would.
func (c *csvExports) fail(w http.ResponseWriter, r *http.Request, err error) {
	errorHandler(r.Context(), c.gw, &runtime.JSONPb{}, w, r, err)
}

// abort ends a download that failed after its first rows: the status is
// sent, so the connection is cut rather than the file left silently short.
func (c *csvExports) abort(r *http.Request, err error) {
	c.log.WarnContext(r.Context(), "CSV export cut short", "path", r.URL.Path, "err", err)
	panic(http.ErrAbortHandler)
}

// unnest drops prefix from the field names of an InvalidArgument error's
// message and violations.
func unnest(err error, prefix string) error {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.InvalidArgument {
		return err
	}
	out := status.New(codes.InvalidArgument, strings.ReplaceAll(st.Message(), prefix, ""))
	for _, d := range st.Details() {
		br, ok := d.(*errdetails.BadRequest)
		if !ok {
			continue
		}
		for _, v := range br.FieldViolations {
			v.Field = strings.TrimPrefix(v.Field, prefix)
		}
		if withDetails, err := out.WithDetails(br); err == nil {
			out = withDetails
		}
	}
	return out.Err()
}

// outgoing carries the caller's key to the gRPC call.
func outgoing(r *http.Request) context.Context {
	return metadata.AppendToOutgoingContext(r.Context(), "authorization", r.Header.Get("Authorization"))
}

// text makes a free-text cell safe to open in a spreadsheet: a value that
// starts like a formula (= + - @, or a tab or carriage return) gets a
// leading apostrophe, so that it shows as text instead of being evaluated.
func text(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func dateString(d *arrearsv1.Date) string {
	if d == nil {
		return ""
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day)
}

// decimal formats m in currency (the row's: a zero amount may come without
// its own).
func decimal(m *arrearsv1.Money, currency string) string {
	return money.Money{Currency: currency, Minor: m.GetMinorUnits()}.Decimal()
}
