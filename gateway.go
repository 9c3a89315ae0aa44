package gatehouse

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehousehq/gatehouse/admin"
	"github.com/gatehousehq/gatehouse/clientip"
	"github.com/gatehousehq/gatehouse/consumergroup"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/credential/apikey"
	"github.com/gatehousehq/gatehouse/credential/basicauth"
	"github.com/gatehousehq/gatehouse/credential/hmacauth"
	"github.com/gatehousehq/gatehouse/credential/jwtauth"
	"github.com/gatehousehq/gatehouse/credential/keyauth"
	"github.com/gatehousehq/gatehouse/keyring"
	"github.com/gatehousehq/gatehouse/plugin"
	"github.com/gatehousehq/gatehouse/ratelimit"
	"github.com/gatehousehq/gatehouse/ratelimit/limitplugin"
	"github.com/gatehousehq/gatehouse/ratelimit/memory"
	"github.com/gatehousehq/gatehouse/restriction"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store"
)

// Gateway protects routes with the consumers, credentials and plugins held in
// a store. Create one with New; it is safe for concurrent use.
type Gateway struct {
	store  store.Store
	reg    *plugin.Registry
	log    *slog.Logger
	now    func() time.Time
	retry  time.Duration
	view   *view
	routes atomic.Pointer[routeSet]
	// transport carries the reverse proxies' requests to backends
	// (WithUpstreamTransport, DefaultUpstreamTransport).
	transport http.RoundTripper
	// ownTransport is set when transport is the default, made by New.
	ownTransport bool
	// syncMu serializes writers of the view and the routes, each across its
	// store read, so that a full reload and a single change never overwrite
	// each other with older data.
	syncMu sync.Mutex
	// groups holds the ids of the service groups that exist: a reference to
	// any other group authorizes nothing. Guarded by syncMu.
	groups map[string]bool

	// gatewayID is the gateway whose consumer groups apply (WithGatewayID).
	gatewayID string
	limiter   ratelimit.Limiter
	// quotas counts API-key quotas; nil when the limiter does not keep them.
	quotas      ratelimit.QuotaCounter
	quotaOutage ratelimit.OutageLog
	// cgroups holds the consumer groups of gatewayID, compiled; written under
	// syncMu, read by requests.
	cgroups atomic.Pointer[map[string]*compiledGroup]
	// gwPlugins are the plugins of the gateway gatewayID, compiled.
	gwPlugins atomic.Pointer[gatewayLevel]
	// plans caches the plugin plan of each (route, consumer) pair; every
	// change to routes, consumers or consumer groups invalidates it.
	plans plugin.Cache
	// maxBufferedBody caps the response bodies plans buffer (0: default).
	maxBufferedBody int64
	// obs and spans are WithObserver's and WithSpans'; tracked is set when
	// either is, and sends requests through serveTracked.
	obs     Observer
	spans   SpanFunc
	tracked bool
	// resolver finds a request's client address (WithTrustedProxies), for
	// the refusal log.
	resolver *clientip.Resolver

	// The store as the view's upkeep sees it (Status): times in
	// nanoseconds on the monotonic clock since epoch, 0 when unset.
	epoch                          time.Time
	loadedAt, contactAt, downSince atomic.Int64
	// checkEvery is the interval of the store checks (0: none).
	checkEvery time.Duration

	cancel context.CancelFunc
	done   chan struct{}
	closed sync.Once
}

// BuiltinPlugins returns the definitions every Gateway registers; ring
// encrypts the secrets of the schemes that must keep them (HMAC and JWT HS
// secrets).
func BuiltinPlugins(ring *keyring.Ring) []plugin.Definition {
	return builtinPlugins(ring, nil, nil, nil, nil)
}

