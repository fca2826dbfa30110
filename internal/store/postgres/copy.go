package postgres

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/arrears/arrears/internal/civil"
)

// copier bulk-loads rows with COPY ... FROM STDIN in the binary format,
// encoding the values itself. pgx's CopyFrom plans each value's encoding
// through maps keyed by OID and Go type, and describes the table once per
// pooled connection: a seventh of the server's CPU in a bulk sync. A
// store's schema is fixed while it is open (Open checks its version), so
// the column types are asked once per table and column list. That assumes
// what every migration already assumes: the schema is not migrated under a
// running server, which would then COPY with the old types. A value of a
// type the encoder does not know sends the whole call to pgx's CopyFrom,
// which encodes it, or reports it, as before. The rows are encoded whole
// before COPY starts, so that fallback never follows a partial write; a
// chunk's rows are bounded, and so is the buffer.
type copier struct {
	mu    sync.Mutex
	types map[string][]uint32 // column type OIDs by table and columns
}

func newCopier() *copier { return &copier{types: map[string][]uint32{}} }

// copyFrom runs COPY on the pgx connection beneath conn, inside the
// transaction open on it.
func (c *copier) copyFrom(ctx context.Context, conn *sql.Conn, table string, cols []string, rows [][]any) error {
	return conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("COPY needs a pgx connection, got %T", dc)
		}
		pc := sc.Conn()
		oids, err := c.columnTypes(ctx, pc, table, cols)
		if err != nil {
			return err
		}
		data, ok := encodeCopy(oids, rows)
		if !ok {
			return pgxCopy(ctx, pc, table, cols, rows)
		}
		quoted := make([]string, len(cols))
		for i, col := range cols {
			quoted[i] = pgx.Identifier{col}.Sanitize()
		}
		_, err = pc.PgConn().CopyFrom(ctx, bytes.NewReader(data),
			"COPY "+pgx.Identifier{table}.Sanitize()+" ("+strings.Join(quoted, ", ")+") FROM STDIN BINARY")
		return err
	})
}

// columnTypes returns the type OIDs of table's cols, asking the server the
// first time.
func (c *copier) columnTypes(ctx context.Context, conn *pgx.Conn, table string, cols []string) ([]uint32, error) {
	key := table + "(" + strings.Join(cols, ",") + ")"
	c.mu.Lock()
	oids, ok := c.types[key]
	c.mu.Unlock()
	if ok {
		return oids, nil
	}
	rows, err := conn.Query(ctx, `SELECT attname, atttypid FROM pg_attribute
		WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped`, pgx.Identifier{table}.Sanitize())
	if err != nil {
		return nil, err
	}
	byName := map[string]uint32{}
	for rows.Next() {
		var name string
		var oid uint32
		if err := rows.Scan(&name, &oid); err != nil {
			rows.Close()
			return nil, err
		}
		byName[name] = oid
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	oids = make([]uint32, len(cols))
	for i, col := range cols {
		if oids[i], ok = byName[col]; !ok {
			return nil, fmt.Errorf("COPY into %s: no column %s", table, col)
		}
	}
	c.mu.Lock()
	c.types[key] = oids
	c.mu.Unlock()
	return oids, nil
}

// pgEpoch is where PostgreSQL's binary dates and timestamps count from.
var (
	pgEpoch     = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	pgEpochDate = civil.MustNew(2000, 1, 1)
)

// encodeCopy writes rows in COPY's binary format for columns of types oids:
// a header, each row as its field count and each field's length (-1 for
// NULL) and bytes, and a trailer. ok is false at the first value it does
// not encode.
func encodeCopy(oids []uint32, rows [][]any) (data []byte, ok bool) {
	// One allocation of at least the size needed: growing the buffer
	// row by row copied the snapshots in revisions and events many times.
	size := 21 // header and trailer
	for _, row := range rows {
		size += 2 + 20*len(row) // length and at most 16 bytes a field
		for _, v := range row {
			if s, ok := v.(string); ok {
				size += len(s)
			}
		}
	}
	b := make([]byte, 0, size)
	b = append(b, "PGCOPY\n\xff\r\n\x00"...)
	b = binary.BigEndian.AppendUint32(b, 0) // flags
	b = binary.BigEndian.AppendUint32(b, 0) // header extension length
	for _, row := range rows {
		if len(row) != len(oids) {
			return nil, false
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(row)))
		for i, v := range row {
			if b, ok = appendField(b, oids[i], v); !ok {
				return nil, false
			}
		}
	}
	return binary.BigEndian.AppendUint16(b, 0xffff), true
}

