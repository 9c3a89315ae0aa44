package limitplugin_test

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/ratelimit/limitplugin"
)

func TestAllowDegradation(t *testing.T) {
	e := newEnv(t)
	open := e.limitCount(t, `{"count":1,"time_window":60,"allow_degradation":true}`)
	closed := e.limitCount(t, `{"count":1,"time_window":60}`)
	arl := e.advanced(t, premium)
	c := caller("alice", "premium", "198.51.100.1")
	e.limiter.SetDown(true)

	for range 5 {
		w := serve(open, c)
		require.Equal(t, http.StatusOK, w.Code, "let through")
		require.Empty(t, w.Header().Get("X-RateLimit-Limit"), "nothing is known of the limit")
		require.Empty(t, w.Header().Get("RateLimit"))
	}
	o := open.Check(context.Background(), c)
	require.Equal(t, limitplugin.Allowed, o.Verdict())
	require.True(t, o.Degraded())
	require.ErrorIs(t, o.Err(), errDown)

	for _, p := range []*limitplugin.Limiter{closed, arl} {
		w := serve(p, c)
		require.Equal(t, http.StatusInternalServerError, w.Code, p.Name())
		require.JSONEq(t, `{"error":"internal","message":"rate limiting is unavailable"}`, w.Body.String())
		require.Equal(t, "application/json", w.Header().Get("Content-Type"))
		require.Empty(t, w.Header().Get("Retry-After"))
		o := p.Check(context.Background(), c)
		require.Equal(t, limitplugin.Failed, o.Verdict())
		require.False(t, o.Degraded())
		require.ErrorIs(t, o.Err(), errDown)
		require.Empty(t, o.Limit())
	}
	require.Equal(t, []slog.Level{slog.LevelError}, e.log.levels(), "one outage, one line")

	e.limiter.SetDown(false)
	for range 3 {
		require.Equal(t, http.StatusOK, serve(closed, caller("u", "", "198.51.100.9")).Code)
		e.clock.advance(61e9)
	}
	require.Equal(t, []slog.Level{slog.LevelError, slog.LevelInfo}, e.log.levels(), "the recovery is logged once")

	e.limiter.SetDown(true)
	serve(closed, c)
	serve(open, c)
	require.Equal(t, []slog.Level{slog.LevelError, slog.LevelInfo, slog.LevelError}, e.log.levels(), "a new outage is logged")
}

// A request whose client went away is not a limiter outage.
func TestCancelledRequestIsNotAnOutage(t *testing.T) {
	e := newEnv(t)
	p := e.limitCount(t, `{"count":1,"time_window":60}`)
	e.limiter.SetDown(true)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	o := p.Check(ctx, caller("alice", "", "198.51.100.1"))
	require.Equal(t, limitplugin.Failed, o.Verdict())
	require.Empty(t, e.log.levels())
}

func TestVerdictString(t *testing.T) {
	require.Equal(t, "allowed", limitplugin.Allowed.String())
	require.Equal(t, "refused", limitplugin.Refused.String())
	require.Equal(t, "failed", limitplugin.Failed.String())
	require.Equal(t, "verdict(9)", limitplugin.Verdict(9).String())
}

func TestNewNeedsALimiter(t *testing.T) {
	require.Panics(t, func() { limitplugin.New(nil) })
}

// TestErrorObserver checks that every failed limiter call is reported with
// its route (the log reports an outage once), and that calls of requests
// whose client went away are not.
func TestErrorObserver(t *testing.T) {
	var mu sync.Mutex
	var routes []string
	e := newEnv(t, limitplugin.WithErrorObserver(func(_ context.Context, route string, err error) {
		require.ErrorIs(t, err, errDown)
		mu.Lock()
		routes = append(routes, route)
		mu.Unlock()
	}))
	open := e.limitCount(t, `{"count":1,"time_window":60,"allow_degradation":true}`)
	arl := e.advanced(t, premium)
	serve(open, caller("alice", "premium", "198.51.100.1"))
	require.Empty(t, routes, "no failure, nothing reported")

	e.limiter.SetDown(true)
	c := caller("alice", "premium", "198.51.100.1")
	serve(open, c)
	serve(arl, c)
	c.Route = "billing"
	serve(open, c)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	open.Check(ctx, c)
	require.Equal(t, []string{"orders", "orders", "billing"}, routes)
}
