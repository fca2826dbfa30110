package service_test

import (
	"crypto/ed25519"
	"testing"
	"time"
)

// TestCheckpointOnlyWhenChanged: a checkpoint is signed only when something
// was recorded since the latest: every replica signs on a timer, and each
// checkpoint holds every chain's head.
func TestCheckpointOnlyWhenChanged(t *testing.T) {
	f := newFixture(t, engines(t)["SQLite"], d(2025, 9, 1))
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	first, signed, err := f.a.SignCheckpoint(admin, key, 0)
	if err != nil || !signed {
		t.Fatalf("first checkpoint: %v, signed %v", err, signed)
	}
	again, signed, err := f.a.SignCheckpoint(admin, key, 0)
	if err != nil || signed || again != nil {
		t.Errorf("nothing recorded since: signed %v, %v; want nothing signed", signed, err)
	}
	if latest, err := f.a.LatestCheckpoint(admin); err != nil || latest.ID != first.ID {
		t.Errorf("the latest checkpoint is not the first: %v", err)
	}
	f.invoice(t, "CP-1", d(2025, 8, 1))
	next, signed, err := f.a.SignCheckpoint(admin, key, 0)
	if err != nil || !signed || next.EventCount <= first.EventCount {
		t.Errorf("after an invoice: signed %v, %v, events %d then %d", signed, err, first.EventCount, next.EventCount)
	}
	// Another key signs anew even with the same heads: its checkpoint is
	// the one its holders can verify.
	_, other, _ := ed25519.GenerateKey(nil)
	if _, signed, err := f.a.SignCheckpoint(admin, other, 0); err != nil || !signed {
		t.Errorf("another key: signed %v, %v", signed, err)
	}
}

// TestCheckpointOncePerGapAcrossReplicas: replicas signing on a timer with
// the same key, under steady writes, sign once per gap between them, not
// once each.
func TestCheckpointOncePerGapAcrossReplicas(t *testing.T) {
	f := newFixture(t, engines(t)["SQLite"], d(2025, 9, 1))
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	const gap = 150 * time.Second
	if _, signed, err := f.a.SignCheckpoint(admin, key, gap); err != nil || !signed {
		t.Fatalf("the first replica: signed %v, %v", signed, err)
	}
	f.invoice(t, "CP-GAP-1", d(2025, 8, 1))
	f.clk.Advance(time.Minute)
	if _, signed, err := f.b.SignCheckpoint(admin, key, gap); err != nil || signed {
		t.Errorf("the second replica a minute later, after a write: signed %v, %v; want nothing signed", signed, err)
	}
	f.clk.Advance(2 * time.Minute)
	if _, signed, err := f.b.SignCheckpoint(admin, key, gap); err != nil || !signed {
		t.Errorf("the second replica past the gap: signed %v, %v", signed, err)
	}
}
