// Package ledger owns the domain records of the arrears ledger — parties,
// invoices, credit notes, payments, disputes and their revisions — with the
// invariants every store and API must keep, and the sentinel errors that the
// transport maps to status codes in one place.
//
// It imports no storage, transport or generated code: the records here are
// what the law talks about, and the wire types are translated at the edge.
package ledger
