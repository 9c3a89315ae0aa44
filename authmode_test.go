package gatehouse_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/admin"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store/memory"
)

// Several authentication plugins on one route, with credentials of different
// schemes created through the admin API.
func TestAuthModes(t *testing.T) {
	ctx := context.Background()
	both := map[string]json.RawMessage{"key-auth": json.RawMessage(`{}`), "basic-auth": json.RawMessage(`{}`)}
	gw, err := gatehouse.New(ctx, memory.New(), gatehouse.WithRoutes(
		route.Route{ID: "all", Plugins: both},
		route.Route{ID: "any", Plugins: both, AuthMode: route.AuthAny},
		route.Route{ID: "any-anon", AuthMode: route.AuthAny, Plugins: map[string]json.RawMessage{
			"basic-auth": json.RawMessage(`{"anonymous_consumer":"guest"}`), "key-auth": json.RawMessage(`{}`)}},
	))
	require.NoError(t, err)
	defer gw.Close()
	adm := gw.AdminHandler(admin.WithKey("k"))
	for _, c := range []string{`{"username":"alice"}`, `{"username":"bob"}`, `{"username":"guest"}`} {
		require.Contains(t, call(adm, "POST", "/api/consumers", c, "X-API-KEY", "k"), "201")
	}
	for path, body := range map[string]string{
		"/api/consumers/alice/credentials": `{"name":"key","plugins":{"key-auth":{"key":"alice-secret-key"}}}`,
		"/api/consumers/bob/credentials":   `{"name":"pw","plugins":{"basic-auth":{"username":"bob","password":"bob-password"}}}`,
	} {
		require.Contains(t, call(adm, "POST", path, body, "X-API-KEY", "k"), "201")
	}
	require.Contains(t, call(adm, "POST", "/api/consumers/alice/credentials",
		`{"name":"pw","plugins":{"basic-auth":{"username":"alice","password":"alice-password"}}}`, "X-API-KEY", "k"), "201")
	require.NoError(t, gw.Refresh(ctx))

	basic := func(user, pass string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}
	for _, tc := range []struct {
		name, route string
		header      []string
		want        string
	}{
		{"all: both schemes, one consumer", "all", []string{"apikey", "alice-secret-key", "Authorization", basic("alice", "alice-password")}, "200 orders of alice"},
		{"all: key only", "all", []string{"apikey", "alice-secret-key"}, `401 {"message":"Missing authorization in request"}`},
		{"all: basic only", "all", []string{"Authorization", basic("alice", "alice-password")}, `401 {"message":"Missing API key in request"}`},
		{"all: two consumers", "all", []string{"apikey", "alice-secret-key", "Authorization", basic("bob", "bob-password")}, "401"},
		{"all: wrong password", "all", []string{"apikey", "alice-secret-key", "Authorization", basic("alice", "nope")}, `401 {"message":"Invalid user authorization"}`},
		{"any: key", "any", []string{"apikey", "alice-secret-key"}, "200 orders of alice"},
		{"any: basic", "any", []string{"Authorization", basic("bob", "bob-password")}, "200 orders of bob"},
		{"any: both, first passing wins", "any", []string{"apikey", "alice-secret-key", "Authorization", basic("bob", "bob-password")}, "200"},
		{"any: none", "any", nil, `401 {"message":"Authorization Failed"}`},
		{"any: all wrong", "any", []string{"apikey", "wrong-key-000", "Authorization", basic("bob", "nope")}, `401 {"message":"Authorization Failed"}`},
		{"any: anonymous", "any-anon", nil, "200 orders of guest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := gw.Protect(tc.route, http.HandlerFunc(ordersOf))
			got := call(h, "GET", "/", "", tc.header...)
			require.Contains(t, got, tc.want)
		})
	}
}
