package gatehouse

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/gatehousehq/gatehouse/credential/basicauth"
	"github.com/gatehousehq/gatehouse/credential/hmacauth"
	"github.com/gatehousehq/gatehouse/keyring"
	"github.com/gatehousehq/gatehouse/plugin"
	"github.com/gatehousehq/gatehouse/ratelimit"
	"github.com/gatehousehq/gatehouse/route"
)

// Option configures a Gateway.
type Option func(*config)

type config struct {
	// transport is the upstream transport (WithUpstreamTransport).
	transport http.RoundTripper

	logger  *slog.Logger
	plugins []plugin.Definition
	routes  []route.Route
	now     func() time.Time
	retry   time.Duration
	// check is the interval of the store checks (WithStoreCheckInterval).
	check   time.Duration
	ring    *keyring.Ring
	limiter ratelimit.Limiter
	gateway string
	proxies []string
	// maxBufferedBody caps buffered response bodies (WithMaxBufferedBody).
	maxBufferedBody int64
	bcrypt          *basicauth.Limiter
	bcache          *basicauth.Cache
	replay          hmacauth.ReplayStore
	observer        Observer
	spans           SpanFunc
}

// WithKeyRing sets the key ring that encrypts credential secrets at rest
// (HMAC secrets, JWT HS secrets). Every instance sharing a store needs the
// same keys. Without it the gateway generates a random ring that lives as
// long as the process: enough for the memory store, not for a persistent one.
func WithKeyRing(r *keyring.Ring) Option { return func(c *config) { c.ring = r } }

// WithLogger sets the logger of the gateway and of its built-in plugins
// (store and limiter outages, refusal reasons at debug level); the default is
// slog.Default().
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithPlugins registers plugin definitions beside the built-in ones. A
// definition named like a built-in replaces it (to configure a built-in
// scheme differently, for example); two given definitions with one name are
// an error.
func WithPlugins(defs ...plugin.Definition) Option {
	return func(c *config) { c.plugins = append(c.plugins, defs...) }
}

// WithRoutes declares routes in code. Each is created in the store at start
// when no route with its id exists; one that exists is left as it is, so that
// changes made through the admin API survive a restart.
func WithRoutes(routes ...route.Route) Option {
	return func(c *config) { c.routes = append(c.routes, routes...) }
}

// DefaultRetryInterval is how long a gateway waits, after a failed read of
// its store, before it reads it again (WithRetryInterval).
const DefaultRetryInterval = 250 * time.Millisecond

// WithRetryInterval sets how long the gateway waits before it reads the store
// again after a failed read (DefaultRetryInterval without this option). The
// last good view keeps serving meanwhile; a read that fails while the store is
// down is cheap (a refused connection), so retrying often costs little and
// brings the view back soon after the store.
func WithRetryInterval(d time.Duration) Option { return func(c *config) { c.retry = d } }

// DefaultStoreCheckInterval is how often a gateway checks that its store
// answers (WithStoreCheckInterval).
const DefaultStoreCheckInterval = 5 * time.Second

// WithStoreCheckInterval sets how often a gateway checks that its store
// answers (DefaultStoreCheckInterval without this option), with one small
// read: its own gateway object. A store that goes away while nothing changes
// is otherwise not noticed, as a change feed that has nothing to deliver does
// not fail; with the checks, Gateway.Status and Gateway.Ready report the
// outage within about d, and the view is read again in full once the store is
// back. d <= 0 turns the checks off: an outage is then noticed only when a
// change cannot be applied.
func WithStoreCheckInterval(d time.Duration) Option { return func(c *config) { c.check = d } }

// WithLimiter sets the limiter that keeps rate-limit and quota state; the
// default is an in-memory limiter (ratelimit/memory) private to the gateway.
// Give every instance the same shared limiter to share that state. API-key
// quotas are counted only by a limiter that also implements
// ratelimit.QuotaCounter, as the memory limiter does.
func WithLimiter(l ratelimit.Limiter) Option { return func(c *config) { c.limiter = l } }

