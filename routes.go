package gatehouse

import (
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/plugin"
	"github.com/gatehousehq/gatehouse/route"
)

// Authenticator is implemented by authentication plugins (key-auth, ...):
// they identify the consumer behind a request before any other plugin runs.
type Authenticator interface {
	plugin.Plugin
	// Authenticate returns the credential the request presents, found in idx,
	// or a *credential.AuthError saying why there is none.
	Authenticate(r *http.Request, idx *credential.Index) (*credential.Match, error)
	// AnonymousConsumer names the consumer a request that fails
	// authentication runs as, or "" when such requests are refused.
	AnonymousConsumer() string
}

// Authorizer is implemented by plugins that decide, once the caller is known,
// whether it may make the request (consumer-restriction). They run after
// authentication and group authorization, by priority.
type Authorizer interface {
	plugin.Plugin
	// Authorize returns nil to allow the request, or the refusal to send. id
	// is nil on a route without authentication.
	Authorize(r *http.Request, id *consumer.Identity) *credential.AuthError
}

// compiledRoute is a route with its plugins compiled, ready for requests.
type compiledRoute struct {
	route       *route.Route
	auths       []Authenticator
	authorizers []Authorizer
	// plugins are the route's other plugins, for the staged executor.
	plugins []plugin.Configured
	any     bool
	// anonymous is the first anonymous_consumer set by one of the route's
	// authentication plugins, in their order: the consumer a request that
	// fails authentication runs as.
	anonymous string
	// grouped is true when the route has groups or an API: only credentials
	// authorized on the route, one of its groups or its API may call it.
	// Otherwise any authenticated consumer may.
	grouped bool
	// entities are the interned ids of the authorized-entity entries that
	// admit a credential: those naming the route, each of its groups that
	// exists, and its API (the API's virtual group), as credential.EntityNames
	// spells them.
	entities []uint32
	proxy    *httputil.ReverseProxy
	// err is set when the stored route cannot be compiled (a plugin it names
	// is no longer registered, say): its requests fail closed with 500.
	err error
	// plans remembers the plan of the consumers that called the route last
	// (Gateway.plan), a few atomic loads instead of the plan cache's lock
	// and hashes; by the consumer value's address, one per slot.
	plans [planSlots]atomic.Pointer[planMemo]
}

// routeSet is one immutable generation of compiled routes.
type routeSet struct {
	byID  map[string]*compiledRoute
	table route.Table[*compiledRoute]
}

func (rs *routeSet) freeze() {
	ids := make([]string, 0, len(rs.byID))
	for id := range rs.byID {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if cr := rs.byID[id]; cr.route.Backend != nil {
			rs.table.Add(cr.route, cr)
		}
	}
	rs.table.Freeze()
}

// setRoute replaces (or with r == nil removes) one route and publishes a new
// route set; only the changed route is compiled again. The caller holds
// syncMu.
func (g *Gateway) setRoute(id string, r *route.Route) {
	var cr *compiledRoute
	if r != nil {
		cr = g.compile(r)
	}
	old := g.routes.Load()
	rs := &routeSet{byID: make(map[string]*compiledRoute, len(old.byID)+1)}
	for k, v := range old.byID {
		rs.byID[k] = v
	}
	if cr == nil {
		delete(rs.byID, id)
	} else {
		rs.byID[id] = cr
	}
	rs.freeze()
	g.routes.Store(rs)
	g.plans.Invalidate()
}

// setGroup records that service group id exists or not, and recompiles the
// routes that name it. The caller holds syncMu.
func (g *Gateway) setGroup(id string, exists bool) {
	if g.groups[id] == exists {
		return
	}
	if exists {
		g.groups[id] = true
	} else {
		delete(g.groups, id)
	}
	old := g.routes.Load()
	rs := &routeSet{byID: make(map[string]*compiledRoute, len(old.byID))}
	for k, cr := range old.byID {
		if slices.Contains(cr.route.Groups, id) {
			cr = g.compile(cr.route)
		}
		rs.byID[k] = cr
	}
	rs.freeze()
	g.routes.Store(rs)
	g.plans.Invalidate()
}

