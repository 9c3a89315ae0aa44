package keyauth_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/credential/keyauth"
	"github.com/gatehousehq/gatehouse/validation"
)

// finder holds sealed credentials, as the gateway's view would.
type finder map[string]*credential.Match

// index returns the credential index the gateway would build from f.
func (f finder) index() *credential.Index {
	x := credential.NewIndex()
	for _, m := range f {
		x.Update(nil, []*credential.Match{m})
	}
	return x
}

func (f finder) add(t *testing.T, username, key string, mutate func(*credential.Credential)) {
	t.Helper()
	sealed, err := keyauth.Definition{}.Seal(json.RawMessage(`{"key":"`+key+`"}`), nil)
	require.NoError(t, err)
	cr := &credential.Credential{ID: username + "-cred", Consumer: username, Name: "k", Enabled: true, Lookup: sealed.Lookup,
		Plugins: map[string]json.RawMessage{keyauth.Name: sealed.Stored}}
	if mutate != nil {
		mutate(cr)
	}
	f[cr.Lookup] = &credential.Match{Credential: cr, Identity: consumer.Identity{Consumer: &consumer.Consumer{Username: username}, CredentialID: cr.ID}}
}

func newAuth(t *testing.T, settings string) *keyauth.Authenticator {
	t.Helper()
	p, err := keyauth.Definition{}.New(json.RawMessage(settings))
	require.NoError(t, err)
	return p.(*keyauth.Authenticator)
}

func TestAuthenticate(t *testing.T) {
	past := time.Now().Add(-time.Hour)
	future := time.Now().Add(time.Hour)
	f := finder{}
	f.add(t, "alice", "alice-secret-key", nil)
	f.add(t, "off", "disabled-key-1", func(c *credential.Credential) { c.Enabled = false })
	f.add(t, "old", "expired-key-1", func(c *credential.Credential) { c.ExpiresAt = &past })
	f.add(t, "later", "future-key-1", func(c *credential.Credential) { c.ExpiresAt = &future })

	tests := []struct {
		name     string
		settings string
		prepare  func(r *http.Request)
		user     string
		msg      string
		missing  bool
	}{
		{"header", `{}`, func(r *http.Request) { r.Header.Set("apikey", "alice-secret-key") }, "alice", "", false},
		{"bearer", `{}`, func(r *http.Request) { r.Header.Set("Authorization", "Bearer alice-secret-key") }, "alice", "", false},
		{"bearer lower case", `{}`, func(r *http.Request) { r.Header.Set("Authorization", "bearer  alice-secret-key ") }, "alice", "", false},
		{"query", `{}`, func(r *http.Request) { r.URL.RawQuery = "a=1&apikey=alice-secret-key" }, "alice", "", false},
		{"escaped query", `{}`, func(r *http.Request) { r.URL.RawQuery = "apikey=alice%2Dsecret%2Dkey" }, "alice", "", false},
		{"custom header", `{"header":"X-Key"}`, func(r *http.Request) { r.Header.Set("x-key", "alice-secret-key") }, "alice", "", false},
		{"custom header ignores default", `{"header":"X-Key"}`, func(r *http.Request) { r.Header.Set("apikey", "alice-secret-key") }, "", keyauth.MsgMissing, true},
		{"custom query", `{"query":"token"}`, func(r *http.Request) { r.URL.RawQuery = "token=alice-secret-key" }, "alice", "", false},
		{"not expired yet", `{}`, func(r *http.Request) { r.Header.Set("apikey", "future-key-1") }, "later", "", false},
		{"missing", `{}`, func(r *http.Request) {}, "", keyauth.MsgMissing, true},
		{"empty header", `{}`, func(r *http.Request) { r.Header.Set("apikey", "") }, "", keyauth.MsgMissing, true},
		{"basic is not a key", `{}`, func(r *http.Request) { r.Header.Set("Authorization", "Basic YTpi") }, "", keyauth.MsgMissing, true},
		{"wrong key", `{}`, func(r *http.Request) { r.Header.Set("apikey", "alice-secret-kez") }, "", keyauth.MsgInvalid, false},
		{"disabled", `{}`, func(r *http.Request) { r.Header.Set("apikey", "disabled-key-1") }, "", keyauth.MsgInvalid, false},
		{"expired", `{}`, func(r *http.Request) { r.Header.Set("apikey", "expired-key-1") }, "", keyauth.MsgInvalid, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAuth(t, tt.settings)
			r := httptest.NewRequest(http.MethodGet, "/x", nil)
			tt.prepare(r)
			m, err := a.Authenticate(r, f.index())
			if tt.user != "" {
				require.NoError(t, err)
				require.Equal(t, tt.user, m.Identity.Consumer.Username)
				return
			}
			require.ErrorIs(t, err, credential.ErrUnauthorized)
			var ae *credential.AuthError
			require.True(t, errors.As(err, &ae))
			require.Equal(t, tt.msg, ae.Message)
			require.Equal(t, tt.missing, ae.Missing)
			require.Equal(t, http.StatusUnauthorized, ae.Status)
			require.Equal(t, `Key realm="key"`, ae.Challenge)
		})
	}
}

