package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// BenchmarkStallDeadlines measures what the per-read and per-write deadlines
// cost a small POST over a real keep-alive connection, against the same
// server without them.
func BenchmarkStallDeadlines(b *testing.B) {
	// Reads and writes as httputil.ReverseProxy does, in plain Read and
	// Write calls (io.Copy would take the server's ReadFrom fast path,
	// which the proxy does not use).
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = w.Write(b)
	})
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{
		{"plain", echo},
		{"deadlines", withStallDeadlines(echo, time.Minute, time.Minute, 0)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			srv := httptest.NewServer(bc.h)
			defer srv.Close()
			c := srv.Client()
			body := strings.Repeat("x", 512)
			b.ReportAllocs()
			for b.Loop() {
				resp, err := c.Post(srv.URL, "text/plain", strings.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}
