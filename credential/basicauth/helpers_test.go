package basicauth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/admin"
	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential/basicauth"
	"github.com/gatehousehq/gatehouse/internal/testlog"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store/memory"
)

const adminKey = "admin-key"

// env is a gateway over a memory store with basic-auth registered, written to
// through its admin API.
type env struct {
	t       *testing.T
	gw      *gatehouse.Gateway
	adm     http.Handler
	cache   *basicauth.Cache
	limiter *basicauth.Limiter
}

// newEnv starts a gateway whose routes are given as id → basic-auth settings.
// Hashes use bcrypt.MinCost so that tests stay fast. The gateway has a cache
// and a limiter of its own (DefaultLimit slots unless limiter is given).
func newEnv(t *testing.T, routes map[string]string, limiter ...*basicauth.Limiter) *env {
	t.Helper()
	cache := basicauth.NewCache(0)
	l := basicauth.NewLimiter(0, basicauth.WithRefusalDelay(0))
	if len(limiter) > 0 {
		l = limiter[0]
	}
	var rs []route.Route
	for id, settings := range routes {
		rs = append(rs, basicRoute(id, settings))
	}
	gw, err := gatehouse.New(context.Background(), memory.New(),
		gatehouse.WithPlugins(basicauth.Definition{Cost: bcrypt.MinCost, Cache: cache, Limiter: l}),
		gatehouse.WithRoutes(rs...))
	require.NoError(t, err)
	t.Cleanup(func() { _ = gw.Close() })
	return &env{t: t, gw: gw, adm: gw.AdminHandler(admin.WithKey(adminKey)), cache: cache, limiter: l}
}

func basicRoute(id, settings string) route.Route {
	return route.Route{ID: id, Plugins: map[string]json.RawMessage{basicauth.Name: json.RawMessage(settings)}}
}

// admin sends one admin request and returns the response.
func (e *env) admin(method, path, body string) *httptest.ResponseRecorder {
	e.t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-API-KEY", adminKey)
	w := httptest.NewRecorder()
	e.adm.ServeHTTP(w, r)
	return w
}

// must sends an admin request that must answer want.
func (e *env) must(want int, method, path, body string) *httptest.ResponseRecorder {
	e.t.Helper()
	w := e.admin(method, path, body)
	require.Equal(e.t, want, w.Code, "%s %s: %s", method, path, w.Body.String())
	return w
}

func (e *env) consumer(name string) {
	e.t.Helper()
	e.must(http.StatusCreated, http.MethodPost, "/api/consumers", `{"username":"`+name+`"}`)
}

// credential creates credential id of consumer owner with basic-auth settings;
// extra is added to the credential's JSON (`"enabled":false`, ...).
func (e *env) credential(owner, id, settings string, extra ...string) {
	e.t.Helper()
	body := `{"id":"` + id + `","name":"` + id + `","plugins":{"basic-auth":` + settings + `}`
	for _, x := range extra {
		body += "," + x
	}
	e.must(http.StatusCreated, http.MethodPost, "/api/consumers/"+owner+"/credentials", body+"}")
}

func (e *env) refresh() {
	e.t.Helper()
	require.NoError(e.t, e.gw.Refresh(context.Background()))
}

// result is what a request through a protected route came back with.
type result struct {
	status    int
	message   string
	challenge string
	seen      seen
}

// seen is what the upstream handler saw.
type seen struct {
	Consumer      string `json:"consumer"`
	Credential    string `json:"credential"`
	Authorization string `json:"authorization"`
	Anonymous     string `json:"anonymous"`
	Username      string `json:"username"`
}

var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	var s seen
	if id, ok := consumer.IdentityFromContext(r.Context()); ok {
		s.Consumer, s.Credential = id.Consumer.Username, id.CredentialID
	}
	s.Authorization = r.Header.Get("Authorization")
	s.Anonymous = r.Header.Get(gatehouse.HeaderAnonymousConsumer)
	s.Username = r.Header.Get(gatehouse.HeaderConsumerUsername)
	_ = json.NewEncoder(w).Encode(s)
})

// call sends GET with the given Authorization header ("" for none) to route.
func (e *env) call(routeID, authorization string) result {
	e.t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if authorization != "" {
		r.Header.Set("Authorization", authorization)
	}
	w := httptest.NewRecorder()
	e.gw.Protect(routeID, echo).ServeHTTP(w, r)
	out := result{status: w.Code, challenge: w.Header().Get("WWW-Authenticate")}
	if w.Code == http.StatusOK {
		require.NoError(e.t, json.Unmarshal(w.Body.Bytes(), &out.seen))
	} else {
		var m struct{ Message string }
		require.NoError(e.t, json.Unmarshal(w.Body.Bytes(), &m), w.Body.String())
		out.message = m.Message
	}
	return out
}

// basic returns the Authorization value of Basic credentials.
func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func discard() *slog.Logger { return testlog.New(io.Discard) }
