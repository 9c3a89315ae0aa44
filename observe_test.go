package gatehouse_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/internal/testnet"
	"github.com/gatehousehq/gatehouse/ratelimit/limitertest"
	rlmemory "github.com/gatehousehq/gatehouse/ratelimit/memory"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store/memory"
)

// recorder is an Observer that keeps what it is told.
type recorder struct {
	mu      sync.Mutex
	reqs    []gatehouse.RequestInfo
	limErrs []string
}

func (r *recorder) ObserveRequest(_ context.Context, info gatehouse.RequestInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, info)
}

func (r *recorder) ObserveLimiterError(_ context.Context, route string, _ error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.limErrs = append(r.limErrs, route)
}

// last returns the last request observed, and forgets everything.
func (r *recorder) last(t *testing.T) gatehouse.RequestInfo {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	require.NotEmpty(t, r.reqs)
	info := r.reqs[len(r.reqs)-1]
	r.reqs = nil
	return info
}

func (r *recorder) limiterErrors() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.limErrs...)
}

// observedFixture is newFixture with options.
func observedFixture(t testing.TB, opts []gatehouse.Option, routes ...route.Route) *fixture {
	t.Helper()
	st := memory.New()
	gw, err := gatehouse.New(context.Background(), st, append([]gatehouse.Option{gatehouse.WithRoutes(routes...), gatehouse.WithLogger(discardLogger())}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = gw.Close() })
	return &fixture{t: t, st: st, gw: gw}
}

var errLimiterDown = errors.New("limiter back-end unreachable")

func TestObserverOutcomes(t *testing.T) {
	rec := &recorder{}
	grouped := keyRoute("grouped", `{}`)
	grouped.Groups = []string{"shop"}
	limited := keyRoute("limited", `{}`)
	limited.Plugins["limit-count"] = json.RawMessage(`{"count":1,"time_window":60,"key_type":"consumer"}`)
	f := observedFixture(t, []gatehouse.Option{gatehouse.WithObserver(rec)}, keyRoute("r", `{}`), grouped, limited)
	f.group("shop")
	f.consumerGroup("default", "gold")
	f.consumer(consumer.Consumer{Username: "alice", GroupID: "gold"})
	f.key("alice", "k", "alice-key-0001")
	h := f.gw.Protect("r", echo)
	eventually(t, h, "/", map[string]string{"apikey": "alice-key-0001"}, http.StatusOK)
	rec.last(t)

	for _, tc := range []struct {
		name     string
		h        http.Handler
		key      string
		want     gatehouse.RequestInfo
		wantCode int
	}{
		{"allowed", h, "alice-key-0001", gatehouse.RequestInfo{Route: "r", Consumer: "alice", ConsumerGroup: "gold", Authenticated: true}, http.StatusOK},
		{"no key", h, "", gatehouse.RequestInfo{Route: "r", Status: http.StatusUnauthorized, Authenticated: true}, http.StatusUnauthorized},
		{"wrong key", h, "wrong-key-0001", gatehouse.RequestInfo{Route: "r", Status: http.StatusUnauthorized, Authenticated: true}, http.StatusUnauthorized},
		{"not authorized", f.gw.Protect("grouped", echo), "alice-key-0001",
			gatehouse.RequestInfo{Route: "grouped", Consumer: "alice", ConsumerGroup: "gold", Status: http.StatusForbidden, Authenticated: true}, http.StatusForbidden},
		{"first of a limit of 1", f.gw.Protect("limited", echo), "alice-key-0001",
			gatehouse.RequestInfo{Route: "limited", Consumer: "alice", ConsumerGroup: "gold", Authenticated: true}, http.StatusOK},
		{"over the limit", f.gw.Protect("limited", echo), "alice-key-0001",
			gatehouse.RequestInfo{Route: "limited", Consumer: "alice", ConsumerGroup: "gold", Status: http.StatusTooManyRequests, Authenticated: true}, http.StatusTooManyRequests},
		{"no such route", f.gw.Protect("nope", echo), "alice-key-0001", gatehouse.RequestInfo{Route: "nope", Status: http.StatusNotFound}, http.StatusNotFound},
		{"router matches nothing", f.gw.Router(), "", gatehouse.RequestInfo{Status: http.StatusNotFound}, http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tc.key != "" {
				hdr["apikey"] = tc.key
			}
			w := do(tc.h, http.MethodGet, "/nothing-here", hdr)
			require.Equal(t, tc.wantCode, w.Code, w.Body.String())
			got := rec.last(t)
			if tc.want.Authenticated {
				require.Positive(t, got.AuthDuration, "authentication was timed")
			} else {
				require.Zero(t, got.AuthDuration)
			}
			got.AuthDuration = 0
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.want.Status == 0, got.Allowed())
		})
	}
	require.Empty(t, rec.limiterErrors())
}

