// Command gateway is the reference Gatehouse gateway: the library assembled
// into a complete API gateway with a data plane and an admin API.
//
//	go run ./examples/gateway [-listen 127.0.0.1:8000] [-admin-listen 127.0.0.1:8080] [-admin-key KEY] ...
//	go run ./examples/gateway export [-store sqlite://gatehouse.db] [-format yaml|json] > gatehouse.yaml
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
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/admin"
	"github.com/gatehousehq/gatehouse/clientip"
	"github.com/gatehousehq/gatehouse/keyring"
	ghprom "github.com/gatehousehq/gatehouse/metrics/prometheus"
	"github.com/gatehousehq/gatehouse/store"
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
	// configPrune makes -config delete what the file no longer names;
	// console serves the admin console at /ui/ on the admin listener.
	configPrune, console bool
	// metricsListen is where /metrics is served ("" : nowhere); logLevel
	// the level of the log on stderr.
	metricsListen, logLevel string
	// server holds the timeouts and limits of both servers.
	server serverLimits
	// shutdownTimeout bounds the graceful shutdown; then the remaining
	// connections are closed.
	shutdownTimeout time.Duration
	// upstreamDial and upstreamResponseHeader bound connecting to a backend
	// and waiting for its response headers.
	upstreamDial, upstreamResponseHeader time.Duration
	// readyMaxStoreOutage is how long the store may be unreachable before
	// /readyz answers 503 (0: never for the store); storeCheckInterval how
	// often the gateway checks that the store answers.
	readyMaxStoreOutage, storeCheckInterval time.Duration
	// wrapStore, when set, wraps the store the gateway reads: for tests
	// (a store that is slow to load); no flag sets it.
	wrapStore func(store.Store) store.Store
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: gateway [flags]\n       gateway export [-store ...] [-format yaml|json] [-gateway-id id]   (gateway export -h)")
		fs.PrintDefaults()
	}
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
	str(&o.store, "store", "GATEHOUSE_STORE", defaultStore, "configuration store: sqlite://file.db (embedded, persistent), postgres://user@host/db (shared by many instances) or memory")
	str(&o.limiter, "limiter", "GATEHOUSE_LIMITER", "memory", "rate limiter: memory, or redis://host:6379/0 (shared by many instances: limits, API-key quotas, hmac-auth replay protection)")
	str(&o.config, "config", "GATEHOUSE_CONFIG", "", "declarative file (YAML or JSON) applied at start: only what differs from the store is written (docs/config.md)")
	prune := getenv("GATEHOUSE_CONFIG_PRUNE")
	fs.BoolVar(&o.configPrune, "config-prune", prune == "true" || prune == "1",
		"with -config: delete the consumers, credentials, routes, groups and consumer groups the file does not name (env GATEHOUSE_CONFIG_PRUNE=true)")
	consoleEnv := getenv("GATEHOUSE_ADMIN_CONSOLE")
	fs.BoolVar(&o.console, "admin-console", consoleEnv == "true" || consoleEnv == "1",
		"serve the admin console, a web page for the admin API, at /ui/ on the admin listener (docs/console.md); off by default (env GATEHOUSE_ADMIN_CONSOLE=true)")
	str(&o.trustedProxies, "trusted-proxies", "GATEHOUSE_TRUSTED_PROXIES", "", "proxies whose X-Forwarded-For is believed for client addresses (per-IP limits): CIDRs or addresses, comma-separated; none when empty")
	str(&o.metricsListen, "metrics-listen", "GATEHOUSE_METRICS_LISTEN", "", "address serving Prometheus metrics at /metrics (requests by route, consumer group and outcome; auth latency; limiter errors), apart from the admin API; none when empty")
	str(&o.logLevel, "log-level", "GATEHOUSE_LOG_LEVEL", "info", "log level: debug (adds one line per refused request, and each scheme's reason), info, warn or error")
	str(&o.secretKeys, "secret-keys", "GATEHOUSE_SECRET_KEYS", "", "keys that encrypt credential secrets at rest: id:base64key[,id:base64key...], the first seals; when empty: a key file beside a SQLite database (created once, mode 0600), random per process with -store memory, required with PostgreSQL")

	// Numbers: an environment value that does not parse is reported unless
	// the flag itself is given; negative values are refused.
	envOf, envErrs := map[string]string{}, map[string]error{}
	num := func(name, env, v string, parse func(string) error) {
		envOf[name] = env
		if v != "" {
			if err := parse(v); err != nil {
				envErrs[name] = fmt.Errorf("-%s: %s=%q: %w", name, env, v, err)
			}
		}
	}
	dur := func(p *time.Duration, name, env string, def time.Duration, usage string) {
		num(name, env, getenv(env), func(v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return errors.New("not a duration (such as 30s or 2m)")
			}
			def = d
			return nil
		})
		fs.DurationVar(p, name, def, usage+" (env "+env+")")
	}
	dur(&o.server.readHeader, "read-header-timeout", "GATEHOUSE_READ_HEADER_TIMEOUT", 10*time.Second, "longest a client may take to send a request's headers; 0: no limit")
	dur(&o.server.bodyIdle, "body-idle-timeout", "GATEHOUSE_BODY_IDLE_TIMEOUT", 60*time.Second, "longest a request body may stall between two reads (an upload may take longer in all); 0: no limit")
	dur(&o.server.write, "write-timeout", "GATEHOUSE_WRITE_TIMEOUT", 0, "longest a whole response may take to write, streams included; 0 (the default): no limit")
	dur(&o.server.writeStall, "write-stall-timeout", "GATEHOUSE_WRITE_STALL_TIMEOUT", 60*time.Second, "longest one write of a response may stay blocked on a client that does not read (time between writes does not count); 0: no limit")
	dur(&o.server.idle, "idle-timeout", "GATEHOUSE_IDLE_TIMEOUT", 120*time.Second, "longest a keep-alive connection waits for its next request; 0: no limit")
	dur(&o.shutdownTimeout, "shutdown-timeout", "GATEHOUSE_SHUTDOWN_TIMEOUT", 10*time.Second, "longest the graceful shutdown waits for requests in flight before closing their connections; 0: close them at once")
	dur(&o.upstreamDial, "upstream-dial-timeout", "GATEHOUSE_UPSTREAM_DIAL_TIMEOUT", gatehouse.DefaultUpstreamDialTimeout, "longest connecting to a backend may take (then 504); 0: the system's")
	dur(&o.upstreamResponseHeader, "upstream-response-header-timeout", "GATEHOUSE_UPSTREAM_RESPONSE_HEADER_TIMEOUT", gatehouse.DefaultUpstreamResponseHeaderTimeout, "longest a backend may take to send its response headers once it has the request (then 504); 0: no limit")
	dur(&o.readyMaxStoreOutage, "ready-max-store-outage", "GATEHOUSE_READY_MAX_STORE_OUTAGE", 30*time.Second, "longest the store may be unreachable before "+readyzPath+" answers 503 (the last good view keeps serving meanwhile); 0: a store outage never makes the gateway unready")
	dur(&o.storeCheckInterval, "store-check-interval", "GATEHOUSE_STORE_CHECK_INTERVAL", gatehouse.DefaultStoreCheckInterval, "how often the gateway checks that the store answers, between changes, so that an outage is noticed; 0: no checks (an outage is then noticed only when a change cannot be applied)")
	maxHeader := defaultMaxHeaderBytes
	num("max-header-bytes", "GATEHOUSE_MAX_HEADER_BYTES", getenv("GATEHOUSE_MAX_HEADER_BYTES"), func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return errors.New("not a number of bytes")
		}
		maxHeader = n
		return nil
	})
	fs.IntVar(&o.server.maxHeaderBytes, "max-header-bytes", maxHeader, "largest request header block, request line included, in bytes; larger ones get 431 (env GATEHOUSE_MAX_HEADER_BYTES)")

	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if _, err := parseLevel(o.logLevel); err != nil {
		return o, err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var firstErr error
	fs.VisitAll(func(f *flag.Flag) { // in name order, so that the reason is stable
		env, ok := envOf[f.Name]
		if !ok || firstErr != nil {
			return
		}
		if err := envErrs[f.Name]; err != nil && !given[f.Name] {
			firstErr = err
			return
		}
		var bad string
		switch v := f.Value.(flag.Getter).Get().(type) {
		case time.Duration:
			if v < 0 {
				bad = "must not be negative"
			}
		case int:
			if v <= 0 { // 0 would mean net/http's default, 1 MiB
				bad = "want a positive number of bytes"
			}
		}
		if bad != "" {
			from := ""
			if !given[f.Name] {
				from = " (from " + env + ")"
			}
			firstErr = fmt.Errorf("-%s %s%s: %s", f.Name, f.Value, from, bad)
		}
	})
	if firstErr != nil {
		return o, firstErr
	}
	return o, nil
}