// builtinPlugins is BuiltinPlugins with basic-auth's limiter and cache (nil:
// the process's limiter, a new cache), hmac-auth's replay store (nil: the
// process's cache) and the logger of the schemes that log (nil: slog.Default).
func builtinPlugins(ring *keyring.Ring, bcrypt *basicauth.Limiter, bcache *basicauth.Cache, replay hmacauth.ReplayStore, log *slog.Logger) []plugin.Definition {
	if bcache == nil {
		bcache = basicauth.NewCache(0) // a cache per gateway
	}
	return []plugin.Definition{
		restriction.Definition{},
		keyauth.Definition{},
		basicauth.Definition{Cache: bcache, Limiter: bcrypt},
		&jwtauth.Definition{Ring: ring, Logger: log}, // holds the JWKS key sets per URL
		hmacauth.Definition{Ring: ring, Replay: replay, Logger: log},
		apikey.Definition{Ring: ring, Logger: log},
	}
}

// New loads the configuration held by s, declares the routes given with
// WithRoutes, and keeps the gateway's view of s fresh until Close. ctx bounds
// the initial load only.
func New(ctx context.Context, s store.Store, opts ...Option) (*Gateway, error) {
	cfg := config{logger: slog.Default(), retry: DefaultRetryInterval, check: DefaultStoreCheckInterval}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.ring == nil {
		cfg.ring, _ = keyring.Generate()
	}
	g := &Gateway{store: s, log: cfg.logger, now: cfg.now, retry: cfg.retry, done: make(chan struct{})}
	g.epoch, g.checkEvery = time.Now(), max(cfg.check, 0)
	g.transport = cfg.transport
	if g.transport == nil {
		g.transport = DefaultUpstreamTransport()
		g.ownTransport = true
	}
	g.limiter = cfg.limiter
	g.gatewayID = cfg.gateway
	g.maxBufferedBody = cfg.maxBufferedBody
	if g.gatewayID == "" {
		g.gatewayID = DefaultGatewayID
	}
	if g.limiter == nil {
		g.limiter = memory.New()
	}
	if qc, ok := g.limiter.(ratelimit.QuotaCounter); ok {
		g.quotas = qc
		if c, ok := qc.(ratelimit.QuotaClock); ok && g.now == nil {
			g.now = c.Now // windows follow the clock their counts do
		}
	} else {
		g.log.Warn("gatehouse: the limiter does not keep quotas (ratelimit.QuotaCounter): API-key quotas are not enforced")
	}
	if g.now == nil {
		g.now = time.Now
	}
	resolver, err := clientip.New(cfg.proxies...)
	if err != nil {
		return nil, fmt.Errorf("gatehouse: trusted proxies: %w", err)
	}
	g.resolver = resolver
	g.obs, g.spans = cfg.observer, cfg.spans
	g.tracked = g.obs != nil || g.spans != nil
	limitOpts := []limitplugin.Option{limitplugin.WithResolver(resolver), limitplugin.WithLogger(g.log)}
	if g.obs != nil {
		limitOpts = append(limitOpts, limitplugin.WithErrorObserver(g.obs.ObserveLimiterError))
	}
	limits := limitplugin.New(g.limiter, limitOpts...)
	reg := plugin.NewRegistry()
	given := map[string]bool{}
	for _, d := range cfg.plugins {
		if err := reg.Register(d); err != nil {
			return nil, fmt.Errorf("gatehouse: %w", err)
		}
		given[d.Name()] = true
	}
	for _, d := range append(builtinPlugins(cfg.ring, cfg.bcrypt, cfg.bcache, cfg.replay, cfg.logger), limits.Definitions()...) {
		if !given[d.Name()] { // WithPlugins replaces a built-in of the same name
			reg.MustRegister(d)
		}
	}
	g.reg = reg
	g.cgroups.Store(&map[string]*compiledGroup{})
	g.gwPlugins.Store(&gatewayLevel{})
	g.view = newView(g.compileSecret)
	g.routes.Store(&routeSet{byID: map[string]*compiledRoute{}})

	if err := g.declareGateway(ctx); err != nil {
		return nil, err
	}
	for i := range cfg.routes {
		if err := g.declare(ctx, cfg.routes[i]); err != nil {
			return nil, err
		}
	}
	runCtx, cancel := context.WithCancel(context.Background())
	changes, err := s.Watch(runCtx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("gatehouse: watch store: %w", err)
	}
	if err := g.reload(ctx); err != nil {
		cancel()
		return nil, err
	}
	g.cancel = cancel
	go g.run(runCtx, changes)
	return g, nil
}

