// Command multi-instance is one copy of a service meant to run as several
// behind a load balancer, with Gatehouse embedded: its configuration is kept
// in PostgreSQL (store/postgres; each instance's view follows the others'
// writes through LISTEN/NOTIFY), its rate limits, API-key quotas and
// hmac-auth replay protection in Redis (ratelimit/redislimiter), so that
// every instance admits and refuses the same requests.
//
// Start two instances on the machine's PostgreSQL and Redis, with the same
// secret keys (they encrypt credential secrets in the shared database):
//
//	export GATEHOUSE_POSTGRES='postgres://postgres@127.0.0.1:5432/test?sslmode=disable'
//	export GATEHOUSE_REDIS='redis://127.0.0.1:6379/0'
//	export GATEHOUSE_SECRET_KEYS="k1:$(head -c 32 /dev/urandom | base64 -w0)"
//	export GATEHOUSE_ADMIN_KEY=admin-secret
//	go run ./examples/multi-instance -addr 127.0.0.1:8101 &
//	go run ./examples/multi-instance -addr 127.0.0.1:8102 &
//
// then create a consumer through one and call the other (the commands are
// printed at start). GET /orders/{id} allows each consumer 100 requests per
// minute in all, whichever instance serves them, and is refused (500) while
// Redis is unreachable; GET /catalog allows 1,000 per minute and lets
// requests through while Redis is unreachable (allow_degradation); GET
// /whoami has no limit.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/admin"
	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/keyring"
	"github.com/gatehousehq/gatehouse/ratelimit/redislimiter"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store/postgres"
)

// config is what an instance needs; every instance of a deployment has the
// same, but for its address.
type config struct {
	// Postgres and Redis are the shared back-ends' URLs.
	Postgres, Redis string
	// SecretKeys is the key ring's text form (keyring.Parse); the same on
	// every instance.
	SecretKeys string
	// AdminKey protects the admin API mounted under /admin.
	AdminKey string
	// Schema, when set, is the PostgreSQL schema of the configuration
	// (tests give each run its own); RedisPrefix likewise namespaces the
	// Redis keys.
	Schema, RedisPrefix string
	// Logger receives the instance's log lines.
	Logger *slog.Logger
}

// instance is one running copy of the service.
type instance struct {
	handler http.Handler
	gw      *gatehouse.Gateway
	store   *postgres.Store
	redis   *redis.Client
}

// ordersPerMinute is the limit every consumer has on /orders, across all
// instances.
const ordersPerMinute = 100

// routes are the service's own routes: declared in code, created in the
// shared store by whichever instance starts first.
func routes() []route.Route {
	return []route.Route{
		{ID: "orders", Plugins: map[string]json.RawMessage{
			"key-auth":    json.RawMessage(`{}`),
			"limit-count": json.RawMessage(fmt.Sprintf(`{"count": %d, "time_window": 60, "key_type": "consumer"}`, ordersPerMinute)),
		}},
		{ID: "catalog", Plugins: map[string]json.RawMessage{
			"key-auth":    json.RawMessage(`{}`),
			"limit-count": json.RawMessage(`{"count": 1000, "time_window": 60, "key_type": "consumer", "allow_degradation": true}`),
		}},
		{ID: "whoami", Plugins: map[string]json.RawMessage{"key-auth": json.RawMessage(`{}`)}},
	}
}

// newInstance opens the shared back-ends and builds the service on them.
func newInstance(ctx context.Context, cfg config) (_ *instance, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ring, err := keyring.Parse(cfg.SecretKeys)
	if err != nil {
		return nil, fmt.Errorf("secret keys: %w", err)
	}
	var pgOpts []postgres.Option
	if cfg.Schema != "" {
		pgOpts = append(pgOpts, postgres.WithSchema(cfg.Schema))
	}
	st, err := postgres.Open(ctx, cfg.Postgres, append(pgOpts, postgres.WithLogger(cfg.Logger))...)
	if err != nil {
		return nil, err
	}
	inst := &instance{store: st}
	defer func() {
		if err != nil {
			inst.Close()
		}
	}()
	opt, err := redis.ParseURL(cfg.Redis)
	if err != nil {
		return nil, errors.New("redis: not a Redis URL")
	}
	inst.redis = redis.NewClient(opt)
	var limOpts []redislimiter.Option
	if cfg.RedisPrefix != "" {
		limOpts = append(limOpts, redislimiter.WithPrefix(cfg.RedisPrefix))
	}
	lim := redislimiter.New(inst.redis, limOpts...)

	inst.gw, err = gatehouse.New(ctx, st,
		gatehouse.WithKeyRing(ring),
		gatehouse.WithLimiter(lim),     // limits and API-key quotas, shared
		gatehouse.WithReplayStore(lim), // hmac-auth replays refused on every instance
		gatehouse.WithLogger(cfg.Logger),
		gatehouse.WithRoutes(routes()...))
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /orders/{id}", inst.gw.Protect("orders", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := consumer.FromContext(r.Context())
		fmt.Fprintf(w, "order %s for %s\n", r.PathValue("id"), c.Username)
	})))
	mux.Handle("GET /catalog", inst.gw.Protect("catalog", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "catalog")
	})))
	mux.Handle("GET /whoami", inst.gw.Protect("whoami", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := consumer.FromContext(r.Context())
		fmt.Fprintln(w, c.Username)
	})))
	mux.Handle("/admin/", http.StripPrefix("/admin", inst.gw.AdminHandler(admin.WithKey(cfg.AdminKey))))
	inst.handler = mux
	return inst, nil
}

// Close stops following the store and closes the connections.
func (i *instance) Close() error {
	var errs []error
	if i.gw != nil {
		errs = append(errs, i.gw.Close())
	}
	if i.redis != nil {
		errs = append(errs, i.redis.Close())
	}
	errs = append(errs, i.store.Close())
	return errors.Join(errs...)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8101", "address to serve on")
	flag.Parse()
	cfg := config{
		Postgres:   os.Getenv("GATEHOUSE_POSTGRES"),
		Redis:      os.Getenv("GATEHOUSE_REDIS"),
		SecretKeys: os.Getenv("GATEHOUSE_SECRET_KEYS"),
		AdminKey:   os.Getenv("GATEHOUSE_ADMIN_KEY"),
	}
	if cfg.Postgres == "" || cfg.Redis == "" || cfg.SecretKeys == "" || cfg.AdminKey == "" {
		fmt.Fprintln(os.Stderr, "multi-instance: set GATEHOUSE_POSTGRES, GATEHOUSE_REDIS, GATEHOUSE_SECRET_KEYS and GATEHOUSE_ADMIN_KEY (see go doc ./examples/multi-instance)")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	inst, err := newInstance(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "multi-instance:", err)
		os.Exit(1)
	}
	defer inst.Close()
	srv := &http.Server{Addr: *addr, Handler: inst.handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	fmt.Printf("serving on http://%s\n", *addr)
	fmt.Printf("curl -X POST http://%s/admin/api/consumers -H 'X-API-KEY: <admin key>' -H 'Content-Type: application/json' -d '{\"username\":\"alice\"}'\n", *addr)
	fmt.Printf("curl -X POST http://%s/admin/api/consumers/alice/credentials -H 'X-API-KEY: <admin key>' -H 'Content-Type: application/json' -d '{\"name\":\"main\",\"plugins\":{\"key-auth\":{}}}'\n", *addr)
	fmt.Println("curl http://<another instance>/orders/1 -H 'apikey: <the key printed by the previous command>'")
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "multi-instance:", err)
		os.Exit(1)
	}
}
