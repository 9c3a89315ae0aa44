package limitplugin_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/clientip"
	"github.com/gatehousehq/gatehouse/ratelimit/limitplugin"
)

func TestLimitCountHeaders(t *testing.T) {
	e := newEnv(t)
	p := e.limitCount(t, `{"count":2,"time_window":60,"key_type":"consumer"}`)
	alice := caller("alice", "", "198.51.100.1")
	w := serve(p, alice)
	require.Equal(t, http.StatusOK, w.Code)
	h := w.Header()
	require.Equal(t, "2", h.Get("X-RateLimit-Limit"))
	require.Equal(t, "1", h.Get("X-RateLimit-Remaining"))
	require.Equal(t, "30", h.Get("X-RateLimit-Reset"))
	require.Equal(t, `"limit-count";q=2;w=60`, h.Get("RateLimit-Policy"))
	require.Equal(t, `"limit-count";r=1;t=30`, h.Get("RateLimit"))

	require.Equal(t, http.StatusOK, serve(p, alice).Code)
	w = serve(p, alice)
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	require.Equal(t, "30", w.Header().Get("Retry-After"), "one of 2 per minute is back in 30 s")
	require.Equal(t, refusal{
		Error:      "rate limit exceeded",
		Message:    "rate limit exceeded: 2 requests per 1m",
		Limit:      "limit-count",
		RetryAfter: 30,
	}, decodeRefusal(t, w))
}

func TestLimitCountRejectedCodeAndMessage(t *testing.T) {
	e := newEnv(t)
	p := e.limitCount(t, `{"count":1,"time_window":10,"rejected_code":503,"rejected_msg":"slow down, \"please\""}`)
	c := caller("", "", "198.51.100.1")
	require.Equal(t, http.StatusOK, serve(p, c).Code)
	w := serve(p, c)
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	require.Equal(t, "10", w.Header().Get("Retry-After"))
	body := decodeRefusal(t, w)
	require.Equal(t, `slow down, "please"`, body.Message)
	require.Equal(t, "limit-count", body.Limit)
	require.EqualValues(t, 10, body.RetryAfter)
}

// Each key type decides who shares a counter. Every case allows one request
// per minute: a request is allowed when its key is fresh.
func TestLimitCountKeyTypes(t *testing.T) {
	type req struct {
		c    limitplugin.Caller
		want int
	}
	with := func(c limitplugin.Caller, f func(*limitplugin.Caller)) limitplugin.Caller {
		f(&c)
		return c
	}
	hdr := func(v string) func(*limitplugin.Caller) {
		return func(c *limitplugin.Caller) { c.Header = http.Header{"X-Api-Key": {v}} }
	}
	route := func(r string) func(*limitplugin.Caller) { return func(c *limitplugin.Caller) { c.Route = r } }
	const ok, no = http.StatusOK, http.StatusTooManyRequests
	for _, tc := range []struct {
		keyType string
		reqs    []req
	}{
		{"consumer", []req{
			{caller("alice", "", "198.51.100.1"), ok},
			{caller("alice", "", "198.51.100.2"), no}, // the same consumer from elsewhere
			{caller("bob", "", "198.51.100.1"), ok},   // another consumer at the same address
			{caller("", "", "198.51.100.1"), ok},      // anonymous: keyed by address
			{caller("", "", "198.51.100.1"), no},
			{caller("", "", "198.51.100.3"), ok},
		}},
		{"ip", []req{
			{caller("alice", "", "198.51.100.1"), ok},
			{caller("bob", "", "198.51.100.1"), no}, // same address, another consumer
			{caller("alice", "", "198.51.100.2"), ok},
			{caller("alice", "", "::ffff:198.51.100.2"), no}, // IPv4-mapped is the same client
			{caller("alice", "", "2001:db8::1"), ok},
		}},
		{"route", []req{
			{caller("alice", "", "198.51.100.1"), ok},
			{caller("bob", "", "198.51.100.2"), no}, // same route
			{with(caller("alice", "", "198.51.100.1"), route("reports")), ok},
			{with(caller("", "", "198.51.100.9"), route("")), ok}, // no route: by address
		}},
		{"consumer_group", []req{
			{caller("alice", "gold", "198.51.100.1"), ok},
			{caller("bob", "gold", "198.51.100.2"), no},
			{caller("carol", "silver", "198.51.100.1"), ok},
			{caller("dave", "", "198.51.100.1"), ok}, // no group: by address
			{caller("erin", "", "198.51.100.1"), no},
		}},
		{"header:x-api-key", []req{
			{with(caller("alice", "", "198.51.100.1"), hdr("k1")), ok},
			{with(caller("bob", "", "198.51.100.2"), hdr("k1")), no},
			{with(caller("alice", "", "198.51.100.1"), hdr("k2")), ok},
			{caller("alice", "", "198.51.100.1"), ok}, // absent: by address
			{with(caller("bob", "", "198.51.100.1"), hdr("")), no},
			{with(caller("bob", "", "198.51.100.1"), hdr(strings.Repeat("a", 200))), ok},
			{with(caller("bob", "", "198.51.100.7"), hdr(strings.Repeat("a", 200))), no},
			{with(caller("bob", "", "198.51.100.7"), hdr(strings.Repeat("a", 199)+"b")), ok},
		}},
		{"constant", []req{
			{caller("alice", "gold", "198.51.100.1"), ok},
			{with(caller("bob", "silver", "198.51.100.2"), route("reports")), no},
			{caller("", "", ""), no},
		}},
	} {
		t.Run(tc.keyType, func(t *testing.T) {
			e := newEnv(t)
			p := e.limitCount(t, fmt.Sprintf(`{"count":1,"time_window":60,"key_type":%q}`, tc.keyType))
			for i, r := range tc.reqs {
				require.Equal(t, r.want, serve(p, r.c).Code, "request %d: %+v", i, r.c)
			}
		})
	}
}

