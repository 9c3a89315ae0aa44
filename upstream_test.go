package gatehouse_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/internal/testnet"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store/memory"
)

// closingBackend accepts connections and closes them without a response.
func closingBackend(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return "http://" + ln.Addr().String()
}

// proxyGateway is a gateway with one public route /up proxied to target.
func proxyGateway(t testing.TB, target string, opts ...gatehouse.Option) http.Handler {
	t.Helper()
	opts = append([]gatehouse.Option{
		gatehouse.WithLogger(discardLogger()),
		gatehouse.WithRoutes(route.Route{ID: "up", Frontend: route.Frontend{Paths: []string{"/up"}}, Backend: &route.Backend{Target: target}}),
	}, opts...)
	gw, err := gatehouse.New(context.Background(), memory.New(), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = gw.Close() })
	return gw.Router()
}

func TestRouterUpstreamFailures(t *testing.T) {
	t.Parallel()
	const headerTimeout = 100 * time.Millisecond
	fast := gatehouse.DefaultUpstreamTransport()
	fast.ResponseHeaderTimeout = headerTimeout
	t.Cleanup(fast.CloseIdleConnections)

	refused := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		require.NoError(t, ln.Close())
		return "http://" + addr
	}()

	for _, tc := range []struct {
		name      string
		target    string
		transport http.RoundTripper
		// ctx makes the request's context; nil: none.
		ctx        func() (context.Context, context.CancelFunc)
		wantStatus int
		wantMsg    string
		atLeast    time.Duration
	}{
		{name: "no response headers within the transport's timeout", target: testnet.HungBackend(t), transport: fast,
			wantStatus: http.StatusGatewayTimeout, wantMsg: gatehouse.MsgUpstreamTimeout, atLeast: headerTimeout},
		{name: "request deadline passes first (default transport)", target: testnet.HungBackend(t),
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), headerTimeout)
			},
			wantStatus: http.StatusGatewayTimeout, wantMsg: gatehouse.MsgUpstreamTimeout, atLeast: headerTimeout},
		{name: "connection refused", target: refused, transport: fast,
			wantStatus: http.StatusBadGateway, wantMsg: gatehouse.MsgUpstreamUnavailable},
		{name: "connection closed without a response", target: closingBackend(t), transport: fast,
			wantStatus: http.StatusBadGateway, wantMsg: gatehouse.MsgUpstreamUnavailable},
		{name: "client went away: not the backend's timeout", target: testnet.HungBackend(t),
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(headerTimeout, cancel)
				return ctx, cancel
			},
			wantStatus: http.StatusBadGateway, wantMsg: gatehouse.MsgUpstreamUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var opts []gatehouse.Option
			if tc.transport != nil {
				opts = append(opts, gatehouse.WithUpstreamTransport(tc.transport))
			}
			h := proxyGateway(t, tc.target, opts...)
			r := httptest.NewRequest(http.MethodGet, "/up/x", nil)
			if tc.ctx != nil {
				ctx, cancel := tc.ctx()
				defer cancel()
				r = r.WithContext(ctx)
			}
			w := httptest.NewRecorder()
			start := time.Now()
			h.ServeHTTP(w, r)
			elapsed := time.Since(start)
			require.Equal(t, tc.wantStatus, w.Code, "body: %s", w.Body.String())
			require.Equal(t, tc.wantMsg, body(t, w)["message"])
			require.Equal(t, "application/json", w.Header().Get("Content-Type"))
			require.GreaterOrEqual(t, elapsed, tc.atLeast)
			require.Less(t, elapsed, 5*time.Second)
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestWithUpstreamTransport(t *testing.T) {
	t.Parallel()
	var got *http.Request
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		got = r
		return &http.Response{StatusCode: http.StatusTeapot, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("from the transport")), Request: r}, nil
	})
	h := proxyGateway(t, "http://backend.invalid:9", gatehouse.WithUpstreamTransport(rt))
	w := do(h, http.MethodGet, "/up/x", nil)
	require.Equal(t, http.StatusTeapot, w.Code)
	require.Equal(t, "from the transport", w.Body.String())
	require.NotNil(t, got)
	require.Equal(t, "backend.invalid:9", got.URL.Host)
	require.Equal(t, "/up/x", got.URL.Path)

	// Nil keeps the default transport: an unreachable backend is a 502.
	h = proxyGateway(t, closingBackend(t), gatehouse.WithUpstreamTransport(nil))
	require.Equal(t, http.StatusBadGateway, do(h, http.MethodGet, "/up/x", nil).Code)
}

func TestDefaultUpstreamTransport(t *testing.T) {
	t.Parallel()
	a, b := gatehouse.DefaultUpstreamTransport(), gatehouse.DefaultUpstreamTransport()
	require.NotSame(t, a, b, "each call has its own connection pool")
	require.NotSame(t, http.DefaultTransport, a)
	require.Equal(t, gatehouse.DefaultUpstreamResponseHeaderTimeout, a.ResponseHeaderTimeout)
	require.Equal(t, gatehouse.DefaultUpstreamTLSHandshakeTimeout, a.TLSHandshakeTimeout)
	require.Equal(t, gatehouse.DefaultUpstreamMaxIdleConnsPerHost, a.MaxIdleConnsPerHost)
	require.GreaterOrEqual(t, a.MaxIdleConns, a.MaxIdleConnsPerHost)
	require.NotNil(t, a.DialContext)
	require.NotNil(t, a.Proxy, "HTTP_PROXY and friends are honoured, as by http.DefaultTransport")
	require.Zero(t, http.DefaultTransport.(*http.Transport).ResponseHeaderTimeout, "http.DefaultTransport is left as it is")
}
