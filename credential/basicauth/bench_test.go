package basicauth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/credential/basicauth"
	"github.com/gatehousehq/gatehouse/store/memory"
)

// nopWriter is a ResponseWriter that keeps nothing, so that the benchmark
// measures the middleware rather than a recorder.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}

// BenchmarkProtectBasicAuth measures basic-auth through gw.Protect with 10,000
// consumers (one credential each, bcrypt cost 10): the repeated valid request
// (answered by the cache), the paths that pay bcrypt: a cold cache, a wrong
// password, an unknown username (which must cost the same), and the repeated
// failures answered by the cache (which must cost the same too).
func BenchmarkProtectBasicAuth(b *testing.B) {
	const consumers = 10_000
	ctx := context.Background()
	cache := basicauth.NewCache(0)
	limiter := basicauth.NewLimiter(0, basicauth.WithRefusalDelay(0))
	def := basicauth.Definition{Cache: cache, Limiter: limiter} // default cost, 10
	st := memory.New()
	gw, err := gatehouse.New(ctx, st, gatehouse.WithPlugins(def), gatehouse.WithRoutes(basicRoute("r", `{}`)),
		gatehouse.WithLogger(discard()))
	if err != nil {
		b.Fatal(err)
	}
	defer gw.Close()
	// One bcrypt hash serves every credential: a hash does not depend on the
	// username, and 10,000 hashes at cost 10 would take minutes.
	sealed, err := def.Seal(json.RawMessage(`{"username":"x","password":"bench-password"}`), nil)
	if err != nil {
		b.Fatal(err)
	}
	var hash struct {
		Hash string `json:"password_hash"`
	}
	if err := json.Unmarshal(sealed.Stored, &hash); err != nil {
		b.Fatal(err)
	}
	for i := range consumers {
		name := fmt.Sprintf("user-%05d", i)
		_, _, err := st.PutConsumer(ctx, name, func(*consumer.Consumer) (*consumer.Consumer, error) {
			return &consumer.Consumer{Username: name}, nil
		})
		if err != nil {
			b.Fatal(err)
		}
		stored, _ := json.Marshal(map[string]string{"username": name, "password_hash": hash.Hash})
		_, _, err = st.PutCredential(ctx, name, "pw", func(*credential.Credential) (*credential.Credential, error) {
			return &credential.Credential{ID: "pw", Name: "pw", Enabled: true, Lookup: "basic-auth:" + name,
				Plugins: map[string]json.RawMessage{basicauth.Name: stored}}, nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if err := gw.Refresh(ctx); err != nil {
		b.Fatal(err)
	}
	var seen string
	h := gw.Protect("r", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := consumer.FromContext(r.Context())
		seen = c.Username
	}))
	valid := basic("user-04242", "bench-password")
	request := func(authorization string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/orders", nil)
		r.Header["Authorization"] = []string{authorization}
		return r
	}
	// Let the view apply the change feed of the writes above, so that the
	// match the cache remembers is the one that stays.
	w := &nopWriter{h: http.Header{}}
	for before := ^uint64(0); before != limiter.Compares(); {
		before = limiter.Compares()
		h.ServeHTTP(w, request(valid))
	}

	b.Run("cached", func(b *testing.B) {
		r := request(valid)
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(w, r)
		}
		if seen != "user-04242" {
			b.Fatalf("handler saw %q", seen)
		}
	})
	b.Run("cached-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			r := request(valid)
			w := &nopWriter{h: http.Header{}}
			for pb.Next() {
				h.ServeHTTP(w, r)
			}
		})
	})
	b.Run("missing", func(b *testing.B) {
		r := httptest.NewRequest(http.MethodGet, "/orders", nil)
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(w, r)
		}
	})
	for _, tt := range []struct{ name, authorization string }{
		{"cold", valid},
		{"wrong-password", basic("user-04242", "bench-passwore")},
		{"unknown-user", basic("user-99999", "bench-password")},
	} {
		b.Run(tt.name, func(b *testing.B) {
			r := request(tt.authorization)
			b.ReportAllocs()
			for b.Loop() {
				cache.Clear()
				h.ServeHTTP(w, r)
			}
		})
	}
	// A repeated failure is answered from the failure table, a wrong
	// password and an unknown username alike.
	for _, tt := range []struct{ name, authorization string }{
		{"wrong-password-cached", basic("user-04242", "bench-passwore")},
		{"unknown-user-cached", basic("user-99999", "bench-password")},
	} {
		b.Run(tt.name, func(b *testing.B) {
			r := request(tt.authorization)
			h.ServeHTTP(w, r)
			before := limiter.Compares()
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, r)
			}
			if limiter.Compares() != before {
				b.Fatal("the failure table was missed")
			}
		})
	}
}

// BenchmarkAuthenticateCached measures the authenticator alone on a repeated
// valid request: parse, lookup, HMAC, cache hit. No bcrypt.
func BenchmarkAuthenticateCached(b *testing.B) {
	def := basicauth.Definition{Cost: 4, Cache: basicauth.NewCache(0), Limiter: basicauth.NewLimiter(0, basicauth.WithRefusalDelay(0))}
	p, err := def.New(nil)
	if err != nil {
		b.Fatal(err)
	}
	a := p.(*basicauth.Authenticator)
	sealed, err := def.Seal(json.RawMessage(`{"username":"alice","password":"s3cret-password"}`), nil)
	if err != nil {
		b.Fatal(err)
	}
	secret, _ := def.Compile(sealed.Stored)
	idx := credential.NewIndex()
	idx.Update(nil, []*credential.Match{{Secret: secret, Credential: &credential.Credential{
		ID: "c", Enabled: true, Lookup: sealed.Lookup, Plugins: map[string]json.RawMessage{basicauth.Name: sealed.Stored}}}})
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", basic("alice", "s3cret-password"))
	if _, err := a.Authenticate(r, idx); err != nil {
		b.Fatal(err)
	}
	before := def.Limiter.Compares()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(r, idx); err != nil {
			b.Fatal(err)
		}
	}
	if def.Limiter.Compares() != before {
		b.Fatal("the cache was missed")
	}
}
