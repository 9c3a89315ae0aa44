package gatehouse

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httputil"
	"strconv"
	"sync"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/plugin"
)

// Messages the data plane answers with, beside each scheme's own.
const (
	MsgRouteNotFound   = "404 Route Not Found"
	MsgNotAuthorized   = "The consumer is not authorized on this route"
	MsgAuthFailed      = "Authorization Failed"
	MsgInvalidUser     = "Invalid user authorization"
	MsgRouteMisconfig  = "route is misconfigured"
	MsgConsumerChanged = "credentials name different consumers"
)

// Protect returns a handler that runs the plugins of the stored route routeID
// before next: it authenticates the caller, checks that the credential is
// authorized on the route, tells next who the caller is (consumer.FromContext
// and the X-Consumer-* headers), or answers the request itself (401, 403). The
// route's configuration is read on every request from the gateway's view, so
// admin changes apply without re-wrapping. A route that does not exist
// answers 404.
func (g *Gateway) Protect(routeID string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cr := g.routes.Load().byID[routeID]
		if g.tracked {
			g.serveTracked(w, r, routeID, cr, next)
			return
		}
		if cr == nil {
			writeMessage(w, http.StatusNotFound, MsgRouteNotFound)
			g.refused(r, nil, routeID, nil, http.StatusNotFound, MsgRouteNotFound)
			return
		}
		g.serve(w, r, cr, next, nil)
	})
}

// Middleware returns Protect for routeID as a middleware, for routers such as
// http.ServeMux wrappers and chi (r.With(gw.Middleware("orders"))).
func (g *Gateway) Middleware(routeID string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler { return g.Protect(routeID, next) }
}

// Router returns a handler that serves every stored route with a backend:
// the longest path prefix that matches the request (and allows its method)
// wins; the route's plugins run, then the request is proxied to the backend.
// Requests no route matches get 404.
func (g *Gateway) Router() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cr, prefix, ok := g.routes.Load().table.Match(r.Method, r.URL.Path)
		if ok && cr.route.Frontend.StripPath {
			r = r.WithContext(context.WithValue(r.Context(), stripKey{}, prefix))
		}
		if g.tracked {
			if !ok {
				g.serveTracked(w, r, "", nil, nil)
				return
			}
			g.serveTracked(w, r, cr.route.ID, cr, cr.proxy)
			return
		}
		if !ok {
			writeMessage(w, http.StatusNotFound, MsgRouteNotFound)
			g.refused(r, nil, "", nil, http.StatusNotFound, MsgRouteNotFound)
			return
		}
		g.serve(w, r, cr, cr.proxy, nil)
	})
}

// serve is the request path: strip forged identity headers, authenticate,
// authorize, then hand over to next. ob is nil unless an Observer or spans
// are configured (serveTracked).
func (g *Gateway) serve(w http.ResponseWriter, r *http.Request, cr *compiledRoute, next http.Handler, ob *observation) {
	// The plans' generation, read before the identity and groups a plan is
	// built from: a plan built from a consumer that changed since is not kept.
	gen := g.plans.Generation()
	if cr.err != nil {
		writeMessage(w, http.StatusInternalServerError, MsgRouteMisconfig)
		g.refused(r, ob, cr.route.ID, nil, http.StatusInternalServerError, MsgRouteMisconfig)
		return
	}
	h := r.Header
	if len(cr.auths) == 0 {
		for _, name := range identityHeaders {
			delete(h, name)
		}
		if len(cr.authorizers) > 0 {
			if ob != nil {
				g.beginAuth(r, ob)
			}
			for _, a := range cr.authorizers {
				if refusal := a.Authorize(r, nil); refusal != nil {
					g.denyAuth(w, r, cr, ob, nil, refusal)
					return
				}
			}
			if ob != nil {
				g.endAuth(ob, nil)
			}
		}
		if ob != nil {
			r = g.beginUpstream(r, ob)
		}
		g.handle(w, r, gen, cr, nil, next, ob)
		return
	}
	if ob != nil {
		g.beginAuth(r, ob)
	}
	m, fail := g.authenticate(r, cr)
	if fail != nil {
		g.denyAuth(w, r, cr, ob, nil, fail)
		return
	}
	if !m.Identity.Anonymous && !cr.authorized(m) {
		g.denyAuth(w, r, cr, ob, &m.Identity, errNotAuthorized)
		return
	}
	for _, a := range cr.authorizers {
		if refusal := a.Authorize(r, &m.Identity); refusal != nil {
			g.denyAuth(w, r, cr, ob, &m.Identity, refusal)
			return
		}
	}
	if ob != nil {
		g.endAuth(ob, &m.Identity)
		r = g.beginUpstream(r, ob)
	}
	if q, ok := m.Secret.(quotaHolder); ok && g.quotas != nil && q.HasQuotas() && !g.chargeQuotas(w, r, cr, &m.Identity, q, ob) {
		return
	}
	// Client-sent identity headers are overwritten or removed: never trusted.
	for _, f := range m.Headers {
		if f.Values != nil {
			h[f.Name] = f.Values
		} else {
			delete(h, f.Name)
		}
	}
	g.handle(w, withIdentity(r, &m.Identity), gen, cr, &m.Identity, next, ob)
}

