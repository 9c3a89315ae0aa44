package main

import (
	"net/http"
	"sync/atomic"

	"github.com/gatehousehq/gatehouse"
)

// The probes' paths, on the admin listener (docs/deploy.md says why there).
// They need no admin key and say nothing of the configuration.
const (
	// healthzPath answers 200 while the process serves HTTP (liveness).
	healthzPath = "/healthz"
	// readyzPath answers 200 once the configuration is loaded, 503 before
	// and while the store has been unreachable for longer than
	// -ready-max-store-outage (readiness).
	readyzPath = "/readyz"
)

// withProbes answers the probes ahead of next, the admin API (whose paths
// all start with /api/).
func withProbes(next http.Handler, ready func() error) http.Handler {
	health, readiness := gatehouse.HealthHandler(), gatehouse.ReadyHandler(ready)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case healthzPath:
			health.ServeHTTP(w, r)
		case readyzPath:
			readiness.ServeHTTP(w, r)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// swapHandler serves starting until set gives it the handler to serve: a
// listener opens before the gateway it serves is loaded.
type swapHandler struct {
	h        atomic.Pointer[http.Handler]
	starting http.HandlerFunc
}

func (s *swapHandler) set(h http.Handler) { s.h.Store(&h) }

func (s *swapHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := s.h.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	s.starting(w, r)
}

// startingData is the data plane's answer while the gateway loads, in the
// data plane's error shape.
func startingData(w http.ResponseWriter, _ *http.Request) {
	starting(w, `{"message":"the gateway is starting; retry later"}`)
}

// startingAdmin is the admin API's, in its error shape (API.md §2).
func startingAdmin(w http.ResponseWriter, _ *http.Request) {
	starting(w, `{"error":"unavailable","message":"the gateway is starting; retry later"}`)
}

func starting(w http.ResponseWriter, body string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Retry-After", "1")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write([]byte(body + "\n"))
}
