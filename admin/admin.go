// Package admin is the mountable admin API of Gatehouse: an http.Handler that manages
// consumers, credentials, routes and service groups in a store.Store over JSON.
package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	configfile "github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/plugin"
	"github.com/gatehousehq/gatehouse/ratelimit"
	"github.com/gatehousehq/gatehouse/store"
)

// DefaultMaxBody is the largest request body accepted unless WithMaxBody says
// otherwise: 1 MiB. A larger body is answered 413.
const DefaultMaxBody int64 = 1 << 20

// Handler is the admin API. It serves
//
//	GET, POST               /api/consumers
//	GET, PUT, PATCH, DELETE /api/consumers/{username}
//	GET, POST               /api/consumers/{username}/credentials
//	GET, PUT, PATCH, DELETE /api/consumers/{username}/credentials/{id}
//	GET, POST               /api/routes
//	GET, PUT, PATCH, DELETE /api/routes/{id}
//	GET, POST               /api/groups
//	GET, PUT, PATCH, DELETE /api/groups/{id}
//	GET, POST               /api/groups/{id}/apikeys
//	GET, POST               /api/apikeys
//	GET, PUT, PATCH, DELETE /api/apikeys/{clientId}
//	GET, DELETE             /api/apikeys/{clientId}/quotas (with WithQuotaCounter; 501 without)
//	GET, POST               /api/v1/gateways
//	GET, PUT, PATCH, DELETE /api/v1/gateways/{gateway_id}
//	GET, POST               /api/v1/gateways/{gateway_id}/consumer-groups
//	GET, PUT, DELETE        /api/v1/gateways/{gateway_id}/consumer-groups/{group_id}
//	GET, POST               /api/v1/gateways/{gateway_id}/consumer-groups/{group_id}/keys
//	DELETE                  /api/v1/gateways/{gateway_id}/consumer-groups/{group_id}/keys/{key_id}
//	GET                     /api/openapi.json (this API as an OpenAPI 3.1 document)
//	GET                     /api/v1/gateways/{gateway_id}/consumer-groups/{group_id}/usage
//
// and, with WithConsole, the admin console (a web page) at /ui/.
//
//	GET                     /api/export (the whole configuration as a config file, secrets left out)
//
// API keys (Otoroshi) are credentials of the apikey-auth scheme, which must
// be registered in the plugin registry.
//
// Mount it under any prefix with http.StripPrefix. Every request must carry
// the admin key (see WithKey); a Handler without a key answers every request
// 401. A Handler is safe for concurrent use.
type Handler struct {
	store  store.Store
	reg    *plugin.Registry
	log    *slog.Logger
	max    int64
	hasKey bool
	keySum [sha256.Size]byte
	mux    *mux
	quotas ratelimit.QuotaCounter
	now    func() time.Time
	// timeout bounds each request's work (its store calls); 0: none.
	timeout time.Duration
	// console serves /ui/ (WithConsole); nil: off.
	console *console
	// gatewayID is the gateway GET /api/export describes by default.
	gatewayID string
}

var _ http.Handler = (*Handler)(nil)

// Option configures a Handler.
type Option func(*config)

type config struct {
	key     string
	logger  *slog.Logger
	maxBody int64
	quotas  ratelimit.QuotaCounter
	now     func() time.Time
	timeout *time.Duration
	console bool
	gateway string
}

// DefaultTimeout is how long a request may wait for the store unless
// WithTimeout says otherwise.
const DefaultTimeout = 10 * time.Second

// WithKey sets the admin key. Requests must send it as "X-API-KEY: <key>" or
// "Authorization: Bearer <key>". Without a key (or with an empty one) the
// handler fails closed: every request is answered 401.
func WithKey(key string) Option {
	return func(c *config) { c.key = key }
}

// WithLogger sets the logger for server errors and refused requests; the
// default is slog.Default(). Request bodies and keys are never logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// WithMaxBody sets the largest request body accepted, in bytes; a larger one
// is answered 413. Values below 1 keep the default, DefaultMaxBody (1 MiB).
func WithMaxBody(n int64) Option {
	return func(c *config) { c.maxBody = n }
}

// WithQuotaCounter sets where API-key quotas are counted, for the
// /api/apikeys/{clientId}/quotas endpoints: the gateway's limiter
// (Gateway.AdminHandler passes it). Without one those endpoints answer 501.
func WithQuotaCounter(qc ratelimit.QuotaCounter) Option {
	return func(c *config) { c.quotas = qc }
}

