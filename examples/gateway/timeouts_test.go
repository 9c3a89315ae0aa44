package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/internal/testnet"
)

// These tests run the reference gateway over real TCP with small timeouts.
// A deadline never fires early, so lower bounds on elapsed time are tight
// (less the moment between the server's clock starting and the client's);
// upper bounds are generous, for a loaded machine.

// addRoute creates a public route /<id> to target and returns its URL once
// the data plane serves it.
func (g *gateway) addRoute(t *testing.T, id, target string) string {
	t.Helper()
	r := g.adminDo(t, http.MethodPost, "/api/routes",
		`{"id":"`+id+`","frontend":{"paths":["/`+id+`"]},"backend":{"target":"`+target+`"}}`)
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	deadline := time.Now().Add(2 * time.Second)
	for g.routeMissing(t, id) {
		require.True(t, time.Now().Before(deadline), "route %s not served within 2s", id)
		time.Sleep(5 * time.Millisecond)
	}
	return g.data + "/" + id
}

// probePath is the path addRoute asks for; the test backends answer it at
// once and tell nobody.
const probePath = "/__probe"

func isProbe(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, probePath) }

// routeMissing reports whether the data plane still answers its own 404 on
// /<id>/. A request that times out got past the router to a backend that is
// slow to answer.
func (g *gateway) routeMissing(t *testing.T, id string) bool {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, g.data+"/"+id+probePath, nil)
	require.NoError(t, err)
	// The backend may never answer (a hung one): stop waiting early, a
	// timeout means the request got past the router.
	c := &http.Client{Timeout: 100 * time.Millisecond}
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode == http.StatusNotFound && strings.Contains(string(b), "404 Route Not Found")
}

// dial opens a raw connection to addr, closed when the test ends.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// waitClosed reads c until the peer closes it, for up to within, and returns
// what was read and how long the close took; it fails the test when c is
// still open then.
func waitClosed(t *testing.T, c net.Conn, within time.Duration) ([]byte, time.Duration) {
	t.Helper()
	start := time.Now()
	require.NoError(t, c.SetReadDeadline(start.Add(within)))
	b, err := io.ReadAll(c)
	elapsed := time.Since(start)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the gateway kept the connection open for %s (read %q)", within, b)
	}
	return b, elapsed
}

// TestSlowLoris opens connections that send their headers one byte at a
// time and never finish: the gateway closes each after the read-header
// timeout, and serves normal requests meanwhile.
func TestSlowLoris(t *testing.T) {
	t.Parallel()
	const headerTimeout = 300 * time.Millisecond
	g := startGateway(t, "-read-header-timeout", headerTimeout.String())
	url := g.addRoute(t, "loris", newUpstream(t).URL)

	const slow = 20
	type result struct {
		open time.Duration
		read []byte
		err  error
	}
	results := make(chan result, slow)
	for range slow {
		c := dial(t, g.dataAddr)
		opened := time.Now()
		go func() {
			// Trickle a header that never ends, one byte every 20 ms, until
			// the gateway hangs up (or 5 s pass: the test then fails).
			stop := make(chan struct{})
			go func() {
				defer close(stop)
				msg := "GET /loris HTTP/1.1\r\nHost: gateway\r\nX-Slow: " + strings.Repeat("a", 1<<20)
				for i := 0; i < len(msg); i++ {
					if _, err := c.Write([]byte{msg[i]}); err != nil {
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
			}()
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			b, err := io.ReadAll(c)
			open := time.Since(opened)
			c.Close()
			<-stop
			results <- result{open, b, err}
		}()
	}

	// Normal requests are served while the slow connections are open.
	served := 0
	for done := 0; done < slow; {
		select {
		case r := <-results:
			done++
			var ne net.Error
			require.False(t, errors.As(r.err, &ne) && ne.Timeout(), "a slow connection stayed open for 5s")
			// net/http hangs up, with a 400 when the header was cut mid-line.
			if len(r.read) > 0 {
				require.True(t, strings.HasPrefix(string(r.read), "HTTP/1.1 400 "), "answer to an unfinished header: %q", r.read)
			}
			// The server's clock starts when it accepts the connection,
			// which may be a moment before dial returns here.
			require.GreaterOrEqual(t, r.open, headerTimeout-100*time.Millisecond, "closed before the read-header timeout")
		default:
			resp := do(t, http.MethodGet, url+"/x", "")
			require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)
			served++
			time.Sleep(10 * time.Millisecond)
		}
	}
	require.Positive(t, served)
}

// TestIdleKeepAlive checks that a keep-alive connection serves several
// requests and is closed once idle for the idle timeout.
func TestIdleKeepAlive(t *testing.T) {
	t.Parallel()
	const idle = 300 * time.Millisecond
	g := startGateway(t, "-idle-timeout", idle.String())
	g.addRoute(t, "idle", newUpstream(t).URL)

	c := dial(t, g.dataAddr)
	br := bufio.NewReader(c)
	for i := range 2 { // the connection is reused while requests keep coming
		_, err := fmt.Fprintf(c, "GET /idle/%d HTTP/1.1\r\nHost: gateway\r\n\r\n", i)
		require.NoError(t, err)
		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		_, err = io.Copy(io.Discard, resp.Body)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.False(t, resp.Close, "keep-alive")
	}
	start := time.Now()
	require.NoError(t, c.SetReadDeadline(start.Add(5*time.Second)))
	_, err := br.ReadByte()
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "the idle connection stayed open for 5s")
	require.ErrorIs(t, err, io.EOF, "the gateway closes the idle connection")
	// The server starts its idle timer a moment before the client has read
	// the whole response: allow that moment.
	require.GreaterOrEqual(t, time.Since(start), idle-100*time.Millisecond)
}

