package basicauth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/credential/basicauth"
	"github.com/gatehousehq/gatehouse/validation"
)

const challenge = `Basic realm="basic"`

func TestAuthenticateThroughGateway(t *testing.T) {
	e := newEnv(t, map[string]string{"r": `{}`})
	e.consumer("alice")
	e.consumer("bob")
	e.credential("alice", "main", `{"username":"alice","password":"s3cret"}`)
	e.credential("bob", "colon", `{"username":"bob","password":"pa:ss:w0rd"}`)
	e.credential("bob", "off", `{"username":"bob-off","password":"s3cret"}`, `"enabled":false`)
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	e.credential("bob", "old", `{"username":"bob-old","password":"s3cret"}`, `"expires_at":"`+past+`"`)
	e.credential("bob", "later", `{"username":"bob-later","password":"s3cret"}`, `"expires_at":"`+future+`"`)
	e.refresh()

	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name          string
		authorization string
		consumer      string // want 200 as this consumer
		credential    string
		message       string // want 401 with this message
	}{
		{"right password", basic("alice", "s3cret"), "alice", "main", ""},
		{"password with colons", basic("bob", "pa:ss:w0rd"), "bob", "colon", ""},
		{"lower-case scheme", "basic " + b64("alice:s3cret"), "alice", "main", ""},
		{"upper-case scheme", "BASIC " + b64("alice:s3cret"), "alice", "main", ""},
		{"extra spaces", "Basic   " + b64("alice:s3cret") + " ", "alice", "main", ""},
		{"padding left out", "Basic " + strings.TrimRight(b64("alice:s3cret"), "="), "alice", "main", ""},
		{"not expired yet", basic("bob-later", "s3cret"), "bob", "later", ""},
		{"missing header", "", "", "", basicauth.MsgMissing},
		{"other scheme", "Bearer " + b64("alice:s3cret"), "", "", basicauth.MsgInvalid},
		{"scheme prefix only", "Basically " + b64("alice:s3cret"), "", "", basicauth.MsgInvalid},
		{"no credentials", "Basic", "", "", basicauth.MsgInvalid},
		{"bad base64", "Basic !!!not-base64!!!", "", "", basicauth.MsgInvalid},
		{"url-safe alphabet", "Basic " + base64.URLEncoding.EncodeToString([]byte("a:>>>???")), "", "", basicauth.MsgInvalid},
		{"no colon", "Basic " + b64("alice"), "", "", basicauth.MsgInvalid},
		{"too long", "Basic " + b64("alice:"+strings.Repeat("x", 4000)), "", "", basicauth.MsgInvalid},
		{"unknown user", basic("carol", "s3cret"), "", "", basicauth.MsgInvalidUser},
		{"empty user", basic("", "s3cret"), "", "", basicauth.MsgInvalidUser},
		{"wrong password", basic("alice", "s3creT"), "", "", basicauth.MsgInvalidUser},
		{"empty password", basic("alice", ""), "", "", basicauth.MsgInvalidUser},
		{"username is case-sensitive", basic("Alice", "s3cret"), "", "", basicauth.MsgInvalidUser},
		{"disabled credential", basic("bob-off", "s3cret"), "", "", basicauth.MsgInvalidUser},
		{"expired credential", basic("bob-old", "s3cret"), "", "", basicauth.MsgInvalidUser},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 2 { // the second time may come from the cache
				got := e.call("r", tt.authorization)
				if tt.consumer != "" {
					require.Equal(t, http.StatusOK, got.status, got.message)
					require.Equal(t, tt.consumer, got.seen.Consumer)
					require.Equal(t, tt.consumer, got.seen.Username)
					require.Equal(t, tt.credential, got.seen.Credential)
					require.Equal(t, tt.authorization, got.seen.Authorization, "kept without hide_credentials")
					continue
				}
				require.Equal(t, http.StatusUnauthorized, got.status)
				require.Equal(t, tt.message, got.message)
				require.Equal(t, challenge, got.challenge)
			}
		})
	}
}

