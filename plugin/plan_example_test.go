package plugin_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/plugin"
)

// quota lets `limit` requests through, then answers 429. It runs at
// PreRequest and tells the client where it stands on every response.
type quota struct {
	limit int64
	used  atomic.Int64
}

func (q *quota) Name() string { return "quota" }

func (q *quota) PreRequest(c *plugin.Call) {
	n := q.used.Add(1)
	c.SetHeader("X-Ratelimit-Limit", strconv.FormatInt(q.limit, 10))
	c.SetHeader("X-Ratelimit-Remaining", strconv.FormatInt(max(q.limit-n, 0), 10))
	if n > q.limit {
		c.SetHeader("Retry-After", "60")
		c.Stop(http.StatusTooManyRequests, "application/json",
			[]byte(`{"error":"rate limit exceeded","message":"quota spent","limit":"per_user","retry_after":60}`))
	}
}

// accessLog observes every response once it was sent.
type accessLog struct{}

func (accessLog) Name() string { return "access-log" }

func (accessLog) PostResponse(c *plugin.Call, res *plugin.Response) {
	fmt.Printf("log: %s %s %d %dB\n", c.RouteID(), c.Consumer().Username, res.Status(), res.Size())
}

func ExamplePlan_Serve() {
	// Built once per (route, consumer) pair and kept in a Cache; Invalidate
	// it when routes, consumers or consumer groups change.
	cache := plugin.NewCache()
	plan, err := cache.Get("orders", "alice", func() (*plugin.Plan, error) {
		return plugin.NewPlan(plugin.Levels{
			Gateway: []plugin.Configured{{Plugin: accessLog{}, Stage: plugin.PostResponse}},
			// The consumer's own quota wins over one its group or route sets.
			Consumer: []plugin.Configured{{Plugin: &quota{limit: 1}, Stage: plugin.PreRequest, Priority: 10}},
		})
	})
	if err != nil {
		panic(err)
	}

	orders := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "order 1")
	})
	id := &consumer.Identity{Consumer: &consumer.Consumer{Username: "alice"}}
	for range 2 {
		rec := httptest.NewRecorder()
		// In the gateway: after authentication, in place of next.ServeHTTP.
		plan.Serve(rec, httptest.NewRequest(http.MethodGet, "/orders/1", nil), orders, "orders", id)
		fmt.Println(rec.Code, rec.Header().Get("X-RateLimit-Remaining"), rec.Body.String())
	}
	// Output:
	// log: orders alice 200 7B
	// 200 0 order 1
	// log: orders alice 429 91B
	// 429 0 {"error":"rate limit exceeded","message":"quota spent","limit":"per_user","retry_after":60}
}
