package sqlstore

import (
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/store"
)

// where builds a conjunction of conditions with numbered placeholders.
// Column names come only from this package, never from a request.
type where struct {
	conds []string
	args  []any
}

func (w *where) arg(v any) string {
	w.args = append(w.args, v)
	return fmt.Sprintf("$%d", len(w.args))
}

func (w *where) add(cond string) { w.conds = append(w.conds, cond) }

func (w *where) eqUUID(col string, id uuid.UUID) {
	if id != uuid.Nil {
		w.add(col + " = " + w.arg(id.String()))
	}
}

func (w *where) strings(col string, cs []store.StringCond) {
	for _, c := range cs {
		switch c.Op {
		case store.OpPrefix:
			// LIKE with the value's own wildcards escaped; '!' as the
			// escape character works the same in both engines.
			w.add(col + " LIKE " + w.arg(likePrefix(c.Value)) + " ESCAPE '!'")
		default:
			w.add(col + " " + sqlOp(c.Op) + " " + w.arg(c.Value))
		}
	}
}

// dates adds conditions on a date column. A row without a date (NULL) is
// on no day: "!=" holds for it, as store.MatchStored has it, and the
// orderings do not.
func (w *where) dates(col string, cs []store.DateCond) {
	for _, c := range cs {
		if c.Op == store.OpNe {
			w.add("(" + col + " IS NULL OR " + col + " <> " + w.arg(c.Value.String()) + ")")
			continue
		}
		w.add(col + " " + sqlOp(c.Op) + " " + w.arg(c.Value.String()))
	}
}

func (w *where) page(p store.Page) string {
	if p.AfterID != uuid.Nil {
		w.add("id > " + w.arg(p.AfterID.String()))
	}
	limit := p.Limit
	if limit <= 0 {
		limit = 1000
	}
	return fmt.Sprintf(" ORDER BY id LIMIT %d", limit)
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

func sqlOp(op store.Op) string {
	switch op {
	case store.OpEq, store.OpLt, store.OpLe, store.OpGt, store.OpGe:
		return string(op)
	case store.OpNe:
		return "<>"
	}
	panic(fmt.Sprintf("sqlstore: operator %q reached SQL", op))
}

// oneOf adds "col is one of vals". Where the driver binds a []string as one
// array parameter (arrays) it is "= ANY($n::arrayType)", one plan whatever
// the count; elsewhere a placeholder each (see batches).
func (w *where) oneOf(col string, vals []string, arrays bool, arrayType string) {
	if arrays {
		w.add(col + " = ANY(" + w.arg(vals) + "::" + arrayType + ")")
		return
	}
	ph := make([]string, len(vals))
	for i, v := range vals {
		ph[i] = w.arg(v)
	}
	w.add(col + " IN (" + strings.Join(ph, ", ") + ")")
}

// batches splits the values of a lookup into what one oneOf takes: all at
// once as an array, else 500 placeholders at a time.
func batches(vals []string, arrays bool) [][]string {
	if arrays && len(vals) > 0 {
		return [][]string{vals}
	}
	var out [][]string
	for start := 0; start < len(vals); start += 500 {
		out = append(out, vals[start:min(start+500, len(vals))])
	}
	return out
}
