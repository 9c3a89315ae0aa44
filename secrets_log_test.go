package gatehouse_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/admin"
	"github.com/gatehousehq/gatehouse/internal/testlog"
	"github.com/gatehousehq/gatehouse/ratelimit"
	rlmemory "github.com/gatehousehq/gatehouse/ratelimit/memory"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store/memory"
)

// switchLimiter is a memory limiter that fails every call while down is set.
type switchLimiter struct {
	*rlmemory.Limiter
	down atomic.Bool
}

func (s *switchLimiter) Allow(ctx context.Context, key string, l ratelimit.Limit, n int64) (ratelimit.Decision, error) {
	if s.down.Load() {
		return ratelimit.Decision{}, errLimiterDown
	}
	return s.Limiter.Allow(ctx, key, l, n)
}

func (s *switchLimiter) Consume(ctx context.Context, key string, ws []ratelimit.QuotaWindow, n int64, used []int64) (bool, error) {
	if s.down.Load() {
		return false, errLimiterDown
	}
	return s.Limiter.Consume(ctx, key, ws, n, used)
}

// TestSecretsNeverLogged drives every credential scheme through the admin
// API and the data plane, successes and every kind of failure, admin writes
// and their errors, and a limiter outage, with the gateway, the admin
// handler and the limiters logging at debug level; then it searches the
// whole log for every secret that was written or presented.
func TestSecretsNeverLogged(t *testing.T) {
	const (
		adminKey       = "admin-key-SECRET-0001"
		wrongAdminKey  = "admin-key-WRONG-SECRET-0002"
		apiKey         = "ka-SECRET-key-0001"
		newAPIKey      = "ka-SECRET-key-rotated-0002"
		wrongAPIKey    = "ka-WRONG-SECRET-key-0003"
		password       = "ba-SECRET-password-0001"
		wrongPassword  = "ba-WRONG-SECRET-password-0002"
		hmacSecret     = "hm-SECRET-hmac-secret-0001"
		wrongHMAC      = "hm-WRONG-SECRET-hmac-0002"
		jwtSecret      = "jw-SECRET-jwt-secret-0001-long-enough"
		wrongJWTSecret = "jw-WRONG-SECRET-jwt-0002-long-enough"
		clientSecret   = "ak-SECRET-client-secret-0001"
		wrongClient    = "ak-WRONG-SECRET-client-0002"
		rejectedKey    = "ka-SECRET-in-a-refused-write-0004"
	)
	var logs testlog.Buffer
	log := testlog.New(&logs)
	lim := &switchLimiter{Limiter: rlmemory.New()}
	plugins := func(p map[string]string) map[string]json.RawMessage {
		out := map[string]json.RawMessage{}
		for k, v := range p {
			out[k] = json.RawMessage(v)
		}
		return out
	}
	gw, err := gatehouse.New(context.Background(), memory.New(), gatehouse.WithLogger(log), gatehouse.WithLimiter(lim),
		gatehouse.WithRoutes(
			route.Route{ID: "ka", Plugins: plugins(map[string]string{"key-auth": `{}`,
				"limit-count": `{"count":100,"time_window":60,"key_type":"consumer","allow_degradation":true}`})},
			route.Route{ID: "kb", Plugins: plugins(map[string]string{"key-auth": `{}`,
				"limit-count": `{"count":100,"time_window":60,"key_type":"consumer"}`})},
			route.Route{ID: "ba", Plugins: plugins(map[string]string{"basic-auth": `{}`})},
			route.Route{ID: "hm", Plugins: plugins(map[string]string{"hmac-auth": `{}`})},
			route.Route{ID: "jw", Plugins: plugins(map[string]string{"jwt-auth": `{}`})},
			route.Route{ID: "ak", Plugins: plugins(map[string]string{"apikey-auth": `{}`})},
		))
	require.NoError(t, err)
	t.Cleanup(func() { _ = gw.Close() })
	adm := gw.AdminHandler(admin.WithKey(adminKey))
	adminDo := func(key, method, path, body string, want int) {
		t.Helper()
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("X-API-KEY", key)
		w := httptest.NewRecorder()
		adm.ServeHTTP(w, r)
		require.Equal(t, want, w.Code, "%s %s: %s", method, path, w.Body.String())
	}

	// Admin writes carrying secrets, and refused ones.
	adminDo(adminKey, "POST", "/api/consumers", `{"username":"alice"}`, http.StatusCreated)
	adminDo(adminKey, "POST", "/api/consumers", `{"username":"mallory"}`, http.StatusCreated)
	adminDo(adminKey, "POST", "/api/consumers/alice/credentials", `{"name":"ka","plugins":{"key-auth":{"key":"`+apiKey+`"}}}`, http.StatusCreated)
	adminDo(adminKey, "POST", "/api/consumers/alice/credentials", `{"name":"ba","plugins":{"basic-auth":{"username":"alice","password":"`+password+`"}}}`, http.StatusCreated)
	adminDo(adminKey, "POST", "/api/consumers/alice/credentials", `{"name":"hm","plugins":{"hmac-auth":{"key_id":"alice-hmac","secret_key":"`+hmacSecret+`"}}}`, http.StatusCreated)
	adminDo(adminKey, "POST", "/api/consumers/alice/credentials", `{"name":"jw","plugins":{"jwt-auth":{"key":"alice-jwt","secret":"`+jwtSecret+`"}}}`, http.StatusCreated)
	adminDo(adminKey, "POST", "/api/apikeys", `{"clientId":"alice-app","clientSecret":"`+clientSecret+`","clientName":"app","consumer":"alice"}`, http.StatusCreated)
	adminDo(adminKey, "POST", "/api/consumers/mallory/credentials", `{"name":"dup","plugins":{"key-auth":{"key":"`+apiKey+`"}}}`, http.StatusConflict)
	adminDo(adminKey, "POST", "/api/consumers/mallory/credentials", `{"name":"bad","plugins":{"key-auth":{"key":"`+rejectedKey+`","bogus":1}}}`, http.StatusBadRequest)
	adminDo(adminKey, "POST", "/api/consumers/nobody/credentials", `{"name":"x","plugins":{"key-auth":{"key":"`+rejectedKey+`"}}}`, http.StatusNotFound)
	adminDo(adminKey, "POST", "/api/consumers/mallory/credentials", `{"name":"trunc","plugins":{"key-auth":{"key":"`+rejectedKey, http.StatusBadRequest)
	adminDo(wrongAdminKey, "POST", "/api/consumers/mallory/credentials", `{"name":"w","plugins":{"key-auth":{"key":"`+rejectedKey+`"}}}`, http.StatusUnauthorized)
	adminDo(adminKey, "PUT", "/api/consumers/alice/credentials/kb", `{"name":"kb","plugins":{"key-auth":{"key":"`+newAPIKey+`"}}}`, http.StatusCreated)
	adminDo(adminKey, "PATCH", "/api/apikeys/alice-app", `{"clientSecret":"`+clientSecret+`"}`, http.StatusOK)
	adminDo(adminKey, "GET", "/api/consumers/alice/credentials", ``, http.StatusOK)
	require.NoError(t, gw.Refresh(context.Background()))

	// The data plane: every scheme, success and failure.
	call := func(routeID string, want int, set func(r *http.Request)) {
		t.Helper()
		r := httptest.NewRequest(http.MethodGet, "/orders?x=1", nil)
		r.Header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
		set(r)
		w := httptest.NewRecorder()
		gw.Protect(routeID, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(w, r)
		require.Equal(t, want, w.Code, "%s: %s", routeID, w.Body.String())
	}
	header := func(k, v string) func(*http.Request) { return func(r *http.Request) { r.Header.Set(k, v) } }
	call("ka", http.StatusOK, header("apikey", apiKey))
	call("ka", http.StatusUnauthorized, header("apikey", wrongAPIKey))
	call("ka", http.StatusUnauthorized, header("Authorization", "Bearer "+wrongAPIKey))
	call("ka", http.StatusUnauthorized, func(r *http.Request) { r.URL.RawQuery = "apikey=" + wrongAPIKey })
	call("kb", http.StatusOK, header("apikey", newAPIKey))
	call("ba", http.StatusOK, func(r *http.Request) { r.SetBasicAuth("alice", password) })
	call("ba", http.StatusUnauthorized, func(r *http.Request) { r.SetBasicAuth("alice", wrongPassword) })
	call("ba", http.StatusUnauthorized, func(r *http.Request) { r.SetBasicAuth("alice", wrongPassword) }) // the cached failure
	call("ba", http.StatusUnauthorized, header("Authorization", "Basic "+wrongPassword))                  // not base64
	signed := func(secret string) func(*http.Request) {
		return func(r *http.Request) {
			sts := "alice-hmac\n" + r.Method + " " + r.URL.RequestURI() + "\ndate: " + r.Header.Get("Date") + "\n"
			m := hmac.New(sha256.New, []byte(secret))
			m.Write([]byte(sts))
			sig := base64.StdEncoding.EncodeToString(m.Sum(nil))
			r.Header.Set("Authorization", `Signature keyId="alice-hmac",algorithm="hmac-sha256",headers="@request-target date",signature="`+sig+`"`)
		}
	}
	call("hm", http.StatusOK, signed(hmacSecret))
	call("hm", http.StatusUnauthorized, signed(wrongHMAC))
	token := func(secret string, exp time.Time) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"key": "alice-jwt", "exp": exp.Unix()}).SignedString([]byte(secret))
		require.NoError(t, err)
		return s
	}
	good, forged, expired := token(jwtSecret, time.Now().Add(time.Hour)), token(wrongJWTSecret, time.Now().Add(time.Hour)), token(jwtSecret, time.Now().Add(-time.Hour))
	call("jw", http.StatusOK, header("Authorization", "Bearer "+good))
	call("jw", http.StatusUnauthorized, header("Authorization", "Bearer "+forged))
	call("jw", http.StatusUnauthorized, header("Authorization", "Bearer "+expired))
	call("jw", http.StatusUnauthorized, header("Authorization", "Bearer "+wrongJWTSecret+".not.a-jwt"))
	call("ak", http.StatusOK, func(r *http.Request) {
		r.Header.Set("Otoroshi-Client-Id", "alice-app")
		r.Header.Set("Otoroshi-Client-Secret", clientSecret)
	})
	call("ak", http.StatusUnauthorized, func(r *http.Request) {
		r.Header.Set("Otoroshi-Client-Id", "alice-app")
		r.Header.Set("Otoroshi-Client-Secret", wrongClient)
	})
	call("ak", http.StatusUnauthorized, func(r *http.Request) { r.SetBasicAuth("alice-app", wrongClient) })

	// The limiter fails: degraded, fail-closed.
	lim.down.Store(true)
	call("ka", http.StatusOK, header("apikey", apiKey))
	call("kb", http.StatusInternalServerError, header("apikey", newAPIKey))
	lim.down.Store(false)
	call("ka", http.StatusOK, header("apikey", apiKey))

	out := logs.String()
	for _, want := range []string{"gatehouse: request refused", "hmac-auth: request refused", "jwt-auth:", "apikey-auth: request refused",
		"admin: request refused", "rate limiter unavailable", "rate limiter recovered"} {
		require.Contains(t, out, want, "the debug log has the line this test checks")
	}
	for _, secret := range []string{adminKey, wrongAdminKey, apiKey, newAPIKey, wrongAPIKey, password, wrongPassword,
		hmacSecret, wrongHMAC, jwtSecret, wrongJWTSecret, clientSecret, wrongClient, rejectedKey, good, forged, expired,
		base64.StdEncoding.EncodeToString([]byte("alice:" + password)), base64.StdEncoding.EncodeToString([]byte("alice:" + wrongPassword)),
		base64.StdEncoding.EncodeToString([]byte("alice-app:" + wrongClient))} {
		require.NotContains(t, out, secret, "a secret in the log:\n%s", out)
	}
	for _, part := range []string{"SECRET", strings.Split(good, ".")[2], strings.Split(forged, ".")[2]} {
		require.NotContains(t, out, part)
	}
}
