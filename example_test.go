package gatehouse_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/admin"
	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store/memory"
)

// call sends one request to h and returns the status and body.
func call(h http.Handler, method, target, body string, header ...string) string {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	b, _ := io.ReadAll(w.Body)
	return fmt.Sprintf("%d %s", w.Code, strings.TrimSpace(string(b)))
}

// Protect a handler with key-auth: declare the route in code, create a
// consumer and its key through the admin API, and call the handler.
func ExampleGateway_Protect() {
	ctx := context.Background()
	gw, err := gatehouse.New(ctx, memory.New(), gatehouse.WithRoutes(route.Route{
		ID:      "orders",
		Plugins: map[string]json.RawMessage{"key-auth": json.RawMessage(`{}`)},
	}))
	if err != nil {
		panic(err)
	}
	defer gw.Close()

	// An operator creates a consumer and a key (normally with curl).
	adm := gw.AdminHandler(admin.WithKey("admin-secret"))
	call(adm, "POST", "/api/consumers", `{"username":"alice"}`, "X-API-KEY", "admin-secret")
	call(adm, "POST", "/api/consumers/alice/credentials",
		`{"name":"laptop","plugins":{"key-auth":{"key":"alice-secret-key"}}}`, "X-API-KEY", "admin-secret")
	_ = gw.Refresh(ctx) // only so that this example sees the writes at once

	orders := gw.Protect("orders", http.HandlerFunc(ordersOf))
	fmt.Println(call(orders, "GET", "/orders", "", "apikey", "alice-secret-key"))
	fmt.Println(call(orders, "GET", "/orders", "", "Authorization", "Bearer alice-secret-key"))
	fmt.Println(call(orders, "GET", "/orders", ""))
	fmt.Println(call(orders, "GET", "/orders", "", "apikey", "guess"))
	// Output:
	// 200 orders of alice
	// 200 orders of alice
	// 401 {"message":"Missing API key in request"}
	// 401 {"message":"Invalid API key in request"}
}

// Middleware plugs a route's protection into any router that takes
// func(http.Handler) http.Handler, such as chi's r.With or r.Use.
func ExampleGateway_Middleware() {
	ctx := context.Background()
	gw, err := gatehouse.New(ctx, memory.New(), gatehouse.WithRoutes(route.Route{
		ID:      "reports",
		Plugins: map[string]json.RawMessage{"key-auth": json.RawMessage(`{"header":"X-Api-Key"}`)},
	}))
	if err != nil {
		panic(err)
	}
	defer gw.Close()

	protect := gw.Middleware("reports")
	mux := http.NewServeMux()
	mux.Handle("GET /reports/{id}", protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "report %s", r.PathValue("id"))
	})))
	fmt.Println(call(mux, "GET", "/reports/7", ""))
	// Output:
	// 401 {"message":"Missing API key in request"}
}

// Router serves stored routes that have a backend, as the reference gateway
// does: the longest matching path prefix wins and the request is proxied.
func ExampleGateway_Router() {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "backend saw %s as %s", r.URL.Path, r.Header.Get(gatehouse.HeaderConsumerUsername))
	}))
	defer backend.Close()

	ctx := context.Background()
	gw, err := gatehouse.New(ctx, memory.New())
	if err != nil {
		panic(err)
	}
	defer gw.Close()
	adm := gw.AdminHandler(admin.WithKey("admin-secret"))
	call(adm, "POST", "/api/consumers", `{"username":"bob"}`, "X-API-KEY", "admin-secret")
	call(adm, "POST", "/api/consumers/bob/credentials",
		`{"name":"ci","plugins":{"key-auth":{"key":"bob-secret-key"}}}`, "X-API-KEY", "admin-secret")
	call(adm, "POST", "/api/routes", `{"id":"api","frontend":{"paths":["/api"],"strip_path":true},
		"backend":{"target":"`+backend.URL+`"},"plugins":{"key-auth":{}}}`, "X-API-KEY", "admin-secret")
	_ = gw.Refresh(ctx)

	fmt.Println(call(gw.Router(), "GET", "/api/orders", "", "apikey", "bob-secret-key"))
	fmt.Println(call(gw.Router(), "GET", "/elsewhere", ""))
	// Output:
	// 200 backend saw /orders as bob
	// 404 {"message":"404 Route Not Found"}
}

// ordersOf answers with the name of the consumer calling.
func ordersOf(w http.ResponseWriter, r *http.Request) {
	c, _ := consumer.FromContext(r.Context())
	fmt.Fprintf(w, "orders of %s", c.Username)
}
