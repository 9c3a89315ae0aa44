package main

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/internal/testenv"
	"github.com/gatehousehq/gatehouse/internal/testlog"
	"github.com/gatehousehq/gatehouse/internal/testnet"
)

// outageFor is how long the outage tests keep a server away: 3 s by default,
// GATEHOUSE_TEST_OUTAGE (a Go duration, e.g. 30s) for a longer run.
func outageFor(t *testing.T) time.Duration {
	if v := os.Getenv("GATEHOUSE_TEST_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		require.NoError(t, err, "GATEHOUSE_TEST_OUTAGE")
		return d
	}
	return 3 * time.Second
}

// proxyTo starts a proxy to the host of the service URL u.
func proxyTo(t testing.TB, u string) *testnet.Proxy {
	t.Helper()
	parsed, err := url.Parse(u)
	require.NoError(t, err)
	host := parsed.Host
	if _, _, err := net.SplitHostPort(host); err != nil {
		host = net.JoinHostPort(host, map[string]string{"postgres": "5432", "postgresql": "5432", "redis": "6379"}[parsed.Scheme])
	}
	return testnet.NewProxy(t, host)
}

// traffic sends requests with key to every server's path, one after the
// other, until stop is called, and counts the answers by status.
type traffic struct {
	stop   chan struct{}
	done   sync.WaitGroup
	mu     sync.Mutex
	counts map[int]int
	errs   atomic.Int64
}

func startTraffic(srv []string, path, key string) *traffic {
	tr := &traffic{stop: make(chan struct{}), counts: map[int]int{}}
	tr.done.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-tr.stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			status, err := get(srv[i%len(srv)]+path, key)
			if err != nil {
				tr.errs.Add(1)
				continue
			}
			tr.mu.Lock()
			tr.counts[status]++
			tr.mu.Unlock()
		}
	})
	return tr
}

// end stops the traffic and returns its counts.
func (tr *traffic) end() map[int]int {
	close(tr.stop)
	tr.done.Wait()
	return tr.counts
}

// newKey creates consumer username with a key-auth credential through the
// admin API at base and returns the key.
func newKey(t testing.TB, base, username string) string {
	t.Helper()
	status, body := send(t, http.MethodPost, base+"/admin/api/consumers", `{"username":"`+username+`"}`, "X-API-KEY", adminKey)
	require.Equal(t, http.StatusCreated, status, "body: %s", body)
	status, body = send(t, http.MethodPost, base+"/admin/api/consumers/"+username+"/credentials",
		`{"name":"main","plugins":{"key-auth":{"key":"`+username+`-secret-key"}}}`, "X-API-KEY", adminKey)
	require.Equal(t, http.StatusCreated, status, "body: %s", body)
	return username + "-secret-key"
}

