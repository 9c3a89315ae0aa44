package apikey_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/credential/apikey"
	"github.com/gatehousehq/gatehouse/keyring"
	"github.com/gatehousehq/gatehouse/route"
)

// quotaState reads GET /api/apikeys/{id}/quotas.
func (e *env) quotaState(t *testing.T, id string) map[string]any {
	t.Helper()
	code, body := e.admin(t, http.MethodGet, "/api/apikeys/"+id+"/quotas", "")
	require.Equal(t, http.StatusOK, code, body)
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &m))
	return m
}

func TestThrottlingQuota(t *testing.T) {
	e := newEnv(t)
	// t0 is 03:04:05: the 10-second window ends at 03:04:10.
	e.key(t, `{"clientId":"thr","clientSecret":"secret-thr-1","clientName":"thr","throttlingQuota":3}`)
	for i := range 3 {
		require.Equal(t, http.StatusOK, e.call(t, "open", http.MethodGet, pair("thr", "secret-thr-1")...).code, "call %d", i)
	}
	res := e.call(t, "open", http.MethodGet, pair("thr", "secret-thr-1")...)
	require.Equal(t, http.StatusTooManyRequests, res.code)
	require.JSONEq(t, `{"message":"You performed too much requests"}`, res.body)

	q := e.quotaState(t, "thr")
	require.EqualValues(t, 3, q["authorizedCallsPerSec"])
	require.EqualValues(t, 3, q["currentCallsPerSec"])
	require.EqualValues(t, 0, q["remainingCallsPerSec"])
	require.Nil(t, q["authorizedCallsPerDay"], "no daily quota: unlimited, shown as null")

	e.advance(5 * time.Second) // 03:04:10: a new window
	require.Equal(t, http.StatusOK, e.call(t, "open", http.MethodGet, pair("thr", "secret-thr-1")...).code)
	require.EqualValues(t, 1, e.quotaState(t, "thr")["currentCallsPerSec"])
}

func TestDailyAndMonthlyQuotas(t *testing.T) {
	e := newEnv(t)
	e.key(t, `{"clientId":"day","clientSecret":"secret-day-1","clientName":"day","throttlingQuota":100,"dailyQuota":2,"monthlyQuota":3}`)
	ok := func() int { return e.call(t, "open", http.MethodGet, pair("day", "secret-day-1")...).code }
	require.Equal(t, http.StatusOK, ok())
	require.Equal(t, http.StatusOK, ok())

	r := e.call(t, "open", http.MethodGet, pair("day", "secret-day-1")...)
	require.Equal(t, http.StatusTooManyRequests, r.code, "the daily quota is spent")
	// t0 is 2026-01-02 03:04:05 UTC: the calendar day ends at midnight UTC.
	wantRetry := time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC).Sub(t0)
	require.Equal(t, strconv.Itoa(int(wantRetry/time.Second)), r.sent.Get("Retry-After"), "seconds to midnight UTC")

	q := e.quotaState(t, "day")
	require.EqualValues(t, 2, q["currentCallsPerDay"])
	require.EqualValues(t, 2, q["currentCallsPerMonth"], "refused calls count in no quota")
	require.EqualValues(t, 2, q["currentCallsPerSec"])

	e.advance(wantRetry) // the next day, same month
	require.Equal(t, http.StatusOK, ok(), "a new calendar day gives the daily quota back")
	require.Equal(t, http.StatusTooManyRequests, ok(), "but the monthly quota (3) is now spent")
	q = e.quotaState(t, "day")
	require.EqualValues(t, 1, q["currentCallsPerDay"])
	require.EqualValues(t, 3, q["currentCallsPerMonth"])
	require.EqualValues(t, 0, q["remainingCallsPerMonth"])

	e.advance(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC).Sub(e.now())) // February
	require.Equal(t, http.StatusOK, ok(), "a new calendar month gives the monthly quota back")
}

