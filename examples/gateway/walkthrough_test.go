package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestWalkthrough is the five-minute tour of the README, done over real HTTP
// as a newcomer would with curl.
func TestWalkthrough(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	g := startGateway(t)

	// 1. A consumer.
	r := g.adminDo(t, http.MethodPost, "/api/consumers", `{"username":"alice"}`)
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	require.Equal(t, "alice", r.json(t)["username"])

	// 2. A key-auth credential with a generated key, shown once.
	r = g.adminDo(t, http.MethodPost, "/api/consumers/alice/credentials", `{"name":"main","plugins":{"key-auth":{}}}`)
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	cred := r.json(t)
	credID, _ := cred["id"].(string)
	require.NotEmpty(t, credID, "credential id: %s", r.body)
	plugins, _ := cred["plugins"].(map[string]any)
	ka, _ := plugins["key-auth"].(map[string]any)
	key, _ := ka["key"].(string)
	require.NotEmpty(t, key, "generated key under plugins.key-auth.key: %s", r.body)

	// 3. A route protected by key-auth.
	r = g.adminDo(t, http.MethodPost, "/api/routes",
		`{"id":"orders","frontend":{"paths":["/orders"]},"backend":{"target":"`+up.URL+`"},"plugins":{"key-auth":{}}}`)
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)

	// 4. Call it with the key: the upstream learns who called.
	r = pollStatus(t, http.StatusOK, http.MethodGet, g.data+"/orders/42", "apikey", key)
	e := decodeEcho(t, r)
	require.Equal(t, "alice", e.User)
	require.Equal(t, "/orders/42", e.Path)

	t.Run("no key", func(t *testing.T) {
		r := do(t, http.MethodGet, g.data+"/orders/42", "")
		require.Equal(t, http.StatusUnauthorized, r.status)
		require.Equal(t, map[string]any{"message": "Missing API key in request"}, r.json(t))
		require.Equal(t, `Key realm="key"`, r.header.Get("WWW-Authenticate"))
	})
	t.Run("wrong key", func(t *testing.T) {
		r := do(t, http.MethodGet, g.data+"/orders/42", "", "apikey", key+"x")
		require.Equal(t, http.StatusUnauthorized, r.status)
		require.Equal(t, map[string]any{"message": "Invalid API key in request"}, r.json(t))
		require.NotEmpty(t, r.header.Get("WWW-Authenticate"))
	})
	t.Run("query parameter", func(t *testing.T) {
		r := do(t, http.MethodGet, g.data+"/orders/42?apikey="+url.QueryEscape(key), "")
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		require.Equal(t, "alice", decodeEcho(t, r).User)
	})
	t.Run("bearer", func(t *testing.T) {
		r := do(t, http.MethodGet, g.data+"/orders/42", "", "Authorization", "Bearer "+key)
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		require.Equal(t, "alice", decodeEcho(t, r).User)
	})
	t.Run("forged consumer header is replaced", func(t *testing.T) {
		r := do(t, http.MethodGet, g.data+"/orders/42", "", "apikey", key, "X-Consumer-Username", "root")
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		require.Equal(t, "alice", decodeEcho(t, r).User)
	})
	t.Run("admin never shows the key again", func(t *testing.T) {
		r := g.adminDo(t, http.MethodGet, "/api/consumers/alice/credentials/"+credID, "")
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		require.NotContains(t, string(r.body), key)
		ka := r.json(t)["plugins"].(map[string]any)["key-auth"].(map[string]any)
		require.NotContains(t, ka, "key")
		require.Equal(t, key[:6]+"..."+key[len(key)-4:], ka["key_preview"])

		r = g.adminDo(t, http.MethodGet, "/api/consumers/alice/credentials", "")
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		require.Contains(t, string(r.body), credID)
		require.NotContains(t, string(r.body), key)
	})
	t.Run("admin without key", func(t *testing.T) {
		r := do(t, http.MethodGet, g.admin+"/api/consumers", "")
		require.Equal(t, http.StatusUnauthorized, r.status)
		require.Equal(t, "unauthorized", r.json(t)["error"])

		r = do(t, http.MethodGet, g.admin+"/api/consumers", "", "X-API-KEY", "wrong-"+testAdminKey)
		require.Equal(t, http.StatusUnauthorized, r.status)

		r = do(t, http.MethodGet, g.admin+"/api/consumers", "", "Authorization", "Bearer "+testAdminKey)
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	})
	t.Run("data plane key is not an admin key", func(t *testing.T) {
		r := do(t, http.MethodGet, g.admin+"/api/consumers", "", "X-API-KEY", key)
		require.Equal(t, http.StatusUnauthorized, r.status)
	})
	t.Run("unknown path", func(t *testing.T) {
		r := do(t, http.MethodGet, g.data+"/nope", "", "apikey", key)
		require.Equal(t, http.StatusNotFound, r.status)
		require.Equal(t, map[string]any{"message": "404 Route Not Found"}, r.json(t))
		r = do(t, http.MethodGet, g.data+"/ordersX", "", "apikey", key)
		require.Equal(t, http.StatusNotFound, r.status, "a path prefix matches whole segments only")
	})
	t.Run("deleted credential stops working", func(t *testing.T) {
		r := g.adminDo(t, http.MethodDelete, "/api/consumers/alice/credentials/"+credID, "")
		require.Equal(t, http.StatusNoContent, r.status, "body: %s", r.body)
		r = pollStatus(t, http.StatusUnauthorized, http.MethodGet, g.data+"/orders/42", "apikey", key)
		require.Equal(t, "Invalid API key in request", r.json(t)["message"])
	})

	// Nothing the gateway printed contains the generated key.
	require.NotContains(t, g.stdout.String(), key)
	require.NotContains(t, g.stderr.String(), key)
	require.NotContains(t, g.stdout.String(), "generated", "no admin key is generated when -admin-key is given")
}

