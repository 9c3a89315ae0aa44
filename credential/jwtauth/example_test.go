package jwtauth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/admin"
	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential/jwtauth"
	"github.com/gatehousehq/gatehouse/keyring"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store/memory"
)

// Protect a handler with jwt-auth: the consumer's credential holds a key and
// an HS256 secret; the client signs its tokens with the secret and names the
// key in the "key" claim.
func Example() {
	ctx := context.Background()
	ring, _ := keyring.Generate() // in production: keyring.Parse of a configured ring
	gw, err := gatehouse.New(ctx, memory.New(),
		gatehouse.WithPlugins(&jwtauth.Definition{Ring: ring}),
		gatehouse.WithRoutes(route.Route{
			ID:      "orders",
			Plugins: map[string]json.RawMessage{"jwt-auth": json.RawMessage(`{"leeway":5}`)},
		}))
	if err != nil {
		panic(err)
	}
	defer gw.Close()

	secret := "a-secret-of-at-least-32-bytes-long!"
	adm := gw.AdminHandler(admin.WithKey("admin-secret"))
	do := func(h http.Handler, method, target, body string, header ...string) string {
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
	do(adm, "POST", "/api/consumers", `{"username":"alice"}`, "X-API-KEY", "admin-secret")
	do(adm, "POST", "/api/consumers/alice/credentials",
		`{"name":"app","plugins":{"jwt-auth":{"key":"alice-app","secret":"`+secret+`"}}}`, "X-API-KEY", "admin-secret")
	_ = gw.Refresh(ctx) // only so that this example sees the writes at once

	orders := gw.Protect("orders", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := consumer.FromContext(r.Context())
		fmt.Fprintf(w, "orders of %s", c.Username)
	}))
	token, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"key": "alice-app",
		"exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString([]byte(secret))
	expired, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"key": "alice-app",
		"exp": time.Now().Add(-time.Hour).Unix(),
	}).SignedString([]byte(secret))

	fmt.Println(do(orders, "GET", "/orders", "", "Authorization", "Bearer "+token))
	fmt.Println(do(orders, "GET", "/orders?jwt="+token, ""))
	fmt.Println(do(orders, "GET", "/orders", ""))
	fmt.Println(do(orders, "GET", "/orders", "", "Authorization", "Bearer "+expired))
	// Output:
	// 200 orders of alice
	// 200 orders of alice
	// 401 {"message":"Missing JWT token in request"}
	// 401 {"message":"failed to verify jwt"}
}