func TestHideCredentials(t *testing.T) {
	f := finder{}
	f.add(t, "alice", "alice-secret-key", nil)
	a := newAuth(t, `{"hide_credentials":true}`)

	r := httptest.NewRequest(http.MethodGet, "/x?keep=1&apikey=alice-secret-key&b=2", nil)
	_, err := a.Authenticate(r, f.index())
	require.NoError(t, err)
	require.Equal(t, "keep=1&b=2", r.URL.RawQuery)
	require.Equal(t, "/x?keep=1&b=2", r.RequestURI)

	r = httptest.NewRequest(http.MethodGet, "/x", nil)
	r.Header.Set("apikey", "alice-secret-key")
	r.Header.Set("Authorization", "Basic other")
	_, err = a.Authenticate(r, f.index())
	require.NoError(t, err)
	require.Empty(t, r.Header.Get("apikey"))
	require.Equal(t, "Basic other", r.Header.Get("Authorization"), "only the header that carried the key is removed")

	r = httptest.NewRequest(http.MethodGet, "/x", nil)
	r.Header.Set("Authorization", "Bearer alice-secret-key")
	_, err = a.Authenticate(r, f.index())
	require.NoError(t, err)
	require.Empty(t, r.Header.Get("Authorization"))

	// Without hide_credentials the key stays.
	b := newAuth(t, `{}`)
	r = httptest.NewRequest(http.MethodGet, "/x?apikey=alice-secret-key", nil)
	_, err = b.Authenticate(r, f.index())
	require.NoError(t, err)
	require.Equal(t, "apikey=alice-secret-key", r.URL.RawQuery)
}

func TestSettingsValidation(t *testing.T) {
	for _, tt := range []struct {
		settings string
		field    string
	}{
		{`{"header":"bad header"}`, "header"},
		{`{"query":"a&b"}`, "query"},
		{`{"realm":"a\"b"}`, "realm"},
		{`{"hide_credentials":"yes"}`, "hide_credentials"},
		{`{"nope":1}`, "nope"},
	} {
		_, err := keyauth.Definition{}.New(json.RawMessage(tt.settings))
		require.ErrorIs(t, err, validation.ErrInvalid, tt.settings)
		var ve *validation.Error
		require.True(t, errors.As(err, &ve))
		require.Contains(t, ve.Fields, tt.field, tt.settings)
	}
	p, err := keyauth.Definition{}.New(json.RawMessage(`{"realm":"orders"}`))
	require.NoError(t, err)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	_, err = p.(*keyauth.Authenticator).Authenticate(r, credential.NewIndex())
	require.Equal(t, `Key realm="orders"`, err.(*credential.AuthError).Challenge)
}

func TestSeal(t *testing.T) {
	d := keyauth.Definition{}
	s, err := d.Seal(json.RawMessage(`{"key":"my-very-secret-key-123"}`), nil)
	require.NoError(t, err)
	require.NotContains(t, string(s.Stored), "my-very-secret-key-123")
	require.Nil(t, s.Reveal, "a key the admin chose is not echoed back")
	require.True(t, strings.HasPrefix(s.Lookup, "key-auth:"))
	require.JSONEq(t, `{"key_preview":"my-ver...-123"}`, string(d.Redact(s.Stored)))

	// Same key, same lookup: that is what makes duplicates detectable.
	s2, err := d.Seal(json.RawMessage(`{"key":"my-very-secret-key-123"}`), nil)
	require.NoError(t, err)
	require.Equal(t, s.Lookup, s2.Lookup)

	// No key: one is generated and revealed once.
	g, err := d.Seal(json.RawMessage(`{}`), nil)
	require.NoError(t, err)
	var rev map[string]string
	require.NoError(t, json.Unmarshal(g.Reveal, &rev))
	require.True(t, strings.HasPrefix(rev["key"], keyauth.GeneratedKeyPrefix))
	require.Len(t, rev["key"], len(keyauth.GeneratedKeyPrefix)+43)
	require.NotContains(t, string(g.Stored), rev["key"])

	// Replacing without a key (or with the preview GET showed) keeps the key.
	k, err := d.Seal(json.RawMessage(`{"key_preview":"my-ver...-123"}`), s.Stored)
	require.NoError(t, err)
	require.Equal(t, s.Lookup, k.Lookup)
	require.Nil(t, k.Reveal)

	for _, bad := range []string{`{"key":"short"}`, `{"key":"has space in it"}`, `{"key":"` + strings.Repeat("a", 513) + `"}`, `{"key":1}`, `{"secret":"x"}`, `[]`} {
		_, err := d.Seal(json.RawMessage(bad), nil)
		require.ErrorIs(t, err, validation.ErrInvalid, bad)
	}
}

func TestPreview(t *testing.T) {
	require.Equal(t, "abcdef...wxyz", keyauth.Preview("abcdefghijklmnopqrstuvwxyz"))
	require.Equal(t, "ab...ij", keyauth.Preview("abcdefghij"))
	require.Equal(t, "...", keyauth.Preview("bot-key"))
}
