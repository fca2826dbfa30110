package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/complaint"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/store"
	"github.com/arrears/arrears/internal/store/pgtest"
	"github.com/arrears/arrears/internal/store/postgres"
	"github.com/arrears/arrears/internal/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// The PostgreSQL engine runs the whole conformance suite, each test on a
// fresh database copied from the migrated template; it skips nothing.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := postgres.Open(context.Background(), pgtest.URL(t), slog.Default())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestOpenRefusesUnmigratedSchema(t *testing.T) {
	url := pgtest.URL(t)
	db := pgtest.DB(t, url)
	if _, err := db.Exec(`DELETE FROM schema_migrations`); err != nil {
		t.Fatal(err)
	}
	_, err := postgres.Open(context.Background(), url, slog.Default())
	if err == nil || !strings.Contains(err.Error(), "arrearsd migrate") {
		t.Fatalf("Open on an unmigrated schema: err = %v, want advice to run arrearsd migrate", err)
	}
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (1, 'x', 0), (99, 'future', 0)`); err != nil {
		t.Fatal(err)
	}
	_, err = postgres.Open(context.Background(), url, slog.Default())
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Open on a newer schema: err = %v, want a refusal naming the newer version", err)
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	url := pgtest.URL(t)
	applied, err := postgres.Migrate(context.Background(), url, time.Now())
	if err != nil || len(applied) != 0 {
		t.Fatalf("second migrate applied %v, %v; want nothing", applied, err)
	}
}

// TestConcurrentMigrationsApplyEachStepOnce: migrators started together on
// an empty database (replicas starting after an upgrade) all succeed, and
// each step is applied once.
func TestConcurrentMigrationsApplyEachStepOnce(t *testing.T) {
	url := pgtest.EmptyURL(t)
	type result struct {
		applied []int
		err     error
	}
	results := make(chan result, 3)
	for range 3 {
		go func() {
			applied, err := postgres.Migrate(context.Background(), url, time.Now())
			results <- result{applied, err}
		}()
	}
	seen := map[int]int{}
	for range 3 {
		r := <-results
		if r.err != nil {
			t.Errorf("migrate: %v", r.err)
		}
		for _, v := range r.applied {
			seen[v]++
		}
	}
	for v, n := range seen {
		if n != 1 {
			t.Errorf("migration %d applied %d times", v, n)
		}
	}
	if len(seen) == 0 {
		t.Error("no migration was applied")
	}
}

// TestComplaintRegulatorsFilledIn: migration 0021 gives a complaint filed
// before 0020 (its regulator columns NULL) the regulators of its document.
func TestComplaintRegulatorsFilledIn(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	db := pgtest.DB(t, url)
	debtor, creditor, receiver := uuid.New(), uuid.New(), uuid.New()
	for i, id := range []uuid.UUID{debtor, creditor} {
		if _, err := db.Exec(`INSERT INTO parties (id, display_name, kind, size_class, jurisdiction, registration_id, region_code, industry_code, unverified, version, create_time, update_time)
			VALUES ($1, 'p', 'SME', 'SMALL', 'CN', $2, '350100', '', false, 1, now(), now())`, id, fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	c := complaint.Complaint{ID: uuid.New(), Debtor: debtor, Complainant: creditor, ReceivingRegulator: receiver, State: complaint.Submitted, Version: 1}
	doc, _ := json.Marshal(c)
	if _, err := db.Exec(`INSERT INTO complaints (id, debtor_id, creditor_id, state, version, data) VALUES ($1, $2, $3, $4, 1, $5)`,
		c.ID, debtor, creditor, string(c.State), string(doc)); err != nil {
		t.Fatal(err)
	}
	ms, err := postgres.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Version == 21 {
			if _, err := db.Exec(m.SQL); err != nil {
				t.Fatal(err)
			}
		}
	}
	var got, none uuid.NullUUID
	if err := db.QueryRow(`SELECT receiving_regulator, handling_regulator FROM complaints WHERE id = $1`, c.ID).Scan(&got, &none); err != nil {
		t.Fatal(err)
	}
	if got.UUID != receiver || none.Valid {
		t.Errorf("after 0021: receiving %v, handling %v; want %s and NULL (none yet)", got, none, receiver)
	}
	s, err := postgres.Open(ctx, url, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if col, err := s.DocColumnsDiffer(ctx, ledger.ResourceComplaint, c.ID); err != nil || col != "" {
		t.Errorf("columns against the document after 0021: %q, %v", col, err)
	}
}

// TestReadOnlyServerIsUnavailable: a server that takes no writes (a standby
// reached after a failover) answers a write as unavailable, which clients
// retry, not as an internal error.
func TestReadOnlyServerIsUnavailable(t *testing.T) {
	url := pgtest.URL(t)
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	s, err := postgres.Open(context.Background(), url+sep+"default_transaction_read_only=on", slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.ReadWriteTx(context.Background(), func(ctx context.Context, tx store.Tx) error {
		_, err := tx.LockParty(ctx, uuid.New())
		return err
	})
	if !errors.Is(err, ledger.ErrUnavailable) {
		t.Errorf("a write on a read-only server: %v, want unavailable", err)
	}
}

// TestPurgeKeepsASessionMovedMeanwhile: a session a chunk moves while the
// purge waits for its row stays, with its rejections: PostgreSQL rechecks
// only the outer condition of the purge's DELETE on such a row.
func TestPurgeKeepsASessionMovedMeanwhile(t *testing.T) {
	ctx := context.Background()
	s, err := postgres.Open(ctx, pgtest.URL(t), slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	old := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	debtor := &ledger.Party{ID: uuid.New(), DisplayName: "Buyer", Kind: ledger.KindLargeEnterprise, SizeClass: ledger.SizeLarge,
		Jurisdiction: "GB", RegistrationID: "PURGE001", RegionCode: "UKI", CreateTime: old, UpdateTime: old}
	sess := &store.SyncSession{DebtorID: debtor.ID, Session: "nightly", CreateTime: old, UpdateTime: old}
	if err := s.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := tx.CreateParty(ctx, debtor, store.Change{Actor: "test", EffectiveOn: civil.MustNew(2025, 1, 1), RecordTime: old, Method: "CreateParty"}); err != nil {
			return err
		}
		return tx.PutSyncSession(ctx, sess)
	}); err != nil {
		t.Fatal(err)
	}
	moving, release := make(chan struct{}), make(chan struct{})
	moved := make(chan error, 1)
	go func() {
		moved <- s.ReadWriteTx(ctx, func(ctx context.Context, tx store.Tx) error {
			cur, err := tx.GetSyncSession(ctx, sess.DebtorID, sess.Session)
			if err != nil {
				return err
			}
			cur.AckedSeq, cur.UpdateTime = 10, time.Now()
			if err := tx.PutSyncSession(ctx, cur); err != nil {
				return err
			}
			close(moving)
			<-release // the purge meets the row locked
			return nil
		})
	}()
	<-moving
	purged := make(chan error, 1)
	go func() {
		_, err := s.PurgeSyncSessions(ctx, time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC))
		purged <- err
	}()
	time.Sleep(200 * time.Millisecond) // the purge waits on the row
	close(release)
	if err := <-moved; err != nil {
		t.Fatal(err)
	}
	if err := <-purged; err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetSyncSession(ctx, sess.DebtorID, sess.Session); err != nil || got.AckedSeq != 10 {
		t.Errorf("the session moved while the purge waited: %+v, %v; want it kept", got, err)
	}
}

// TestStatementTimeoutIsDeadlineExceeded: a statement past the server's
// statement_timeout (an operator's setting) is classed as timed out, which
// answers DEADLINE_EXCEEDED: not retried as unavailable (it would run as
// long again), nor retried as a race.
func TestStatementTimeoutIsDeadlineExceeded(t *testing.T) {
	db := pgtest.DB(t, pgtest.URL(t))
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), `SET statement_timeout = 10`); err != nil {
		t.Fatal(err)
	}
	_, err = conn.ExecContext(context.Background(), `SELECT pg_sleep(1)`)
	if err == nil || !postgres.Dialect.TimedOut(err) || postgres.Dialect.Unavailable(err) || postgres.Dialect.Retryable(err) {
		t.Errorf("a statement past statement_timeout: %v; timed out %v, unavailable %v, retryable %v", err,
			err != nil && postgres.Dialect.TimedOut(err), err != nil && postgres.Dialect.Unavailable(err), err != nil && postgres.Dialect.Retryable(err))
	}
}

// TestBadURLSaysWhyWithoutTheURL: a connection string pgx cannot read is
// refused with pgx's reason, and without the string, whose password must
// not reach a log.
func TestBadURLSaysWhyWithoutTheURL(t *testing.T) {
	for url, why := range map[string]string{
		"postgres://arrears:s3cr3t@127.0.0.1:5432/arrears?pool_max_conns=abc": "cannot parse pool_max_conns",
		"host=127.0.0.1 password=s3cr3t sslmode=bogus":                        "sslmode is invalid",
	} {
		_, err := postgres.Open(context.Background(), url, slog.New(slog.DiscardHandler))
		if err == nil || !strings.Contains(err.Error(), why) || strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "127.0.0.1") {
			t.Errorf("%s: %v, want the reason %q and not the string", why, err, why)
		}
	}
}

// TestConnectionLostMidStatementIsUnavailable: a connection cut while a
// statement runs (the server killed, a failover; here a proxy closing it
// during a COPY, as a sync chunk's) ends the client's read with an EOF;
// that is the database unavailable, answered UNAVAILABLE so that clients
// resume, not an internal error.
func TestConnectionLostMidStatementIsUnavailable(t *testing.T) {
	cfg, err := pgx.ParseConfig(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	target := net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", target)
		if err != nil {
			c.Close()
			return
		}
		go io.Copy(up, c)
		go io.Copy(c, up)
		accepted <- c
	}()
	// Through the proxy only: no TLS attempt, no fallback to the server
	// itself.
	cfg.Host, cfg.Port, cfg.TLSConfig, cfg.Fallbacks = "127.0.0.1", uint16(l.Addr().(*net.TCPAddr).Port), nil, nil
	conn, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	client := <-accepted
	if _, err := conn.Exec(context.Background(), `CREATE TEMPORARY TABLE t (n int)`); err != nil {
		t.Fatal(err)
	}
	// A COPY under way, as a sync chunk's: its rows still coming.
	rows, more := io.Pipe()
	defer more.Close()
	done := make(chan error, 1)
	go func() {
		_, err := conn.PgConn().CopyFrom(context.Background(), rows, `COPY t FROM STDIN`)
		done <- err
	}()
	io.WriteString(more, "1\n2\n")
	time.Sleep(200 * time.Millisecond)
	client.Close()
	err = <-done
	if err == nil || !postgres.Dialect.Unavailable(err) {
		t.Errorf("a connection cut mid-statement: %v; unavailable %v, want true", err, err != nil && postgres.Dialect.Unavailable(err))
	}
}