// TestGracefulShutdown checks that a request in flight when the gateway is
// told to stop still gets its answer, and that run then returns nil.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	arrived, release := make(chan struct{}), make(chan struct{})
	up := newSlowUpstream(t, arrived, release)
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(unblock) // even when the test fails early, before the upstream closes
	g := startGateway(t)
	r := g.adminDo(t, http.MethodPost, "/api/routes",
		`{"id":"slow","frontend":{"paths":["/slow"]},"backend":{"target":"`+up+`"}}`)
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	pollStatus(t, http.StatusOK, http.MethodGet, g.data+"/slow/warmup")

	got := make(chan response, 1)
	go func() {
		resp, err := client.Get(g.data + "/slow/inflight")
		if err != nil {
			got <- response{status: -1, body: []byte(err.Error())}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			b = []byte(err.Error())
		}
		got <- response{status: resp.StatusCode, body: b}
	}()
	select {
	case <-arrived:
	case r := <-got:
		t.Fatalf("request ended before reaching the upstream: %d %s", r.status, r.body)
	case <-time.After(5 * time.Second):
		t.Fatal("request did not reach the upstream within 5s")
	}
	g.cancel()
	// Shutdown has begun once the listener refuses new connections.
	deadline := time.Now().Add(2 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", g.dataAddr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		require.True(t, time.Now().Before(deadline), "the data plane still accepts connections after cancellation")
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case err := <-g.done:
		g.done <- err // for the cleanup's check
		t.Fatalf("run returned (%v) while a request was in flight", err)
	default:
	}
	unblock()
	r = <-got
	require.Equal(t, http.StatusOK, r.status, "in-flight request: %s", r.body)
	require.Equal(t, "done", string(r.body))
	err, stopped := g.stop(t)
	require.True(t, stopped)
	require.NoError(t, err)
}

// newSlowUpstream answers "done"; on /slow/inflight it first signals arrived
// and waits for release.
func newSlowUpstream(t *testing.T, arrived, release chan struct{}) string {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow/inflight" {
			close(arrived)
			<-release
		}
		_, _ = io.WriteString(w, "done")
	}))
	t.Cleanup(up.Close)
	return up.URL
}
