package admin_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/credential/keyauth"
	"github.com/gatehousehq/gatehouse/store"
)

const credsPath = "/api/consumers/alice/credentials"

func newCredEnv(t *testing.T) *env {
	e := newEnv(t)
	e.must(http.StatusCreated, http.MethodPost, "/api/consumers", map[string]any{"username": "alice"})
	e.must(http.StatusCreated, http.MethodPost, "/api/consumers", map[string]any{"username": "bob"})
	return e
}

func (e *env) storedCredential(username, id string) *credential.Credential {
	e.t.Helper()
	c, err := e.store.GetCredential(context.Background(), username, id)
	require.NoError(e.t, err)
	return c
}

func keyAuthOf(t *testing.T, r response) map[string]any {
	t.Helper()
	plugins, ok := r.JSON(t)["plugins"].(map[string]any)
	require.True(t, ok, r.Body)
	ka, ok := plugins["key-auth"].(map[string]any)
	require.True(t, ok, r.Body)
	return ka
}

func TestCredentialGeneratedKeyShownOnce(t *testing.T) {
	e := newCredEnv(t)
	r := e.must(http.StatusCreated, http.MethodPost, credsPath, map[string]any{
		"name": "main", "plugins": map[string]any{"key-auth": map[string]any{}},
	})
	m := r.JSON(t)
	id := m["id"].(string)
	require.Regexp(t, `^[0-9a-f]{32}$`, id)
	require.Equal(t, credsPath+"/"+id, r.Header.Get("Location"))
	require.Equal(t, true, m["enabled"], "enabled defaults to true")
	key, _ := keyAuthOf(t, r)["key"].(string)
	require.True(t, strings.HasPrefix(key, keyauth.GeneratedKeyPrefix), r.Body)
	require.Equal(t, "no-store", r.Header.Get("Cache-Control"))

	stored := e.storedCredential("alice", id)
	require.NotContains(t, string(stored.Plugins["key-auth"]), key, "the key is not stored in clear")

	for _, path := range []string{credsPath + "/" + id, credsPath} {
		g := e.must(http.StatusOK, http.MethodGet, path, nil)
		require.NotContains(t, g.Body, key)
		require.NotContains(t, g.Body, `"key"`)
		require.NotContains(t, g.Body, "key_hash")
		require.Contains(t, g.Body, `"key_preview":"`+keyauth.Preview(key)+`"`)
	}

	// A key the admin chose is never echoed, not even on create.
	r = e.must(http.StatusCreated, http.MethodPost, credsPath, map[string]any{
		"id": "chosen", "name": "chosen", "plugins": map[string]any{"key-auth": map[string]any{"key": "my-own-secret-key-123"}},
	})
	require.NotContains(t, r.Body, "my-own-secret-key-123")
	require.Equal(t, map[string]any{"key_preview": keyauth.Preview("my-own-secret-key-123")}, keyAuthOf(t, r))
}

