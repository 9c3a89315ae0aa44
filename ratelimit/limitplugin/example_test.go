package limitplugin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/netip"

	"github.com/gatehousehq/gatehouse/clientip"
	"github.com/gatehousehq/gatehouse/plugin"
	"github.com/gatehousehq/gatehouse/ratelimit/limitplugin"
	"github.com/gatehousehq/gatehouse/ratelimit/memory"
)

// The "Premium Users" consumer group's advanced_rate_limiter: a user's 51st
// request within a minute is refused.
func Example() {
	res, err := clientip.New("10.0.0.0/8") // the load balancers
	if err != nil {
		panic(err)
	}
	plugins := limitplugin.New(memory.New(), limitplugin.WithResolver(res))
	registry := plugin.NewRegistry(plugins.Definitions()...)

	p, err := registry.New("advanced_rate_limiter", json.RawMessage(`{
		"limits": {
			"global":   {"limit": 1000, "window": "1m"},
			"per_ip":   {"limit": 100,  "window": "1m"},
			"per_user": {"limit": 50,   "window": "1m"}
		},
		"actions": {"type": "reject", "retry_after": "60"}
	}`))
	if err != nil {
		panic(err)
	}
	limiter := p.(*limitplugin.Limiter)

	// What the executor knows of the request.
	c := limitplugin.Caller{
		Consumer: "user123",
		Group:    "premium-users",
		Route:    "orders",
		Scope:    "consumer_group:premium-users",
		Addr:     netip.MustParseAddr("198.51.100.7"),
	}
	for range 50 {
		if o := limiter.Check(context.Background(), c); o.Verdict() != limitplugin.Allowed {
			panic(o.Verdict())
		}
	}
	o := limiter.Check(context.Background(), c)
	w := httptest.NewRecorder()
	o.Reject(w)
	fmt.Println(o.Verdict(), o.Limit())
	fmt.Println(w.Code, w.Header().Get("Retry-After"))
	fmt.Print(w.Body.String())
	// Output:
	// refused per_user
	// 429 60
	// {"error":"rate limit exceeded","message":"rate limit exceeded: 50 requests per 1m (per_user)","limit":"per_user","retry_after":60}
}

// Handle is Check for an *http.Request: it finds the client address with the
// resolver and writes the response fields, or the refusal.
func ExampleLimiter_Handle() {
	plugins := limitplugin.New(memory.New())
	p, err := plugins.LimitCount().New(json.RawMessage(`{"count":2,"time_window":60,"key_type":"ip"}`))
	if err != nil {
		panic(err)
	}
	limiter := p.(*limitplugin.Limiter)
	for range 3 {
		r := httptest.NewRequest("GET", "/orders", nil)
		r.RemoteAddr = "203.0.113.9:40000"
		w := httptest.NewRecorder()
		if limiter.Handle(w, r, limitplugin.Caller{Route: "orders"}) {
			w.WriteHeader(200) // the handler
		}
		fmt.Println(w.Code, w.Header().Get("RateLimit-Policy"), w.Header().Get("RateLimit"))
	}
	// Output:
	// 200 "limit-count";q=2;w=60 "limit-count";r=1;t=30
	// 200 "limit-count";q=2;w=60 "limit-count";r=0;t=60
	// 429 "limit-count";q=2;w=60 "limit-count";r=0;t=30
}