// The key scheme, as docs/plugins/limit-count.md writes it.
func TestKeys(t *testing.T) {
	e := newEnv(t)
	lc := e.limitCount(t, `{"count":1,"time_window":60,"key_type":"consumer"}`)
	fp := limitplugin.KeyPrefix(lc)
	require.Regexp(t, `^gh:lc:[0-9a-f]{12}:$`, fp)
	c := caller("alice", "gold", "198.51.100.1")
	c.Scope = "route:orders"
	require.Equal(t, fp+"route%3Aorders:consumer:alice", limitplugin.Key(lc, 0, c))
	c.Consumer = ""
	require.Equal(t, fp+"route%3Aorders:consumer~ip:198.51.100.1", limitplugin.Key(lc, 0, c))
	c.Addr = netip.Addr{}
	require.Equal(t, fp+"route%3Aorders:consumer~ip:-", limitplugin.Key(lc, 0, c))

	arl := e.advanced(t, premium)
	afp := limitplugin.KeyPrefix(arl)
	require.Regexp(t, `^gh:arl:\{[0-9a-f]{12}:$`, afp, "several limits: a Redis hash tag opens")
	c = caller("alice", "premium", "2001:db8::1")
	c.Scope = "consumer_group:premium"
	scope := "consumer_group%3Apremium"
	require.Equal(t, afp+scope+"}:per_user:alice", limitplugin.Key(arl, 0, c))
	require.Equal(t, afp+scope+"}:per_ip:2001:db8::1", limitplugin.Key(arl, 1, c))
	require.Equal(t, afp+scope+"}:global:premium", limitplugin.Key(arl, 2, c))
	c.Group = ""
	require.Equal(t, afp+scope+"}:global:", limitplugin.Key(arl, 2, c), "no group: the empty group")
	c.Consumer = ""
	require.Equal(t, afp+scope+"}:per_user~ip:2001:db8::1", limitplugin.Key(arl, 0, c))

	one := e.advanced(t, `{"limits":{"per_user":{"limit":5,"window":"60"}}}`)
	ofp := limitplugin.KeyPrefix(one)
	require.Regexp(t, `^gh:arl:[0-9a-f]{12}:$`, ofp, "one limit: no hash tag")
	c = caller("alice", "premium", "2001:db8::1")
	c.Scope = "consumer_group:premium"
	require.Equal(t, ofp+scope+":per_user:alice", limitplugin.Key(one, 0, c))

	hdr := e.limitCount(t, `{"count":1,"time_window":60,"key_type":"header:x-api-key"}`)
	c = caller("", "", "198.51.100.1")
	c.Header = http.Header{"X-Api-Key": {"k:1"}}
	require.Equal(t, limitplugin.KeyPrefix(hdr)+":header:k:1", limitplugin.Key(hdr, 0, c))
	c.Header = http.Header{"X-Api-Key": {strings.Repeat("x", 129)}}
	require.Regexp(t, `^gh:lc:[0-9a-f]{12}::header#:[0-9a-f]{64}$`, limitplugin.Key(hdr, 0, c))

	// Scopes cannot run into the next field.
	c = caller("b", "", "198.51.100.1")
	c.Scope = "a:consumer:"
	k1 := limitplugin.Key(lc, 0, c)
	c.Scope, c.Consumer = "a", "consumer::b"
	require.NotEqual(t, k1, limitplugin.Key(lc, 0, c))
}