// compile builds the request-time form of a route. The caller holds syncMu
// (it reads the groups that exist).
func (g *Gateway) compile(r *route.Route) *compiledRoute {
	cr := &compiledRoute{route: r, any: r.Mode() == route.AuthAny}
	if len(r.Groups) > 0 || r.API != "" {
		cr.grouped = true
		cr.admit(g.view.entities, credential.EntityRoute, r.ID)
		for _, grp := range r.Groups {
			if g.groups[grp] { // a group that does not exist (any more) admits nobody
				cr.admit(g.view.entities, credential.EntityGroup, grp)
			}
		}
		if r.API != "" { // a virtual group: it exists while a route names it
			cr.admit(g.view.entities, credential.EntityAPI, r.API)
		}
	}
	type ranked struct {
		a        Authenticator
		priority int
	}
	type rankedAuthorizer struct {
		a        Authorizer
		priority int
	}
	var auths []ranked
	var authorizers []rankedAuthorizer
	for name, settings := range r.Plugins {
		def, ok := g.reg.Lookup(name)
		if !ok {
			cr.err = fmt.Errorf("route %q: plugin %q is not registered", r.ID, name)
			break
		}
		p, err := def.New(settings)
		if err != nil {
			cr.err = fmt.Errorf("route %q: plugin %q: %w", r.ID, name, err)
			break
		}
		if a, ok := p.(Authenticator); ok {
			auths = append(auths, ranked{a, def.Priority()})
		}
		if a, ok := p.(Authorizer); ok {
			authorizers = append(authorizers, rankedAuthorizer{a, def.Priority()})
			continue // runs in the authorization step
		}
		if c, ok := g.instance(def, name, p, "route:"+r.ID); ok {
			cr.plugins = append(cr.plugins, c)
		}
	}
	sort.Slice(auths, func(i, j int) bool {
		if auths[i].priority != auths[j].priority {
			return auths[i].priority < auths[j].priority
		}
		return auths[i].a.Name() < auths[j].a.Name()
	})
	sort.Slice(authorizers, func(i, j int) bool {
		if authorizers[i].priority != authorizers[j].priority {
			return authorizers[i].priority < authorizers[j].priority
		}
		return authorizers[i].a.Name() < authorizers[j].a.Name()
	})
	for _, a := range authorizers {
		cr.authorizers = append(cr.authorizers, a.a)
	}
	for _, a := range auths {
		cr.auths = append(cr.auths, a.a)
		if cr.anonymous == "" {
			cr.anonymous = a.a.AnonymousConsumer()
		}
	}
	if cr.err != nil {
		g.log.Error("gatehouse: route cannot be served", "route", r.ID, "err", cr.err)
	}
	if r.Backend != nil && cr.err == nil {
		cr.proxy, cr.err = g.newProxy(r)
	}
	return cr
}

// newProxy builds the reverse proxy to a route's backend.
func (g *Gateway) newProxy(r *route.Route) (*httputil.ReverseProxy, error) {
	target, err := url.Parse(r.Backend.Target)
	if err != nil {
		return nil, fmt.Errorf("route %q: backend target: %w", r.ID, err)
	}
	id := r.ID
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			if p, ok := pr.In.Context().Value(stripKey{}).(string); ok {
				pr.Out.URL.Path = stripPrefix(pr.Out.URL.Path, p)
				pr.Out.URL.RawPath = ""
			}
			pr.SetURL(target)
			pr.SetXForwarded()
		},
		Transport: g.transport,
		ErrorHandler: func(w http.ResponseWriter, req *http.Request, err error) {
			if upstreamTimedOut(req, err) {
				g.log.Warn("gatehouse: backend timed out", "route", id, "err", err)
				upstreamFailed(w, http.StatusGatewayTimeout, MsgUpstreamTimeout, err)
				writeMessage(w, http.StatusGatewayTimeout, MsgUpstreamTimeout)
				return
			}
			g.log.Warn("gatehouse: backend unavailable", "route", id, "err", err)
			upstreamFailed(w, http.StatusBadGateway, MsgUpstreamUnavailable, err)
			writeMessage(w, http.StatusBadGateway, MsgUpstreamUnavailable)
		},
	}, nil
}

type stripKey struct{}

func stripPrefix(path, prefix string) string {
	rest := strings.TrimPrefix(path, prefix)
	if !strings.HasPrefix(rest, "/") {
		rest = "/" + rest
	}
	return rest
}

// admit adds the entries that name the object kind/id
// (credential.EntityNames) to those that admit a credential on cr.
func (cr *compiledRoute) admit(t *entityTable, kind, id string) {
	for _, name := range credential.EntityNames(kind, id) {
		if e := t.id(name); !slices.Contains(cr.entities, e) {
			cr.entities = append(cr.entities, e)
		}
	}
}

// authorized reports whether a credential's authorized entities admit it on
// the route.
func (cr *compiledRoute) authorized(m *credential.Match) bool {
	if !cr.grouped {
		return true
	}
	for _, want := range cr.entities {
		if m.Entities.Has(want) {
			return true
		}
	}
	return false
}
