package plugin_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/gatehousehq/gatehouse/plugin"
)

// discard is a ResponseWriter that keeps nothing but a header map, so that
// the benchmarks measure the executor.
type discard struct{ h http.Header }

func (w *discard) Header() http.Header         { return w.h }
func (w *discard) Write(p []byte) (int, error) { return len(p), nil }
func (w *discard) WriteHeader(int)             {}

// nop does nothing at every stage.
type nop struct{ name string }

func (p nop) Name() string                                          { return p.name }
func (p nop) PreRequest(*plugin.Call)                               {}
func (p nop) PostRequest(*plugin.Call, *plugin.Response)            {}
func (p nop) NeedsBody() bool                                       { return false }
func (p nop) PreResponse(*plugin.Call, *plugin.Response)            {}
func (p nop) PostResponse(*plugin.Call, *plugin.Response)           {}
func (p bodyReader) PreResponse(_ *plugin.Call, r *plugin.Response) { _ = len(r.Body()) }

// bodyReader is a PreResponse plugin that needs the body.
type bodyReader struct{ nop }

func (bodyReader) NeedsBody() bool { return true }

// limitHeaders adds what an allowing rate limiter adds.
type limitHeaders struct{ nop }

func (limitHeaders) PreRequest(c *plugin.Call) {
	c.SetHeader("X-Ratelimit-Limit", "100")
	c.SetHeader("X-Ratelimit-Remaining", strconv.Itoa(99))
	c.SetHeader("X-Ratelimit-Reset", "60")
}

func BenchmarkServe(b *testing.B) {
	body := []byte(`{"order":1}`)
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(body) })
	pre := func(name string, priority int) plugin.Configured {
		return at(nop{name}, plugin.PreRequest, priority)
	}
	cases := []struct {
		name   string
		levels plugin.Levels
	}{
		{"empty", plugin.Levels{}},
		{"pre_request-3", plugin.Levels{Route: []plugin.Configured{pre("a", 1), pre("b", 2), pre("c", 3)}}},
		{"pre_request-3-ratelimit-headers", plugin.Levels{Route: []plugin.Configured{
			pre("a", 1), pre("b", 2), at(limitHeaders{nop{"limit"}}, plugin.PreRequest, 3),
		}}},
		{"parallel-2", plugin.Levels{Route: []plugin.Configured{parallel(pre("a", 1)), parallel(pre("b", 1))}}},
		{"every-stage", plugin.Levels{Route: []plugin.Configured{
			pre("a", 1),
			at(nop{"usage"}, plugin.PostRequest, 0),
			at(nop{"cors"}, plugin.PreResponse, 0),
			at(nop{"log"}, plugin.PostResponse, 0),
		}}},
		{"buffered-body", plugin.Levels{Route: []plugin.Configured{
			at(bodyReader{nop{"redact"}}, plugin.PreResponse, 0),
		}}},
	}
	b.Run("next-only", func(b *testing.B) { // the baseline: no plan at all
		w := &discard{h: make(http.Header)}
		r := httptest.NewRequest(http.MethodGet, "/orders/1", nil)
		b.ReportAllocs()
		for b.Loop() {
			clear(w.h)
			next.ServeHTTP(w, r)
		}
	})
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			p := mustPlan(b, tc.levels)
			w := &discard{h: make(http.Header)}
			r := httptest.NewRequest(http.MethodGet, "/orders/1", nil)
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				p.Serve(w, r, next, "orders", alice)
			}
		})
	}
}

func BenchmarkCacheGet(b *testing.B) {
	c := plugin.NewCache()
	build := func() (*plugin.Plan, error) { return plugin.NewPlan(plugin.Levels{}) }
	if _, err := c.Get("orders", "alice", build); err != nil {
		b.Fatal(err)
	}
	b.Run("hit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = c.Get("orders", "alice", build)
		}
	})
	b.Run("hit-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = c.Get("orders", "alice", build)
			}
		})
	})
}
