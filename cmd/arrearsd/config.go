package main

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/arrears/arrears/internal/policy"
)

// config is everything arrearsd reads at start. Each field has a flag and an
// environment variable (the flag wins); defaults give a working server on
// the embedded store with no configuration at all.
type config struct {
	GRPCAddr        string
	HTTPAddr        string
	DatabaseURL     string        // secret: never logged
	DatabaseWait    time.Duration // how long to wait for a PostgreSQL server not up yet; 0: not at all
	DataDir         string
	LogLevel        slog.Level
	LogFormat       string
	MaxRequestBytes int
	ShutdownTimeout time.Duration
	CallTimeout     time.Duration // bounds each unary call; 0: unbounded
	SyncIdleTimeout time.Duration // ends a sync stream whose client fell silent
	SyncRetention   time.Duration // drops sync sessions idle this long; 0 keeps them
	RateLimit       float64       // calls per second per key; 0 disables
	RateBurst       int
	AdminKeyFile    string // where the first admin key is written
	AuditKeyFile    string // Ed25519 signing key of audit checkpoints; keep it outside the database
	CreateAuditKey  bool   // create the signing key if missing (default only for the embedded store)
	// AuditKeyAsked says -create-audit-key was given: only then is a key
	// created for a ledger that already holds checkpoints signed by another.
	AuditKeyAsked   bool
	CheckpointEvery time.Duration // how often to sign a checkpoint
	TLSCertFile     string        // serve TLS on both ports with this certificate
	TLSKeyFile      string
	TLSClientCAFile string        // verify client certificates signed by this CA (mutual TLS)
	PolicyDir       string        // replaces or adds policies, rate tables and calendars
	PolicyFile      string        // a deployment's custom policies
	SweepEvery      time.Duration // how often the escalation sweeper runs
	Demo            bool          // load the demo ledger when the ledger is empty
	DebugAddr       string        // serves net/http/pprof; empty (the default) for none
	MetricsAddr     string        // serves /metrics for Prometheus; empty (the default) for none
}

// SQLitePath is where the embedded store lives.
func (c config) SQLitePath() string { return filepath.Join(c.DataDir, "arrears.db") }

// demoFromEnv reads ARREARS_DEMO: 1 or true turns the demo on.
func demoFromEnv() bool {
	switch strings.ToLower(os.Getenv("ARREARS_DEMO")) {
	case "1", "true", "yes":
		return true
	}
	return false
}

// env is a variable's value, or def when it is unset or empty: a templated
// environment file that leaves one blank means "the default", not an
// empty address (a random port on every interface) or an empty data
// directory (a new ledger in the working directory).
func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// envNamed reads the variable a flag's usage names, "(ARREARS_...)".
var envNamed = regexp.MustCompile(`\((ARREARS_[A-Z_]+)`)

// fromEnvironment names the environment variable a refused value came
// from: an error about "-rate-limit" when the flag was not given but
// ARREARS_RATE_LIMIT was set sends the operator to the wrong place.
func fromEnvironment(fs *flag.FlagSet, err error) error {
	if err == nil || !strings.HasPrefix(err.Error(), "-") {
		return err
	}
	name, _, _ := strings.Cut(err.Error()[1:], " ")
	f := fs.Lookup(name)
	if f == nil {
		return err
	}
	if m := envNamed.FindStringSubmatch(f.Usage); m != nil && !flagGiven(fs, name) && os.Getenv(m[1]) != "" {
		return fmt.Errorf("%w (the value of %s)", err, m[1])
	}
	return err
}

// commandsUsage lists the operator commands beside the server, which take
// the server's flags (to find the ledger) and their own.
const commandsUsage = `
Serves the ledger over gRPC and REST; or runs an operator command on the
ledger its flags name:
  arrearsd migrate                   apply the schema migrations a new version brings
  arrearsd keys create|list|revoke   manage API keys
  arrearsd audit verify|keygen       verify the audit trail; create the checkpoint signing key
  arrearsd summary rebuild           recount the overdue summary's aggregates
`

// parseConfig reads flags after the subcommand, with environment defaults;
// extra adds a subcommand's own flags. Positional arguments are refused.
func parseConfig(name string, args []string, extra ...func(*flag.FlagSet)) (config, error) {
	c, rest, err := parseConfigArgs(name, args, extra...)
	if err == nil && len(rest) > 0 {
		err = fmt.Errorf("unexpected arguments: %v", rest)
	}
	return c, err
}

