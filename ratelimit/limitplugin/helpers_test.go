package limitplugin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/ratelimit/limitertest"
	"github.com/gatehousehq/gatehouse/ratelimit/limitplugin"
	"github.com/gatehousehq/gatehouse/ratelimit/memory"
)

type fakeClock struct{ ns atomic.Int64 }

func newClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(limitertest.Start.UnixNano())
	return c
}
func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// env is a Plugins over a memory limiter reading a fake clock, with a log
// that tests can read.
type env struct {
	clock   *fakeClock
	limiter *limitertest.Switch
	plugins *limitplugin.Plugins
	log     *logRecorder
}

func newEnv(t *testing.T, opts ...limitplugin.Option) *env {
	t.Helper()
	e := &env{clock: newClock(), log: &logRecorder{}}
	e.limiter = &limitertest.Switch{Err: errDown, Next: memory.New(memory.WithClock(e.clock.now))}
	opts = append([]limitplugin.Option{limitplugin.WithLogger(slog.New(e.log))}, opts...)
	e.plugins = limitplugin.New(e.limiter, opts...)
	return e
}

func (e *env) limitCount(t *testing.T, settings string) *limitplugin.Limiter {
	t.Helper()
	p, err := e.plugins.LimitCount().New(json.RawMessage(settings))
	require.NoError(t, err)
	return p.(*limitplugin.Limiter)
}

func (e *env) advanced(t *testing.T, settings string) *limitplugin.Limiter {
	t.Helper()
	p, err := e.plugins.AdvancedRateLimiter().New(json.RawMessage(settings))
	require.NoError(t, err)
	return p.(*limitplugin.Limiter)
}

var errDown = errors.New("dial tcp 127.0.0.1:6379: connection refused")

// logRecorder is a slog.Handler that keeps every record.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, r.Clone())
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// levels returns the level of every record so far.
func (l *logRecorder) levels() []slog.Level {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]slog.Level, len(l.records))
	for i, r := range l.records {
		out[i] = r.Level
	}
	return out
}

// caller is a Caller for consumer user in group from address ip.
func caller(user, group, ip string) limitplugin.Caller {
	c := limitplugin.Caller{Consumer: user, Group: group, Route: "orders"}
	if ip != "" {
		c.Addr = netip.MustParseAddr(ip)
	}
	return c
}

// serve runs p for c as an executor would, and returns the response.
func serve(p *limitplugin.Limiter, c limitplugin.Caller) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	o := p.Check(context.Background(), c)
	if o.Verdict() == limitplugin.Allowed {
		o.WriteHeaders(w.Header())
		w.WriteHeader(http.StatusOK)
		return w
	}
	o.Reject(w)
	return w
}

// refusal is the JSON body of a refusal.
type refusal struct {
	Error      string `json:"error"`
	Message    string `json:"message"`
	Limit      string `json:"limit"`
	RetryAfter int64  `json:"retry_after"`
}

func decodeRefusal(t *testing.T, w *httptest.ResponseRecorder) refusal {
	t.Helper()
	require.Equal(t, "application/json", w.Header().Get("Content-Type"))
	var r refusal
	dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&r), w.Body.String())
	return r
}