// Instances that count differently never share counters; instances in
// different scopes neither; the same settings in the same scope do.
func TestNamespaces(t *testing.T) {
	e := newEnv(t)
	a := e.limitCount(t, `{"count":1,"time_window":60,"key_type":"consumer"}`)
	same := e.limitCount(t, `{"count":1,"time_window":60,"key_type":"consumer","rejected_code":503,"rejected_msg":"x","allow_degradation":true}`)
	other := e.limitCount(t, `{"count":1,"time_window":61,"key_type":"consumer"}`)
	otherType := e.limitCount(t, `{"count":1,"time_window":60,"key_type":"constant"}`)
	arl := e.advanced(t, `{"limits":{"per_consumer":{"limit":1,"window":"60"}}}`)
	c := caller("alice", "g", "198.51.100.1")
	require.Equal(t, http.StatusOK, serve(a, c).Code)
	require.Equal(t, http.StatusServiceUnavailable, serve(same, c).Code, "only messages and codes differ: one counter")
	require.Equal(t, http.StatusOK, serve(other, c).Code)
	require.Equal(t, http.StatusOK, serve(otherType, c).Code)
	require.Equal(t, http.StatusOK, serve(arl, c).Code, "another plugin")
	scoped := c
	scoped.Scope = "route:reports"
	require.Equal(t, http.StatusOK, serve(a, scoped).Code, "another scope")
	require.Equal(t, http.StatusTooManyRequests, serve(a, scoped).Code)
}

func TestHandleResolvesTheClient(t *testing.T) {
	e := newEnv(t, limitplugin.WithResolver(clientip.MustNew("10.0.0.0/8")))
	p := e.limitCount(t, `{"count":1,"time_window":60,"key_type":"ip"}`)
	send := func(remote, xff string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/orders", nil)
		r.RemoteAddr = remote
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		w := httptest.NewRecorder()
		if p.Handle(w, r, limitplugin.Caller{Route: "orders"}) {
			w.WriteHeader(http.StatusOK)
		}
		return w
	}
	require.Equal(t, http.StatusOK, send("10.0.0.2:1234", "198.51.100.1").Code)
	require.Equal(t, "0", send("10.0.0.2:1234", "198.51.100.2").Header().Get("X-RateLimit-Remaining"), "another client behind the proxy")
	w := send("10.0.0.3:1234", "6.6.6.6, 198.51.100.1")
	require.Equal(t, http.StatusTooManyRequests, w.Code, "the same client through another proxy, spoofing")
	require.Equal(t, "limit-count", decodeRefusal(t, w).Limit)
	require.Equal(t, http.StatusOK, send("203.0.113.5:1234", "198.51.100.1").Code, "an untrusted peer is keyed by itself")
	require.Equal(t, http.StatusTooManyRequests, send("203.0.113.5:1234", "198.51.100.9").Code)

	// A caller address given by the executor wins.
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	w = httptest.NewRecorder()
	require.True(t, p.Handle(w, r, limitplugin.Caller{Addr: netip.MustParseAddr("192.0.2.200")}))
}

func TestKeyCacheOff(t *testing.T) {
	e := newEnv(t, limitplugin.WithKeyCache(0))
	p := e.advanced(t, premium)
	c := caller("alice", "premium", "198.51.100.1")
	for range 50 {
		require.Equal(t, http.StatusOK, serve(p, c).Code)
	}
	require.Equal(t, http.StatusTooManyRequests, serve(p, c).Code)
}

// A small cache that keeps evicting still gives the right keys.
func TestKeyCacheEviction(t *testing.T) {
	e := newEnv(t, limitplugin.WithKeyCache(4))
	p := e.limitCount(t, `{"count":2,"time_window":60,"key_type":"consumer"}`)
	for round := range 2 {
		for u := range 100 {
			o := p.Check(context.Background(), caller(fmt.Sprint("u", u), "", "198.51.100.1"))
			require.Equal(t, limitplugin.Allowed, o.Verdict())
			left, _ := o.Remaining("limit-count")
			require.EqualValues(t, 1-round, left)
		}
	}
}

// EachHeader gives the fields WriteHeaders sets; Response the refusal Reject
// writes.
func TestEachHeaderAndResponse(t *testing.T) {
	e := newEnv(t)
	p := e.advanced(t, premium)
	c := caller("alice", "premium", "198.51.100.1")
	for i := range 51 {
		o := p.Check(context.Background(), c)
		want := http.Header{}
		o.WriteHeaders(want)
		got := http.Header{}
		o.EachHeader(func(name, value string) { got.Add(name, value) })
		require.Equal(t, want, got)
		status, ct, body := o.Response()
		if i < 50 {
			require.Zero(t, status)
			require.Nil(t, body)
			require.Empty(t, got.Get("Retry-After"))
			continue
		}
		require.Equal(t, http.StatusTooManyRequests, status)
		require.Equal(t, "application/json", ct)
		require.JSONEq(t, `{"error":"rate limit exceeded","message":"rate limit exceeded: 50 requests per 1m (per_user)","limit":"per_user","retry_after":60}`, string(body))
		require.Equal(t, "60", got.Get("Retry-After"))
	}
}
