package basicauth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/admin"
	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/credential/basicauth"
	"github.com/gatehousehq/gatehouse/store/memory"
)

// holder is a bcrypt comparison a test can stop inside, holding the
// limiter's slot until it says so.
type holder struct {
	armed   atomic.Bool
	entered chan struct{}
	release chan struct{}
}

// newHolder installs a holder on l: while armed, the next comparison stops,
// its slot taken, until release is closed; every comparison is the real
// bcrypt.
func newHolder(l *basicauth.Limiter) *holder {
	h := &holder{entered: make(chan struct{}), release: make(chan struct{})}
	basicauth.SetHook(l, func() func() {
		if h.armed.CompareAndSwap(true, false) {
			close(h.entered)
			<-h.release
		}
		return func() {}
	})
	return h
}

// send serves one request and returns the recorder; safe off the test
// goroutine.
func (e *env) send(routeID, authorization string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if authorization != "" {
		r.Header.Set("Authorization", authorization)
	}
	w := httptest.NewRecorder()
	e.gw.Protect(routeID, echo).ServeHTTP(w, r)
	return w
}

// immediately serves a request and fails if it does not come back on its own
// while a comparison is held: a queued request would wait for the release.
func (e *env) immediately(routeID, authorization string) *httptest.ResponseRecorder {
	e.t.Helper()
	done := make(chan *httptest.ResponseRecorder, 1)
	go func() { done <- e.send(routeID, authorization) }()
	select {
	case w := <-done:
		return w
	case <-time.After(10 * time.Second):
		e.t.Fatalf("%s: no answer while the limiter is full: queued", authorization)
		return nil
	}
}

func TestLimitFullAnswers503(t *testing.T) {
	l := basicauth.NewLimiter(1, basicauth.WithRefusalDelay(0))
	h := newHolder(l)
	e := newEnv(t, map[string]string{"r": `{}`, "anon": `{"anonymous_consumer":"guest"}`}, l)
	e.consumer("alice")
	e.consumer("guest")
	e.credential("alice", "main", `{"username":"alice","password":"s3cret"}`)
	e.refresh()
	e.settle(basic("alice", "s3cret"))
	require.Equal(t, http.StatusUnauthorized, e.call("r", basic("alice", "remembered")).status)

	// One request holds the only slot.
	h.armed.Store(true)
	held := make(chan *httptest.ResponseRecorder, 1)
	go func() { held <- e.send("r", basic("alice", "held")) }()
	<-h.entered
	compares, refused := l.Compares(), l.Refused()

	for _, tt := range []struct {
		name, route, authorization string
	}{
		{"wrong password", "r", basic("alice", "wrong")},
		{"unknown user", "r", basic("nobody", "wrong")},
		{"anonymous_consumer does not apply", "anon", basic("alice", "wrong")},
	} {
		// No subtests: immediately fails the test from its own goroutine.
		w := e.immediately(tt.route, tt.authorization)
		require.Equal(t, http.StatusServiceUnavailable, w.Code, tt.name)
		require.Equal(t, "1", w.Header().Get("Retry-After"), tt.name)
		require.Equal(t, "application/json", w.Header().Get("Content-Type"), tt.name)
		require.Empty(t, w.Header().Values("WWW-Authenticate"), "%s: not a challenge", tt.name)
		require.JSONEq(t, `{"message":"`+basicauth.MsgBusy+`"}`, w.Body.String(), tt.name)
	}
	require.Equal(t, refused+3, l.Refused())

	// What the cache answers needs no slot.
	w := e.immediately("r", basic("alice", "s3cret"))
	require.Equal(t, http.StatusOK, w.Code, "a remembered success")
	w = e.immediately("r", basic("alice", "remembered"))
	require.Equal(t, http.StatusUnauthorized, w.Code, "a remembered failure")
	require.Equal(t, refused+3, l.Refused())
	require.Equal(t, compares, l.Compares(), "no comparison while the slot is held")

	close(h.release)
	require.Equal(t, http.StatusUnauthorized, (<-held).Code)

	// A 503 is not remembered: once the slot is free the pair is checked.
	got := e.call("r", basic("alice", "wrong"))
	require.Equal(t, http.StatusUnauthorized, got.status)
	require.Equal(t, basicauth.MsgInvalidUser, got.message)
	require.Equal(t, compares+1, l.Compares())
}