// declareGateway creates the gateway the data plane serves unless it exists.
func (g *Gateway) declareGateway(ctx context.Context) error {
	gw := &consumergroup.Gateway{ID: g.gatewayID, Name: g.gatewayID}
	if err := gw.Validate(); err != nil {
		return fmt.Errorf("gatehouse: gateway id %q: %w", g.gatewayID, err)
	}
	_, _, err := g.store.PutGateway(ctx, gw.ID, func(cur *consumergroup.Gateway) (*consumergroup.Gateway, error) {
		if cur != nil {
			return nil, errExists
		}
		return gw, nil
	})
	if err != nil && !errors.Is(err, errExists) {
		return fmt.Errorf("gatehouse: declare gateway %q: %w", g.gatewayID, err)
	}
	return nil
}

// declare creates a code-declared route unless one with its id exists.
func (g *Gateway) declare(ctx context.Context, r route.Route) error {
	if r.ID == "" {
		return fmt.Errorf("gatehouse: a route declared in code needs an id")
	}
	if err := r.Validate(); err != nil {
		return fmt.Errorf("gatehouse: route %q: %w", r.ID, err)
	}
	if err := g.reg.Validate("plugins", r.Plugins); err != nil {
		return fmt.Errorf("gatehouse: route %q: %w", r.ID, err)
	}
	_, _, err := g.store.PutRoute(ctx, r.ID, func(cur *route.Route) (*route.Route, error) {
		if cur != nil {
			return nil, errExists
		}
		return r.Clone(), nil
	})
	if err != nil && !errors.Is(err, errExists) {
		return fmt.Errorf("gatehouse: declare route %q: %w", r.ID, err)
	}
	return nil
}

var errExists = errors.New("exists")

// compileSecret asks a credential's scheme for its verification material.
func (g *Gateway) compileSecret(cr *credential.Credential) (any, error) {
	name := cr.Scheme()
	def, ok := g.reg.Lookup(name)
	if !ok {
		return nil, nil
	}
	c, ok := def.(credential.Compiler)
	if !ok {
		return nil, nil
	}
	secret, err := c.Compile(cr.Plugins[name])
	if err != nil {
		// The error names the scheme's problem, never the secret.
		g.log.Error("gatehouse: credential left out of the view", "consumer", cr.Consumer, "credential", cr.ID, "scheme", name, "err", err)
	}
	return secret, err
}

// Registry returns the gateway's plugin registry (built-in plugins and those
// given with WithPlugins).
func (g *Gateway) Registry() *plugin.Registry { return g.reg }

// Store returns the store the gateway reads.
func (g *Gateway) Store() store.Store { return g.store }

// Close stops following the store and closes the idle connections to
// backends of the default upstream transport (not those of a transport given
// with WithUpstreamTransport). Handlers keep serving the last view.
func (g *Gateway) Close() error {
	g.closed.Do(func() {
		g.cancel()
		<-g.done
		if t, ok := g.transport.(interface{ CloseIdleConnections() }); ok && g.ownTransport {
			t.CloseIdleConnections()
		}
	})
	return nil
}

// Refresh reads the whole store now and replaces the gateway's view with it.
// A gateway follows the store's changes by itself, within milliseconds; call
// Refresh where a caller must see its own write at once, as in tests and
// examples.
func (g *Gateway) Refresh(ctx context.Context) error { return g.reload(ctx) }

