package main

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/internal/testlog"
)

// configLine returns what the gateway printed about applying its -config.
func configLine(t *testing.T, g *gateway) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^config \S+: (.*)$`).FindStringSubmatch(g.stdout.String())
	require.NotNil(t, m, "no config line in:\n%s", g.stdout.String())
	return m[1]
}

// sharedStore is the environment of gateways started one after another on
// one SQLite store (its key file beside it), with secrets for the files.
func sharedStore(t *testing.T) map[string]string {
	return map[string]string{
		"GATEHOUSE_STORE": "sqlite://" + filepath.Join(storeDir(t), "gatehouse.db"),
		"ALICE_KEY":       "alice-env-key-0123456789",
		"BOB_PASSWORD":    "bob-env-pa55word",
	}
}

const envConfig = `groups:
  - {id: shop, name: Shop APIs}
  - {id: old, name: Soon gone}
consumers:
  - username: alice
    desc: first
    credentials:
      - name: main
        authorized_entities: [group_shop]
        plugins: {key-auth: {key: "${ALICE_KEY}"}}
  - username: bob
    credentials:
      - name: basic
        plugins: {basic-auth: {username: bob, password: "${BOB_PASSWORD}"}}
routes:
  - id: orders
    groups: [shop]
    frontend: {paths: [/orders]}
    backend: {target: "UPSTREAM"}
    plugins: {key-auth: {}}
  - id: basic
    frontend: {paths: [/basic]}
    backend: {target: "UPSTREAM"}
    plugins: {basic-auth: {}}
`

func writeConfig(t *testing.T, name, text, upstream string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(strings.ReplaceAll(text, "UPSTREAM", upstream)), 0o600))
	return path
}

func gatewayArgs(extra ...string) []string {
	return append([]string{"-listen", "127.0.0.1:0", "-admin-listen", "127.0.0.1:0", "-admin-key", testAdminKey}, extra...)
}

// TestConfigApplyAgain: the gateway restarted with the same file changes
// nothing; with a changed file it writes only the difference; with
// -config-prune it deletes what the file no longer names. Secrets come from
// the environment.
func TestConfigApplyAgain(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	env := sharedStore(t)
	path := writeConfig(t, "gateway.yaml", envConfig, up.URL)

	g := startGatewayWith(t, gatewayArgs("-config", path), env)
	require.Equal(t, "groups 2 created; consumers 2 created; credentials 2 created; routes 2 created", configLine(t, g))
	r := pollStatus(t, http.StatusOK, http.MethodGet, g.data+"/orders/1", "apikey", env["ALICE_KEY"])
	require.Equal(t, "alice", decodeEcho(t, r).User)
	r = pollStatus(t, http.StatusOK, http.MethodGet, g.data+"/basic", "Authorization", basicAuth("bob", env["BOB_PASSWORD"]))
	require.Equal(t, "bob", decodeEcho(t, r).User)
	for _, out := range []string{g.stdout.String(), g.stderr.String()} {
		require.NotContains(t, out, env["ALICE_KEY"])
		require.NotContains(t, out, env["BOB_PASSWORD"])
	}
	stopNow(t, g)

	g = startGatewayWith(t, gatewayArgs("-config", path), env)
	require.Equal(t, "groups 2 unchanged; consumers 2 unchanged; credentials 2 unchanged; routes 2 unchanged", configLine(t, g))
	stopNow(t, g)

	changed := strings.Replace(envConfig, "desc: first", "desc: changed", 1)
	changed = cut(changed, "  - {id: old, name: Soon gone}\n", "consumers:")
	env["ALICE_KEY"] = "alice-rotated-key-0123456789"
	path = writeConfig(t, "changed.yaml", changed, up.URL)
	g = startGatewayWith(t, gatewayArgs("-config", path), env)
	require.Equal(t, "groups 1 unchanged; consumers 1 updated 1 unchanged; credentials 1 updated 1 unchanged; routes 2 unchanged", configLine(t, g))
	r = pollStatus(t, http.StatusOK, http.MethodGet, g.data+"/orders/1", "apikey", env["ALICE_KEY"])
	require.Equal(t, "alice", decodeEcho(t, r).User)
	r = do(t, http.MethodGet, g.data+"/orders/1", "", "apikey", "alice-env-key-0123456789")
	require.Equal(t, http.StatusUnauthorized, r.status, "the old key is gone")
	r = g.adminDo(t, http.MethodGet, "/api/groups/old", "")
	require.Equal(t, http.StatusOK, r.status, "without -config-prune the group stays")
	stopNow(t, g)

	g = startGatewayWith(t, gatewayArgs("-config", path, "-config-prune"), env)
	require.Equal(t, "gateway 1 unchanged; groups 1 deleted 1 unchanged; consumers 2 unchanged; credentials 2 unchanged; routes 2 unchanged", configLine(t, g))
	r = g.adminDo(t, http.MethodGet, "/api/groups/old", "")
	require.Equal(t, http.StatusNotFound, r.status)
}

func cut(s, from, to string) string {
	i := strings.Index(s, from)
	j := strings.Index(s[i+len(from):], to)
	if i < 0 || j < 0 {
		panic("cut: " + from)
	}
	return s[:i] + s[i+len(from)+j:]
}

func stopNow(t *testing.T, g *gateway) {
	t.Helper()
	err, stopped := g.stop(t)
	require.True(t, stopped)
	require.NoError(t, err)
}

// TestConfigInvalid: an invalid file lists every problem by path, the
// gateway does not start, and the store is left as it was.
func TestConfigInvalid(t *testing.T) {
	t.Parallel()
	env := sharedStore(t)
	delete(env, "BOB_PASSWORD")
	path := writeConfig(t, "bad.yaml", envConfig+`  - id: orders
    frontend: {paths: [/x]}
  - frontend: {paths: [/y]}
    plugins: {key-auth: {header: ""}, nope: {}}
