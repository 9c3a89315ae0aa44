package limitplugin

import (
	"net/netip"
	"strings"
	"sync/atomic"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/plugin"
)

// Scoped is a Limiter bound to the place it is configured at: it runs at
// pre_request in the staged executor (plugin.PreRequestPlugin).
type Scoped struct {
	*Limiter
	scope string
}

// Scoped binds p to scope (Caller.Scope), the place the instance is
// configured at, such as "route:orders", "consumer_group:<id>" or
// "consumer:alice": instances with the same settings at two places then keep
// separate counters.
func (p *Limiter) Scoped(scope string) *Scoped { return &Scoped{Limiter: p, scope: scope} }

// PreRequest charges the request (plugin.PreRequestPlugin): the rate-limit
// headers go on the response whatever the outcome, and a refused or failed
// check stops the request with its 429 (or rejected_code) or 500.
func (s *Scoped) PreRequest(c *plugin.Call) { s.Limiter.run(c, s.scope) }

// Bind returns s for the requests of consumer c on route routeID
// (plugin.Binder): the keys of the limits that depend only on them are
// formed once, for every request of the plan.
func (s *Scoped) Bind(routeID string, c *consumer.Consumer) plugin.Plugin {
	return s.Limiter.bind(s.scope, routeID, c)
}

// PreRequest runs p unscoped: instances with the same counting settings share
// counters wherever they are configured. The gateway runs Scoped instances.
func (p *Limiter) PreRequest(c *plugin.Call) { p.run(c, "") }

// run charges a request of an instance that was not bound to its plan: its
// keys come from the key cache.
func (p *Limiter) run(c *plugin.Call, scope string) {
	r := c.Request()
	caller := Caller{Route: c.RouteID(), Scope: scope, Header: r.Header, Addr: p.set.resolver.Resolve(r)}
	if cons := c.Consumer(); cons != nil {
		caller.Consumer, caller.Group = cons.Username, cons.GroupID
	}
	o := p.Check(r.Context(), caller)
	o.record(c)
	if o.Verdict() != Allowed {
		c.Stop(o.Response())
	}
}

// Bind is Scoped.Bind for p unscoped.
func (p *Limiter) Bind(routeID string, c *consumer.Consumer) plugin.Plugin {
	return p.bind("", routeID, c)
}

// Bound is a Limiter bound to one route and consumer (plugin.Binder): the
// keys that depend only on them are formed already, so that a request forms
// only those that depend on it (client address, header value).
type Bound struct {
	p      *Limiter
	caller Caller
	// keys are the formed keys; "" where the key depends on the request.
	// prepared holds what the limiter's PrepareKey made of them, when it is
	// a ratelimit.KeyPreparer.
	keys     [maxLimits]string
	prepared [maxLimits]any
	dynamic  bool
	// byAddr is the one limit keyed by the client address alone (per_ip,
	// key_type ip), or -1; others is set when a limit other than byAddr
	// depends on the request too. last remembers byAddr's key for the
	// address seen last, since one consumer's requests mostly come from one
	// address, and for the RemoteAddr it came from, which names the address
	// as well when no proxy is trusted (byRemote).
	byAddr   int
	others   bool
	byRemote bool
	last     atomic.Pointer[addrKey]
	misses   atomic.Uint32
}

// addrKey is the key of a Bound's byAddr limit for one address.
type addrKey struct {
	remote   string // the RemoteAddr the address was resolved from
	addr     netip.Addr
	key      string
	prepared any
}

func (p *Limiter) bind(scope, routeID string, c *consumer.Consumer) *Bound {
	b := &Bound{p: p, caller: Caller{Route: routeID, Scope: scope}, byAddr: -1}
	if c != nil {
		b.caller.Consumer, b.caller.Group = c.Username, c.GroupID
	}
	for i := range p.n {
		k := p.keyParts(i, &b.caller)
		if p.requestKey(i, &k) {
			b.dynamic = true
			if p.limits[i].dim == dimIP && b.byAddr < 0 {
				b.byAddr = i
			} else {
				b.others = true
			}
			continue
		}
		b.keys[i] = p.buildKey(&p.limits[i], &k)
		b.prepared[i] = p.set.prepare(b.keys[i])
	}
	b.byRemote = !p.set.resolver.TrustsProxies()
	return b
}

// Name returns the plugin's name.
func (b *Bound) Name() string { return b.p.name }

// PreRequest charges the request (see Scoped.PreRequest).
func (b *Bound) PreRequest(c *plugin.Call) {
	p := b.p
	r := c.Request()
	keys, prepared := b.keys, b.prepared
	if b.dynamic {
		caller := b.caller
		resolved := false
		resolve := func() {
			caller.Header, caller.Addr, resolved = r.Header, p.set.resolver.Resolve(r), true
		}
		if i := b.byAddr; i >= 0 {
			last := b.last.Load()
			if last != nil && b.byRemote && r.RemoteAddr == last.remote {
				keys[i], prepared[i] = last.key, last.prepared
			} else {
				resolve()
				addr := normalAddr(caller.Addr)
				var pk any
				sameAddr := last != nil && last.addr == addr
				if sameAddr {
					keys[i], pk = last.key, last.prepared
				} else {
					keys[i] = p.key(i, &caller)
				}
				// Replaced on one miss in 16 (another address; or, where the
				// RemoteAddr names the address, another connection from it):
				// a consumer calling from many addresses (an application's
				// users) does not allocate on every request.
				if last == nil || (!sameAddr || b.byRemote) && b.misses.Add(1)%16 == 0 {
					if pk == nil {
						pk = p.set.prepare(keys[i])
					}
					b.last.Store(&addrKey{remote: strings.Clone(r.RemoteAddr), addr: addr, key: keys[i], prepared: pk})
				}
				prepared[i] = pk
			}
		}
		if b.others {
			if !resolved {
				resolve()
			}
			for i := range p.n {
				if keys[i] == "" {
					keys[i] = p.key(i, &caller)
				}
			}
		}
	}
	o := p.check(r.Context(), c.RouteID(), &keys, &prepared)
	o.record(c)
	if o.Verdict() != Allowed {
		c.Stop(o.Response())
	}
}

// record has c set the outcome's rate-limit fields on the response.
func (o *Outcome) record(c *plugin.Call) {
	if f := o.fields(); f != nil {
		c.SetHeaders(f)
	}
}

var (
	_ plugin.HeaderWriter     = (*fieldBlock)(nil)
	_ plugin.PreRequestPlugin = (*Limiter)(nil)
	_ plugin.PreRequestPlugin = (*Scoped)(nil)
	_ plugin.PreRequestPlugin = (*Bound)(nil)
	_ plugin.Binder           = (*Scoped)(nil)
	_ plugin.Binder           = (*Limiter)(nil)
)