func TestCacheSparesBcrypt(t *testing.T) {
	e := newEnv(t, map[string]string{"r": `{}`})
	e.consumer("alice")
	e.credential("alice", "main", `{"username":"alice","password":"s3cret"}`)
	e.refresh()
	e.settle(basic("alice", "s3cret"))
	e.cache.Clear()

	before := e.limiter.Compares()
	require.Equal(t, http.StatusOK, e.call("r", basic("alice", "s3cret")).status)
	require.Equal(t, before+1, e.limiter.Compares(), "the first check pays bcrypt")
	for range 10 {
		require.Equal(t, http.StatusOK, e.call("r", basic("alice", "s3cret")).status)
	}
	require.Equal(t, before+1, e.limiter.Compares(), "repeated checks come from the cache")
	require.Equal(t, 1, e.cache.Len())

	// A failure pays bcrypt once, then is answered from the failure table; an
	// unknown user too (its first check is against the dummy hash), so that
	// it costs what a wrong password costs.
	for range 3 {
		require.Equal(t, http.StatusUnauthorized, e.call("r", basic("alice", "wrong")).status)
		require.Equal(t, http.StatusUnauthorized, e.call("r", basic("nobody", "s3cret")).status)
	}
	require.Equal(t, before+3, e.limiter.Compares())
	require.Equal(t, 1, e.cache.Len(), "failures take no room from successes")
	require.Equal(t, 2, e.cache.FailureLen())

	// The cache never holds the credentials in clear.
	for _, k := range e.cache.Keys() {
		require.NotContains(t, string(k), "s3cret")
		require.NotContains(t, string(k), "alice")
	}
}

func TestDeletedCredentialRefusedAtOnce(t *testing.T) {
	e := newEnv(t, map[string]string{"r": `{}`})
	e.consumer("alice")
	e.credential("alice", "main", `{"username":"alice","password":"s3cret"}`)
	e.refresh()
	require.Equal(t, http.StatusOK, e.call("r", basic("alice", "s3cret")).status)
	require.Equal(t, http.StatusOK, e.call("r", basic("alice", "s3cret")).status) // cached

	e.must(http.StatusNoContent, http.MethodDelete, "/api/consumers/alice/credentials/main", "")
	e.refresh()
	got := e.call("r", basic("alice", "s3cret"))
	require.Equal(t, http.StatusUnauthorized, got.status)
	require.Equal(t, basicauth.MsgInvalidUser, got.message)
}

