// Package bench compares Gatehouse with other Go libraries on the same
// requests; it is a separate module so that their dependencies stay out of
// Gatehouse's go.mod.
package bench

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	jwtmiddleware "github.com/auth0/go-jwt-middleware/v2"
	"github.com/auth0/go-jwt-middleware/v2/validator"
	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/admin"
	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential/jwtauth"
	"github.com/gatehousehq/gatehouse/keyring"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store"
	"github.com/gatehousehq/gatehouse/store/memory"
)

// Both sides check the same things: the pinned algorithm, the signature,
// exp, iss and aud.
const (
	issuer    = "https://idp.example/"
	audience  = "orders"
	consumers = 10_000
	adminKey  = "bench-admin-key"
)

var secret = []byte(strings.Repeat("s", 32))

// fixture is shared by every sub-benchmark: the keys, a store holding
// consumers (each with a jwt-auth credential: even ones HS256, odd ones
// RS256), and pools of distinct pre-signed tokens for the cold runs.
type fixture struct {
	rsa   *rsa.PrivateKey
	store store.Store
	ring  *keyring.Ring

	mu    sync.Mutex
	pools map[string][]string
}

var (
	fixOnce sync.Once
	fix     *fixture
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func getFixture(b *testing.B) *fixture {
	fixOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		ring, _ := keyring.Generate()
		f := &fixture{rsa: k, store: memory.New(), ring: ring, pools: map[string][]string{}}
		der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
		pub, _ := json.Marshal(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
		gw, err := gatehouse.New(context.Background(), f.store, gatehouse.WithPlugins(&jwtauth.Definition{Ring: ring}), gatehouse.WithLogger(discard()))
		if err != nil {
			panic(err)
		}
		adm := gw.AdminHandler(admin.WithKey(adminKey))
		send := func(path, body string) {
			r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("X-API-KEY", adminKey)
			w := httptest.NewRecorder()
			adm.ServeHTTP(w, r)
			if w.Code != http.StatusCreated {
				panic(fmt.Sprintf("%s: %d %s", path, w.Code, w.Body))
			}
		}
		for i := range consumers {
			name := fmt.Sprintf("user-%05d", i)
			send("/api/consumers", `{"username":"`+name+`"}`)
			settings := `{"key":"key-` + strconv.Itoa(i) + `","secret":"` + string(secret) + `"}`
			if i%2 == 1 {
				settings = `{"key":"key-` + strconv.Itoa(i) + `","algorithm":"RS256","public_key":` + string(pub) + `}`
			}
			send("/api/consumers/"+name+"/credentials", `{"name":"jwt","plugins":{"jwt-auth":`+settings+`}}`)
		}
		_ = gw.Close()
		fix = f
	})
	return fix
}

// alg is one side of the comparison's signing setup.
type alg struct {
	name   string
	method jwt.SigningMethod
	key    func(f *fixture) any // signing key
	verify func(f *fixture) any // auth0's verification key
	v      validator.SignatureAlgorithm
	user   string // the consumer whose credential verifies it
	claim  string // its key claim
}

var algs = []alg{
	{"HS256", jwt.SigningMethodHS256, func(*fixture) any { return secret }, func(*fixture) any { return secret }, validator.HS256, "user-04242", "key-4242"},
	{"RS256", jwt.SigningMethodRS256, func(f *fixture) any { return f.rsa }, func(f *fixture) any { return &f.rsa.PublicKey }, validator.RS256, "user-04243", "key-4243"},
}

// token signs a valid token; jti makes it distinct.
func (f *fixture) token(a alg, jti int) string {
	tok, err := jwt.NewWithClaims(a.method, jwt.MapClaims{
		"key": a.claim, "sub": a.user, "iss": issuer, "aud": audience, "jti": strconv.Itoa(jti),
		"iat": time.Now().Unix(), "exp": time.Now().Add(24 * time.Hour).Unix(),
	}).SignedString(a.key(f))
	if err != nil {
		panic(err)
	}
	return tok
}

