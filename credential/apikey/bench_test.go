package apikey_test

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
	"github.com/gatehousehq/gatehouse/credential/apikey"
	"github.com/gatehousehq/gatehouse/keyring"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store/memory"
)

type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}

// BenchmarkProtect measures a valid request through gw.Protect with 10,000
// API keys (one consumer each), for every way of presenting a key, and for a
// key whose three quotas are counted by the memory limiter.
func BenchmarkProtect(b *testing.B) {
	const keys = 10_000
	ctx := context.Background()
	ring, _ := keyring.Generate()
	def := apikey.Definition{Ring: ring}
	st := memory.New()
	for i := range keys {
		id := fmt.Sprintf("key-%05d", i)
		quotas := ""
		if i == 4243 { // one key counts all three quotas (never spent here)
			quotas = `,"throttlingQuota":1000000000,"dailyQuota":1000000000,"monthlyQuota":1000000000`
		}
		sealed, err := def.Seal(json.RawMessage(fmt.Sprintf(`{"clientId":%q,"clientSecret":"secret-%05d","allowClientIdOnly":true%s}`, id, i, quotas)), nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := st.PutConsumer(ctx, id, func(*consumer.Consumer) (*consumer.Consumer, error) {
			return &consumer.Consumer{Username: id}, nil
		}); err != nil {
			b.Fatal(err)
		}
		if _, _, err := st.PutCredential(ctx, id, id, func(*credential.Credential) (*credential.Credential, error) {
			return &credential.Credential{ID: id, Name: id, Enabled: true, Lookup: sealed.Lookup,
				Plugins: map[string]json.RawMessage{apikey.Name: sealed.Stored}}, nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	gw, err := gatehouse.New(ctx, st, gatehouse.WithPlugins(def),
		gatehouse.WithRoutes(route.Route{ID: "r", Plugins: map[string]json.RawMessage{apikey.Name: json.RawMessage(`{}`)}}))
	if err != nil {
		b.Fatal(err)
	}
	defer gw.Close()
	var seen string
	h := gw.Protect("r", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := consumer.FromContext(r.Context())
		seen = c.Username
	}))
	for _, src := range []struct {
		name string
		hdr  map[string]string
	}{
		{"headers", map[string]string{"Otoroshi-Client-Id": "key-04242", "Otoroshi-Client-Secret": "secret-04242"}},
		{"basic", map[string]string{"Authorization": basic("key-04242", "secret-04242")}},
		{"client-id-only", map[string]string{"X-Api-Key": "key-04242"}},
		{"headers-quotas", map[string]string{"Otoroshi-Client-Id": "key-04243", "Otoroshi-Client-Secret": "secret-04243"}},
	} {
		b.Run(src.name, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodGet, "/orders", nil)
			for k, v := range src.hdr {
				r.Header.Set(k, v)
			}
			w := &nopWriter{h: http.Header{}}
			seen = ""
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, r)
			}
			if seen != src.hdr["Otoroshi-Client-Id"] && seen != "key-04242" {
				b.Fatalf("handler saw %q", seen)
			}
		})
	}
}
