package jwtauth_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/credential/jwtauth"
)

// idp is an identity provider's JWKS endpoint whose keys and health tests
// change.
type idp struct {
	srv     *httptest.Server
	mu      sync.Mutex
	doc     []byte
	down    bool
	fetches atomic.Int32
}

func newIdP(t testing.TB, keys ...map[string]string) *idp {
	p := &idp{}
	p.set(keys...)
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.fetches.Add(1)
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(p.doc)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *idp) set(keys ...map[string]string) {
	doc, _ := json.Marshal(map[string]any{"keys": keys})
	p.mu.Lock()
	p.doc = doc
	p.mu.Unlock()
}

func (p *idp) setDown(down bool) {
	p.mu.Lock()
	p.down = down
	p.mu.Unlock()
}

var b64u = base64.RawURLEncoding.EncodeToString

func rsaJWK(kid string, k *rsa.PublicKey) map[string]string {
	return map[string]string{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
		"n": b64u(k.N.Bytes()), "e": b64u(big.NewInt(int64(k.E)).Bytes())}
}

func ecJWK(kid string, k *ecdsa.PublicKey) map[string]string {
	size := (k.Curve.Params().BitSize + 7) / 8
	point, err := k.Bytes() // 0x04 | x | y
	if err != nil {
		panic(err)
	}
	x, y := point[1:1+size], point[1+size:]
	return map[string]string{"kty": "EC", "kid": kid, "crv": k.Curve.Params().Name, "x": b64u(x), "y": b64u(y)}
}

func edJWK(kid string, k ed25519.PublicKey) map[string]string {
	return map[string]string{"kty": "OKP", "kid": kid, "crv": "Ed25519", "x": b64u(k)}
}

func idpClaims(sub string) jwt.MapClaims {
	return jwt.MapClaims{"sub": sub, "iss": "https://idp.example", "exp": time.Now().Add(time.Hour).Unix()}
}

