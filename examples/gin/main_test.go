package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"
)

// The Gin engine over real HTTP: the admin API mounted in it creates a
// consumer and a key; the protected handler sees the consumer; requests
// without a key get 401 and the fourth within the minute 429.
func TestGinRouter(t *testing.T) {
	gin.SetMode(gin.TestMode)
	r, err := newRouter(t.Context(), "admin-key")
	require.NoError(t, err)
	ts := httptest.NewServer(r)
	defer ts.Close()

	send := func(method, path, body string, header ...string) (*http.Response, string) {
		req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res, string(b)
	}

	res, body := send("GET", "/orders/7", "")
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	require.JSONEq(t, `{"message":"Missing API key in request"}`, body)
	require.Equal(t, `Key realm="key"`, res.Header.Get("WWW-Authenticate"))

	res, _ = send("POST", "/admin/api/consumers", `{"username":"carol"}`)
	require.Equal(t, http.StatusUnauthorized, res.StatusCode, "the admin API needs its key")
	res, body = send("POST", "/admin/api/consumers", `{"username":"carol"}`, "X-API-KEY", "admin-key")
	require.Equal(t, http.StatusCreated, res.StatusCode, body)
	res, body = send("POST", "/admin/api/consumers/carol/credentials",
		`{"name":"k","plugins":{"key-auth":{}}}`, "X-API-KEY", "admin-key")
	require.Equal(t, http.StatusCreated, res.StatusCode, body)
	var cred struct {
		Plugins struct {
			KeyAuth struct {
				Key string `json:"key"`
			} `json:"key-auth"`
		} `json:"plugins"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &cred))
	key := cred.Plugins.KeyAuth.Key
	require.NotEmpty(t, key)

	// The admin write reaches the data plane within milliseconds.
	require.Eventually(t, func() bool {
		res, _ := send("GET", "/orders/0", "", "apikey", "wrong-key-value")
		return res.StatusCode == http.StatusUnauthorized
	}, time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool {
		res, body = send("GET", "/orders/7", "", "apikey", key)
		return res.StatusCode == http.StatusOK
	}, 2*time.Second, 5*time.Millisecond)
	require.Equal(t, "order 7 for carol\n", body, "the handler reads the consumer from c.Request.Context()")
	require.Equal(t, "text/plain; charset=utf-8", res.Header.Get("Content-Type"))
	// Headers the gateway's plugins add reach the client through Gin's writer.
	require.Equal(t, "3", res.Header.Get("X-RateLimit-Limit"))
	require.Equal(t, "2", res.Header.Get("X-RateLimit-Remaining"))

	res, _ = send("GET", "/orders/8", "", "Authorization", "Bearer "+key)
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, _ = send("GET", "/orders/9", "", "apikey", key)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "0", res.Header.Get("X-RateLimit-Remaining"))
	res, body = send("GET", "/orders/10", "", "apikey", key)
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode, body)
	require.NotContains(t, body, "order 10", "a refused request never reaches the handler")

	res, body = send("GET", "/orders/7", "", "apikey", "not-carols-key")
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	require.JSONEq(t, `{"message":"Invalid API key in request"}`, body)

	res, body = send("GET", "/healthz", "")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "ok\n", body)
}
