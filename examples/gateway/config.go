package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/keyring"
)

// envLookup resolves the ${NAME} of a config file: getenv first (the
// process's environment in main, a map in tests), then the process's.
func envLookup(getenv func(string) string) config.LookupEnv {
	return func(name string) (string, bool) {
		if v := getenv(name); v != "" {
			return v, true
		}
		return os.LookupEnv(name)
	}
}

// applyConfig applies the declarative file of -config to the gateway's store
// (package config: validated as a whole, nothing written when anything is
// invalid, only the difference written) and says what changed.
func applyConfig(ctx context.Context, o options, gw *gatehouse.Gateway, getenv func(string) string, stdout io.Writer) error {
	f, err := config.ParseFile(o.config, config.WithLookupEnv(envLookup(getenv)))
	if err != nil {
		return err
	}
	res, err := config.Apply(ctx, gw.Store(), f,
		config.WithRegistry(gw.Registry()), config.WithGatewayID(o.gatewayID), config.WithPrune(o.configPrune))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "config %s: %s\n", o.config, res)
	return nil
}

// runExport is the export command: the configuration of -store written to
// stdout as a config file (secrets left out).
func runExport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var o options
	var format string
	fs := flag.NewFlagSet("gateway export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	str := func(p *string, name, env, def, usage string) {
		if v := getenv(env); v != "" {
			def = v
		}
		fs.StringVar(p, name, def, usage+" (env "+env+")")
	}
	str(&o.store, "store", "GATEHOUSE_STORE", defaultStore, "configuration store to export: sqlite://file.db, postgres://user@host/db or memory")
	str(&o.gatewayID, "gateway-id", "GATEHOUSE_GATEWAY_ID", "default", "the gateway whose consumer groups and plugins are exported")
	str(&o.secretKeys, "secret-keys", "GATEHOUSE_SECRET_KEYS", "", "the store's secret keys (required with PostgreSQL; secrets are never exported)")
	fs.StringVar(&format, "format", "yaml", "yaml or json")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: gateway export [-store ...] [-format yaml|json] [-gateway-id id]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("export: unexpected argument %q", fs.Arg(0))
	}
	fmtOut, err := config.ParseFormat(format)
	if err != nil {
		return fmt.Errorf("export: -format: %w", err)
	}
	o.limiter = "memory"
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var ring *keyring.Ring
	if o.secretKeys != "" {
		if ring, err = keyring.Parse(o.secretKeys); err != nil {
			return fmt.Errorf("-secret-keys: %w", err)
		}
	}
	// Export reads a store; it never makes one. A SQLite database that is
	// not there is a mistake (the wrong directory): an empty file would
	// be created and exported as {}, which applied with -config-prune
	// deletes everything.
	if path, ok := sqlitePath(o.store); ok {
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("export: -store %s: no database there (%w); run export where the gateway's database is, or name it with -store", redact(o.store), err)
		}
		if _, err := os.Stat(path + keyFileSuffix); ring == nil && err != nil {
			// Secrets are never exported: keys that open none of them do,
			// and no key file is left behind.
			ring, _ = keyring.Generate()
		}
	}
	be, err := openBackends(ctx, o, ring, log)
	if err != nil {
		return err
	}
	defer be.Close()
	if ring != nil {
		be.opts = append(be.opts, gatehouse.WithKeyRing(ring))
	}
	// The gateway gives the registry whose schemes redact the credentials.
	gw, err := gatehouse.New(ctx, be.store, append(be.opts, gatehouse.WithLogger(log), gatehouse.WithGatewayID(o.gatewayID))...)
	if err != nil {
		return err
	}
	defer gw.Close()
	f, err := config.Export(ctx, be.store, config.WithRegistry(gw.Registry()), config.WithGatewayID(o.gatewayID))
	if err != nil {
		return err
	}
	out, err := config.Marshal(f, fmtOut)
	if err != nil {
		return err
	}
	_, err = stdout.Write(out)
	return err
}
