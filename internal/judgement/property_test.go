package judgement

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/money"
	"github.com/arrears/arrears/internal/policy"
)

// genOptions narrows the random histories for properties that only hold
// without some kinds of fact.
type genOptions struct {
	noDisputes  bool
	noReversals bool
}

var genCurrencies = []string{"CNY", "EUR", "GBP", "USD", "JPY", "PLN"}

// randomInput builds a valid invoice with a random payment history under a
// random shipped policy. Dates run from 2019 so that every rate table has a
// value for them.
func randomInput(t testing.TB, r *rand.Rand, o genOptions) Input {
	pols := registry(t).Policies()
	p := pols[r.IntN(len(pols))]
	day := func(base civil.Date, spread int) civil.Date { return base.AddDays(r.IntN(spread + 1)) }
	maybe := func(pct int) bool { return r.IntN(100) < pct }

	issued := day(civil.MustNew(2019, 1, 1), 2500)
	amount := 1 + r.Int64N(1_000_000_000)
	inv := ledger.Invoice{
		ID: uuid.New(), DocumentRef: "P", Amount: money.Money{Minor: amount, Currency: genCurrencies[r.IntN(len(genCurrencies))]},
		IssuedOn: issued,
	}
	if maybe(80) {
		inv.DeliveredOn = issued.AddDays(r.IntN(21) - 10)
	}
	if maybe(80) {
		inv.ReceivedOn = day(issued, 10)
	}
	if maybe(70) {
		inv.ContractSignedOn = issued.AddDays(-r.IntN(400))
	}
	if maybe(20) {
		inv.AcceptanceRequired = true
		if maybe(70) {
			inv.AcceptancePeriodDays = r.IntN(31)
		}
		if maybe(60) {
			inv.AcceptancePassedOn = day(issued, 40)
		}
	}
	if maybe(10) {
		inv.SettlementConfirmedOn = day(issued, 20)
	}
	switch r.IntN(10) {
	case 0:
		inv.AgreedDueDate = day(issued, 150)
	case 1, 2, 3, 4:
		inv.AgreedTermDays = r.IntN(121)
	}
	if maybe(30) {
		inv.AgreedRate = &ledger.Rate{Percent: fmt.Sprintf("%d.%02d", r.IntN(20), 1+r.IntN(99)), PerDay: maybe(30)}
	}
	if maybe(5) {
		inv.CancelledOn = day(issued, 300)
	}
	in := Input{Invoice: inv, Policy: p, Tables: registry(t), AsOf: day(issued, 700)}
	for range r.IntN(5) {
		pay := ledger.Payment{ID: uuid.New(), Amount: 1 + r.Int64N(amount/2+1), PaidOn: day(issued, 300),
			Instrument: ledger.InstrumentTransfer, State: ledger.PaymentRecorded}
		if maybe(30) {
			pay.Instrument = ledger.InstrumentCommercialBill
			if maybe(80) {
				pay.MaturityOn = day(pay.PaidOn, 200)
			}
		}
		if !o.noReversals && maybe(15) {
			pay.State, pay.ReversedOn = ledger.PaymentReversed, day(pay.PaidOn, 60)
		}
		in.Payments = append(in.Payments, pay)
	}
	for range r.IntN(3) {
		in.CreditNotes = append(in.CreditNotes, ledger.CreditNote{ID: uuid.New(), Amount: 1 + r.Int64N(amount/4+1), IssuedOn: day(issued, 300)})
	}
	if !o.noDisputes {
		for range r.IntN(3) {
			dp := ledger.Dispute{ID: uuid.New(), Amount: 1 + r.Int64N(amount), OpenedOn: day(issued, 200), State: ledger.DisputeOpen}
			if maybe(50) {
				dp.State, dp.ResolvedOn = ledger.DisputeResolved, day(dp.OpenedOn, 100)
				dp.Resolution = []ledger.DisputeResolution{ledger.ResolutionRejected, ledger.ResolutionCredited, ledger.ResolutionWithdrawn}[r.IntN(3)]
				if dp.Resolution == ledger.ResolutionCredited && maybe(80) {
					note := ledger.CreditNote{ID: uuid.New(), Amount: 1 + r.Int64N(dp.Amount), IssuedOn: dp.ResolvedOn}
					dp.CreditNoteID = note.ID
					in.CreditNotes = append(in.CreditNotes, note)
				}
			}
			in.Disputes = append(in.Disputes, dp)
		}
	}
	return in
}