// parseConfigArgs is parseConfig that returns the positional arguments.
func parseConfigArgs(name string, args []string, extra ...func(*flag.FlagSet)) (_ config, _ []string, err error) {
	var c config
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	defer func() { err = fromEnvironment(fs, err) }()
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s [flags]\n", name)
		if name == "arrearsd" {
			fmt.Fprint(fs.Output(), commandsUsage)
		}
		fmt.Fprintln(fs.Output(), "\nFlags (each also read from the environment variable it names):")
		fs.PrintDefaults()
	}
	for _, f := range extra {
		f(fs)
	}
	fs.StringVar(&c.GRPCAddr, "grpc-addr", env("ARREARS_GRPC_ADDR", ":9090"), "gRPC listen address (ARREARS_GRPC_ADDR)")
	fs.StringVar(&c.HTTPAddr, "http-addr", env("ARREARS_HTTP_ADDR", ":8080"), "REST/HTTP listen address (ARREARS_HTTP_ADDR)")
	// No default from the environment: flag usage prints defaults, and a
	// URL carries its password. The variable is read after parsing.
	fs.StringVar(&c.DatabaseURL, "database-url", "", "PostgreSQL URL; empty for the embedded SQLite store (ARREARS_DATABASE_URL)")
	dbWait := fs.String("database-wait", env("ARREARS_DATABASE_WAIT", "1m"), "how long to keep trying a PostgreSQL server that is not up yet (refusing connections, starting up) before giving up; 0 tries once (ARREARS_DATABASE_WAIT)")
	fs.StringVar(&c.DataDir, "data-dir", env("ARREARS_DATA_DIR", "data"), "directory of the embedded store (ARREARS_DATA_DIR)")
	level := fs.String("log-level", env("ARREARS_LOG_LEVEL", "info"), "debug, info, warn or error (ARREARS_LOG_LEVEL)")
	fs.StringVar(&c.LogFormat, "log-format", env("ARREARS_LOG_FORMAT", "json"), "json or text (ARREARS_LOG_FORMAT)")
	maxBytes := fs.String("max-request-bytes", env("ARREARS_MAX_REQUEST_BYTES", strconv.Itoa(4<<20)), "largest request message or body (ARREARS_MAX_REQUEST_BYTES)")
	shutdown := fs.String("shutdown-timeout", env("ARREARS_SHUTDOWN_TIMEOUT", "20s"), "graceful stop limit (ARREARS_SHUTDOWN_TIMEOUT)")
	callTimeout := fs.String("call-timeout", env("ARREARS_CALL_TIMEOUT", "2m"), "longest a unary call, REST ones included, may run; a client's shorter deadline stands; 0 leaves calls unbounded (ARREARS_CALL_TIMEOUT)")
	syncIdle := fs.String("sync-idle-timeout", env("ARREARS_SYNC_IDLE_TIMEOUT", "10m"), "how long a sync stream waits for a silent client with nothing in flight, or for its client to read an answer, before it is closed (ARREARS_SYNC_IDLE_TIMEOUT)")
	syncRetention := fs.String("sync-session-retention", env("ARREARS_SYNC_SESSION_RETENTION", "2160h"), "drop sync sessions, and the rejections they keep, that have not moved for this long (90 days; at least 24h); 0 keeps them (ARREARS_SYNC_SESSION_RETENTION)")
	rateLimit := fs.String("rate-limit", env("ARREARS_RATE_LIMIT", "50"), "calls per second per API key, per replica; 0 disables (ARREARS_RATE_LIMIT)")
	rateBurst := fs.String("rate-burst", env("ARREARS_RATE_BURST", "100"), "burst size of the per-key rate limit (ARREARS_RATE_BURST)")
	fs.StringVar(&c.AdminKeyFile, "admin-key-file", env("ARREARS_ADMIN_KEY_FILE", ""), "where the first admin key is written; default <data-dir>/admin.key (ARREARS_ADMIN_KEY_FILE)")
	fs.StringVar(&c.AuditKeyFile, "audit-key-file", env("ARREARS_AUDIT_KEY_FILE", ""), "Ed25519 key that signs audit checkpoints (created if missing as -create-audit-key says); default <data-dir>/audit-signing.key (ARREARS_AUDIT_KEY_FILE)")
	fs.StringVar(&c.TLSCertFile, "tls-cert", env("ARREARS_TLS_CERT", ""), "PEM certificate: serve TLS on both ports (ARREARS_TLS_CERT)")
	fs.StringVar(&c.TLSKeyFile, "tls-key", env("ARREARS_TLS_KEY", ""), "PEM private key of -tls-cert (ARREARS_TLS_KEY)")
	fs.StringVar(&c.TLSClientCAFile, "tls-client-ca", env("ARREARS_TLS_CLIENT_CA", ""), "PEM CA bundle: verify client certificates for mutual TLS (ARREARS_TLS_CLIENT_CA)")
	fs.StringVar(&c.PolicyDir, "policy-dir", env("ARREARS_POLICY_DIR", ""), "directory of policies/*.json, rates/*.csv, calendars/*.json laid over the embedded data: a rate table or calendar replaces the one of its name, a policy the one of its id and version, anything else is added (ARREARS_POLICY_DIR)")
	fs.StringVar(&c.PolicyFile, "policy-file", env("ARREARS_POLICY_FILE", ""), "JSON file of custom payment policies (ARREARS_POLICY_FILE)")
	sweep := fs.String("sweep-interval", env("ARREARS_SWEEP_INTERVAL", "1m"), "how often escalations are swept (ARREARS_SWEEP_INTERVAL)")
	fs.BoolVar(&c.Demo, "demo", demoFromEnv(), "add the demo ledger's parties and invoices not already there (ARREARS_DEMO=1)")
	createKey := fs.String("create-audit-key", env("ARREARS_CREATE_AUDIT_KEY", ""), "create the audit signing key if missing: true or false; default true on the embedded store, false on PostgreSQL, where every replica must be given the same key (ARREARS_CREATE_AUDIT_KEY)")
	fs.StringVar(&c.DebugAddr, "debug-addr", env("ARREARS_DEBUG_ADDR", ""), "serve Go's profiler (/debug/pprof/) on this address, e.g. 127.0.0.1:6060; keep it off public networks (ARREARS_DEBUG_ADDR)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", env("ARREARS_METRICS_ADDR", ""), "serve metrics for Prometheus (/metrics) on this address, e.g. 127.0.0.1:9464 (ARREARS_METRICS_ADDR)")
	checkpoint := fs.String("checkpoint-interval", env("ARREARS_CHECKPOINT_INTERVAL", "5m"), "how often to sign an audit checkpoint (ARREARS_CHECKPOINT_INTERVAL)")
	if err := fs.Parse(args); err != nil {
		return c, nil, err
	}
	if !flagGiven(fs, "database-url") {
		c.DatabaseURL = os.Getenv("ARREARS_DATABASE_URL")
	}
	// Addresses are checked here, before the server warns about them
	// (serving without TLS where others can reach) and then fails to
	// listen on what is no address.
	for _, a := range []struct{ flag, addr string }{{"grpc-addr", c.GRPCAddr}, {"http-addr", c.HTTPAddr}, {"debug-addr", c.DebugAddr}, {"metrics-addr", c.MetricsAddr}} {
		if _, _, err := net.SplitHostPort(a.addr); a.addr != "" && err != nil {
			return c, nil, fmt.Errorf("-%s %q is not host:port (e.g. 127.0.0.1:9090, or :9090 for every interface)", a.flag, a.addr)
		}
	}
	var perr error
	if c.RateLimit, perr = strconv.ParseFloat(*rateLimit, 64); perr != nil || !(c.RateLimit >= 0) || math.IsInf(c.RateLimit, 0) {
		return c, nil, fmt.Errorf("-rate-limit must be a non-negative number, got %q", *rateLimit)
	}
	if c.RateBurst, perr = strconv.Atoi(*rateBurst); perr != nil || c.RateBurst < 1 {
		return c, nil, fmt.Errorf("-rate-burst must be a positive integer, got %q", *rateBurst)
	}
	if c.SweepEvery, perr = time.ParseDuration(*sweep); perr != nil || c.SweepEvery <= 0 {
		return c, nil, fmt.Errorf("-sweep-interval must be a positive duration, got %q", *sweep)
	}
	if c.CallTimeout, perr = time.ParseDuration(*callTimeout); perr != nil || c.CallTimeout < 0 {
		return c, nil, fmt.Errorf("-call-timeout must be a duration, 0 or more, got %q", *callTimeout)
	}
	if c.DatabaseWait, perr = time.ParseDuration(*dbWait); perr != nil || c.DatabaseWait < 0 {
		return c, nil, fmt.Errorf("-database-wait must be a duration, 0 or more, got %q", *dbWait)
	}
	if c.SyncIdleTimeout, perr = time.ParseDuration(*syncIdle); perr != nil || c.SyncIdleTimeout <= 0 {
		return c, nil, fmt.Errorf("-sync-idle-timeout must be a positive duration, got %q", *syncIdle)
	}
	// A day at least: a session is kept far longer than a stream may sit
	// idle, so no running sync loses its place between chunks.
	if c.SyncRetention, perr = time.ParseDuration(*syncRetention); perr != nil || c.SyncRetention < 0 || (c.SyncRetention > 0 && c.SyncRetention < 24*time.Hour) {
		return c, nil, fmt.Errorf("-sync-session-retention must be 0 (keep) or a duration of at least 24h, got %q", *syncRetention)
	}
	if c.CheckpointEvery, perr = time.ParseDuration(*checkpoint); perr != nil || c.CheckpointEvery <= 0 {
		return c, nil, fmt.Errorf("-checkpoint-interval must be a positive duration, got %q", *checkpoint)
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return c, nil, fmt.Errorf("-tls-cert and -tls-key go together")
	}
	if c.TLSClientCAFile != "" && c.TLSCertFile == "" {
		return c, nil, fmt.Errorf("-tls-client-ca needs -tls-cert and -tls-key")
	}
	switch *createKey {
	case "":
		c.CreateAuditKey = c.DatabaseURL == ""
	case "true", "false":
		c.CreateAuditKey, c.AuditKeyAsked = *createKey == "true", true
	default:
		return c, nil, fmt.Errorf("-create-audit-key must be true or false, got %q", *createKey)
	}
	if c.AdminKeyFile == "" {
		c.AdminKeyFile = filepath.Join(c.DataDir, "admin.key")
	}
	if c.AuditKeyFile == "" {
		c.AuditKeyFile = filepath.Join(c.DataDir, "audit-signing.key")
	}
	if err := c.LogLevel.UnmarshalText([]byte(*level)); err != nil {
		return c, nil, fmt.Errorf("-log-level: %w", err)
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		return c, nil, fmt.Errorf("-log-format must be json or text, got %q", c.LogFormat)
	}
	n, err := strconv.Atoi(*maxBytes)
	if err != nil || n < 1024 {
		return c, nil, fmt.Errorf("-max-request-bytes must be an integer of at least 1024, got %q", *maxBytes)
	}
	c.MaxRequestBytes = n
	if c.ShutdownTimeout, err = time.ParseDuration(*shutdown); err != nil || c.ShutdownTimeout <= 0 {
		return c, nil, fmt.Errorf("-shutdown-timeout must be a positive duration, got %q", *shutdown)
	}
	return c, fs.Args(), nil
}