func TestObserverAnonymousConsumer(t *testing.T) {
	rec := &recorder{}
	f := observedFixture(t, []gatehouse.Option{gatehouse.WithObserver(rec)}, keyRoute("r", `{"anonymous_consumer":"guest"}`))
	f.consumer(consumer.Consumer{Username: "guest"})
	eventually(t, f.gw.Protect("r", echo), "/", nil, http.StatusOK)
	got := rec.last(t)
	require.Equal(t, "guest", got.Consumer)
	require.True(t, got.Anonymous)
	require.True(t, got.Allowed())
}

func TestObserverLimiterErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		degrade  bool
		wantCode int
		status   int
	}{
		{"allow_degradation lets the request through", true, http.StatusOK, 0},
		{"fail closed", false, http.StatusInternalServerError, http.StatusInternalServerError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			r := keyRoute("limited", `{}`)
			r.Plugins["limit-count"] = json.RawMessage(`{"count":10,"time_window":60,"key_type":"consumer","allow_degradation":` + map[bool]string{true: "true", false: "false"}[tc.degrade] + `}`)
			f := observedFixture(t, []gatehouse.Option{gatehouse.WithObserver(rec), gatehouse.WithLimiter(limitertest.Down(errLimiterDown))}, r)
			f.consumer(consumer.Consumer{Username: "alice"})
			f.key("alice", "k", "alice-key-0001")
			h := f.gw.Protect("limited", echo)
			eventually(t, h, "/", map[string]string{"apikey": "alice-key-0001"}, tc.wantCode)
			rec.mu.Lock()
			rec.reqs, rec.limErrs = nil, nil
			rec.mu.Unlock()
			for range 3 {
				require.Equal(t, tc.wantCode, do(h, http.MethodGet, "/", map[string]string{"apikey": "alice-key-0001"}).Code)
			}
			require.Equal(t, []string{"limited", "limited", "limited"}, rec.limiterErrors(), "every failure is reported, not once per outage")
			got := rec.last(t)
			require.Equal(t, tc.status, got.Status)
			require.Equal(t, "alice", got.Consumer)
		})
	}
}

func TestObserverQuotaLimiterErrors(t *testing.T) {
	rec := &recorder{}
	lim := &flakyQuotas{Limiter: rlmemory.New()}
	h := quotaGateway(t, `,"dailyQuota":100`, lim, discardLogger(), time.Now, gatehouse.WithObserver(rec))
	require.Equal(t, http.StatusOK, quotaCall(h).Code)
	lim.down.Store(true)
	require.Equal(t, http.StatusInternalServerError, quotaCall(h).Code)
	require.Equal(t, []string{"r"}, rec.limiterErrors())
	got := rec.last(t)
	require.Equal(t, http.StatusInternalServerError, got.Status)
	require.Equal(t, "k", got.Consumer)
}

func TestObserverUpstreamFailures(t *testing.T) {
	fast := gatehouse.DefaultUpstreamTransport()
	fast.ResponseHeaderTimeout = 50 * time.Millisecond
	t.Cleanup(fast.CloseIdleConnections)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("up")) }))
	t.Cleanup(up.Close)
	for _, tc := range []struct {
		name     string
		target   string
		wantCode int
		status   int
	}{
		{"backend answers", up.URL, http.StatusOK, 0},
		{"connection closed without a response", closingBackend(t), http.StatusBadGateway, http.StatusBadGateway},
		{"no response headers in time", testnet.HungBackend(t), http.StatusGatewayTimeout, http.StatusGatewayTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			var spans spanLog
			h := proxyGateway(t, tc.target, gatehouse.WithUpstreamTransport(fast), gatehouse.WithObserver(rec), gatehouse.WithSpans(spans.start))
			w := do(h, http.MethodGet, "/up/x", nil)
			require.Equal(t, tc.wantCode, w.Code)
			got := rec.last(t)
			require.Equal(t, gatehouse.RequestInfo{Route: "up", Status: tc.status}, got)
			ended := spans.get()
			require.Len(t, ended, 1, "a public route has no auth span")
			require.Equal(t, gatehouse.SpanUpstream, ended[0].name)
			if tc.status == 0 {
				require.NoError(t, ended[0].err)
				return
			}
			var re *gatehouse.RefusedError
			require.ErrorAs(t, ended[0].err, &re)
			require.Equal(t, tc.status, re.Status)
			require.Error(t, re.Err, "the backend's error is kept")
		})
	}
}