func TestFailureCacheSparesBcrypt(t *testing.T) {
	e := newEnv(t, map[string]string{"r": `{}`})
	e.consumer("alice")
	e.credential("alice", "main", `{"username":"alice","password":"s3cret"}`)
	e.refresh()
	e.settle(basic("alice", "s3cret"))

	for _, tt := range []struct{ name, authorization string }{
		{"wrong password", basic("alice", "wrong")},
		{"unknown user", basic("nobody", "s3cret")},
		{"empty password", basic("alice", "")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := e.limiter.Compares()
			for range 5 {
				got := e.call("r", tt.authorization)
				require.Equal(t, http.StatusUnauthorized, got.status)
				require.Equal(t, basicauth.MsgInvalidUser, got.message)
				require.Equal(t, challenge, got.challenge)
			}
			require.Equal(t, before+1, e.limiter.Compares(), "bcrypt once, then the cache")
		})
	}
	require.Equal(t, 3, e.cache.FailureLen())
	require.Equal(t, 1, e.cache.Len())
	for _, k := range e.cache.Keys() {
		require.NotContains(t, string(k), "wrong")
		require.NotContains(t, string(k), "nobody")
	}
}

// TestNoEnumeration checks that, from outside, an unknown username and a
// wrong password cannot be told apart: the same status, headers and body, and
// the same cost (bcrypt the first time, the cache after).
func TestNoEnumeration(t *testing.T) {
	e := newEnv(t, map[string]string{"r": `{}`, "realm": `{"realm":"orders"}`})
	e.consumer("alice")
	e.credential("alice", "main", `{"username":"alice","password":"s3cret"}`)
	e.refresh()
	e.settle(basic("alice", "s3cret"))
	for _, route := range []string{"r", "realm"} {
		t.Run(route, func(t *testing.T) {
			for attempt := range 3 {
				before := e.limiter.Compares()
				wrong := e.send(route, basic("alice", "guess-"+route))
				costWrong := e.limiter.Compares() - before
				before = e.limiter.Compares()
				unknown := e.send(route, basic("mallory", "guess-"+route))
				costUnknown := e.limiter.Compares() - before

				require.Equal(t, http.StatusUnauthorized, wrong.Code)
				require.Equal(t, wrong.Code, unknown.Code)
				require.Equal(t, wrong.Header(), unknown.Header())
				require.Equal(t, wrong.Body.String(), unknown.Body.String())
				want := uint64(0)
				if attempt == 0 {
					want = 1
				}
				require.Equal(t, want, costWrong, "attempt %d", attempt)
				require.Equal(t, want, costUnknown, "attempt %d", attempt)
			}
		})
	}
}

// TestFailureCacheFollowsChanges goes through the store's change feed: a
// failure remembered against a credential, or for a username nobody had,
// stops counting as soon as the view applies the change.
func TestFailureCacheFollowsChanges(t *testing.T) {
	e := newEnv(t, map[string]string{"r": `{}`})
	e.consumer("alice")
	e.consumer("bob")
	e.credential("alice", "main", `{"username":"alice","password":"s3cret"}`)
	e.refresh()

	// The password an admin is about to set fails, and is remembered.
	for range 2 {
		require.Equal(t, http.StatusUnauthorized, e.call("r", basic("alice", "n3w")).status)
	}
	e.must(http.StatusOK, http.MethodPatch, "/api/consumers/alice/credentials/main",
		`{"plugins":{"basic-auth":{"password":"n3w"}}}`)
	e.eventually(basic("alice", "n3w"), http.StatusOK)

	// A username nobody has, refused and remembered, then given to bob.
	for range 2 {
		require.Equal(t, http.StatusUnauthorized, e.call("r", basic("bobby", "pw")).status)
	}
	e.credential("bob", "main", `{"username":"bobby","password":"pw"}`)
	e.eventually(basic("bobby", "pw"), http.StatusOK)
	require.Equal(t, "bob", e.call("r", basic("bobby", "pw")).seen.Consumer)
}

