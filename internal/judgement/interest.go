package judgement

import (
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/money"
	"github.com/arrears/arrears/internal/policy"
)

// rateSpec is one interest rate: Percent per day, or per annum over a
// day-count denominator.
type rateSpec struct {
	pct    *big.Rat
	perDay bool
	denom  int64
}

// perDayFraction is the fraction of the base that accrues per day.
func (r rateSpec) perDayFraction() *big.Rat {
	f := new(big.Rat).Quo(r.pct, big.NewRat(100, 1))
	if !r.perDay {
		f.Quo(f, big.NewRat(r.denom, 1))
	}
	return f
}

func (r rateSpec) equal(o rateSpec) bool {
	return r.pct.Cmp(o.pct) == 0 && r.perDay == o.perDay && r.denom == o.denom
}

// rateFunc returns the rate that applies on a day.
type rateFunc func(civil.Date) (rateSpec, error)

func constantRate(r rateSpec) rateFunc {
	return func(civil.Date) (rateSpec, error) { return r, nil }
}

// pctText writes a rate as policies and agreed rates give it, up to the 8
// decimals they may have.
func pctText(r *big.Rat) string {
	s := r.FloatString(8)
	for s[len(s)-1] == '0' {
		s = s[:len(s)-1]
	}
	if s[len(s)-1] == '.' {
		s += "00"
	}
	return s
}

func dayCountWords(d policy.DayCount) string {
	if d == policy.DayCountAct360 {
		return "Act/360"
	}
	return "Act/365"
}

// rates decides which rate applies, from the day interest starts: an
// agreed rate where the policy uses it (floored at the reference rate in
// force on the contract date where the policy says so), else the statutory
// method. A nil rateFunc means no interest accrues.
func (e *eval) rates(start civil.Date) (rateFunc, string, error) {
	in := e.pol.Interest
	denom := in.DayCount.Days()
	agreed := e.inv.AgreedRate
	if agreed != nil && in.UseAgreedRate {
		r, _ := policy.ParseDecimal(agreed.Percent) // checked by validate
		spec := rateSpec{pct: r, perDay: agreed.PerDay, denom: denom}
		rule := fmt.Sprintf("agreed rate %s%% per day", agreed.Percent)
		if !agreed.PerDay {
			rule = fmt.Sprintf("agreed rate %s%% per annum, %s", agreed.Percent, dayCountWords(in.DayCount))
		}
		if in.AgreedRateFloor == "" {
			return constantRate(spec), rule, nil
		}
		on, which := e.inv.ContractSignedOn, "the contract date"
		if on.IsZero() {
			on, which = e.inv.IssuedOn, "the invoice date (no contract date is recorded)"
		}
		fs, ok := e.rateOn(in.AgreedRateFloor, on)
		if !ok {
			return nil, "", fmt.Errorf("%w: rate table %s has no rate for %s", ErrMissingData, in.AgreedRateFloor, on)
		}
		floor, err := policy.ParseDecimal(fs)
		if err != nil {
			return nil, "", fmt.Errorf("%w: rate table %s: %v", ErrMissingData, in.AgreedRateFloor, err)
		}
		annual := new(big.Rat).Set(r)
		if agreed.PerDay {
			annual.Mul(annual, big.NewRat(denom, 1))
		}
		if annual.Cmp(floor) < 0 {
			e.find(FindingInterestRateFloored, "the agreed rate %s%% %s is below the floor, %s %s%% per annum in force on %s %s, which applies instead",
				agreed.Percent, map[bool]string{true: "per day", false: "per annum"}[agreed.PerDay], in.AgreedRateFloor, fs, which, on)
			return constantRate(rateSpec{pct: floor, denom: denom}),
				fmt.Sprintf("%s %s%% per annum in force on %s (the floor; the agreed %s%% is lower), %s", in.AgreedRateFloor, fs, on, agreed.Percent, dayCountWords(in.DayCount)), nil
		}
		return constantRate(spec), rule + fmt.Sprintf(" (not below the floor %s %s%% on %s)", in.AgreedRateFloor, fs, on), nil
	}
	if agreed != nil && !in.AgreedRateIfHigher {
		e.find(FindingAgreedRateNotApplied, "the agreed rate %s%% is not used: policy %s applies its statutory rate", agreed.Percent, e.pol.ID)
	}
	statutory, rule, err := e.statutoryRates(start)
	if err != nil || agreed == nil || !in.AgreedRateIfHigher || statutory == nil {
		return statutory, rule, err
	}
	// The agreed rate on the days it is higher than the statutory one.
	r, _ := policy.ParseDecimal(agreed.Percent) // checked by validate
	spec := rateSpec{pct: r, perDay: agreed.PerDay, denom: denom}
	unit := "per annum"
	if agreed.PerDay {
		unit = "per day"
	}
	daily := spec.perDayFraction()
	higher := func(t civil.Date) (rateSpec, error) {
		s, err := statutory(t)
		if err != nil || daily.Cmp(s.perDayFraction()) <= 0 {
			return s, err
		}
		return spec, nil
	}
	return higher, fmt.Sprintf("%s; or the agreed %s%% %s on the days it is higher", rule, agreed.Percent, unit), nil
}