func TestJWKS(t *testing.T) {
	k := getKeys()
	p := newIdP(t, rsaJWK("k1", &k.rsa.PublicKey), ecJWK("e1", &k.ec256.PublicKey), edJWK("d1", k.ed.Public().(ed25519.PublicKey)))
	def := &jwtauth.Definition{JWKSMinInterval: 300 * time.Millisecond}
	f := newFixture(t, def, map[string]string{
		"idp": `{"issuer":"https://idp.example","jwks":{"url":"` + p.srv.URL + `","refresh_interval":1,"algorithms":["RS256","ES256","EdDSA"]}}`,
		"sub": `{"jwks":{"url":"` + p.srv.URL + `","consumer_claim":"preferred_username"}}`,
	})
	f.consumer("alice")
	f.consumer("bob")

	tok := sign(t, jwt.SigningMethodRS256, k.rsa, idpClaims("alice"), "kid", "k1")
	// The first request waits for the first fetch.
	res := f.call("idp", bearer(tok))
	requireOK(t, res, "alice")
	require.Equal(t, "alice", res.idHeaders["X-Consumer-Username"])
	require.Empty(t, res.idHeaders["X-Credential-Identifier"])
	requireOK(t, f.call("idp", bearer(tok)), "alice")
	require.EqualValues(t, 1, p.fetches.Load())

	// Both routes share the key set of the URL.
	tokPU := sign(t, jwt.SigningMethodRS256, k.rsa, jwt.MapClaims{"preferred_username": "bob", "sub": "x"}, "kid", "k1")
	requireOK(t, f.call("sub", bearer(tokPU)), "bob")
	require.EqualValues(t, 1, p.fetches.Load())

	requireOK(t, f.call("idp", bearer(sign(t, jwt.SigningMethodES256, k.ec256, idpClaims("bob"), "kid", "e1"))), "bob")
	requireOK(t, f.call("idp", bearer(sign(t, jwt.SigningMethodEdDSA, k.ed, idpClaims("bob"), "kid", "d1"))), "bob")
	// Without a kid, every key that fits the algorithm is tried.
	requireOK(t, f.call("idp", bearer(sign(t, jwt.SigningMethodRS256, k.rsa, idpClaims("bob")))), "bob")

	for _, tt := range []struct {
		name, tok, msg string
	}{
		{"unknown consumer", sign(t, jwt.SigningMethodRS256, k.rsa, idpClaims("carol"), "kid", "k1"), jwtauth.MsgInvalidKey},
		{"no sub", sign(t, jwt.SigningMethodRS256, k.rsa, jwt.MapClaims{"iss": "https://idp.example"}, "kid", "k1"), jwtauth.MsgMissingKey},
		{"wrong signer", sign(t, jwt.SigningMethodRS256, k.rsa2, idpClaims("alice"), "kid", "k1"), jwtauth.MsgVerifyFailure},
		{"kid of another key type", sign(t, jwt.SigningMethodRS256, k.rsa, idpClaims("alice"), "kid", "e1"), jwtauth.MsgVerifyFailure},
		{"algorithm not accepted", sign(t, jwt.SigningMethodPS256, k.rsa, idpClaims("alice"), "kid", "k1"), jwtauth.MsgVerifyFailure},
		{"HS256 with the public key", sign(t, jwt.SigningMethodHS256, []byte(publicPEM(t, &k.rsa.PublicKey)), idpClaims("alice"), "kid", "k1"), jwtauth.MsgVerifyFailure},
		{"wrong issuer", sign(t, jwt.SigningMethodRS256, k.rsa, jwt.MapClaims{"sub": "alice", "iss": "https://evil"}, "kid", "k1"), jwtauth.MsgVerifyFailure},
		{"expired", sign(t, jwt.SigningMethodRS256, k.rsa, jwt.MapClaims{"sub": "alice", "iss": "https://idp.example", "exp": time.Now().Add(-time.Minute).Unix()}, "kid", "k1"), jwtauth.MsgVerifyFailure},
	} {
		t.Run(tt.name, func(t *testing.T) {
			requireFail(t, f.call("idp", bearer(tt.tok)), tt.msg)
		})
	}

	// Unknown kids make the gateway fetch again, at most once per
	// JWKSMinInterval however many arrive.
	time.Sleep(350 * time.Millisecond)
	unknown := sign(t, jwt.SigningMethodRS256, k.rsa, idpClaims("alice"), "kid", "nope")
	before, start := p.fetches.Load(), time.Now()
	for range 50 {
		requireFail(t, f.call("idp", bearer(unknown)), jwtauth.MsgVerifyFailure)
	}
	allowed := 1 + int32(time.Since(start)/(300*time.Millisecond))
	require.LessOrEqual(t, p.fetches.Load()-before, allowed)

	// Key rotation at the IdP: the new kid is picked up at its first use,
	// and the removed key stops verifying (even a cached token).
	p.set(rsaJWK("k2", &k.rsa2.PublicKey))
	time.Sleep(350 * time.Millisecond)
	tok2 := sign(t, jwt.SigningMethodRS256, k.rsa2, idpClaims("alice"), "kid", "k2")
	requireOK(t, f.call("idp", bearer(tok2)), "alice")
	require.Eventually(t, func() bool { return f.call("idp", bearer(tok)).code == http.StatusUnauthorized }, 3*time.Second, 50*time.Millisecond)

	// The consumer named by a cached token is deleted: refused at once.
	requireOK(t, f.call("idp", bearer(sign(t, jwt.SigningMethodRS256, k.rsa2, idpClaims("bob"), "kid", "k2"))), "bob")
	code, _ := f.admin(http.MethodDelete, "/api/consumers/bob", "")
	require.Equal(t, http.StatusNoContent, code)
	requireFail(t, f.call("idp", bearer(sign(t, jwt.SigningMethodRS256, k.rsa2, idpClaims("bob"), "kid", "k2"))), jwtauth.MsgInvalidKey)

	// The IdP goes down: the loaded set keeps serving, cached tokens and new
	// ones alike, past its refresh interval.
	p.setDown(true)
	time.Sleep(1100 * time.Millisecond) // older than refresh_interval
	for i := range 5 {
		requireOK(t, f.call("idp", bearer(tok2)), "alice")
		fresh := sign(t, jwt.SigningMethodRS256, k.rsa2, jwt.MapClaims{"sub": "alice", "iss": "https://idp.example", "jti": strconv.Itoa(i)}, "kid", "k2")
		requireOK(t, f.call("idp", bearer(fresh)), "alice")
	}
	time.Sleep(350 * time.Millisecond)
	requireOK(t, f.call("idp", bearer(tok2)), "alice")
	p.setDown(false)
}

