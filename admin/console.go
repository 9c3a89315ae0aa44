package admin

import (
	"embed"
	"net/http"
	"strings"
)

// consoleFiles are the admin console's page, script and style sheet: plain
// files, no build step, nothing loaded from anywhere else.
//
//go:embed console/index.html console/console.js console/console.css
var consoleFiles embed.FS

// ConsolePolicy is the Content-Security-Policy of every console response:
// the page may load only its own script and style sheet and talk only to
// its own origin (the admin API); no inline script or style, no frames
// (frame-ancestors), no form posted anywhere, and DOM sinks that take
// strings of HTML (innerHTML) refused by the browser (Trusted Types).
const ConsolePolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; " +
	"require-trusted-types-for 'script'"

// WithConsole serves the admin console, a web page for the admin API, at
// /ui/ under the handler (under /admin/ui/ when the handler is mounted with
// http.StripPrefix("/admin", …)). The page is public, since it holds no
// data: it asks for the admin key, keeps it in the browser tab's
// sessionStorage and sends it as X-API-KEY with every call. Without this
// option (the default) /ui/ is an unknown admin path like any other. See
// docs/console.md.
func WithConsole() Option {
	return func(c *config) { c.console = true }
}

// consoleFile is one file of the console, read once.
type consoleFile struct {
	body        []byte
	contentType string
}

// console serves the console's files.
type console struct {
	files map[string]consoleFile // by URL path: "/ui/", "/ui/console.js"
}

func newConsole() *console {
	c := &console{files: map[string]consoleFile{}}
	for path, f := range map[string]struct{ name, typ string }{
		"/ui/":            {"console/index.html", "text/html; charset=utf-8"},
		"/ui/console.js":  {"console/console.js", "text/javascript; charset=utf-8"},
		"/ui/console.css": {"console/console.css", "text/css; charset=utf-8"},
	} {
		b, err := consoleFiles.ReadFile(f.name)
		if err != nil {
			panic("admin: console file missing from the build: " + f.name)
		}
		c.files[path] = consoleFile{body: b, contentType: f.typ}
	}
	return c
}

// isConsolePath reports whether path is the console's: /ui or under /ui/.
func isConsolePath(path string) bool {
	return path == "/ui" || strings.HasPrefix(path, "/ui/")
}

// ServeHTTP serves GET and HEAD of the console's files with its security
// headers; /ui redirects to /ui/ (relatively, so that a mount prefix is
// kept).
func (c *console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", ConsolePolicy)
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed("GET, HEAD")(w, r)
		return
	}
	if r.URL.Path == "/ui" {
		hd.Set("Location", "ui/")
		w.WriteHeader(http.StatusMovedPermanently)
		return
	}
	f, ok := c.files[r.URL.Path]
	if !ok {
		writeError(w, newError(http.StatusNotFound, codeNotFound, "no console file at this path"))
		return
	}
	hd.Set("Content-Type", f.contentType)
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(f.body)
	}
}
