// Command gateway is the reference Gatehouse gateway: the library assembled
// into a complete API gateway with a data plane and an admin API.
//
//	go run ./examples/gateway [-listen 127.0.0.1:8000] [-admin-listen 127.0.0.1:8080] [-admin-key KEY] ...
//
// Every flag can also be set by an environment variable (see -h).
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/admin"
	"github.com/gatehousehq/gatehouse/clientip"
	"github.com/gatehousehq/gatehouse/keyring"
	"github.com/gatehousehq/gatehouse/store"
	"github.com/gatehousehq/gatehouse/store/memory"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

// options are the gateway's settings, from flags or their environment variables.
type options struct {
	listen, adminListen, adminKey, gatewayID, store, limiter, config, secretKeys, trustedProxies string
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.SetOutput(stderr)
	str := func(p *string, name, env, def, usage string) {
		if v := getenv(env); v != "" {
			def = v
		}
		fs.StringVar(p, name, def, usage+" (env "+env+")")
	}
	str(&o.listen, "listen", "GATEHOUSE_LISTEN", "127.0.0.1:8000", "data plane address")
	str(&o.adminListen, "admin-listen", "GATEHOUSE_ADMIN_LISTEN", "127.0.0.1:8080", "admin API address")
	str(&o.adminKey, "admin-key", "GATEHOUSE_ADMIN_KEY", "", "admin API key; a random one is generated and printed when empty")
	str(&o.gatewayID, "gateway-id", "GATEHOUSE_GATEWAY_ID", "default", "the gateway this data plane serves")
	str(&o.store, "store", "GATEHOUSE_STORE", "memory", "configuration store: memory")
	str(&o.limiter, "limiter", "GATEHOUSE_LIMITER", "memory", "rate limiter: memory")
	str(&o.config, "config", "GATEHOUSE_CONFIG", "", "declarative file (YAML or JSON) applied at start")
	str(&o.trustedProxies, "trusted-proxies", "GATEHOUSE_TRUSTED_PROXIES", "", "proxies whose X-Forwarded-For is believed for client addresses (per-IP limits): CIDRs or addresses, comma-separated; none when empty")
	str(&o.secretKeys, "secret-keys", "GATEHOUSE_SECRET_KEYS", "", "keys that encrypt credential secrets at rest: id:base64key[,id:base64key...], the first seals; random per process when empty")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return o, nil
}

func openStore(spec string) (store.Store, error) {
	switch {
	case spec == "memory":
		return memory.New(), nil
	case strings.HasPrefix(spec, "sqlite:"), strings.HasPrefix(spec, "postgres:"), strings.HasPrefix(spec, "postgresql:"):
		return nil, fmt.Errorf("-store %q: this build supports only the memory store", redact(spec))
	default:
		return nil, fmt.Errorf("-store %q: want memory, sqlite:///path/file.db or postgres://user@host/db", redact(spec))
	}
}

// redact hides every password in a store or limiter address before it is
// printed: the user-info password of a URL, password-like query parameters,
// and password=... in a key=value connection string.
func redact(spec string) string {
	if u, err := url.Parse(spec); err == nil && u.Scheme != "" && u.Opaque == "" {
		q := u.Query()
		for k := range q {
			if secretParam(k) {
				q.Set(k, "xxxxx")
			}
		}
		if len(q) > 0 {
			u.RawQuery = q.Encode()
		}
		return u.Redacted()
	}
	fields := strings.Fields(spec)
	for i, f := range fields {
		if k, _, ok := strings.Cut(f, "="); ok && secretParam(k) {
			fields[i] = k + "=xxxxx"
		}
	}
	return strings.Join(fields, " ")
}

func secretParam(k string) bool {
	k = strings.ToLower(k)
	return strings.Contains(k, "password") || strings.Contains(k, "passwd") || k == "pass" || strings.Contains(k, "secret") || strings.Contains(k, "token")
}

// run starts the gateway and serves until ctx is done.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, getenv, stderr)
	if err != nil {
		return err
	}
	if o.limiter != "memory" {
		return fmt.Errorf("-limiter %q: this build supports only the memory limiter", redact(o.limiter))
	}
	st, err := openStore(o.store)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	gwOpts := []gatehouse.Option{gatehouse.WithLogger(log), gatehouse.WithGatewayID(o.gatewayID)}
	if o.trustedProxies != "" {
		var proxies []string
		for _, p := range strings.Split(o.trustedProxies, ",") {
			if p = strings.TrimSpace(p); p != "" {
				proxies = append(proxies, p)
			}
		}
		if _, err := clientip.New(proxies...); err != nil {
			return fmt.Errorf("-trusted-proxies: %w", err)
		}
		gwOpts = append(gwOpts, gatehouse.WithTrustedProxies(proxies...))
	}
	if o.secretKeys != "" {
		ring, err := keyring.Parse(o.secretKeys)
		if err != nil {
			return fmt.Errorf("-secret-keys: %w", err)
		}
		gwOpts = append(gwOpts, gatehouse.WithKeyRing(ring))
	}
	gw, err := gatehouse.New(ctx, st, gwOpts...)
	if err != nil {
		return err
	}
	defer gw.Close()

	generated := o.adminKey == ""
	if generated {
		var b [24]byte
		_, _ = rand.Read(b[:])
		o.adminKey = base64.RawURLEncoding.EncodeToString(b[:])
	}
	adminHandler := gw.AdminHandler(admin.WithKey(o.adminKey))
	if o.config != "" {
		if err := applyConfig(ctx, o.config, adminHandler, o.adminKey, o.gatewayID); err != nil {
			return fmt.Errorf("-config %s: %w", o.config, err)
		}
		// Serve the file's routes and keys from the first request on.
		if err := gw.Refresh(ctx); err != nil {
			return err
		}
	}

	dataLn, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("-listen: %w", err)
	}
	adminLn, err := net.Listen("tcp", o.adminListen)
	if err != nil {
		dataLn.Close()
		return fmt.Errorf("-admin-listen: %w", err)
	}
	servers := []*http.Server{newServer(gw.Router(), log), newServer(adminHandler, log)}
	errc := make(chan error, 2)
	go func() { errc <- servers[0].Serve(dataLn) }()
	go func() { errc <- servers[1].Serve(adminLn) }()

	if generated {
		fmt.Fprintf(stdout, "admin key (generated, shown once): %s\n", o.adminKey)
	}
	fmt.Fprintf(stdout, "gateway %q, store %s, limiter %s\n", o.gatewayID, redact(o.store), o.limiter)
	fmt.Fprintf(stdout, "data plane listening on %s\n", dataLn.Addr())
	fmt.Fprintf(stdout, "admin API listening on %s\n", adminLn.Addr())

	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(shutdownCtx)
	}
	fmt.Fprintln(stdout, "gateway stopped")
	return nil
}

func newServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}
