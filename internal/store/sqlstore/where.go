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

func (w *where) dates(col string, cs []store.DateCond) {
	for _, c := range cs {
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