// WithReplayStore sets where the built-in hmac-auth plugin remembers the
// signatures and nonces its replay_protection has seen: give every instance
// the same shared store (ratelimit/redislimiter's Limiter, often the one
// given to WithLimiter) and a request accepted by one instance is refused as
// a replay by all of them. The default, nil, keeps them in the process:
// replay protection per instance. While the store fails, the process's cache
// stands in (logged once per outage). An hmacauth.Definition given to
// WithPlugins replaces the built-in, and with it what this option sets.
func WithReplayStore(s hmacauth.ReplayStore) Option { return func(c *config) { c.replay = s } }

// WithClock sets the clock the gateway reads (API-key quota windows,
// credential expiry checks made by the gateway itself). The default is the
// limiter's clock when it has one (ratelimit.QuotaClock: the memory
// limiter's, which trails time.Now by about a millisecond and costs a
// fraction of it), time.Now otherwise. Tests pass a fake one, together with a
// limiter reading the same clock.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// DefaultGatewayID is the gateway a Gateway serves unless WithGatewayID says
// otherwise.
const DefaultGatewayID = "default"

// WithGatewayID sets the gateway (in the sense of /api/v1/gateways) this data
// plane serves: only the consumer groups of that gateway apply to its
// requests. New creates it in the store when it does not exist. The default is
// DefaultGatewayID.
func WithGatewayID(id string) Option { return func(c *config) { c.gateway = id } }

// WithTrustedProxies sets the proxies (CIDRs or addresses, such as
// "10.0.0.0/8") whose X-Forwarded-For the gateway believes when it needs a
// request's client address (per-IP rate limits): the client is then the
// right-most address that is not a trusted proxy. Without it, the client is
// the connection's remote address and X-Forwarded-For is ignored. New fails
// on an entry that does not parse.
func WithTrustedProxies(proxies ...string) Option {
	return func(c *config) { c.proxies = append(c.proxies, proxies...) }
}

// WithMaxBufferedBody sets the cap, in bytes, on a response body the gateway
// holds in memory for pre_response plugins that read or replace it
// (plugin.WithMaxBufferedBody). The default is plugin.DefaultMaxBufferedBody
// (8 MiB); values below 1 keep it. A larger body is answered 502 and logged
// with its route and plugin, unless every such plugin of the request lets it
// stream unmodified (plugin.OverflowStream): see docs/plugins/stages.md.
func WithMaxBufferedBody(n int64) Option { return func(c *config) { c.maxBufferedBody = n } }

// WithUpstreamTransport sets the transport the reverse proxies of Router send
// requests to backends with. The default, DefaultUpstreamTransport, bounds
// connecting, the TLS handshake and the wait for response headers; a
// transport given here should bound them too, or a backend that accepts
// connections and never answers holds every request sent to it. A backend
// that times out is answered 504 (MsgUpstreamTimeout), one that fails
// otherwise 502 (MsgUpstreamUnavailable). Nil means the default.
func WithUpstreamTransport(rt http.RoundTripper) Option {
	return func(c *config) { c.transport = rt }
}

// WithPasswordChecks bounds the CPU the built-in basic-auth plugin spends on
// bcrypt. l caps the comparisons running at once: a request that needs one
// while it is full is answered 503 with Retry-After, never queued. c
// remembers recent checks, successes and failures apart, so that a repeated
// pair pays bcrypt once. Nil keeps the default: basicauth.NewLimiter(0)
// shared by the process (half of GOMAXPROCS, at least 1) and
// basicauth.NewCache(0) private to the gateway. Keep l to read its counters
// (Compares, Refused) for metrics. A basicauth.Definition given to WithPlugins
// replaces the built-in, and with it what this option sets.
func WithPasswordChecks(l *basicauth.Limiter, c *basicauth.Cache) Option {
	return func(cfg *config) { cfg.bcrypt, cfg.bcache = l, c }
}
