package jwtauth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/admin"
	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential/jwtauth"
	"github.com/gatehousehq/gatehouse/keyring"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store/memory"
)

// nopWriter is a ResponseWriter that keeps nothing, so that benchmarks
// measure the middleware rather than a recorder.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}

const benchConsumers = 10_000

// benchGateway returns a gateway holding benchConsumers consumers, the even
// ones with an HS256 credential ("key-<i>"), the odd ones with an RS256
// credential, all created through the admin API.
func benchGateway(b *testing.B, cacheSize int) (http.Handler, *string) {
	b.Helper()
	k := getKeys()
	ctx := context.Background()
	ring, _ := keyring.Generate()
	def := &jwtauth.Definition{Ring: ring, CacheSize: cacheSize, Logger: discard()}
	st := memory.New()
	// A first gateway's admin API fills the store; the measured gateway then
	// loads it whole, with no change feed still being applied.
	loader, err := gatehouse.New(ctx, st, gatehouse.WithPlugins(def), gatehouse.WithLogger(discard()))
	if err != nil {
		b.Fatal(err)
	}
	adm := loader.AdminHandler(admin.WithKey(adminKey))
	pub := jsonString(publicPEM(b, &k.rsa.PublicKey))
	send := func(path, body string) {
		r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("X-API-KEY", adminKey)
		w := httptest.NewRecorder()
		adm.ServeHTTP(w, r)
		if w.Code != http.StatusCreated {
			b.Fatalf("%s: %d %s", path, w.Code, w.Body)
		}
	}
	for i := range benchConsumers {
		name := fmt.Sprintf("user-%05d", i)
		send("/api/consumers", `{"username":"`+name+`"}`)
		settings := `{"key":"key-` + fmt.Sprint(i) + `","secret":"` + secret256 + `"}`
		if i%2 == 1 {
			settings = `{"key":"key-` + fmt.Sprint(i) + `","algorithm":"RS256","public_key":` + pub + `}`
		}
		send("/api/consumers/"+name+"/credentials", `{"name":"jwt","plugins":{"jwt-auth":`+settings+`}}`)
	}
	_ = loader.Close()
	gw, err := gatehouse.New(ctx, st, gatehouse.WithPlugins(def), gatehouse.WithLogger(discard()),
		gatehouse.WithRoutes(route.Route{ID: "r", Plugins: map[string]json.RawMessage{jwtauth.Name: json.RawMessage(`{}`)}}))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = gw.Close() })
	seen := new(string)
	h := gw.Protect("r", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := consumer.FromContext(r.Context())
		*seen = c.Username
	}))
	return h, seen
}

// BenchmarkProtectJWT measures jwt-auth through gw.Protect with 10,000
// consumers: a repeated valid token (served by the verified-token cache) and
// the cold path (cache off: parse and signature check every time).
func BenchmarkProtectJWT(b *testing.B) {
	k := getKeys()
	hs := sign(b, jwt.SigningMethodHS256, []byte(secret256), claims("key-4242"))
	rs := sign(b, jwt.SigningMethodRS256, k.rsa, claims("key-4243"))
	run := func(b *testing.B, h http.Handler, seen *string, tok, want string) {
		r := httptest.NewRequest(http.MethodGet, "/orders", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		w := &nopWriter{h: http.Header{}}
		*seen = ""
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(w, r)
		}
		if *seen != want {
			b.Fatalf("handler saw %q, want %q", *seen, want)
		}
	}

	h, seen := benchGateway(b, 0)
	b.Run("HS256/repeated", func(b *testing.B) { run(b, h, seen, hs, "user-04242") })
	b.Run("RS256/repeated", func(b *testing.B) { run(b, h, seen, rs, "user-04243") })
	b.Run("HS256/repeated-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			r := httptest.NewRequest(http.MethodGet, "/orders", nil)
			r.Header.Set("Authorization", "Bearer "+hs)
			w := &nopWriter{h: http.Header{}}
			for pb.Next() {
				h.ServeHTTP(w, r)
			}
		})
	})
	// Distinct tokens, each seen once: the cache only costs its insertion.
	b.Run("HS256/distinct", func(b *testing.B) {
		toks := make([]string, 50_000)
		for i := range toks {
			toks[i] = sign(b, jwt.SigningMethodHS256, []byte(secret256), claims("key-4242", "jti", fmt.Sprint(i)))
		}
		reqs := make([]*http.Request, len(toks))
		for i, tok := range toks {
			reqs[i] = httptest.NewRequest(http.MethodGet, "/orders", nil)
			reqs[i].Header.Set("Authorization", "Bearer "+tok)
		}
		w := &nopWriter{h: http.Header{}}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			h.ServeHTTP(w, reqs[i%len(reqs)])
			i++
		}
	})

	cold, coldSeen := benchGateway(b, -1)
	b.Run("HS256/cold", func(b *testing.B) { run(b, cold, coldSeen, hs, "user-04242") })
	b.Run("RS256/cold", func(b *testing.B) { run(b, cold, coldSeen, rs, "user-04243") })
}
