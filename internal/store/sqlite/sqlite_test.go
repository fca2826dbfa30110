package sqlite_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/audit"
	"github.com/arrears/arrears/internal/auth"
	"github.com/arrears/arrears/internal/complaint"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/store"
	"github.com/arrears/arrears/internal/store/sqlite"
	"github.com/arrears/arrears/internal/store/sqlstore"
	"github.com/arrears/arrears/internal/store/storetest"
)

// The SQLite engine runs the whole conformance suite on a real file per test;
// it skips nothing.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "ledger.db"), slog.Default(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestReopenKeepsDataAndSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	s, err := sqlite.Open(ctx, path, slog.Default(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Secret(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = sqlite.Open(ctx, path, slog.Default(), time.Now())
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	b, err := s.Secret(ctx, "k")
	if err != nil || string(a) != string(b) {
		t.Errorf("secret after reopen = %x, %v; want %x", b, err, a)
	}
}

// TestCheckpointerCopiesTheWAL: what is committed reaches the database file
// while the store stays open, well before SQLite's own checkpoint would
// (far past a few pages of WAL), and Close stops the checkpointer, twice
// without harm.
func TestCheckpointerCopiesTheWAL(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	s, err := sqlite.Open(ctx, path, slog.Default(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	size := func(p string) int64 {
		fi, err := os.Stat(p)
		if err != nil {
			return 0
		}
		return fi.Size()
	}
	if size(path+"-wal") == 0 {
		t.Fatal("the schema was not written to the WAL")
	}
	start := size(path)
	deadline := time.Now().Add(10 * time.Second)
	for size(path) == start {
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s the database file is still %d bytes: nothing was checkpointed", start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	closed := make(chan error)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	s.Close() // a second Close is harmless
}

// TestConcurrentOpensMigrateOnce: processes opening a new database file at
// once (a server and a command, say) each apply what is missing; none fails
// on a step another applied meanwhile.
func TestConcurrentOpensMigrateOnce(t *testing.T) {
	for round := range 3 {
		path := filepath.Join(t.TempDir(), "ledger.db")
		errs := make(chan error, 4)
		for range 4 {
			go func() {
				s, err := sqlite.Open(context.Background(), path, slog.Default(), time.Now())
				if err == nil {
					s.Close()
				}
				errs <- err
			}()
		}
		for range 4 {
			if err := <-errs; err != nil {
				t.Errorf("round %d: open: %v", round, err)
			}
		}
	}
}

// TestNewDatabaseIsPrivate: a new database file, and the WAL beside it,
// are readable by their owner alone, even in a directory others may read.
func TestNewDatabaseIsPrivate(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ledger.db")
	s, err := sqlite.Open(context.Background(), path, slog.Default(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Secret(context.Background(), "k"); err != nil { // a write, so the WAL exists
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", filepath.Base(p), fi.Mode().Perm())
		}
	}
}

// TestOpenWhereThePathLooksLikeAURI: a data directory whose name holds
// characters a SQLite URI reads otherwise ("#" ends the path, "%41" is
// "A") still holds the ledger, at the path as written.
func TestOpenWhereThePathLooksLikeAURI(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "odd #1 %41 dir")
	path := filepath.Join(dir, "arrears.db")
	s, err := sqlite.Open(context.Background(), path, slog.Default(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Secret(context.Background(), "probe"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	fi, err := os.Stat(path)
	if err != nil || fi.Size() == 0 {
		t.Errorf("the ledger is not at %s: %v", path, err)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 1 {
		t.Errorf("files beside the data directory: %v", entries)
	}
}

// TestComplaintRegulatorsFilledIn: a complaint filed before its regulators
// had columns gets them from its document when the schema moves on, and is
// listed for its handling regulator.
func TestComplaintRegulatorsFilledIn(t *testing.T) {
	ctx := context.Background()
	path, db := migratedBefore(t, 18)
	debtor, creditor, receiver, handler := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	for i, id := range []uuid.UUID{debtor, creditor} {
		if _, err := db.Exec(`INSERT INTO parties (id, display_name, kind, size_class, jurisdiction, registration_id, region_code, industry_code, unverified, version, create_time, update_time)
			VALUES (?, 'p', 'SME', 'SMALL', 'CN', ?, '350100', '', 0, 1, 0, 0)`, id.String(), fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	c := complaint.Complaint{ID: uuid.New(), Debtor: debtor, Complainant: creditor, ReceivingRegulator: receiver, HandlingRegulator: handler,
		State: complaint.InHandling, Version: 1}
	doc, _ := json.Marshal(c)
	if _, err := db.Exec(`INSERT INTO complaints (id, debtor_id, creditor_id, state, next_check, version, data) VALUES (?, ?, ?, ?, NULL, 1, ?)`,
		c.ID.String(), debtor.String(), creditor.String(), string(c.State), string(doc)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err := sqlite.Open(ctx, path, slog.Default(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, reg := range []uuid.UUID{receiver, handler} {
		cs, err := s.ListComplaints(ctx, store.SupplierQuery{Scope: auth.Scope{Regulators: []uuid.UUID{reg}}})
		if err != nil || len(cs) != 1 || cs[0].ID != c.ID {
			t.Errorf("complaints of regulator %s after the migration: %v, %v", reg, cs, err)
		}
	}
	if col, err := s.DocColumnsDiffer(ctx, ledger.ResourceComplaint, c.ID); err != nil || col != "" {
		t.Errorf("columns against the document after the migration: %q, %v", col, err)
	}
}

// TestCheckpointKeptAsChanges: a checkpoint after a whole one keeps only
// the heads that moved, naming the whole one as its base.
func TestCheckpointKeptAsChanges(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ledger.db"), slog.Default(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, key, _ := ed25519.GenerateKey(nil)
	heads := make([]audit.Head, 100)
	for i := range heads {
		heads[i] = audit.Head{Chain: uuid.New(), Seq: 1, Hash: fmt.Sprintf("%064d", i)}
	}
	whole := audit.Sign(key, uuid.New(), time.Unix(1e9, 0), heads)
	moved := slices.Clone(heads)
	moved[7].Seq, moved[7].Hash = 2, fmt.Sprintf("%064d", 700)
	next := audit.Sign(key, uuid.New(), time.Unix(1e9+300, 0), moved)
	for _, c := range []*audit.Checkpoint{&whole, &next} {
		if err := s.PutCheckpoint(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	var base sql.NullString
	var kept string
	if err := s.DB().QueryRow(`SELECT base_id, heads FROM audit_checkpoints WHERE id = ?`, next.ID.String()).Scan(&base, &kept); err != nil {
		t.Fatal(err)
	}
	var hs []audit.Head
	json.Unmarshal([]byte(kept), &hs)
	if base.String != whole.ID.String() || len(hs) != 1 || hs[0] != moved[7] {
		t.Errorf("the second checkpoint keeps base %q and heads %v; want base %s and the one head that moved", base.String, hs, whole.ID)
	}
	// A whole row under the key that does not verify (written by someone
	// without the key) is no base: the next checkpoint is kept whole.
	if _, err := s.DB().Exec(`INSERT INTO audit_checkpoints (id, create_time, chain_count, event_count, heads_digest, heads, statement, signature, public_key)
		SELECT ?, create_time + 600000000, chain_count, event_count, heads_digest, heads, statement, 'Zm9yZ2Vk', public_key FROM audit_checkpoints WHERE id = ?`,
		uuid.New().String(), whole.ID.String()); err != nil {
		t.Fatal(err)
	}
	third := audit.Sign(key, uuid.New(), time.Unix(1e9+900, 0), moved)
	if err := s.PutCheckpoint(ctx, &third); err != nil {
		t.Fatal(err)
	}
	if err := s.DB().QueryRow(`SELECT base_id FROM audit_checkpoints WHERE id = ?`, third.ID.String()).Scan(&base); err != nil {
		t.Fatal(err)
	}
	if base.Valid {
		t.Errorf("after a forged whole row, the next checkpoint's base is %q, want none (kept whole)", base.String)
	}
	// The base deleted behind the service's back: its delta still lists,
	// and fails to verify, which audit verify reports.
	if _, err := s.DB().Exec(`DELETE FROM audit_checkpoints WHERE id = ?`, whole.ID.String()); err != nil {
		t.Fatal(err)
	}
	cps, err := s.ListCheckpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cps {
		if c.ID == next.ID && c.Verify(key.Public().(ed25519.PublicKey)) == nil {
			t.Error("a checkpoint whose base is gone still verifies")
		}
		if c.ID == third.ID && c.Verify(key.Public().(ed25519.PublicKey)) != nil {
			t.Error("the whole checkpoint after the deleted base no longer verifies")
		}
	}
}

// TestFloatFiguresMarked: aggregate rows an earlier version added a figure
// past the int64 range to (SQLite made it a float) are marked by the
// migration, so summaries judge their invoices; other rows are not.
func TestFloatFiguresMarked(t *testing.T) {
	ctx := context.Background()
	path, db := migratedBefore(t, 22)
	var cols, zeros string
	for l := range 7 {
		for _, m := range []string{"count", "amount", "net_count", "net_amount"} {
			cols += fmt.Sprintf(", l%d_%s", l, m)
			zeros += ", 0"
		}
	}
	for _, region := range []string{"350100", "350200"} {
		if _, err := db.Exec(`INSERT INTO summary_nodes (node, jurisdiction, region_code, debtor_kind, currency`+cols+`)
			VALUES (1, 'CN', ?, 'LARGE_ENTERPRISE', 'CNY'`+zeros+`)`, region); err != nil {
			t.Fatal(err)
		}
	}
	// As the version before added a change past the range.
	mustExec := func(q string) {
		t.Helper()
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	mustExec(`UPDATE summary_nodes SET l6_amount = 9223372036854775807 WHERE region_code = '350100'`)
	mustExec(`UPDATE summary_nodes SET l6_amount = l6_amount + 10 WHERE region_code = '350100'`)
	db.Close()
	s, err := sqlite.Open(ctx, path, slog.Default(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sums, err := s.SummaryNodes(ctx, store.NodeQuery{Nodes: []int32{1}, Jurisdiction: "CN"})
	if err != nil || len(sums) != 2 {
		t.Fatalf("%d groups, %v", len(sums), err)
	}
	for _, n := range sums {
		if n.Marked != (n.Key.Region == "350100") {
			t.Errorf("region %s marked %v", n.Key.Region, n.Marked)
		}
	}
}

// migratedBefore makes a database file whose schema stops before
// migration version, for a test to write rows as an earlier version did
// before opening it (which runs the rest).
func migratedBefore(t *testing.T, version int) (string, *sql.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ledger.db")
	ms, err := sqlite.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	var before []sqlstore.Migration
	for _, m := range ms {
		if m.Version < version {
			before = append(before, m)
		}
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sqlstore.Migrate(context.Background(), db, before, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	return path, db
}

// TestReadOnlyFileIsUnavailable: a database that takes no writes (its file
// system remounted read-only; query_only stands in for it here, as root
// can write any file) answers a write as unavailable, not as an internal
// error.
func TestReadOnlyFileIsUnavailable(t *testing.T) {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "ledger.db"), slog.Default(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.DB().SetMaxOpenConns(1) // the pragma is the connection's
	if _, err := s.DB().Exec(`PRAGMA query_only = ON`); err != nil {
		t.Fatal(err)
	}
	err = s.ReadWriteTx(context.Background(), func(ctx context.Context, tx store.Tx) error {
		return tx.PutSyncSession(ctx, &store.SyncSession{DebtorID: uuid.New(), Session: "s", CreateTime: time.Now(), UpdateTime: time.Now()})
	})
	if !errors.Is(err, ledger.ErrUnavailable) {
		t.Errorf("a write on a read-only database: %v, want unavailable", err)
	}
}

// TestMigrationsApplyingAreLogged: an open that migrates says which steps
// it applied; one that finds the store current says nothing of it.
func TestMigrationsApplyingAreLogged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	for i, want := range []bool{true, false} {
		var out bytes.Buffer
		s, err := sqlite.Open(context.Background(), path, slog.New(slog.NewTextHandler(&out, nil)), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		if got := strings.Contains(out.String(), "migrated the embedded store") && strings.Contains(out.String(), "applied="); got != want {
			t.Errorf("open %d: logged %q; want a line of what was applied: %v", i+1, out.String(), want)
		}
	}
}
