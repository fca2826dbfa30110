package sqlstore

import (
	"strings"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/auth"
)

// scopeSQL is the visibility condition of an invoice-like row whose debtor
// and creditor are in debtorCol and creditorCol. The scope comes from the
// caller's identity; this is the one place it becomes SQL, so no list can
// forget it.
//
// more are conditions that also make a row visible (a complaint's
// regulators).
func (w *where) scope(s auth.Scope, debtorCol, creditorCol string, more ...string) {
	if s.All {
		return
	}
	or := more
	if len(s.Debtors) > 0 {
		or = append(or, debtorCol+" IN ("+w.uuidList(s.Debtors)+")")
	}
	if len(s.Creditors) > 0 {
		or = append(or, creditorCol+" IN ("+w.uuidList(s.Creditors)+")")
	}
	if s.Portal != "" {
		or = append(or, creditorCol+" IN (SELECT creditor_id FROM portal_grants WHERE portal = "+w.arg(s.Portal)+")")
	}
	if s.Remit != nil && s.Remit.Jurisdiction != "" {
		or = append(or, debtorCol+" IN (SELECT id FROM parties WHERE jurisdiction = "+w.arg(s.Remit.Jurisdiction)+
			" AND region_code LIKE "+w.arg(likePrefix(s.Remit.RegionPrefix))+" ESCAPE '!')")
	}
	if len(or) == 0 {
		w.add("1 = 0")
		return
	}
	w.add("(" + strings.Join(or, " OR ") + ")")
}

// complaintScope is scope for complaints: a regulator also sees those its
// regulator parties receive or handle, wherever their debtor is now.
func (w *where) complaintScope(s auth.Scope) {
	var regs []string
	if !s.All && len(s.Regulators) > 0 {
		in := w.uuidList(s.Regulators)
		regs = []string{"receiving_regulator IN (" + in + ")", "handling_regulator IN (" + in + ")"}
	}
	w.scope(s, "debtor_id", "creditor_id", regs...)
}

// partyScope is the visibility of a party row (column id): the caller's own
// parties, the counterparties of invoices it sees, a portal's suppliers, and
// the parties in a regulator's remit.
func (w *where) partyScope(s auth.Scope) {
	if s.All {
		return
	}
	var inv where
	inv.args = w.args
	inv.scope(s, "debtor_id", "creditor_id")
	w.args = inv.args
	cond := strings.Join(inv.conds, " AND ")
	or := []string{
		"id IN (SELECT debtor_id FROM invoices WHERE " + cond + ")",
		"id IN (SELECT creditor_id FROM invoices WHERE " + cond + ")",
	}
	if own := append(append([]uuid.UUID{}, s.Debtors...), s.Creditors...); len(own) > 0 {
		or = append(or, "id IN ("+w.uuidList(own)+")")
	}
	if s.Portal != "" {
		or = append(or, "id IN (SELECT creditor_id FROM portal_grants WHERE portal = "+w.arg(s.Portal)+")")
	}
	if s.Remit != nil && s.Remit.Jurisdiction != "" {
		or = append(or, "(jurisdiction = "+w.arg(s.Remit.Jurisdiction)+" AND region_code LIKE "+w.arg(likePrefix(s.Remit.RegionPrefix))+" ESCAPE '!')")
	}
	w.add("(" + strings.Join(or, " OR ") + ")")
}

func (w *where) uuidList(ids []uuid.UUID) string {
	ps := make([]string, len(ids))
	for i, id := range ids {
		ps[i] = w.arg(id.String())
	}
	return strings.Join(ps, ", ")
}

// likePrefix escapes a literal prefix for LIKE ... ESCAPE '!'.
func likePrefix(p string) string {
	return strings.NewReplacer("!", "!!", "%", "!%", "_", "!_").Replace(p) + "%"
}
