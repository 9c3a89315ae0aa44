// Package route holds the Route type (a set of paths served by one handler or
// backend, with its groups and plugins) and the Table that matches requests to routes.
package route

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/validation"
)

// Auth modes for routes with several authentication plugins.
const (
	// AuthAll needs every authentication plugin to pass and name one consumer.
	AuthAll = "all"
	// AuthAny takes the first authentication plugin that passes.
	AuthAny = "any"
)

// Limits on a route. Every request scans the paths of the routes it may
// match and the groups of the route it matched, so that these bound the work
// one route adds to each request.
const (
	// MaxPaths is the most frontend paths one route may have.
	MaxPaths = 100
	// MaxPathLen is the longest frontend path, in bytes.
	MaxPathLen = 1024
	// MaxMethods is the most frontend methods one route may have.
	MaxMethods = 16
	// MaxGroups is the most service groups one route may belong to.
	MaxGroups = 100
)

// Route is a unit of the API the gateway protects.
type Route struct {
	// ID identifies the route; generated when empty.
	ID string `json:"id"`
	// Name is free text.
	Name string `json:"name,omitempty"`
	// Groups are the service groups the route belongs to.
	Groups []string `json:"groups,omitempty"`
	// API names the API (a set of routes) the route belongs to. Every route
	// of API x is in the virtual group "api_x": a credential authorized on
	// api_x reaches all of them, as with Otoroshi's APIs.
	API string `json:"api,omitempty"`
	// Frontend says which requests the route serves.
	Frontend Frontend `json:"frontend"`
	// Backend is where the reference gateway proxies matched requests. Routes
	// served by a Go handler have none.
	Backend *Backend `json:"backend,omitempty"`
	// Plugins are route-level plugin settings, authentication included.
	Plugins map[string]json.RawMessage `json:"plugins,omitempty"`
	// AuthMode is AuthAll (default) or AuthAny.
	AuthMode string `json:"auth_mode,omitempty"`
	// CreatedAt and UpdatedAt are set by the store.
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Frontend matches requests to a route.
type Frontend struct {
	// Paths are prefixes: "/a/b" matches "/a/b" and "/a/b/...", not "/a/bc".
	Paths []string `json:"paths,omitempty"`
	// Methods limits the route to these methods; empty means any.
	Methods []string `json:"methods,omitempty"`
	// StripPath removes the matched prefix before the request goes upstream.
	StripPath bool `json:"strip_path,omitempty"`
}

// Backend is an upstream HTTP server.
type Backend struct {
	// Target is the upstream's base URL, such as "http://127.0.0.1:9000".
	Target string `json:"target"`
}

// Validate checks the route's fields and returns a *validation.Error naming every
// invalid one. Plugin settings are checked by the plugin registry.
func (r *Route) Validate() error {
	var e validation.Error
	if r.ID != "" && !consumer.ValidName(r.ID) {
		e.Add("id", "must match ^[a-zA-Z0-9_-]+$ and be at most 512 characters")
	}
	if len(r.Groups) > MaxGroups {
		e.Add("groups", fmt.Sprintf("must have at most %d entries", MaxGroups))
	}
	for _, g := range r.Groups {
		if !consumer.ValidName(g) {
			e.Add("groups", "group ids must match ^[a-zA-Z0-9_-]+$")
			break
		}
	}
	if r.API != "" && !consumer.ValidName(r.API) {
		e.Add("api", "must match ^[a-zA-Z0-9_-]+$ and be at most 512 characters")
	}
	if len(r.Frontend.Paths) > MaxPaths {
		e.Add("frontend.paths", fmt.Sprintf("must have at most %d entries", MaxPaths))
	}
	for _, p := range r.Frontend.Paths {
		if !strings.HasPrefix(p, "/") {
			e.Add("frontend.paths", "every path must start with /")
			break
		}
		if len(p) > MaxPathLen {
			e.Add("frontend.paths", fmt.Sprintf("every path must be at most %d bytes", MaxPathLen))
			break
		}
	}
	if len(r.Frontend.Methods) > MaxMethods {
		e.Add("frontend.methods", fmt.Sprintf("must have at most %d entries", MaxMethods))
	}
	for _, m := range r.Frontend.Methods {
		if m == "" || strings.ToUpper(m) != m || strings.ContainsAny(m, " \t/") {
			e.Add("frontend.methods", "methods must be upper-case HTTP methods such as GET")
			break
		}
	}
	if r.Backend != nil {
		u, err := url.Parse(r.Backend.Target)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
			e.Add("backend.target", "must be an http:// or https:// URL with a host")
		}
	}
	switch r.AuthMode {
	case "", AuthAll, AuthAny:
	default:
		e.Add("auth_mode", `must be "all" or "any"`)
	}
	return e.Err()
}

// Mode returns the route's auth mode, AuthAll when unset.
func (r *Route) Mode() string {
	if r.AuthMode == "" {
		return AuthAll
	}
	return r.AuthMode
}

// AllowsMethod reports whether the route serves method.
func (r *Route) AllowsMethod(method string) bool {
	if len(r.Frontend.Methods) == 0 {
		return true
	}
	for _, m := range r.Frontend.Methods {
		if m == method || (method == http.MethodHead && m == http.MethodGet) {
			return true
		}
	}
	return false
}

// Clone returns a deep copy of r.
func (r *Route) Clone() *Route {
	if r == nil {
		return nil
	}
	out := *r
	out.Groups = append([]string(nil), r.Groups...)
	out.Frontend.Paths = append([]string(nil), r.Frontend.Paths...)
	out.Frontend.Methods = append([]string(nil), r.Frontend.Methods...)
	if r.Backend != nil {
		b := *r.Backend
		out.Backend = &b
	}
	out.Plugins = consumer.ClonePlugins(r.Plugins)
	return &out
}
