package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The printed walkthrough works: create a consumer and a key through the
// mounted admin API, then call the protected handler with the key.
func TestWalkthrough(t *testing.T) {
	srv, err := newServer(t.Context(), "127.0.0.1:0", "test-admin-key")
	require.NoError(t, err)
	ts := httptest.NewServer(srv.Handler)
	defer ts.Close()

	send := func(method, path, body string, header ...string) (int, string) {
		req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}

	code, _ := send("POST", "/admin/api/consumers", `{"username":"alice"}`)
	require.Equal(t, http.StatusUnauthorized, code, "the admin API needs the admin key")
	code, _ = send("POST", "/admin/api/consumers", `{"username":"alice"}`, "X-API-KEY", "test-admin-key")
	require.Equal(t, http.StatusCreated, code)
	code, body := send("POST", "/admin/api/consumers/alice/credentials", `{"name":"main","plugins":{"key-auth":{}}}`, "X-API-KEY", "test-admin-key")
	require.Equal(t, http.StatusCreated, code, body)
	var cred struct {
		Plugins map[string]struct {
			Key string `json:"key"`
		} `json:"plugins"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &cred))
	key := cred.Plugins["key-auth"].Key
	require.NotEmpty(t, key)

	require.Eventually(t, func() bool {
		code, body = send("GET", "/hello", "", "apikey", key)
		return code == http.StatusOK
	}, 2*time.Second, 5*time.Millisecond)
	require.Equal(t, "hello, alice\n", body)

	code, _ = send("GET", "/hello", "")
	require.Equal(t, http.StatusUnauthorized, code)
	code, body = send("GET", "/healthz", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "ok\n", body)
}
