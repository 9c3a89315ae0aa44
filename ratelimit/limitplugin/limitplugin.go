// Package limitplugin holds the rate-limiting plugins limit-count (APISIX) and
// advanced_rate_limiter (consumer groups), which charge requests to a ratelimit.Limiter.
package limitplugin

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync/atomic"

	"github.com/gatehousehq/gatehouse/clientip"
	"github.com/gatehousehq/gatehouse/plugin"
	"github.com/gatehousehq/gatehouse/ratelimit"
)

// The plugins' registered names.
const (
	NameLimitCount          = "limit-count"
	NameAdvancedRateLimiter = "advanced_rate_limiter"
)

// Default priorities, among pre_request plugins (lower runs first). Both run
// after authentication, service-group authorization and consumer-restriction
// (2400), so that a request refused for who it is spends no quota, and before
// plugins that transform the request for the handler. limit-count (usually a
// route's own limit) runs before advanced_rate_limiter (a consumer group's).
const (
	PriorityLimitCount          = 2600
	PriorityAdvancedRateLimiter = 2610
)

// DefaultKeyCache is the default number of limiter keys kept ready-made
// (WithKeyCache).
const DefaultKeyCache = 1 << 16

// Option configures Plugins.
type Option func(*config)

type config struct {
	resolver *clientip.Resolver
	logger   *slog.Logger
	keyCache int
	onError  func(ctx context.Context, route string, err error)
}

// WithResolver sets how the client address of a request is found when
// Handle is given none (default: the connection's remote address, no proxy
// trusted).
func WithResolver(r *clientip.Resolver) Option {
	return func(c *config) { c.resolver = r }
}

// WithLogger sets the logger that reports limiter outages (default
// slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// WithErrorObserver sets a function called with every failed limiter call
// (the back-end is down or does not answer in time) and the route of the
// request it was for (Caller.Route), for metrics: unlike the log, which
// reports an outage once, it is called for each failure. Failures of calls
// whose context ended (the client went away) are not reported. f runs on
// the request path: keep it cheap.
func WithErrorObserver(f func(ctx context.Context, route string, err error)) Option {
	return func(c *config) { c.onError = f }
}

// WithKeyCache sets how many limiter keys are kept ready-made, across every
// plugin instance of the Plugins (default DefaultKeyCache). A key is built
// from the plugin instance and the caller (consumer, client address, header
// value ...); keeping the keys of recent callers lets Check run without
// allocating. Each entry holds the key and the caller values it was built
// from. 0 turns the cache off: every Check then builds its keys.
func WithKeyCache(n int) Option {
	return func(c *config) { c.keyCache = n }
}

// Plugins makes the two rate-limiting plugin definitions around one
// ratelimit.Limiter. Instances compiled from either definition share the
// limiter, the client-address resolver, the key cache and the outage state,
// so that one limiter outage is logged once. Create it with New.
type Plugins struct {
	limiter  ratelimit.Limiter
	resolver *clientip.Resolver
	log      *slog.Logger
	keys     *keyCache
	outage   ratelimit.OutageLog
	onError  func(ctx context.Context, route string, err error)
	nextID   atomic.Uint64
	lc, arl  *Definition
}

// New returns the plugins, which charge requests to l. l is required (New
// panics on nil): it decides where counters live, in this process (the memory
// limiter) or shared by every instance of the gateway.
func New(l ratelimit.Limiter, opts ...Option) *Plugins {
	if l == nil {
		panic("limitplugin: New needs a ratelimit.Limiter")
	}
	c := config{logger: slog.Default(), keyCache: DefaultKeyCache}
	for _, o := range opts {
		o(&c)
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	s := &Plugins{limiter: l, resolver: c.resolver, log: c.logger, keys: newKeyCache(c.keyCache), onError: c.onError}
	s.lc = &Definition{set: s, kind: kindLimitCount}
	s.arl = &Definition{set: s, kind: kindAdvanced}
	return s
}

// LimitCount returns the limit-count definition.
func (s *Plugins) LimitCount() *Definition { return s.lc }

// AdvancedRateLimiter returns the advanced_rate_limiter definition.
func (s *Plugins) AdvancedRateLimiter() *Definition { return s.arl }

// Definitions returns both definitions, to register them at once:
// plugin.NewRegistry(p.Definitions()...).
func (s *Plugins) Definitions() []plugin.Definition {
	return []plugin.Definition{s.lc, s.arl}
}

// prepare returns what the limiter's PrepareKey makes of key, or nil when
// it is no ratelimit.KeyPreparer.
func (s *Plugins) prepare(key string) any {
	if kp, ok := s.limiter.(ratelimit.KeyPreparer); ok {
		return kp.PrepareKey(key)
	}
	return nil
}

// failed records a failed limiter call for a request of route; the first
// failure of an outage is logged, every one is observed (WithErrorObserver). A call that failed because the request's context ended (the client
// went away) is not an outage.
func (s *Plugins) failed(ctx context.Context, name, route string, err error) {
	if s.onError != nil && ctx.Err() == nil {
		s.onError(ctx, route, err)
	}
	s.outage.Failed(ctx, s.log, "rate limiter unavailable: requests are let through where allow_degradation is true, refused with 500 elsewhere; logged once until it recovers",
		"plugin", name, "err", err)
}

// succeeded ends an outage, if there was one.
func (s *Plugins) succeeded(ctx context.Context) {
	s.outage.Succeeded(ctx, s.log, "rate limiter recovered")
}

type kind uint8

const (
	kindLimitCount kind = iota
	kindAdvanced
)

// Definition is the plugin.Definition of limit-count or advanced_rate_limiter;
// get it from Plugins.
type Definition struct {
	set  *Plugins
	kind kind
}

var _ plugin.Definition = (*Definition)(nil)

// Name returns "limit-count" or "advanced_rate_limiter".
func (d *Definition) Name() string {
	if d.kind == kindAdvanced {
		return NameAdvancedRateLimiter
	}
	return NameLimitCount
}

// Stage returns plugin.PreRequest: the request is charged before the handler
// runs, and refused without reaching it.
func (d *Definition) Stage() plugin.Stage { return plugin.PreRequest }

// Priority returns PriorityLimitCount or PriorityAdvancedRateLimiter.
func (d *Definition) Priority() int {
	if d.kind == kindAdvanced {
		return PriorityAdvancedRateLimiter
	}
	return PriorityLimitCount
}

// New validates settings strictly and compiles them into a *Limiter. Every
// invalid setting is named in the *validation.Error it returns.
func (d *Definition) New(settings json.RawMessage) (plugin.Plugin, error) {
	var (
		p   *Limiter
		err error
	)
	if d.kind == kindAdvanced {
		p, err = compileAdvanced(settings)
	} else {
		p, err = compileLimitCount(settings)
	}
	if err != nil {
		return nil, err
	}
	p.set = d.set
	p.id = d.set.nextID.Add(1)
	return p, nil
}
