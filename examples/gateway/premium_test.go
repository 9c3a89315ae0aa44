package main

import (
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// premiumUsers is the body of "Creating a Consumer Group" in the consumer
// groups documentation (reference/consumer-groups-enterprise.md), verbatim.
const premiumUsers = `{
  "name": "Premium Users",
  "required_plugins": [
    {
      "name": "advanced_rate_limiter",
      "enabled": true,
      "stage": "pre_request",
      "priority": 1,
      "settings": {
        "limits": {
          "global": {
            "limit": 1000,
            "window": "1m"
          },
          "per_ip": {
            "limit": 100,
            "window": "1m"
          },
          "per_user": {
            "limit": 50,
            "window": "1m"
          }
        },
        "actions": {
          "type": "reject",
          "retry_after": "60"
        }
      }
    }
  ]
}`

// TestPremiumUsersExample follows the documented consumer-group example over
// real HTTP: the group, a key for user123, then 51 requests within a minute:
// 50 pass, the 51st is 429 with Retry-After: 60.
func TestPremiumUsersExample(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	g := startGateway(t)
	r := g.adminDo(t, http.MethodPost, "/api/routes",
		`{"id":"endpoint","frontend":{"paths":["/endpoint"]},"backend":{"target":"`+up.URL+`"},"plugins":{"key-auth":{}}}`)
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)

	r = g.adminDo(t, http.MethodPost, "/api/v1/gateways/default/consumer-groups", premiumUsers)
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	groupID := r.json(t)["id"].(string)

	r = g.adminDo(t, http.MethodPost, "/api/v1/gateways/default/consumer-groups/"+groupID+"/keys", `{
    "user_id": "user123"
  }`)
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	key := r.json(t)["key"].(string)

	first := pollStatus(t, http.StatusOK, http.MethodGet, g.data+"/endpoint", "Authorization", "Bearer "+key)
	require.Equal(t, "user123", decodeEcho(t, first).User)
	require.Equal(t, "50", first.header.Get("X-Ratelimit-Limit"), "the tightest limit is reported")
	require.Equal(t, "49", first.header.Get("X-Ratelimit-Remaining"))
	require.Contains(t, first.header.Get("RateLimit-Policy"), `"per_user";q=50;w=60`)
	for i := 2; i <= 50; i++ {
		r := do(t, http.MethodGet, g.data+"/endpoint", "", "Authorization", "Bearer "+key)
		require.Equal(t, http.StatusOK, r.status, "request %d: %s", i, r.body)
	}
	r = do(t, http.MethodGet, g.data+"/endpoint", "", "Authorization", "Bearer "+key)
	require.Equal(t, http.StatusTooManyRequests, r.status, "request 51: %s", r.body)
	require.Equal(t, "60", r.header.Get("Retry-After"))
	body := r.json(t)
	require.Equal(t, "rate limit exceeded", body["error"])
	require.Equal(t, "per_user", body["limit"])
	require.EqualValues(t, 60, body["retry_after"])
	require.Equal(t, "0", r.header.Get("X-Ratelimit-Remaining"))

	// Another member of the group has a budget of its own.
	r = g.adminDo(t, http.MethodPost, "/api/v1/gateways/default/consumer-groups/"+groupID+"/keys", `{"user_id": "user456"}`)
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	other, otherID := r.json(t)["key"].(string), r.json(t)["id"].(string)
	r = pollStatus(t, http.StatusOK, http.MethodGet, g.data+"/endpoint", "Authorization", "Bearer "+other)
	require.Equal(t, "user456", decodeEcho(t, r).User)
	require.Equal(t, "49", r.header.Get("X-Ratelimit-Remaining"))

	list := g.adminDo(t, http.MethodGet, "/api/v1/gateways/default/consumer-groups/"+groupID+"/keys", "")
	require.Equal(t, http.StatusOK, list.status)
	require.NotContains(t, string(list.body), key, "keys are listed by preview only")

	// A revoked key stops working.
	r = g.adminDo(t, http.MethodDelete, "/api/v1/gateways/default/consumer-groups/"+groupID+"/keys/"+otherID, "")
	require.Equal(t, http.StatusNoContent, r.status, "body: %s", r.body)
	pollStatus(t, http.StatusUnauthorized, http.MethodGet, g.data+"/endpoint", "Authorization", "Bearer "+other)
}

// TestPremiumUsersExampleWithCurl sends the documented curl commands as
// written, adding only the admin key header and the addresses and ids of
// this run.
func TestPremiumUsersExampleWithCurl(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	g := startGateway(t)
	curl := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("curl", append([]string{"-sS"}, args...)...).CombinedOutput()
		require.NoError(t, err, "curl: %s", out)
		return string(out)
	}
	base := "http://" + g.adminAddr
	out := curl("-X", "POST", base+"/api/v1/gateways/default/consumer-groups",
		"-H", "Content-Type: application/json",
		"-H", "X-API-KEY: "+testAdminKey,
		"-d", premiumUsers)
	require.Contains(t, out, `"name":"Premium Users"`, out)
	groupID := between(t, out, `"id":"`, `"`)
	out = curl("-X", "POST", base+"/api/v1/gateways/default/consumer-groups/"+groupID+"/keys",
		"-H", "Content-Type: application/json",
		"-H", "X-API-KEY: "+testAdminKey,
		"-d", `{
    "user_id": "user123"
  }`)
	require.Contains(t, out, `"user_id":"user123"`, out)
	require.True(t, strings.HasPrefix(between(t, out, `"key":"`, `"`), "ghk_"), out)
}

func between(t *testing.T, s, start, end string) string {
	t.Helper()
	_, rest, ok := strings.Cut(s, start)
	require.True(t, ok, "%q not in %s", start, s)
	v, _, ok := strings.Cut(rest, end)
	require.True(t, ok)
	return v
}

// TestTrustedProxies: per-IP limits count the client behind a trusted proxy
// (the right-most untrusted X-Forwarded-For entry) and ignore the header from
// anyone else.
func TestTrustedProxies(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	for _, tc := range []struct {
		name    string
		args    []string
		trusted bool
	}{
		{"behind a trusted proxy", []string{"-trusted-proxies", "127.0.0.1, ::1"}, true},
		{"no proxy trusted", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := startGateway(t, tc.args...)
			r := g.adminDo(t, http.MethodPost, "/api/routes",
				`{"id":"open","frontend":{"paths":["/open"]},"backend":{"target":"`+up.URL+`"},
				  "plugins":{"limit-count":{"count":1,"time_window":60,"key_type":"ip"}}}`)
			require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
			pollStatus(t, http.StatusOK, http.MethodGet, g.data+"/open", "X-Forwarded-For", "203.0.113.7")
			r = do(t, http.MethodGet, g.data+"/open", "", "X-Forwarded-For", "203.0.113.7")
			require.Equal(t, http.StatusTooManyRequests, r.status, "the same client again")
			r = do(t, http.MethodGet, g.data+"/open", "", "X-Forwarded-For", "198.51.100.9, 203.0.113.7")
			require.Equal(t, http.StatusTooManyRequests, r.status, "a spoofed entry left of the client changes nothing")
			r = do(t, http.MethodGet, g.data+"/open", "", "X-Forwarded-For", "198.51.100.9")
			if tc.trusted {
				require.Equal(t, http.StatusOK, r.status, "another client behind the proxy has its own budget")
			} else {
				require.Equal(t, http.StatusTooManyRequests, r.status, "X-Forwarded-For from an untrusted peer is ignored")
			}
		})
	}
}