// statutoryRates is the policy's own interest, without an agreed rate.
func (e *eval) statutoryRates(start civil.Date) (rateFunc, string, error) {
	in := e.pol.Interest
	switch in.Method {
	case policy.InterestDailyRate:
		r, _ := policy.ParseDecimal(in.DailyPercent)
		return constantRate(rateSpec{pct: r, perDay: true, denom: 1}), fmt.Sprintf("statutory %s%% per day, simple", in.DailyPercent), nil
	case policy.InterestReferencePlus:
		return e.referenceRates(start)
	}
	return nil, "no interest: the policy sets no statutory interest and no rate is agreed", nil
}

// rateOn reads a reference rate in force on a day, reporting when the day
// is after its table is known to be complete.
func (e *eval) rateOn(table string, on civil.Date) (string, bool) {
	pct, ok := e.in.Tables.RateOn(table, on)
	if ct := e.in.Tables.RateConfirmedThrough(table); ok && !ct.IsZero() && on.After(ct) && !e.unconfirmed[table] {
		// Once per table: a long delay reads it for every half-year since.
		if e.unconfirmed == nil {
			e.unconfirmed = map[string]bool{}
		}
		e.unconfirmed[table] = true
		e.find(FindingRateUnconfirmed, "%s is confirmed through %s; the %s%% it gives for %s, and any rate it gives for later days, assumes no change since", table, ct, pct, on)
	}
	return pct, ok
}

// referenceRates applies a reference rate plus points. AT_START fixes the
// rate in force on the 31 December or 30 June strictly before interest
// starts (UK); HALF_YEARLY applies the rate in force on 1 January to days in
// January-June and the rate on 1 July to days in July-December (EU).
func (e *eval) referenceRates(start civil.Date) (rateFunc, string, error) {
	in := e.pol.Interest
	points, _ := policy.ParseDecimal(in.Points)
	denom := in.DayCount.Days()
	lookup := func(on civil.Date) (rateSpec, error) {
		s, ok := e.rateOn(in.Reference, on)
		if !ok {
			return rateSpec{}, fmt.Errorf("%w: rate table %s has no rate for %s", ErrMissingData, in.Reference, on)
		}
		ref, err := policy.ParseDecimal(s)
		if err != nil {
			return rateSpec{}, fmt.Errorf("%w: rate table %s: %v", ErrMissingData, in.Reference, err)
		}
		pct := new(big.Rat).Add(ref, points)
		if pct.Sign() < 0 {
			pct.SetInt64(0) // a negative total rate would charge the creditor
		}
		return rateSpec{pct: pct, denom: denom}, nil
	}
	if in.Fixing == policy.FixingOnStart {
		r, err := lookup(start)
		if err != nil {
			return nil, "", err
		}
		ref, _ := e.in.Tables.RateOn(in.Reference, start)
		rule := fmt.Sprintf("%s %s%% in force on %s (the day interest started)", in.Reference, ref, start)
		if points.Sign() != 0 {
			rule += fmt.Sprintf(" + %s points = %s%%", in.Points, pctText(r.pct))
		}
		return constantRate(r), rule + fmt.Sprintf(" per annum, %s, fixed for the life of the debt", dayCountWords(in.DayCount)), nil
	}
	if in.Fixing == policy.FixingAtStart {
		on := civil.Date{Year: start.Year - 1, Month: time.December, Day: 31}
		if start.Month > time.June {
			on = civil.Date{Year: start.Year, Month: time.June, Day: 30}
		}
		r, err := lookup(on)
		if err != nil {
			return nil, "", err
		}
		ref, _ := e.in.Tables.RateOn(in.Reference, on)
		return constantRate(r), fmt.Sprintf("%s %s%% in force on %s (the fixing date before interest started on %s) + %s points = %s%% per annum, simple, %s, fixed for the life of the debt",
			in.Reference, ref, on, start, in.Points, pctText(r.pct), dayCountWords(in.DayCount)), nil
	}
	cache := map[civil.Date]rateSpec{}
	f := func(t civil.Date) (rateSpec, error) {
		on := halfYearStart(t)
		if r, ok := cache[on]; ok {
			return r, nil
		}
		r, err := lookup(on)
		if err == nil {
			cache[on] = r
		}
		return r, err
	}
	return f, fmt.Sprintf("%s in force on 1 January / 1 July, applied to the days of that half-year, + %s points, per annum, simple, %s",
		in.Reference, in.Points, dayCountWords(in.DayCount)), nil
}

