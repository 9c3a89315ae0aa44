package main

import (
	"errors"
	"flag"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestGeneratedAdminKey(t *testing.T) {
	t.Parallel()
	g := startGatewayWith(t, []string{"-listen", "127.0.0.1:0", "-admin-listen", "127.0.0.1:0"}, nil)

	out := g.stdout.String()
	m := regexp.MustCompile(`(?m)^admin key \(generated, shown once\): (\S+)$`).FindStringSubmatch(out)
	require.NotNil(t, m, "no generated admin key line in stdout:\n%s", out)
	key := m[1]
	require.GreaterOrEqual(t, len(key), 20, "a generated admin key should be long enough to resist guessing")
	require.Equal(t, 1, strings.Count(out, key), "the key is shown once")
	require.NotContains(t, g.stderr.String(), key)

	r := do(t, http.MethodGet, g.admin+"/api/consumers", "", "X-API-KEY", key)
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	r = do(t, http.MethodGet, g.admin+"/api/consumers", "")
	require.Equal(t, http.StatusUnauthorized, r.status)

	// Another start generates another key.
	g2 := startGatewayWith(t, []string{"-listen", "127.0.0.1:0", "-admin-listen", "127.0.0.1:0"}, nil)
	m2 := regexp.MustCompile(`(?m)^admin key \(generated, shown once\): (\S+)$`).FindStringSubmatch(g2.stdout.String())
	require.NotNil(t, m2)
	require.NotEqual(t, key, m2[1])
	r = do(t, http.MethodGet, g2.admin+"/api/consumers", "", "X-API-KEY", key)
	require.Equal(t, http.StatusUnauthorized, r.status)
}

func TestEnvironment(t *testing.T) {
	t.Parallel()
	t.Run("used without flags", func(t *testing.T) {
		data, admin := freeAddr(t), freeAddr(t)
		g := startGatewayWith(t, nil, map[string]string{
			"GATEHOUSE_LISTEN":       data,
			"GATEHOUSE_ADMIN_LISTEN": admin,
			"GATEHOUSE_ADMIN_KEY":    "env-admin-key",
		})
		require.Equal(t, data, g.dataAddr)
		require.Equal(t, admin, g.adminAddr)
		require.NotContains(t, g.stdout.String(), "generated")

		r := do(t, http.MethodGet, g.admin+"/api/consumers", "", "X-API-KEY", "env-admin-key")
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	})
	t.Run("flags win", func(t *testing.T) {
		// The environment names addresses that are in use: starting at
		// all proves the flags were used instead.
		g := startGatewayWith(t,
			[]string{"-listen", "127.0.0.1:0", "-admin-listen", "127.0.0.1:0", "-admin-key", "flag-admin-key"},
			map[string]string{
				"GATEHOUSE_LISTEN":       busyAddr(t),
				"GATEHOUSE_ADMIN_LISTEN": busyAddr(t),
				"GATEHOUSE_ADMIN_KEY":    "env-admin-key",
			})
		r := do(t, http.MethodGet, g.admin+"/api/consumers", "", "X-API-KEY", "flag-admin-key")
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		r = do(t, http.MethodGet, g.admin+"/api/consumers", "", "X-API-KEY", "env-admin-key")
		require.Equal(t, http.StatusUnauthorized, r.status)
	})
	t.Run("env listen address in use", func(t *testing.T) {
		busy := busyAddr(t)
		_, _, err := runExpectingError(t, []string{"-admin-listen", "127.0.0.1:0", "-admin-key", "k"},
			map[string]string{"GATEHOUSE_LISTEN": busy})
		require.Error(t, err)
		require.Contains(t, err.Error(), "-listen")
		require.Contains(t, err.Error(), busy)
	})
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	badYAML := write("bad.yaml", "consumers:\n  - username: alice\n    desc: [unclosed\n")
	badUser := write("baduser.yaml", "consumers:\n  - username: \"bad name!\"\n")
	unknownKey := write("unknown.yaml", "consumers: []\nservices: []\n")
	numericUser := write("numeric.yaml", "consumers:\n  - username: 007\n")
	missing := filepath.Join(dir, "missing.yaml")
	busy := busyAddr(t)

	safe := []string{"-listen", "127.0.0.1:0", "-admin-listen", "127.0.0.1:0", "-admin-key", "k"}
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want []string // substrings of the error
	}{
		{name: "unknown flag", args: []string{"-bogus"}, want: []string{"-bogus"}},
		{name: "positional argument", args: []string{"extra"}, want: []string{`"extra"`}},
		{name: "unknown store", args: []string{"-store", "bogus"}, want: []string{"-store", "bogus"}},
		{name: "sqlite store without a path", args: []string{"-store", "sqlite://"}, want: []string{"-store", "sqlite://"}},
		{name: "postgres store without secret keys", args: []string{"-store", "postgres://u@127.0.0.1:1/db"}, want: []string{"-store", "-secret-keys"}},
		{name: "redis limiter", args: []string{"-limiter", "redis://x"}, want: []string{"-limiter", "redis://x"}},
		{name: "store from env", env: map[string]string{"GATEHOUSE_STORE": "bogus"}, want: []string{"-store", "bogus"}},
		{name: "data address in use", args: []string{"-listen", busy}, want: []string{"-listen", busy}},
		{name: "admin address in use", args: []string{"-admin-listen", busy}, want: []string{"-admin-listen", busy}},
		{name: "config missing", args: []string{"-config", missing}, want: []string{"-config", missing}},
		{name: "config invalid YAML", args: []string{"-config", badYAML}, want: []string{"-config", badYAML, "YAML"}},
		{name: "config bad username", args: []string{"-config", badUser}, want: []string{"-config", "consumers[0].username: must match"}},
		{name: "config unknown key", args: []string{"-config", unknownKey}, want: []string{"-config", "services"}},
		{name: "secret keys not base64", args: []string{"-secret-keys", "k1:not-a-key!"}, want: []string{"-secret-keys", "k1"}},
		{name: "secret key too short", args: []string{"-secret-keys", "k1:c2hvcnQ"}, want: []string{"-secret-keys", "bytes"}},
		{name: "bad trusted proxy", args: []string{"-trusted-proxies", "10.0.0.0/8, not-an-ip"}, want: []string{"-trusted-proxies", "not-an-ip"}},
		{name: "config numeric username", args: []string{"-config", numericUser}, want: []string{"consumers[0].username: must be a string"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, _, err := runExpectingError(t, append(append([]string{}, safe...), tc.args...), tc.env)
			require.Error(t, err)
			msg := err.Error()
			require.NotContains(t, msg, "\n", "the reason fits on one line")
			for _, w := range tc.want {
				require.Contains(t, msg, w)
			}
			require.NotContains(t, stdout, "listening on", "nothing is served after a bad start")
		})
	}

	t.Run("missing config is a not-exist error", func(t *testing.T) {
		_, _, err := runExpectingError(t, append(append([]string{}, safe...), "-config", missing), nil)
		require.True(t, errors.Is(err, fs.ErrNotExist), "err = %v", err)
	})
	t.Run("-h", func(t *testing.T) {
		_, stderr, err := runExpectingError(t, []string{"-h"}, nil)
		require.ErrorIs(t, err, flag.ErrHelp)
		for _, env := range []string{"GATEHOUSE_LISTEN", "GATEHOUSE_ADMIN_LISTEN", "GATEHOUSE_ADMIN_KEY", "GATEHOUSE_CONFIG"} {
			require.Contains(t, stderr, env, "usage names every environment variable")
		}
	})
}

