package service

import (
	"errors"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/store"
)

// TestListedWalksEveryPage: listed yields every row of a listing longer
// than a page, in order, each once, reading page after page from the last
// row's id; it ends at a short page, stops reading when the loop stops,
// and yields a failing read's error.
func TestListedWalksEveryPage(t *testing.T) {
	rows := make([]uuid.UUID, 2*listPage+3)
	for i := range rows {
		rows[i] = uuid.Must(uuid.NewV7())
	}
	var p store.Page
	reads := 0
	list := func() ([]uuid.UUID, error) {
		reads++
		from := 0
		if p.AfterID != uuid.Nil {
			from = slices.Index(rows, p.AfterID) + 1
		}
		return rows[from:min(from+p.Limit, len(rows))], nil
	}
	id := func(u uuid.UUID) uuid.UUID { return u }
	var got []uuid.UUID
	for r, err := range listed(&p, list, id) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if !slices.Equal(got, rows) || reads != 3 {
		t.Errorf("walked %d of %d rows in %d reads, want all in 3", len(got), len(rows), reads)
	}

	p, reads = store.Page{}, 0
	for range listed(&p, list, id) {
		break
	}
	if reads != 1 {
		t.Errorf("a walk stopped at its first row read %d pages", reads)
	}

	broken := errors.New("the store is gone")
	n := 0
	for _, err := range listed(&p, func() ([]uuid.UUID, error) { return nil, broken }, id) {
		n++
		if !errors.Is(err, broken) {
			t.Errorf("a failing read yielded %v", err)
		}
	}
	if n != 1 {
		t.Errorf("a failing read yielded %d times, want once", n)
	}
}
