package route_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/validation"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		r    route.Route
		// want is the set of invalid fields; empty means valid.
		want []string
	}{
		{"empty route", route.Route{}, nil},
		{"every field", route.Route{ID: "r-1", Name: "any text at all", Groups: []string{"g1", "g_2"}, API: "shop-v2",
			Frontend: route.Frontend{Paths: []string{"/", "/a/b"}, Methods: []string{"GET", "POST"}, StripPath: true},
			Backend:  &route.Backend{Target: "http://127.0.0.1:9000"},
			Plugins:  map[string]json.RawMessage{"key-auth": json.RawMessage(`{}`)}, AuthMode: route.AuthAny}, nil},
		{"https backend", route.Route{Backend: &route.Backend{Target: "https://api.example.com/base"}}, nil},
		{"auth mode all", route.Route{AuthMode: route.AuthAll}, nil},
		{"bad id", route.Route{ID: "r 1"}, []string{"id"}},
		{"id too long", route.Route{ID: strings.Repeat("r", 513)}, []string{"id"}},
		{"bad group", route.Route{Groups: []string{"ok", "not ok"}}, []string{"groups"}},
		{"empty group", route.Route{Groups: []string{""}}, []string{"groups"}},
		{"bad api", route.Route{API: "shop v2"}, []string{"api"}},
		{"relative path", route.Route{Frontend: route.Frontend{Paths: []string{"/ok", "a/b"}}}, []string{"frontend.paths"}},
		{"empty path", route.Route{Frontend: route.Frontend{Paths: []string{""}}}, []string{"frontend.paths"}},
		{"lower-case method", route.Route{Frontend: route.Frontend{Methods: []string{"get"}}}, []string{"frontend.methods"}},
		{"mixed-case method", route.Route{Frontend: route.Frontend{Methods: []string{"GET", "Post"}}}, []string{"frontend.methods"}},
		{"empty method", route.Route{Frontend: route.Frontend{Methods: []string{""}}}, []string{"frontend.methods"}},
		{"method with space", route.Route{Frontend: route.Frontend{Methods: []string{"GET POST"}}}, []string{"frontend.methods"}},
		{"backend not http", route.Route{Backend: &route.Backend{Target: "ftp://host"}}, []string{"backend.target"}},
		{"backend without scheme", route.Route{Backend: &route.Backend{Target: "127.0.0.1:9000"}}, []string{"backend.target"}},
		{"backend with a port but no host", route.Route{Backend: &route.Backend{Target: "http://:80"}}, []string{"backend.target"}},
		{"backend without host", route.Route{Backend: &route.Backend{Target: "http://"}}, []string{"backend.target"}},
		{"backend empty", route.Route{Backend: &route.Backend{}}, []string{"backend.target"}},
		{"backend unparsable", route.Route{Backend: &route.Backend{Target: "http://a b\x7f"}}, []string{"backend.target"}},
		{"bad auth mode", route.Route{AuthMode: "ALL"}, []string{"auth_mode"}},
		{"several at once", route.Route{ID: "x/y", Groups: []string{"a b"},
			Frontend: route.Frontend{Paths: []string{"rel"}, Methods: []string{"get"}},
			Backend:  &route.Backend{Target: "ws://h"}, AuthMode: "some"},
			[]string{"id", "groups", "frontend.paths", "frontend.methods", "backend.target", "auth_mode"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.r.Validate()
			if len(tt.want) == 0 {
				require.NoError(t, err)
				return
			}
			require.True(t, errors.Is(err, validation.ErrInvalid))
			var ve *validation.Error
			require.ErrorAs(t, err, &ve)
			got := make([]string, 0, len(ve.Fields))
			for f, why := range ve.Fields {
				require.NotEmpty(t, why)
				got = append(got, f)
			}
			require.ElementsMatch(t, tt.want, got)
		})
	}
}

func TestMode(t *testing.T) {
	tests := []struct {
		authMode, want string
	}{
		{"", route.AuthAll},
		{route.AuthAll, route.AuthAll},
		{route.AuthAny, route.AuthAny},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, (&route.Route{AuthMode: tt.authMode}).Mode(), "auth_mode %q", tt.authMode)
	}
}

func TestAllowsMethod(t *testing.T) {
	tests := []struct {
		name    string
		methods []string
		method  string
		want    bool
	}{
		{"no methods allows any", nil, "DELETE", true},
		{"listed", []string{"GET", "POST"}, "POST", true},
		{"not listed", []string{"GET", "POST"}, "DELETE", false},
		{"HEAD allowed by GET", []string{"GET"}, "HEAD", true},
		{"HEAD not allowed by POST", []string{"POST"}, "HEAD", false},
		{"GET not allowed by HEAD", []string{"HEAD"}, "GET", false},
		{"HEAD listed", []string{"HEAD"}, "HEAD", true},
		{"case-sensitive", []string{"GET"}, "get", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := route.Route{Frontend: route.Frontend{Methods: tt.methods}}
			require.Equal(t, tt.want, r.AllowsMethod(tt.method))
		})
	}
}

func TestClone(t *testing.T) {
	newOrig := func() *route.Route {
		return &route.Route{
			ID: "r1", Name: "n", Groups: []string{"g1"},
			Frontend: route.Frontend{Paths: []string{"/a"}, Methods: []string{"GET"}, StripPath: true},
			Backend:  &route.Backend{Target: "http://h:1"},
			Plugins:  map[string]json.RawMessage{"key-auth": json.RawMessage(`{"header":"x"}`)},
			AuthMode: route.AuthAny,
		}
	}
	tests := []struct {
		name   string
		mutate func(r *route.Route)
	}{
		{"groups", func(r *route.Route) { r.Groups[0] = "g2" }},
		{"paths", func(r *route.Route) { r.Frontend.Paths[0] = "/b" }},
		{"methods", func(r *route.Route) { r.Frontend.Methods[0] = "PUT" }},
		{"backend", func(r *route.Route) { r.Backend.Target = "http://other:2" }},
		{"plugin bytes", func(r *route.Route) { r.Plugins["key-auth"][2] = 'X' }},
		{"plugin map", func(r *route.Route) { delete(r.Plugins, "key-auth") }},
		{"scalars", func(r *route.Route) { r.ID, r.Name, r.AuthMode, r.Frontend.StripPath = "r2", "m", "", false }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := newOrig()
			c := orig.Clone()
			require.Equal(t, orig, c)
			tt.mutate(c)
			require.NotEqual(t, orig, c)
			require.Equal(t, newOrig(), orig)
		})
	}
}

func TestCloneNil(t *testing.T) {
	var r *route.Route
	require.Nil(t, r.Clone())
	c := (&route.Route{ID: "r"}).Clone()
	require.Nil(t, c.Backend)
	require.Nil(t, c.Plugins)
}
