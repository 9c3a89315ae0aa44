package gatehouse

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"strconv"
	"sync"
	"time"

	"github.com/gatehousehq/gatehouse/consumer"
)

// Observer receives what the gateway decides about requests, for metrics
// (metrics/prometheus implements it). Set it with WithObserver. Its methods
// run on the request path, concurrently: they must be safe for concurrent
// use, cheap, and must not block. A gateway without an Observer (and without
// WithSpans) pays one nil check per request for the feature.
type Observer interface {
	// ObserveRequest is called once for every request served by Protect,
	// Middleware or Router, when the gateway is done with it (the handler
	// or the backend has answered). ctx is the request's context.
	ObserveRequest(ctx context.Context, info RequestInfo)
	// ObserveLimiterError is called for every limiter call that failed (the
	// back-end is down or did not answer in time) while deciding a request
	// of route: rate limits (limit-count, advanced_rate_limiter) and API-key
	// quotas. Calls that failed because the request's context ended (the
	// client went away) are not reported. What the request then got
	// (allow_degradation, or 500) is in its ObserveRequest.
	ObserveLimiterError(ctx context.Context, route string, err error)
}

// RequestInfo is what the gateway tells an Observer about one request.
type RequestInfo struct {
	// Route is the route id: Protect's routeID (also when no such route
	// exists), or the route Router matched; "" when Router matched none.
	Route string
	// Consumer is the username of the consumer the request ran as, or was
	// refused as (a known consumer not authorized on the route, or over its
	// limits); "" when the request was refused before a consumer was known
	// or the route has no authentication.
	Consumer string
	// ConsumerGroup is the consumer group of Consumer, if any.
	ConsumerGroup string
	// Anonymous is set when Consumer is a route's anonymous_consumer.
	Anonymous bool
	// Status is 0 when the gateway let the request through: the handler
	// (Protect) ran, or the backend (Router) answered. Otherwise it is the
	// status the gateway answered with itself: 401 (no or wrong
	// credentials), 403 (not authorized on the route), 429 (a rate limit or
	// an API-key quota), 404 (no such route), 413 (an hmac-auth body over
	// its cap), 500 (a misconfigured route, a limiter failing where
	// allow_degradation is off, a plugin panic), 502 or 504 (the backend
	// failed or timed out), 503 (basic-auth's bcrypt limit full), or any
	// status a plugin stopped the request with.
	Status int
	// Authenticated is set when the route's authentication or
	// authorization ran (a route with authentication plugins, or with
	// consumer-restriction); AuthDuration is then how long authentication
	// and authorization took together: the authentication plugins
	// (hashing, bcrypt, signature checks), service-group authorization and
	// consumer-restriction, not API-key quotas and rate limits.
	Authenticated bool
	AuthDuration  time.Duration
}

// Allowed reports whether the gateway let the request through (Status 0).
func (i RequestInfo) Allowed() bool { return i.Status == 0 }

// WithObserver sets the Observer told about every request and every limiter
// failure (metrics/prometheus.New returns one).
func WithObserver(o Observer) Option { return func(c *config) { c.observer = o } }

// The span names a SpanFunc is called with.
const (
	// SpanAuth covers authentication and authorization: the time
	// RequestInfo.AuthDuration measures.
	SpanAuth = "gatehouse.auth"
	// SpanUpstream covers everything after authorization: API-key quotas,
	// the plugin plan (rate limits, ...) and the handler (Protect) or the
	// call to the backend (Router). Its context is the one the handler
	// and the reverse proxy see, so that a tracing transport given to
	// WithUpstreamTransport continues the trace.
	SpanUpstream = "gatehouse.upstream"
)

// SpanAttributes describe the request a span is started for.
type SpanAttributes struct {
	// Route is the route id (as in RequestInfo).
	Route string
	// Consumer and ConsumerGroup are the caller's, when known: set for
	// SpanUpstream on an authenticated route, empty for SpanAuth.
	Consumer, ConsumerGroup string
}