func halfYearStart(t civil.Date) civil.Date {
	if t.Month > time.June {
		return civil.Date{Year: t.Year, Month: time.July, Day: 1}
	}
	return civil.Date{Year: t.Year, Month: time.January, Day: 1}
}

// computeInterest accrues interest day by day on what bears interest that
// day, from the day after the due date up to and including AsOf: a payment
// lowers the base from its own date, so a payment on the due date leaves no
// interest. Days are grouped into runs of constant base and rate. The part
// of the base in disputes open on AsOf accrues contingent interest. The
// exact total is rounded once.
func (e *eval) computeInterest() error {
	j, tl, asOf := &e.j, &e.timeline, e.asOf
	if j.DueDate.IsZero() || !asOf.After(j.DueDate) {
		j.InterestRule = "no interest: not overdue"
		return nil
	}
	start := j.DueDate.AddDays(1)
	rateOf, rule, err := e.rates(start)
	if err != nil {
		return err
	}
	in := e.pol.Interest
	if in.CompoundDays > 0 {
		rule += e.say(", compounded every %d days", in.CompoundDays)
	}
	// Interest accrues to AsOf, or to the end of the days the law lets it
	// accrue for.
	end := asOf
	if in.MaxDays > 0 {
		rule += e.say(", for at most %d days", in.MaxDays)
		if last := start.AddDays(in.MaxDays - 1); asOf.After(last) {
			end = last
			// Said only of a debt still bearing interest then: one paid
			// or cancelled before had stopped by itself.
			if tl.interestBaseAt(last) > 0 {
				e.find(FindingInterestPeriodEnded, "interest accrues for at most %d days under policy %s: it stopped after %s", in.MaxDays, e.pol.ID, last)
			}
		}
	}
	j.InterestRule = rule

	points := []civil.Date{start}
	add := func(d civil.Date) {
		if d.After(start) && !d.After(end) {
			points = append(points, d)
		}
	}
	// The unpaid interest joins the sum bearing it at the end of each
	// compounding period: a run starts there.
	compounds := map[civil.Date]bool{}
	if in.CompoundDays > 0 {
		for d := start.AddDays(in.CompoundDays); !d.After(end); d = d.AddDays(in.CompoundDays) {
			compounds[d] = true
			add(d)
		}
	}
	for _, s := range tl.interest {
		add(s.on)
	}
	add(tl.cancelledOn)
	if rateOf != nil && e.pol.Interest.Method == policy.InterestReferencePlus && e.pol.Interest.Fixing == policy.FixingHalfYearly && (e.inv.AgreedRate == nil || !e.pol.Interest.UseAgreedRate) {
		for y := start.Year; y <= asOf.Year; y++ {
			add(civil.Date{Year: y, Month: time.January, Day: 1})
			add(civil.Date{Year: y, Month: time.July, Day: 1})
		}
	}
	slices.SortFunc(points, civil.Date.Compare)
	points = slices.Compact(points)

	total, contingent := new(big.Rat), new(big.Rat)
	lateAny, lateOrdinary := false, false
	// A debt still owed when its due date ends is late, even if paid the
	// next day: no interest accrues then (the base falls from the payment's
	// own date), but the fixed compensation is owed once interest starts,
	// and it started.
	// The largest sum late at any time sizes the fixed compensation.
	var lateDebt int64
	owedAfter := j.DueDate
	if in.ThroughPaymentDay {
		// The base falls the day after a payment: one made on the due
		// date leaves nothing owed once it ends.
		owedAfter = start
	}
	if base := tl.interestBaseAt(owedAfter); base > 0 {
		lateAny, lateOrdinary, lateDebt = true, base > min(base, tl.openDisputed), base
	}
	var prev *rateSpec
	var exact []*big.Rat // each accrual's exact amount, for merging runs
	// With compounding, unpaid is the interest accrued and not yet paid,
	// and compounded the part of it added to the sum bearing interest at
	// the last compounding date. A payment pays the interest on what it
	// pays, as the Prompt Payment rules require of an agency paying late
	// (the Treasury computes it payment by payment): every unit of the
	// debt has accrued alike, so a payment of a fifth of what bore
	// interest takes a fifth of both, and the rest compounds on. Paid in
	// full, nothing is left to compound.
	unpaid, compounded := new(big.Rat), new(big.Rat)
	prevBase := int64(0)
	for i, a := range points {
		b := end
		if i+1 < len(points) {
			b = points[i+1].AddDays(-1)
		}
		base := tl.interestBaseAt(a)
		if in.CompoundDays > 0 {
			if base < prevBase {
				keep := big.NewRat(max(base, 0), prevBase)
				unpaid.Mul(unpaid, keep)
				compounded.Mul(compounded, keep)
			}
			if compounds[a] {
				compounded.Set(unpaid)
			}
		}
		prevBase = max(base, 0)
		if base == 0 {
			prev = nil
			continue
		}
		disputed := min(base, tl.openDisputed)
		lateAny, lateDebt = true, max(lateDebt, base)
		lateOrdinary = lateOrdinary || base > disputed
		if rateOf == nil {
			continue
		}
		r, err := rateOf(a)
		if err != nil {
			return err
		}
		days := b.DaysSince(a) + 1
		f := r.perDayFraction()
		bearing := new(big.Rat).Add(new(big.Rat).SetInt64(base), compounded)
		amt := new(big.Rat).Mul(f, new(big.Rat).Mul(bearing, big.NewRat(int64(days), 1)))
		total.Add(total, amt)
		unpaid.Add(unpaid, amt)
		if disputed > 0 {
			// The disputed part's share of the run, compounded interest
			// included: contingent as that part is.
			contingent.Add(contingent, new(big.Rat).Mul(amt, big.NewRat(disputed, base)))
		}
		capitalised := ""
		if compounded.Sign() > 0 {
			capitalised = compounded.FloatString(6)
		}
		// Merge with the run before when nothing changed (a payment and its
		// reversal on the same day, or an unchanged half-yearly rate).
		if n := len(j.Accruals); n > 0 && prev != nil && prev.equal(r) && j.Accruals[n-1].Base == base && j.Accruals[n-1].Disputed == disputed &&
			j.Accruals[n-1].Compounded == capitalised {
			last := &j.Accruals[n-1]
			last.To, last.Days = b, last.Days+days
			exact[n-1].Add(exact[n-1], amt)
			last.Amount = exact[n-1].FloatString(6)
			continue
		}
		rr := r
		prev = &rr
		exact = append(exact, amt)
		j.Accruals = append(j.Accruals, Accrual{
			From: a, To: b, Days: days, Base: base, Disputed: disputed, Compounded: capitalised,
			Percent: pctText(r.pct), PerDay: r.perDay, DayCount: r.denom, Amount: amt.FloatString(6),
		})
	}
	rounded, err := roundRat(total, e.pol.Rounding)
	if err != nil {
		return err
	}
	owed, err := roundRat(new(big.Rat).Sub(total, contingent), e.pol.Rounding)
	if err != nil {
		return err
	}
	j.Interest, j.ContingentInterest = owed, rounded-owed
	e.computeCompensation(lateAny, lateOrdinary, lateDebt)
	return nil
}

