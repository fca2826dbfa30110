package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// loadAuditKey reads the checkpoint signing key, creating it (readable only
// by its owner) on first use. It lives in a file, not in the database, so
// that write access to the database is not enough to forge a checkpoint.
//
// Replicas sharing one database must sign with one key, or verification
// fails on each other's checkpoints: so on PostgreSQL the key is created
// only when asked (`arrearsd audit keygen`, or -create-audit-key=true once).
func loadAuditKey(path string, create bool) (ed25519.PrivateKey, bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && !create {
		return nil, false, fmt.Errorf("audit signing key %s does not exist: create it with `arrearsd audit keygen -audit-key-file %s` and give every replica the same file: %w", path, path, fs.ErrNotExist)
	}
	if errors.Is(err, fs.ErrNotExist) {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, false, err
		}
		enc := base64.StdEncoding.EncodeToString(priv.Seed()) + "\n"
		if err := writeSecretFile(path, enc); err != nil {
			return nil, false, fmt.Errorf("write audit key: %w", err)
		}
		return priv, true, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read audit key: %w", err)
	}
	seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, false, fmt.Errorf("audit key %s is not a base64 Ed25519 seed", path)
	}
	return ed25519.NewKeyFromSeed(seed), false, nil
}

// writeSecretFile writes content to a new file only its owner can read;
// an existing file is never overwritten. It is on disk when this returns
// (the file and its directory entry synced), as the database's commits
// are: a signing key lost to a power cut after its first checkpoint was
// committed would leave the ledger unverifiable.
func writeSecretFile(path, content string) error {
	f, err := createSecretFile(path)
	if err != nil {
		return err
	}
	if err := writeSynced(f, content); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// writeSynced writes content to f, syncs and closes it.
func writeSynced(f *os.File, content string) error {
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// syncDir makes a new directory entry durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// createSecretFile makes a new file readable only by its owner (and its
// directory, if missing, private); an existing file is an error.
func createSecretFile(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
}

// readableByOthers reports whether a file (of a secret) grants any access
// to its group or to others; false for no file or none given.
func readableByOthers(path string) bool {
	if path == "" {
		return false
	}
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().Perm()&0o077 != 0
}