// TestPostgresOutage takes PostgreSQL away from two instances under traffic
// (every connection dropped, new ones refused, as a stopped server does) and
// brings it back: known keys are served throughout with no error, the admin
// API answers 503 meanwhile, no write committed before is lost, and a change
// made after the recovery reaches the other instance within 1 s.
func TestPostgresOutage(t *testing.T) {
	pg := proxyTo(t, testenv.Postgres(t))
	srv := cluster(t, 2, pg, nil, nil)
	a, b := srv[0].URL, srv[1].URL
	key := newKey(t, a, "alice")
	for _, base := range []string{a, b} { // A's own view follows its writes too, asynchronously
		within(t, time.Second, base+"/whoami", key, http.StatusOK)
	}
	for i := range 20 {
		status, body := send(t, http.MethodPost, a+"/admin/api/consumers", fmt.Sprintf(`{"username":"before-%02d"}`, i), "X-API-KEY", adminKey)
		require.Equal(t, http.StatusCreated, status, "body: %s", body)
	}

	tr := startTraffic([]string{a, b}, "/whoami", key)
	pg.Cut()
	down := outageFor(t)
	t.Logf("PostgreSQL away for %v", down)
	deadline := time.Now().Add(down)
	var writes, refused int
	for time.Now().Before(deadline) {
		status, body := send(t, http.MethodPost, a+"/admin/api/consumers", `{"username":"during"}`, "X-API-KEY", adminKey)
		writes++
		if status == http.StatusServiceUnavailable {
			refused++
			require.Equal(t, "unavailable", jsonField(t, body, "error"))
		}
		status, _ = send(t, http.MethodGet, b+"/admin/api/consumers", "", "X-API-KEY", adminKey)
		require.Equal(t, http.StatusServiceUnavailable, status, "a read while the store is away")
		time.Sleep(100 * time.Millisecond)
	}
	require.Equal(t, writes, refused, "every admin write while the store is away is a 503")
	require.NoError(t, pg.Restore())

	// The admin API works again without a restart.
	var status int
	require.Eventually(t, func() bool {
		status, _ = send(t, http.MethodGet, a+"/admin/api/consumers?limit=1", "", "X-API-KEY", adminKey)
		return status == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond, "admin API after the recovery: %d", status)
	counts := tr.end()
	require.Zero(t, tr.errs.Load(), "transport errors on the data plane")
	require.Equal(t, []int{http.StatusOK}, keys(counts), "every data-plane answer during the outage: %v", counts)
	t.Logf("data plane during the outage: %v", counts)

	// Nothing committed is lost; a change made now reaches B within 1 s.
	status, body := send(t, http.MethodGet, b+"/admin/api/consumers?limit=1000", "", "X-API-KEY", adminKey)
	require.Equal(t, http.StatusOK, status)
	for i := range 20 {
		require.Contains(t, body, fmt.Sprintf(`"username":"before-%02d"`, i))
	}
	require.NotContains(t, body, `"username":"during"`, "a write answered 503 did not happen")
	bob := newKey(t, a, "bob")
	took := within(t, time.Second, b+"/whoami", bob, http.StatusOK)
	t.Logf("after the recovery, a key made on A authenticated on B after %v", took)
}

// TestRedisOutage takes Redis away from two instances: the strict limit
// (/orders, allow_degradation false) refuses with 500, the lenient one
// (/catalog) lets requests through, routes without a limit are untouched,
// each instance logs the outage once, and everything is back when Redis is.
func TestRedisOutage(t *testing.T) {
	rd := proxyTo(t, testenv.Redis(t))
	var logs testlog.Buffer
	srv := cluster(t, 2, nil, rd, &logs)
	a, b := srv[0].URL, srv[1].URL
	key := newKey(t, a, "alice")
	for _, base := range []string{a, b} { // A's own view follows its writes too, asynchronously
		within(t, time.Second, base+"/whoami", key, http.StatusOK)
	}

	plain := startTraffic([]string{a, b}, "/whoami", key)
	lenient := startTraffic([]string{a, b}, "/catalog", key)
	rd.Cut()
	down := outageFor(t)
	t.Logf("Redis away for %v", down)
	time.Sleep(down / 2)
	for _, base := range []string{a, b} {
		status, _ := send(t, http.MethodGet, base+"/orders/2", "", "apikey", key)
		require.Equal(t, http.StatusInternalServerError, status, "a strict limit fails closed")
	}
	time.Sleep(down / 2)
	require.NoError(t, rd.Restore())
	for _, base := range []string{a, b} {
		took := within(t, 5*time.Second, base+"/orders/3", key, http.StatusOK)
		t.Logf("the strict limit answered again %v after Redis was back", took)
	}
	for name, tr := range map[string]*traffic{"/whoami": plain, "/catalog": lenient} {
		counts := tr.end()
		require.Zero(t, tr.errs.Load(), "%s: transport errors", name)
		require.Equal(t, []int{http.StatusOK}, keys(counts), "%s during the outage: %v", name, counts)
	}
	// Logged once per instance per outage, not per request (thousands
	// were sent): connections the pool made during the outage can fail once
	// more after it, which logs one more outage and its end.
	out := logs.String()
	outages, ends := strings.Count(out, "rate limiter unavailable"), strings.Count(out, "rate limiter recovered")
	require.True(t, outages >= 2 && outages <= 6, "%d outage lines:\n%s", outages, out)
	require.Equal(t, outages, ends, "every outage line has its recovery:\n%s", out)
}

func keys(m map[int]int) []int {
	var out []int
	for k := range m {
		out = append(out, k)
	}
	return out
}