func (c config) logger() *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, opts))
}

// tlsConfig builds the server's TLS configuration, or nil when TLS is off.
// Client certificates are verified when presented, not demanded: keys bound
// to a certificate require one, other keys work without.
func (c config) tlsConfig() (*tls.Config, error) {
	if c.TLSCertFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate: %w", err)
	}
	conf := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if c.TLSClientCAFile != "" {
		pem, err := os.ReadFile(c.TLSClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("read client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("client CA %s holds no PEM certificate", c.TLSClientCAFile)
		}
		conf.ClientCAs, conf.ClientAuth = pool, tls.VerifyClientCertIfGiven
	}
	return conf, nil
}

// policies loads the embedded payment policies and the deployment's
// replacements and additions.
func (c config) policies() (*policy.Registry, error) {
	reg, err := policy.Embedded()
	if err != nil {
		return nil, fmt.Errorf("load embedded policies: %w", err)
	}
	if c.PolicyDir != "" {
		if err := reg.Override(c.PolicyDir); err != nil {
			return nil, fmt.Errorf("-policy-dir: %w", err)
		}
	}
	if c.PolicyFile != "" {
		if err := reg.AddPolicyFile(c.PolicyFile); err != nil {
			return nil, fmt.Errorf("-policy-file: %w", err)
		}
	}
	return reg, nil
}

// flagGiven reports whether the command line set the flag (to anything,
// empty included: -database-url "" chooses the embedded store whatever the
// environment says).
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}
