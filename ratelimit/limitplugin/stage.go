package limitplugin

import "github.com/gatehousehq/gatehouse/plugin"

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

// PreRequest runs p unscoped: instances with the same counting settings share
// counters wherever they are configured. The gateway runs Scoped instances.
func (p *Limiter) PreRequest(c *plugin.Call) { p.run(c, "") }

func (p *Limiter) run(c *plugin.Call, scope string) {
	r := c.Request()
	caller := Caller{Route: c.RouteID(), Scope: scope, Header: r.Header, Addr: p.set.resolver.Resolve(r)}
	if cons := c.Consumer(); cons != nil {
		caller.Consumer, caller.Group = cons.Username, cons.GroupID
	}
	o := p.Check(r.Context(), caller)
	o.EachHeader(c.SetHeader)
	if o.Verdict() != Allowed {
		status, contentType, body := o.Response()
		c.Stop(status, contentType, body)
	}
}

var (
	_ plugin.PreRequestPlugin = (*Limiter)(nil)
	_ plugin.PreRequestPlugin = (*Scoped)(nil)
)
