package keyauth_test

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
	"github.com/gatehousehq/gatehouse/credential/keyauth"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store/memory"
)

// key-auth on a route (a gateway registers it by default): the key is read
// from the route's header, then Authorization: Bearer, then its query
// parameter, and with hide_credentials it is removed before the handler or
// the upstream sees the request. Only the key's SHA-256 is stored.
func Example() {
	ctx := context.Background()
	gw, err := gatehouse.New(ctx, memory.New(), gatehouse.WithRoutes(route.Route{
		ID: "orders",
		Plugins: map[string]json.RawMessage{
			keyauth.Name: json.RawMessage(`{"header":"X-Api-Key","query":"key","hide_credentials":true}`),
		},
	}))
	if err != nil {
		panic(err)
	}
	defer gw.Close()

	send := func(h http.Handler, method, target, body string, header ...string) string {
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
	adm := gw.AdminHandler(admin.WithKey("admin-secret"))
	send(adm, "POST", "/api/consumers", `{"username":"alice"}`, "X-API-KEY", "admin-secret")
	send(adm, "POST", "/api/consumers/alice/credentials",
		`{"name":"laptop","plugins":{"key-auth":{"key":"alice-secret-key"}}}`, "X-API-KEY", "admin-secret")
	_ = gw.Refresh(ctx) // only so that this example sees the writes at once

	orders := gw.Protect("orders", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := consumer.FromContext(r.Context())
		fmt.Fprintf(w, "%s; key in header %q, query %q", c.Username, r.Header.Get("X-Api-Key"), r.URL.RawQuery)
	}))
	fmt.Println(send(orders, "GET", "/orders", "", "X-Api-Key", "alice-secret-key"))
	fmt.Println(send(orders, "GET", "/orders?key=alice-secret-key&page=2", ""))
	fmt.Println(send(orders, "GET", "/orders", "", "apikey", "alice-secret-key")) // not this route's header
	fmt.Println(keyauth.Preview("alice-secret-key"))
	// Output:
	// 200 alice; key in header "", query ""
	// 200 alice; key in header "", query "page=2"
	// 401 {"message":"Missing API key in request"}
	// al...ey
}