// TestMaxHeaderBytes checks that both servers refuse a header block over
// -max-header-bytes with 431, and serve one under it.
func TestMaxHeaderBytes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
	}{
		{name: "flag", args: []string{"-max-header-bytes", "4096"}},
		{name: "env", env: map[string]string{"GATEHOUSE_MAX_HEADER_BYTES": "4096"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"-listen", "127.0.0.1:0", "-admin-listen", "127.0.0.1:0", "-admin-key", testAdminKey}, tc.args...)
			g := startGatewayWith(t, args, tc.env)
			url := g.addRoute(t, "big", newUpstream(t).URL)
			// net/http allows 4 KiB over the limit before it refuses.
			for _, size := range []struct {
				n    int
				want int
			}{{2000, http.StatusOK}, {16 << 10, http.StatusRequestHeaderFieldsTooLarge}} {
				r := do(t, http.MethodGet, url+"/x", "", "X-Big", strings.Repeat("a", size.n))
				require.Equal(t, size.want, r.status, "data plane, %d-byte header", size.n)
				r = do(t, http.MethodGet, g.admin+"/api/consumers", "", "X-API-KEY", testAdminKey, "X-Big", strings.Repeat("a", size.n))
				require.Equal(t, size.want, r.status, "admin API, %d-byte header", size.n)
			}
		})
	}
	t.Run("default is 64 KiB", func(t *testing.T) {
		t.Parallel()
		g := startGateway(t)
		url := g.addRoute(t, "big", newUpstream(t).URL)
		require.Equal(t, http.StatusOK, do(t, http.MethodGet, url+"/x", "", "X-Big", strings.Repeat("a", 60<<10)).status)
		require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, do(t, http.MethodGet, url+"/x", "", "X-Big", strings.Repeat("a", 72<<10)).status)
	})
}

// TestHungUpstream checks that a backend that accepts the connection and
// never answers is a 504 once the response-header timeout passes.
func TestHungUpstream(t *testing.T) {
	t.Parallel()
	const timeout = 300 * time.Millisecond
	g := startGateway(t, "-upstream-response-header-timeout", timeout.String())
	url := g.addRoute(t, "hung", testnet.HungBackend(t))

	start := time.Now()
	r := do(t, http.MethodGet, url+"/x", "")
	elapsed := time.Since(start)
	require.Equal(t, http.StatusGatewayTimeout, r.status, "body: %s", r.body)
	require.Equal(t, map[string]any{"message": "upstream timed out"}, r.json(t))
	require.GreaterOrEqual(t, elapsed, timeout)
	require.Less(t, elapsed, 5*time.Second)
	require.Contains(t, g.stderr.String(), "backend timed out")

	// A backend that refuses connections is still a 502.
	url = g.addRoute(t, "refused", "http://"+freeAddr(t))
	r = do(t, http.MethodGet, url+"/x", "")
	require.Equal(t, http.StatusBadGateway, r.status, "body: %s", r.body)
	require.Equal(t, map[string]any{"message": "upstream unavailable"}, r.json(t))
}

// bodyUpstream answers with the request body it read, and reports on got
// the error reading it ended with (nil when complete).
func bodyUpstream(t *testing.T, got chan<- error) string {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isProbe(r) {
			return
		}
		b, err := io.ReadAll(r.Body)
		got <- err
		if err == nil {
			_, _ = w.Write(b)
		}
	}))
	t.Cleanup(up.Close)
	return up.URL
}

