// Package judgement owns the judgement of one invoice as of one date under
// one payment policy: its clock start and due date, what is outstanding and
// what of it is disputed, how many days it is overdue and in which aging
// bucket, the late-payment interest (ordinary, and contingent on open
// disputes), the fixed compensation, the escalation level, the next date on
// which any of these would change, and the findings a regulator or the
// supplier should see (a term over the statutory cap, a bill maturing after
// the due date, a clock started from a fallback event, a provisional
// calendar).
//
// It is a pure function of its input — the invoice and its dated facts,
// the policy, the reference-rate and calendar lookups, and the date — so
// that any past date can be answered exactly, evaluating twice gives the
// same answer, and a sweeper can re-evaluate on NextChange without missing
// a transition. It reads no clock, storage or context; the service does,
// and passes the facts in.
//
// Money is counted in int64 minor units and interest in exact rationals
// (math/big), rounded once per invoice; currencies are never added.
package judgement
