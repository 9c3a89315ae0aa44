package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/internal/testenv"
	"github.com/gatehousehq/gatehouse/internal/testnet"
	"github.com/gatehousehq/gatehouse/keyring"
)

const adminKey = "multi-instance-admin-key"

// cluster is a deployment of n instances on one PostgreSQL schema and one
// Redis prefix of the test's own, each behind its own HTTP server. Instances
// reach PostgreSQL through pg and Redis through rd when they are not nil, so
// that a test can take either away.
func cluster(t testing.TB, n int, pg, rd *testnet.Proxy, logs io.Writer) []*httptest.Server {
	t.Helper()
	dsn, schema := testenv.PostgresSchema(t)
	redisURL := testenv.Redis(t)
	opt, err := redis.ParseURL(redisURL)
	require.NoError(t, err)
	if pg != nil {
		dsn = via(t, dsn, pg)
	}
	if rd != nil {
		redisURL = via(t, redisURL, rd)
	}
	if logs == nil {
		logs = io.Discard
	}
	rc := redis.NewClient(opt)
	t.Cleanup(func() { rc.Close() })
	prefix := testenv.RedisPrefix(t, rc)
	_, keys := keyring.Generate()

	var out []*httptest.Server
	for i := range n {
		inst, err := newInstance(t.Context(), config{
			Postgres: dsn, Redis: redisURL, SecretKeys: keys, AdminKey: adminKey,
			Schema: schema, RedisPrefix: prefix,
			Logger: slog.New(slog.NewTextHandler(logs, nil)),
		})
		require.NoError(t, err, "instance %d", i)
		srv := httptest.NewServer(inst.handler)
		t.Cleanup(func() {
			srv.Close()
			require.NoError(t, inst.Close())
		})
		out = append(out, srv)
	}
	return out
}

// via returns the service URL u with its host replaced by the proxy's.
func via(t testing.TB, u string, p *testnet.Proxy) string {
	t.Helper()
	parsed, err := url.Parse(u)
	require.NoError(t, err)
	parsed.Host = p.Addr()
	return parsed.String()
}

func send(t testing.TB, method, url, body string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// get sends GET url with the key; for goroutines, which must not end the test.
func get(url, key string) (int, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("apikey", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Body.Close()
}

// within polls url with the key until it answers want, and fails after d.
func within(t testing.TB, d time.Duration, url, key string, want int) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		status, body := send(t, http.MethodGet, url, "", "apikey", key)
		if status == want {
			return time.Since(start)
		}
		if time.Since(start) > d {
			t.Fatalf("GET %s: %d %s after %v, want %d", url, status, body, d, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestTwoInstancesShareEverything starts two instances on one PostgreSQL and
// one Redis: a consumer and key created through A authenticate on B within
// 1 s; a key deleted through A is refused by B within 1 s; a limit of 100
// per minute admits exactly 100 of 300 requests spread over both.
func TestTwoInstancesShareEverything(t *testing.T) {
	srv := cluster(t, 2, nil, nil, nil)
	a, b := srv[0].URL, srv[1].URL
	admin := func(base, method, path, body string) (int, map[string]any) {
		t.Helper()
		status, raw := send(t, method, base+"/admin"+path, body, "X-API-KEY", adminKey)
		var out map[string]any
		if raw != "" {
			require.NoError(t, json.Unmarshal([]byte(raw), &out), "body: %s", raw)
		}
		return status, out
	}

	status, _ := admin(a, http.MethodPost, "/api/consumers", `{"username":"alice"}`)
	require.Equal(t, http.StatusCreated, status)
	status, cred := admin(a, http.MethodPost, "/api/consumers/alice/credentials", `{"name":"main","plugins":{"key-auth":{}}}`)
	require.Equal(t, http.StatusCreated, status)
	key := cred["plugins"].(map[string]any)["key-auth"].(map[string]any)["key"].(string)
	id := cred["id"].(string)

	took := within(t, time.Second, b+"/whoami", key, http.StatusOK)
	t.Logf("a key created on A authenticated on B after %v", took)
	within(t, time.Second, a+"/whoami", key, http.StatusOK) // A's own view follows its writes asynchronously too
	_, body := send(t, http.MethodGet, b+"/whoami", "", "apikey", key)
	require.Equal(t, "alice\n", body)

	// 300 requests, spread over both instances from 6 clients at once: the
	// limit is shared, 100 pass (and one more for each 600 ms the requests
	// take: the limit's capacity comes back continuously, GCRA).
	var (
		mu     sync.Mutex
		counts = map[int]int{}
		wg     sync.WaitGroup
	)
	start := time.Now()
	for c := range 6 {
		wg.Go(func() {
			for i := range 50 {
				status, err := get(fmt.Sprintf("%s/orders/%d", srv[(c+i)%2].URL, i), key)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				counts[status]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	refill := int(time.Since(start) / (time.Minute / ordersPerMinute))
	allowed := counts[http.StatusOK]
	require.True(t, allowed >= ordersPerMinute && allowed <= ordersPerMinute+refill,
		"%d of 300 let through, want %d (+%d for the time the requests took); statuses %v", allowed, ordersPerMinute, refill, counts)
	require.Equal(t, map[int]int{http.StatusOK: allowed, http.StatusTooManyRequests: 300 - allowed}, counts)

	status, _ = admin(a, http.MethodDelete, "/api/consumers/alice/credentials/"+id, "")
	require.Equal(t, http.StatusNoContent, status)
	took = within(t, time.Second, b+"/whoami", key, http.StatusUnauthorized)
	t.Logf("a key deleted on A was refused by B after %v", took)

	// The admin API of either instance reads the same configuration.
	status, list := admin(b, http.MethodGet, "/api/consumers", "")
	require.Equal(t, http.StatusOK, status)
	require.EqualValues(t, 1, list["total"])
}

// jsonField returns the string field name of the JSON object body.
func jsonField(t testing.TB, body, name string) string {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &m), "body: %s", body)
	s, _ := m[name].(string)
	return s
}