func TestStorePasswordNeverEchoed(t *testing.T) {
	t.Parallel()
	safe := []string{"-listen", "127.0.0.1:0", "-admin-listen", "127.0.0.1:0", "-admin-key", "k"}
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
	}{
		{name: "flag", args: []string{"-store", "postgres://u:hunter2@h/db"}},
		{name: "postgresql scheme", args: []string{"-store", "postgresql://u:hunter2@h:5432/db?sslmode=disable"}},
		{name: "env", env: map[string]string{"GATEHOUSE_STORE": "postgres://u:hunter2@h/db"}},
		{name: "password with @", args: []string{"-store", "postgres://u:hun@ter2@h/db"}},
		{name: "redis limiter", args: []string{"-limiter", "redis://:hunter2@h:6379/0"}},
		{name: "password in the query", args: []string{"-store", "postgres://u@h/db?sslmode=disable&password=hunter2"}},
		{name: "key=value connection string", args: []string{"-store", "host=h user=u password=hunter2 dbname=db"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, err := runExpectingError(t, append(append([]string{}, safe...), tc.args...), tc.env)
			require.Error(t, err)
			for _, s := range []string{err.Error(), stdout, stderr} {
				require.NotContains(t, s, "hunter2")
				require.NotContains(t, s, "ter2@")
			}
		})
	}
}
