package gatehouse

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// Messages the reverse proxies of Router answer with when a backend fails.
const (
	// MsgUpstreamUnavailable answers 502 when a backend cannot be reached or
	// breaks the exchange (connection refused or reset, malformed response).
	MsgUpstreamUnavailable = "upstream unavailable"
	// MsgUpstreamTimeout answers 504 when a backend does not connect or does
	// not send its response headers in time (the transport's dial and
	// response-header timeouts, or a deadline on the request's context).
	MsgUpstreamTimeout = "upstream timed out"
)

// The timeouts of DefaultUpstreamTransport.
const (
	// DefaultUpstreamDialTimeout bounds connecting to a backend. A backend
	// on the same network connects in milliseconds; one that takes seconds
	// is down or unreachable, and the caller is better served by a prompt
	// 504 than by the system's TCP timeout (a minute or more).
	DefaultUpstreamDialTimeout = 5 * time.Second
	// DefaultUpstreamTLSHandshakeTimeout bounds a TLS handshake with a
	// backend (http.DefaultTransport's value).
	DefaultUpstreamTLSHandshakeTimeout = 10 * time.Second
	// DefaultUpstreamResponseHeaderTimeout bounds the wait for a backend's
	// response headers once the request (body included) has been sent. It
	// does not bound the response body, so streams and long downloads are
	// not cut. One minute matches nginx's proxy_read_timeout.
	DefaultUpstreamResponseHeaderTimeout = 60 * time.Second
	// DefaultUpstreamMaxIdleConnsPerHost is how many idle keep-alive
	// connections DefaultUpstreamTransport keeps per backend
	// (http.DefaultTransport keeps 2, so a gateway with more concurrent
	// requests to one backend would open a new connection for most of them).
	DefaultUpstreamMaxIdleConnsPerHost = 64
)

// DefaultUpstreamTransport returns the transport the reverse proxies of
// Router use unless WithUpstreamTransport gives another: a clone of
// http.DefaultTransport (proxy from the environment, HTTP/2 when the backend
// offers it, 90 s idle connections) with a dial timeout of
// DefaultUpstreamDialTimeout, a TLS handshake timeout of
// DefaultUpstreamTLSHandshakeTimeout, a response-header timeout of
// DefaultUpstreamResponseHeaderTimeout, and DefaultUpstreamMaxIdleConnsPerHost
// idle connections per backend (256 in all). Each call returns a new transport with its own
// connection pool; change its fields before handing it to
// WithUpstreamTransport.
func DefaultUpstreamTransport() *http.Transport {
	var t *http.Transport
	if dt, ok := http.DefaultTransport.(*http.Transport); ok {
		t = dt.Clone()
	} else { // a program replaced http.DefaultTransport: start from its documented settings
		t = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          100,
			IdleConnTimeout:       90 * time.Second,
			ExpectContinueTimeout: time.Second,
		}
	}
	t.DialContext = (&net.Dialer{Timeout: DefaultUpstreamDialTimeout, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = DefaultUpstreamTLSHandshakeTimeout
	t.ResponseHeaderTimeout = DefaultUpstreamResponseHeaderTimeout
	t.MaxIdleConnsPerHost = DefaultUpstreamMaxIdleConnsPerHost
	if t.MaxIdleConns != 0 && t.MaxIdleConns < 4*t.MaxIdleConnsPerHost {
		t.MaxIdleConns = 4 * t.MaxIdleConnsPerHost // room for a few backends
	}
	return t
}

// upstreamTimedOut reports whether err, returned by the transport for req,
// is the backend being too slow (dial, TLS handshake, response headers, or
// the request context's deadline) rather than unreachable, broken, or the
// client going away.
func upstreamTimedOut(req *http.Request, err error) bool {
	if errors.Is(req.Context().Err(), context.Canceled) {
		// The client went away, or its connection failed (a request body
		// that stalled past the server's deadline): not the backend's fault.
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}