// parseLevel reads -log-level.
func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("-log-level %q: want debug, info, warn or error", s)
}

// defaultMaxHeaderBytes is the default -max-header-bytes: 64 KiB.
const defaultMaxHeaderBytes = 64 << 10

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

// run starts the gateway and serves until ctx is done; "export" as the first
// argument writes the store's configuration to stdout instead (runExport).
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "export" {
		return runExport(ctx, args[1:], getenv, stdout, stderr)
	}
	o, err := parseFlags(args, getenv, stderr)
	if err != nil {
		return err
	}
	return serve(ctx, o, getenv, stdout, stderr)
}

// serve starts the gateway o describes and serves until ctx is done. Both
// listeners open first, so that the probes answer while the store opens and
// the configuration loads (a large one takes a while): until then the admin
// listener answers /healthz 200 and /readyz 503, and every other request
// there and on the data plane 503. The listening lines are printed once the
// gateway is ready. getenv resolves the -config file's ${NAME}s.
func serve(ctx context.Context, o options, getenv func(string) string, stdout, stderr io.Writer) (err error) {
	level, _ := parseLevel(o.logLevel) // checked by parseFlags
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	gwOpts := []gatehouse.Option{gatehouse.WithLogger(log), gatehouse.WithGatewayID(o.gatewayID),
		gatehouse.WithStoreCheckInterval(o.storeCheckInterval)}
	var metricsHandler http.Handler
	if o.metricsListen != "" {
		reg := prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		m, err := ghprom.New(reg, ghprom.WithConstLabels(prometheus.Labels{"gateway": o.gatewayID}))
		if err != nil {
			return err
		}
		gwOpts = append(gwOpts, gatehouse.WithObserver(m))
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelError)}))
		metricsHandler = mux
	}
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
	var ring *keyring.Ring
	if o.secretKeys != "" {
		if ring, err = keyring.Parse(o.secretKeys); err != nil {
			return fmt.Errorf("-secret-keys: %w", err)
		}
		gwOpts = append(gwOpts, gatehouse.WithKeyRing(ring))
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
	// loaded is the gateway once its configuration is loaded and the
	// -config file applied: the probes' state.
	var loaded atomic.Pointer[gatehouse.Gateway]
	dataHandler, adminHandler := &swapHandler{starting: startingData}, &swapHandler{starting: startingAdmin}
	ready := func() error { return loaded.Load().Ready(o.readyMaxStoreOutage) }
	var metricsLn net.Listener
	if metricsHandler != nil {
		if metricsLn, err = net.Listen("tcp", o.metricsListen); err != nil {
			dataLn.Close()
			adminLn.Close()
			return fmt.Errorf("-metrics-listen: %w", err)
		}
	}
	servers := []*http.Server{newServer(dataHandler, log, o.server), newServer(withProbes(adminHandler, ready), log, o.server)}
	listeners := []net.Listener{dataLn, adminLn}
	if metricsLn != nil {
		servers = append(servers, newServer(metricsHandler, log, o.server))
		listeners = append(listeners, metricsLn)
	}
	errc := make(chan error, len(servers))
	for i, s := range servers {
		go func() { errc <- s.Serve(listeners[i]) }()
	}
	defer func() {
		if err != nil { // a failed start: nothing was served but probes and 503s
			for _, s := range servers {
				_ = s.Close()
			}
		}
	}()

	be, err := openBackends(ctx, o, ring, log)
	if err != nil {
		return err
	}
	defer be.Close()
	st := be.store
	if o.wrapStore != nil {
		st = o.wrapStore(st)
	}
	gwOpts = append(gwOpts, be.opts...)
	upstream := gatehouse.DefaultUpstreamTransport()
	upstream.DialContext = (&net.Dialer{Timeout: o.upstreamDial, KeepAlive: 30 * time.Second}).DialContext
	upstream.ResponseHeaderTimeout = o.upstreamResponseHeader
	defer upstream.CloseIdleConnections()
	gwOpts = append(gwOpts, gatehouse.WithUpstreamTransport(upstream))
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
	adminOpts := []admin.Option{admin.WithKey(o.adminKey)}
	if o.console {
		adminOpts = append(adminOpts, admin.WithConsole())
	}
	adminAPI := gw.AdminHandler(adminOpts...)
	if o.config != "" {
		if err := applyConfig(ctx, o, gw, getenv, stdout); err != nil {
			return fmt.Errorf("-config %s: %w", o.config, err)
		}
		// Serve the file's routes and keys from the first request on.
		if err := gw.Refresh(ctx); err != nil {
			return err
		}
	}
	dataHandler.set(gw.Router())
	adminHandler.set(adminAPI)
	loaded.Store(gw)

	if generated {
		fmt.Fprintf(stdout, "admin key (generated, shown once): %s\n", o.adminKey)
	}
	for _, n := range be.notes {
		fmt.Fprintln(stdout, n)
	}
	fmt.Fprintf(stdout, "gateway %q, store %s, limiter %s\n", o.gatewayID, redact(o.store), o.limiter)
	if o.console {
		fmt.Fprintf(stdout, "admin console at http://%s/ui/\n", adminLn.Addr())
	}
	fmt.Fprintf(stdout, "data plane listening on %s\n", dataLn.Addr())
	fmt.Fprintf(stdout, "admin API listening on %s\n", adminLn.Addr())
	if metricsLn != nil {
		fmt.Fprintf(stdout, "metrics listening on %s\n", metricsLn.Addr())
	}

	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Go(func() {
			if err := s.Shutdown(shutdownCtx); err != nil {
				// Requests still in flight (long streams, say) when the
				// shutdown timeout passes: end them.
				log.Warn("gateway: shutdown timeout passed; closing the remaining connections", "timeout", o.shutdownTimeout)
				_ = s.Close()
			}
		})
	}
	wg.Wait()
	fmt.Fprintln(stdout, "gateway stopped")
	return nil
}
