package hmacauth_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/admin"
	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential/hmacauth"
	"github.com/gatehousehq/gatehouse/keyring"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store/memory"
)

// Protect a handler with hmac-auth: an operator gives john a key id and a
// secret through the admin API; john signs each request with them.
func Example() {
	ctx := context.Background()
	ring, _ := keyring.Generate() // in production: keyring.Parse of a configured spec
	gw, err := gatehouse.New(ctx, memory.New(),
		gatehouse.WithPlugins(hmacauth.Definition{Ring: ring}),
		gatehouse.WithRoutes(route.Route{ID: "orders", Plugins: map[string]json.RawMessage{"hmac-auth": json.RawMessage(`{}`)}}))
	if err != nil {
		panic(err)
	}
	defer gw.Close()

	adm := gw.AdminHandler(admin.WithKey("admin-secret"))
	for _, req := range [][2]string{
		{"/api/consumers", `{"username":"john"}`},
		{"/api/consumers/john/credentials", `{"name":"laptop","plugins":{"hmac-auth":{"key_id":"john-key","secret_key":"john-secret-key-0001"}}}`},
	} {
		r := httptest.NewRequest(http.MethodPost, req[0], strings.NewReader(req[1]))
		r.Header.Set("X-API-KEY", "admin-secret")
		adm.ServeHTTP(httptest.NewRecorder(), r)
	}
	_ = gw.Refresh(ctx) // only so that this example sees the writes at once

	orders := gw.Protect("orders", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := consumer.FromContext(r.Context())
		fmt.Fprintf(w, "orders of %s", c.Username)
	}))

	// The client side: the signing string is the key id, then one line per
	// signed header, each ended by "\n".
	date := time.Now().UTC().Format(http.TimeFormat)
	signing := "john-key\n" + "GET /orders?status=open\n" + "date: " + date + "\n"
	m := hmac.New(sha256.New, []byte("john-secret-key-0001"))
	m.Write([]byte(signing))
	signature := base64.StdEncoding.EncodeToString(m.Sum(nil))

	send := func(signature string) {
		r := httptest.NewRequest(http.MethodGet, "/orders?status=open", nil)
		r.Header.Set("Date", date)
		r.Header.Set("Authorization", `Signature keyId="john-key",algorithm="hmac-sha256",headers="@request-target date",signature="`+signature+`"`)
		w := httptest.NewRecorder()
		orders.ServeHTTP(w, r)
		b, _ := io.ReadAll(w.Body)
		fmt.Println(w.Code, strings.TrimSpace(string(b)))
	}
	send(signature)
	send(base64.StdEncoding.EncodeToString(make([]byte, sha256.Size)))
	// Output:
	// 200 orders of john
	// 401 {"message":"client request can't be validated"}
}
