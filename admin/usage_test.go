package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/admin"
	"github.com/gatehousehq/gatehouse/ratelimit/limitertest"
	"github.com/gatehousehq/gatehouse/ratelimit/memory"
	"github.com/gatehousehq/gatehouse/route"
	stmemory "github.com/gatehousehq/gatehouse/store/memory"
)

var errLimiterDown = errors.New("limiter down")

// usageEnv is a gateway (memory store, a memory limiter on a clock that
// stands still) serving route "orders" with key-auth, and its admin handler.
type usageEnv struct {
	*env
	limiter *limitertest.Switch
	orders  http.Handler
}

func newUsageEnv(tb testing.TB) *usageEnv {
	tb.Helper()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	lim := &limitertest.Switch{Err: errLimiterDown, Next: memory.New(memory.WithClock(func() time.Time { return now }))}
	st := stmemory.New()
	gw, err := gatehouse.New(context.Background(), st, gatehouse.WithLimiter(lim),
		gatehouse.WithRoutes(route.Route{ID: "orders", Plugins: map[string]json.RawMessage{"key-auth": json.RawMessage(`{}`)}}))
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = gw.Close() })
	e := &env{store: st, h: gw.AdminHandler(admin.WithKey(testKey))}
	e.t, _ = tb.(*testing.T) // a fuzz target sets it for each input
	return &usageEnv{env: e, limiter: lim, orders: gw.Protect("orders", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))}
}

// call sends one request with key from addr and returns the response.
func (u *usageEnv) call(key, addr string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "/orders", nil)
	r.RemoteAddr = addr + ":4000"
	r.Header.Set("apikey", key)
	w := httptest.NewRecorder()
	u.orders.ServeHTTP(w, r)
	return w
}

// member creates consumer name in group with key-auth key key, and waits
// until the data plane applies the group's limits to it: that request is
// the only one charged.
func (u *usageEnv) member(name, group, key, addr string) {
	u.t.Helper()
	u.must(http.StatusCreated, http.MethodPost, "/api/consumers", map[string]any{"username": name, "group_id": group})
	u.must(http.StatusCreated, http.MethodPost, "/api/consumers/"+name+"/credentials",
		map[string]any{"name": "main", "plugins": map[string]any{"key-auth": map[string]any{"key": key}}})
	require.Eventually(u.t, func() bool {
		w := u.call(key, addr)
		return w.Code == http.StatusOK && w.Header().Get("X-RateLimit-Limit") != ""
	}, 5*time.Second, 5*time.Millisecond)
}

// limits returns the usage's limits by name.
func limitsOf(t *testing.T, r response) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, l := range r.JSON(t)["limits"].([]any) {
		m := l.(map[string]any)
		out[m["limit"].(string)] = m
	}
	return out
}

const premium = `{"id":"premium","name":"Premium Users","required_plugins":[
	{"name":"consumer-restriction","settings":{"blacklist":["mallory"]}},
	{"name":"advanced_rate_limiter","settings":{"limits":{"global":{"limit":100,"window":"1m"},"per_ip":{"limit":50,"window":"1m"},"per_user":{"limit":5,"window":"1m"}}}},
	{"name":"limit-count","enabled":false,"settings":{"count":1,"time_window":1}}]}`

// The usage endpoint reads the counters the data plane charges for the
// group's members, per user and per IP when asked, and charges nothing.
func TestGroupUsage(t *testing.T) {
	u := newUsageEnv(t)
	u.must(http.StatusCreated, http.MethodPost, groupsPath, premium)
	path := groupsPath + "/premium/usage"

	r := u.must(http.StatusOK, http.MethodGet, path, nil)
	require.Equal(t, "no-store", r.Header.Get("Cache-Control"))
	got := r.JSON(t)
	require.Equal(t, "default", got["gateway_id"])
	require.Equal(t, "premium", got["group_id"])
	lims := got["limits"].([]any)
	require.Len(t, lims, 3, "the enabled rate limits only: %s", r.Body)
	require.Equal(t, map[string]any{"plugin": "advanced_rate_limiter", "limit": "per_user", "per": "consumer",
		"count": 5.0, "window_seconds": 60.0, "used": nil, "remaining": nil, "reset": nil, "needs": "user"}, lims[0])
	require.Equal(t, "per_ip", lims[1].(map[string]any)["limit"])
	require.Equal(t, "ip", lims[1].(map[string]any)["needs"])
	require.Equal(t, map[string]any{"plugin": "advanced_rate_limiter", "limit": "global", "per": "consumer_group",
		"count": 100.0, "window_seconds": 60.0, "used": 0.0, "remaining": 100.0, "reset": 0.0}, lims[2])

	u.member("alice", "premium", "alice-key-123456", "192.0.2.1")
	u.member("bob", "premium", "bob-key-1234567", "192.0.2.2")
	for range 2 {
		require.Equal(t, http.StatusOK, u.call("alice-key-123456", "192.0.2.1").Code)
	}

	for range 2 { // reading twice: the first read charged nothing
		l := limitsOf(t, u.must(http.StatusOK, http.MethodGet, path+"?user=alice&ip=192.0.2.1", nil))
		require.Equal(t, 3.0, l["per_user"]["used"])
		require.Equal(t, 2.0, l["per_user"]["remaining"])
		require.Equal(t, 36.0, l["per_user"]["reset"], "3 of 5 per minute come back in 36 s")
		require.Equal(t, 3.0, l["per_ip"]["used"])
		require.Equal(t, 4.0, l["global"]["used"])
		require.NotContains(t, l["per_user"], "needs")
	}
	l := limitsOf(t, u.must(http.StatusOK, http.MethodGet, path+"?user=bob&ip=192.0.2.2", nil))
	require.Equal(t, 1.0, l["per_user"]["used"])
	require.Equal(t, 1.0, l["per_ip"]["used"])
	got = u.must(http.StatusOK, http.MethodGet, path+"?user=bob&ip=192.0.2.2", nil).JSON(t)
	require.Equal(t, "bob", got["user"])
	require.Equal(t, "192.0.2.2", got["ip"])

	// per_user refuses alice's sixth request; the usage shows it spent.
	for range 2 {
		require.Equal(t, http.StatusOK, u.call("alice-key-123456", "192.0.2.1").Code)
	}
	require.Equal(t, http.StatusTooManyRequests, u.call("alice-key-123456", "192.0.2.1").Code)
	l = limitsOf(t, u.must(http.StatusOK, http.MethodGet, path+"?user=alice", nil))
	require.Equal(t, 5.0, l["per_user"]["used"])
	require.Equal(t, 0.0, l["per_user"]["remaining"])
	require.Equal(t, 6.0, l["global"]["used"], "a refused request charges no limit")
}