// TestFailureCacheFollowsIndex checks the failure table's rule on the index
// directly.
func TestFailureCacheFollowsIndex(t *testing.T) {
	d := basicauth.Definition{Cost: bcrypt.MinCost, Cache: basicauth.NewCache(10), Limiter: basicauth.NewLimiter(1, basicauth.WithRefusalDelay(0))}
	p, err := d.New(nil)
	require.NoError(t, err)
	a := p.(*basicauth.Authenticator)
	idx := credential.NewIndex()
	match := func(user, password string) *credential.Match {
		sealed, err := d.Seal(json.RawMessage(`{"username":"`+user+`","password":"`+password+`"}`), nil)
		require.NoError(t, err)
		secret, err := d.Compile(sealed.Stored)
		require.NoError(t, err)
		cr := &credential.Credential{ID: user, Consumer: user, Enabled: true, Lookup: sealed.Lookup,
			Plugins: map[string]json.RawMessage{basicauth.Name: sealed.Stored}}
		return &credential.Match{Credential: cr, Secret: secret,
			Identity: consumer.Identity{Consumer: &consumer.Consumer{Username: user}, CredentialID: cr.ID}}
	}
	auth := func(user, pass string) (*credential.Match, error) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", basic(user, pass))
		return a.Authenticate(r, idx)
	}
	// cost sends a request and returns the comparisons it made.
	cost := func(user, pass string, ok bool) uint64 {
		t.Helper()
		before := d.Limiter.Compares()
		_, err := auth(user, pass)
		if ok {
			require.NoError(t, err)
		} else {
			require.ErrorIs(t, err, credential.ErrUnauthorized)
		}
		return d.Limiter.Compares() - before
	}

	m1 := match("alice", "one")
	idx.Update(nil, []*credential.Match{m1})
	require.Equal(t, uint64(1), cost("alice", "two", false))
	require.Equal(t, uint64(0), cost("alice", "two", false))
	failed, ok := d.Cache.GetFailure("alice:two")
	require.True(t, ok)
	require.Same(t, m1.Credential, failed)

	// A new match of the same credential keeps the failure.
	m1b := &credential.Match{Credential: m1.Credential, Secret: m1.Secret, Identity: m1.Identity}
	idx.Update([]*credential.Match{m1}, []*credential.Match{m1b})
	require.Equal(t, uint64(0), cost("alice", "two", false))

	// The password changed to it: tried for real at once, and it succeeds.
	m2 := match("alice", "two")
	idx.Update([]*credential.Match{m1b}, []*credential.Match{m2})
	require.Equal(t, uint64(1), cost("alice", "two", true))
	_, ok = d.Cache.GetFailure("alice:two")
	require.False(t, ok, "the failure is dropped when the pair succeeds")
	require.Same(t, m2.Credential, d.Cache.Get("alice:two"))

	// An unknown username is remembered until a credential takes it.
	require.Equal(t, uint64(1), cost("bob", "pw", false))
	require.Equal(t, uint64(0), cost("bob", "pw", false))
	failed, ok = d.Cache.GetFailure("bob:pw")
	require.True(t, ok)
	require.Nil(t, failed, "remembered against no credential")
	mb := match("bob", "pw")
	idx.Update(nil, []*credential.Match{mb})
	m, err := auth("bob", "pw")
	require.NoError(t, err)
	require.Same(t, mb, m)
	// A wrong password of the new credential is a miss too: the unknown
	// user's failure no longer counts.
	require.Equal(t, uint64(1), cost("bob", "other", false))
}

// TestFailureFloodKeepsSuccesses checks the bounds: distinct failing pairs
// fill the failure table to its size and no further, and never evict a
// remembered success.
func TestFailureFloodKeepsSuccesses(t *testing.T) {
	cache := basicauth.NewCache(4, basicauth.WithFailureCacheSize(3))
	require.Equal(t, 4, cache.Cap())
	require.Equal(t, 3, cache.FailureCap())
	d := basicauth.Definition{Cost: bcrypt.MinCost, Cache: cache, Limiter: basicauth.NewLimiter(1, basicauth.WithRefusalDelay(0))}
	p, err := d.New(nil)
	require.NoError(t, err)
	a := p.(*basicauth.Authenticator)
	idx := credential.NewIndex()
	for _, user := range []string{"alice", "bob"} {
		sealed, err := d.Seal(json.RawMessage(`{"username":"`+user+`","password":"pw"}`), nil)
		require.NoError(t, err)
		secret, err := d.Compile(sealed.Stored)
		require.NoError(t, err)
		idx.Update(nil, []*credential.Match{{Secret: secret, Credential: &credential.Credential{
			ID: user, Enabled: true, Lookup: sealed.Lookup, Plugins: map[string]json.RawMessage{basicauth.Name: sealed.Stored}}}})
	}
	auth := func(user, pass string) error {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", basic(user, pass))
		_, err := a.Authenticate(r, idx)
		return err
	}
	require.NoError(t, auth("alice", "pw"))
	require.NoError(t, auth("bob", "pw"))
	for i := range 40 {
		user := []string{"alice", "bob", "nobody"}[i%3]
		require.ErrorIs(t, auth(user, fmt.Sprintf("guess-%d", i)), credential.ErrUnauthorized)
		require.LessOrEqual(t, cache.FailureLen(), 3)
	}
	require.Equal(t, 3, cache.FailureLen())
	require.Equal(t, 2, cache.Len())
	before := d.Limiter.Compares()
	require.NoError(t, auth("alice", "pw"))
	require.NoError(t, auth("bob", "pw"))
	require.Equal(t, before, d.Limiter.Compares(), "successes still answered by the cache")
}

