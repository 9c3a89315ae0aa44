package hmacauth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/credential/hmacauth"
	"github.com/gatehousehq/gatehouse/keyring"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store/memory"
)

// nopWriter is a ResponseWriter that keeps nothing, so that the benchmark
// measures the middleware rather than a recorder.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}

// BenchmarkProtectHMAC measures the hmac-auth middleware on valid requests
// with 10,000 consumers (one credential each) in the store: parsing, lookup,
// clock check, signing string, HMAC, identity headers and context.
func BenchmarkProtectHMAC(b *testing.B) {
	const consumers = 10_000
	ctx := context.Background()
	ring, _ := keyring.Generate()
	def := hmacauth.Definition{Ring: ring, Now: func() time.Time { return t0 }}
	st := memory.New()
	gw, err := gatehouse.New(ctx, st, gatehouse.WithPlugins(def), gatehouse.WithRoutes(
		route.Route{ID: "r", Plugins: map[string]json.RawMessage{hmacauth.Name: json.RawMessage(`{}`)}},
		route.Route{ID: "body", Plugins: map[string]json.RawMessage{hmacauth.Name: json.RawMessage(`{"validate_request_body":true}`)}},
	))
	if err != nil {
		b.Fatal(err)
	}
	defer gw.Close()
	for i := range consumers {
		name := fmt.Sprintf("user-%05d", i)
		if _, _, err := st.PutConsumer(ctx, name, func(*consumer.Consumer) (*consumer.Consumer, error) {
			return &consumer.Consumer{Username: name}, nil
		}); err != nil {
			b.Fatal(err)
		}
		sealed, err := def.Seal(json.RawMessage(`{"key_id":"key-`+name+`","secret_key":"secret-of-`+name+`"}`), nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := st.PutCredential(ctx, name, "c", func(*credential.Credential) (*credential.Credential, error) {
			return &credential.Credential{ID: "c", Name: "c", Enabled: true, Lookup: sealed.Lookup,
				Plugins: map[string]json.RawMessage{hmacauth.Name: sealed.Stored}}, nil
		}); err != nil {
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
	hb := gw.Protect("body", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := consumer.FromContext(r.Context())
		seen = c.Username
	}))
	const user = "user-04242"
	keyID, secret := "key-"+user, "secret-of-"+user
	created := `;created=` + strconv.FormatInt(t0.Unix(), 10) + `;keyid="` + keyID + `";alg="hmac-sha256"`

	run := func(b *testing.B, h http.Handler, r *http.Request, want int) {
		w := &nopWriter{h: http.Header{}}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r.Clone(ctx))
		if rec.Code != want {
			b.Fatalf("status %d, want %d: %s", rec.Code, want, rec.Body.String())
		}
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(w, r)
		}
	}
	for _, alg := range []string{"hmac-sha1", "hmac-sha256", "hmac-sha512"} {
		b.Run("apisix/"+alg, func(b *testing.B) {
			r := request(http.MethodGet, "/orders?id=7", "")
			sign(r, keyID, secret, alg, "@request-target", "date")
			run(b, h, r, http.StatusOK)
			if seen != user {
				b.Fatalf("handler saw %q", seen)
			}
		})
	}
	b.Run("apisix/signed-headers", func(b *testing.B) {
		r := request(http.MethodGet, "/orders?id=7", "")
		r.Header.Set("X-Request-Id", "2b7f6c1e")
		r.Header.Set("Content-Type", "application/json")
		sign(r, keyID, secret, "hmac-sha256", "@request-target", "date", "x-request-id", "content-type", "host")
		run(b, h, r, http.StatusOK)
	})
	b.Run("rfc9421", func(b *testing.B) {
		r := request(http.MethodGet, "/orders?id=7", "")
		sign9421(r, secret, []string{"@method", "@target-uri", "date"}, created)
		run(b, h, r, http.StatusOK)
		if seen != user {
			b.Fatalf("handler saw %q", seen)
		}
	})
	b.Run("invalid-signature", func(b *testing.B) {
		r := request(http.MethodGet, "/orders?id=7", "")
		sign(r, keyID, "wrong-secret-0000", "hmac-sha256", "@request-target", "date")
		run(b, h, r, http.StatusUnauthorized)
	})
	b.Run("parallel/apisix", func(b *testing.B) {
		r := request(http.MethodGet, "/orders?id=7", "")
		sign(r, keyID, secret, "hmac-sha256", "@request-target", "date")
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			r := r.Clone(ctx)
			w := &nopWriter{h: http.Header{}}
			for pb.Next() {
				h.ServeHTTP(w, r)
			}
		})
	})
	b.Run("apisix/body-1KiB", func(b *testing.B) {
		body := string(make([]byte, 1024))
		r := request(http.MethodPost, "/orders", body)
		r.Header.Set("Digest", "SHA-256="+digestOf(body))
		sign(r, keyID, secret, "hmac-sha256", "@request-target", "date")
		w := &nopWriter{h: http.Header{}}
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			rr := r.Clone(ctx)
			rr.Body = http.NoBody
			rr.Body = nopCloser{stringsReader(body)}
			b.StartTimer()
			hb.ServeHTTP(w, rr)
		}
	})
}