`, "http://127.0.0.1:1")
	_, _, err := runExpectingError(t, gatewayArgs("-config", path), env)
	require.Error(t, err)
	msg := err.Error()
	for _, want := range []string{
		"consumers[1].credentials[0].plugins.basic-auth.password: ${BOB_PASSWORD}: environment variable is not set",
	} {
		require.Contains(t, msg, want)
	}
	env["BOB_PASSWORD"] = "bob-env-pa55word"
	_, _, err = runExpectingError(t, gatewayArgs("-config", path), env)
	require.Error(t, err)
	msg = err.Error()
	for _, want := range []string{
		`routes[2].id: "orders" is also the id of routes[0]`,
		"routes[3].id: is required",
		"routes[3].plugins.nope: unknown plugin",
	} {
		require.Contains(t, msg, want)
	}
	require.NotContains(t, msg, env["ALICE_KEY"])

	g := startGatewayWith(t, gatewayArgs(), env)
	r := g.adminDo(t, http.MethodGet, "/api/consumers", "")
	require.Equal(t, http.StatusOK, r.status)
	require.EqualValues(t, 0, r.json(t)["total"], "nothing was written: %s", r.body)
	r = g.adminDo(t, http.MethodGet, "/api/groups", "")
	require.EqualValues(t, 0, r.json(t)["total"], "nothing was written: %s", r.body)
}

// TestConfigExportRoundTrip: GET /api/export over HTTP, applied back with
// -config-prune, changes nothing; the export command prints the same.
func TestConfigExportRoundTrip(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	env := sharedStore(t)
	g := startGatewayWith(t, gatewayArgs("-config", writeConfig(t, "gateway.yaml", envConfig+configTail, up.URL)), env)

	req, err := http.NewRequest(http.MethodGet, g.admin+"/api/export?format=yaml", nil)
	require.NoError(t, err)
	req.Header.Set("X-API-KEY", testAdminKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "application/yaml", resp.Header.Get("Content-Type"))
	body := readAll(t, resp)
	require.NotContains(t, body, env["ALICE_KEY"])
	require.NotContains(t, body, env["BOB_PASSWORD"])
	r := do(t, http.MethodGet, g.admin+"/api/export", "")
	require.Equal(t, http.StatusUnauthorized, r.status, "behind the admin key")
	stopNow(t, g)

	exported := filepath.Join(t.TempDir(), "exported.yaml")
	require.NoError(t, os.WriteFile(exported, []byte(body), 0o600))
	g = startGatewayWith(t, gatewayArgs("-config", exported, "-config-prune"), env)
	line := configLine(t, g)
	require.NotRegexp(t, `created|updated|deleted`, line)
	require.Contains(t, line, "credentials 2 unchanged")
	r = pollStatus(t, http.StatusOK, http.MethodGet, g.data+"/orders/1", "apikey", env["ALICE_KEY"])
	require.Equal(t, "alice", decodeEcho(t, r).User)
	stopNow(t, g)

	var out, errOut testlog.Buffer
	require.NoError(t, run(context.Background(), []string{"export", "-format", "json"}, envFunc(env), &out, &errOut), errOut.String())
	fromCmd, err := config.Parse([]byte(out.String()))
	require.NoError(t, err)
	fromHTTP, err := config.Parse([]byte(body))
	require.NoError(t, err)
	require.Equal(t, fromHTTP, fromCmd)
	require.Len(t, fromCmd.ConsumerGroups, 1)
	require.NotContains(t, out.String(), env["ALICE_KEY"])

	err = run(context.Background(), []string{"export", "-format", "xml"}, envFunc(env), &out, &errOut)
	require.ErrorContains(t, err, "want json or yaml")
}

const configTail = `consumer_groups:
  - id: premium
    name: Premium Users
    required_plugins:
      - name: advanced_rate_limiter
        settings: {limits: {per_user: {limit: 3, window: 1m}}}
`

func basicAuth(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// TestExportNeverMakesAStore: export run where there is no database (the
// wrong directory) fails and leaves nothing behind, rather than creating
// an empty store and printing {}: that file applied with -config-prune
// would delete everything.
func TestExportNeverMakesAStore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "gatehouse.db")
	var out, errOut testlog.Buffer
	err := run(context.Background(), []string{"export", "-store", "sqlite://" + db}, envFunc(nil), &out, &errOut)
	require.ErrorContains(t, err, "no database there")
	require.Empty(t, out.String())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries, "export created files")
}
