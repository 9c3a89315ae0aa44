package main

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var metricsLineRE = regexp.MustCompile(`(?m)^metrics listening on (\S+)$`)

// TestMetricsAndDebugLog starts the gateway with -metrics-listen and
// -log-level debug, sends refused and allowed requests, and reads what an
// operator would: /metrics on its own listener, and the debug lines.
func TestMetricsAndDebugLog(t *testing.T) {
	t.Parallel()
	g := startGateway(t, "-metrics-listen", "127.0.0.1:0", "-log-level", "debug")
	m := metricsLineRE.FindStringSubmatch(g.stdout.String())
	require.NotNil(t, m, "stdout:\n%s", g.stdout.String())
	metrics := "http://" + m[1] + "/metrics"

	require.Equal(t, http.StatusCreated, g.adminDo(t, http.MethodPut, "/api/routes/orders",
		`{"frontend":{"paths":["/orders"]},"backend":{"target":"http://127.0.0.1:1"},"plugins":{"key-auth":{}}}`).status)
	require.Equal(t, http.StatusCreated, g.adminDo(t, http.MethodPost, "/api/consumers", `{"username":"alice"}`).status)
	require.Equal(t, http.StatusCreated, g.adminDo(t, http.MethodPost, "/api/consumers/alice/credentials",
		`{"name":"k","plugins":{"key-auth":{"key":"alice-metrics-key-0001"}}}`).status)
	waitStatus(t, g.data+"/orders", http.StatusBadGateway, "apikey", "alice-metrics-key-0001") // the backend is down
	require.Equal(t, http.StatusUnauthorized, do(t, http.MethodGet, g.data+"/orders", "", "apikey", "wrong-metrics-key-0001").status)
	require.Equal(t, http.StatusNotFound, do(t, http.MethodGet, g.data+"/nowhere", "").status)

	r := do(t, http.MethodGet, metrics, "")
	require.Equal(t, http.StatusOK, r.status)
	body := string(r.body)
	require.Contains(t, body, `gatehouse_requests_total{consumer_group="",gateway="default",outcome="401",route="orders"}`)
	require.Contains(t, body, `gatehouse_requests_total{consumer_group="",gateway="default",outcome="502",route="orders"}`)
	require.Contains(t, body, `gatehouse_requests_total{consumer_group="",gateway="default",outcome="404",route=""} 1`)
	require.Contains(t, body, `gatehouse_auth_duration_seconds_count{gateway="default",route="orders"}`)
	require.Contains(t, body, "go_goroutines", "the Go runtime's metrics are there too")
	require.Equal(t, http.StatusNotFound, do(t, http.MethodGet, "http://"+m[1]+"/api/consumers", "").status, "the metrics listener serves nothing else")
	require.Equal(t, http.StatusUnauthorized, do(t, http.MethodGet, g.admin+"/metrics", "").status, "nor does the admin listener serve metrics without its key")

	logs := g.stderr.String()
	require.Contains(t, logs, `msg="gatehouse: request refused" route=orders status=401 reason="Invalid API key in request" client=127.0.0.1`)
	require.Contains(t, logs, `msg="gatehouse: request refused" route="" status=404`)
	require.NotContains(t, logs, "alice-metrics-key-0001")
	require.NotContains(t, logs, "wrong-metrics-key-0001")
}

func TestLogLevel(t *testing.T) {
	t.Parallel()
	g := startGateway(t, "-log-level", "warn")
	require.Equal(t, http.StatusNotFound, do(t, http.MethodGet, g.data+"/nowhere", "").status)
	require.NotContains(t, g.stderr.String(), "request refused")
	require.NotContains(t, g.stdout.String(), "metrics listening", "no metrics unless asked")

	_, _, err := runExpectingError(t, []string{"-listen", "127.0.0.1:0", "-admin-listen", "127.0.0.1:0", "-admin-key", "k", "-log-level", "loud"}, nil)
	require.ErrorContains(t, err, `-log-level "loud": want debug, info, warn or error`)
	_, _, err = runExpectingError(t, []string{"-listen", "127.0.0.1:0", "-admin-listen", "127.0.0.1:0", "-admin-key", "k", "-metrics-listen", "256.0.0.1:0"}, nil)
	require.ErrorContains(t, err, "-metrics-listen")
}

// waitStatus polls url until it answers want: the gateway's view follows the
// admin API's writes asynchronously.
func waitStatus(t *testing.T, url string, want int, headers ...string) {
	t.Helper()
	require.Eventually(t, func() bool { return do(t, http.MethodGet, url, "", headers...).status == want }, 10e9, 5e6)
}

// TestAdminConsoleFlag: the console is off unless -admin-console asks for
// it, and then served at /ui/ on the admin listener without the key (the
// page holds no data; its API calls need the key).
func TestAdminConsoleFlag(t *testing.T) {
	t.Parallel()
	off := startGateway(t)
	require.NotContains(t, off.stdout.String(), "admin console")
	require.Equal(t, http.StatusUnauthorized, do(t, http.MethodGet, off.admin+"/ui/", "").status, "without the flag /ui/ is an admin path like any other")

	on := startGatewayWith(t, []string{"-listen", "127.0.0.1:0", "-admin-listen", "127.0.0.1:0", "-admin-key", "console-admin-key", "-store", "memory"},
		map[string]string{"GATEHOUSE_ADMIN_CONSOLE": "true"})
	require.Contains(t, on.stdout.String(), "admin console at http://"+strings.TrimPrefix(on.admin, "http://")+"/ui/")
	r := do(t, http.MethodGet, on.admin+"/ui/", "")
	require.Equal(t, http.StatusOK, r.status)
	require.Contains(t, string(r.body), "<html")
	require.Equal(t, http.StatusUnauthorized, do(t, http.MethodGet, on.admin+"/api/consumers", "").status, "the API still needs the key")
}
