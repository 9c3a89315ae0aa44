package admin_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/admin"
	"github.com/gatehousehq/gatehouse/credential/keyauth"
	"github.com/gatehousehq/gatehouse/plugin"
	"github.com/gatehousehq/gatehouse/store/memory"
)

// get sends method path to h without any admin key.
func get(h http.Handler, method, path string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, path, nil))
	return w
}

// Without WithConsole, /ui/ is an unknown admin path: 401 without the key,
// the JSON 404 with it.
func TestConsoleOffByDefault(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/ui", "/ui/", "/ui/console.js", "/ui/console.css"} {
		requireError(t, e.do(http.MethodGet, path, nil), http.StatusNotFound, "not_found")
		w := get(e.h, http.MethodGet, path)
		require.Equal(t, http.StatusUnauthorized, w.Code, path)
		require.Empty(t, w.Header().Get("Content-Security-Policy"), path)
	}
}

// With WithConsole, the page, its script and its style sheet are served
// without the key (they hold no data), each with the console's security
// headers; everything else still needs the key.
func TestConsoleServed(t *testing.T) {
	h := admin.New(memory.New(), plugin.NewRegistry(keyauth.Definition{}), admin.WithKey(testKey), admin.WithConsole())
	for _, tc := range []struct{ path, contentType, contains string }{
		{"/ui/", "text/html; charset=utf-8", `<script src="console.js" defer></script>`},
		{"/ui/console.js", "text/javascript; charset=utf-8", "sessionStorage"},
		{"/ui/console.css", "text/css; charset=utf-8", "font:"},
	} {
		w := get(h, http.MethodGet, tc.path)
		require.Equal(t, http.StatusOK, w.Code, tc.path)
		require.Equal(t, tc.contentType, w.Header().Get("Content-Type"), tc.path)
		require.Contains(t, w.Body.String(), tc.contains, tc.path)
		requireConsoleHeaders(t, w.Header(), tc.path)

		head := get(h, http.MethodHead, tc.path)
		require.Equal(t, http.StatusOK, head.Code, tc.path)
		require.Zero(t, head.Body.Len(), tc.path)
	}

	// /ui redirects relatively, so that a mount prefix is kept.
	w := get(h, http.MethodGet, "/ui")
	require.Equal(t, http.StatusMovedPermanently, w.Code)
	require.Equal(t, "ui/", w.Header().Get("Location"))

	w = get(h, http.MethodGet, "/ui/missing.js")
	require.Equal(t, http.StatusNotFound, w.Code)
	require.Equal(t, "application/json", w.Header().Get("Content-Type"))
	requireConsoleHeaders(t, w.Header(), "/ui/missing.js")

	w = get(h, http.MethodPost, "/ui/")
	require.Equal(t, http.StatusMethodNotAllowed, w.Code)
	require.Equal(t, "GET, HEAD", w.Header().Get("Allow"))

	// The API is as closed as ever.
	require.Equal(t, http.StatusUnauthorized, get(h, http.MethodGet, "/api/consumers").Code)
	require.Equal(t, http.StatusUnauthorized, get(h, http.MethodGet, "/uix").Code)
}

func requireConsoleHeaders(t *testing.T, h http.Header, path string) {
	t.Helper()
	require.Equal(t, admin.ConsolePolicy, h.Get("Content-Security-Policy"), path)
	require.Equal(t, "DENY", h.Get("X-Frame-Options"), path)
	require.Equal(t, "no-store", h.Get("Cache-Control"), path)
	require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"), path)
	require.Equal(t, "no-referrer", h.Get("Referrer-Policy"), path)
}

// The policy allows nothing but the page's own files and its own origin.
func TestConsolePolicy(t *testing.T) {
	directives := map[string]string{}
	for _, d := range strings.Split(admin.ConsolePolicy, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		directives[name] = value
	}
	for name, want := range map[string]string{
		"default-src":               "'none'",
		"script-src":                "'self'",
		"style-src":                 "'self'",
		"connect-src":               "'self'",
		"frame-ancestors":           "'none'",
		"base-uri":                  "'none'",
		"form-action":               "'none'",
		"require-trusted-types-for": "'script'",
	} {
		require.Equal(t, want, directives[name], name)
	}
	require.NotContains(t, admin.ConsolePolicy, "unsafe")
}

// The console's files keep to the rules the policy enforces and the docs
// promise: no inline script or style, no handler attributes, no HTML built
// from strings, and no address outside the page's own origin.
func TestConsoleFilesSelfContained(t *testing.T) {
	h := admin.New(memory.New(), nil, admin.WithConsole())
	page := get(h, http.MethodGet, "/ui/").Body.String()
	script := get(h, http.MethodGet, "/ui/console.js").Body.String()
	css := get(h, http.MethodGet, "/ui/console.css").Body.String()

	for _, tag := range regexp.MustCompile(`(?is)<script\b[^>]*>(.*?)</script>`).FindAllStringSubmatch(page, -1) {
		require.Contains(t, tag[0], `src="console.js"`)
		require.Empty(t, strings.TrimSpace(tag[1]), "inline script")
	}
	require.NotRegexp(t, `(?i)\son[a-z]+\s*=`, page, "event handler attributes are inline script")
	require.NotRegexp(t, `(?i)\sstyle\s*=|<style`, page, "inline style")
	sinks := regexp.MustCompile(`\.(innerHTML|outerHTML)\b|insertAdjacentHTML\(|document\.write|\beval\(|new Function|setAttribute\(\s*'(style|on)`)
	require.Empty(t, sinks.FindAllString(script, -1), "HTML built from strings, or code from strings")
	other := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9-]+(\.[a-z0-9-]+)+`)
	for name, body := range map[string]string{"index.html": page, "console.js": script, "console.css": css} {
		require.Empty(t, other.FindAllString(body, -1), "%s names another origin", name)
	}
	require.NotRegexp(t, `@import|url\(`, css, "the style sheet loads nothing")
}

// Mounted under a prefix, the console's redirect stays under it.
func TestConsoleUnderPrefix(t *testing.T) {
	h := admin.New(memory.New(), nil, admin.WithKey(testKey), admin.WithConsole())
	srv := httptest.NewServer(http.StripPrefix("/admin", h))
	t.Cleanup(srv.Close)
	res, err := srv.Client().Get(srv.URL + "/admin/ui")
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "/admin/ui/", res.Request.URL.Path)
	require.Equal(t, "text/html; charset=utf-8", res.Header.Get("Content-Type"))
}
