package jwtauth_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/credential/jwtauth"
	"github.com/gatehousehq/gatehouse/keyring"
)

// cacheIndex returns an index holding alice's HS256 credential as the view
// would, and a function making a new Match for a credential.
func cacheIndex(t *testing.T) (*credential.Index, *credential.Credential, func(cr *credential.Credential, secret any, labels string) *credential.Match) {
	ring, _ := keyring.Generate()
	d := &jwtauth.Definition{Ring: ring}
	sealed, err := d.Seal(json.RawMessage(`{"key":"alice-key","secret":"`+secret256+`"}`), nil)
	require.NoError(t, err)
	secret, err := d.Compile(sealed.Stored)
	require.NoError(t, err)
	cr := &credential.Credential{ID: "a1", Consumer: "alice", Name: "a1", Enabled: true, Lookup: sealed.Lookup,
		Plugins: map[string]json.RawMessage{jwtauth.Name: sealed.Stored}}
	newMatch := func(cr *credential.Credential, sec any, labels string) *credential.Match {
		if sec == nil {
			sec = secret
		}
		c := &consumer.Consumer{Username: "alice", Labels: map[string]string{"v": labels}}
		return &credential.Match{Credential: cr, Secret: sec, Identity: consumer.Identity{Consumer: c, CredentialID: cr.ID}}
	}
	idx := credential.NewIndex()
	idx.Update(nil, []*credential.Match{newMatch(cr, nil, "1")})
	return idx, cr, newMatch
}

// TestCacheAcrossConsumerChanges: a cached token counts while the index's
// match for its credential holds the very Credential it was verified with,
// and the current match is returned; a new Credential is verified again.
func TestCacheAcrossConsumerChanges(t *testing.T) {
	idx, cr, newMatch := cacheIndex(t)
	p, err := (&jwtauth.Definition{}).New(json.RawMessage(`{}`))
	require.NoError(t, err)
	a := p.(*jwtauth.Authenticator)
	tok := sign(t, jwt.SigningMethodHS256, []byte(secret256), claims("alice-key"))
	call := func() (*credential.Match, error) {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		return a.Authenticate(r, idx)
	}
	m, err := call()
	require.NoError(t, err)
	require.Equal(t, "1", m.Identity.Consumer.Labels["v"])

	// Another credential's verifier: verifying the token with it fails.
	ring, _ := keyring.Generate()
	other := &jwtauth.Definition{Ring: ring}
	sealed, err := other.Seal(json.RawMessage(`{"key":"alice-key","secret":"`+secret384+`"}`), nil)
	require.NoError(t, err)
	wrong, err := other.Compile(sealed.Stored)
	require.NoError(t, err)

	// The consumer changed, its credential did not: the view keeps the
	// Credential pointer. The cache hits (the wrong Secret is never
	// consulted) and returns the new Match.
	m2 := newMatch(cr, wrong, "2")
	idx.Update([]*credential.Match{m}, []*credential.Match{m2})
	got, err := call()
	require.NoError(t, err)
	require.Same(t, m2, got)
	require.Equal(t, "2", got.Identity.Consumer.Labels["v"])

	// The credential changed (a new Credential): verified again, with the
	// match's Secret.
	cr3 := cr.Clone()
	m3 := newMatch(cr3, wrong, "3")
	idx.Update([]*credential.Match{m2}, []*credential.Match{m3})
	_, err = call()
	require.Error(t, err)
	require.Equal(t, jwtauth.MsgVerifyFailure, err.(*credential.AuthError).Message)
	m4 := newMatch(cr3, nil, "4")
	idx.Update([]*credential.Match{m3}, []*credential.Match{m4})
	got, err = call()
	require.NoError(t, err)
	require.Same(t, m4, got)
}