func TestCredentialLifecycle(t *testing.T) {
	e := newCredEnv(t)
	path := credsPath + "/c1"

	r := e.must(http.StatusCreated, http.MethodPut, path, map[string]any{
		"name": "first", "plugins": map[string]any{"key-auth": map[string]any{"key": "alice-key-0001"}},
		"authorized_entities": []string{"group_g1"}, "enabled": false,
	})
	require.Equal(t, path, r.Header.Get("Location"))
	require.Equal(t, false, r.JSON(t)["enabled"])
	lookup := e.storedCredential("alice", "c1").Lookup
	require.NotEmpty(t, lookup)

	t.Run("PUT without a key keeps the key", func(t *testing.T) {
		r := e.must(http.StatusOK, http.MethodPut, path, map[string]any{
			"id": "c1", "name": "renamed", "plugins": map[string]any{"key-auth": map[string]any{}},
		})
		require.NotContains(t, r.Body, `"key"`, "no key is revealed when none was generated")
		c := e.storedCredential("alice", "c1")
		require.Equal(t, lookup, c.Lookup)
		require.Equal(t, "renamed", c.Name)
		require.True(t, c.Enabled, "enabled defaults to true on PUT too")
		require.Empty(t, c.AuthorizedEntities, "PUT replaces the whole object")
	})

	t.Run("PUT of a GET result keeps the key", func(t *testing.T) {
		g := e.must(http.StatusOK, http.MethodGet, path, nil)
		e.must(http.StatusOK, http.MethodPut, path, g.Body)
		require.Equal(t, lookup, e.storedCredential("alice", "c1").Lookup)
	})

	t.Run("PUT with another id", func(t *testing.T) {
		requireFields(t, e.do(http.MethodPut, path, map[string]any{
			"id": "c2", "name": "x", "plugins": map[string]any{"key-auth": map[string]any{}},
		}), "id")
	})

	t.Run("merge patch keeps the key", func(t *testing.T) {
		r := e.must(http.StatusOK, http.MethodPatch, path, `{"name":"patched","enabled":false,"id":"other"}`,
			"Content-Type", "application/merge-patch+json")
		m := r.JSON(t)
		require.Equal(t, "c1", m["id"], "a patch cannot change the id")
		require.Equal(t, "patched", m["name"])
		c := e.storedCredential("alice", "c1")
		require.Equal(t, lookup, c.Lookup)
		require.False(t, c.Enabled)
		_, err := e.store.GetCredential(context.Background(), "alice", "other")
		require.ErrorIs(t, err, store.ErrNotFound)
	})

	t.Run("json patch sets a new key", func(t *testing.T) {
		r := e.must(http.StatusOK, http.MethodPatch, path,
			`[{"op":"add","path":"/plugins/key-auth/key","value":"alice-key-0002"},{"op":"replace","path":"/id","value":"zz"}]`,
			"Content-Type", "application/json-patch+json")
		require.NotContains(t, r.Body, "alice-key-0002")
		require.Equal(t, "c1", r.JSON(t)["id"])
		c := e.storedCredential("alice", "c1")
		require.NotEqual(t, lookup, c.Lookup)
		lookup = c.Lookup
	})

	t.Run("bad patches change nothing", func(t *testing.T) {
		before := e.storedCredential("alice", "c1")
		for _, tc := range []struct {
			body, ct string
			fields   []string
		}{
			{`[{"op":"move","from":"/nothing","path":"/name"}]`, "application/json-patch+json", nil},
			{`{"plugins":{"key-auth":{"key":"short"}}}`, "application/merge-patch+json", []string{"plugins.key-auth.key"}},
			{`{"name":""}`, "", []string{"name"}},
			{`{"plugins":{"key-auth":{"bogus":1}}}`, "", []string{"plugins.key-auth.bogus"}},
		} {
			requireError(t, e.do(http.MethodPatch, path, tc.body, "Content-Type", tc.ct), http.StatusBadRequest, "bad_request")
			if tc.fields != nil {
				requireFields(t, e.do(http.MethodPatch, path, tc.body, "Content-Type", tc.ct), tc.fields...)
			}
			require.Equal(t, before, e.storedCredential("alice", "c1"))
		}
	})

	t.Run("patch of a missing credential", func(t *testing.T) {
		requireError(t, e.do(http.MethodPatch, credsPath+"/nope", `{"name":"x"}`), http.StatusNotFound, "not_found")
	})

	t.Run("delete", func(t *testing.T) {
		e.must(http.StatusNoContent, http.MethodDelete, path, nil)
		requireError(t, e.do(http.MethodGet, path, nil), http.StatusNotFound, "not_found")
		requireError(t, e.do(http.MethodDelete, path, nil), http.StatusNotFound, "not_found")
	})
}

func TestCredentialValidation(t *testing.T) {
	e := newCredEnv(t)
	tests := []struct {
		name   string
		body   any
		fields []string
	}{
		{"no name and two plugins", map[string]any{
			"plugins": map[string]any{"key-auth": map[string]any{}, "basic-auth": map[string]any{}},
		}, []string{"name", "plugins"}},
		{"no plugin", map[string]any{"name": "x"}, []string{"plugins"}},
		{"not an auth plugin", map[string]any{"name": "x", "plugins": map[string]any{"limit-count": map[string]any{}}}, []string{"plugins.limit-count"}},
		{"bad id, entity and key", map[string]any{
			"id": "a b", "name": "x", "authorized_entities": []string{"group_ok", "route_"},
			"plugins": map[string]any{"key-auth": map[string]any{"key": "k"}},
		}, []string{"id", "authorized_entities", "plugins.key-auth.key"}},
		{"short key", map[string]any{"name": "x", "plugins": map[string]any{"key-auth": map[string]any{"key": "k"}}}, []string{"plugins.key-auth.key"}},
		{"settings not an object", map[string]any{"name": "x", "plugins": map[string]any{"key-auth": "k"}}, []string{"plugins.key-auth"}},
		{"consumer in body", map[string]any{"name": "x", "consumer": "bob", "plugins": map[string]any{"key-auth": map[string]any{}}}, []string{"consumer"}},
		{"bad expires_at", `{"name":"x","expires_at":"tomorrow","plugins":{"key-auth":{}}}`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(http.MethodPost, credsPath, tc.body)
			requireError(t, r, http.StatusBadRequest, "bad_request")
			if tc.fields != nil {
				requireFields(t, r, tc.fields...)
			}
		})
	}
	page, err := e.store.ListCredentials(context.Background(), "alice", store.ListOptions{})
	require.NoError(t, err)
	require.Zero(t, page.Total)

	t.Run("missing consumer", func(t *testing.T) {
		r := e.do(http.MethodPost, "/api/consumers/nobody/credentials", map[string]any{
			"name": "x", "plugins": map[string]any{"key-auth": map[string]any{}},
		})
		requireError(t, r, http.StatusNotFound, "not_found")
		requireError(t, e.do(http.MethodGet, "/api/consumers/nobody/credentials", nil), http.StatusNotFound, "not_found")
		requireError(t, e.do(http.MethodPut, "/api/consumers/nobody/credentials/x", map[string]any{
			"name": "x", "plugins": map[string]any{"key-auth": map[string]any{}},
		}), http.StatusNotFound, "not_found")
	})
}