// Bounds on the store calls that keep the view fresh, so that a store that
// hangs (a database server that stops answering without refusing
// connections) is treated as failed and retried rather than waited for
// forever: one change is a few small reads, a reload reads everything.
var (
	applyTimeout  = 10 * time.Second
	reloadTimeout = 5 * time.Minute
)

// reloadWithin is reload bounded by d.
func (g *Gateway) reloadWithin(ctx context.Context, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return g.reload(ctx)
}

// reload reads the whole configuration and replaces the view.
func (g *Gateway) reload(ctx context.Context) error {
	g.syncMu.Lock()
	defer g.syncMu.Unlock()
	snap, err := g.store.Snapshot(ctx)
	if err != nil {
		return fmt.Errorf("gatehouse: read store: %w", err)
	}
	g.view.load(snap)
	g.loadConsumerGroups(snap.ConsumerGroups)
	var self *consumergroup.Gateway
	for _, gw := range snap.Gateways {
		if gw.ID == g.gatewayID {
			self = gw
		}
	}
	g.setGatewayPlugins(self) // invalidates the plans
	g.groups = make(map[string]bool, len(snap.Groups))
	for _, grp := range snap.Groups {
		g.groups[grp.ID] = true
	}
	rs := &routeSet{byID: make(map[string]*compiledRoute, len(snap.Routes))}
	for _, r := range snap.Routes {
		rs.byID[r.ID] = g.compile(r)
	}
	rs.freeze()
	g.routes.Store(rs)
	now := g.mono(time.Now())
	g.loadedAt.Store(now)
	g.contactAt.Store(now)
	return nil
}

// run applies store changes to the view until ctx is done. After a failed
// read, or when the change feed ends, it follows the store again (Watch, then
// a full reload), retrying until the store answers; the last good view keeps
// serving meanwhile. Between changes it checks every checkEvery that the
// store answers. It records what Status reports: the first failure of an
// outage (downSince, from the start of the read that failed) and its end.
func (g *Gateway) run(ctx context.Context, changes <-chan store.Change) {
	defer close(g.done)
	var retry, check <-chan time.Time
	if g.checkEvery > 0 {
		t := time.NewTicker(g.checkEvery)
		defer t.Stop()
		check = t.C
	}
	failing := false
	fail := func(err error, began time.Time) {
		if !failing {
			g.log.Error("gatehouse: store unreachable; serving the last good view", "err", err)
			failing = true
			g.downSince.Store(g.mono(began))
		}
		retry = time.After(g.retry)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-retry:
			retry = nil
			began := time.Now()
			if changes == nil {
				var err error
				if changes, err = g.store.Watch(ctx); err != nil {
					changes = nil
					fail(err, began)
					continue
				}
			}
			if err := g.reloadWithin(ctx, reloadTimeout); err != nil {
				fail(err, began)
				continue
			}
			if failing {
				g.log.Info("gatehouse: store reachable again")
				failing = false
				g.downSince.Store(0)
			}
		case <-check:
			if retry != nil {
				continue // following the store again already
			}
			began := time.Now()
			cctx, cancel := context.WithTimeout(ctx, applyTimeout)
			_, err := g.store.GetGateway(cctx, g.gatewayID)
			cancel()
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				if ctx.Err() == nil {
					fail(err, began)
				}
				continue
			}
			g.contactAt.Store(g.mono(time.Now()))
		case ch, ok := <-changes:
			if !ok {
				if ctx.Err() != nil {
					return
				}
				began := time.Now()
				var err error
				changes, err = g.store.Watch(ctx)
				if err != nil {
					changes = nil
				}
				fail(errors.New("change feed closed"), began)
				continue
			}
			if retry != nil {
				continue // a full reload is due anyway
			}
			began := time.Now()
			if ch.Kind == store.KindReset {
				if err := g.reloadWithin(ctx, reloadTimeout); err != nil {
					fail(err, began)
				}
				continue
			}
			g.syncMu.Lock()
			actx, cancel := context.WithTimeout(ctx, applyTimeout)
			err := g.apply(actx, ch)
			cancel()
			g.syncMu.Unlock()
			if err != nil {
				fail(err, began)
				continue
			}
			g.contactAt.Store(g.mono(time.Now()))
		}
	}
}

