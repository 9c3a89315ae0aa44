package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRestartKeepsEverything runs the README's walkthrough on the default
// store kind (SQLite) without -secret-keys, stops the gateway and starts it
// again on the same file: the consumer, its key, the route, and an Otoroshi
// API key whose secret is stored encrypted (with the key file made at the
// first start) all still work.
func TestRestartKeepsEverything(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	dir := t.TempDir()
	env := map[string]string{"GATEHOUSE_STORE": "sqlite://" + filepath.Join(dir, "gatehouse.db")}
	args := []string{"-listen", "127.0.0.1:0", "-admin-listen", "127.0.0.1:0", "-admin-key", testAdminKey}

	g := startGatewayWith(t, args, env)
	require.Contains(t, g.stdout.String(), "new key file "+filepath.Join(dir, "gatehouse.db.keys"))
	created := func(r response) map[string]any {
		t.Helper()
		require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
		return r.json(t)
	}
	created(g.adminDo(t, http.MethodPost, "/api/consumers", `{"username":"alice"}`))
	cred := created(g.adminDo(t, http.MethodPost, "/api/consumers/alice/credentials", `{"name":"main","plugins":{"key-auth":{}}}`))
	key := cred["plugins"].(map[string]any)["key-auth"].(map[string]any)["key"].(string)
	created(g.adminDo(t, http.MethodPost, "/api/routes",
		`{"id":"orders","frontend":{"paths":["/orders"]},"backend":{"target":"`+up.URL+`"},"plugins":{"key-auth":{}}}`))
	created(g.adminDo(t, http.MethodPost, "/api/groups", paymentGroup))
	created(g.adminDo(t, http.MethodPost, "/api/routes", paymentRoute("route_process_payment", "Process payment", "/payments", up.URL)))
	created(g.adminDo(t, http.MethodPost, "/api/apikeys", paymentAPIKey))
	otoroshi := []string{"Otoroshi-Client-Id", "my-api-key-id", "Otoroshi-Client-Secret", "my-api-key-secret"}
	require.Equal(t, "alice", decodeEcho(t, pollStatus(t, http.StatusOK, http.MethodGet, g.data+"/orders/1", "apikey", key)).User)
	pollStatus(t, http.StatusOK, http.MethodPost, g.data+"/payments", otoroshi...)
	err, stopped := g.stop(t)
	require.True(t, stopped)
	require.NoError(t, err)

	fi, err := os.Stat(filepath.Join(dir, "gatehouse.db.keys"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	g2 := startGatewayWith(t, args, env)
	require.NotContains(t, g2.stdout.String(), "new key file", "the key file is reused")
	require.Equal(t, "alice", decodeEcho(t, pollStatus(t, http.StatusOK, http.MethodGet, g2.data+"/orders/2", "apikey", key)).User)
	ok := pollStatus(t, http.StatusOK, http.MethodPost, g2.data+"/payments", otoroshi...)
	require.Equal(t, "my-api-key-id", decodeEcho(t, ok).User, "the encrypted client secret still opens")
	r := do(t, http.MethodGet, g2.data+"/orders/3", "", "apikey", key+"x")
	require.Equal(t, http.StatusUnauthorized, r.status)
	r = g2.adminDo(t, http.MethodGet, "/api/consumers/alice", "")
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	r = g2.adminDo(t, http.MethodGet, "/api/routes/orders", "")
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
}

// TestDefaultStoreIsGatehouseDBInWorkingDirectory starts the gateway with no
// -store at all: it keeps its configuration in ./gatehouse.db, with its key
// file ./gatehouse.db.keys.
func TestDefaultStoreIsGatehouseDBInWorkingDirectory(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	g := startGatewayWith(t, []string{"-listen", "127.0.0.1:0", "-admin-listen", "127.0.0.1:0", "-admin-key", testAdminKey},
		map[string]string{"GATEHOUSE_STORE": ""}) // not set: the default
	require.Contains(t, g.stdout.String(), "store sqlite://gatehouse.db")
	r := g.adminDo(t, http.MethodPost, "/api/consumers", `{"username":"alice"}`)
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	err, stopped := g.stop(t)
	require.True(t, stopped)
	require.NoError(t, err)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	require.Contains(t, names, "gatehouse.db", "files: %s", strings.Join(names, ", "))
	require.Contains(t, names, "gatehouse.db.keys")
}
