package main

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/auth"
	"github.com/arrears/arrears/internal/clock"
	"github.com/arrears/arrears/internal/regid"
	"github.com/arrears/arrears/internal/service"
	"github.com/arrears/arrears/internal/store"
	"github.com/arrears/arrears/internal/store/sqlite"
)

// multiFlag collects a repeated flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// openService opens the configured store for an operator command, acting
// as the system principal.
func openService(ctx context.Context, cfg config) (*service.Ledger, store.Store, context.Context, error) {
	if err := existingLedger(cfg); err != nil {
		return nil, nil, nil, err
	}
	log := cfg.logger()
	var st store.Store
	var err error
	if cfg.DatabaseURL == "" {
		// As it is: only migrate (and the server) change the schema.
		st, err = sqlite.OpenCurrent(ctx, cfg.SQLitePath(), log)
	} else {
		st, err = openStore(ctx, cfg, log, time.Now())
	}
	if err != nil {
		return nil, nil, nil, err
	}
	reg, err := cfg.policies()
	if err != nil {
		st.Close()
		return nil, nil, nil, err
	}
	return service.New(st, clock.System{}, reg, log), st, auth.WithPrincipal(ctx, service.System), nil
}

// existingLedger refuses to let an operator command make a new, empty
// embedded ledger: -data-dir is relative to the working directory, and a
// key created (or an audit verified) in a ledger made by mistake there
// would mean nothing to the server's.
func existingLedger(cfg config) error {
	if cfg.DatabaseURL != "" {
		return nil
	}
	path, err := filepath.Abs(cfg.SQLitePath())
	if err != nil {
		return err
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("no ledger at %s: run the command with the server's -data-dir (or -database-url)", path)
	}
	return nil
}

// isHelp reports whether arg asks for the usage.
func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "help":
		return true
	}
	return false
}

// usage answers a command line without its subcommand: asked for help, it
// prints the usage and returns flag.ErrHelp (no error to report); else the
// usage is the error.
func usage(out io.Writer, text string, args []string) error {
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprintln(out, text)
		return flag.ErrHelp
	}
	return errors.New(text)
}

// runKeys is `arrearsd keys create|list|revoke`.
func runKeys(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 || isHelp(args[0]) {
		return usage(out, "usage: arrearsd keys create|list|revoke [flags] (each with -h for its flags)", args)
	}
	switch args[0] {
	case "create", "list", "revoke":
	default:
		// Before the flags and the ledger: "keys frob" is no command,
		// whatever the ledger, and "keys -data-dir x list" puts the flags
		// before it.
		return fmt.Errorf("unknown keys command %q: want create, list or revoke, then the flags", args[0])
	}
	var role, description, remitJ, remitR, portal, clientCert string
	var expires time.Duration
	var parties multiFlag
	flags := func(fs *flag.FlagSet) {
		if args[0] != "create" {
			return
		}
		fs.StringVar(&role, "role", "", "DEBTOR, CREDITOR, PORTAL, REGULATOR or ADMIN")
		fs.Var(&parties, "party", "a party the key acts for (parties/{id} or parties/{J}:{registration id}); repeat for several")
		fs.StringVar(&description, "description", "", "what the key is for")
		fs.StringVar(&remitJ, "remit-jurisdiction", "", "REGULATOR: jurisdiction of the debtors in remit")
		fs.StringVar(&remitR, "remit-region", "", "REGULATOR: region-code prefix of the debtors in remit")
		fs.StringVar(&portal, "portal", "", "PORTAL: the portal's name")
		fs.DurationVar(&expires, "expires", 0, "lifetime, e.g. 2160h; 0 for none")
		fs.StringVar(&clientCert, "client-cert", "", "PEM client certificate the key is bound to (usable only over mutual TLS)")
	}
	cfg, rest, err := parseConfigArgs("arrearsd keys "+args[0], args[1:], flags)
	if err != nil {
		return err
	}
	// Flags stop at the first other word: what follows it (a mistyped
	// "-expires" after a stray word, say) would be dropped unseen.
	if args[0] != "revoke" && len(rest) > 0 {
		return fmt.Errorf("arrearsd keys %s: unexpected %q (flags after it were not read)", args[0], rest[0])
	}
	if expires < 0 {
		return fmt.Errorf("arrearsd keys create: -expires must not be negative, got %s", expires)
	}
	svc, st, ctx, err := openService(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	switch args[0] {
	case "create":
		spec := service.KeySpec{Role: auth.Role(strings.ToUpper(role)), Description: description,
			// Normalised as the API normalises them: region codes are
			// upper case, and SQLite's LIKE would match a lower-case
			// prefix that Remit.Covers refuses.
			Remit:  auth.Remit{Jurisdiction: strings.ToUpper(strings.TrimSpace(remitJ)), RegionPrefix: strings.ToUpper(strings.TrimSpace(remitR))},
			Portal: strings.TrimSpace(portal)}
		if expires > 0 {
			spec.ExpireTime = time.Now().Add(expires)
		}
		if clientCert != "" {
			fp, err := certFingerprint(clientCert)
			if err != nil {
				return err
			}
			spec.ClientCertSHA256 = fp
		}
		for _, p := range parties {
			ref, err := parsePartyFlag(p)
			if err != nil {
				return err
			}
			spec.Parties = append(spec.Parties, ref)
		}
		k, token, err := svc.CreateKey(ctx, spec)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "created %s key %s\n%s\nThe token is shown only now: store it safely.\n", k.Role, k.Prefix, token)
		return nil
	case "list":
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PREFIX\tROLE\tSTATE\tEXPIRES\tDESCRIPTION")
		var after store.Page
		for {
			after.Limit = 500
			keys, err := svc.ListKeys(ctx, after)
			if err != nil {
				return err
			}
			for _, k := range keys {
				state, exp := "active", "never"
				switch {
				case !k.RevokeTime.IsZero():
					state = "revoked " + k.RevokeTime.Format(time.RFC3339)
				case !k.Active(time.Now()):
					state = "expired"
				}
				if !k.ExpireTime.IsZero() {
					exp = k.ExpireTime.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.Prefix, k.Role, state, exp, k.Description)
			}
			if len(keys) < after.Limit {
				break
			}
			after.AfterID = keys[len(keys)-1].ID
		}
		return tw.Flush()
	case "revoke":
		if len(rest) != 1 {
			return fmt.Errorf("usage: arrearsd keys revoke PREFIX")
		}
		k, err := svc.RevokeKey(ctx, strings.TrimPrefix(rest[0], "apiKeys/"))
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "revoked key %s at %s\n", k.Prefix, k.RevokeTime.Format(time.RFC3339))
		return nil
	}
	return fmt.Errorf("unknown keys command %q: want create, list or revoke", args[0])
}

