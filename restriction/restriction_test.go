package restriction_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/admin"
	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/restriction"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store/memory"
	"github.com/gatehousehq/gatehouse/validation"
)

func send(h http.Handler, method, target, body string, header ...string) (int, string) {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	b, _ := io.ReadAll(w.Body)
	return w.Code, strings.TrimSpace(string(b))
}

// gateway builds a gateway with one route per settings entry (key-auth plus
// consumer-restriction) and three consumers, each with a key named after it.
func gateway(t *testing.T, routes map[string]string) *gatehouse.Gateway {
	t.Helper()
	ctx := context.Background()
	var rs []route.Route
	for id, settings := range routes {
		plugins := map[string]json.RawMessage{restriction.Name: json.RawMessage(settings)}
		if id != "public" {
			plugins["key-auth"] = json.RawMessage(`{"anonymous_consumer":"guest"}`)
		}
		rs = append(rs, route.Route{ID: id, Plugins: plugins})
	}
	gw, err := gatehouse.New(ctx, memory.New(), gatehouse.WithRoutes(rs...))
	require.NoError(t, err)
	t.Cleanup(func() { _ = gw.Close() })
	adm := gw.AdminHandler(admin.WithKey("k"))
	for _, c := range []string{
		`{"username":"alice","group_id":"gold","labels":{"team":"mobile","tier":"paid"}}`,
		`{"username":"bob","group_id":"free","labels":{"team":"web"}}`,
		`{"username":"carol","labels":{"team":"mobile"}}`,
		`{"username":"guest"}`,
	} {
		code, body := send(adm, "POST", "/api/consumers", c, "X-API-KEY", "k")
		require.Equal(t, http.StatusCreated, code, body)
	}
	for _, u := range []string{"alice", "bob", "carol"} {
		code, body := send(adm, "POST", "/api/consumers/"+u+"/credentials",
			fmt.Sprintf(`{"name":"k","plugins":{"key-auth":{"key":"%s-secret-key"}}}`, u), "X-API-KEY", "k")
		require.Equal(t, http.StatusCreated, code, body)
	}
	require.NoError(t, gw.Refresh(ctx))
	return gw
}

func TestRestriction(t *testing.T) {
	gw := gateway(t, map[string]string{
		"white-names":  `{"whitelist":["alice","carol"]}`,
		"black-names":  `{"blacklist":["bob"],"rejected_code":401,"rejected_msg":"go away"}`,
		"white-groups": `{"type":"consumer_group_id","whitelist":["gold"]}`,
		"black-groups": `{"type":"consumer_group_id","blacklist":["free"]}`,
		"white-labels": `{"type":"label","whitelist":["team:mobile"]}`,
		"black-labels": `{"type":"label","blacklist":["tier:paid"]}`,
		"methods":      `{"allowed_by_methods":[{"user":"alice","methods":["GET"]}]}`,
		"label-method": `{"type":"label","allowed_by_methods":[{"user":"team:web","methods":["GET","HEAD"]}]}`,
		"public":       `{"whitelist":["alice"]}`,
	})
	for _, tc := range []struct {
		route, method, user string
		want                int
		msg                 string
	}{
		{"white-names", "GET", "alice", 200, ""},
		{"white-names", "GET", "carol", 200, ""},
		{"white-names", "GET", "bob", 403, "The consumer_name is forbidden."},
		{"white-names", "GET", "", 403, "The consumer_name is forbidden."}, // the anonymous consumer "guest"
		{"black-names", "GET", "alice", 200, ""},
		{"black-names", "GET", "bob", 401, "go away"},
		{"white-groups", "GET", "alice", 200, ""},
		{"white-groups", "GET", "bob", 403, "The consumer_group_id is forbidden."},
		{"white-groups", "GET", "carol", 403, ""}, // no group at all
		{"black-groups", "GET", "bob", 403, ""},
		{"black-groups", "GET", "carol", 200, ""},
		{"white-labels", "GET", "alice", 200, ""},
		{"white-labels", "GET", "carol", 200, ""},
		{"white-labels", "GET", "bob", 403, "The label is forbidden."},
		{"black-labels", "GET", "alice", 403, ""},
		{"black-labels", "GET", "carol", 200, ""},
		{"methods", "GET", "alice", 200, ""},
		{"methods", "POST", "alice", 403, ""},
		{"methods", "POST", "bob", 200, ""}, // no rule for bob
		{"label-method", "GET", "bob", 200, ""},
		{"label-method", "DELETE", "bob", 403, ""},
		{"label-method", "DELETE", "alice", 200, ""},
		{"public", "GET", "", 401, restriction.MsgNoConsumer},
	} {
		t.Run(fmt.Sprintf("%s %s %s", tc.route, tc.method, tc.user), func(t *testing.T) {
			var hdr []string
			if tc.user != "" {
				hdr = []string{"apikey", tc.user + "-secret-key"}
			}
			code, body := send(gw.Protect(tc.route, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c, _ := consumer.FromContext(r.Context())
				name := ""
				if c != nil {
					name = c.Username
				}
				fmt.Fprint(w, name)
			})), tc.method, "/", "", hdr...)
			require.Equal(t, tc.want, code, body)
			if tc.msg != "" {
				require.JSONEq(t, fmt.Sprintf(`{"message":%q}`, tc.msg), body)
			}
		})
	}
}