// spanLog is a SpanFunc that records the spans that ended.
type spanLog struct {
	mu    sync.Mutex
	spans []endedSpan
}

type endedSpan struct {
	name  string
	attrs gatehouse.SpanAttributes
	err   error
}

type spanKey struct{}

func (s *spanLog) start(ctx context.Context, name string, attrs gatehouse.SpanAttributes) (context.Context, func(error)) {
	ended := false
	return context.WithValue(ctx, spanKey{}, name), func(err error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if ended {
			panic("span ended twice")
		}
		ended = true
		s.spans = append(s.spans, endedSpan{name, attrs, err})
	}
}

func (s *spanLog) get() []endedSpan {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.spans
	s.spans = nil
	return out
}

func TestSpans(t *testing.T) {
	var spans spanLog
	f := observedFixture(t, []gatehouse.Option{gatehouse.WithSpans(spans.start)}, keyRoute("r", `{}`))
	f.consumerGroup("default", "gold")
	f.consumer(consumer.Consumer{Username: "alice", GroupID: "gold"})
	f.key("alice", "k", "alice-key-0001")
	var inHandler any
	h := f.gw.Protect("r", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inHandler = r.Context().Value(spanKey{})
		c, ok := consumer.FromContext(r.Context())
		require.True(t, ok, "the identity survives the span's context")
		require.Equal(t, "alice", c.Username)
	}))
	eventually(t, h, "/", map[string]string{"apikey": "alice-key-0001"}, http.StatusOK)
	spans.get()

	do(h, http.MethodGet, "/", map[string]string{"apikey": "alice-key-0001"})
	require.Equal(t, gatehouse.SpanUpstream, inHandler, "the handler runs in the upstream span's context")
	require.Equal(t, []endedSpan{
		{gatehouse.SpanAuth, gatehouse.SpanAttributes{Route: "r"}, nil},
		{gatehouse.SpanUpstream, gatehouse.SpanAttributes{Route: "r", Consumer: "alice", ConsumerGroup: "gold"}, nil},
	}, spans.get())

	do(h, http.MethodGet, "/", map[string]string{"apikey": "wrong-key-0001"})
	ended := spans.get()
	require.Len(t, ended, 1, "a refused request never starts the upstream span")
	require.Equal(t, gatehouse.SpanAuth, ended[0].name)
	var re *gatehouse.RefusedError
	require.ErrorAs(t, ended[0].err, &re)
	require.Equal(t, http.StatusUnauthorized, re.Status)
	require.Equal(t, "Invalid API key in request", re.Reason)
}

func TestSpansEndWhenHandlerPanics(t *testing.T) {
	var spans spanLog
	rec := &recorder{}
	f := observedFixture(t, []gatehouse.Option{gatehouse.WithSpans(spans.start), gatehouse.WithObserver(rec)}, route.Route{ID: "public"})
	h := f.gw.Protect("public", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }))
	require.PanicsWithValue(t, http.ErrAbortHandler, func() { do(h, http.MethodGet, "/", nil) })
	require.Len(t, spans.get(), 1)
	require.Equal(t, "public", rec.last(t).Route)
}