// creditedBetween reports whether a dispute is resolved CREDITED in (a, b]:
// that takes the credited part's interest away from the start, so it is the
// one fact that may lower the interest owed as the date advances.
func creditedBetween(in Input, a, b civil.Date) bool {
	for _, dp := range in.Disputes {
		if dp.Resolution == ledger.ResolutionCredited && dp.ResolvedOn.After(a) && !dp.ResolvedOn.After(b) {
			return true
		}
	}
	return false
}

// checkInvariants holds for every judgement.
func checkInvariants(t testing.TB, in Input, j Judgement) {
	t.Helper()
	if j.Outstanding < 0 || j.Outstanding > in.Invoice.Amount.Minor {
		t.Errorf("Outstanding = %d, outside 0..%d", j.Outstanding, in.Invoice.Amount.Minor)
	}
	if j.DisputedOpen < 0 || j.DisputedOpen > j.Outstanding {
		t.Errorf("DisputedOpen = %d, outside 0..%d", j.DisputedOpen, j.Outstanding)
	}
	if j.Interest < 0 || j.ContingentInterest < 0 {
		t.Errorf("Interest %d, contingent %d: negative", j.Interest, j.ContingentInterest)
	}
	if j.DaysOverdue < 0 || j.DaysOverdueNet < 0 || j.DaysOverdueNet > j.DaysOverdue {
		t.Errorf("DaysOverdue %d, net %d", j.DaysOverdue, j.DaysOverdueNet)
	}
	if j.DaysOverdue > 0 && (j.DueDate.IsZero() || !in.AsOf.After(j.DueDate)) {
		t.Errorf("%d days overdue but due %s, as of %s", j.DaysOverdue, j.DueDate, in.AsOf)
	}
	names := append(BucketNames(in.Policy.BucketEdges), BucketNone)
	if !slices.Contains(names, j.Bucket) || !slices.Contains(names, j.BucketNet) {
		t.Errorf("unknown bucket %q / %q", j.Bucket, j.BucketNet)
	}
	if (j.Bucket == BucketNone) != (j.Outstanding == 0) {
		t.Errorf("Bucket %s with %d outstanding", j.Bucket, j.Outstanding)
	}
	if (j.BucketNet == BucketNone) != (j.Outstanding == j.DisputedOpen) {
		t.Errorf("BucketNet %s with %d outstanding, %d disputed", j.BucketNet, j.Outstanding, j.DisputedOpen)
	}
	if j.EscalationLevel < 0 || j.EscalationLevel > len(in.Policy.Escalation) {
		t.Errorf("EscalationLevel %d", j.EscalationLevel)
	}
	if !j.NextChange.IsZero() && !j.NextChange.After(in.AsOf) {
		t.Errorf("NextChange %s is not after %s", j.NextChange, in.AsOf)
	}
	if !j.Compensation.IsZero() && j.Compensation.Currency != in.Policy.Compensation.Currency {
		t.Errorf("Compensation %v not in the policy's currency", j.Compensation)
	}
}

func mustEvaluate(t testing.TB, in Input) Judgement {
	t.Helper()
	j, err := Evaluate(in)
	if err != nil {
		if errors.Is(err, ErrInvalidInput) {
			t.Fatalf("generated input is invalid: %v", err)
		}
		t.Fatalf("Evaluate: %v", err)
	}
	return j
}

const propertyRuns = 400

func TestPropertyInvariantsAndDeterminism(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range propertyRuns {
		in := randomInput(t, r, genOptions{})
		j := mustEvaluate(t, in)
		checkInvariants(t, in, j)
		if diff := cmp.Diff(j, mustEvaluate(t, in)); diff != "" {
			t.Fatalf("run %d: evaluating twice differs (-first +second):\n%s", i, diff)
		}
	}
}

func TestPropertyInterestNeverDecreases(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range propertyRuns {
		in := randomInput(t, r, genOptions{})
		prev := mustEvaluate(t, in)
		for range 6 {
			next := in
			next.AsOf = in.AsOf.AddDays(1 + r.IntN(90))
			j := mustEvaluate(t, next)
			if creditedBetween(in, in.AsOf, next.AsOf) {
				in, prev = next, j
				continue
			}
			if got, was := j.Interest+j.ContingentInterest, prev.Interest+prev.ContingentInterest; got < was {
				t.Fatalf("run %d: interest fell from %d on %s to %d on %s\n%+v\n%+v", i, was, in.AsOf, got, next.AsOf, prev.Accruals, j.Accruals)
			}
			in, prev = next, j
		}
	}
}