func TestQuotaNotSpentByRefusedRequests(t *testing.T) {
	e := newEnv(t)
	e.key(t, `{"clientId":"grp","clientSecret":"secret-grp-1","clientName":"grp","authorizedEntities":["group_A"],"dailyQuota":1,"readOnly":true}`)
	require.Equal(t, http.StatusForbidden, e.call(t, "b", http.MethodGet, pair("grp", "secret-grp-1")...).code, "not authorized on B")
	require.Equal(t, http.StatusForbidden, e.call(t, "a", http.MethodPost, pair("grp", "secret-grp-1")...).code, "read-only")
	require.Equal(t, http.StatusUnauthorized, e.call(t, "a", http.MethodGet, pair("grp", "wrong-secret")...).code)
	require.EqualValues(t, 0, e.quotaState(t, "grp")["currentCallsPerDay"], "refusals spend no quota")
	require.Equal(t, http.StatusOK, e.call(t, "a", http.MethodGet, pair("grp", "secret-grp-1")...).code)
	require.Equal(t, http.StatusTooManyRequests, e.call(t, "a", http.MethodGet, pair("grp", "secret-grp-1")...).code)
}

func TestQuotaZeroAndUnlimited(t *testing.T) {
	e := newEnv(t)
	e.key(t, `{"clientId":"none","clientSecret":"secret-none-1","clientName":"none","dailyQuota":0}`)
	e.key(t, `{"clientId":"free","clientSecret":"secret-free-1","clientName":"free"}`)
	require.Equal(t, http.StatusTooManyRequests, e.call(t, "open", http.MethodGet, pair("none", "secret-none-1")...).code, "a quota of 0 allows nothing")
	for range 50 {
		require.Equal(t, http.StatusOK, e.call(t, "open", http.MethodGet, pair("free", "secret-free-1")...).code)
	}
	q := e.quotaState(t, "free")
	for _, f := range []string{"authorizedCallsPerSec", "currentCallsPerDay", "remainingCallsPerMonth"} {
		require.Contains(t, q, f)
		require.Nil(t, q[f], "%s of a key without quotas", f)
	}
}

func TestQuotaChangeAndReset(t *testing.T) {
	e := newEnv(t)
	e.key(t, `{"clientId":"chg","clientSecret":"secret-chg-1","clientName":"chg","dailyQuota":1}`)
	require.Equal(t, http.StatusOK, e.call(t, "open", http.MethodGet, pair("chg", "secret-chg-1")...).code)
	require.Equal(t, http.StatusTooManyRequests, e.call(t, "open", http.MethodGet, pair("chg", "secret-chg-1")...).code)

	code, body := e.admin(t, http.MethodPatch, "/api/apikeys/chg", `{"dailyQuota":2}`)
	require.Equal(t, http.StatusOK, code, body)
	require.NoError(t, e.gw.Refresh(context.Background()))
	require.Equal(t, http.StatusOK, e.call(t, "open", http.MethodGet, pair("chg", "secret-chg-1")...).code, "a raised quota applies to today's count")
	require.Equal(t, http.StatusTooManyRequests, e.call(t, "open", http.MethodGet, pair("chg", "secret-chg-1")...).code)

	code, body = e.admin(t, http.MethodDelete, "/api/apikeys/chg/quotas", "")
	require.Equal(t, http.StatusOK, code, body)
	require.JSONEq(t, `{"authorizedCallsPerSec":null,"currentCallsPerSec":null,"remainingCallsPerSec":null,
		"authorizedCallsPerDay":2,"currentCallsPerDay":0,"remainingCallsPerDay":2,
		"authorizedCallsPerMonth":null,"currentCallsPerMonth":null,"remainingCallsPerMonth":null}`, body)
	require.Equal(t, http.StatusOK, e.call(t, "open", http.MethodGet, pair("chg", "secret-chg-1")...).code, "reset gives the quota back")

	code, _ = e.admin(t, http.MethodGet, "/api/apikeys/ghost/quotas", "")
	require.Equal(t, http.StatusNotFound, code)
	code, _ = e.admin(t, http.MethodDelete, "/api/apikeys/ghost/quotas", "")
	require.Equal(t, http.StatusNotFound, code)

	// Deleting the key forgets its counts: a key created again starts afresh.
	code, _ = e.admin(t, http.MethodDelete, "/api/apikeys/chg", "")
	require.Equal(t, http.StatusNoContent, code)
	e.key(t, `{"clientId":"chg","clientSecret":"secret-chg-2","clientName":"chg","dailyQuota":2}`)
	require.EqualValues(t, 0, e.quotaState(t, "chg")["currentCallsPerDay"])
}