// TestRequestBodyIdle checks that an upload may take longer than the body
// idle timeout while it keeps sending, and that one that stalls is dropped.
func TestRequestBodyIdle(t *testing.T) {
	t.Parallel()
	const idle = 600 * time.Millisecond
	got := make(chan error, 4)
	g := startGateway(t, "-body-idle-timeout", idle.String())
	g.addRoute(t, "upload", bodyUpstream(t, got))

	t.Run("slow upload that keeps sending", func(t *testing.T) {
		const body = "0123456789ab"
		c := dial(t, g.dataAddr)
		_, err := fmt.Fprintf(c, "POST /upload HTTP/1.1\r\nHost: gateway\r\nContent-Length: %d\r\n\r\n", len(body))
		require.NoError(t, err)
		start := time.Now()
		for i := range len(body) { // 12 × 100 ms: twice the idle timeout in all
			time.Sleep(100 * time.Millisecond)
			_, err := c.Write([]byte{body[i]})
			require.NoError(t, err)
		}
		require.Greater(t, time.Since(start), idle)
		require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		require.NoError(t, err)
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, "body: %s", b)
		require.Equal(t, body, string(b))
		require.NoError(t, <-got)
	})
	t.Run("upload that stalls", func(t *testing.T) {
		c := dial(t, g.dataAddr)
		_, err := io.WriteString(c, "POST /upload HTTP/1.1\r\nHost: gateway\r\nContent-Length: 100\r\n\r\nonly this")
		require.NoError(t, err)
		b, elapsed := waitClosed(t, c, 5*time.Second)
		require.GreaterOrEqual(t, elapsed, idle-100*time.Millisecond, "closed before the idle timeout")
		require.NotContains(t, string(b), "200 OK")
		select {
		case err := <-got:
			require.Error(t, err, "the backend must not see a complete request")
		case <-time.After(5 * time.Second):
			t.Fatal("the backend's request was not ended")
		}
	})
}

// streamUpstream writes a chunk every interval, flushed, n times; with n < 0
// it writes 32 KiB chunks as fast as it can until the write fails. It
// reports on ended when its handler returns.
func streamUpstream(t *testing.T, interval time.Duration, n int, ended chan<- struct{}) string {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isProbe(r) {
			return
		}
		defer func() { ended <- struct{}{} }()
		w.Header().Set("Content-Type", "text/event-stream")
		chunk := []byte("data: tick\n\n")
		if n < 0 {
			chunk = make([]byte, 32<<10)
		}
		rc := http.NewResponseController(w)
		for i := 0; n < 0 || i < n; i++ {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
			select {
			case <-r.Context().Done():
				return
			case <-time.After(interval):
			}
		}
	}))
	t.Cleanup(up.Close)
	return up.URL
}

// TestResponseWrites checks the write timeouts: a stream outlives the write
// stall timeout, in all and between two events, while the client reads;
// -write-timeout cuts a whole response; a client that stops reading is
// dropped.
func TestResponseWrites(t *testing.T) {
	t.Parallel()
	const (
		stall = 200 * time.Millisecond
		ticks = 5
		every = 250 * time.Millisecond // longer than the stall timeout, five times
	)
	for _, tc := range []struct {
		name string
		args []string
		cut  bool
	}{
		{name: "stream outlives the stall timeout", args: []string{"-write-stall-timeout", stall.String()}},
		{name: "write timeout cuts the whole response", args: []string{"-write-stall-timeout", stall.String(), "-write-timeout", "600ms"}, cut: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ended := make(chan struct{}, 1)
			g := startGateway(t, tc.args...)
			url := g.addRoute(t, "stream", streamUpstream(t, every, ticks, ended))
			resp, err := client.Get(url + "/events")
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			b, err := io.ReadAll(resp.Body)
			n := strings.Count(string(b), "data: tick")
			if !tc.cut {
				require.NoError(t, err)
				require.Equal(t, ticks, n)
				return
			}
			require.Error(t, err, "the response is cut, not ended cleanly")
			require.Positive(t, n, "the stream started")
			require.Less(t, n, ticks)
		})
	}
	t.Run("client that stops reading is dropped", func(t *testing.T) {
		t.Parallel()
		ended := make(chan struct{}, 1)
		g := startGateway(t, "-write-stall-timeout", stall.String())
		g.addRoute(t, "flood", streamUpstream(t, 0, -1, ended))
		c := dial(t, g.dataAddr)
		_, err := io.WriteString(c, "GET /flood HTTP/1.1\r\nHost: gateway\r\n\r\n")
		require.NoError(t, err)
		// The client never reads: the socket buffers fill, the gateway's
		// write stalls past the idle timeout and it gives up, ending the
		// backend's request too.
		select {
		case <-ended:
		case <-time.After(10 * time.Second):
			t.Fatal("the gateway kept writing to a client that does not read for 10s")
		}
	})
}