func TestPropertyBucketsSumToOutstanding(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for run := range 40 {
		asOf := civil.MustNew(2020, 1, 1).AddDays(r.IntN(2000))
		gross, net := map[string]map[string]int64{}, map[string]map[string]int64{}
		total, totalNet := map[string]int64{}, map[string]int64{}
		for range 50 {
			in := randomInput(t, r, genOptions{})
			in.AsOf = asOf
			in.Policy, _ = registry(t).Get(policy.IDCN802LargeEnterprise, 0) // one set of edges
			j := mustEvaluate(t, in)
			c := j.Currency
			if gross[c] == nil {
				gross[c], net[c] = map[string]int64{}, map[string]int64{}
			}
			gross[c][j.Bucket] += j.Outstanding
			net[c][j.BucketNet] += j.Outstanding - j.DisputedOpen
			total[c] += j.Outstanding
			totalNet[c] += j.Outstanding - j.DisputedOpen
		}
		for c := range total {
			var sum, sumNet int64
			for _, name := range append(BucketNames(policy.DefaultBucketEdges()), BucketNone) {
				sum += gross[c][name]
				sumNet += net[c][name]
			}
			if sum != total[c] || sumNet != totalNet[c] {
				t.Fatalf("run %d %s: buckets sum to %d (net %d), outstanding %d (net %d)", run, c, sum, sumNet, total[c], totalNet[c])
			}
			if gross[c][BucketNone] != 0 {
				t.Errorf("run %d %s: NONE holds %d", run, c, gross[c][BucketNone])
			}
		}
	}
}

// TestPropertyEscalationSteps walks histories without disputes or
// reversals day by day: while something is owed, the level never falls, and
// rises by at most one rung a day however the debt is part-paid.
func TestPropertyEscalationSteps(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for i := range 60 {
		in := randomInput(t, r, genOptions{noDisputes: true, noReversals: true})
		in.Invoice.CancelledOn = civil.Date{}
		prev := mustEvaluate(t, in)
		for range 200 {
			in.AsOf = in.AsOf.AddDays(1)
			j := mustEvaluate(t, in)
			if prev.Outstanding > 0 && j.Outstanding > 0 {
				if j.EscalationLevel < prev.EscalationLevel || j.EscalationLevel > prev.EscalationLevel+1 {
					t.Fatalf("run %d: level %d on %s, then %d", i, prev.EscalationLevel, prev.AsOf, j.EscalationLevel)
				}
			}
			if !prev.NextChange.IsZero() && in.AsOf.Before(prev.NextChange) &&
				(j.Bucket != prev.Bucket || j.BucketNet != prev.BucketNet || j.EscalationLevel != prev.EscalationLevel) {
				t.Fatalf("run %d: changed on %s, before NextChange %s", i, in.AsOf, prev.NextChange)
			}
			prev = j
		}
	}
}

// TestPropertyBalancesAgreeWithEvaluate checks that the balances the
// overdue summary's aggregates are built from give, on every date, the due
// date, outstanding and disputed amounts Evaluate gives on that date.
func TestPropertyBalancesAgreeWithEvaluate(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for i := range propertyRuns {
		in := randomInput(t, r, genOptions{})
		due, bs, err := Balances(in)
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		for range 8 {
			in.AsOf = in.Invoice.IssuedOn.AddDays(r.IntN(900) - 100)
			j := mustEvaluate(t, in)
			var b Balance
			for _, x := range bs {
				if !x.On.After(in.AsOf) {
					b = x
				}
			}
			if j.DueDate != due || j.Outstanding != b.Outstanding || j.DisputedOpen != b.DisputedOpen {
				t.Fatalf("run %d as of %s: balances say due %s, %d outstanding, %d disputed; Evaluate says %s, %d, %d",
					i, in.AsOf, due, b.Outstanding, b.DisputedOpen, j.DueDate, j.Outstanding, j.DisputedOpen)
			}
		}
	}
}

// TestPropertyScheduleAgreesWithEvaluate checks ScheduleOf against
// Evaluate on random invoices and dates.
func TestPropertyScheduleAgreesWithEvaluate(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for i := range propertyRuns {
		in := randomInput(t, r, genOptions{})
		for range 8 {
			in.AsOf = in.Invoice.IssuedOn.AddDays(r.IntN(900) - 100)
			j := mustEvaluate(t, in)
			s, err := ScheduleOf(in)
			if err != nil {
				t.Fatalf("run %d as of %s: %v", i, in.AsOf, err)
			}
			want := Schedule{DueDate: j.DueDate, EscalationLevel: j.EscalationLevel, EscalationName: j.EscalationName, NextChange: j.NextChange}
			if s != want {
				t.Fatalf("run %d as of %s: ScheduleOf says %+v, Evaluate %+v", i, in.AsOf, s, want)
			}
		}
	}
}
