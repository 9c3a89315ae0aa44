package gatehouse_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/credential/apikey"
	"github.com/gatehousehq/gatehouse/keyring"
	"github.com/gatehousehq/gatehouse/ratelimit"
	rlmemory "github.com/gatehousehq/gatehouse/ratelimit/memory"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store/memory"
)

// flakyQuotas is a memory limiter whose quota counter fails while down is set.
type flakyQuotas struct {
	*rlmemory.Limiter
	down atomic.Bool
}

var errQuotaBackend = errors.New("quota back-end unreachable")

func (f *flakyQuotas) Consume(ctx context.Context, key string, ws []ratelimit.QuotaWindow, n int64, used []int64) (bool, error) {
	if f.down.Load() {
		return false, errQuotaBackend
	}
	return f.Limiter.Consume(ctx, key, ws, n, used)
}

// quotaGateway serves route "r" (apikey-auth) with one API key "k" whose
// settings are extra, at a clock the test sets.
func quotaGateway(t *testing.T, extra string, lim ratelimit.Limiter, log *slog.Logger, now func() time.Time, opts ...gatehouse.Option) http.Handler {
	t.Helper()
	ctx := context.Background()
	ring, _ := keyring.Generate()
	def := apikey.Definition{Ring: ring, Now: now}
	st := memory.New()
	sealed, err := def.Seal(json.RawMessage(`{"clientId":"k","clientSecret":"secret-k-123"`+extra+`}`), nil)
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
	gw, err := gatehouse.New(ctx, st, append([]gatehouse.Option{gatehouse.WithPlugins(def), gatehouse.WithLimiter(lim),
		gatehouse.WithLogger(log), gatehouse.WithClock(now),
		gatehouse.WithRoutes(route.Route{ID: "r", Plugins: map[string]json.RawMessage{apikey.Name: json.RawMessage(`{}`)}})}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = gw.Close() })
	return gw.Protect("r", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
}

func quotaCall(h http.Handler) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Otoroshi-Client-Id", "k")
	r.Header.Set("Otoroshi-Client-Secret", "secret-k-123")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestQuotaRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name   string
		extra  string
		now    time.Time
		allow  int
		retry  string
		reason string
	}{
		{"throttling", `,"throttlingQuota":2,"dailyQuota":100`, time.Date(2026, 3, 4, 5, 6, 7, 500_000_000, time.UTC), 2, "3",
			"2.5 s to 05:06:10, rounded up"},
		{"daily", `,"throttlingQuota":100,"dailyQuota":1,"monthlyQuota":100`, time.Date(2026, 3, 4, 23, 0, 0, 0, time.UTC), 1, "3600",
			"an hour to midnight UTC"},
		{"daily and monthly both spent", `,"dailyQuota":1,"monthlyQuota":1`, time.Date(2026, 3, 30, 22, 0, 0, 0, time.UTC), 1, "93600",
			"the later of the spent windows' ends: April, a day and two hours away"},
		{"monthly", `,"dailyQuota":10,"monthlyQuota":1`, time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC), 1, "1425600",
			"16.5 days to April"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := quotaGateway(t, tc.extra, rlmemory.New(rlmemory.WithClock(func() time.Time { return tc.now })), discardLogger(),
				func() time.Time { return tc.now })
			for i := range tc.allow {
				require.Equal(t, http.StatusOK, quotaCall(h).Code, "call %d", i)
			}
			w := quotaCall(h)
			require.Equal(t, http.StatusTooManyRequests, w.Code)
			require.JSONEq(t, `{"message":"You performed too much requests"}`, w.Body.String())
			require.Equal(t, tc.retry, w.Header().Get("Retry-After"), tc.reason)
		})
	}
}

// TestQuotaLimiterOutage checks that quotas fail closed when the limiter
// fails, and that the outage is logged once and its end once.
func TestQuotaLimiterOutage(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	lim := &flakyQuotas{Limiter: rlmemory.New()}
	h := quotaGateway(t, `,"dailyQuota":100`, lim, log, time.Now)
	require.Equal(t, http.StatusOK, quotaCall(h).Code)

	lim.down.Store(true)
	for range 5 {
		w := quotaCall(h)
		require.Equal(t, http.StatusInternalServerError, w.Code)
		require.JSONEq(t, `{"message":"quota check unavailable"}`, w.Body.String())
	}
	require.Equal(t, 1, strings.Count(logs.String(), "limiter failing"), logs.String())
	require.Contains(t, logs.String(), errQuotaBackend.Error())

	lim.down.Store(false)
	for range 3 {
		require.Equal(t, http.StatusOK, quotaCall(h).Code)
	}
	require.Equal(t, 1, strings.Count(logs.String(), "limiter recovered"), logs.String())
	require.Equal(t, 1, strings.Count(logs.String(), "limiter failing"))
}

// Without WithClock, quota windows are computed with the limiter's clock
// (ratelimit.QuotaClock), the one its counts follow: an hour before midnight
// by the limiter's clock, a spent daily quota says Retry-After: 3600 whatever
// time.Now says.
func TestQuotaWindowsFollowTheLimitersClock(t *testing.T) {
	at := time.Date(2026, 3, 4, 23, 0, 0, 0, time.UTC)
	lim := rlmemory.New(rlmemory.WithClock(func() time.Time { return at }))
	require.True(t, lim.Now().Equal(at))
	h := quotaGateway(t, `,"dailyQuota":1`, lim, discardLogger(), nil)
	require.Equal(t, http.StatusOK, quotaCall(h).Code)
	w := quotaCall(h)
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	require.Equal(t, "3600", w.Header().Get("Retry-After"))
}