// TestLimiterBoundsConcurrency sends many distinct failing pairs at once:
// never more comparisons run together than the limiter has slots, and every
// request is either checked (401) or refused at once (503).
func TestLimiterBoundsConcurrency(t *testing.T) {
	l := basicauth.NewLimiter(2, basicauth.WithRefusalDelay(0))
	var inFlight, most atomic.Int32
	basicauth.SetHook(l, func() func() {
		n := inFlight.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		return func() { inFlight.Add(-1) }
	})
	d := basicauth.Definition{Cost: bcrypt.MinCost, Cache: basicauth.NewCache(0), Limiter: l}
	p, err := d.New(nil)
	require.NoError(t, err)
	a := p.(*basicauth.Authenticator)
	idx := credential.NewIndex()
	sealed, err := d.Seal(json.RawMessage(`{"username":"alice","password":"pw"}`), nil)
	require.NoError(t, err)
	secret, err := d.Compile(sealed.Stored)
	require.NoError(t, err)
	idx.Update(nil, []*credential.Match{{Secret: secret, Credential: &credential.Credential{
		ID: "c", Enabled: true, Lookup: sealed.Lookup, Plugins: map[string]json.RawMessage{basicauth.Name: sealed.Stored}}}})

	const goroutines, each = 16, 4
	var wg sync.WaitGroup
	var unauthorized, unavailable atomic.Int32
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				user := []string{"alice", "nobody"}[i%2]
				r.Header.Set("Authorization", basic(user, fmt.Sprintf("guess-%d-%d", g, i)))
				_, err := a.Authenticate(r, idx)
				ae, ok := err.(*credential.AuthError)
				if !ok {
					t.Errorf("want an AuthError, got %v", err)
					continue
				}
				switch ae.Status {
				case http.StatusUnauthorized:
					unauthorized.Add(1)
				case http.StatusServiceUnavailable:
					unavailable.Add(1)
				default:
					t.Errorf("status %d", ae.Status)
				}
			}
		})
	}
	wg.Wait()
	require.LessOrEqual(t, most.Load(), int32(2))
	require.Equal(t, int32(goroutines*each), unauthorized.Load()+unavailable.Load())
	require.Equal(t, uint64(unauthorized.Load()), l.Compares())
	require.Equal(t, uint64(unavailable.Load()), l.Refused())
}

func TestDefaultLimit(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, tt := range []struct{ procs, want int }{{1, 1}, {2, 1}, {3, 1}, {4, 2}, {8, 4}} {
		runtime.GOMAXPROCS(tt.procs)
		require.Equal(t, tt.want, basicauth.DefaultLimit(), "GOMAXPROCS %d", tt.procs)
		require.Equal(t, tt.want, basicauth.NewLimiter(0, basicauth.WithRefusalDelay(0)).Cap())
	}
	require.Equal(t, 3, basicauth.NewLimiter(3, basicauth.WithRefusalDelay(0)).Cap())
	require.Equal(t, basicauth.DefaultFailureCacheSize, basicauth.NewCache(0).FailureCap())
}

// TestWithPasswordChecks checks that the gateway option reaches the built-in
// basic-auth plugin (default cost, 10: a few real bcrypt checks).
func TestWithPasswordChecks(t *testing.T) {
	ctx := context.Background()
	l := basicauth.NewLimiter(1, basicauth.WithRefusalDelay(0))
	c := basicauth.NewCache(0, basicauth.WithFailureCacheSize(100))
	gw, err := gatehouse.New(ctx, memory.New(), gatehouse.WithPasswordChecks(l, c),
		gatehouse.WithRoutes(basicRoute("r", `{}`)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = gw.Close() })
	e := &env{t: t, gw: gw, adm: gw.AdminHandler(admin.WithKey(adminKey)), cache: c, limiter: l}
	e.consumer("alice")
	e.credential("alice", "main", `{"username":"alice","password":"s3cret"}`)
	e.refresh()
	e.settle(basic("alice", "s3cret"))
	require.Equal(t, 1, c.Len())

	before := l.Compares()
	for range 2 {
		require.Equal(t, http.StatusUnauthorized, e.call("r", basic("alice", "wrong")).status)
	}
	require.Equal(t, before+1, l.Compares())
	require.Equal(t, 1, c.FailureLen())
	require.Equal(t, 100, c.FailureCap())
}
