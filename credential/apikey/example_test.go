package apikey_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/admin"
	"github.com/gatehousehq/gatehouse/credential/apikey"
	"github.com/gatehousehq/gatehouse/keyring"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store/memory"
)

// Example creates an Otoroshi-style API key through the admin API and calls a
// route with it.
func Example() {
	ctx := context.Background()
	ring, _ := keyring.Generate()
	gw, _ := gatehouse.New(ctx, memory.New(),
		gatehouse.WithPlugins(apikey.Definition{Ring: ring}),
		gatehouse.WithRoutes(route.Route{ID: "orders", Plugins: map[string]json.RawMessage{"apikey-auth": json.RawMessage(`{}`)}}))
	defer gw.Close()

	adm := gw.AdminHandler(admin.WithKey("admin-key"))
	req := httptest.NewRequest(http.MethodPost, "/api/apikeys",
		strings.NewReader(`{"clientId":"shop","clientSecret":"s3cret-value","clientName":"Shop front"}`))
	req.Header.Set("X-API-KEY", "admin-key")
	w := httptest.NewRecorder()
	adm.ServeHTTP(w, req)
	fmt.Println("create:", w.Code)
	_ = gw.Refresh(ctx)

	h := gw.Protect("orders", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("consumer:", r.Header.Get("X-Consumer-Username"))
	}))
	for _, hdr := range []map[string]string{
		{"Otoroshi-Client-Id": "shop", "Otoroshi-Client-Secret": "s3cret-value"},
		{"Otoroshi-Client-Id": "shop", "Otoroshi-Client-Secret": "wrong"},
		{},
	} {
		r := httptest.NewRequest(http.MethodGet, "/orders", nil)
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(strings.TrimSpace(fmt.Sprint(w.Code, " ", w.Body.String())))
	}
	// Output:
	// create: 201
	// consumer: shop
	// 200
	// 401 {"message":"bad apikey"}
	// 400 {"message":"no apikey"}
}
