package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/internal/testenv"
	"github.com/gatehousehq/gatehouse/internal/testnet"
	"github.com/gatehousehq/gatehouse/store"
)

// slowStore's Snapshot waits until release is closed, as a store holding a
// large configuration takes a while to read.
type slowStore struct {
	store.Store
	release chan struct{}
}

func (s *slowStore) Snapshot(ctx context.Context) (*store.Snapshot, error) {
	select {
	case <-s.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.Store.Snapshot(ctx)
}

// TestProbesWhileLoading: while the configuration loads, the admin listener
// answers /healthz 200 and /readyz 503 without the admin key, and every other
// request on either listener 503; once loaded, /readyz is 200 and the
// gateway serves.
func TestProbesWhileLoading(t *testing.T) {
	t.Parallel()
	dataAddr, adminAddr := freeAddr(t), freeAddr(t)
	o, err := parseFlags([]string{"-listen", dataAddr, "-admin-listen", adminAddr, "-admin-key", testAdminKey, "-store", "memory"},
		envFunc(nil), io.Discard)
	require.NoError(t, err)
	release := make(chan struct{})
	o.wrapStore = func(s store.Store) store.Store { return &slowStore{Store: s, release: release} }
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() { done <- serve(ctx, o, os.Getenv, &stdout, &stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err, "stderr:\n%s", stderr.String())
		case <-time.After(5 * time.Second):
			t.Error("serve did not return within 5s of ctx cancellation")
		}
	})
	admin, data := "http://"+adminAddr, "http://"+dataAddr

	require.Eventually(t, func() bool {
		resp, err := client.Get(admin + healthzPath)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 5*time.Second, 5*time.Millisecond, "the admin listener serves /healthz while loading")
	r := do(t, http.MethodGet, admin+readyzPath, "")
	require.Equal(t, http.StatusServiceUnavailable, r.status)
	require.Equal(t, "not ready: gatehouse: configuration not loaded yet\n", string(r.body))
	require.Equal(t, "text/plain; charset=utf-8", r.header.Get("Content-Type"))
	r = do(t, http.MethodHead, admin+healthzPath, "")
	require.Equal(t, http.StatusOK, r.status)

	r = do(t, http.MethodGet, admin+"/api/consumers", "", "X-API-KEY", testAdminKey)
	require.Equal(t, http.StatusServiceUnavailable, r.status)
	require.Equal(t, "unavailable", r.json(t)["error"])
	require.Equal(t, "1", r.header.Get("Retry-After"))
	r = do(t, http.MethodGet, data+"/orders/1", "")
	require.Equal(t, http.StatusServiceUnavailable, r.status)
	require.Contains(t, r.json(t)["message"], "starting")
	require.NotContains(t, stdout.String(), "listening on", "the listening lines say the gateway is ready")

	close(release)
	pollStatus(t, http.StatusOK, http.MethodGet, admin+readyzPath)
	r = do(t, http.MethodGet, admin+readyzPath, "")
	require.Equal(t, "ready\n", string(r.body))
	require.Contains(t, stdout.String(), "admin API listening on "+adminAddr)
	r = do(t, http.MethodGet, admin+"/api/consumers", "", "X-API-KEY", testAdminKey)
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	r = do(t, http.MethodGet, admin+"/api/consumers", "")
	require.Equal(t, http.StatusUnauthorized, r.status, "the admin API still needs its key")
	r = do(t, http.MethodGet, data+"/orders/1", "")
	require.Equal(t, http.StatusNotFound, r.status, "the data plane serves its (empty) routes")
	require.Equal(t, http.StatusOK, do(t, http.MethodGet, admin+healthzPath, "").status)
}

// TestProbesOnlyOnAdminListener: the data plane leaves the probe paths to
// its routes, and the probes never need the admin key.
func TestProbesOnlyOnAdminListener(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	g := startGateway(t, "-store", "memory")
	r := g.adminDo(t, http.MethodPost, "/api/routes", `{"id":"all","frontend":{"paths":["/"]},"backend":{"target":"`+up.URL+`"}}`)
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	for _, path := range []string{healthzPath, readyzPath} {
		r := pollStatus(t, http.StatusOK, http.MethodGet, g.data+path)
		require.Equal(t, path, decodeEcho(t, r).Path, "the data plane proxies %s to the route's backend", path)
		r = do(t, http.MethodGet, g.admin+path, "", "X-API-KEY", "wrong-key")
		require.Equal(t, http.StatusOK, r.status, "%s on the admin listener, whatever the key", path)
	}
}

// via returns the service URL u with its host replaced by the proxy's.
func via(t *testing.T, u string, p *testnet.Proxy) string {
	t.Helper()
	parsed, err := url.Parse(u)
	require.NoError(t, err)
	parsed.Host = p.Addr()
	return parsed.String()
}