// apply reads back the object a change names and updates the view with it.
// The caller holds syncMu.
func (g *Gateway) apply(ctx context.Context, ch store.Change) error {
	switch ch.Kind {
	case store.KindConsumer:
		// A consumer new to the view has no credentials to load: the
		// view holds the store as of its last load plus every change
		// since, and each of the consumer's credentials was written after
		// it, so each is announced after it.
		return g.applyConsumer(ctx, ch.Consumer, false)
	case store.KindCredential:
		if !g.view.hasConsumer(ch.Consumer) {
			// The consumer's own change found it gone, or it was never
			// announced: read it with every credential it has now.
			return g.applyConsumer(ctx, ch.Consumer, true)
		}
		cr, err := g.store.GetCredential(ctx, ch.Consumer, ch.ID)
		if errors.Is(err, store.ErrNotFound) {
			g.view.setCredential(ch.Consumer, ch.ID, nil)
			return nil
		}
		if err != nil {
			return err
		}
		g.view.setCredential(ch.Consumer, ch.ID, cr)
	case store.KindRoute:
		r, err := g.store.GetRoute(ctx, ch.ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		g.setRoute(ch.ID, r)
	case store.KindGroup:
		_, err := g.store.GetGroup(ctx, ch.ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		g.setGroup(ch.ID, err == nil)
	case store.KindGateway:
		if ch.ID != g.gatewayID {
			return nil
		}
		gw, err := g.store.GetGateway(ctx, ch.ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		g.setGatewayPlugins(gw)
	case store.KindConsumerGroup:
		cg, err := g.store.GetConsumerGroup(ctx, ch.ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		g.setConsumerGroup(ch.ID, cg)
	}
	return nil
}

// applyConsumer reads consumer username into the view (or removes it, when
// the store no longer has it). With load, a consumer new to the view comes
// with every credential it has in the store.
func (g *Gateway) applyConsumer(ctx context.Context, username string, load bool) error {
	c, err := g.store.GetConsumer(ctx, username)
	// No plans.Invalidate: plans are kept with the consumer's value, and the
	// view now holds a new one (Gateway.plan).
	if errors.Is(err, store.ErrNotFound) {
		g.view.setConsumer(username, nil)
		return nil
	}
	if err != nil {
		return err
	}
	known := g.view.hasConsumer(username)
	g.view.setConsumer(username, c)
	if load && !known {
		return g.loadCredentials(ctx, username)
	}
	return nil
}

// loadCredentials adds every credential of a consumer new to the view.
func (g *Gateway) loadCredentials(ctx context.Context, username string) error {
	opts := store.ListOptions{Limit: store.MaxListLimit}
	for {
		page, err := g.store.ListCredentials(ctx, username, opts)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, cr := range page.Items {
			g.view.setCredential(username, cr.ID, cr)
		}
		if page.Next == "" {
			return nil
		}
		opts.Cursor = page.Next
	}
}

// AdminHandler returns the admin API over the gateway's store and plugin
// registry. Mount it under any prefix with http.StripPrefix; give it a key
// with admin.WithKey (without one it refuses every request). Its GET
// /api/export describes the gateway's own consumer groups and plugins.
func (g *Gateway) AdminHandler(opts ...admin.Option) http.Handler {
	base := []admin.Option{admin.WithLogger(g.log), admin.WithQuotaCounter(g.quotas), admin.WithClock(g.now), admin.WithGatewayID(g.gatewayID)}
	return admin.New(g.store, g.reg, append(base, opts...)...)
}

// Limiter returns the limiter that keeps the gateway's rate-limit and quota
// state (WithLimiter, or the default in-memory one).
func (g *Gateway) Limiter() ratelimit.Limiter { return g.limiter }
