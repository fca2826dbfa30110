package main

// The overdue summary benchmark: a ledger of N invoices loaded through the
// sync API into a throwaway PostgreSQL cluster, then the summary grouped by
// region (as of today and a year back) timed through arrearsd's gRPC API
// against the straightforward SQL that scans every invoice and its
// payments, both checked to give the same counts and amounts per bucket.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	arrearsv1 "github.com/arrears/arrears/gen/arrears/v1"
	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/policy"
	"github.com/arrears/arrears/internal/regid"
	"github.com/arrears/arrears/internal/store/pgtest"
	"github.com/arrears/arrears/internal/store/postgres"
	"github.com/arrears/arrears/internal/summary"
)

type summaryParams struct {
	n, debtors, regions, creditors, runs, workers int
	bin                                           string
	seed                                          uint64
	explain                                       bool
	pgSettings                                    []string
}

// bucketKey names one cell of a summary: region, currency, bucket.
type bucketKey struct{ group, currency, bucket string }

type bucketVal struct{ count, amount int64 }

func benchSummary(ctx context.Context, p summaryParams) error {
	// Buffers sized as a production server's would be (a quarter of this
	// machine's memory): both the aggregates and the scan read from them.
	cluster, err := pgtest.NewCluster(p.pgSettings...)
	if err != nil {
		return err
	}
	defer cluster.Stop()
	url, err := cluster.CreateDatabase(ctx, "summary")
	if err != nil {
		return err
	}
	if _, err := postgres.Migrate(ctx, url, time.Now()); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "arrears-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	srv, err := startServer(ctx, p.bin, url, dir)
	if err != nil {
		return err
	}
	defer srv.stop()
	actx, err := srv.admin(ctx)
	if err != nil {
		return err
	}
	today := civil.DateOf(time.Now(), shanghai())
	fmt.Printf("summary benchmark: N=%d invoices, %d debtors in %d regions, %d creditors, today %s, PostgreSQL throwaway cluster, arrearsd %s\n",
		p.n, p.debtors, p.regions, p.creditors, today, p.bin)

	start := time.Now()
	debtors, err := createParties(ctx, srv, actx, p, today)
	if err != nil {
		return err
	}
	fmt.Printf("parties: %d debtors and %d creditors in %v\n", p.debtors, p.creditors, time.Since(start).Round(time.Second))

	start = time.Now()
	gen := newLedgerGen(p, today)
	disputable, err := loadLedger(ctx, srv, actx, p, gen, debtors)
	if err != nil {
		return err
	}
	el := time.Since(start)
	fmt.Printf("loaded %d invoices through SyncPayablesBatch in %v (%.0f invoices/s)\n", p.n, el.Round(time.Second), float64(p.n)/el.Seconds())

	start = time.Now()
	nd, err := openDisputes(ctx, srv, actx, p, gen, disputable, today)
	if err != nil {
		return err
	}
	fmt.Printf("opened %d disputes through OpenDispute in %v\n", nd, time.Since(start).Round(time.Second))

	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "ANALYZE"); err != nil {
		return err
	}

	dates := []civil.Date{today, today.AddDays(-365)}
	match := true
	var fast, naive []time.Duration
	for _, d := range dates {
		f, fastTotals, err := timeSummary(actx, srv, d, "region", p.runs)
		if err != nil {
			return err
		}
		nv, naiveTotals, err := timeNaive(ctx, conn, d, "p.region_code", max(3, p.runs/4))
		if err != nil {
			return err
		}
		same := sameTotals(fastTotals, naiveTotals)
		match = match && same
		fmt.Printf("as of %s by region: %d groups, %d open invoices; API p50 %.1f ms, naive SQL p50 %.0f ms, totals match %v\n",
			d, len(groupsOf(fastTotals)), openCount(naiveTotals), ms(pct(f, 50)), ms(pct(nv, 50)), same)
		fast, naive = append(fast, f...), append(naive, nv...)
	}
	fmt.Printf("p50_ms=%.1f p99_ms=%.1f naive_p50_ms=%.0f speedup=%.0f totals_match=%v\n",
		ms(pct(fast, 50)), ms(pct(fast, 99)), ms(pct(naive, 50)), float64(pct(naive, 50))/float64(pct(fast, 50)), match)
	if p.explain {
		if err := explainAggregates(ctx, conn, today); err != nil {
			return err
		}
	}

	// By debtor: from the per-debtor aggregates, a group per debtor, read
	// in pages of 1,000.
	var dfast, dnaive []time.Duration
	dmatch := true
	stopProfile := srv.profile(ctx, "by-debtor")
	defer stopProfile()
	for _, d := range dates {
		f, fastTotals, err := timeSummary(actx, srv, d, "debtor", 3)
		if err != nil {
			return err
		}
		nv, naiveTotals, err := timeNaive(ctx, conn, d, "'parties/' || i.debtor_id::text", 1)
		if err != nil {
			return err
		}
		dmatch = dmatch && sameTotals(fastTotals, naiveTotals)
		dfast, dnaive = append(dfast, f...), append(dnaive, nv...)
	}
	fmt.Printf("by_debtor: p50_ms=%.0f naive_p50_ms=%.0f speedup=%.2f totals_match=%v\n",
		ms(pct(dfast, 50)), ms(pct(dnaive, 50)), float64(pct(dnaive, 50))/float64(pct(dfast, 50)), dmatch)
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// pct is the q-th percentile (nearest rank).
func pct(ds []time.Duration, q int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (q*len(s)+99)/100 - 1
	return s[max(0, min(i, len(s)-1))]
}

