package jwtauth

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential"
)

// TestJWKSCacheAcrossConsumerChanges: a cached JWKS token counts while its
// consumer exists, and returns the index's current consumer-level match,
// without verifying the token again.
func TestJWKSCacheAcrossConsumerChanges(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	doc, _ := json.Marshal(map[string]any{"keys": []map[string]string{
		{"kty": "OKP", "crv": "Ed25519", "kid": "d1", "x": base64.RawURLEncoding.EncodeToString(pub)}}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(doc) }))
	defer srv.Close()
	d := &Definition{HTTPClient: srv.Client(), Logger: slog.New(&LogRecorder{})}
	p, err := d.New(json.RawMessage(`{"jwks":{"url":"` + srv.URL + `","algorithms":["EdDSA"]}}`))
	require.NoError(t, err)
	a := p.(*Authenticator)

	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{"sub": "alice", "exp": time.Now().Add(time.Hour).Unix()})
	tok.Header["kid"] = "d1"
	signed, err := tok.SignedString(priv)
	require.NoError(t, err)
	idx := credential.NewIndex()
	match := func(labels string) *credential.Match {
		c := &consumer.Consumer{Username: "alice", Labels: map[string]string{"v": labels}}
		return &credential.Match{Identity: consumer.Identity{Consumer: c}}
	}
	call := func() (*credential.Match, error) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", "Bearer "+signed)
		return a.Authenticate(r, idx)
	}

	m1 := match("1")
	idx.SetConsumer("alice", m1)
	got, err := call()
	require.NoError(t, err)
	require.Same(t, m1, got)
	require.Equal(t, 1, a.cache.len())

	// From here on a token that is verified again fails: only the cache can
	// accept it.
	a.jwksParser = jwt.NewParser(jwt.WithValidMethods([]string{"ES512"}))

	m2 := match("2") // the consumer changed: a new consumer-level match
	idx.SetConsumer("alice", m2)
	got, err = call()
	require.NoError(t, err)
	require.Same(t, m2, got, "the current consumer-level match")

	idx.SetConsumer("alice", nil) // deleted
	_, err = call()
	require.Equal(t, a.invalidKey, err)
	idx.SetConsumer("alice", match("3"))
	_, err = call()
	require.Equal(t, a.failed, err, "the entry was dropped: verified again")
}
