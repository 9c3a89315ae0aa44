package limitplugin_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/ratelimit/limitplugin"
)

// premium is the "Premium Users" plugin of reference/consumer-groups-enterprise.md.
const premium = `{
  "limits": {
    "global":   {"limit": 1000, "window": "1m"},
    "per_ip":   {"limit": 100,  "window": "1m"},
    "per_user": {"limit": 50,   "window": "1m"}
  },
  "actions": {"type": "reject", "retry_after": "60"}
}`

func TestPremiumUsersPerUser(t *testing.T) {
	e := newEnv(t)
	p := e.advanced(t, premium)
	alice := caller("alice", "premium", "198.51.100.1")

	w := serve(p, alice)
	require.Equal(t, http.StatusOK, w.Code)
	h := w.Header()
	require.Equal(t, "50", h.Get("X-RateLimit-Limit"), "the limit closest to refusing is reported")
	require.Equal(t, "49", h.Get("X-RateLimit-Remaining"))
	require.Equal(t, "2", h.Get("X-RateLimit-Reset"), "one request of 50/min is back after 1.2s")
	require.Equal(t, `"per_user";q=50;w=60, "per_ip";q=100;w=60, "global";q=1000;w=60`, h.Get("RateLimit-Policy"))
	require.Equal(t, `"per_user";r=49;t=2, "per_ip";r=99;t=1, "global";r=999;t=1`, h.Get("RateLimit"))
	require.Empty(t, h.Get("Retry-After"))

	for i := 2; i <= 50; i++ {
		w = serve(p, alice)
		require.Equal(t, http.StatusOK, w.Code, "request %d", i)
	}
	require.Equal(t, "0", w.Header().Get("X-RateLimit-Remaining"))

	w = serve(p, alice)
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	require.Equal(t, "60", w.Header().Get("Retry-After"))
	require.Equal(t, "50", w.Header().Get("X-RateLimit-Limit"))
	require.Equal(t, "0", w.Header().Get("X-RateLimit-Remaining"))
	require.Equal(t, "60", w.Header().Get("X-RateLimit-Reset"))
	require.Equal(t, `"per_user";r=0;t=60, "per_ip";r=50;t=30, "global";r=950;t=3`, w.Header().Get("RateLimit"))
	body := decodeRefusal(t, w)
	require.Equal(t, refusal{
		Error:      "rate limit exceeded",
		Message:    "rate limit exceeded: 50 requests per 1m (per_user)",
		Limit:      "per_user",
		RetryAfter: 60,
	}, body)

	// Another user of the group, from another address, is not concerned.
	require.Equal(t, http.StatusOK, serve(p, caller("bob", "premium", "198.51.100.2")).Code)

	// Capacity comes back continuously: one request after 1.2 s.
	e.clock.advance(1200 * time.Millisecond)
	require.Equal(t, http.StatusOK, serve(p, alice).Code)
	require.Equal(t, http.StatusTooManyRequests, serve(p, alice).Code)
	e.clock.advance(time.Minute)
	for range 50 {
		require.Equal(t, http.StatusOK, serve(p, alice).Code)
	}
}

// A refusal by per_user spends neither per_ip nor global.
func TestPremiumUsersRefusalSpendsNothing(t *testing.T) {
	e := newEnv(t)
	p := e.advanced(t, premium)
	ctx := context.Background()
	alice := caller("alice", "premium", "198.51.100.1")
	for range 50 {
		o := p.Check(ctx, alice)
		require.Equal(t, limitplugin.Allowed, o.Verdict())
	}
	for range 10 {
		o := p.Check(ctx, alice)
		require.Equal(t, limitplugin.Refused, o.Verdict())
		require.Equal(t, "per_user", o.Limit())
		global, ok := o.Remaining("global")
		require.True(t, ok)
		require.EqualValues(t, 950, global, "refused requests do not spend the group's limit")
		perIP, _ := o.Remaining("per_ip")
		require.EqualValues(t, 50, perIP)
	}
	o := p.Check(ctx, caller("bob", "premium", "198.51.100.2"))
	require.Equal(t, limitplugin.Allowed, o.Verdict())
	global, _ := o.Remaining("global")
	require.EqualValues(t, 949, global)
	_, ok := o.Remaining("per_consumer")
	require.False(t, ok, "not configured")
}

