package gatehouse_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatehousehq/gatehouse/consumer"
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