func shanghai() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return time.FixedZone("CST", 8*3600)
	}
	return loc
}

// region returns the i-th of the benchmark's region codes: 30 provinces,
// each with counties in ten cities.
func region(i int) string {
	return fmt.Sprintf("%02d%02d%02d", 11+i%30, 1+(i/30)%10, 1+i/300)
}

var industries = []string{"A01", "B06", "C13", "C26", "C33", "C34", "C39", "D44", "E47", "F51", "G54", "H61", "I64", "J66", "K70", "L72", "M74", "N77", "P83", "Q84"}

func debtorCode(i int, public bool) string {
	prefix := "91"
	if public {
		prefix = "11"
	}
	return mustUSCC(fmt.Sprintf("%s%sMA%07d", prefix, region(i%pRegions), i))
}

func creditorCode(i int) string { return mustUSCC(fmt.Sprintf("92350121MB%07d", i)) }

func mustUSCC(body string) string {
	c, err := regid.CompleteUSCC(body)
	if err != nil {
		panic(err)
	}
	return c
}

// pRegions is the region count of the running benchmark (set once).
var pRegions = 300

type debtorInfo struct {
	name   string
	public bool
}

// createParties registers the debtors and creditors, a few at a time.
func createParties(ctx context.Context, srv *server, actx context.Context, p summaryParams, today civil.Date) ([]debtorInfo, error) {
	pRegions = p.regions
	debtors := make([]debtorInfo, p.debtors)
	client := arrearsv1.NewLedgerServiceClient(srv.conn)
	sizes := []arrearsv1.SizeClass{arrearsv1.SizeClass_SIZE_CLASS_MICRO, arrearsv1.SizeClass_SIZE_CLASS_SMALL, arrearsv1.SizeClass_SIZE_CLASS_MEDIUM}
	err := parallel(ctx, p.workers, p.debtors+p.creditors, func(i int) error {
		var party *arrearsv1.Party
		if i < p.debtors {
			public := i%3 == 0
			kind := arrearsv1.PartyKind_PARTY_KIND_LARGE_ENTERPRISE
			if public {
				kind = arrearsv1.PartyKind_PARTY_KIND_PUBLIC_BODY
			}
			party = &arrearsv1.Party{DisplayName: fmt.Sprintf("Buyer %d", i), Kind: kind, Jurisdiction: "CN",
				RegistrationId: debtorCode(i, public), RegionCode: region(i % p.regions), IndustryCode: industries[i%len(industries)]}
			debtors[i] = debtorInfo{name: "parties/CN:" + party.RegistrationId, public: public}
		} else {
			c := i - p.debtors
			party = &arrearsv1.Party{DisplayName: fmt.Sprintf("Supplier %d", c), Kind: arrearsv1.PartyKind_PARTY_KIND_SME, SizeClass: sizes[c%3],
				Jurisdiction: "CN", RegistrationId: creditorCode(c), RegionCode: "350121", IndustryCode: industries[c%len(industries)]}
		}
		_, err := client.CreateParty(actx, &arrearsv1.CreatePartyRequest{Party: party})
		return err
	})
	return debtors, err
}