func TestPremiumUsersPerIPAcrossUsers(t *testing.T) {
	e := newEnv(t)
	p := e.advanced(t, premium)
	const office = "203.0.113.10"
	for _, user := range []string{"alice", "bob"} {
		for range 50 {
			require.Equal(t, http.StatusOK, serve(p, caller(user, "premium", office)).Code)
		}
	}
	w := serve(p, caller("carol", "premium", office))
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	require.Equal(t, "per_ip", decodeRefusal(t, w).Limit)
	require.Equal(t, "100", w.Header().Get("X-RateLimit-Limit"))
	require.Equal(t, "60", w.Header().Get("Retry-After"))
	// carol has spent nothing and passes from elsewhere.
	w = serve(p, caller("carol", "premium", "203.0.113.11"))
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, "49", w.Header().Get("X-RateLimit-Remaining"))
}

func TestPremiumUsersGlobalShared(t *testing.T) {
	e := newEnv(t)
	p := e.advanced(t, premium)
	for u := range 20 {
		c := caller(fmt.Sprint("user", u), "premium", fmt.Sprintf("10.0.0.%d", u+1))
		for range 50 {
			require.Equal(t, http.StatusOK, serve(p, c).Code)
		}
	}
	newcomer := caller("user20", "premium", "10.0.1.1")
	w := serve(p, newcomer)
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	require.Equal(t, "global", decodeRefusal(t, w).Limit)
	require.Equal(t, "1000", w.Header().Get("X-RateLimit-Limit"))
	o := p.Check(context.Background(), newcomer)
	perUser, _ := o.Remaining("per_user")
	require.EqualValues(t, 50, perUser, "a global refusal spends no per-user capacity")

	// Another group has a global limit of its own.
	require.Equal(t, http.StatusOK, serve(p, caller("user99", "basic", "10.0.2.1")).Code)
	// So has the same group under another scope.
	other := newcomer
	other.Scope = "route:reports"
	require.Equal(t, http.StatusOK, serve(p, other).Code)
}

func TestAdvancedPerConsumerAndWindows(t *testing.T) {
	e := newEnv(t)
	p := e.advanced(t, `{"limits":{"per_consumer":{"limit":2,"window":"1d"},"per_user":{"limit":3,"window":"30s"}}}`)
	alice := caller("alice", "g", "198.51.100.1")
	w := serve(p, alice)
	require.Equal(t, `"per_user";q=3;w=30, "per_consumer";q=2;w=86400`, w.Header().Get("RateLimit-Policy"))
	require.Equal(t, "2", w.Header().Get("X-RateLimit-Limit"))
	require.Equal(t, "1", w.Header().Get("X-RateLimit-Remaining"))
	require.Equal(t, http.StatusOK, serve(p, alice).Code)
	w = serve(p, alice)
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	body := decodeRefusal(t, w)
	require.Equal(t, "per_consumer", body.Limit)
	// No retry_after configured: the limiter's estimate, at most the window
	// (ratelimit.AllowAll over a limiter without AllowAll of its own reports
	// the time until the limit is whole again: a day).
	require.Positive(t, body.RetryAfter)
	require.LessOrEqual(t, body.RetryAfter, int64(86400))
	require.Equal(t, fmt.Sprint(body.RetryAfter), w.Header().Get("Retry-After"))
}

// Without a consumer, per-user limits fall back to the client address, as
// APISIX does for a missing key.
func TestAdvancedAnonymousFallsBackToAddress(t *testing.T) {
	e := newEnv(t)
	p := e.advanced(t, `{"limits":{"per_user":{"limit":1,"window":"1m"}}}`)
	require.Equal(t, http.StatusOK, serve(p, caller("", "", "198.51.100.1")).Code)
	require.Equal(t, http.StatusTooManyRequests, serve(p, caller("", "", "198.51.100.1")).Code)
	require.Equal(t, http.StatusOK, serve(p, caller("", "", "198.51.100.2")).Code)
	require.Equal(t, http.StatusOK, serve(p, caller("alice", "", "198.51.100.1")).Code, "a consumer does not share the address's counter")
}
