package redislimiter_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/credential/apikey"
	"github.com/gatehousehq/gatehouse/keyring"
	"github.com/gatehousehq/gatehouse/ratelimit/redislimiter"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store/memory"
)

// Two gateway instances given redis limiters with one prefix
// (gatehouse.WithLimiter) count an API key's daily quota together: the
// gateway finds the limiter's ratelimit.QuotaCounter by itself.
func TestGatewayQuotasShared(t *testing.T) {
	ctx := context.Background()
	ring, _ := keyring.Generate()
	st := memory.New()
	def := apikey.Definition{Ring: ring}
	sealed, err := def.Seal(json.RawMessage(`{"clientId":"k","clientSecret":"secret-k-123","dailyQuota":3}`), nil)
	require.NoError(t, err)
	_, _, err = st.PutConsumer(ctx, "k", func(*consumer.Consumer) (*consumer.Consumer, error) {
		return &consumer.Consumer{Username: "k"}, nil
	})
	require.NoError(t, err)
	_, _, err = st.PutCredential(ctx, "k", "k", func(*credential.Credential) (*credential.Credential, error) {
		return &credential.Credential{ID: "k", Name: "k", Enabled: true, Lookup: sealed.Lookup,
			Plugins: map[string]json.RawMessage{apikey.Name: sealed.Stored}}, nil
	})
	require.NoError(t, err)

	first := newClient(t, "")
	prefix := testPrefix(t, first)
	var handlers []http.Handler
	for i := range 2 {
		client := first // each instance with a client of its own
		if i > 0 {
			client = newClient(t, "")
		}
		gw, err := gatehouse.New(ctx, st, gatehouse.WithKeyRing(ring),
			gatehouse.WithLimiter(redislimiter.New(client, redislimiter.WithPrefix(prefix))),
			gatehouse.WithRoutes(route.Route{ID: "r", Plugins: map[string]json.RawMessage{apikey.Name: json.RawMessage(`{}`)}}))
		require.NoError(t, err)
		t.Cleanup(func() { _ = gw.Close() })
		handlers = append(handlers, gw.Protect("r", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})))
	}
	call := func(h http.Handler) int {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Otoroshi-Client-Id", "k")
		r.Header.Set("Otoroshi-Client-Secret", "secret-k-123")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	for i, want := range []int{http.StatusOK, http.StatusOK, http.StatusOK, http.StatusTooManyRequests, http.StatusTooManyRequests} {
		require.Equal(t, want, call(handlers[i%2]), "request %d, instance %d", i, i%2)
	}
	keys, err := first.Keys(ctx, prefix+"q:*").Result()
	require.NoError(t, err)
	require.Len(t, keys, 1, "one quota hash for the key, in Redis")
}