// denyAuth answers a request refused by authentication or authorization
// with e, and records it.
func (g *Gateway) denyAuth(w http.ResponseWriter, r *http.Request, cr *compiledRoute, ob *observation, id *consumer.Identity, e *credential.AuthError) {
	status := e.Status
	if status == 0 {
		status = http.StatusUnauthorized
	}
	if ob != nil {
		ob.info.Status, ob.reason = status, e.Message
		g.endAuth(ob, id)
	}
	writeAuthError(w, e)
	g.refused(r, ob, cr.route.ID, id, status, e.Message)
}

// handle serves the request through the plugin plan of its route and caller
// (pre_request plugins, next, the response stages), or straight to next when
// there is no plugin to run.
func (g *Gateway) handle(w http.ResponseWriter, r *http.Request, gen uint64, cr *compiledRoute, id *consumer.Identity, next http.Handler, ob *observation) {
	p, err := g.plan(gen, cr, id)
	if err != nil {
		g.log.ErrorContext(r.Context(), "gatehouse: plugin plan cannot be built", "route", cr.route.ID, "err", err)
		writeMessage(w, http.StatusInternalServerError, MsgRouteMisconfig)
		g.refused(r, ob, cr.route.ID, id, http.StatusInternalServerError, MsgRouteMisconfig)
		return
	}
	if ob != nil {
		g.handleTracked(w, r, p, cr, id, next, ob)
		return
	}
	if p.Empty() {
		next.ServeHTTP(w, r)
		return
	}
	if out := p.ServeOutcome(w, r, next, cr.route.ID, id); out.Plugin != "" {
		g.refused(r, nil, cr.route.ID, id, out.Status, out.Plugin)
	}
}

// handleTracked is handle's end for an observed request: the plan's outcome
// and, on Router, the backend's failure (502, 504) are recorded.
func (g *Gateway) handleTracked(w http.ResponseWriter, r *http.Request, p *plugin.Plan, cr *compiledRoute, id *consumer.Identity, next http.Handler, ob *observation) {
	var u *upstreamCall
	if rp, ok := next.(*httputil.ReverseProxy); ok && rp == cr.proxy {
		u = upstreamCalls.Get().(*upstreamCall)
		u.proxy = rp
		next = u
	}
	out := p.ServeOutcome(w, r, next, cr.route.ID, id)
	switch {
	case out.Plugin != "":
		g.refused(r, ob, cr.route.ID, id, out.Status, out.Plugin)
	case out.Status != 0:
		ob.info.Status, ob.reason = out.Status, "plugin failure"
	case u != nil && u.status != 0:
		ob.info.Status, ob.reason, ob.err = u.status, u.reason, u.err
	}
	if u != nil {
		*u = upstreamCall{}
		upstreamCalls.Put(u)
	}
}

// identified is a request copy and the context that carries its identity,
// allocated together: one allocation where r.WithContext(consumer.NewContext(...))
// makes two.
type identified struct {
	req http.Request
	ctx consumer.IdentityContext
}

// withIdentity returns a shallow copy of r whose context carries id, as
// r.WithContext(consumer.NewContext(r.Context(), id)) would.
func withIdentity(r *http.Request, id *consumer.Identity) *http.Request {
	x := new(identified)
	x.ctx.Init(r.Context(), id)
	x.req = *r.WithContext(&x.ctx) // the temporary copy stays on the stack
	return &x.req
}

