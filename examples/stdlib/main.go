// Command stdlib shows Gatehouse embedded in a plain net/http server: a
// ServeMux whose handlers are protected by key-auth, with the admin API
// mounted under /admin on the same server.
//
//	go run ./examples/stdlib
//
// then, in another terminal, follow the curl commands it prints.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/admin"
	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store/memory"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	addr := "127.0.0.1:8090"
	if v := os.Getenv("STDLIB_ADDR"); v != "" {
		addr = v
	}
	adminKey := os.Getenv("GATEHOUSE_ADMIN_KEY")
	if adminKey == "" {
		adminKey = "change-me-admin-key"
	}
	srv, err := newServer(ctx, addr, adminKey)
	if err != nil {
		slog.Error("stdlib example: start", "err", err)
		os.Exit(1)
	}
	fmt.Printf("listening on http://%s\n\n", addr)
	fmt.Printf("curl -X POST http://%s/admin/api/consumers -H 'X-API-KEY: %s' -H 'Content-Type: application/json' -d '{\"username\":\"alice\"}'\n", addr, adminKey)
	fmt.Printf("curl -X POST http://%s/admin/api/consumers/alice/credentials -H 'X-API-KEY: %s' -H 'Content-Type: application/json' -d '{\"name\":\"main\",\"plugins\":{\"key-auth\":{}}}'\n", addr, adminKey)
	fmt.Printf("curl http://%s/hello -H 'apikey: <the key printed by the previous command>'\n", addr)

	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		slog.Error("stdlib example: serve", "err", err)
		os.Exit(1)
	}
}

// newServer builds the application: its own routes, protected by the gateway,
// and the admin API under /admin.
func newServer(ctx context.Context, addr, adminKey string) (*http.Server, error) {
	gw, err := gatehouse.New(ctx, memory.New(), gatehouse.WithRoutes(
		route.Route{ID: "hello", Plugins: map[string]json.RawMessage{"key-auth": json.RawMessage(`{"hide_credentials":true}`)}},
		route.Route{ID: "health"}, // no auth plugin: public
	))
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /hello", gw.Protect("hello", http.HandlerFunc(hello)))
	mux.Handle("GET /healthz", gw.Protect("health", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})))
	mux.Handle("/admin/", http.StripPrefix("/admin", gw.AdminHandler(admin.WithKey(adminKey))))
	return &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}, nil
}

func hello(w http.ResponseWriter, r *http.Request) {
	c, _ := consumer.FromContext(r.Context())
	fmt.Fprintf(w, "hello, %s\n", c.Username)
}