// SpanFunc starts a span named name (SpanAuth, SpanUpstream) as a child of
// ctx and returns the context that carries it and the function that ends
// it. end is called exactly once, with nil when the step let the request
// through, or with a *RefusedError when the gateway answered the request
// itself (its Err is the backend's error for a 502 or 504). The context
// returned for SpanAuth is not used (authentication makes no calls that
// could carry it); the one for SpanUpstream is the request's from then on.
// See docs/observability.md for OpenTelemetry.
type SpanFunc func(ctx context.Context, name string, attrs SpanAttributes) (context.Context, func(err error))

// WithSpans sets the function that starts a span around authentication
// (SpanAuth) and around the rest of each request (SpanUpstream), for
// tracing. Without it no span is started and nothing is paid.
func WithSpans(f SpanFunc) Option { return func(c *config) { c.spans = f } }

// RefusedError is the error a span ends with when the gateway answered the
// request itself.
type RefusedError struct {
	// Status is the status the gateway answered with.
	Status int
	// Reason is the message it answered with, or the name of the plugin
	// that stopped the request.
	Reason string
	// Err is the backend's error (502, 504); nil otherwise.
	Err error
}

// Error returns the status and reason.
func (e *RefusedError) Error() string {
	s := "gatehouse: answered " + strconv.Itoa(e.Status) + ": " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns Err.
func (e *RefusedError) Unwrap() error { return e.Err }

// observation is what serve records about one request for the Observer and
// the spans. It lives on the stack of serveTracked: the hook plumbing
// allocates nothing.
type observation struct {
	info      RequestInfo
	reason    string
	err       error         // the backend's error, for a 502 or 504
	authStart time.Duration // since monoEpoch
	endAuth   func(error)
	endUp     func(error)
}

// identify records the caller.
func (ob *observation) identify(id *consumer.Identity) {
	if id == nil || id.Consumer == nil {
		return
	}
	ob.info.Consumer, ob.info.ConsumerGroup, ob.info.Anonymous = id.Consumer.Username, id.Consumer.GroupID, id.Anonymous
}

// spanErr is the error a span ends with: nil while the request goes through.
func (ob *observation) spanErr() error {
	if ob.info.Status == 0 {
		return nil
	}
	return &RefusedError{Status: ob.info.Status, Reason: ob.reason, Err: ob.err}
}

// serveTracked is Protect's and Router's path when an Observer or spans are
// configured: serve with an observation, then the Observer is told. cr is
// nil when there is no such route.
func (g *Gateway) serveTracked(w http.ResponseWriter, r *http.Request, route string, cr *compiledRoute, next http.Handler) {
	ob := observation{info: RequestInfo{Route: route}}
	// Deferred so that the spans end and the request is counted when the
	// handler panics (the reverse proxy aborts a response whose body
	// breaks with http.ErrAbortHandler).
	defer g.finish(r.Context(), &ob)
	if cr == nil {
		writeMessage(w, http.StatusNotFound, MsgRouteNotFound)
		g.refused(r, &ob, route, nil, http.StatusNotFound, MsgRouteNotFound)
		return
	}
	g.serve(w, r, cr, next, &ob)
}

// finish ends the spans still open and tells the Observer.
func (g *Gateway) finish(ctx context.Context, ob *observation) {
	if ob.endAuth != nil {
		ob.endAuth(ob.spanErr())
	}
	if ob.endUp != nil {
		ob.endUp(ob.spanErr())
	}
	if g.obs != nil {
		g.obs.ObserveRequest(ctx, ob.info)
	}
}

// monoEpoch is the origin of the monotonic readings that time
// authentication: time.Since of a monotonic time reads one clock, where
// time.Now reads two (wall and monotonic).
var monoEpoch = time.Now()

// beginAuth starts timing authentication and authorization.
func (g *Gateway) beginAuth(r *http.Request, ob *observation) {
	ob.authStart = time.Since(monoEpoch)
	if g.spans != nil {
		_, ob.endAuth = g.spans(r.Context(), SpanAuth, SpanAttributes{Route: ob.info.Route})
	}
}

// endAuth stops timing authentication and authorization; the caller is
// recorded when known.
func (g *Gateway) endAuth(ob *observation, id *consumer.Identity) {
	ob.info.Authenticated = true
	ob.info.AuthDuration = time.Since(monoEpoch) - ob.authStart
	ob.identify(id)
	if end := ob.endAuth; end != nil {
		ob.endAuth = nil
		end(ob.spanErr())
	}
}

// beginUpstream starts the SpanUpstream span, when spans are configured, and
// returns the request carrying it.
func (g *Gateway) beginUpstream(r *http.Request, ob *observation) *http.Request {
	if g.spans == nil {
		return r
	}
	ctx, end := g.spans(r.Context(), SpanUpstream, SpanAttributes{Route: ob.info.Route, Consumer: ob.info.Consumer, ConsumerGroup: ob.info.ConsumerGroup})
	ob.endUp = end
	if ctx == nil {
		return r
	}
	return r.WithContext(ctx)
}

// refused records that the gateway answered the request itself with
// status, and logs it at debug level (when the logger has debug enabled:
// otherwise it costs one Enabled call). reason is the message answered, or
// the plugin that stopped the request; never anything the client sent.
func (g *Gateway) refused(r *http.Request, ob *observation, route string, id *consumer.Identity, status int, reason string) {
	if ob != nil {
		ob.info.Status, ob.reason = status, reason
		ob.identify(id)
	}
	if g.log.Enabled(r.Context(), slog.LevelDebug) {
		g.logRefusal(r, route, id, status, reason)
	}
}

// logRefusal writes the debug line of a refused request: route, status,
// reason, consumer when known, client address. No header, query or body
// value is logged: they may carry credentials.
func (g *Gateway) logRefusal(r *http.Request, route string, id *consumer.Identity, status int, reason string) {
	client := ""
	if a := g.resolver.Resolve(r); a.IsValid() {
		client = a.String()
	}
	attrs := make([]slog.Attr, 0, 6)
	attrs = append(attrs, slog.String("route", route), slog.Int("status", status), slog.String("reason", reason), slog.String("client", client))
	if id != nil && id.Consumer != nil {
		attrs = append(attrs, slog.String("consumer", id.Consumer.Username))
		if id.Anonymous {
			attrs = append(attrs, slog.Bool("anonymous", true))
		}
	}
	g.log.LogAttrs(r.Context(), slog.LevelDebug, "gatehouse: request refused", attrs...)
}

// upstreamCall stands between a plan and a route's reverse proxy when
// requests are observed, so that the proxy's ErrorHandler can say that the
// gateway answered 502 or 504 itself. It is the proxy's ResponseWriter,
// transparent to it (http.ResponseController reaches the real writer through
// Unwrap for flushes and protocol upgrades). Pooled.
type upstreamCall struct {
	proxy  *httputil.ReverseProxy
	w      http.ResponseWriter
	status int
	reason string
	err    error
}

var upstreamCalls = sync.Pool{New: func() any { return new(upstreamCall) }}

// ServeHTTP proxies the request with u as the proxy's ResponseWriter.
func (u *upstreamCall) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.w = w
	u.proxy.ServeHTTP(u, r)
}

func (u *upstreamCall) Header() http.Header         { return u.w.Header() }
func (u *upstreamCall) Write(b []byte) (int, error) { return u.w.Write(b) }
func (u *upstreamCall) WriteHeader(code int)        { u.w.WriteHeader(code) }

// Unwrap returns the writer u wraps, for http.ResponseController.
func (u *upstreamCall) Unwrap() http.ResponseWriter { return u.w }

// upstreamFailed tells the upstreamCall w, if w is one, that the proxy
// answered status with msg because of err.
func upstreamFailed(w http.ResponseWriter, status int, msg string, err error) {
	if u, ok := w.(*upstreamCall); ok {
		u.status, u.reason, u.err = status, msg, err
	}
}