// WithTimeout bounds how long one request may take, store calls included
// (DefaultTimeout without this option; 0 or less: no bound but the
// client's). A store that stops answering (a database server that hangs
// rather than refusing connections) then costs an admin client a 503 after
// d, not a request that never ends.
func WithTimeout(d time.Duration) Option {
	return func(c *config) { c.timeout = &d }
}

// WithGatewayID names the gateway whose consumer groups and plugins GET
// /api/export includes unless its ?gateway_id= names another (default
// config.DefaultGatewayID). Gateway.AdminHandler callers pass the gateway's
// own id.
func WithGatewayID(id string) Option {
	return func(c *config) { c.gateway = id }
}

// WithClock sets the clock that places quota windows (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(c *config) { c.now = now }
}

// New returns the admin handler for s. Plugin settings on consumers and
// routes are validated by reg, and credential secrets are sealed by the
// credential.Scheme registered in reg under the credential's plugin name. A
// nil reg is an empty registry: every plugin is then refused. New panics when
// s is nil.
func New(s store.Store, reg *plugin.Registry, opts ...Option) *Handler {
	if s == nil {
		panic("admin: New called with a nil store")
	}
	cfg := config{maxBody: DefaultMaxBody}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.maxBody < 1 {
		cfg.maxBody = DefaultMaxBody
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	if reg == nil {
		reg = plugin.NewRegistry()
	}
	h := &Handler{
		store:   s,
		reg:     reg,
		log:     cfg.logger,
		max:     cfg.maxBody,
		hasKey:  cfg.key != "",
		keySum:  sha256.Sum256([]byte(cfg.key)),
		mux:     &mux{ServeMux: http.NewServeMux()},
		quotas:  cfg.quotas,
		now:     cfg.now,
		timeout: DefaultTimeout,

		gatewayID: cfg.gateway,
	}
	if h.gatewayID == "" {
		h.gatewayID = configfile.DefaultGatewayID
	}
	if cfg.timeout != nil {
		h.timeout = max(*cfg.timeout, 0)
	}
	if h.now == nil {
		h.now = time.Now
	}
	if cfg.console {
		h.console = newConsole()
	}
	h.routes()
	return h
}

// mux is the handler's ServeMux, which also records every pattern registered
// on it, so that the tests check the OpenAPI document against what is served
// rather than against a second list.
type mux struct {
	*http.ServeMux
	patterns []string
}

// HandleFunc registers f for pattern and records the pattern.
func (m *mux) HandleFunc(pattern string, f func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(f))
}

// Handle registers h for pattern and records the pattern.
func (m *mux) Handle(pattern string, h http.Handler) {
	m.patterns = append(m.patterns, pattern)
	m.ServeMux.Handle(pattern, h)
}

const (
	allowCollection = "GET, HEAD, POST"
	allowItem       = "GET, HEAD, PUT, PATCH, DELETE"
)