func TestSettingsValidation(t *testing.T) {
	for _, tc := range []struct {
		settings string
		fields   []string
	}{
		{`{}`, []string{"whitelist"}},
		{`{"type":"ip","whitelist":["a"]}`, []string{"type"}},
		{`{"whitelist":["a"],"blacklist":["b"]}`, []string{"blacklist"}},
		{`{"whitelist":["not ok"]}`, []string{"whitelist"}},
		{`{"type":"label","blacklist":["nocolon"]}`, []string{"blacklist"}},
		{`{"allowed_by_methods":[{"user":"a","methods":[]}]}`, []string{"allowed_by_methods"}},
		{`{"allowed_by_methods":[{"user":"a","methods":["get"]}]}`, []string{"allowed_by_methods"}},
		{`{"whitelist":["a"],"rejected_code":200}`, []string{"rejected_code"}},
		{`{"whitelist":["a"],"nope":1}`, []string{"nope"}},
		{`{"type":"ip","rejected_code":99}`, []string{"type", "whitelist", "rejected_code"}},
	} {
		_, err := restriction.Definition{}.New(json.RawMessage(tc.settings))
		var ve *validation.Error
		require.True(t, errors.As(err, &ve), tc.settings)
		for _, f := range tc.fields {
			require.Contains(t, ve.Fields, f, tc.settings)
		}
	}
	_, err := restriction.Definition{}.New(json.RawMessage(`{"type":"label","whitelist":["team:"],"allowed_by_methods":[{"user":"team:web","methods":["GET"]}]}`))
	require.NoError(t, err, "an empty label value is a value")
}

// Settings are validated when a route is written through the admin API.
func TestAdminValidatesSettings(t *testing.T) {
	gw := gateway(t, nil)
	adm := gw.AdminHandler(admin.WithKey("k"))
	code, body := send(adm, "POST", "/api/routes",
		`{"id":"r","plugins":{"key-auth":{},"consumer-restriction":{"type":"ip","whitelist":["a b"]}}}`, "X-API-KEY", "k")
	require.Equal(t, http.StatusBadRequest, code, body)
	require.Contains(t, body, "plugins.consumer-restriction.type")
	require.Contains(t, body, "plugins.consumer-restriction.whitelist")
	code, body = send(adm, "POST", "/api/routes",
		`{"id":"r","plugins":{"key-auth":{},"consumer-restriction":{"blacklist":["bob"]}}}`, "X-API-KEY", "k")
	require.Equal(t, http.StatusCreated, code, body)
}