// TestChangesBeatTheCache follows the store's change feed (no Refresh, which
// rebuilds every match): a cached success stops counting as soon as the view
// applies a change to the credential.
func TestChangesBeatTheCache(t *testing.T) {
	e := newEnv(t, map[string]string{"r": `{}`})
	e.consumer("alice")
	e.credential("alice", "main", `{"username":"alice","password":"s3cret"}`)
	e.refresh()
	old := basic("alice", "s3cret")
	require.Equal(t, http.StatusOK, e.call("r", old).status)
	require.Equal(t, http.StatusOK, e.call("r", old).status) // cached
	require.Equal(t, 1, e.cache.Len())

	// Password changed with PUT.
	e.must(http.StatusOK, http.MethodPut, "/api/consumers/alice/credentials/main",
		`{"name":"main","plugins":{"basic-auth":{"username":"alice","password":"n3w"}}}`)
	e.eventually(old, http.StatusUnauthorized)
	require.Equal(t, basicauth.MsgInvalidUser, e.call("r", old).message)
	require.Equal(t, http.StatusOK, e.call("r", basic("alice", "n3w")).status)

	// Password changed with PATCH (merge patch on what GET shows).
	e.must(http.StatusOK, http.MethodPatch, "/api/consumers/alice/credentials/main",
		`{"plugins":{"basic-auth":{"password":"n3w3r"}}}`)
	e.eventually(basic("alice", "n3w"), http.StatusUnauthorized)
	require.Equal(t, http.StatusOK, e.call("r", basic("alice", "n3w3r")).status)

	// Disabled.
	e.must(http.StatusOK, http.MethodPatch, "/api/consumers/alice/credentials/main", `{"enabled":false}`)
	e.eventually(basic("alice", "n3w3r"), http.StatusUnauthorized)

	// Enabled again, then deleted.
	e.must(http.StatusOK, http.MethodPatch, "/api/consumers/alice/credentials/main", `{"enabled":true}`)
	e.eventually(basic("alice", "n3w3r"), http.StatusOK)
	e.must(http.StatusNoContent, http.MethodDelete, "/api/consumers/alice/credentials/main", "")
	e.eventually(basic("alice", "n3w3r"), http.StatusUnauthorized)

	// Renamed: the old username is gone, the new one keeps the password.
	e.credential("alice", "second", `{"username":"alice","password":"pw"}`)
	e.eventually(basic("alice", "pw"), http.StatusOK)
	e.must(http.StatusOK, http.MethodPatch, "/api/consumers/alice/credentials/second",
		`{"plugins":{"basic-auth":{"username":"alice-2"}}}`)
	e.eventually(basic("alice", "pw"), http.StatusUnauthorized)
	require.Equal(t, http.StatusOK, e.call("r", basic("alice-2", "pw")).status)
}

