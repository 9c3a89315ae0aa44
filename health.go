package gatehouse

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Status is what a Gateway knows of its store, for health and readiness
// probes (Gateway.Status). A time is zero when it has not happened.
type Status struct {
	// LoadedAt is when the gateway last read the whole store into its view:
	// in New, in Refresh, and when it follows the store again after an
	// outage or a reset of the change feed.
	LoadedAt time.Time
	// LastContact is when the gateway last read the store successfully: a
	// load, a change applied, or a check (WithStoreCheckInterval).
	LastContact time.Time
	// UnreachableSince is when the current store outage began: the start of
	// the first read of the store that failed. It is zero while the store
	// answers. The last good view keeps serving meanwhile.
	UnreachableSince time.Time
}

// Loaded reports whether the view holds the store's configuration: true for
// every Gateway New returned (New fails otherwise), false for the zero Status
// of a nil *Gateway.
func (s Status) Loaded() bool { return !s.LoadedAt.IsZero() }

// Errors of Gateway.Ready, matchable with errors.Is.
var (
	// ErrNotLoaded is the readiness of a gateway whose configuration is not
	// loaded yet: a nil *Gateway, for a server that answers its probes
	// before New returns.
	ErrNotLoaded = errors.New("gatehouse: configuration not loaded yet")
	// ErrStoreUnreachable is the readiness of a gateway whose store has been
	// unreachable for longer than the caller allows.
	ErrStoreUnreachable = errors.New("gatehouse: store unreachable")
)

// Status reports the gateway's view of its store. It is safe to call at any
// time and costs a few atomic loads; a nil *Gateway reports the zero Status
// (not loaded).
func (g *Gateway) Status() Status {
	if g == nil {
		return Status{}
	}
	return Status{
		LoadedAt:         g.at(g.loadedAt.Load()),
		LastContact:      g.at(g.contactAt.Load()),
		UnreachableSince: g.at(g.downSince.Load()),
	}
}

// Ready reports whether the gateway should receive traffic: nil once its
// configuration is loaded, unless its store has been unreachable for longer
// than maxStoreOutage, when the error wraps ErrStoreUnreachable (and says for
// how long, never why: the store's own error, which may name hosts, is
// logged). A nil *Gateway returns ErrNotLoaded. maxStoreOutage <= 0 leaves
// the store out: the gateway is ready for as long as it serves its last good
// view.
//
// The gateway serves its last good view throughout an outage; what
// maxStoreOutage bounds is how stale a view the caller lets receive traffic.
// Instances that share a store lose it together, so they turn unready
// together: choose a bound longer than the outages to ride out.
func (g *Gateway) Ready(maxStoreOutage time.Duration) error {
	if g == nil {
		return ErrNotLoaded
	}
	since := g.downSince.Load()
	if since == 0 || maxStoreOutage <= 0 {
		return nil
	}
	if d := time.Since(g.at(since)); d > maxStoreOutage {
		unit := time.Millisecond
		if d >= time.Minute {
			unit = time.Second
		}
		return fmt.Errorf("%w for %s (allowed %s)", ErrStoreUnreachable, d.Round(unit), maxStoreOutage)
	}
	return nil
}

// mono returns t as nanoseconds on the monotonic clock since g.epoch, at
// least 1 (0 means unset).
func (g *Gateway) mono(t time.Time) int64 { return max(int64(t.Sub(g.epoch)), 1) }

// at is the inverse of mono; 0 gives the zero time.
func (g *Gateway) at(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return g.epoch.Add(time.Duration(n))
}

// HealthHandler answers liveness probes: 200 "ok" to GET and HEAD, whatever
// the gateway's state, since it says only that the process serves HTTP.
// Restarting a gateway whose store is away would not bring the store back,
// and would lose the view it still serves: readiness (ReadyHandler) is the
// probe that follows the store. Other methods get 405.
func HealthHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		probeAnswer(w, r, http.StatusOK, "ok\n")
	})
}

// ReadyHandler answers readiness probes: 200 "ready" to GET and HEAD while
// ready returns nil, 503 "not ready: " and the error's message otherwise, so
// ready must return errors fit to be shown to anyone who can reach the probe
// (Gateway.Ready's are). Other methods get 405. Typically:
//
//	mux.Handle("/readyz", gatehouse.ReadyHandler(func() error { return gw.Ready(30 * time.Second) }))
func ReadyHandler(ready func() error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			probeAnswer(w, r, 0, "")
			return
		}
		if err := ready(); err != nil {
			probeAnswer(w, r, http.StatusServiceUnavailable, "not ready: "+err.Error()+"\n")
			return
		}
		probeAnswer(w, r, http.StatusOK, "ready\n")
	})
}

// probeAnswer writes a probe's plain-text answer, never cached; status 0
// (or a method other than GET and HEAD) answers 405.
func probeAnswer(w http.ResponseWriter, r *http.Request, status int, body string) {
	h := w.Header()
	if status == 0 || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		h.Set("Allow", "GET, HEAD")
		status, body = http.StatusMethodNotAllowed, "method not allowed\n"
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(body))
	}
}
