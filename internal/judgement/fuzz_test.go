package judgement

import (
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzEvaluate judges random valid invoices and payment histories, drawn
// from the fuzzer's seed, and checks that Evaluate never panics or fails on
// valid input, that the invariants hold, that it is deterministic, and that
// interest does not fall as the date advances (unless a dispute is
// credited in between).
func FuzzEvaluate(f *testing.F) {
	for _, s := range []uint64{0, 1, 42, 1 << 40} {
		f.Add(s, uint16(30))
	}
	f.Fuzz(func(t *testing.T, seed uint64, later uint16) {
		r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		in := randomInput(t, r, genOptions{})
		j := mustEvaluate(t, in)
		checkInvariants(t, in, j)
		if diff := cmp.Diff(j, mustEvaluate(t, in)); diff != "" {
			t.Fatalf("not deterministic:\n%s", diff)
		}
		next := in
		next.AsOf = in.AsOf.AddDays(int(later % 2000))
		k := mustEvaluate(t, next)
		checkInvariants(t, next, k)
		if !creditedBetween(in, in.AsOf, next.AsOf) && k.Interest+k.ContingentInterest < j.Interest+j.ContingentInterest {
			t.Fatalf("interest fell from %d to %d", j.Interest+j.ContingentInterest, k.Interest+k.ContingentInterest)
		}
	})
}