// TestReadyzFollowsPostgresOutage takes PostgreSQL away from a gateway: it
// stays ready (and serves its last good view) during a short outage, turns
// unready once -ready-max-store-outage has passed, and is ready again when
// PostgreSQL is back; /healthz answers 200 throughout.
func TestReadyzFollowsPostgresOutage(t *testing.T) {
	t.Parallel()
	dsn, schema := testenv.PostgresSchema(t)
	conn, err := pgx.Connect(t.Context(), dsn)
	require.NoError(t, err)
	_, err = conn.Exec(t.Context(), "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize())
	require.NoError(t, err)
	require.NoError(t, conn.Close(t.Context()))
	parsed, err := url.Parse(dsn)
	require.NoError(t, err)
	host := parsed.Host
	if _, _, err := net.SplitHostPort(host); err != nil {
		host = net.JoinHostPort(host, "5432")
	}
	pg := testnet.NewProxy(t, host)
	q := parsed.Query()
	q.Set("search_path", schema) // the test's own tables
	parsed.RawQuery = q.Encode()
	storeURL := via(t, parsed.String(), pg)
	var key [32]byte
	_, _ = rand.Read(key[:])

	const maxOutage = 2 * time.Second
	up := newUpstream(t)
	g := startGateway(t, "-store", storeURL, "-secret-keys", "k1:"+base64.StdEncoding.EncodeToString(key[:]),
		"-store-check-interval", "100ms", "-ready-max-store-outage", maxOutage.String())
	created := func(r response) map[string]any {
		t.Helper()
		require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
		return r.json(t)
	}
	created(g.adminDo(t, http.MethodPost, "/api/consumers", `{"username":"alice"}`))
	created(g.adminDo(t, http.MethodPost, "/api/consumers/alice/credentials", `{"name":"main","plugins":{"key-auth":{"key":"alice-secret-key"}}}`))
	created(g.adminDo(t, http.MethodPost, "/api/routes",
		`{"id":"orders","frontend":{"paths":["/orders"]},"backend":{"target":"`+up.URL+`"},"plugins":{"key-auth":{}}}`))
	pollStatus(t, http.StatusOK, http.MethodGet, g.data+"/orders/1", "apikey", "alice-secret-key")
	require.Equal(t, http.StatusOK, do(t, http.MethodGet, g.admin+readyzPath, "").status)

	pg.Cut()
	cut := time.Now()
	var unready time.Time
	var body string
	for deadline := cut.Add(maxOutage + 5*time.Second); time.Now().Before(deadline) && unready.IsZero(); {
		require.Equal(t, http.StatusOK, do(t, http.MethodGet, g.admin+healthzPath, "").status, "liveness during the outage")
		r := do(t, http.MethodGet, g.admin+readyzPath, "")
		switch r.status {
		case http.StatusServiceUnavailable:
			unready, body = time.Now(), string(r.body)
		case http.StatusOK:
		default:
			t.Fatalf("readyz: %d %s", r.status, r.body)
		}
		if since := time.Since(cut); since > maxOutage/2 && since < maxOutage*3/4 {
			// A short outage: still ready, and the last good view serves.
			require.Equal(t, http.StatusOK, r.status, "ready %v into the outage: %s", since, r.body)
			require.Equal(t, http.StatusOK, do(t, http.MethodGet, g.data+"/orders/2", "", "apikey", "alice-secret-key").status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	require.False(t, unready.IsZero(), "readyz still 200 %v after the cut (allowed %v)", time.Since(cut), maxOutage)
	took := unready.Sub(cut)
	t.Logf("unready %v after the cut: %s", took, strings.TrimSpace(body))
	// A check under way at the cut counts the outage from its start, a few
	// milliseconds before.
	require.GreaterOrEqual(t, took, maxOutage-100*time.Millisecond, "unready before the allowed outage passed")
	require.True(t, strings.HasPrefix(body, "not ready: gatehouse: store unreachable for "), body)
	for _, secret := range []string{pg.Addr(), schema, "postgres", "127.0.0.1", "dial", "refused"} {
		require.NotContains(t, body, secret, "readyz says nothing of the store's configuration or error")
	}
	require.Equal(t, http.StatusOK, do(t, http.MethodGet, g.data+"/orders/3", "", "apikey", "alice-secret-key").status,
		"unready, the gateway still serves its last good view")

	require.NoError(t, pg.Restore())
	restored := time.Now()
	require.Eventually(t, func() bool {
		require.Equal(t, http.StatusOK, do(t, http.MethodGet, g.admin+healthzPath, "").status)
		return do(t, http.MethodGet, g.admin+readyzPath, "").status == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond, "ready again once PostgreSQL is back")
	t.Logf("ready again %v after the restore", time.Since(restored))
	r := g.adminDo(t, http.MethodGet, "/api/consumers", "")
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
}

func TestProbeFlags(t *testing.T) {
	t.Parallel()
	o, err := parseFlags(nil, envFunc(nil), io.Discard)
	require.NoError(t, err)
	require.Equal(t, 30*time.Second, o.readyMaxStoreOutage)
	require.Equal(t, 5*time.Second, o.storeCheckInterval)
	o, err = parseFlags(nil, envFunc(map[string]string{"GATEHOUSE_READY_MAX_STORE_OUTAGE": "1m", "GATEHOUSE_STORE_CHECK_INTERVAL": "0"}), io.Discard)
	require.NoError(t, err)
	require.Equal(t, time.Minute, o.readyMaxStoreOutage)
	require.Zero(t, o.storeCheckInterval)
	for _, args := range [][]string{{"-ready-max-store-outage", "-1s"}, {"-store-check-interval", "-1s"}} {
		_, err := parseFlags(args, envFunc(nil), io.Discard)
		require.ErrorContains(t, err, args[0])
		require.ErrorContains(t, err, "negative")
	}
	_, err = parseFlags(nil, envFunc(map[string]string{"GATEHOUSE_READY_MAX_STORE_OUTAGE": "soon"}), io.Discard)
	require.ErrorContains(t, err, "GATEHOUSE_READY_MAX_STORE_OUTAGE")
}
