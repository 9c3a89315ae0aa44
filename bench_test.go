package gatehouse_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/consumergroup"
)

// nopWriter is a ResponseWriter that keeps nothing, so that the benchmark
// measures the middleware rather than a recorder.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}

// BenchmarkProtectKeyAuth measures the key-auth middleware on a valid key with
// 10,000 consumers (one key each) in the store: header extraction, hashing,
// lookup, identity headers and context.
func BenchmarkProtectKeyAuth(b *testing.B) {
	const consumers = 10_000
	f := newFixture(b, keyRoute("r", `{}`))
	for i := range consumers {
		name := fmt.Sprintf("user-%05d", i)
		f.consumer(consumer.Consumer{Username: name})
		f.key(name, "k", benchKey(i))
	}
	var seen string
	h := f.gw.Protect("r", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := consumer.FromContext(r.Context())
		seen = c.Username
	}))
	last := benchKey(consumers - 1)
	eventually(b, h, "/", map[string]string{"apikey": last}, http.StatusOK)

	for _, src := range []struct{ name, header, value string }{
		{"header", "Apikey", benchKey(4242)},
		{"bearer", "Authorization", "Bearer " + benchKey(4242)},
	} {
		b.Run(src.name, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodGet, "/orders", nil)
			r.Header[src.header] = []string{src.value}
			w := &nopWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, r)
			}
			if seen != "user-04242" {
				b.Fatalf("handler saw %q", seen)
			}
		})
	}
	b.Run("invalid", func(b *testing.B) {
		r := httptest.NewRequest(http.MethodGet, "/orders", nil)
		r.Header["Apikey"] = []string{benchKey(consumers + 1)}
		w := &nopWriter{h: http.Header{}}
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(w, r)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			r := httptest.NewRequest(http.MethodGet, "/orders", nil)
			r.Header["Apikey"] = []string{benchKey(42)}
			w := &nopWriter{h: http.Header{}}
			for pb.Next() {
				h.ServeHTTP(w, r)
			}
		})
	})
}

// benchKey returns the key of consumer i, as long as a generated key.
func benchKey(i int) string { return fmt.Sprintf("ghk_%043d", i) }

// BenchmarkProtectConsumerGroup measures a key-auth request of a member of a
// consumer group that requires the documented advanced_rate_limiter (global,
// per_ip and per_user limits, never reached here): authentication, the cached
// plugin plan, three limits charged together in the memory limiter, and the
// rate-limit headers.
func BenchmarkProtectConsumerGroup(b *testing.B) {
	f := newFixture(b, keyRoute("r", `{}`))
	f.consumerGroup("default", "premium", consumergroup.PluginConfig{Name: "advanced_rate_limiter", Settings: json.RawMessage(
		`{"limits":{"global":{"limit":1000000000,"window":"1m"},"per_ip":{"limit":1000000000,"window":"1m"},"per_user":{"limit":1000000000,"window":"1m"}}}`)})
	f.consumer(consumer.Consumer{Username: "user123", GroupID: "premium"})
	f.key("user123", "k", benchKey(1))
	var seen string
	h := f.gw.Protect("r", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := consumer.FromContext(r.Context())
		seen = c.Username
	}))
	w0 := eventually(b, h, "/", map[string]string{"apikey": benchKey(1)}, http.StatusOK)
	if w0.Header().Get("X-RateLimit-Limit") == "" {
		b.Fatal("the group's limits did not run")
	}
	r := httptest.NewRequest(http.MethodGet, "/orders", nil)
	r.Header["Apikey"] = []string{benchKey(1)}
	w := &nopWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, r)
	}
	if seen != "user123" {
		b.Fatalf("handler saw %q", seen)
	}
}

// BenchmarkProtectLimitCount measures a key-auth request on a route with a
// limit-count keyed by consumer (never reached).
func BenchmarkProtectLimitCount(b *testing.B) {
	r := keyRoute("r", `{}`)
	r.Plugins["limit-count"] = json.RawMessage(`{"count":1000000000,"time_window":60,"key_type":"consumer"}`)
	f := newFixture(b, r)
	f.consumer(consumer.Consumer{Username: "alice"})
	f.key("alice", "k", benchKey(1))
	h := f.gw.Protect("r", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	eventually(b, h, "/", map[string]string{"apikey": benchKey(1)}, http.StatusOK)
	req := httptest.NewRequest(http.MethodGet, "/orders", nil)
	req.Header["Apikey"] = []string{benchKey(1)}
	w := &nopWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, req)
	}
}
