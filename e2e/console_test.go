package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/admin"
	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/ratelimit/memory"
	"github.com/gatehousehq/gatehouse/route"
	stmemory "github.com/gatehousehq/gatehouse/store/memory"
)

const adminKey = "e2e-admin-key-0123456789"

// chromium returns the browser to drive, or skips the test (fails it when
// GATEHOUSE_TEST_REQUIRE_SERVICES=1, as CI sets).
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("GATEHOUSE_TEST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no Chromium found: apt-get install -y chromium (or set GATEHOUSE_TEST_CHROMIUM to a Chrome binary) to run the browser tests"
	if os.Getenv("GATEHOUSE_TEST_REQUIRE_SERVICES") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// system is a gateway with route "orders" (key-auth) on a data-plane
// server, its admin handler with the console under /admin/ on another, and
// consumer group "premium" with rate limits. The limiter's clock stands
// still, so that usage changes only with requests.
type system struct {
	t     *testing.T
	data  *httptest.Server
	admin *httptest.Server
}

func newSystem(t *testing.T) *system {
	t.Helper()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	lim := memory.New(memory.WithClock(func() time.Time { return now }))
	gw, err := gatehouse.New(context.Background(), stmemory.New(), gatehouse.WithLimiter(lim),
		gatehouse.WithRoutes(route.Route{ID: "orders", Plugins: map[string]json.RawMessage{"key-auth": json.RawMessage(`{}`)}}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = gw.Close() })

	mux := http.NewServeMux()
	mux.Handle("GET /orders", gw.Protect("orders", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := consumer.FromContext(r.Context())
		fmt.Fprintf(w, "orders of %s", c.Username)
	})))
	s := &system{t: t, data: httptest.NewServer(mux)}
	t.Cleanup(s.data.Close)
	s.admin = httptest.NewServer(http.StripPrefix("/admin", gw.AdminHandler(admin.WithKey(adminKey), admin.WithConsole())))
	t.Cleanup(s.admin.Close)

	s.api(http.MethodPost, "/api/v1/gateways/default/consumer-groups", `{"id":"premium","name":"Premium Users","required_plugins":[
		{"name":"advanced_rate_limiter","settings":{"limits":{"global":{"limit":100,"window":"1m"},"per_user":{"limit":10,"window":"1m"}},
		 "actions":{"type":"reject","retry_after":"60"}}}]}`, http.StatusCreated)
	s.api(http.MethodPost, "/api/consumers", `{"username":"bob","labels":{"team":"web"}}`, http.StatusCreated)
	for i := range 22 { // two pages of 20 with alice and bob
		s.api(http.MethodPost, "/api/consumers", fmt.Sprintf(`{"username":"user-%02d"}`, i), http.StatusCreated)
	}
	return s
}

// api calls the admin API directly, requiring status want.
func (s *system) api(method, path, body string, want int) string {
	s.t.Helper()
	req, err := http.NewRequest(method, s.admin.URL+"/admin"+path, strings.NewReader(body))
	require.NoError(s.t, err)
	req.Header.Set("X-API-KEY", adminKey)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(s.t, err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	require.Equal(s.t, want, res.StatusCode, "%s %s: %s", method, path, b)
	return string(b)
}

// orders calls the protected route with key and returns the status and body.
func (s *system) orders(key string) (int, string) {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.data.URL+"/orders", nil)
	require.NoError(s.t, err)
	if key != "" {
		req.Header.Set("apikey", key)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(s.t, err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// browser starts a fresh headless Chromium and returns a tab's context, the
// page errors and policy violations it reports, and the URLs it requests.
func browser(t *testing.T) (context.Context, *pageEvents) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 900),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	tab, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancelTab)

	ev := &pageEvents{}
	require.NoError(t, chromedp.Do(tab), "start Chromium")
	require.NoError(t, chromedp.Listen(tab, func(e any) {
		switch e := e.(type) {
		case *runtime.EventExceptionThrown:
			d := e.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			ev.add(&ev.problems, "exception: "+msg)
		case *log.EventEntryAdded:
			if e.Entry.Source == log.EntrySourceSecurity || strings.Contains(e.Entry.Text, "Content Security Policy") || strings.Contains(e.Entry.Text, "Trusted Type") {
				ev.add(&ev.problems, "policy: "+e.Entry.Text)
			}
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError {
				ev.add(&ev.problems, "console.error")
			}
		case *network.EventRequestWillBeSent:
			ev.add(&ev.requests, e.Request.URL)
		}
	}))
	_, err := chromedp.Call(tab, log.Enable, cdp.Empty{})
	require.NoError(t, err)
	_, err = chromedp.Call(tab, network.Enable, network.EnableParams{})
	require.NoError(t, err)
	return tab, ev
}