func TestJWKSUnreachable(t *testing.T) {
	k := getKeys()
	p := newIdP(t, rsaJWK("k1", &k.rsa.PublicKey))
	p.setDown(true)
	def := &jwtauth.Definition{JWKSMinInterval: 200 * time.Millisecond}
	f := newFixture(t, def, map[string]string{"idp": `{"jwks":{"url":"` + p.srv.URL + `"}}`})
	f.consumer("alice")
	tok := sign(t, jwt.SigningMethodRS256, k.rsa, idpClaims("alice"), "kid", "k1")
	requireFail(t, f.call("idp", bearer(tok)), jwtauth.MsgVerifyFailure)
	// Within the minimum interval the gateway does not ask again.
	requireFail(t, f.call("idp", bearer(tok)), jwtauth.MsgVerifyFailure)
	require.EqualValues(t, 1, p.fetches.Load())
	p.setDown(false)
	time.Sleep(250 * time.Millisecond)
	requireOK(t, f.call("idp", bearer(tok)), "alice")
}

func TestJWKSSharedAcrossRecompiles(t *testing.T) {
	k := getKeys()
	p := newIdP(t, rsaJWK("k1", &k.rsa.PublicKey))
	def := &jwtauth.Definition{}
	settings := `{"jwks":{"url":"` + p.srv.URL + `"}}`
	f := newFixture(t, def, map[string]string{"idp": settings})
	f.consumer("alice")
	tok := sign(t, jwt.SigningMethodRS256, k.rsa, idpClaims("alice"), "kid", "k1")
	requireOK(t, f.call("idp", bearer(tok)), "alice")
	// Routes are compiled again on a change: the key set is not fetched again.
	for range 3 {
		code, body := f.admin(http.MethodPut, "/api/routes/idp", `{"plugins":{"jwt-auth":`+settings+`}}`)
		require.Equal(t, http.StatusOK, code, body)
		requireOK(t, f.call("idp", bearer(tok)), "alice")
	}
	require.EqualValues(t, 1, p.fetches.Load())
}

// TestJWKSTableThroughRoutes: routes naming many distinct JWKS URLs come and
// go while one route serves requests (JWKSMaxURLs 2): the route in use keeps
// its key set (never fetched again, even when it is compiled again), and a
// route compiled with a new URL when the table is full works.
func TestJWKSTableThroughRoutes(t *testing.T) {
	k := getKeys()
	p := newIdP(t, rsaJWK("k1", &k.rsa.PublicKey))
	settings := `{"jwks":{"url":"` + p.srv.URL + `"}}`
	f := newFixture(t, &jwtauth.Definition{JWKSMaxURLs: 2}, map[string]string{"idp": settings})
	f.consumer("alice")
	tok := sign(t, jwt.SigningMethodRS256, k.rsa, idpClaims("alice"), "kid", "k1")
	requireOK(t, f.call("idp", bearer(tok)), "alice")

	for i := range 10 {
		id := "other-" + strconv.Itoa(i)
		code, body := f.admin(http.MethodPut, "/api/routes/"+id,
			`{"plugins":{"jwt-auth":{"jwks":{"url":"https://idp-`+strconv.Itoa(i)+`.invalid/certs"}}}}`)
		require.Equal(t, http.StatusCreated, code, body)
		requireOK(t, f.call("idp", bearer(tok)), "alice")
		code, _ = f.admin(http.MethodDelete, "/api/routes/"+id, "")
		require.Equal(t, http.StatusNoContent, code)
	}
	code, body := f.admin(http.MethodPut, "/api/routes/idp", `{"plugins":{"jwt-auth":`+settings+`}}`)
	require.Equal(t, http.StatusOK, code, body)
	requireOK(t, f.call("idp", bearer(tok)), "alice")
	require.EqualValues(t, 1, p.fetches.Load(), "the URL in use kept its key set")

	// The table is full (idp and the last other route's URL): a new URL
	// takes a place.
	p2 := newIdP(t, rsaJWK("k2", &k.rsa2.PublicKey))
	code, body = f.admin(http.MethodPut, "/api/routes/late", `{"plugins":{"jwt-auth":{"jwks":{"url":"`+p2.srv.URL+`"}}}}`)
	require.Equal(t, http.StatusCreated, code, body)
	requireOK(t, f.call("late", bearer(sign(t, jwt.SigningMethodRS256, k.rsa2, idpClaims("alice"), "kid", "k2"))), "alice")
	requireOK(t, f.call("idp", bearer(tok)), "alice")
	require.EqualValues(t, 1, p.fetches.Load())
}