// pool returns at least n distinct tokens of a, signing more when needed
// (in parallel: RSA signing is slow).
func (f *fixture) pool(a alg, n int) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	have := f.pools[a.name]
	if len(have) >= n {
		return have
	}
	more := make([]string, n-len(have))
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(more); i += workers {
				more[i] = f.token(a, len(have)+i)
			}
		})
	}
	wg.Wait()
	f.pools[a.name] = append(have, more...)
	return f.pools[a.name]
}

// gatehouseHandler returns a fresh gateway (empty token cache) over the
// shared store, protecting a trivial handler.
func (f *fixture) gatehouseHandler(b *testing.B) http.Handler {
	def := &jwtauth.Definition{Ring: f.ring, Logger: discard()}
	gw, err := gatehouse.New(context.Background(), f.store, gatehouse.WithPlugins(def), gatehouse.WithLogger(discard()),
		gatehouse.WithRoutes(route.Route{ID: "bench", Plugins: map[string]json.RawMessage{
			jwtauth.Name: json.RawMessage(`{"issuer":"` + issuer + `","audience":"` + audience + `"}`),
		}}))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = gw.Close() })
	return gw.Protect("bench", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := consumer.FromContext(r.Context()); !ok {
			panic("no consumer")
		}
	}))
}

// auth0Handler returns go-jwt-middleware v2 with the same checks.
func (f *fixture) auth0Handler(b *testing.B, a alg) http.Handler {
	key := a.verify(f)
	v, err := validator.New(func(context.Context) (any, error) { return key, nil }, a.v, issuer, []string{audience})
	if err != nil {
		b.Fatal(err)
	}
	return jwtmiddleware.New(v.ValidateToken).CheckJWT(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.Context().Value(jwtmiddleware.ContextKey{}).(*validator.ValidatedClaims); !ok {
			panic("no claims")
		}
	}))
}

// nopWriter keeps nothing and records the status.
type nopWriter struct {
	h    http.Header
	code int
}

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(code int)        { w.code = code }

func request(tok string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/orders", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

// BenchmarkJWT compares Gatehouse's jwt-auth (through gw.Protect, 10,000
// consumers) with auth0/go-jwt-middleware v2 (one fixed key), both wrapping
// a trivial handler: a repeated valid token, and cold (a distinct
// pre-signed token per iteration).
func BenchmarkJWT(b *testing.B) {
	f := getFixture(b)
	sides := []struct {
		name    string
		handler func(b *testing.B, a alg) http.Handler
	}{
		{"gatehouse", func(b *testing.B, _ alg) http.Handler { return f.gatehouseHandler(b) }},
		{"auth0", func(b *testing.B, a alg) http.Handler { return f.auth0Handler(b, a) }},
	}
	for _, a := range algs {
		for _, side := range sides {
			b.Run(a.name+"/repeated/side="+side.name, func(b *testing.B) {
				h := side.handler(b, a)
				r := request(f.token(a, -1))
				w := &nopWriter{h: http.Header{}}
				h.ServeHTTP(w, r)
				if w.code != 0 && w.code != http.StatusOK {
					b.Fatalf("status %d", w.code)
				}
				b.ReportAllocs()
				for b.Loop() {
					h.ServeHTTP(w, r)
				}
				if w.code != 0 && w.code != http.StatusOK {
					b.Fatalf("status %d", w.code)
				}
			})
		}
		for _, side := range sides {
			b.Run(a.name+"/cold/side="+side.name, func(b *testing.B) {
				toks := f.pool(a, b.N)
				reqs := make([]*http.Request, b.N)
				for i := range reqs {
					reqs[i] = request(toks[i])
				}
				h := side.handler(b, a) // fresh: no token of the pool was seen
				w := &nopWriter{h: http.Header{}}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					h.ServeHTTP(w, reqs[i])
				}
				b.StopTimer()
				if w.code != 0 && w.code != http.StatusOK {
					b.Fatalf("status %d", w.code)
				}
			})
		}
	}
}
