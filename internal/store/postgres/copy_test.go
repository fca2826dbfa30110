package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/store/pgtest"
	"github.com/arrears/arrears/internal/store/postgres"
)

// TestCopierWritesWhatPgxWrites loads the same random rows, in every Go
// type the stores pass, into twin tables: one through the copier's own
// binary encoding, one through pgx's CopyFrom. The tables must then hold
// the same values. A value the copier does not encode (jsonb here) sends
// its call to pgx, and loads as well.
func TestCopierWritesWhatPgxWrites(t *testing.T) {
	ctx := context.Background()
	db := pgtest.DB(t, pgtest.URL(t))
	const columns = `seq int4, id uuid, name text, label varchar(40), amount int8, days int4, flag bool, on_day date, at timestamptz`
	cols := []string{"seq", "id", "name", "label", "amount", "days", "flag", "on_day", "at"}
	oids := []uint32{pgtype.Int4OID, pgtype.UUIDOID, pgtype.TextOID, pgtype.VarcharOID, pgtype.Int8OID, pgtype.Int4OID,
		pgtype.BoolOID, pgtype.DateOID, pgtype.TimestamptzOID}
	for _, table := range []string{"mine", "theirs"} {
		if _, err := db.Exec(`CREATE TABLE ` + table + ` (` + columns + `, doc jsonb)`); err != nil {
			t.Fatal(err)
		}
	}
	r := rand.New(rand.NewPCG(5, 6))
	zones := []*time.Location{time.UTC, time.FixedZone("CST", 8*3600), time.FixedZone("west", -9*3600-30*60)}
	pick := func(vs ...any) any { return vs[r.IntN(len(vs))] }
	randomRow := func(seq int) []any {
		id := uuid.New()
		d := civil.MustNew(1+r.IntN(9999), time.Month(1+r.IntN(12)), 1+r.IntN(28))
		at := time.Date(1+r.IntN(9999), time.Month(1+r.IntN(12)), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), r.IntN(1e9), pick(zones[0], zones[1], zones[2]).(*time.Location))
		return []any{
			seq,
			pick(nil, pgtype.UUID{Bytes: id, Valid: true}, pgtype.UUID{}, id, id.String()),
			pick(nil, "", "plain", "línea\nwith \"quotes\" and a\ttab", fmt.Sprint(r.Int64())),
			pick(nil, "", "label"),
			pick(nil, r.Int64(), -r.Int64(), int64(math.MinInt64), int64(math.MaxInt64), r.IntN(1000), int32(-7)),
			pick(nil, int32(math.MaxInt32), int64(math.MinInt32), r.IntN(100), int64(-r.IntN(100))),
			pick(nil, true, false),
			pick(nil, civil.Date{}, d, d.String(), civil.MustNew(2000, 1, 1), civil.MustNew(1999, 12, 31)),
			pick(nil, at, time.Unix(0, 0), time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)),
		}
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	copyFrom := postgres.NewCopyFrom()
	seq := 0
	for batch := range 20 {
		var rows [][]any
		for range 1 + r.IntN(300) {
			rows = append(rows, randomRow(seq))
			seq++
		}
		// The copier encodes these itself; the batches with a jsonb value
		// go to pgx's CopyFrom.
		if _, ok := postgres.EncodeCopy(oids, clone(rows)); !ok {
			t.Fatalf("batch %d: the copier's encoder refused the rows, so they would go to pgx", batch)
		}
		mine := clone(rows)
		withDoc := batch%5 == 4 // this call goes to pgx's CopyFrom
		mineCols, theirCols := cols, cols
		if withDoc {
			for i := range mine {
				mine[i] = append(mine[i], `{"batch": `+fmt.Sprint(batch)+`}`)
			}
			mineCols = append(slices.Clone(cols), "doc")
		}
		if err := copyFrom(ctx, conn, "mine", mineCols, mine); err != nil {
			t.Fatalf("batch %d, copier: %v", batch, err)
		}
		theirs := clone(rows)
		if withDoc {
			for i := range theirs {
				theirs[i] = append(theirs[i], `{"batch": `+fmt.Sprint(batch)+`}`)
			}
			theirCols = mineCols
		}
		err := conn.Raw(func(dc any) error {
			return postgres.PgxCopy(ctx, dc.(*stdlib.Conn).Conn(), "theirs", theirCols, theirs)
		})
		if err != nil {
			t.Fatalf("batch %d, pgx: %v", batch, err)
		}
	}
	mine, theirs := dump(t, db, "mine"), dump(t, db, "theirs")
	if len(mine) != seq || len(theirs) != seq {
		t.Fatalf("loaded %d and %d rows, want %d", len(mine), len(theirs), seq)
	}
	for i := range mine {
		if mine[i] != theirs[i] {
			t.Fatalf("row %d: the copier wrote\n%s\npgx wrote\n%s", i, mine[i], theirs[i])
		}
	}

	// A value out of its column's range goes to pgx, which refuses it.
	if _, ok := postgres.EncodeCopy([]uint32{pgtype.Int4OID}, [][]any{{int64(math.MaxInt32) + 1}}); ok {
		t.Fatal("encodeCopy took an int4 out of range")
	}
	if err := copyFrom(ctx, conn, "mine", []string{"days"}, [][]any{{int64(math.MaxInt32) + 1}}); err == nil {
		t.Fatal("an int4 out of range was loaded")
	}
}

func clone(rows [][]any) [][]any {
	out := make([][]any, len(rows))
	for i, r := range rows {
		out[i] = slices.Clone(r)
	}
	return out
}

// dump reads a table's rows as PostgreSQL prints them, in seq order.
func dump(t *testing.T, db *sql.DB, table string) []string {
	t.Helper()
	rows, err := db.Query(`SELECT (t.*)::text FROM ` + table + ` t ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