// parallel runs fn(0..n-1) on workers goroutines, stopping at the first
// error.
func parallel(ctx context.Context, workers, n int, fn func(i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(i); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		}()
	}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	if first == nil && ctx.Err() != nil && !errors.Is(ctx.Err(), context.Canceled) {
		return ctx.Err()
	}
	return first
}

// ledgerGen makes the benchmark's invoices, the same for the same seed.
type ledgerGen struct {
	p       summaryParams
	today   civil.Date
	working func(civil.Date) bool
}

func newLedgerGen(p summaryParams, today civil.Date) *ledgerGen {
	reg, err := policy.Embedded()
	if err != nil {
		panic(err)
	}
	cal := ""
	for _, pol := range reg.Policies() {
		if strings.HasPrefix(pol.ID, "CN-802") {
			cal = pol.Calendar
		}
	}
	return &ledgerGen{p: p, today: today, working: func(d civil.Date) bool {
		if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
			return false
		}
		w, published := reg.IsWorkingDay(cal, d)
		return w || !published
	}}
}

// record makes invoice i of debtor d: due on a working day (so that no
// policy moves it and the naive SQL can use the agreed date) spread over
// five years to 60 days ahead, about 15% still open, 20% with partial
// payments, 1% in USD.
func (g *ledgerGen) record(i int, r *rand.Rand) *arrearsv1.PayableRecord {
	due := g.today.AddDays(60 - r.IntN(5*365))
	for !g.working(due) {
		due = due.AddDays(-1)
	}
	issued := civil.Min(due.AddDays(-(15 + r.IntN(16))), g.today)
	currency := "CNY"
	if i%100 == 0 {
		currency = "USD"
	}
	amount := int64(10000 + r.IntN(5000000))
	rec := &arrearsv1.PayableRecord{Sequence: int64(i + 1), DocumentRef: fmt.Sprintf("INV-%09d", i),
		Creditor: "parties/CN:" + creditorCode(r.IntN(g.p.creditors)), Amount: &arrearsv1.Money{CurrencyCode: currency, MinorUnits: amount},
		ContractSignedOn: pdate(issued.AddDays(-10)), IssuedOn: pdate(issued), DeliveredOn: pdate(issued), AgreedDueDate: pdate(due)}
	openP := 0.12
	if due.After(g.today.AddDays(-60)) {
		openP = 0.6
	}
	pay := func(n int64, on civil.Date, k int) {
		if on.After(g.today) {
			return
		}
		rec.Payments = append(rec.Payments, &arrearsv1.PayablePayment{Reference: fmt.Sprintf("PAY-%09d-%d", i, k),
			Amount: &arrearsv1.Money{CurrencyCode: currency, MinorUnits: n}, PaidOn: pdate(on)})
	}
	paidOn := due.AddDays(r.IntN(100) - 10)
	switch x := r.Float64(); {
	case x < openP*0.5: // open, nothing paid
	case x < openP: // open, partly paid
		pay(amount/3, civil.Min(issued.AddDays(10+r.IntN(60)), g.today), 0)
	case x < openP+0.13: // paid in two instalments
		pay(amount/2, civil.Min(paidOn.AddDays(-20), g.today), 0)
		pay(amount-amount/2, paidOn, 1)
	default:
		pay(amount, paidOn, 0)
	}
	return rec
}

func pdate(d civil.Date) *arrearsv1.Date {
	return &arrearsv1.Date{Year: int32(d.Year), Month: int32(d.Month), Day: int32(d.Day)}
}

