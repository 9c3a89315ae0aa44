package limitplugin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/plugin"
	"github.com/gatehousehq/gatehouse/ratelimit/limitplugin"
	"github.com/gatehousehq/gatehouse/ratelimit/memory"
)

// Limits the benchmarks never exhaust, so that every request is allowed and
// charged.
const (
	benchAdvanced = `{"limits":{"global":{"limit":1000000000,"window":"1h"},"per_ip":{"limit":1000000000,"window":"1h"},"per_user":{"limit":1000000000,"window":"1h"}}}`
	benchCount    = `{"count":1000000000,"time_window":3600,"key_type":"consumer"}`
)

func benchLimiter(tb testing.TB, def func(*limitplugin.Plugins) *limitplugin.Definition, settings string) *limitplugin.Limiter {
	p, err := def(limitplugin.New(memory.New())).New(json.RawMessage(settings))
	require.NoError(tb, err)
	return p.(*limitplugin.Limiter)
}

var (
	lcDef  = (*limitplugin.Plugins).LimitCount
	arlDef = (*limitplugin.Plugins).AdvancedRateLimiter
)

func TestCheckDoesNotAllocate(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		def      func(*limitplugin.Plugins) *limitplugin.Definition
		settings string
		c        limitplugin.Caller
	}{
		{"limit-count consumer", lcDef, benchCount, caller("alice", "premium", "198.51.100.1")},
		{"limit-count header", lcDef, `{"count":1000000,"time_window":60,"key_type":"header:X-Api-Key"}`,
			limitplugin.Caller{Header: http.Header{"X-Api-Key": {"k1"}}}},
		{"advanced, three limits", arlDef, benchAdvanced, caller("alice", "premium", "2001:db8::1")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := benchLimiter(t, tc.def, tc.settings)
			p.Check(ctx, tc.c) // the keys are new once
			allocs := testing.AllocsPerRun(200, func() {
				o := p.Check(ctx, tc.c)
				if o.Verdict() != limitplugin.Allowed {
					t.Fatal(o.Verdict())
				}
			})
			require.Zero(t, allocs)
		})
	}
}

func BenchmarkCheck(b *testing.B) {
	ctx := context.Background()
	for _, bc := range []struct {
		name     string
		def      func(*limitplugin.Plugins) *limitplugin.Definition
		settings string
	}{
		{"limit-count", lcDef, benchCount},
		{"advanced-3-limits", arlDef, benchAdvanced},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := benchLimiter(b, bc.def, bc.settings)
			c := caller("alice", "premium", "198.51.100.1")
			b.ReportAllocs()
			for b.Loop() {
				if o := p.Check(ctx, c); o.Verdict() != limitplugin.Allowed {
					b.Fatal(o.Verdict())
				}
			}
		})
		// 10,000 callers in turn: keys from the cache, the limiter's maps
		// larger than the CPU caches.
		b.Run(bc.name+"-10k-callers", func(b *testing.B) {
			p := benchLimiter(b, bc.def, bc.settings)
			callers := make([]limitplugin.Caller, 10_000)
			for i := range callers {
				callers[i] = caller(fmt.Sprint("user-", i), "premium", fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if o := p.Check(ctx, callers[i]); o.Verdict() != limitplugin.Allowed {
					b.Fatal(o.Verdict())
				}
				if i++; i == len(callers) {
					i = 0
				}
			}
		})
		b.Run(bc.name+"-parallel", func(b *testing.B) {
			p := benchLimiter(b, bc.def, bc.settings)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				c := caller("alice", "premium", "198.51.100.1")
				for pb.Next() {
					if o := p.Check(ctx, c); o.Verdict() != limitplugin.Allowed {
						b.Fatal(o.Verdict())
					}
				}
			})
		})
	}
}

// BenchmarkWriteHeaders measures the response fields of an allowed request.
func BenchmarkWriteHeaders(b *testing.B) {
	ctx := context.Background()
	p := benchLimiter(b, arlDef, benchAdvanced)
	o := p.Check(ctx, caller("alice", "premium", "198.51.100.1"))
	h := make(http.Header, 8)
	b.ReportAllocs()
	for b.Loop() {
		o.WriteHeaders(h)
	}
}

// BenchmarkHandle is the whole request-time path for an *http.Request:
// resolve the address, check, write the fields.
func BenchmarkHandle(b *testing.B) {
	p := benchLimiter(b, arlDef, benchAdvanced)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	w := httptest.NewRecorder()
	c := limitplugin.Caller{Consumer: "alice", Group: "premium", Route: "orders"}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.Header())
		if !p.Handle(w, r, c) {
			b.Fatal("refused")
		}
	}
}

// BenchmarkBound measures an instance bound to its plan's consumer, as the
// gateway runs it: a plan of that one plugin served around a handler that
// writes nothing (the three limits of the Premium Users group, never
// reached; the client address the same every time).
func BenchmarkBound(b *testing.B) {
	p := benchLimiter(b, arlDef, benchAdvanced)
	alice := &consumer.Consumer{Username: "alice", GroupID: "premium"}
	plan, err := plugin.NewPlan(plugin.Levels{Group: []plugin.Configured{{Plugin: p.Scoped("consumer_group:premium"), Stage: plugin.PreRequest}}},
		plugin.WithCaller("orders", alice))
	require.NoError(b, err)
	id := &consumer.Identity{Consumer: alice}
	r := httptest.NewRequest(http.MethodGet, "/orders", nil)
	r.RemoteAddr = "198.51.100.1:4242"
	w := &discard{h: http.Header{}}
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		plan.Serve(w, r, next, "orders", id)
	}
	if w.h.Get("X-RateLimit-Limit") != "1000000000" {
		b.Fatalf("fields not set: %v", w.h)
	}
}

// discard is a ResponseWriter that keeps only its header map.
type discard struct{ h http.Header }

func (w *discard) Header() http.Header         { return w.h }
func (w *discard) Write(p []byte) (int, error) { return len(p), nil }
func (w *discard) WriteHeader(int)             {}
