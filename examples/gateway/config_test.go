package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const configKey = "alice-config-key-1"

const configYAML = `# groups, consumer groups, consumers with inline credentials, then routes
groups:
  - id: shop
    name: Shop APIs
consumer_groups:
  - id: premium
    name: Premium Users
    required_plugins:
      - name: advanced_rate_limiter
        settings: {limits: {per_user: {limit: 3, window: 1m}}}
consumers:
  - username: alice
    group_id: premium
    desc: from the config file
    credentials:
      - id: alice-key
        name: main
        authorized_entities: [group_shop]
        plugins:
          key-auth: {key: alice-config-key-1}
      - id: alice-other
        name: other
        plugins:
          key-auth: {key: alice-config-key-3}
routes:
  - id: orders
    groups: [shop]
    frontend: {paths: [/orders]}
    backend: {target: "UPSTREAM"}
    plugins: {key-auth: {}}
`

const configJSON = `{
  "groups": [{"id": "shop", "name": "Shop APIs"}],
  "consumer_groups": [{"id": "premium", "name": "Premium Users",
    "required_plugins": [{"name": "advanced_rate_limiter", "settings": {"limits": {"per_user": {"limit": 3, "window": "1m"}}}}]}],
  "consumers": [
    {"username": "alice", "group_id": "premium", "desc": "from the config file",
     "credentials": [
       {"id": "alice-key", "name": "main", "authorized_entities": ["group_shop"], "plugins": {"key-auth": {"key": "alice-config-key-1"}}},
       {"id": "alice-other", "name": "other", "plugins": {"key-auth": {"key": "alice-config-key-3"}}}]}
  ],
  "routes": [
    {"id": "orders", "groups": ["shop"], "frontend": {"paths": ["/orders"]}, "backend": {"target": "UPSTREAM"}, "plugins": {"key-auth": {}}}
  ]
}
`

func TestConfigFile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, file, content string }{
		{"yaml", "gateway.yaml", configYAML},
		{"json", "gateway.json", configJSON},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			up := newUpstream(t)
			path := filepath.Join(t.TempDir(), tc.file)
			content := []byte(strings.ReplaceAll(tc.content, "UPSTREAM", up.URL))
			require.NoError(t, os.WriteFile(path, content, 0o600))

			g := startGateway(t, "-config", path)

			r := pollStatus(t, http.StatusOK, http.MethodGet, g.data+"/orders/7", "apikey", configKey)
			e := decodeEcho(t, r)
			require.Equal(t, "alice", e.User)
			require.Equal(t, "/orders/7", e.Path)
			require.Equal(t, "3", r.header.Get("X-Ratelimit-Limit"), "alice's consumer group applies")
			r = g.adminDo(t, http.MethodGet, "/api/v1/gateways/default/consumer-groups/premium", "")
			require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)

			r = do(t, http.MethodGet, g.data+"/orders/7", "", "apikey", "alice-config-key-2")
			require.Equal(t, http.StatusUnauthorized, r.status)
			r = do(t, http.MethodGet, g.data+"/orders/7", "")
			require.Equal(t, http.StatusUnauthorized, r.status)
			// A key of alice's that is not authorized on the route's group.
			r = do(t, http.MethodGet, g.data+"/orders/7", "", "apikey", "alice-config-key-3")
			require.Equal(t, http.StatusForbidden, r.status)
			r = g.adminDo(t, http.MethodGet, "/api/groups/shop", "")
			require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)

			// The objects are in the admin API, under the ids of the file,
			// and the key is sealed like one written through the API.
			r = g.adminDo(t, http.MethodGet, "/api/consumers/alice", "")
			require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
			require.Equal(t, "from the config file", r.json(t)["desc"])
			r = g.adminDo(t, http.MethodGet, "/api/consumers/alice/credentials/alice-key", "")
			require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
			require.NotContains(t, string(r.body), configKey)
			r = g.adminDo(t, http.MethodGet, "/api/routes/orders", "")
			require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)

			require.NotContains(t, g.stdout.String(), configKey)
			require.NotContains(t, g.stderr.String(), configKey)
		})
	}
}

// TestConfigFileFromEnv loads the file named by GATEHOUSE_CONFIG.
func TestConfigFileFromEnv(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	require.NoError(t, os.WriteFile(path, []byte(strings.ReplaceAll(configYAML, "UPSTREAM", up.URL)), 0o600))

	g := startGatewayWith(t,
		[]string{"-listen", "127.0.0.1:0", "-admin-listen", "127.0.0.1:0", "-admin-key", testAdminKey},
		map[string]string{"GATEHOUSE_CONFIG": path})
	r := pollStatus(t, http.StatusOK, http.MethodGet, g.data+"/orders/1", "apikey", configKey)
	require.Equal(t, "alice", decodeEcho(t, r).User)
}

// TestConfigFileDuplicateKey: a config whose two consumers share a key is
// refused, naming both, and the error does not echo the key.
func TestConfigFileDuplicateKey(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "dup.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`consumers:
  - username: alice
    credentials: [{name: main, plugins: {key-auth: {key: shared-key-123456}}}]
  - username: bob
    credentials: [{name: main, plugins: {key-auth: {key: shared-key-123456}}}]
`), 0o600))
	stdout, stderr, err := runExpectingError(t,
		[]string{"-listen", "127.0.0.1:0", "-admin-listen", "127.0.0.1:0", "-admin-key", "k", "-config", path}, nil)
	require.Error(t, err)
	require.Contains(t, err.Error(), "consumers[1].credentials[0].plugins.key-auth: the same key")
	require.Contains(t, err.Error(), "consumers[0].credentials[0]")
	for _, s := range []string{err.Error(), stdout, stderr} {
		require.NotContains(t, s, "shared-key-123456")
	}
}