// appendField writes one field: its length and its value in the binary
// form of type oid.
func appendField(b []byte, oid uint32, v any) ([]byte, bool) {
	if v == nil {
		return appendNull(b), true
	}
	switch oid {
	case pgtype.UUIDOID:
		var id [16]byte
		switch x := v.(type) {
		case pgtype.UUID:
			if !x.Valid {
				return appendNull(b), true
			}
			id = x.Bytes
		case uuid.UUID:
			id = x
		case string:
			p, err := uuid.Parse(x)
			if err != nil || len(x) != 36 {
				return b, false
			}
			id = p
		default:
			return b, false
		}
		b = binary.BigEndian.AppendUint32(b, 16)
		return append(b, id[:]...), true
	case pgtype.TextOID, pgtype.VarcharOID:
		switch x := v.(type) {
		case string:
			b = binary.BigEndian.AppendUint32(b, uint32(len(x)))
			return append(b, x...), true
		}
	case pgtype.Int8OID, pgtype.Int4OID:
		var n int64
		switch x := v.(type) {
		case int64:
			n = x
		case int:
			n = int64(x)
		case int32:
			n = int64(x)
		default:
			return b, false
		}
		if oid == pgtype.Int8OID {
			b = binary.BigEndian.AppendUint32(b, 8)
			return binary.BigEndian.AppendUint64(b, uint64(n)), true
		}
		if n < math.MinInt32 || n > math.MaxInt32 {
			return b, false // pgx reports it
		}
		b = binary.BigEndian.AppendUint32(b, 4)
		return binary.BigEndian.AppendUint32(b, uint32(int32(n))), true
	case pgtype.BoolOID:
		switch x := v.(type) {
		case bool:
			b = binary.BigEndian.AppendUint32(b, 1)
			if x {
				return append(b, 1), true
			}
			return append(b, 0), true
		}
	case pgtype.DateOID:
		var d civil.Date
		switch x := v.(type) {
		case civil.Date:
			d = x
		case string:
			p, err := civil.Parse(x)
			if err != nil {
				return b, false
			}
			d = p
		default:
			return b, false
		}
		if d.IsZero() {
			return appendNull(b), true
		}
		b = binary.BigEndian.AppendUint32(b, 4)
		return binary.BigEndian.AppendUint32(b, uint32(int32(d.DaysSince(pgEpochDate)))), true
	case pgtype.TimestamptzOID:
		switch x := v.(type) {
		case time.Time:
			if x.Year() < 1 || x.Year() > 9999 {
				return b, false
			}
			// Microseconds since pgEpoch, through Unix seconds: a
			// time.Duration spans only 292 years.
			us := (x.Unix()-pgEpoch.Unix())*1_000_000 + int64(x.Nanosecond())/1000
			b = binary.BigEndian.AppendUint32(b, 8)
			return binary.BigEndian.AppendUint64(b, uint64(us)), true
		}
	}
	return b, false
}

// appendNull writes a NULL field: length -1, no bytes.
func appendNull(b []byte) []byte { return binary.BigEndian.AppendUint32(b, math.MaxUint32) }

// pgxCopy is pgx's CopyFrom, for rows the encoder above does not take.
// Values arrive as the shared SQL passes them (ids and dates as text) and
// become the native values pgx's binary format wants.
func pgxCopy(ctx context.Context, conn *pgx.Conn, table string, cols []string, rows [][]any) error {
	idCol := make([]bool, len(cols))
	for i, c := range cols {
		idCol[i] = c == "id" || strings.HasSuffix(c, "_id")
	}
	for _, row := range rows {
		for i, v := range row {
			switch x := v.(type) {
			case civil.Date:
				if x.IsZero() {
					row[i] = nil
				} else {
					row[i] = time.Date(x.Year, x.Month, x.Day, 0, 0, 0, 0, time.UTC)
				}
			case uuid.UUID:
				row[i] = pgtype.UUID{Bytes: x, Valid: true}
			case string:
				if idCol[i] && len(x) == 36 {
					if id, err := uuid.Parse(x); err == nil {
						// pgtype.UUID, not uuid.UUID: pgx encodes a
						// driver.Valuer through its text form, then
						// fails, then parses it again.
						row[i] = pgtype.UUID{Bytes: id, Valid: true}
					}
				}
			}
		}
	}
	_, err := conn.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows))
	return err
}
