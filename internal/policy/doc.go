// Package policy owns the payment law the ledger judges debts against, held
// as named, versioned data rather than code paths: which event starts the
// payment clock, the statutory default term and cap, how a due date on a
// non-working day moves, how late-payment interest is computed and from which
// reference rate, the fixed compensation per late debt, the escalation ladder
// and the aging buckets.
//
// The law changes by decree and by central-bank decision, and a deployment
// must be able to follow it without a rebuild. So policies, reference-rate
// tables and working-day calendars are files: JSON and CSV embedded under
// data/, replaceable at start-up from a directory ([Registry.Override]) or a
// policy file ([Registry.AddPolicyFile]). Every file is validated when it is
// loaded, and the registry refuses a policy that names a rate table or a
// calendar it does not hold, so a judgement never meets a dangling reference.
//
// An invoice is judged under one policy version and keeps it: a changed
// policy is a new version, and [Registry.Get] still returns the old ones.
//
// The package is pure: it reads only the embedded files and the paths it is
// given, and never the clock.
package policy