// TestObserverAllocatesNothing checks that the hook plumbing allocates
// nothing per request: an allowed key-auth request makes its one allocation
// (the request copy carrying the identity) with an Observer as without.
func TestObserverAllocatesNothing(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("coverage counters and the race detector change allocations")
	}
	count := func(opts ...gatehouse.Option) (allowed, refused float64) {
		f := observedFixture(t, opts, keyRoute("r", `{}`))
		f.consumer(consumer.Consumer{Username: "alice"})
		f.key("alice", "k", "alice-key-0001")
		h := f.gw.Protect("r", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		eventually(t, h, "/", map[string]string{"apikey": "alice-key-0001"}, http.StatusOK)
		w := &nopWriter{h: http.Header{}}
		ok := httptest.NewRequest(http.MethodGet, "/", nil)
		ok.Header.Set("apikey", "alice-key-0001")
		bad := httptest.NewRequest(http.MethodGet, "/", nil)
		bad.Header.Set("apikey", "wrong-key-0001")
		allowed = testing.AllocsPerRun(200, func() { h.ServeHTTP(w, ok) })
		refused = testing.AllocsPerRun(200, func() { h.ServeHTTP(w, bad) })
		return allowed, refused
	}
	quiet := gatehouse.WithLogger(slog.New(slog.DiscardHandler)) // debug off: no refusal line
	a0, r0 := count(quiet)
	a1, r1 := count(quiet, gatehouse.WithObserver(nopObserver{}))
	require.Equal(t, a0, a1, "allowed request")
	require.Equal(t, r0, r1, "refused request")
	require.Zero(t, r1, "a refusal allocates nothing, observed or not")
}

type nopObserver struct{}

func (nopObserver) ObserveRequest(context.Context, gatehouse.RequestInfo) {}
func (nopObserver) ObserveLimiterError(context.Context, string, error)    {}

// TestRefusalDebugLog checks the one debug line of each refused request, and
// that nothing is logged when the logger has debug off.
func TestRefusalDebugLog(t *testing.T) {
	for _, level := range []slog.Level{slog.LevelDebug, slog.LevelInfo} {
		t.Run(level.String(), func(t *testing.T) {
			var logs bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: level}))
			grouped := keyRoute("grouped", `{}`)
			grouped.Groups = []string{"shop"}
			limited := keyRoute("limited", `{}`)
			limited.Plugins["limit-count"] = json.RawMessage(`{"count":1,"time_window":60,"key_type":"consumer"}`)
			f := observedFixture(t, []gatehouse.Option{gatehouse.WithLogger(log), gatehouse.WithTrustedProxies("192.0.2.0/24")}, keyRoute("r", `{}`), grouped, limited)
			f.group("shop")
			f.consumer(consumer.Consumer{Username: "alice"})
			f.key("alice", "k", "alice-key-0001")
			eventually(t, f.gw.Protect("r", echo), "/", map[string]string{"apikey": "alice-key-0001"}, http.StatusOK)
			send := func(h http.Handler, key string) {
				r := httptest.NewRequest(http.MethodGet, "/?apikey="+key, nil)
				r.RemoteAddr = "192.0.2.1:1234"
				r.Header.Set("X-Forwarded-For", "203.0.113.9")
				if key != "" {
					r.Header.Set("apikey", key)
				}
				h.ServeHTTP(httptest.NewRecorder(), r)
			}
			logs.Reset()
			send(f.gw.Protect("r", echo), "alice-key-0001")        // allowed: no line
			send(f.gw.Protect("r", echo), "wrong-key-secret-0001") // 401
			send(f.gw.Protect("grouped", echo), "alice-key-0001")  // 403
			send(f.gw.Protect("limited", echo), "alice-key-0001")  // allowed
			send(f.gw.Protect("limited", echo), "alice-key-0001")  // 429
			send(f.gw.Protect("nope", echo), "")                   // 404
			if level != slog.LevelDebug {
				require.Empty(t, logs.String())
				return
			}
			var lines []map[string]any
			for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
				var m map[string]any
				require.NoError(t, json.Unmarshal([]byte(l), &m), l)
				if m["msg"] != "gatehouse: request refused" {
					continue // the schemes' own reasons
				}
				delete(m, "time")
				delete(m, "msg")
				delete(m, "level")
				lines = append(lines, m)
			}
			require.Equal(t, []map[string]any{
				{"route": "r", "status": 401.0, "reason": "Invalid API key in request", "client": "203.0.113.9"},
				{"route": "grouped", "status": 403.0, "reason": gatehouse.MsgNotAuthorized, "client": "203.0.113.9", "consumer": "alice"},
				{"route": "limited", "status": 429.0, "reason": "limit-count", "client": "203.0.113.9", "consumer": "alice"},
				{"route": "nope", "status": 404.0, "reason": gatehouse.MsgRouteNotFound, "client": "203.0.113.9"},
			}, lines)
			require.NotContains(t, logs.String(), "secret", "the presented key is never logged")
		})
	}
}