// pageEvents collects what the browser reports.
type pageEvents struct {
	mu       sync.Mutex
	problems []string
	requests []string
}

func (p *pageEvents) add(to *[]string, s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	*to = append(*to, s)
}

func (p *pageEvents) snapshot() (problems, requests []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.problems...), append([]string(nil), p.requests...)
}

// run runs steps in the tab, failing the test with what went wrong.
func run(t *testing.T, tab context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	require.NoError(t, chromedp.Do(tab, steps...), what)
}

// waitJS waits until expr is true in the page.
func waitJS(t *testing.T, tab context.Context, what, expr string) {
	t.Helper()
	_, err := chromedp.Run(tab, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(10*time.Second)))
	require.NoError(t, err, what)
}

// text returns the text of the first element selector matches.
func text(t *testing.T, tab context.Context, selector string) string {
	t.Helper()
	s, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS(selector)))
	require.NoError(t, err, "text of "+selector)
	return strings.TrimSpace(s)
}

// eval returns the value of expr in the page.
func eval[T any](t *testing.T, tab context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(tab, chromedp.Evaluate[T](expr))
	require.NoError(t, err, expr)
	return v
}

// screenshot saves the page to $GATEHOUSE_E2E_SCREENSHOTS/name.png when that is set.
func screenshot(t *testing.T, tab context.Context, name string) {
	t.Helper()
	dir := os.Getenv("GATEHOUSE_E2E_SCREENSHOTS")
	if dir == "" {
		return
	}
	b, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, name+".png"), b, 0o644))
}

// rows returns the data-username of the consumer rows shown.
const consumerRows = `Array.from(document.querySelectorAll('#consumer-rows tr[data-username]')).map(r => r.dataset.username).join(' ')`

// usedOf is a page expression for the "used" cell of a limit's usage row.
func usedOf(limit string) string {
	return `(document.querySelector('#usage-rows tr[data-limit="advanced_rate_limiter/` + limit + `"] .usage-used') || {}).textContent`
}

