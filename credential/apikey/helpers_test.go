package apikey_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/admin"
	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential/apikey"
	"github.com/gatehousehq/gatehouse/keyring"
	rlmemory "github.com/gatehousehq/gatehouse/ratelimit/memory"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store/memory"
)

// t0 is the start of the test clock.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

const adminKey = "admin-key"

// env is a gateway over a memory store with a settable clock and routes:
// "open" (no groups), "a" (group A), "b" (group B), "hidden" (hide_credentials).
type env struct {
	st    *memory.Store
	lim   *rlmemory.Limiter
	ring  *keyring.Ring
	gw    *gatehouse.Gateway
	adm   http.Handler
	clock atomic.Int64 // unix nanoseconds
}

func (e *env) now() time.Time { return time.Unix(0, e.clock.Load()).UTC() }

// advance moves the clock by d.
func (e *env) advance(d time.Duration) { e.clock.Add(int64(d)) }

func newEnv(t testing.TB, extra ...route.Route) *env {
	t.Helper()
	ring, _ := keyring.Generate()
	e := &env{st: memory.New(), ring: ring}
	e.clock.Store(t0.UnixNano())
	e.lim = rlmemory.New(rlmemory.WithClock(e.now))
	plug := func(s string) map[string]json.RawMessage {
		return map[string]json.RawMessage{apikey.Name: json.RawMessage(s)}
	}
	routes := append([]route.Route{
		{ID: "open", Plugins: plug(`{}`)},
		{ID: "a", Groups: []string{"A"}, Plugins: plug(`{}`)},
		{ID: "b", Groups: []string{"B"}, Plugins: plug(`{}`)},
		{ID: "hidden", Plugins: plug(`{"hide_credentials": true}`)},
	}, extra...)
	gw, err := gatehouse.New(context.Background(), e.st,
		gatehouse.WithPlugins(apikey.Definition{Ring: e.ring, Now: e.now}),
		gatehouse.WithClock(e.now), gatehouse.WithLimiter(e.lim),
		gatehouse.WithRoutes(routes...))
	require.NoError(t, err)
	t.Cleanup(func() { _ = gw.Close() })
	e.gw = gw
	e.adm = gw.AdminHandler(admin.WithKey(adminKey))
	for _, g := range []string{"A", "B"} {
		code, body := e.admin(t, http.MethodPost, "/api/groups", `{"id":"`+g+`","name":"group `+g+`"}`)
		require.Equal(t, http.StatusCreated, code, body)
	}
	return e
}

// admin sends one admin request and returns the status and body.
func (e *env) admin(t testing.TB, method, path, body string, hdr ...string) (int, string) {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	r.Header.Set("X-API-KEY", adminKey)
	w := httptest.NewRecorder()
	e.adm.ServeHTTP(w, r)
	return w.Code, w.Body.String()
}

// key creates an API key from body and returns the response object.
func (e *env) key(t testing.TB, body string) map[string]any {
	t.Helper()
	code, out := e.admin(t, http.MethodPost, "/api/apikeys", body)
	require.Equal(t, http.StatusCreated, code, out)
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &m))
	require.NoError(t, e.gw.Refresh(context.Background()))
	return m
}

// result is what a protected handler saw.
type result struct {
	code     int
	body     string
	consumer string
	headers  http.Header
	auth     string
	// sent are the response headers.
	sent http.Header
}

// call sends a request to route through gw.Protect.
func (e *env) call(t testing.TB, routeID, method string, hdr ...string) result {
	t.Helper()
	var seen result
	h := e.gw.Protect(routeID, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := consumer.FromContext(r.Context())
		seen.consumer = c.Username
		seen.headers = r.Header.Clone()
		w.WriteHeader(http.StatusOK)
	}))
	r := httptest.NewRequest(method, "/x", nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	seen.code, seen.body, seen.auth, seen.sent = w.Code, w.Body.String(), w.Header().Get("WWW-Authenticate"), w.Header()
	return seen
}

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
}

func pair(id, secret string) []string {
	return []string{"Otoroshi-Client-Id", id, "Otoroshi-Client-Secret", secret}
}