func (h *Handler) routes() {
	m := h.mux
	m.HandleFunc("GET /api/consumers", h.listConsumers)
	m.HandleFunc("POST /api/consumers", h.createConsumer)
	m.HandleFunc("GET /api/consumers/{username}", h.getConsumer)
	m.HandleFunc("PUT /api/consumers/{username}", h.putConsumer)
	m.HandleFunc("PATCH /api/consumers/{username}", h.patchConsumer)
	m.HandleFunc("DELETE /api/consumers/{username}", h.deleteConsumer)

	m.HandleFunc("GET /api/consumers/{username}/credentials", h.listCredentials)
	m.HandleFunc("POST /api/consumers/{username}/credentials", h.createCredential)
	m.HandleFunc("GET /api/consumers/{username}/credentials/{id}", h.getCredential)
	m.HandleFunc("PUT /api/consumers/{username}/credentials/{id}", h.putCredential)
	m.HandleFunc("PATCH /api/consumers/{username}/credentials/{id}", h.patchCredential)
	m.HandleFunc("DELETE /api/consumers/{username}/credentials/{id}", h.deleteCredential)

	h.routeObjects().register(m, h, "/api/routes")

	h.groupObjects().register(m, h, "/api/groups")
	m.HandleFunc("GET /api/groups/{id}/apikeys", h.listGroupAPIKeys)
	m.HandleFunc("POST /api/groups/{id}/apikeys", h.createGroupAPIKey)

	m.HandleFunc("GET /api/apikeys", h.listAPIKeys)
	m.HandleFunc("POST /api/apikeys", h.createAPIKey)
	m.HandleFunc("GET /api/apikeys/{clientId}", h.getAPIKey)
	m.HandleFunc("PUT /api/apikeys/{clientId}", h.putAPIKey)
	m.HandleFunc("PATCH /api/apikeys/{clientId}", h.patchAPIKey)
	m.HandleFunc("DELETE /api/apikeys/{clientId}", h.deleteAPIKey)
	h.registerConsumerGroups(m)
	m.HandleFunc("GET /api/apikeys/{clientId}/quotas", h.getAPIKeyQuotas)
	m.HandleFunc("DELETE /api/apikeys/{clientId}/quotas", h.resetAPIKeyQuotas)
	m.HandleFunc("GET /api/openapi.json", serveOpenAPI)
	m.HandleFunc("GET /api/export", h.export)

	// Patterns without a method are less specific than the ones above: they
	// catch a known path with another method and answer 405 in JSON.
	for path, allow := range map[string]string{
		"/api/consumers":                                allowCollection,
		"/api/consumers/{username}":                     allowItem,
		"/api/consumers/{username}/credentials":         allowCollection,
		"/api/consumers/{username}/credentials/{id}":    allowItem,
		"/api/routes":                                   allowCollection,
		"/api/routes/{id}":                              allowItem,
		"/api/groups":                                   allowCollection,
		"/api/groups/{id}":                              allowItem,
		"/api/groups/{id}/apikeys":                      allowCollection,
		"/api/apikeys":                                  allowCollection,
		"/api/apikeys/{clientId}":                       allowItem,
		"/api/apikeys/{clientId}/quotas":                "GET, HEAD, DELETE",
		"/api/export":                                   "GET, HEAD",
		"/api/v1/gateways":                              allowCollection,
		"/api/v1/gateways/{id}":                         allowItem,
		"/api/v1/gateways/{gateway_id}/consumer-groups": allowCollection,
		"/api/v1/gateways/{gateway_id}/consumer-groups/{group_id}":               "GET, HEAD, PUT, DELETE",
		"/api/v1/gateways/{gateway_id}/consumer-groups/{group_id}/keys":          allowCollection,
		"/api/v1/gateways/{gateway_id}/consumer-groups/{group_id}/keys/{key_id}": "DELETE",
		"/api/v1/gateways/{gateway_id}/consumer-groups/{group_id}/usage":         "GET, HEAD",
		"/api/openapi.json": "GET, HEAD",
	} {
		m.HandleFunc(path, methodNotAllowed(allow))
	}
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, newError(http.StatusNotFound, codeNotFound, "no admin endpoint at this path"))
	})
}

// ServeHTTP checks the admin key, then serves the request. The console's
// files (WithConsole) are served without the key: they hold no data.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.console != nil && isConsolePath(r.URL.Path) {
		h.console.ServeHTTP(w, r)
		return
	}
	if !h.authorized(r) {
		h.log.DebugContext(r.Context(), "admin: request refused: missing or wrong admin key",
			slog.String("method", r.Method), slog.String("path", r.URL.Path))
		w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse-admin"`)
		writeError(w, newError(http.StatusUnauthorized, codeUnauthorized,
			"a valid admin key is required: send X-API-KEY: <key> or Authorization: Bearer <key>"))
		return
	}
	if h.timeout > 0 {
		ctx, cancel := context.WithTimeoutCause(r.Context(), h.timeout, errTimeout)
		defer cancel()
		r = r.WithContext(ctx)
	}
	h.mux.ServeHTTP(w, r)
}

// errTimeout is the cause of a request's context when WithTimeout's bound
// passes.
var errTimeout = errors.New("admin: the request took longer than its timeout")

// authorized compares SHA-256 digests of the presented and configured keys in
// constant time, so that neither the key nor its length leaks through timing.
func (h *Handler) authorized(r *http.Request) bool {
	presented := r.Header.Get("X-API-KEY")
	if presented == "" {
		presented = bearer(r.Header.Get("Authorization"))
	}
	sum := sha256.Sum256([]byte(presented))
	match := subtle.ConstantTimeCompare(sum[:], h.keySum[:]) == 1
	return h.hasKey && presented != "" && match
}

// bearer returns the token of an "Authorization: Bearer <token>" value, or "".
func bearer(v string) string {
	const prefix = "bearer "
	if len(v) <= len(prefix) || !strings.EqualFold(v[:len(prefix)], prefix) {
		return ""
	}
	return strings.TrimSpace(v[len(prefix):])
}

func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeError(w, newError(http.StatusMethodNotAllowed, codeMethodNotAllowed,
			"method "+r.Method+" is not allowed here; allowed: "+allow))
	}
}
