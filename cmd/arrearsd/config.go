package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// config is everything arrearsd reads at start. Each field has a flag and an
// environment variable (the flag wins); defaults give a working server on
// the embedded store with no configuration at all.
type config struct {
	GRPCAddr        string
	HTTPAddr        string
	DatabaseURL     string // secret: never logged
	DataDir         string
	LogLevel        slog.Level
	LogFormat       string
	MaxRequestBytes int
	ShutdownTimeout time.Duration
}

// SQLitePath is where the embedded store lives.
func (c config) SQLitePath() string { return filepath.Join(c.DataDir, "arrears.db") }

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

// parseConfig reads flags after the subcommand, with environment defaults.
func parseConfig(name string, args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.StringVar(&c.GRPCAddr, "grpc-addr", env("ARREARS_GRPC_ADDR", ":9090"), "gRPC listen address (ARREARS_GRPC_ADDR)")
	fs.StringVar(&c.HTTPAddr, "http-addr", env("ARREARS_HTTP_ADDR", ":8080"), "REST/HTTP listen address (ARREARS_HTTP_ADDR)")
	fs.StringVar(&c.DatabaseURL, "database-url", env("ARREARS_DATABASE_URL", ""), "PostgreSQL URL; empty for the embedded SQLite store (ARREARS_DATABASE_URL)")
	fs.StringVar(&c.DataDir, "data-dir", env("ARREARS_DATA_DIR", "data"), "directory of the embedded store (ARREARS_DATA_DIR)")
	level := fs.String("log-level", env("ARREARS_LOG_LEVEL", "info"), "debug, info, warn or error (ARREARS_LOG_LEVEL)")
	fs.StringVar(&c.LogFormat, "log-format", env("ARREARS_LOG_FORMAT", "json"), "json or text (ARREARS_LOG_FORMAT)")
	maxBytes := fs.String("max-request-bytes", env("ARREARS_MAX_REQUEST_BYTES", strconv.Itoa(4<<20)), "largest request message or body (ARREARS_MAX_REQUEST_BYTES)")
	shutdown := fs.String("shutdown-timeout", env("ARREARS_SHUTDOWN_TIMEOUT", "20s"), "graceful stop limit (ARREARS_SHUTDOWN_TIMEOUT)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if err := c.LogLevel.UnmarshalText([]byte(*level)); err != nil {
		return c, fmt.Errorf("-log-level: %w", err)
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		return c, fmt.Errorf("-log-format must be json or text, got %q", c.LogFormat)
	}
	n, err := strconv.Atoi(*maxBytes)
	if err != nil || n < 1024 {
		return c, fmt.Errorf("-max-request-bytes must be an integer of at least 1024, got %q", *maxBytes)
	}
	c.MaxRequestBytes = n
	if c.ShutdownTimeout, err = time.ParseDuration(*shutdown); err != nil {
		return c, fmt.Errorf("-shutdown-timeout: %w", err)
	}
	return c, nil
}

func (c config) logger() *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, opts))
}