var (
	errAuthFailed      = &credential.AuthError{Status: http.StatusUnauthorized, Message: MsgAuthFailed}
	errInvalidUser     = &credential.AuthError{Status: http.StatusUnauthorized, Message: MsgInvalidUser}
	errConsumerChanged = &credential.AuthError{Status: http.StatusUnauthorized, Message: MsgConsumerChanged}
	errNotAuthorized   = &credential.AuthError{Status: http.StatusForbidden, Message: MsgNotAuthorized}
)

// authenticate runs the route's authentication plugins under its auth mode.
func (g *Gateway) authenticate(r *http.Request, cr *compiledRoute) (*credential.Match, *credential.AuthError) {
	var (
		match *credential.Match
		first *credential.AuthError
	)
	for _, a := range cr.auths {
		m, err := a.Authenticate(r, g.view.index)
		if err != nil {
			ae := asAuthError(err)
			if ae.Status != 0 && ae.Status != http.StatusUnauthorized && !ae.Missing {
				// A refusal that is not about identity (413, a read-only key's
				// 403) stands; a missing credential (apikey-auth's 400) still
				// falls through to the other plugins and the anonymous consumer.
				return nil, ae
			}
			if first == nil {
				first = ae
			}
			if cr.any {
				continue
			}
			break
		}
		if cr.any {
			return m, nil
		}
		if match != nil && match.Identity.Consumer.Username != m.Identity.Consumer.Username {
			first = errConsumerChanged
			break
		}
		match = m
	}
	if first == nil {
		return match, nil
	}
	if name := cr.anonymous; name != "" {
		if m, ok := g.view.anonymous(name); ok {
			return m, nil
		}
		return nil, errInvalidUser
	}
	if cr.any && len(cr.auths) > 1 {
		return nil, errAuthFailed
	}
	return nil, first
}

func asAuthError(err error) *credential.AuthError {
	if ae, ok := err.(*credential.AuthError); ok {
		return ae
	}
	return &credential.AuthError{Status: http.StatusUnauthorized, Message: err.Error()}
}

func writeAuthError(w http.ResponseWriter, e *credential.AuthError) {
	if e.Challenge != "" {
		w.Header()["Www-Authenticate"] = rendered.values(e.Challenge)
	}
	if e.RetryAfter > 0 {
		// strconv.Itoa of a value under 100 does not allocate.
		w.Header()["Retry-After"] = rendered.values(strconv.Itoa(e.RetryAfter))
	}
	status := e.Status
	if status == 0 {
		status = http.StatusUnauthorized
	}
	writeMessage(w, status, e.Message)
}

var (
	hdrJSON    = []string{"application/json"}
	hdrNosniff = []string{"nosniff"}
)

// writeMessage answers with the data plane's error body, {"message": "..."}.
// Bodies and header values of recurring messages are rendered once, so that
// refusing a request (a flood of bad keys, say) costs next to no allocation.
func writeMessage(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	h["Content-Type"] = hdrJSON
	h["X-Content-Type-Options"] = hdrNosniff
	w.WriteHeader(status)
	_, _ = w.Write(rendered.body(msg))
}

// renderCache keeps the rendered bodies and header values of the messages
// the data plane sends, up to a bound (messages are a small, fixed set; the
// bound only guards against a plugin that puts request data in them).
type renderCache struct {
	mu     sync.RWMutex
	bodies map[string][]byte
	vals   map[string][]string
}

const renderCacheMax = 512

var rendered = &renderCache{bodies: map[string][]byte{}, vals: map[string][]string{}}

func (c *renderCache) body(msg string) []byte {
	c.mu.RLock()
	b, ok := c.bodies[msg]
	c.mu.RUnlock()
	if ok {
		return b
	}
	b, _ = json.Marshal(struct {
		Message string `json:"message"`
	}{msg})
	b = append(b, '\n')
	c.mu.Lock()
	if len(c.bodies) < renderCacheMax {
		c.bodies[msg] = b
	}
	c.mu.Unlock()
	return b
}

func (c *renderCache) values(v string) []string {
	c.mu.RLock()
	s, ok := c.vals[v]
	c.mu.RUnlock()
	if ok {
		return s
	}
	s = []string{v}
	c.mu.Lock()
	if len(c.vals) < renderCacheMax {
		c.vals[v] = s
	}
	c.mu.Unlock()
	return s
}