// loadLedger syncs every debtor's invoices (N/debtors each) in batches of
// at most 1000, and returns the invoices still owing today (for disputes).
func loadLedger(ctx context.Context, srv *server, actx context.Context, p summaryParams, g *ledgerGen, debtors []debtorInfo) ([]string, error) {
	client := arrearsv1.NewSyncServiceClient(srv.conn)
	var mu sync.Mutex
	var owing []string
	done := 0
	err := parallel(ctx, p.workers, p.debtors, func(d int) error {
		r := rand.New(rand.NewPCG(p.seed, uint64(d)))
		var recs []*arrearsv1.PayableRecord
		flush := func() error {
			if len(recs) == 0 {
				return nil
			}
			resp, err := client.SyncPayablesBatch(actx, &arrearsv1.SyncPayablesBatchRequest{Debtor: debtors[d].name, Records: recs})
			if err != nil {
				return err
			}
			var mine []string
			for k, res := range resp.GetResult().GetResults() {
				if res.Outcome != "CREATED" {
					return fmt.Errorf("record %s: %s %v", res.DocumentRef, res.Outcome, res.Problems)
				}
				var paid int64
				for _, pay := range recs[k].Payments {
					paid += pay.Amount.MinorUnits
				}
				if paid < recs[k].Amount.MinorUnits {
					mine = append(mine, res.Invoice)
				}
			}
			mu.Lock()
			owing = append(owing, mine...)
			done += len(recs)
			if done%100000 < len(recs) {
				fmt.Printf("  %d invoices loaded\n", done)
			}
			mu.Unlock()
			recs = recs[:0]
			return nil
		}
		for i := d; i < p.n; i += p.debtors {
			recs = append(recs, g.record(i, r))
			if len(recs) == 1000 {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		return flush()
	})
	sort.Strings(owing)
	return owing, err
}

// openDisputes disputes part of what 2% of all invoices owe, choosing
// among those still owing, through the API.
func openDisputes(ctx context.Context, srv *server, actx context.Context, p summaryParams, g *ledgerGen, owing []string, today civil.Date) (int, error) {
	n := min(p.n/50, len(owing))
	r := rand.New(rand.NewPCG(p.seed, 1<<40))
	r.Shuffle(len(owing), func(i, k int) { owing[i], owing[k] = owing[k], owing[i] })
	client := arrearsv1.NewLedgerServiceClient(srv.conn)
	err := parallel(ctx, p.workers, n, func(i int) error {
		inv, err := client.GetInvoice(actx, &arrearsv1.GetInvoiceRequest{Name: owing[i]})
		if err != nil {
			return err
		}
		j := inv.GetInvoice().GetJudgement()
		if j == nil || j.Outstanding.GetMinorUnits() <= 1 {
			return nil
		}
		issued := inv.Invoice.IssuedOn
		opened := civil.Max(civil.MustNew(int(issued.Year), time.Month(issued.Month), int(issued.Day)), today.AddDays(-200))
		_, err = client.OpenDispute(actx, &arrearsv1.OpenDisputeRequest{Parent: owing[i], Dispute: &arrearsv1.Dispute{
			Amount: &arrearsv1.Money{CurrencyCode: j.Outstanding.CurrencyCode, MinorUnits: j.Outstanding.MinorUnits / 2}, Reason: "quality", OpenedOn: pdate(opened)}})
		return err
	})
	return n, err
}

// timeSummary asks arrearsd for the summary grouped by dim, runs times
// after one warm-up, and returns the latencies and the gross totals.
func timeSummary(actx context.Context, srv *server, asOf civil.Date, dim string, runs int) ([]time.Duration, map[bucketKey]bucketVal, error) {
	client := arrearsv1.NewOversightServiceClient(srv.conn)
	var out []time.Duration
	var totals map[bucketKey]bucketVal
	for k := -1; k < runs; k++ {
		begin := time.Now()
		totals = map[bucketKey]bucketVal{}
		token := ""
		for {
			resp, err := client.GetOverdueSummary(actx, &arrearsv1.GetOverdueSummaryRequest{AsOf: pdate(asOf), GroupBy: []string{dim},
				PageSize: 1000, PageToken: token})
			if err != nil {
				return nil, nil, err
			}
			for _, g := range resp.Groups {
				for _, b := range g.Buckets {
					totals[bucketKey{g.Key[dim], b.Amount.CurrencyCode, b.Bucket}] = bucketVal{b.Count, b.Amount.MinorUnits}
				}
			}
			if token = resp.NextPageToken; token == "" {
				break
			}
		}
		if k >= 0 {
			out = append(out, time.Since(begin))
		}
	}
	return out, totals, nil
}

// naiveSQL is the straightforward query: every invoice issued by the date,
// less its payments made by then, aged from its due date, totalled per
// group, currency and bucket.
const naiveSQL = `
SELECT %s AS grp, i.currency,
       CASE WHEN i.due_date IS NULL OR $1::date - i.due_date <= 0 THEN 'NOT_DUE'
            WHEN $1::date - i.due_date <= 30 THEN '1-30'
            WHEN $1::date - i.due_date <= 60 THEN '31-60'
            WHEN $1::date - i.due_date <= 90 THEN '61-90'
            WHEN $1::date - i.due_date <= 180 THEN '91-180'
            WHEN $1::date - i.due_date <= 365 THEN '181-365'
            ELSE 'OVER_365' END AS bucket,
       COUNT(*), SUM(i.amount - COALESCE(pd.paid, 0))
FROM invoices i
JOIN parties p ON p.id = i.debtor_id
LEFT JOIN (SELECT invoice_id, SUM(amount) AS paid FROM payments
           WHERE paid_on <= $1::date AND (reversed_on IS NULL OR reversed_on > $1::date)
           GROUP BY invoice_id) pd ON pd.invoice_id = i.id
WHERE i.issued_on <= $1::date AND (i.cancelled_on IS NULL OR i.cancelled_on > $1::date)
  AND i.amount - COALESCE(pd.paid, 0) > 0
GROUP BY 1, 2, 3`

func timeNaive(ctx context.Context, conn *pgx.Conn, asOf civil.Date, group string, runs int) ([]time.Duration, map[bucketKey]bucketVal, error) {
	var out []time.Duration
	var totals map[bucketKey]bucketVal
	for k := -1; k < runs; k++ {
		begin := time.Now()
		rows, err := conn.Query(ctx, fmt.Sprintf(naiveSQL, group), asOf.String())
		if err != nil {
			return nil, nil, err
		}
		totals = map[bucketKey]bucketVal{}
		for rows.Next() {
			var key bucketKey
			var v bucketVal
			if err := rows.Scan(&key.group, &key.currency, &key.bucket, &v.count, &v.amount); err != nil {
				return nil, nil, err
			}
			totals[key] = v
		}
		if err := rows.Err(); err != nil {
			return nil, nil, err
		}
		if k >= 0 {
			out = append(out, time.Since(begin))
		}
	}
	return out, totals, nil
}

func sameTotals(a, b map[bucketKey]bucketVal) bool {
	if len(a) != len(b) || len(a) == 0 {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func groupsOf(t map[bucketKey]bucketVal) map[string]bool {
	out := map[string]bool{}
	for k := range t {
		out[k.group+"|"+k.currency] = true
	}
	return out
}

func openCount(t map[bucketKey]bucketVal) int64 {
	var n int64
	for _, v := range t {
		n += v.count
	}
	return n
}

// explainAggregates prints how PostgreSQL runs the aggregate reads.
func explainAggregates(ctx context.Context, conn *pgx.Conn, d civil.Date) error {
	var count int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM summary_nodes").Scan(&count); err != nil {
		return err
	}
	fmt.Printf("summary_nodes rows: %d\n", count)
	for _, q := range []string{
		"SELECT 1 FROM summary_profiles WHERE change_time > now() LIMIT 1",
		fmt.Sprintf("SELECT jurisdiction, region_code, debtor_kind, currency, SUM(l0_count), SUM(l6_amount) FROM summary_nodes WHERE node IN (%s) GROUP BY 1, 2, 3, 4", nodeList(d)),
	} {
		rows, err := conn.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+q)
		if err != nil {
			return err
		}
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				return err
			}
			fmt.Println("  " + line)
		}
		rows.Close()
	}
	return nil
}

func nodeList(d civil.Date) string {
	var parts []string
	for _, n := range summary.Path(d) {
		parts = append(parts, fmt.Sprint(n))
	}
	return strings.Join(parts, ", ")
}
