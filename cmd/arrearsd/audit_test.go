package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/base64"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	arrearsv1 "github.com/arrears/arrears/gen/arrears/v1"
	"github.com/arrears/arrears/internal/audit"
	"github.com/arrears/arrears/internal/auth"
	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/clock"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/money"
	"github.com/arrears/arrears/internal/policy"
	"github.com/arrears/arrears/internal/service"
	"github.com/arrears/arrears/internal/store"
	"github.com/arrears/arrears/internal/store/pgtest"
	"github.com/arrears/arrears/internal/store/sqlstore"
)

// auditLedger records a few changes through the service and signs a
// checkpoint, as a running server would; it returns the raw database for
// the tampering.
func auditLedger(t *testing.T, cfg config) *sql.DB {
	ctx := auth.WithPrincipal(context.Background(), service.System)
	st, err := openStore(ctx, cfg, slog.New(slog.DiscardHandler), now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	reg, err := policy.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	svc := service.New(st, clock.NewFake(now), reg, slog.New(slog.DiscardHandler))
	mk := func(reg, region string, kind ledger.PartyKind, size ledger.SizeClass) *ledger.Party {
		p, err := svc.CreateParty(ctx, &ledger.Party{DisplayName: "P " + reg, Kind: kind, SizeClass: size, Jurisdiction: "CN",
			RegistrationID: uscc(reg), RegionCode: region}, service.Idempotency{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	d := mk("91350100MA2Y00A01", "350100", ledger.KindLargeEnterprise, "")
	c := mk("92350102MA0000A02", "350102", ledger.KindSME, ledger.SizeSmall)
	inv, err := svc.CreateInvoice(ctx, service.CreateInvoiceInput{Debtor: service.PartyRef{ID: d.ID}, Creditor: service.PartyRef{ID: c.ID},
		Invoice: &ledger.Invoice{DocumentRef: "AUD-1", Amount: money.Money{Minor: 100000, Currency: "CNY"},
			IssuedOn: civil.MustNew(2025, 6, 1), AgreedTermDays: 30}})
	if err != nil {
		t.Fatal(err)
	}
	// A second invoice, so that invoices are read (and checked) together.
	if _, err := svc.CreateInvoice(ctx, service.CreateInvoiceInput{Debtor: service.PartyRef{ID: d.ID}, Creditor: service.PartyRef{ID: c.ID},
		Invoice: &ledger.Invoice{DocumentRef: "AUD-2", Amount: money.Money{Minor: 50000, Currency: "CNY"},
			IssuedOn: civil.MustNew(2025, 6, 2), AgreedTermDays: 30}}); err != nil {
		t.Fatal(err)
	}
	for i, ref := range []string{"AUD-P1", "AUD-P2"} {
		if _, _, err := svc.RecordPayment(ctx, inv.ID, &ledger.Payment{Amount: 1000, Currency: "CNY",
			PaidOn: civil.MustNew(2025, 7, 1+i), Reference: ref}); err != nil {
			t.Fatal(err)
		}
	}
	// Two complaints about the invoice, received by the regional regulator.
	regulator := mk("11350000MB0TWE009", "350000", ledger.KindRegulator, "")
	for _, summary := range []string{"unpaid", "still unpaid"} {
		if _, err := svc.FileComplaint(ctx, service.ComplaintInput{Complainant: service.PartyRef{ID: c.ID}, Debtor: service.PartyRef{ID: d.ID},
			ReceivingRegulator: service.PartyRef{ID: regulator.ID}, Invoices: []uuid.UUID{inv.ID}, Summary: summary}); err != nil {
			t.Fatal(err)
		}
	}
	// A portal authorised, and another authorised then revoked.
	for _, p := range []string{"portal.example", "gone.example"} {
		if err := svc.AuthorizePortal(ctx, service.PartyRef{ID: c.ID}, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := svc.RevokePortal(ctx, service.PartyRef{ID: c.ID}, "gone.example"); err != nil {
		t.Fatal(err)
	}
	// A key that expires, then is revoked (another admin key stays: the
	// last one is not revoked).
	if _, _, err := svc.CreateKey(ctx, service.KeySpec{Role: auth.RoleAdmin, Description: "the operator's"}); err != nil {
		t.Fatal(err)
	}
	k, _, err := svc.CreateKey(ctx, service.KeySpec{Role: auth.RoleAdmin, Description: "audited key", ExpireTime: now.Add(24*time.Hour + time.Nanosecond)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RevokeKey(ctx, k.Prefix); err != nil {
		t.Fatal(err)
	}
	key, _, err := loadAuditKey(cfg.AuditKeyFile, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.SignCheckpoint(ctx, key, 0); err != nil {
		t.Fatal(err)
	}
	return st.(*sqlstore.Store).DB()
}

func verify(t *testing.T, cfg config) (string, error) {
	var out bytes.Buffer
	args := []string{"verify", "-data-dir", cfg.DataDir, "-audit-key-file", cfg.AuditKeyFile, "-log-level", "error"}
	if cfg.DatabaseURL != "" {
		args = append(args, "-database-url", cfg.DatabaseURL)
	}
	err := runAudit(context.Background(), args, &out)
	return out.String(), err
}

// rechain rewrites one event and recomputes every hash after it, as an
// attacker with write access to the database would: the chains then verify
// on their own, and only the signed checkpoint can tell.
func rechain(t *testing.T, db *sql.DB, st store.Reader) {
	ctx := context.Background()
	heads, err := st.ChainHeads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range heads {
		if h.Seq < 3 {
			continue
		}
		evs, err := st.ListChainEvents(ctx, h.Chain, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var prev *audit.Head
		for _, e := range evs {
			if e.Seq == 2 {
				e.Actor = "ADMIN:nobody"
			}
			e.Seal(prev)
			if _, err := db.Exec(`UPDATE audit_events SET actor = $1, prev_hash = $2, hash = $3 WHERE chain_id = $4 AND seq = $5`,
				e.Actor, e.PrevHash, e.Hash, e.Chain.String(), e.Seq); err != nil {
				t.Fatal(err)
			}
			prev = &audit.Head{Chain: e.Chain, Seq: e.Seq, Hash: e.Hash}
		}
		return
	}
	t.Fatal("no chain long enough to rewrite")
}

func testTampering(t *testing.T, fresh func(t *testing.T) config) {
	for _, tc := range []struct {
		desc   string
		tamper func(t *testing.T, db *sql.DB, cfg config)
		want   string
	}{
		{"untouched", func(*testing.T, *sql.DB, config) {}, ""},
		{"UPDATE an event", func(t *testing.T, db *sql.DB, _ config) {
			mustExec(t, db, `UPDATE audit_events SET method = 'Forged' WHERE seq = 2`)
		}, "was altered"},
		{"DELETE the newest event of a chain", func(t *testing.T, db *sql.DB, _ config) {
			mustExec(t, db, `DELETE FROM audit_events WHERE seq = (SELECT MAX(seq) FROM audit_events)`)
		}, "is gone"},
		{"DELETE an event in the middle", func(t *testing.T, db *sql.DB, _ config) {
			mustExec(t, db, `DELETE FROM audit_events WHERE seq = 2`)
		}, "events are missing"},
		{"INSERT an event before a chain's first (seq 0), which the feed would serve", func(t *testing.T, db *sql.DB, _ config) {
			mustExec(t, db, `INSERT INTO audit_events (`+eventColumns+`)
				SELECT chain_id, 0, '0190f3a2-7b1c-7000-8000-0000000000fe', debtor_id, creditor_id, record_time, actor, 'Forged', resource_type,
				resource_id, revision, snapshot_digest, changes, prev_hash, hash, effective_on FROM audit_events WHERE seq = 1 AND debtor_id IS NOT NULL LIMIT 1`)
		}, "events are missing"},
		{"INSERT an event at the lowest sequence there is", func(t *testing.T, db *sql.DB, _ config) {
			mustExec(t, db, `INSERT INTO audit_events (`+eventColumns+`)
				SELECT chain_id, -9223372036854775808, '0190f3a2-7b1c-7000-8000-0000000000fd', debtor_id, creditor_id, record_time, actor, 'Forged', resource_type,
				resource_id, revision, snapshot_digest, changes, prev_hash, hash, effective_on FROM audit_events WHERE seq = 1 AND debtor_id IS NOT NULL LIMIT 1`)
		}, "events are missing"},
		{"INSERT a revision above an invoice's last (a correction the judgement would apply to past dates)", func(t *testing.T, db *sql.DB, _ config) {
			mustExec(t, db, `INSERT INTO revisions (resource_id, revision, resource_type, effective_on, record_time, method, snapshot)
				SELECT resource_id, revision + 100, resource_type, '2020-01-01', record_time, 'UpdateInvoice', snapshot FROM revisions
				WHERE resource_type = 'invoice' AND revision = 1 LIMIT 1`)
		}, "which no audit event records"},
		{"INSERT a revision below an invoice's first (the base the payment report starts from)", func(t *testing.T, db *sql.DB, _ config) {
			mustExec(t, db, `INSERT INTO revisions (resource_id, revision, resource_type, effective_on, record_time, method, snapshot)
				SELECT resource_id, 0, resource_type, '2020-01-01', record_time, 'UpdateInvoice', snapshot FROM revisions
				WHERE resource_type = 'invoice' AND revision = 1 LIMIT 1`)
		}, "below the first"},
		{"INSERT a revision of an invoice under another type (which the readers take all the same)", func(t *testing.T, db *sql.DB, _ config) {
			mustExec(t, db, `INSERT INTO revisions (resource_id, revision, resource_type, effective_on, record_time, method, snapshot)
				SELECT resource_id, revision + 100, 'x', '2020-01-01', record_time, 'UpdateInvoice', snapshot FROM revisions
				WHERE resource_type = 'invoice' AND revision = 1 LIMIT 1`)
		}, "which its audit trail does not record it as"},
		{"UPDATE a revision snapshot", func(t *testing.T, db *sql.DB, _ config) {
			mustExec(t, db, `UPDATE revisions SET snapshot = replace(snapshot, '"paid":1000', '"paid":9000')`)
		}, "was altered"},
		{"rewrite and recompute a chain", func(t *testing.T, db *sql.DB, cfg config) {
			st, err := openStore(context.Background(), cfg, slog.New(slog.DiscardHandler), now)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			rechain(t, db, st)
		}, "rewritten since it was signed"},
		{"UPDATE a live payment row", func(t *testing.T, db *sql.DB, _ config) {
			mustExec(t, db, `UPDATE payments SET paid_on = '2025-06-01' WHERE reference = 'AUD-P1'`)
		}, "does not match its last audited state"},
		{"UPDATE a live invoice row", func(t *testing.T, db *sql.DB, _ config) {
			mustExec(t, db, `UPDATE invoices SET amount = amount - 1`)
		}, "does not match its last audited state"},
		{"re-enable a revoked key", func(t *testing.T, db *sql.DB, _ config) {
			mustExec(t, db, `UPDATE api_keys SET revoke_time = NULL WHERE description = 'audited key'`)
		}, "api_key"},
		{"replace a key's secret hash (take the key over)", func(t *testing.T, db *sql.DB, _ config) {
			mustExec(t, db, `UPDATE api_keys SET secret_hash = secret_hash || secret_hash WHERE description = 'audited key'`)
		}, "api_key"},
		{"INSERT a key", func(t *testing.T, db *sql.DB, _ config) {
			mustExec(t, db, `INSERT INTO api_keys (id, prefix, secret_hash, role, description, parties, remit_jurisdiction,
				remit_region_prefix, portal, client_cert_sha256, create_time)
				SELECT '0190f3a2-7b1c-7000-8000-0000000000ff', 'zzzzzzzz', secret_hash, 'ADMIN', 'forged', parties, remit_jurisdiction,
				remit_region_prefix, portal, client_cert_sha256, create_time FROM api_keys WHERE description = 'audited key'`)
		}, "has no audit event"},
		{"UPDATE a revision's method (which correction counts when)", func(t *testing.T, db *sql.DB, _ config) {
			mustExec(t, db, `UPDATE revisions SET method = 'Forged' WHERE revision = 1 AND resource_type = 'invoice'`)
		}, "was altered"},
		{"UPDATE a revision's effective date (a correction counts from another day)", func(t *testing.T, db *sql.DB, _ config) {
			mustExec(t, db, `UPDATE revisions SET effective_on = '2020-01-01' WHERE revision = 1 AND resource_type = 'invoice'`)
		}, "was altered"},
		{"UPDATE a complaint's state column", func(t *testing.T, db *sql.DB, _ config) {
			mustExec(t, db, `UPDATE complaints SET state = 'CLOSED'`)
		}, "its state column"},
		{"UPDATE a complaint's next check (the sweeper never looks again)", func(t *testing.T, db *sql.DB, _ config) {
			mustExec(t, db, `UPDATE complaints SET next_check = NULL`)
		}, "its next_check column"},
		{"UPDATE a line of a complaint's timeline", func(t *testing.T, db *sql.DB, _ config) {
			mustExec(t, db, `UPDATE complaint_events SET data = replace(data, '"SUBMITTED"', '"WITHDRAWN"')`)
		}, "complaint_event"},
		{"DELETE a line of a complaint's timeline", func(t *testing.T, db *sql.DB, _ config) {
			mustExec(t, db, `DELETE FROM complaint_events`)
		}, "is gone"},
		{"move a line to another complaint's timeline", func(t *testing.T, db *sql.DB, _ config) {
			mustExec(t, db, `UPDATE complaint_events SET complaint_id = (SELECT id FROM complaints ORDER BY id DESC LIMIT 1)`)
		}, "complaint_event"},
		{"INSERT a portal authorisation (the portal reads the supplier's ledger)", func(t *testing.T, db *sql.DB, _ config) {
			mustExec(t, db, `INSERT INTO portal_grants (portal, creditor_id, create_time) SELECT 'evil.example', creditor_id, create_time FROM portal_grants`)
		}, `portal "evil.example" is authorised`},
		{"DELETE a portal authorisation", func(t *testing.T, db *sql.DB, _ config) {
			mustExec(t, db, `DELETE FROM portal_grants WHERE portal = 'portal.example'`)
		}, `portal "portal.example"'s authorisation`},
		{"DELETE every checkpoint", func(t *testing.T, db *sql.DB, _ config) {
			mustExec(t, db, `DELETE FROM audit_checkpoints`)
		}, "no signed checkpoint"},
		{"forge a checkpoint", func(t *testing.T, db *sql.DB, _ config) {
			mustExec(t, db, `UPDATE audit_checkpoints SET event_count = event_count + 1`)
		}, "checkpoint"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			cfg := fresh(t)
			db := auditLedger(t, cfg)
			tc.tamper(t, db, cfg)
			out, err := verify(t, cfg)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("verify on an untouched ledger: %v\n%s", err, out)
				}
				return
			}
			if err == nil || !strings.Contains(out, tc.want) {
				t.Errorf("verify after tampering: err %v, output:\n%s\nwant a problem containing %q", err, out, tc.want)
			}
		})
	}
}

// eventColumns are audit_events' columns, as the store writes them.
const eventColumns = `chain_id, seq, event_id, debtor_id, creditor_id, record_time, actor, method, resource_type,
	resource_id, revision, snapshot_digest, changes, prev_hash, hash, effective_on`

func mustExec(t *testing.T, db *sql.DB, q string) {
	t.Helper()
	res, err := db.Exec(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		t.Fatalf("%s changed nothing", q)
	}
}

func TestAuditTamperingSQLite(t *testing.T) {
	testTampering(t, func(t *testing.T) config {
		dir := t.TempDir()
		return config{DataDir: dir, AuditKeyFile: filepath.Join(dir, "audit.key")}
	})
}

func TestAuditTamperingPostgres(t *testing.T) {
	testTampering(t, func(t *testing.T) config {
		dir := t.TempDir()
		return config{DatabaseURL: pgtest.URL(t), DataDir: dir, AuditKeyFile: filepath.Join(dir, "audit.key")}
	})
}

// TestAuditVerifyReadsPastUnreadableRows: verify reads revisions,
// invoices and payments in batches; a row tampered past what the store can read (text
// in a date column, which SQLite keeps) fails its batch's read, and is then
// named while the rows read with it are still checked.
func TestAuditVerifyReadsPastUnreadableRows(t *testing.T) {
	dir := t.TempDir()
	cfg := config{DataDir: dir, AuditKeyFile: filepath.Join(dir, "audit.key")}
	db := auditLedger(t, cfg)
	mustExec(t, db, `UPDATE revisions SET effective_on = 'not a date'
		WHERE revision = 1 AND resource_id = (SELECT id FROM invoices WHERE document_ref = 'AUD-1')`)
	mustExec(t, db, `UPDATE revisions SET snapshot = replace(snapshot, '"paid":1000', '"paid":9000')`)
	mustExec(t, db, `UPDATE invoices SET due_date = 'not a date' WHERE document_ref = 'AUD-1'`)
	mustExec(t, db, `UPDATE invoices SET amount = amount - 1 WHERE document_ref = 'AUD-2'`)
	mustExec(t, db, `UPDATE payments SET paid_on = 'not a date' WHERE reference = 'AUD-P1'`)
	mustExec(t, db, `UPDATE payments SET amount = amount - 1 WHERE reference = 'AUD-P2'`)
	var aud1, aud2, p1, p2 string
	if err := db.QueryRow(`SELECT (SELECT id FROM invoices WHERE document_ref = 'AUD-1'), (SELECT id FROM invoices WHERE document_ref = 'AUD-2'),
		(SELECT id FROM payments WHERE reference = 'AUD-P1'), (SELECT id FROM payments WHERE reference = 'AUD-P2')`).Scan(&aud1, &aud2, &p1, &p2); err != nil {
		t.Fatal(err)
	}
	out, err := verify(t, cfg)
	if err == nil {
		t.Fatalf("verify passed a tampered ledger:\n%s", out)
	}
	for _, want := range []string{
		"cannot read revision",                           // the invoice's first revision
		"revision 2 of invoice " + aud1 + " was altered", // read in the same batch: still checked
		"invoice " + aud1 + ": cannot read",              // the invoice row
		"invoice " + aud2 + " was altered",               // read with it: still checked
		"payment " + p1 + ": cannot read",                // so for payments
		"payment " + p2 + " was altered",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("verify output lacks %q (err %v):\n%s", want, err, out)
		}
	}
}

// TestAuditKeyOnPostgres: replicas on a shared database must share one
// signing key, so on PostgreSQL arrearsd refuses to start without the key
// file rather than make a key of its own; `audit keygen` makes it once.
func TestAuditKeyOnPostgres(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.key")
	cfg, err := parseConfig("arrearsd", []string{"-database-url", "postgres://x@127.0.0.1:1/x", "-audit-key-file", path})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CreateAuditKey {
		t.Error("on PostgreSQL the audit key is created by default")
	}
	if _, _, err := loadAuditKey(path, cfg.CreateAuditKey); err == nil || !strings.Contains(err.Error(), "audit keygen") {
		t.Errorf("missing key on PostgreSQL: %v", err)
	}
	var out strings.Builder
	if err := runAudit(context.Background(), []string{"keygen", "-audit-key-file", path}, &out); err != nil {
		t.Fatal(err)
	}
	if err := runAudit(context.Background(), []string{"keygen", "-audit-key-file", path}, &out); err == nil {
		t.Error("keygen overwrote an existing key")
	}
	if _, created, err := loadAuditKey(path, false); err != nil || created {
		t.Errorf("the generated key: created %v, %v", created, err)
	}
}

// TestMissingAuditKeyIsNotReplacedUnasked: a ledger whose checkpoints a key
// signed does not start with a new key because the file went missing (a
// new key's checkpoints could never verify beside the old); asked with
// -create-audit-key=true, it does.
func TestMissingAuditKeyIsNotReplacedUnasked(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "audit-signing.key")
	_, _, stop := startStoppable(t, config{DataDir: dir}, clock.NewFake(now))
	stop()
	// A checkpoint signed with the key the first start made.
	key, _, err := loadAuditKey(keyFile, false)
	if err != nil {
		t.Fatal(err)
	}
	st, err := openStore(context.Background(), config{DataDir: dir}, slog.New(slog.DiscardHandler), now)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := policy.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := service.New(st, clock.NewFake(now), reg, slog.New(slog.DiscardHandler)).SignCheckpoint(context.Background(), key, 0); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	cfg := localConfig(t, dir)
	if err := refusedStart(t, cfg); !strings.Contains(err.Error(), "-create-audit-key=true") {
		t.Fatalf("start without the key file: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg.CreateAuditKey, cfg.AuditKeyAsked = true, true
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, clock.NewFake(now), func(string, string) { close(started) }) }()
	select {
	case <-started:
		cancel()
		<-done
	case err := <-done:
		t.Fatalf("start asked to create a new key: %v", err)
	}

	// Another key again, unasked, is not the one the latest checkpoint was
	// signed with (the old key's, or the new one's if it signed as it
	// started): refused, as a replica given the wrong file would sign what
	// verifies with neither.
	_, other, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(other.Seed())+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.CreateAuditKey, cfg.AuditKeyAsked = false, false
	if err := refusedStart(t, cfg); !strings.Contains(err.Error(), "is not the key the ledger's latest checkpoint was signed with") {
		t.Fatalf("start with another key than the checkpoints': %v", err)
	}
}

// TestFirstAdminKeyFileMadeFirst: a new ledger whose admin key file cannot
// be made (one left there by another ledger) does not start, and commits
// no key it could not hand over; once the file is gone it starts, and the
// key in the file works.
func TestFirstAdminKeyFileMadeFirst(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "admin.key")
	if err := os.WriteFile(stale, []byte("ark_stale_key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := refusedStart(t, localConfig(t, dir)); !strings.Contains(err.Error(), stale) {
		t.Fatalf("start beside a stale admin key file: %v", err)
	}
	if err := os.Remove(stale); err != nil {
		t.Fatal(err)
	}
	grpcAddr, _, stop := startStoppable(t, config{DataDir: dir}, clock.NewFake(now))
	defer stop()
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var keys arrearsv1.ListApiKeysResponse
	call(t, &grpcTransport{conn: conn, token: adminToken(t, dir)}, "ListApiKeys", &arrearsv1.ListApiKeysRequest{}, &keys)
	if len(keys.ApiKeys) != 1 {
		t.Errorf("%d keys after the first start, want the one admin key", len(keys.ApiKeys))
	}
}

// localConfig is the configuration `arrearsd -data-dir dir` gets, on
// loopback ports the system picks.
func localConfig(t *testing.T, dir string) config {
	t.Helper()
	cfg, err := parseConfig("arrearsd", []string{"-data-dir", dir, "-grpc-addr", "127.0.0.1:0", "-http-addr", "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// refusedStart runs the server on cfg, which must refuse to start, and
// returns why.
func refusedStart(t *testing.T, cfg config) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := serve(ctx, cfg, clock.NewFake(now), func(string, string) { t.Error("the server started") })
	if err == nil {
		t.Fatal("the server started and stopped without an error")
	}
	return err
}

// TestVerifyWithThePublicKey: audit keygen prints the key's public half, and
// verify checks the trail with it alone, without the signing key (which
// can forge checkpoints); a wrong public key fails the checkpoints.
func TestVerifyWithThePublicKey(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "keys", "audit.key")
	var out strings.Builder
	if err := runAudit(context.Background(), []string{"keygen", "-audit-key-file", keyFile}, &out); err != nil {
		t.Fatal(err)
	}
	_, pub, ok := strings.Cut(out.String(), "public key: ")
	if !ok {
		t.Fatalf("keygen printed no public key:\n%s", out.String())
	}
	pub = strings.TrimSpace(pub)
	cfg := config{DataDir: dir, AuditKeyFile: keyFile}
	auditLedger(t, cfg).Close()
	check := func(pub string) (string, error) {
		var out bytes.Buffer
		err := runAudit(context.Background(), []string{"verify", "-data-dir", dir, "-audit-key-file", filepath.Join(dir, "absent.key"),
			"-public-key", pub, "-log-level", "error"}, &out)
		return out.String(), err
	}
	if out, err := check(pub); err != nil {
		t.Errorf("verify with the public key: %v\n%s", err, out)
	}
	other, _, _ := ed25519.GenerateKey(nil)
	if out, err := check(base64.StdEncoding.EncodeToString(other)); err == nil || !strings.Contains(out, "checkpoint") {
		t.Errorf("verify with another public key: %v\n%s", err, out)
	}
}
