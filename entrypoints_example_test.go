package gatehouse_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/admin"
	"github.com/gatehousehq/gatehouse/keyring"
	"github.com/gatehousehq/gatehouse/ratelimit/memory"
	"github.com/gatehousehq/gatehouse/route"
	storememory "github.com/gatehousehq/gatehouse/store/memory"
)

// New builds a gateway over a store. The routes declared in code are created
// in the store when missing (the admin API owns them after that); the options
// choose where secrets are encrypted, where rate limits are counted and which
// proxies' X-Forwarded-For is believed.
func ExampleNew() {
	ctx := context.Background()
	st := storememory.New() // or sqlite.Open / postgres.Open for a configuration that survives restarts
	ring, err := keyring.Parse(os.Getenv("GATEHOUSE_SECRET_KEYS"))
	if err != nil {
		ring, _ = keyring.Generate() // secrets then die with the process, as the memory store's do
	}
	gw, err := gatehouse.New(ctx, st,
		gatehouse.WithKeyRing(ring),
		gatehouse.WithLimiter(memory.New()),
		gatehouse.WithTrustedProxies("10.0.0.0/8"),
		gatehouse.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, nil))),
		gatehouse.WithRoutes(route.Route{
			ID: "orders",
			Plugins: map[string]json.RawMessage{
				"key-auth":    json.RawMessage(`{}`),
				"limit-count": json.RawMessage(`{"count":100,"time_window":60,"key_type":"consumer"}`),
			},
		}))
	if err != nil {
		panic(err)
	}
	defer gw.Close()

	r, err := st.GetRoute(ctx, "orders")
	if err != nil {
		panic(err)
	}
	fmt.Println(r.ID, len(r.Plugins), "plugins")

	// Settings are checked when the gateway is built: a typo fails at start.
	_, err = gatehouse.New(ctx, storememory.New(), gatehouse.WithRoutes(route.Route{
		ID:      "typo",
		Plugins: map[string]json.RawMessage{"limit-count": json.RawMessage(`{"count":0,"time_window":60}`)},
	}))
	fmt.Println(err != nil)
	// Output:
	// orders 2 plugins
	// true
}

// AdminHandler is the admin API over the gateway's store, mounted under any
// prefix. A key-auth key is shown once, in the response that created it;
// GET shows only a preview.
func ExampleGateway_AdminHandler() {
	gw, err := gatehouse.New(context.Background(), storememory.New())
	if err != nil {
		panic(err)
	}
	defer gw.Close()

	mux := http.NewServeMux()
	mux.Handle("/admin/", http.StripPrefix("/admin", gw.AdminHandler(admin.WithKey("admin-secret"))))

	fmt.Println(call(mux, "GET", "/admin/api/consumers", "")[:3]) // no key
	fmt.Println(call(mux, "POST", "/admin/api/consumers", `{"username":"alice"}`, "X-API-KEY", "admin-secret")[:3])
	created := call(mux, "POST", "/admin/api/consumers/alice/credentials",
		`{"id":"laptop","name":"laptop","plugins":{"key-auth":{}}}`, "X-API-KEY", "admin-secret")
	fmt.Println(created[:3], strings.Contains(created, `"key":"ghk_`))

	got := call(mux, "GET", "/admin/api/consumers/alice/credentials/laptop", "", "X-API-KEY", "admin-secret")
	var cred struct {
		Plugins map[string]map[string]string `json:"plugins"`
	}
	if err := json.Unmarshal([]byte(got[4:]), &cred); err != nil {
		panic(err)
	}
	_, hasKey := cred.Plugins["key-auth"]["key"]
	fmt.Println(got[:3], "key shown:", hasKey, "preview:", strings.HasPrefix(cred.Plugins["key-auth"]["key_preview"], "ghk_"))
	// Output:
	// 401
	// 201
	// 201 true
	// 200 key shown: false preview: true
}