// parsePartyFlag reads a party named on the command line.
func parsePartyFlag(s string) (service.PartyRef, error) {
	rest := strings.TrimPrefix(s, "parties/")
	if id, err := uuid.Parse(rest); err == nil && len(rest) == 36 {
		return service.PartyRef{ID: id}, nil
	}
	j, reg, ok := strings.Cut(rest, ":")
	if !ok {
		return service.PartyRef{}, fmt.Errorf("-party %q: want parties/{id} or parties/{jurisdiction}:{registration id}", s)
	}
	j = strings.ToUpper(j)
	canon, err := regid.Normalize(j, reg)
	if err != nil {
		return service.PartyRef{}, fmt.Errorf("-party %q: %v", s, err)
	}
	return service.PartyRef{Jurisdiction: j, RegistrationID: canon}, nil
}

// runAudit is `arrearsd audit verify|keygen`.
func runAudit(ctx context.Context, args []string, out io.Writer) error {
	if len(args) > 0 && args[0] == "keygen" {
		cfg, err := parseConfig("arrearsd audit keygen", args[1:])
		if err != nil {
			return err
		}
		key, created, err := loadAuditKey(cfg.AuditKeyFile, true)
		if err != nil {
			return err
		} else if !created {
			return fmt.Errorf("%s exists already: it is never overwritten", cfg.AuditKeyFile)
		}
		fmt.Fprintf(out, "created the audit signing key %s (readable only by its owner): give every replica the same file and keep it away from the database\n", cfg.AuditKeyFile)
		// The public half is no secret: whoever should check the trail
		// (a regulator) is given it, and verifies without the signing key.
		fmt.Fprintf(out, "public key: %s\n", base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey)))
		return nil
	}
	if len(args) == 0 || args[0] != "verify" {
		return usage(out, "usage: arrearsd audit verify|keygen [flags] (each with -h for its flags)", args)
	}
	var publicKey string
	cfg, err := parseConfig("arrearsd audit verify", args[1:], func(fs *flag.FlagSet) {
		fs.StringVar(&publicKey, "public-key", "", "the signing key's public half, base64 (as audit keygen prints it): verify without the signing key")
	})
	if err != nil {
		return err
	}
	// The ledger first: where there is none, that is what is wrong, not
	// the key.
	_, st, ctx, err := openService(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	var pub ed25519.PublicKey
	if publicKey != "" {
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(publicKey))
		if err != nil || len(b) != ed25519.PublicKeySize {
			return fmt.Errorf("-public-key is not a base64 Ed25519 public key")
		}
		pub = b
	} else {
		key, _, err := loadAuditKey(cfg.AuditKeyFile, false)
		if errors.Is(err, fs.ErrNotExist) {
			// Not "create it": a new key verifies none of the ledger's
			// checkpoints.
			return fmt.Errorf("audit signing key %s does not exist: name the key the servers sign with (-audit-key-file), or verify with its public half (-public-key)", cfg.AuditKeyFile)
		}
		if err != nil {
			return err
		}
		pub = key.Public().(ed25519.PublicKey)
	}
	rep, err := service.VerifyAudit(ctx, st, pub)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "audit: %d chains, %d events, %d checkpoints\n", rep.Chains, rep.Events, rep.Checkpoints)
	if len(rep.Problems) > 0 {
		for _, p := range rep.Problems {
			fmt.Fprintln(out, "PROBLEM:", p)
		}
		return fmt.Errorf("audit verification failed: %d problems", len(rep.Problems))
	}
	fmt.Fprintln(out, "audit: every chain and checkpoint verifies")
	return nil
}

// certFingerprint is the hex SHA-256 of the DER of the first certificate in
// a PEM file, as keys are bound to it.
func certFingerprint(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return "", fmt.Errorf("%s holds no PEM certificate", path)
	}
	sum := sha256.Sum256(block.Bytes)
	return hex.EncodeToString(sum[:]), nil
}

// runSummary is "arrearsd summary rebuild": recount every invoice in the
// overdue summary's aggregates, and make its escalation check due, after
// the policy data changed.
func runSummary(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 || args[0] != "rebuild" {
		return usage(out, "usage: arrearsd summary rebuild [flags] (with -h for its flags)", args)
	}
	cfg, err := parseConfig("arrearsd summary rebuild", args[1:])
	if err != nil {
		return err
	}
	svc, st, ctx, err := openService(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := svc.RebuildSummaries(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "recounted %d invoices in the summary aggregates; their escalation checks are due for the sweeper\n", n)
	return nil
}
