package jwtauth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/admin"
	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential/jwtauth"
	"github.com/gatehousehq/gatehouse/internal/testlog"
	"github.com/gatehousehq/gatehouse/keyring"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store/memory"
)

const adminKey = "admin-key"

// Secrets long enough for each HS algorithm.
var (
	secret256 = strings.Repeat("s", 32)
	secret384 = strings.Repeat("t", 48)
	secret512 = strings.Repeat("u", 64)
)

// testKeys are generated once: RSA generation is slow.
type testKeys struct {
	rsa, rsa2 *rsa.PrivateKey
	ec256     *ecdsa.PrivateKey
	ec384     *ecdsa.PrivateKey
	ed        ed25519.PrivateKey
}

var (
	keysOnce sync.Once
	keys     testKeys
)

func getKeys() *testKeys {
	keysOnce.Do(func() {
		var err error
		must := func(e error) {
			if e != nil {
				panic(e)
			}
		}
		keys.rsa, err = rsa.GenerateKey(rand.Reader, 2048)
		must(err)
		keys.rsa2, err = rsa.GenerateKey(rand.Reader, 2048)
		must(err)
		keys.ec256, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		keys.ec384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		must(err)
		_, keys.ed, err = ed25519.GenerateKey(rand.Reader)
		must(err)
	})
	return &keys
}

// publicPEM returns the PKIX PEM of a public key.
func publicPEM(t testing.TB, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// sign returns a compact JWS of claims with method and key; header entries
// are added to the token's header (a kid, say).
func sign(t testing.TB, method jwt.SigningMethod, key any, claims jwt.MapClaims, header ...string) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for i := 0; i+1 < len(header); i += 2 {
		tok.Header[header[i]] = header[i+1]
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

// claims returns claims naming key, valid for an hour, plus extra pairs.
func claims(key string, extra ...any) jwt.MapClaims {
	c := jwt.MapClaims{"key": key, "exp": time.Now().Add(time.Hour).Unix()}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == nil {
			delete(c, extra[i].(string))
			continue
		}
		c[extra[i].(string)] = extra[i+1]
	}
	return c
}

func discard() *slog.Logger { return testlog.New(io.Discard) }

// fixture is a gateway with the jwt-auth definition under test, its admin
// handler, and routes declared in code.
type fixture struct {
	t   testing.TB
	gw  *gatehouse.Gateway
	adm http.Handler
	def *jwtauth.Definition
}

func newFixture(t testing.TB, def *jwtauth.Definition, routes map[string]string) *fixture {
	t.Helper()
	if def == nil {
		def = &jwtauth.Definition{}
	}
	if def.Ring == nil {
		def.Ring, _ = keyring.Generate()
	}
	if def.Logger == nil {
		def.Logger = discard()
	}
	var rs []route.Route
	for id, settings := range routes {
		rs = append(rs, route.Route{ID: id, Plugins: map[string]json.RawMessage{jwtauth.Name: json.RawMessage(settings)}})
	}
	gw, err := gatehouse.New(context.Background(), memory.New(),
		gatehouse.WithPlugins(def), gatehouse.WithRoutes(rs...), gatehouse.WithLogger(discard()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = gw.Close() })
	return &fixture{t: t, gw: gw, adm: gw.AdminHandler(admin.WithKey(adminKey)), def: def}
}

// admin sends one admin request and returns the status and body; the
// gateway's view is refreshed after it.
func (f *fixture) admin(method, path, body string) (int, string) {
	f.t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if method == http.MethodPatch {
		r.Header.Set("Content-Type", "application/merge-patch+json")
	}
	r.Header.Set("X-API-KEY", adminKey)
	w := httptest.NewRecorder()
	f.adm.ServeHTTP(w, r)
	require.NoError(f.t, f.gw.Refresh(context.Background()))
	return w.Code, w.Body.String()
}

func (f *fixture) consumer(name string) {
	f.t.Helper()
	code, body := f.admin(http.MethodPost, "/api/consumers", `{"username":"`+name+`"}`)
	require.Equal(f.t, http.StatusCreated, code, body)
}

// cred creates credential id of user with jwt-auth settings, and returns the
// response body.
func (f *fixture) cred(user, id, settings string) string {
	f.t.Helper()
	code, body := f.admin(http.MethodPost, "/api/consumers/"+user+"/credentials",
		`{"id":"`+id+`","name":"`+id+`","plugins":{"jwt-auth":`+settings+`}}`)
	require.Equal(f.t, http.StatusCreated, code, body)
	return body
}

// result is what a protected call returned.
type result struct {
	code      int
	msg       string
	challenge string
	user      string            // the consumer the handler saw
	headers   http.Header       // the request headers the handler saw
	query     string            // the raw query the handler saw
	idHeaders map[string]string // X-Consumer-* as the handler saw them
}

// call sends one request to route id; prepare sets the token.
func (f *fixture) call(id string, prepare func(r *http.Request)) result {
	f.t.Helper()
	var res result
	h := f.gw.Protect(id, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := consumer.FromContext(r.Context()); ok {
			res.user = c.Username
		}
		res.headers = r.Header.Clone()
		res.query = r.URL.RawQuery
		res.idHeaders = map[string]string{}
		for _, h := range []string{"X-Consumer-Username", "X-Credential-Identifier", "X-Anonymous-Consumer"} {
			res.idHeaders[h] = r.Header.Get(h)
		}
	}))
	r := httptest.NewRequest(http.MethodGet, "/x", nil)
	if prepare != nil {
		prepare(r)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	res.code = w.Code
	res.challenge = w.Header().Get("WWW-Authenticate")
	if w.Code != http.StatusOK {
		var body struct{ Message string }
		require.NoError(f.t, json.Unmarshal(w.Body.Bytes(), &body), w.Body.String())
		res.msg = body.Message
	}
	return res
}

// bearer sets Authorization: Bearer tok.
func bearer(tok string) func(r *http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}

// requireOK asserts a call passed as user.
func requireOK(t testing.TB, res result, user string) {
	t.Helper()
	require.Equal(t, http.StatusOK, res.code, res.msg)
	require.Equal(t, user, res.user)
}

// requireFail asserts a 401 with msg.
func requireFail(t testing.TB, res result, msg string) {
	t.Helper()
	require.Equal(t, http.StatusUnauthorized, res.code, "want %q", msg)
	require.Equal(t, msg, res.msg)
	require.Equal(t, `Bearer realm="jwt"`, res.challenge)
	require.Empty(t, res.user)
}

func jsonString(v string) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func genEC(t testing.TB, bits int) *ecdsa.PrivateKey {
	t.Helper()
	curve := elliptic.P256()
	if bits == 384 {
		curve = elliptic.P384()
	}
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	require.NoError(t, err)
	return k
}

func mustEd(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	return k
}

// jwtauthPKIX returns the DER of a public key, as an attacker would use it
// as an HMAC key.
func jwtauthPKIX(pub any) ([]byte, error) { return x509.MarshalPKIXPublicKey(pub) }

func x509MarshalPKCS8(k any) ([]byte, error) { return x509.MarshalPKCS8PrivateKey(k) }
