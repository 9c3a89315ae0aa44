package limitplugin_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/clientip"
	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/plugin"
	"github.com/gatehousehq/gatehouse/ratelimit/limitplugin"
)

// An instance bound to its plan's route and consumer (plugin.Binder) counts
// under the very keys the unbound instance uses, for every key type, with
// and without a consumer (the address fallback), and sends the same fields.
func TestBoundCountsLikeUnbound(t *testing.T) {
	alice := &consumer.Consumer{Username: "alice", GroupID: "premium"}
	settings := map[string]string{
		"consumer":       `{"count":5,"time_window":60,"key_type":"consumer"}`,
		"ip":             `{"count":5,"time_window":60,"key_type":"ip"}`,
		"route":          `{"count":5,"time_window":60,"key_type":"route"}`,
		"consumer_group": `{"count":5,"time_window":60,"key_type":"consumer_group"}`,
		"header":         `{"count":5,"time_window":60,"key_type":"header:X-Tenant"}`,
		"constant":       `{"count":5,"time_window":60,"key_type":"constant"}`,
	}
	for name, s := range settings {
		for _, who := range []*consumer.Consumer{alice, nil} {
			t.Run(name+"/"+map[bool]string{true: "alice", false: "no consumer"}[who != nil], func(t *testing.T) {
				e := newEnv(t)
				p := e.limitCount(t, s)
				runBound(t, p.Scoped("route:orders"), who, 2)
				c := limitplugin.Caller{Route: "orders", Scope: "route:orders", Header: http.Header{"X-Tenant": {"t1"}}}
				c.Addr = mustAddr("192.0.2.10")
				if who != nil {
					c.Consumer, c.Group = who.Username, who.GroupID
				}
				o := p.Check(context.Background(), c)
				left, ok := o.Remaining("limit-count")
				require.True(t, ok)
				require.EqualValues(t, 5-3, left, "the two bound requests were charged to the same counter")
			})
		}
	}
	t.Run("advanced", func(t *testing.T) {
		e := newEnv(t)
		p := e.advanced(t, `{"limits":{"global":{"limit":9,"window":"1m"},"per_ip":{"limit":8,"window":"1m"},"per_user":{"limit":7,"window":"1m"}}}`)
		got := runBound(t, p.Scoped("consumer_group:premium"), alice, 3)
		c := limitplugin.Caller{Consumer: "alice", Group: "premium", Route: "orders", Scope: "consumer_group:premium", Addr: mustAddr("192.0.2.10")}
		o := p.Check(context.Background(), c)
		for limit, want := range map[string]int64{"global": 9 - 4, "per_ip": 8 - 4, "per_user": 7 - 4} {
			left, _ := o.Remaining(limit)
			require.Equal(t, want, left, limit)
		}
		// The fields a bound run sent are those WriteHeaders gives for the
		// state it saw.
		require.Equal(t, "4", got.Get("X-RateLimit-Remaining"))
		require.Equal(t, "7", got.Get("X-RateLimit-Limit"))
		require.Equal(t, `"per_user";r=4;t=26, "per_ip";r=5;t=23, "global";r=6;t=20`, got.Get("RateLimit"))
		require.Equal(t, `"per_user";q=7;w=60, "per_ip";q=8;w=60, "global";q=9;w=60`, got.Get("RateLimit-Policy"))
	})
}