// TestShutdownTimeout checks that a request still in flight when the
// shutdown timeout passes is cut, and that the gateway then stops.
func TestShutdownTimeout(t *testing.T) {
	t.Parallel()
	arrived, release := make(chan struct{}), make(chan struct{})
	up := newSlowUpstream(t, arrived, release)
	t.Cleanup(func() { close(release) })
	g := startGateway(t, "-shutdown-timeout", "300ms")
	url := g.addRoute(t, "slow", up)

	got := make(chan error, 1)
	go func() {
		resp, err := client.Get(url + "/inflight")
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil {
				err = fmt.Errorf("answered %d", resp.StatusCode)
			}
		}
		got <- err
	}()
	select {
	case <-arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("request did not reach the upstream within 5s")
	}
	start := time.Now()
	err, stopped := g.stop(t)
	require.True(t, stopped, "run did not return within 5s")
	require.NoError(t, err)
	require.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond, "stopped before the shutdown timeout")
	require.Error(t, <-got, "the in-flight request is cut")
	require.Contains(t, g.stderr.String(), "shutdown timeout passed")
}

func TestTimeoutFlags(t *testing.T) {
	t.Parallel()
	safe := []string{"-listen", "127.0.0.1:0", "-admin-listen", "127.0.0.1:0", "-admin-key", "k"}
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want []string // substrings of the error
	}{
		{name: "unparsable duration", args: []string{"-read-header-timeout", "soon"}, want: []string{"-read-header-timeout", "soon"}},
		{name: "duration without unit", args: []string{"-idle-timeout", "30"}, want: []string{"-idle-timeout", "30"}},
		{name: "negative duration", args: []string{"-write-stall-timeout", "-1s"}, want: []string{"-write-stall-timeout", "-1s", "negative"}},
		{name: "negative upstream timeout", args: []string{"-upstream-response-header-timeout", "-5s"}, want: []string{"-upstream-response-header-timeout", "negative"}},
		{name: "negative dial timeout", args: []string{"-upstream-dial-timeout", "-5s"}, want: []string{"-upstream-dial-timeout", "negative"}},
		{name: "negative shutdown timeout", args: []string{"-shutdown-timeout", "-1ms"}, want: []string{"-shutdown-timeout", "negative"}},
		{name: "zero header bytes", args: []string{"-max-header-bytes", "0"}, want: []string{"-max-header-bytes", "positive"}},
		{name: "header bytes not a number", args: []string{"-max-header-bytes", "64KiB"}, want: []string{"-max-header-bytes", "64KiB"}},
		{name: "env not a duration", env: map[string]string{"GATEHOUSE_BODY_IDLE_TIMEOUT": "a minute"}, want: []string{"-body-idle-timeout", "GATEHOUSE_BODY_IDLE_TIMEOUT", "a minute"}},
		{name: "env negative", env: map[string]string{"GATEHOUSE_WRITE_TIMEOUT": "-2s"}, want: []string{"-write-timeout", "GATEHOUSE_WRITE_TIMEOUT", "negative"}},
		{name: "env header bytes not a number", env: map[string]string{"GATEHOUSE_MAX_HEADER_BYTES": "lots"}, want: []string{"-max-header-bytes", "GATEHOUSE_MAX_HEADER_BYTES", "lots"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, _, err := runExpectingError(t, append(append([]string{}, safe...), tc.args...), tc.env)
			require.Error(t, err)
			msg := err.Error()
			require.NotContains(t, msg, "\n", "the reason fits on one line")
			for _, w := range tc.want {
				require.Contains(t, msg, w)
			}
			require.NotContains(t, stdout, "listening on")
		})
	}
	t.Run("flag wins over a bad env value", func(t *testing.T) {
		startGatewayWith(t, append(append([]string{}, safe...), "-idle-timeout", "1m"),
			map[string]string{"GATEHOUSE_IDLE_TIMEOUT": "never"})
	})
	t.Run("-h lists every timeout", func(t *testing.T) {
		_, stderr, _ := runExpectingError(t, []string{"-h"}, nil)
		for _, name := range []string{"-read-header-timeout", "-body-idle-timeout", "-write-timeout", "-write-stall-timeout",
			"-idle-timeout", "-max-header-bytes", "-shutdown-timeout", "-upstream-dial-timeout", "-upstream-response-header-timeout"} {
			env := "GATEHOUSE_" + strings.ToUpper(strings.ReplaceAll(name[1:], "-", "_"))
			require.Contains(t, stderr, name+" ")
			require.Contains(t, stderr, "(env "+env+")")
		}
		require.Contains(t, stderr, "(default 10s)")
	})
}
