package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/internal/testlog"
)

const testAdminKey = "test-admin-key"

// syncBuffer is an io.Writer safe for the gateway's goroutines and the test's.
type syncBuffer = testlog.Buffer

// gateway is a running reference gateway, started by startGateway.
type gateway struct {
	dataAddr, adminAddr string // host:port as printed
	data, admin         string // base URLs
	stdout, stderr      *syncBuffer
	cancel              context.CancelFunc
	done                chan error // receives run's result once
}

var (
	dataLineRE  = regexp.MustCompile(`(?m)^data plane listening on (\S+)$`)
	adminLineRE = regexp.MustCompile(`(?m)^admin API listening on (\S+)$`)
)

// withOwnStore returns env with GATEHOUSE_STORE set to a new SQLite file in
// a temporary directory, unless env has it already.
func withOwnStore(t *testing.T, env map[string]string) map[string]string {
	t.Helper()
	if _, ok := env["GATEHOUSE_STORE"]; ok {
		return env
	}
	out := map[string]string{"GATEHOUSE_STORE": "sqlite://" + filepath.Join(storeDir(t), "gatehouse.db")}
	for k, v := range env {
		out[k] = v
	}
	return out
}

// storeDir is a temporary directory for a gateway's SQLite store. Unlike
// t.TempDir, whose removal fails the test when a file appears in it during
// the removal (seen once in a while under -race on a loaded machine, after
// the gateway had returned: a file of SQLite's own, it seems), its removal
// is tried a few times and then only logged.
func storeDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "gatehouse-store-")
	require.NoError(t, err)
	t.Cleanup(func() {
		for i := 0; ; i++ {
			err := os.RemoveAll(dir)
			if err == nil {
				return
			}
			if i == 10 {
				t.Logf("store directory left behind: %v", err)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	return dir
}

func envFunc(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

// startGateway starts run with the default test flags (ephemeral ports, the
// admin key testAdminKey) followed by extra.
func startGateway(t *testing.T, extra ...string) *gateway {
	t.Helper()
	args := append([]string{"-listen", "127.0.0.1:0", "-admin-listen", "127.0.0.1:0", "-admin-key", testAdminKey}, extra...)
	return startGatewayWith(t, args, nil)
}

// startGatewayWith starts run with exactly args and env, waits until it has
// printed both listening lines, and on cleanup stops it and checks that it
// shut down gracefully. Unless env names GATEHOUSE_STORE (even as ""), the
// gateway gets a SQLite store of its own in a temporary directory, not the
// default gatehouse.db of the working directory.
func startGatewayWith(t *testing.T, args []string, env map[string]string) *gateway {
	t.Helper()
	env = withOwnStore(t, env)
	ctx, cancel := context.WithCancel(context.Background())
	g := &gateway{stdout: &syncBuffer{}, stderr: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() { g.done <- run(ctx, args, envFunc(env), g.stdout, g.stderr) }()

	deadline := time.Now().Add(5 * time.Second)
	for {
		out := g.stdout.String()
		d, a := dataLineRE.FindStringSubmatch(out), adminLineRE.FindStringSubmatch(out)
		if d != nil && a != nil {
			g.dataAddr, g.adminAddr = d[1], a[1]
			break
		}
		select {
		case err := <-g.done:
			cancel()
			t.Fatalf("run returned before listening: %v\nstdout:\n%s\nstderr:\n%s", err, out, g.stderr.String())
		case <-time.After(2 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("gateway did not print its listening lines within 5s\nstdout:\n%s\nstderr:\n%s", out, g.stderr.String())
		}
	}
	g.data, g.admin = "http://"+g.dataAddr, "http://"+g.adminAddr
	t.Cleanup(func() {
		err, stopped := g.stop(t)
		require.True(t, stopped, "run did not return within 5s of ctx cancellation")
		require.NoError(t, err, "run after cancellation; stderr:\n%s", g.stderr.String())
		require.True(t, strings.HasSuffix(g.stdout.String(), "gateway stopped\n"),
			"stdout does not end with \"gateway stopped\":\n%s", g.stdout.String())
	})
	return g
}

// stop cancels the gateway's context and waits (up to 5 s) for run to return.
// It may be called before cleanup; later calls return the same result.
func (g *gateway) stop(t *testing.T) (err error, stopped bool) {
	t.Helper()
	g.cancel()
	select {
	case err := <-g.done:
		g.done <- err // for a later call
		return err, true
	case <-time.After(5 * time.Second):
		return nil, false
	}
}

// runExpectingError runs the gateway with args and env and returns run's
// error, failing the test when run does not return within 5 s.
func runExpectingError(t *testing.T, args []string, env map[string]string) (stdout, stderr string, err error) {
	t.Helper()
	env = withOwnStore(t, env)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, envFunc(env), &out, &errOut) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		select {
		case err = <-done:
			return out.String(), errOut.String(), err
		case <-time.After(2 * time.Millisecond):
		}
		if adminLineRE.MatchString(out.String()) || time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatalf("run %q started serving instead of failing; stdout:\n%s", args, out.String())
		}
	}
}

var client = &http.Client{Timeout: 5 * time.Second}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), "body: %s", r.body)
	return m
}

// do sends one request; headers are name, value pairs.
func do(t *testing.T, method, url, body string, headers ...string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{resp.StatusCode, resp.Header, b}
}

// adminDo sends an admin request with the test admin key.
func (g *gateway) adminDo(t *testing.T, method, path, body string) response {
	t.Helper()
	return do(t, method, g.admin+path, body, "X-API-KEY", testAdminKey)
}

// pollStatus repeats a request for up to 2 s until it answers want (the data
// plane follows the store asynchronously) and returns the last response.
func pollStatus(t *testing.T, want int, method, url string, headers ...string) response {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		r := do(t, method, url, "", headers...)
		if r.status == want || time.Now().After(deadline) {
			require.Equal(t, want, r.status, "%s %s: body %s", method, url, r.body)
			return r
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// echo is what the test upstream saw.
type echo struct {
	User   string `json:"user"`
	Path   string `json:"path"`
	APIKey string `json:"apikey"`
}

// newUpstream starts a backend that answers with the consumer username and
// path it received.
func newUpstream(t *testing.T) *httptest.Server {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(echo{
			User:   r.Header.Get("X-Consumer-Username"),
			Path:   r.URL.Path,
			APIKey: r.Header.Get("apikey"),
		})
	}))
	t.Cleanup(up.Close)
	return up
}

func decodeEcho(t *testing.T, r response) echo {
	t.Helper()
	var e echo
	require.NoError(t, json.Unmarshal(r.body, &e), "body: %s", r.body)
	return e
}

// busyAddr returns the address of a listener held open until the test ends.
func busyAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}
