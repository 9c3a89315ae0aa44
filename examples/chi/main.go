// Command chi shows Gatehouse with the go-chi router: gw.Middleware is a
// func(http.Handler) http.Handler, so it plugs into r.With and r.Use.
//
//	cd examples/chi && go run .
//
// It is a module of its own so that users of Gatehouse never download chi.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/admin"
	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store/memory"
)

func main() {
	r, err := newRouter(context.Background(), "change-me-admin-key")
	if err != nil {
		log.Fatal(err)
	}
	addr := "127.0.0.1:8091"
	fmt.Printf("listening on http://%s (admin API under /admin, key change-me-admin-key)\n", addr)
	srv := &http.Server{Addr: addr, Handler: r, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// newRouter builds a chi router whose /orders routes need a key.
func newRouter(ctx context.Context, adminKey string) (http.Handler, error) {
	gw, err := gatehouse.New(ctx, memory.New(), gatehouse.WithRoutes(route.Route{
		ID:      "orders",
		Plugins: map[string]json.RawMessage{"key-auth": json.RawMessage(`{}`)},
	}))
	if err != nil {
		return nil, err
	}
	r := chi.NewRouter()
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	r.Route("/orders", func(r chi.Router) {
		r.Use(gw.Middleware("orders"))
		r.Get("/{id}", func(w http.ResponseWriter, r *http.Request) {
			c, _ := consumer.FromContext(r.Context())
			fmt.Fprintf(w, "order %s for %s\n", chi.URLParam(r, "id"), c.Username)
		})
	})
	r.Mount("/admin", http.StripPrefix("/admin", gw.AdminHandler(admin.WithKey(adminKey))))
	return r, nil
}