// runBound serves n requests from 192.0.2.10 through a plan built for who on
// route "orders" and returns the headers of the last response.
func runBound(t *testing.T, p plugin.Plugin, who *consumer.Consumer, n int) http.Header {
	t.Helper()
	plan, err := plugin.NewPlan(plugin.Levels{Route: []plugin.Configured{{Plugin: p, Stage: plugin.PreRequest}}},
		plugin.WithCaller("orders", who))
	require.NoError(t, err)
	_, bound := plan.Plugins()[0].Plugin.(*limitplugin.Bound)
	require.True(t, bound, "the plan runs the bound instance")
	var id *consumer.Identity
	if who != nil {
		id = &consumer.Identity{Consumer: who}
	}
	var w *httptest.ResponseRecorder
	for range n {
		r := httptest.NewRequest(http.MethodGet, "/orders", nil)
		r.RemoteAddr = "192.0.2.10:4242"
		r.Header.Set("X-Tenant", "t1")
		w = httptest.NewRecorder()
		plan.Serve(w, r, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), "orders", id)
		require.Equal(t, http.StatusOK, w.Code)
	}
	return w.Header()
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// A bound per_ip limit remembers the key of the address it saw last; requests
// from other addresses still count apart, each under its own key.
func TestBoundPerIPAcrossAddresses(t *testing.T) {
	e := newEnv(t)
	p := e.advanced(t, `{"limits":{"per_ip":{"limit":3,"window":"1m"}}}`)
	alice := &consumer.Consumer{Username: "alice", GroupID: "premium"}
	plan, err := plugin.NewPlan(plugin.Levels{Group: []plugin.Configured{{Plugin: p.Scoped("consumer_group:premium"), Stage: plugin.PreRequest}}},
		plugin.WithCaller("orders", alice))
	require.NoError(t, err)
	id := &consumer.Identity{Consumer: alice}
	call := func(addr string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/orders", nil)
		r.RemoteAddr = addr + ":4242"
		w := httptest.NewRecorder()
		plan.Serve(w, r, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), "orders", id)
		return w
	}
	// Addresses interleaved, each seen 3 times, then once more: refused.
	addrs := []string{"192.0.2.1", "192.0.2.2", "2001:db8::1", "192.0.2.3"}
	for round := range 3 {
		for _, a := range addrs {
			w := call(a)
			require.Equal(t, http.StatusOK, w.Code, "%s round %d", a, round)
			require.Equal(t, strconv.Itoa(2-round), w.Header().Get("X-RateLimit-Remaining"), a)
		}
	}
	for _, a := range addrs {
		require.Equal(t, http.StatusTooManyRequests, call(a).Code, a)
	}
	for i := range 40 { // many new addresses: each has its own budget
		require.Equal(t, http.StatusOK, call("198.51.100."+strconv.Itoa(i+1)).Code)
	}
}

// Fields longer than the block that holds them (four limits of 14-digit
// counts) are written whole.
func TestLongFields(t *testing.T) {
	e := newEnv(t)
	const n = 80_000_000_000_000
	p := e.advanced(t, `{"limits":{"global":{"limit":80000000000000,"window":"1d"},"per_ip":{"limit":80000000000000,"window":"1d"},
		"per_user":{"limit":80000000000000,"window":"1d"},"per_consumer":{"limit":80000000000000,"window":"1d"}}}`)
	w := serve(p, caller("alice", "premium", "192.0.2.1"))
	require.Equal(t, http.StatusOK, w.Code)
	left := strconv.FormatInt(n-1, 10)
	require.Equal(t, left, w.Header().Get("X-RateLimit-Remaining"))
	require.Equal(t, strconv.FormatInt(n, 10), w.Header().Get("X-RateLimit-Limit"))
	want := `"per_user";r=` + left + `;t=1, "per_consumer";r=` + left + `;t=1, "per_ip";r=` + left + `;t=1, "global";r=` + left + `;t=1`
	require.Equal(t, want, w.Header().Get("RateLimit"))
	require.Greater(t, len(want), 96)
}

// Behind a trusted proxy every request has the proxy's RemoteAddr: a bound
// per_ip limit still counts each client of X-Forwarded-For apart.
func TestBoundPerIPBehindTrustedProxy(t *testing.T) {
	e := newEnv(t, limitplugin.WithResolver(clientip.MustNew("10.0.0.0/8")))
	p := e.advanced(t, `{"limits":{"per_ip":{"limit":2,"window":"1m"}}}`)
	plan, err := plugin.NewPlan(plugin.Levels{Route: []plugin.Configured{{Plugin: p.Scoped("route:orders"), Stage: plugin.PreRequest}}},
		plugin.WithCaller("orders", nil))
	require.NoError(t, err)
	call := func(client string) int {
		r := httptest.NewRequest(http.MethodGet, "/orders", nil)
		r.RemoteAddr = "10.1.2.3:4242" // the same proxy connection every time
		r.Header.Set("X-Forwarded-For", client)
		w := httptest.NewRecorder()
		plan.Serve(w, r, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), "orders", nil)
		return w.Code
	}
	for range 2 {
		require.Equal(t, http.StatusOK, call("192.0.2.1"))
		require.Equal(t, http.StatusOK, call("192.0.2.2"))
	}
	require.Equal(t, http.StatusTooManyRequests, call("192.0.2.1"))
	require.Equal(t, http.StatusTooManyRequests, call("192.0.2.2"))
	require.Equal(t, http.StatusOK, call("192.0.2.3"))
}