// TestQuotasSharedThroughTheLimiter runs two gateways (two instances) over
// one store and one limiter: the quota is counted once for both.
func TestQuotasSharedThroughTheLimiter(t *testing.T) {
	e := newEnv(t)
	e.key(t, `{"clientId":"shr","clientSecret":"secret-shr-1","clientName":"shr","dailyQuota":3}`)
	second, err := gatehouse.New(context.Background(), e.st,
		gatehouse.WithPlugins(apikey.Definition{Ring: e.ring, Now: e.now}),
		gatehouse.WithClock(e.now), gatehouse.WithLimiter(e.lim),
		gatehouse.WithRoutes(route.Route{ID: "open"}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = second.Close() })
	other := &env{st: e.st, lim: e.lim, gw: second}
	other.clock.Store(e.clock.Load())
	require.Equal(t, http.StatusOK, e.call(t, "open", http.MethodGet, pair("shr", "secret-shr-1")...).code)
	require.Equal(t, http.StatusOK, other.call(t, "open", http.MethodGet, pair("shr", "secret-shr-1")...).code)
	require.Equal(t, http.StatusOK, e.call(t, "open", http.MethodGet, pair("shr", "secret-shr-1")...).code)
	require.Equal(t, http.StatusTooManyRequests, other.call(t, "open", http.MethodGet, pair("shr", "secret-shr-1")...).code,
		"the second instance sees the calls made through the first")
}

// TestSecretQuotas checks the windows a compiled key hands to the limiter,
// across a 10-second, day and month boundary and back (a clock set back).
func TestSecretQuotas(t *testing.T) {
	ring, _ := keyring.Generate()
	def := apikey.Definition{Ring: ring}
	compile := func(t *testing.T, settings string) *apikey.Secret {
		t.Helper()
		sealed, err := def.Seal(json.RawMessage(settings), nil)
		require.NoError(t, err)
		sec, err := def.Compile(sealed.Stored)
		require.NoError(t, err)
		return sec.(*apikey.Secret)
	}
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339Nano, s)
		require.NoError(t, err)
		return v
	}
	type window struct {
		name string
		max  int64
		end  string
	}
	all := compile(t, `{"clientId":"all","clientSecret":"secret-all-1","throttlingQuota":5,"dailyQuota":50,"monthlyQuota":500}`)
	monthly := compile(t, `{"clientId":"mon","clientSecret":"secret-mon-1","monthlyQuota":7}`)
	for _, tc := range []struct {
		name string
		sec  *apikey.Secret
		now  string
		want []window
	}{
		{"last seconds of a month", all, "2026-01-31T23:59:55Z", []window{
			{"throttling", 5, "2026-02-01T00:00:00Z"}, {"daily", 50, "2026-02-01T00:00:00Z"}, {"monthly", 500, "2026-02-01T00:00:00Z"}}},
		{"the next month", all, "2026-02-01T00:00:00Z", []window{
			{"throttling", 5, "2026-02-01T00:00:10Z"}, {"daily", 50, "2026-02-02T00:00:00Z"}, {"monthly", 500, "2026-03-01T00:00:00Z"}}},
		{"the same 10 seconds", all, "2026-02-01T00:00:09.999Z", []window{
			{"throttling", 5, "2026-02-01T00:00:10Z"}, {"daily", 50, "2026-02-02T00:00:00Z"}, {"monthly", 500, "2026-03-01T00:00:00Z"}}},
		{"a clock set back", all, "2026-01-31T23:59:59Z", []window{
			{"throttling", 5, "2026-02-01T00:00:00Z"}, {"daily", 50, "2026-02-01T00:00:00Z"}, {"monthly", 500, "2026-02-01T00:00:00Z"}}},
		{"one quota only", monthly, "2026-02-14T12:00:00Z", []window{{"monthly", 7, "2026-03-01T00:00:00Z"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, ws := tc.sec.Quotas(at(tc.now))
			require.NotEmpty(t, key)
			got := make([]window, len(ws))
			for i, w := range ws {
				got[i] = window{w.Name, w.Max, w.End.UTC().Format(time.RFC3339Nano)}
			}
			require.Equal(t, tc.want, got)
		})
	}
	ka, _ := all.Quotas(t0)
	km, _ := monthly.Quotas(t0)
	require.NotEqual(t, ka, km, "each API key is counted under a key of its own")

	none := compile(t, `{"clientId":"none","clientSecret":"secret-none-1"}`)
	require.False(t, none.HasQuotas())
	key, ws := none.Quotas(t0)
	require.Empty(t, key)
	require.Empty(t, ws)
}