func TestCredentialConflicts(t *testing.T) {
	e := newCredEnv(t)
	const key = "shared-key-123456"
	e.must(http.StatusCreated, http.MethodPut, credsPath+"/a1", map[string]any{
		"name": "main", "plugins": map[string]any{"key-auth": map[string]any{"key": key}},
	})
	first := e.storedCredential("alice", "a1")

	t.Run("duplicate key across consumers", func(t *testing.T) {
		r := e.do(http.MethodPost, "/api/consumers/bob/credentials", map[string]any{
			"id": "b1", "name": "main", "plugins": map[string]any{"key-auth": map[string]any{"key": key}},
		})
		requireError(t, r, http.StatusConflict, "conflict")
		require.Contains(t, r.JSON(t)["message"], "key is already in use")
		require.NotContains(t, r.Body, key)
		_, err := e.store.GetCredential(context.Background(), "bob", "b1")
		require.ErrorIs(t, err, store.ErrNotFound)
		require.Equal(t, first, e.storedCredential("alice", "a1"), "the first consumer's key still works")
	})

	t.Run("duplicate key by PUT over another credential", func(t *testing.T) {
		e.must(http.StatusCreated, http.MethodPut, "/api/consumers/bob/credentials/b2", map[string]any{
			"name": "other", "plugins": map[string]any{"key-auth": map[string]any{"key": "bob-key-123456"}},
		})
		before := e.storedCredential("bob", "b2")
		r := e.do(http.MethodPut, "/api/consumers/bob/credentials/b2", map[string]any{
			"name": "other", "plugins": map[string]any{"key-auth": map[string]any{"key": key}},
		})
		requireError(t, r, http.StatusConflict, "conflict")
		require.Equal(t, before, e.storedCredential("bob", "b2"))
		require.Equal(t, first, e.storedCredential("alice", "a1"))
	})

	t.Run("duplicate name within the consumer", func(t *testing.T) {
		r := e.do(http.MethodPost, credsPath, map[string]any{
			"name": "main", "plugins": map[string]any{"key-auth": map[string]any{}},
		})
		requireError(t, r, http.StatusConflict, "conflict")
		require.Contains(t, r.Fields(t), "name")
	})

	t.Run("same name on another consumer is fine", func(t *testing.T) {
		e.must(http.StatusCreated, http.MethodPost, "/api/consumers/bob/credentials", map[string]any{
			"name": "main", "plugins": map[string]any{"key-auth": map[string]any{}},
		})
	})

	t.Run("duplicate id on POST", func(t *testing.T) {
		r := e.do(http.MethodPost, credsPath, map[string]any{
			"id": "a1", "name": "again", "plugins": map[string]any{"key-auth": map[string]any{}},
		})
		requireError(t, r, http.StatusConflict, "conflict")
		require.Equal(t, first, e.storedCredential("alice", "a1"))
	})
}

func TestDeletingConsumerDeletesCredentials(t *testing.T) {
	e := newCredEnv(t)
	e.must(http.StatusCreated, http.MethodPut, credsPath+"/a1", map[string]any{
		"name": "main", "plugins": map[string]any{"key-auth": map[string]any{}},
	})
	e.must(http.StatusNoContent, http.MethodDelete, "/api/consumers/alice", nil)
	requireError(t, e.do(http.MethodGet, credsPath+"/a1", nil), http.StatusNotFound, "not_found")
	// A new consumer with the same name starts without credentials.
	e.must(http.StatusCreated, http.MethodPost, "/api/consumers", map[string]any{"username": "alice"})
	list := e.must(http.StatusOK, http.MethodGet, credsPath, nil).JSON(t)
	require.Equal(t, []any{}, list["items"])
	require.EqualValues(t, 0, list["total"])
}