func TestGroupUsageErrors(t *testing.T) {
	u := newUsageEnv(t)
	u.must(http.StatusCreated, http.MethodPost, groupsPath, premium)
	u.must(http.StatusCreated, http.MethodPost, groupsPath, `{"id":"plain","name":"Plain"}`)
	u.must(http.StatusCreated, http.MethodPost, "/api/v1/gateways", `{"id":"other","name":"other"}`)
	path := groupsPath + "/premium/usage"

	requireFields(t, u.do(http.MethodGet, path+"?ip=nope&user=a%20b&route=x/y", nil), "ip", "user", "route")
	requireError(t, u.do(http.MethodGet, groupsPath+"/missing/usage", nil), http.StatusNotFound, "not_found")
	requireError(t, u.do(http.MethodGet, "/api/v1/gateways/other/consumer-groups/premium/usage", nil), http.StatusNotFound, "not_found")
	requireError(t, u.do(http.MethodGet, "/api/v1/gateways/nope/consumer-groups/premium/usage", nil), http.StatusNotFound, "not_found")
	r := u.do(http.MethodPost, path, `{}`)
	requireError(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
	require.Equal(t, "GET, HEAD", r.Header.Get("Allow"))
	r = u.do(http.MethodGet, path, nil, "X-API-KEY", "")
	requireError(t, r, http.StatusUnauthorized, "unauthorized")

	require.Equal(t, []any{}, u.must(http.StatusOK, http.MethodGet, groupsPath+"/plain/usage", nil).JSON(t)["limits"])

	u.limiter.SetDown(true)
	r = u.do(http.MethodGet, path, nil)
	requireError(t, r, http.StatusServiceUnavailable, "unavailable")
	require.Equal(t, "1", r.Header.Get("Retry-After"))
	require.NotContains(t, r.Body, errLimiterDown.Error(), "the cause is logged, not shown")
}

// FuzzGroupUsageQuery sends arbitrary query strings to the usage endpoint:
// the answer is JSON, 200 or 400, never a 500, and a 200 echoes only valid
// parameters.
func FuzzGroupUsageQuery(f *testing.F) {
	for _, seed := range []string{"", "user=alice", "ip=192.0.2.1", "ip=2001:db8::1%25eth0", "user=alice&ip=::ffff:192.0.2.1&route=orders",
		"user=a%20b", "ip=999.1.1.1", "route=x/y", "user=&ip=", "user=%ff", "ip=1.2.3.4&ip=nope", "user=" + strings.Repeat("a", 600)} {
		f.Add(seed)
	}
	u := newUsageEnv(f)
	f.Fuzz(func(t *testing.T, query string) {
		u.t = t
		if rec := u.do(http.MethodPut, groupsPath+"/premium", premium); rec.Code != http.StatusOK && rec.Code != http.StatusCreated {
			t.Fatalf("setup: %d %s", rec.Code, rec.Body)
		}
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.URL.Path = groupsPath + "/premium/usage"
		req.URL.RawQuery = query
		req.Header.Set("X-API-KEY", testKey)
		rec := httptest.NewRecorder()
		u.h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
			t.Fatalf("%q: status %d: %s", query, rec.Code, rec.Body)
		}
		var body admin.GroupUsage
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("%q: body is not JSON: %q", query, rec.Body)
		}
		if rec.Code == http.StatusOK && len(body.Limits) != 3 {
			t.Fatalf("%q: %d limits: %s", query, len(body.Limits), rec.Body)
		}
	})
}