// eventually waits until a request with authorization answers want: the view
// follows the store asynchronously.
func (e *env) eventually(authorization string, want int) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second) // bcrypt under -race on a loaded machine
	for {
		got := e.call("r", authorization)
		if got.status == want {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("want %d, got %d %s", want, got.status, got.message)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// settle waits until the view has applied every pending change: requests
// with authorization (valid credentials) are answered from the cache several
// times in a row, so their match no longer changes.
func (e *env) settle(authorization string) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second) // bcrypt under -race on a loaded machine
	for streak := 0; streak < 5; {
		before := e.limiter.Compares()
		require.Equal(e.t, http.StatusOK, e.call("r", authorization).status)
		if e.limiter.Compares() == before {
			streak++
		} else {
			streak = 0
		}
		if time.Now().After(deadline) {
			e.t.Fatal("the view never settled")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestCacheFollowsIndex checks the cache's rule on the index directly: an
// entry counts only while the index holds a match of the very credential it
// was verified against.
func TestCacheFollowsIndex(t *testing.T) {
	d := basicauth.Definition{Cost: bcrypt.MinCost, Cache: basicauth.NewCache(10), Limiter: basicauth.NewLimiter(1, basicauth.WithRefusalDelay(0))}
	match := func(password string, mutate func(*credential.Credential)) *credential.Match {
		sealed, err := d.Seal(json.RawMessage(`{"username":"alice","password":"`+password+`"}`), nil)
		require.NoError(t, err)
		secret, err := d.Compile(sealed.Stored)
		require.NoError(t, err)
		cr := &credential.Credential{ID: "c", Consumer: "alice", Enabled: true, Lookup: sealed.Lookup,
			Plugins: map[string]json.RawMessage{basicauth.Name: sealed.Stored}}
		if mutate != nil {
			mutate(cr)
		}
		return &credential.Match{Credential: cr, Secret: secret,
			Identity: consumer.Identity{Consumer: &consumer.Consumer{Username: "alice"}, CredentialID: cr.ID}}
	}
	p, err := d.New(nil)
	require.NoError(t, err)
	a := p.(*basicauth.Authenticator)
	var clock atomic.Int64 // a fake clock: slow bcrypt under load cannot outrun an expiry
	clock.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	basicauth.SetNow(a, now)
	idx := credential.NewIndex()
	authMatch := func(user, pass string) (*credential.Match, error) {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", basic(user, pass))
		return a.Authenticate(r, idx)
	}
	auth := func(user, pass string) error {
		_, err := authMatch(user, pass)
		return err
	}

	m1 := match("one", nil)
	idx.Update(nil, []*credential.Match{m1})
	require.NoError(t, auth("alice", "one"))
	require.Same(t, m1.Credential, d.Cache.Get("alice:one"))

	// A new match of the same credential (its consumer changed, say): still
	// a hit, no bcrypt, answered with the new match.
	before := d.Limiter.Compares()
	m2 := &credential.Match{Credential: m1.Credential, Secret: m1.Secret,
		Identity: consumer.Identity{Consumer: &consumer.Consumer{Username: "alice", Labels: map[string]string{"tier": "gold"}}, CredentialID: "c"}}
	idx.Update([]*credential.Match{m1}, []*credential.Match{m2})
	got, err := authMatch("alice", "one")
	require.NoError(t, err)
	require.Same(t, m2, got, "the current match, not the one verified against")
	require.Equal(t, before, d.Limiter.Compares())

	// The same password on a new Credential (the credential was written:
	// disabled here, then enabled again): a miss each time, one bcrypt each.
	off := m1.Credential.Clone()
	off.Enabled = false
	mOff := &credential.Match{Credential: off, Secret: m1.Secret, Identity: m2.Identity}
	idx.Update([]*credential.Match{m2}, []*credential.Match{mOff})
	require.ErrorIs(t, auth("alice", "one"), credential.ErrUnauthorized)
	require.Equal(t, before+1, d.Limiter.Compares())
	require.ErrorIs(t, auth("alice", "one"), credential.ErrUnauthorized, "still disabled, from the cache")
	require.Equal(t, before+1, d.Limiter.Compares())
	on := off.Clone()
	on.Enabled = true
	mOn := &credential.Match{Credential: on, Secret: m1.Secret, Identity: m2.Identity}
	idx.Update([]*credential.Match{mOff}, []*credential.Match{mOn})
	require.NoError(t, auth("alice", "one"))
	require.Equal(t, before+2, d.Limiter.Compares())

	// New password: the old one fails, its success is dropped and its
	// failure remembered against the new credential.
	m3 := match("two", nil)
	idx.Update([]*credential.Match{mOn}, []*credential.Match{m3})
	require.ErrorIs(t, auth("alice", "one"), credential.ErrUnauthorized)
	require.Nil(t, d.Cache.Get("alice:one"))
	failed, ok := d.Cache.GetFailure("alice:one")
	require.True(t, ok)
	require.Same(t, m3.Credential, failed)
	require.NoError(t, auth("alice", "two"))

	// Expiry is checked on every hit, not only when the entry was made.
	soon := now().Add(time.Minute)
	m4 := match("three", func(c *credential.Credential) { c.ExpiresAt = &soon })
	idx.Update([]*credential.Match{m3}, []*credential.Match{m4})
	require.NoError(t, auth("alice", "three"))
	require.NotNil(t, d.Cache.Get("alice:three"))
	clock.Add(int64(time.Minute))
	require.ErrorIs(t, auth("alice", "three"), credential.ErrUnauthorized)

	// Removed from the index: nothing authenticates.
	idx.Update([]*credential.Match{m4}, nil)
	require.ErrorIs(t, auth("alice", "three"), credential.ErrUnauthorized)

	// A match built without the Compiler still works (read from the stored
	// settings).
	m5 := match("five", nil)
	m5.Secret = nil
	idx.Update(nil, []*credential.Match{m5})
	require.NoError(t, auth("alice", "five"))
}

func TestUsernameUniqueAcrossConsumers(t *testing.T) {
	e := newEnv(t, map[string]string{"r": `{}`})
	e.consumer("alice")
	e.consumer("bob")
	e.credential("alice", "main", `{"username":"shared","password":"one"}`)
	w := e.must(http.StatusConflict, http.MethodPost, "/api/consumers/bob/credentials",
		`{"name":"main","plugins":{"basic-auth":{"username":"shared","password":"two"}}}`)
	require.NotContains(t, w.Body.String(), "two")
	// Within one consumer too.
	e.must(http.StatusConflict, http.MethodPost, "/api/consumers/alice/credentials",
		`{"name":"other","plugins":{"basic-auth":{"username":"shared","password":"two"}}}`)
	// Renaming onto a taken username is refused as well.
	e.credential("bob", "b", `{"username":"bob","password":"two"}`)
	e.must(http.StatusConflict, http.MethodPatch, "/api/consumers/bob/credentials/b",
		`{"plugins":{"basic-auth":{"username":"shared"}}}`)
	e.refresh()
	require.Equal(t, "alice", e.call("r", basic("shared", "one")).seen.Consumer)
	require.Equal(t, http.StatusUnauthorized, e.call("r", basic("shared", "two")).status)
}

func TestPasswordNeverStoredOrShown(t *testing.T) {
	e := newEnv(t, map[string]string{"r": `{}`})
	e.consumer("alice")
	const password = "correct-horse-battery-staple"
	w := e.must(http.StatusCreated, http.MethodPost, "/api/consumers/alice/credentials",
		`{"id":"main","name":"main","plugins":{"basic-auth":{"username":"alice","password":"`+password+`"}}}`)
	require.NotContains(t, w.Body.String(), password, "not even in the response to the create")
	require.NotContains(t, w.Body.String(), "$2")
	require.JSONEq(t, `{"username":"alice"}`, pluginOf(t, w.Body.Bytes()))

	w = e.must(http.StatusOK, http.MethodGet, "/api/consumers/alice/credentials/main", "")
	require.JSONEq(t, `{"username":"alice"}`, pluginOf(t, w.Body.Bytes()))
	w = e.must(http.StatusOK, http.MethodGet, "/api/consumers/alice/credentials", "")
	require.NotContains(t, w.Body.String(), password)
	require.NotContains(t, w.Body.String(), "password")

	// The store keeps the username and a bcrypt hash: nothing else.
	c, err := e.gw.Store().GetCredential(context.Background(), "alice", "main")
	require.NoError(t, err)
	require.Equal(t, "basic-auth:alice", c.Lookup)
	var st map[string]string
	require.NoError(t, json.Unmarshal(c.Plugins[basicauth.Name], &st))
	require.Len(t, st, 2, string(c.Plugins[basicauth.Name]))
	require.Equal(t, "alice", st["username"])
	cost, err := bcrypt.Cost([]byte(st["password_hash"]))
	require.NoError(t, err, "a bcrypt hash")
	require.Equal(t, bcrypt.MinCost, cost)
	require.NotContains(t, string(c.Plugins[basicauth.Name]), password)
}

func pluginOf(t *testing.T, body []byte) string {
	t.Helper()
	var c struct {
		Plugins map[string]json.RawMessage `json:"plugins"`
	}
	require.NoError(t, json.Unmarshal(body, &c))
	return string(c.Plugins[basicauth.Name])
}

func TestGetResultSentBackKeepsPassword(t *testing.T) {
	e := newEnv(t, map[string]string{"r": `{}`})
	e.consumer("alice")
	e.credential("alice", "main", `{"username":"alice","password":"s3cret"}`)
	got := e.must(http.StatusOK, http.MethodGet, "/api/consumers/alice/credentials/main", "").Body.String()
	e.must(http.StatusOK, http.MethodPut, "/api/consumers/alice/credentials/main", got)
	e.refresh()
	require.Equal(t, http.StatusOK, e.call("r", basic("alice", "s3cret")).status)

	// A PUT that renames without a password keeps the hash too.
	e.must(http.StatusOK, http.MethodPut, "/api/consumers/alice/credentials/main",
		`{"name":"main","plugins":{"basic-auth":{"username":"alice-renamed"}}}`)
	e.refresh()
	require.Equal(t, http.StatusOK, e.call("r", basic("alice-renamed", "s3cret")).status)
	require.Equal(t, http.StatusUnauthorized, e.call("r", basic("alice", "s3cret")).status)
}

func TestCredentialValidation(t *testing.T) {
	e := newEnv(t, map[string]string{"r": `{}`})
	e.consumer("alice")
	for _, tt := range []struct {
		name, settings string
		fields         []string
	}{
		{"no password on create", `{"username":"alice"}`, []string{"password"}},
		{"empty password", `{"username":"alice","password":""}`, []string{"password"}},
		{"password too long", `{"username":"alice","password":"` + strings.Repeat("p", 1025) + `"}`, []string{"password"}},
		{"no username", `{"password":"x"}`, []string{"username"}},
		{"username with colon", `{"username":"a:b","password":"x"}`, []string{"username"}},
		{"username with control", `{"username":"a\u0007b","password":"x"}`, []string{"username"}},
		{"username too long", `{"username":"` + strings.Repeat("u", 513) + `","password":"x"}`, []string{"username"}},
		{"both", `{}`, []string{"username", "password"}},
		{"hash is not accepted", `{"username":"alice","password_hash":"$2a$04$abc"}`, []string{"password_hash"}},
		{"wrong type", `{"username":"alice","password":1}`, []string{"password"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := e.must(http.StatusBadRequest, http.MethodPost, "/api/consumers/alice/credentials",
				`{"name":"x","plugins":{"basic-auth":`+tt.settings+`}}`)
			var body struct{ Fields map[string]string }
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
			for _, f := range tt.fields {
				require.Contains(t, body.Fields, "plugins.basic-auth."+f, w.Body.String())
			}
		})
	}
	// Limits are inclusive; usernames count characters, passwords bytes.
	e.credential("alice", "max", `{"username":"`+strings.Repeat("é", 512)+`","password":"`+strings.Repeat("p", 1024)+`"}`)
	e.refresh()
	require.Equal(t, http.StatusOK, e.call("r", basic(strings.Repeat("é", 512), strings.Repeat("p", 1024))).status)
	require.Equal(t, http.StatusUnauthorized, e.call("r", basic(strings.Repeat("é", 512), strings.Repeat("p", 1023))).status)
}

func TestHideCredentials(t *testing.T) {
	e := newEnv(t, map[string]string{"hide": `{"hide_credentials":true}`, "keep": `{}`})
	e.consumer("alice")
	e.credential("alice", "main", `{"username":"alice","password":"s3cret"}`)
	e.refresh()
	got := e.call("hide", basic("alice", "s3cret"))
	require.Equal(t, http.StatusOK, got.status)
	require.Equal(t, "alice", got.seen.Consumer)
	require.Empty(t, got.seen.Authorization)
	got = e.call("keep", basic("alice", "s3cret"))
	require.Equal(t, basic("alice", "s3cret"), got.seen.Authorization)
}

func TestAnonymousConsumer(t *testing.T) {
	e := newEnv(t, map[string]string{
		"anon":  `{"anonymous_consumer":"guest"}`,
		"ghost": `{"anonymous_consumer":"nobody"}`,
	})
	e.consumer("alice")
	e.consumer("guest")
	e.credential("alice", "main", `{"username":"alice","password":"s3cret"}`)
	e.refresh()
	for _, authz := range []string{"", "Bearer x", basic("alice", "wrong"), basic("carol", "x")} {
		got := e.call("anon", authz)
		require.Equal(t, http.StatusOK, got.status, authz)
		require.Equal(t, "guest", got.seen.Consumer)
		require.Equal(t, "true", got.seen.Anonymous)
	}
	got := e.call("anon", basic("alice", "s3cret"))
	require.Equal(t, "alice", got.seen.Consumer)
	require.Empty(t, got.seen.Anonymous)

	got = e.call("ghost", "")
	require.Equal(t, http.StatusUnauthorized, got.status)
	require.Equal(t, basicauth.MsgInvalidUser, got.message)
}

func TestRealm(t *testing.T) {
	e := newEnv(t, map[string]string{"r": `{"realm":"orders api"}`})
	got := e.call("r", "")
	require.Equal(t, http.StatusUnauthorized, got.status)
	require.Equal(t, basicauth.MsgMissing, got.message)
	require.Equal(t, `Basic realm="orders api"`, got.challenge)

	e.must(http.StatusBadRequest, http.MethodPost, "/api/routes", `{"id":"bad","plugins":{"basic-auth":{"realm":"a\"b"}}}`)
	e.must(http.StatusBadRequest, http.MethodPost, "/api/routes", `{"id":"bad","plugins":{"basic-auth":{"hide":true}}}`)
}

func TestRouteSettingsValidation(t *testing.T) {
	for _, tt := range []struct{ settings, field string }{
		{`{"realm":"a\"b"}`, "realm"},
		{`{"realm":"a\nb"}`, "realm"},
		{`{"hide_credentials":"yes"}`, "hide_credentials"},
		{`{"anonymous_consumer":1}`, "anonymous_consumer"},
		{`{"anonymous_consumer":"no spaces"}`, "anonymous_consumer"},
		{`{"nope":1}`, "nope"},
	} {
		_, err := basicauth.Definition{}.New(json.RawMessage(tt.settings))
		require.ErrorIs(t, err, validation.ErrInvalid, tt.settings)
		var ve *validation.Error
		require.True(t, errors.As(err, &ve))
		require.Contains(t, ve.Fields, tt.field, tt.settings)
	}
}

func TestSeal(t *testing.T) {
	d := basicauth.Definition{Cost: bcrypt.MinCost}
	s, err := d.Seal(json.RawMessage(`{"username":"alice","password":"s3cret"}`), nil)
	require.NoError(t, err)
	require.Equal(t, "basic-auth:alice", s.Lookup)
	require.Nil(t, s.Reveal, "no generated secret to reveal")
	require.NotContains(t, string(s.Stored), "s3cret")
	require.JSONEq(t, `{"username":"alice"}`, string(d.Redact(s.Stored)))

	// Two seals of one password give different hashes (salted).
	s2, err := d.Seal(json.RawMessage(`{"username":"alice","password":"s3cret"}`), nil)
	require.NoError(t, err)
	require.NotEqual(t, string(s.Stored), string(s2.Stored))
	require.Equal(t, s.Lookup, s2.Lookup)

	// A replacement without a password keeps the hash, under a new username too.
	k, err := d.Seal(json.RawMessage(`{"username":"alice2"}`), s.Stored)
	require.NoError(t, err)
	require.Equal(t, "basic-auth:alice2", k.Lookup)
	h1, err := d.Compile(s.Stored)
	require.NoError(t, err)
	h2, err := d.Compile(k.Stored)
	require.NoError(t, err)
	require.Equal(t, h1, h2)

	// The default cost is 10.
	def, err := basicauth.Definition{}.Seal(json.RawMessage(`{"username":"a","password":"b"}`), nil)
	require.NoError(t, err)
	hash, err := basicauth.Definition{}.Compile(def.Stored)
	require.NoError(t, err)
	cost, err := bcrypt.Cost(hash.([]byte))
	require.NoError(t, err)
	require.Equal(t, basicauth.DefaultCost, cost)

	// A cost bcrypt cannot do fails, without a word of the password.
	_, err = basicauth.Definition{Cost: bcrypt.MaxCost + 1}.Seal(json.RawMessage(`{"username":"a","password":"s3cret"}`), nil)
	require.Error(t, err)
	require.NotContains(t, err.Error(), "s3cret")

	// Compile refuses stored settings without a bcrypt hash.
	for _, bad := range []string{`{"username":"a"}`, `{"username":"a","password_hash":"plain"}`, `[`} {
		_, err := d.Compile(json.RawMessage(bad))
		require.Error(t, err, bad)
	}
}