// baseDays is amount × days, in big arithmetic: a large debt over decades
// would overflow int64.
func baseDays(amount int64, days int) *big.Rat {
	return new(big.Rat).SetInt(new(big.Int).Mul(big.NewInt(amount), big.NewInt(int64(days))))
}

// roundRat rounds a non-negative exact amount to whole minor units.
func roundRat(r *big.Rat, mode policy.Rounding) (int64, error) {
	q, m := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	twice := new(big.Int).Lsh(m, 1)
	switch c := twice.Cmp(r.Denom()); {
	case mode == policy.RoundDown:
	case c > 0, c == 0 && mode == policy.RoundHalfUp, c == 0 && mode == policy.RoundHalfEven && q.Bit(0) == 1:
		q.Add(q, big.NewInt(1))
	}
	if !q.IsInt64() {
		return 0, fmt.Errorf("%w: interest %s does not fit in int64 minor units", ErrInterestOverflow, r.FloatString(2))
	}
	return q.Int64(), nil
}

// computeCompensation owes the policy's fixed sum once interest has started
// to run on some part of the debt. The band is chosen by the debt that was
// late (the largest sum interest ran on: the invoice less what credit notes
// and payments had taken off by then, as the UK Act sizes "the debt"), when
// it is in the compensation's currency; otherwise the lowest band is
// assumed and reported, since no exchange rate is applied here. If only a
// disputed part was ever late, the sum is shown with a finding that it is
// contingent on the dispute.
func (e *eval) computeCompensation(lateAny, lateOrdinary bool, lateDebt int64) {
	c := e.pol.Compensation
	if len(c.Bands) == 0 || !lateAny {
		return
	}
	band := c.Bands[0]
	if e.inv.Amount.Currency == c.Currency {
		for _, b := range c.Bands {
			if lateDebt >= b.FromDebtMinor {
				band = b
			}
		}
	} else if len(c.Bands) > 1 {
		e.find(FindingCompensationBand, "the invoice is in %s, not %s: the lowest compensation band is assumed", e.inv.Amount.Currency, c.Currency)
	}
	e.j.Compensation = money.Money{Minor: band.AmountMinor, Currency: c.Currency}
	if !lateOrdinary {
		e.find(FindingCompensationContingent, "only a disputed part of the debt is late: the compensation is owed only if the dispute is rejected or withdrawn")
	}
}
