package hmacauth_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"hash"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/admin"
	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential/hmacauth"
	"github.com/gatehousehq/gatehouse/keyring"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store/memory"
)

// t0 is the gateway's clock in these tests: Fri, 06 Sep 2024 06:41:29 GMT.
var t0 = time.Unix(1725604889, 0).UTC()

const adminKey = "admin-key"

// env is a gateway over a memory store with one route per settings string.
type env struct {
	st  *memory.Store
	gw  *gatehouse.Gateway
	adm http.Handler
}

// newEnv builds a gateway whose routes are named by the keys of routes and
// configured with hmac-auth settings (the values).
func newEnv(t testing.TB, routes map[string]string) *env {
	t.Helper()
	ring, _ := keyring.Generate()
	var rs []route.Route
	for id, settings := range routes {
		rs = append(rs, route.Route{ID: id, Plugins: map[string]json.RawMessage{hmacauth.Name: json.RawMessage(settings)}})
	}
	st := memory.New()
	gw, err := gatehouse.New(context.Background(), st,
		gatehouse.WithPlugins(hmacauth.Definition{Ring: ring, Now: func() time.Time { return t0 }}),
		gatehouse.WithRoutes(rs...))
	require.NoError(t, err)
	t.Cleanup(func() { _ = gw.Close() })
	return &env{st: st, gw: gw, adm: gw.AdminHandler(admin.WithKey(adminKey))}
}

// admin sends one admin request and returns the status and body.
func (e *env) admin(t testing.TB, method, path, body string) (int, string) {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-API-KEY", adminKey)
	w := httptest.NewRecorder()
	e.adm.ServeHTTP(w, r)
	return w.Code, w.Body.String()
}

// credential creates the consumer when missing and gives it an hmac-auth
// credential.
func (e *env) credential(t testing.TB, username, id, keyID, secret string) {
	t.Helper()
	if code, _ := e.admin(t, http.MethodGet, "/api/consumers/"+username, ""); code == http.StatusNotFound {
		code, body := e.admin(t, http.MethodPost, "/api/consumers", `{"username":"`+username+`"}`)
		require.Equal(t, http.StatusCreated, code, body)
	}
	code, body := e.admin(t, http.MethodPost, "/api/consumers/"+username+"/credentials",
		`{"id":"`+id+`","name":"`+id+`","plugins":{"hmac-auth":{"key_id":"`+keyID+`","secret_key":"`+secret+`"}}}`)
	require.Equal(t, http.StatusCreated, code, body)
}

func (e *env) refresh(t testing.TB) {
	t.Helper()
	require.NoError(t, e.gw.Refresh(context.Background()))
}

// seen is what the upstream handler saw.
type seen struct {
	User          string `json:"user"`
	Authorization string `json:"authorization"`
	Signature     string `json:"signature"`
	Body          string `json:"body"`
	Anonymous     string `json:"anonymous"`
}

// echo reports what the upstream handler saw, reading the whole body.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	c, _ := consumer.FromContext(r.Context())
	b, _ := io.ReadAll(r.Body)
	s := seen{Authorization: r.Header.Get("Authorization"), Signature: r.Header.Get("Signature"), Body: string(b),
		Anonymous: r.Header.Get(gatehouse.HeaderAnonymousConsumer)}
	if c != nil {
		s.User = c.Username
	}
	_ = json.NewEncoder(w).Encode(s)
})

// serve sends r through the route and returns the recorder.
func (e *env) serve(routeID string, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	e.gw.Protect(routeID, echo).ServeHTTP(w, r)
	return w
}

// request builds a request at t0 with a Date header.
func request(method, target, body string) *http.Request {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, target, rd)
	r.Header.Set("Date", t0.Format(http.TimeFormat))
	return r
}

// The two signers below are deliberately naive, written from API.md and RFC
// 9421 rather than from the package, so that they check it.

func hashOf(alg string) func() hash.Hash {
	switch alg {
	case "hmac-sha1":
		return sha1.New
	case "hmac-sha512":
		return sha512.New
	}
	return sha256.New
}

// signingString is the APISIX signing string of r.
func signingString(r *http.Request, keyID string, headers []string) string {
	s := keyID + "\n"
	for _, h := range headers {
		if h == "@request-target" {
			s += strings.ToUpper(r.Method) + " " + r.URL.RequestURI() + "\n"
			continue
		}
		v := r.Header.Get(h)
		if strings.EqualFold(h, "host") {
			v = r.Host
		}
		s += strings.ToLower(h) + ": " + v + "\n"
	}
	return s
}

func hmacB64(alg, secret, msg string) string {
	m := hmac.New(hashOf(alg), []byte(secret))
	m.Write([]byte(msg))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// sign sets the Authorization: Signature header of r.
func sign(r *http.Request, keyID, secret, alg string, headers ...string) {
	sig := hmacB64(alg, secret, signingString(r, keyID, headers))
	r.Header.Set("Authorization", `Signature keyId="`+keyID+`",algorithm="`+alg+`",headers="`+strings.Join(headers, " ")+`",signature="`+sig+`"`)
}

// signatureBase is the RFC 9421 signature base of r (host-less http).
func signatureBase(r *http.Request, comps []string, params string) (base, sigParams string) {
	var quoted []string
	for _, c := range comps {
		quoted = append(quoted, `"`+c+`"`)
		var v string
		switch c {
		case "@method":
			v = r.Method
		case "@target-uri":
			v = "http://" + r.Host + r.URL.RequestURI()
		case "@authority":
			v = r.Host
		case "@path":
			v = r.URL.Path
		case "@query":
			v = "?" + r.URL.RawQuery
		default:
			v = r.Header.Get(c)
		}
		base += `"` + c + `": ` + v + "\n"
	}
	sigParams = "(" + strings.Join(quoted, " ") + ")" + params
	return base + `"@signature-params": ` + sigParams, sigParams
}

// sign9421 sets Signature-Input and Signature (label sig1) on r.
func sign9421(r *http.Request, secret string, comps []string, params string) {
	base, sp := signatureBase(r, comps, params)
	r.Header.Set("Signature-Input", "sig1="+sp)
	r.Header.Set("Signature", "sig1=:"+hmacB64("hmac-sha256", secret, base)+":")
}

func digestOf(body string) string {
	s := sha256.Sum256([]byte(body))
	return base64.StdEncoding.EncodeToString(s[:])
}

func decode(t testing.TB, w *httptest.ResponseRecorder) seen {
	t.Helper()
	var s seen
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &s), w.Body.String())
	return s
}

type nopCloser struct{ io.Reader }

func (nopCloser) Close() error { return nil }

func stringsReader(s string) io.Reader { return strings.NewReader(s) }
