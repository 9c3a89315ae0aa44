package redislimiter_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/admin"
	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/credential/apikey"
	"github.com/gatehousehq/gatehouse/keyring"
	"github.com/gatehousehq/gatehouse/ratelimit/redislimiter"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store/memory"
)

// Two gateway instances given redis limiters with one prefix
// (gatehouse.WithLimiter) count an API key's daily quota together: the
// gateway finds the limiter's ratelimit.QuotaCounter by itself.
func TestGatewayQuotasShared(t *testing.T) {
	ctx := context.Background()
	ring, _ := keyring.Generate()
	st := memory.New()
	def := apikey.Definition{Ring: ring}
	sealed, err := def.Seal(json.RawMessage(`{"clientId":"k","clientSecret":"secret-k-123","dailyQuota":3}`), nil)
	require.NoError(t, err)
	_, _, err = st.PutConsumer(ctx, "k", func(*consumer.Consumer) (*consumer.Consumer, error) {
		return &consumer.Consumer{Username: "k"}, nil
	})
	require.NoError(t, err)
	_, _, err = st.PutCredential(ctx, "k", "k", func(*credential.Credential) (*credential.Credential, error) {
		return &credential.Credential{ID: "k", Name: "k", Enabled: true, Lookup: sealed.Lookup,
			Plugins: map[string]json.RawMessage{apikey.Name: sealed.Stored}}, nil
	})
	require.NoError(t, err)

	first := newClient(t, "")
	prefix := testPrefix(t, first)
	var handlers []http.Handler
	for i := range 2 {
		client := first // each instance with a client of its own
		if i > 0 {
			client = newClient(t, "")
		}
		gw, err := gatehouse.New(ctx, st, gatehouse.WithKeyRing(ring),
			gatehouse.WithLimiter(redislimiter.New(client, redislimiter.WithPrefix(prefix))),
			gatehouse.WithRoutes(route.Route{ID: "r", Plugins: map[string]json.RawMessage{apikey.Name: json.RawMessage(`{}`)}}))
		require.NoError(t, err)
		t.Cleanup(func() { _ = gw.Close() })
		handlers = append(handlers, gw.Protect("r", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})))
	}
	call := func(h http.Handler) int {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Otoroshi-Client-Id", "k")
		r.Header.Set("Otoroshi-Client-Secret", "secret-k-123")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	for i, want := range []int{http.StatusOK, http.StatusOK, http.StatusOK, http.StatusTooManyRequests, http.StatusTooManyRequests} {
		require.Equal(t, want, call(handlers[i%2]), "request %d, instance %d", i, i%2)
	}
	keys, err := first.Keys(ctx, prefix+"q:*").Result()
	require.NoError(t, err)
	require.Len(t, keys, 1, "one quota hash for the key, in Redis")
}

// The admin API's consumer-group usage (GET …/consumer-groups/{id}/usage)
// reads the counters in Redis without charging them: requests served by one
// instance show in the usage read through the other's admin handler.
func TestGatewayGroupUsageShared(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	first := newClient(t, "")
	prefix := testPrefix(t, first)
	var data []http.Handler
	var admins []http.Handler
	for i := range 2 {
		client := first
		if i > 0 {
			client = newClient(t, "")
		}
		gw, err := gatehouse.New(ctx, st,
			gatehouse.WithLimiter(redislimiter.New(client, redislimiter.WithPrefix(prefix))),
			gatehouse.WithRoutes(route.Route{ID: "r", Plugins: map[string]json.RawMessage{"key-auth": json.RawMessage(`{}`)}}))
		require.NoError(t, err)
		t.Cleanup(func() { _ = gw.Close() })
		data = append(data, gw.Protect("r", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
		admins = append(admins, gw.AdminHandler(admin.WithKey("admin-key")))
	}
	call := func(h http.Handler, method, path, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("X-API-KEY", "admin-key")
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("apikey", "alice-key-123456")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for _, req := range [][2]string{
		{"/api/v1/gateways/default/consumer-groups", `{"id":"premium","name":"Premium","required_plugins":[{"name":"advanced_rate_limiter",
			"settings":{"limits":{"global":{"limit":1000,"window":"1d"},"per_user":{"limit":100,"window":"1d"}}}}]}`},
		{"/api/consumers", `{"username":"alice","group_id":"premium"}`},
		{"/api/consumers/alice/credentials", `{"name":"k","plugins":{"key-auth":{"key":"alice-key-123456"}}}`},
	} {
		w := call(admins[0], http.MethodPost, req[0], req[1])
		require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	}
	// Both instances' views apply the group: each one's first such request is charged.
	for _, h := range data {
		require.Eventually(t, func() bool {
			w := call(h, http.MethodGet, "/", "")
			return w.Code == http.StatusOK && w.Header().Get("X-RateLimit-Limit") != ""
		}, 5*time.Second, 5*time.Millisecond)
	}
	for range 3 {
		require.Equal(t, http.StatusOK, call(data[0], http.MethodGet, "/", "").Code)
	}
	used := func() map[string]float64 {
		w := call(admins[1], http.MethodGet, "/api/v1/gateways/default/consumer-groups/premium/usage?user=alice", "")
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		var body struct {
			Limits []struct {
				Limit string   `json:"limit"`
				Used  *float64 `json:"used"`
			} `json:"limits"`
		}
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
		out := map[string]float64{}
		for _, l := range body.Limits {
			require.NotNil(t, l.Used, l.Limit)
			out[l.Limit] = *l.Used
		}
		return out
	}
	require.Equal(t, map[string]float64{"per_user": 5, "global": 5}, used())
	require.Equal(t, map[string]float64{"per_user": 5, "global": 5}, used(), "reading charged nothing")
}