// TestConsole drives the admin console in Chromium as an admin would: the
// key, a consumer and its key (shown once, then working on a protected
// route), search and paging, and a consumer group's limits and usage as
// requests come in.
func TestConsole(t *testing.T) {
	tab, events := browser(t) // first: it skips without Chromium
	s := newSystem(t)
	consoleURL := s.admin.URL + "/admin/ui"

	// The key: a wrong one is refused with a clear message, and not kept.
	run(t, tab, "open the console",
		chromedp.Navigate(consoleURL),
		chromedp.WaitVisible(chromedp.CSS(`#login-key`)),
	)
	require.Equal(t, s.admin.URL+"/admin/ui/", eval[string](t, tab, `location.href`), "/ui redirects to /ui/ under the prefix")
	run(t, tab, "a wrong key",
		chromedp.SendKeys(chromedp.CSS(`#login-key`), "not-the-key"),
		chromedp.Click(chromedp.CSS(`#login-submit`)),
		chromedp.WaitVisible(chromedp.CSS(`#login-error`)),
	)
	require.Contains(t, text(t, tab, `#login-error`), "Wrong admin key")
	require.Empty(t, eval[string](t, tab, `sessionStorage.getItem('gatehouse.adminKey') || ''`))
	run(t, tab, "the right key",
		setValue(`#login-key`, ""),
		chromedp.SendKeys(chromedp.CSS(`#login-key`), adminKey),
		chromedp.Click(chromedp.CSS(`#login-submit`)),
		chromedp.WaitVisible(chromedp.CSS(`#view-consumers`)),
	)
	require.Equal(t, adminKey, eval[string](t, tab, `sessionStorage.getItem('gatehouse.adminKey')`))
	require.Empty(t, eval[string](t, tab, `localStorage.length ? 'kept' : ''`), "nothing in localStorage")

	// Paging with the API's cursor: 23 consumers, 20 a page.
	waitJS(t, tab, "the first page", consumerRows+`.split(' ').length === 20`)
	require.Contains(t, text(t, tab, `#consumers-summary`), "23 consumers")
	run(t, tab, "the next page", chromedp.Click(chromedp.CSS(`#consumers-next`)))
	waitJS(t, tab, "the second page", consumerRows+` === 'user-19 user-20 user-21'`)
	run(t, tab, "back", chromedp.Click(chromedp.CSS(`#consumers-prev`)))
	waitJS(t, tab, "the first page again", consumerRows+`.startsWith('bob user-00 ')`)

	// A consumer in group premium, with a key-auth key made with it.
	run(t, tab, "create alice",
		chromedp.WaitReady(chromedp.CSS(`#new-group option[value="premium"]`)),
		chromedp.SendKeys(chromedp.CSS(`#new-username`), "alice"),
		chromedp.SendKeys(chromedp.CSS(`#new-desc`), "mobile app <b>beta</b>"),
		setValue(`#new-group`, "premium"),
		chromedp.SendKeys(chromedp.CSS(`#new-labels`), "team:mobile"),
		chromedp.Click(chromedp.CSS(`#create-consumer-submit`)),
		chromedp.WaitVisible(chromedp.CSS(`#new-key`)),
		chromedp.WaitReady(chromedp.CSS(`#credential-rows tr[data-credential="default"]`)),
	)
	key, err := chromedp.Run(tab, chromedp.Value(chromedp.CSS(`#new-key-value`)))
	require.NoError(t, err, "read the new key")
	require.Regexp(t, `^ghk_[A-Za-z0-9_-]{43}$`, key)
	require.Contains(t, text(t, tab, `#status`), "Consumer “alice” created.")
	require.Contains(t, text(t, tab, `#consumer-fields`), "mobile app <b>beta</b>", "data is shown as text, not HTML")
	require.Zero(t, eval[int](t, tab, `document.querySelectorAll('#consumer-fields b').length`))
	row := text(t, tab, `#credential-rows tr[data-credential="default"]`)
	require.Contains(t, row, key[:6])
	require.NotContains(t, row, key)
	screenshot(t, tab, "consumer-new-key")

	run(t, tab, "copy it", chromedp.Click(chromedp.CSS(`#copy-key`)), chromedp.WaitVisible(chromedp.CSS(`#copy-result`)))

	// The key works on the protected route, over real HTTP.
	code, body := s.orders(key)
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "orders of alice", body)
	code, _ = s.orders("")
	require.Equal(t, http.StatusUnauthorized, code)

	// Shown once: leaving the page, coming back or reloading shows only the preview.
	run(t, tab, "leave and come back",
		chromedp.Click(chromedp.CSS(`#nav-consumers`)),
		chromedp.WaitVisible(chromedp.CSS(`#view-consumers`)),
		chromedp.Navigate(s.admin.URL+"/admin/ui/#/consumers/alice"),
		chromedp.WaitReady(chromedp.CSS(`#credential-rows tr[data-credential="default"]`)),
	)
	requireKeyGone(t, tab, key)
	run(t, tab, "reload", chromedp.Reload(), chromedp.WaitReady(chromedp.CSS(`#credential-rows tr[data-credential="default"]`)))
	requireKeyGone(t, tab, key)
	require.NotContains(t, s.api(http.MethodGet, "/api/consumers/alice/credentials", "", http.StatusOK), key)

	// A second key, made on the consumer's page.
	run(t, tab, "another key",
		setValue(`#key-name`, ""),
		chromedp.SendKeys(chromedp.CSS(`#key-name`), "laptop"),
		chromedp.Click(chromedp.CSS(`#create-key-submit`)),
		chromedp.WaitVisible(chromedp.CSS(`#new-key`)),
		chromedp.WaitReady(chromedp.CSS(`#credential-rows tr[data-credential="laptop"]`)),
	)
	laptop, err := chromedp.Run(tab, chromedp.Value(chromedp.CSS(`#new-key-value`)))
	require.NoError(t, err, "read it")
	require.NotEqual(t, key, laptop)
	code, _ = s.orders(laptop)
	require.Equal(t, http.StatusOK, code)
	run(t, tab, "hide it", chromedp.Click(chromedp.CSS(`#dismiss-key`)), chromedp.WaitNotVisible(chromedp.CSS(`#new-key`)))
	requireKeyGone(t, tab, laptop)

	// Search: by label (a list query), by exact username.
	run(t, tab, "search by label",
		chromedp.Click(chromedp.CSS(`#nav-consumers`)),
		chromedp.WaitVisible(chromedp.CSS(`#view-consumers`)),
		chromedp.SendKeys(chromedp.CSS(`#search`), "team:mobile"),
		chromedp.Click(chromedp.CSS(`#search-submit`)),
	)
	waitJS(t, tab, "alice alone", consumerRows+` === 'alice'`)
	require.Contains(t, text(t, tab, `#consumers-summary`), "1 consumer with label team:mobile")
	run(t, tab, "search by username",
		setValue(`#search`, "bob"),
		chromedp.Click(chromedp.CSS(`#search-submit`)),
	)
	waitJS(t, tab, "bob alone", consumerRows+` === 'bob'`)
	run(t, tab, "search for nobody",
		setValue(`#search`, "nobody"),
		chromedp.Click(chromedp.CSS(`#search-submit`)),
	)
	waitJS(t, tab, "no one", consumerRows+` === ''`)
	require.Contains(t, text(t, tab, `#consumers-summary`), "No consumer is named “nobody”")

	// The group: its limits, and usage that follows the requests.
	run(t, tab, "open group premium",
		chromedp.Click(chromedp.CSS(`#nav-groups`)),
		chromedp.WaitVisible(chromedp.CSS(`#group-rows tr[data-group="premium"] a`)),
		chromedp.Click(chromedp.CSS(`#group-rows tr[data-group="premium"] a`)),
		chromedp.WaitVisible(chromedp.CSS(`#usage-rows tr[data-limit="advanced_rate_limiter/global"]`)),
	)
	require.Equal(t, "Premium Users", text(t, tab, `#group-title`))
	global := text(t, tab, `#usage-rows tr[data-limit="advanced_rate_limiter/global"]`)
	require.Contains(t, global, "100 per 1m")
	require.Contains(t, text(t, tab, `#usage-rows tr[data-limit="advanced_rate_limiter/per_user"]`), "10 per 1m")
	require.Contains(t, text(t, tab, `#usage-rows tr[data-limit="advanced_rate_limiter/per_user"]`), "give a consumer above")
	require.Contains(t, text(t, tab, `#group-plugins`), `"retry_after": "60"`)
	require.Equal(t, "2", eval[string](t, tab, usedOf("global")), "alice's two requests so far")

	for range 3 {
		code, _ = s.orders(key)
		require.Equal(t, http.StatusOK, code)
	}
	run(t, tab, "refresh", chromedp.Click(chromedp.CSS(`#usage-refresh`)))
	waitJS(t, tab, "global usage 5", usedOf("global")+` === '5'`)
	run(t, tab, "alice's usage",
		chromedp.SendKeys(chromedp.CSS(`#usage-user`), "alice"),
		chromedp.Click(chromedp.CSS(`#usage-refresh`)),
	)
	waitJS(t, tab, "per_user usage 5", usedOf("per_user")+` === '5'`)
	require.Contains(t, eval[string](t, tab, `location.hash`), "user=alice")
	screenshot(t, tab, "group-usage")

	// Automatic refresh picks up requests by itself.
	run(t, tab, "refresh every 5 s", chromedp.Click(chromedp.CSS(`#usage-auto`)))
	for range 2 {
		code, _ = s.orders(key)
		require.Equal(t, http.StatusOK, code)
	}
	waitJS(t, tab, "per_user usage 7 without a click", usedOf("per_user")+` === '7'`)

	// From the consumer's page, its group links to its own usage.
	run(t, tab, "alice's group link",
		chromedp.Navigate(s.admin.URL+"/admin/ui/#/consumers/alice"),
		chromedp.WaitVisible(chromedp.CSS(`#consumer-fields a[href*="premium"]`)),
		chromedp.Click(chromedp.CSS(`#consumer-fields a[href*="premium"]`)),
	)
	waitJS(t, tab, "per_user usage for alice", usedOf("per_user")+` === '7'`)

	// Dot segments in the address never reach another admin path: the
	// console goes back to the consumers instead of fetching "api/".
	run(t, tab, "a dot segment in the address",
		chromedp.Navigate(s.admin.URL+"/admin/ui/#/consumers/.."),
	)
	waitJS(t, tab, "back to the consumers", `location.hash === '#/consumers'`)
	_, requests := events.snapshot()
	for _, u := range requests {
		require.False(t, strings.HasSuffix(u, "/admin/api/") || strings.HasSuffix(u, "/admin/api"), "the page requested %s", u)
	}

	// Forgetting the key asks for it again.
	run(t, tab, "forget the key",
		chromedp.Click(chromedp.CSS(`#signout`)),
		chromedp.WaitVisible(chromedp.CSS(`#login-key`)),
	)
	require.Empty(t, eval[string](t, tab, `sessionStorage.getItem('gatehouse.adminKey') || ''`))

	problems, requests := events.snapshot()
	require.Empty(t, problems, "the page reported errors or policy violations")
	require.NotEmpty(t, requests)
	for _, u := range requests {
		p, err := url.Parse(u)
		require.NoError(t, err)
		require.Equal(t, strings.TrimPrefix(s.admin.URL, "http://"), p.Host, "the page requested %s", u)
	}

	// The policy is enforced: HTML from strings and inline script are refused.
	require.Equal(t, "refused", eval[string](t, tab, `(() => { try { document.body.innerHTML = '<b>x</b>'; return 'allowed'; } catch (e) { return 'refused'; } })()`))
	require.False(t, eval[bool](t, tab, `(() => { try { const s = document.createElement('script'); s.textContent = 'window.__ran = true'; document.body.append(s); } catch (e) {} return window.__ran === true; })()`))
}

// setValue sets the value of the form field selector matches, as a user's
// editing would (an input event follows).
func setValue(selector, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		ok, err := chromedp.Evaluate[bool](`(() => { const e = document.querySelector(`+jsString(selector)+`); if (!e) return false; e.value = `+jsString(value)+
			`; e.dispatchEvent(new Event('input', {bubbles: true})); e.dispatchEvent(new Event('change', {bubbles: true})); return e.value === `+jsString(value)+`; })()`)(ctx, t)
		if err == nil && !ok {
			err = fmt.Errorf("could not set %s to %q", selector, value)
		}
		return err
	})
}

// requireKeyGone checks that the page no longer shows key anywhere.
func requireKeyGone(t *testing.T, tab context.Context, key string) {
	t.Helper()
	run(t, tab, "the key panel is hidden", chromedp.WaitNotVisible(chromedp.CSS(`#new-key`)))
	v, err := chromedp.Run(tab, chromedp.Value(chromedp.CSS(`#new-key-value`)))
	require.NoError(t, err, "its input")
	require.Empty(t, v)
	require.False(t, eval[bool](t, tab, `document.documentElement.outerHTML.includes(`+jsString(key)+`) || document.body.innerText.includes(`+jsString(key)+`)`))
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
