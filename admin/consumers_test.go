package admin_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/store"
)

func TestConsumerLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	r := e.must(http.StatusCreated, http.MethodPost, "/api/consumers", map[string]any{
		"username":   "alice",
		"desc":       "first",
		"labels":     map[string]string{"team": "a"},
		"created_at": "2001-01-01T00:00:00Z", // ignored
	})
	require.Equal(t, "/api/consumers/alice", r.Header.Get("Location"))
	created := r.JSON(t)
	require.Equal(t, "alice", created["username"])
	require.Equal(t, "first", created["desc"])
	ts, err := time.Parse(time.RFC3339, created["created_at"].(string))
	require.NoError(t, err)
	require.WithinDuration(t, time.Now(), ts, time.Minute, "client-sent created_at is ignored")
	require.True(t, strings.HasSuffix(created["created_at"].(string), "Z"), "UTC")

	got := e.must(http.StatusOK, http.MethodGet, "/api/consumers/alice", nil).JSON(t)
	require.Equal(t, created, got)

	requireError(t, e.do(http.MethodPost, "/api/consumers", map[string]any{"username": "alice"}), http.StatusConflict, "conflict")

	t.Run("PUT replaces: 200", func(t *testing.T) {
		r := e.must(http.StatusOK, http.MethodPut, "/api/consumers/alice", map[string]any{"desc": "second", "group_id": "g1"})
		m := r.JSON(t)
		require.Equal(t, "alice", m["username"])
		require.Equal(t, "second", m["desc"])
		require.Nil(t, m["labels"], "PUT replaces the whole object")
		require.Equal(t, created["created_at"], m["created_at"])
	})

	t.Run("PUT creates: 201", func(t *testing.T) {
		r := e.must(http.StatusCreated, http.MethodPut, "/api/consumers/bob", map[string]any{"username": "bob"})
		require.Equal(t, "/api/consumers/bob", r.Header.Get("Location"))
		_, err := e.store.GetConsumer(ctx, "bob")
		require.NoError(t, err)
	})

	t.Run("PUT with another username", func(t *testing.T) {
		requireFields(t, e.do(http.MethodPut, "/api/consumers/alice", map[string]any{"username": "eve"}), "username")
		_, err := e.store.GetConsumer(ctx, "eve")
		require.ErrorIs(t, err, store.ErrNotFound)
	})

	t.Run("merge patch", func(t *testing.T) {
		for _, ct := range []string{"application/merge-patch+json", "application/json", ""} {
			r := e.must(http.StatusOK, http.MethodPatch, "/api/consumers/alice",
				`{"desc":"merged `+ct+`","labels":{"env":"prod"},"group_id":null}`, "Content-Type", ct)
			m := r.JSON(t)
			require.Equal(t, "merged "+ct, m["desc"])
			require.Equal(t, map[string]any{"env": "prod"}, m["labels"])
			require.Nil(t, m["group_id"])
		}
	})

	t.Run("json patch", func(t *testing.T) {
		r := e.must(http.StatusOK, http.MethodPatch, "/api/consumers/alice",
			`[{"op":"replace","path":"/desc","value":"patched"},{"op":"add","path":"/labels/tier","value":"gold"}]`,
			"Content-Type", "application/json-patch+json")
		m := r.JSON(t)
		require.Equal(t, "patched", m["desc"])
		require.Equal(t, map[string]any{"env": "prod", "tier": "gold"}, m["labels"])
	})

	t.Run("patch cannot rename", func(t *testing.T) {
		e.must(http.StatusOK, http.MethodPatch, "/api/consumers/alice", `{"username":"eve","desc":"renamed?"}`)
		e.must(http.StatusOK, http.MethodPatch, "/api/consumers/alice",
			`[{"op":"replace","path":"/username","value":"eve"}]`, "Content-Type", "application/json-patch+json")
		_, err := e.store.GetConsumer(ctx, "eve")
		require.ErrorIs(t, err, store.ErrNotFound)
		c, err := e.store.GetConsumer(ctx, "alice")
		require.NoError(t, err)
		require.Equal(t, "renamed?", c.Desc)
	})

	t.Run("bad patches change nothing", func(t *testing.T) {
		before, err := e.store.GetConsumer(ctx, "alice")
		require.NoError(t, err)
		jp := []string{"Content-Type", "application/json-patch+json"}
		for _, tc := range []struct {
			name, body string
			hdr        []string
			fields     []string
		}{
			{"unknown op", `[{"op":"frobnicate","path":"/desc","value":"x"}]`, jp, nil},
			{"missing path", `[{"op":"remove","path":"/nothing/here"}]`, jp, nil},
			{"failed test", `[{"op":"replace","path":"/desc","value":"x"},{"op":"test","path":"/desc","value":"y"}]`, jp, nil},
			{"json patch not an array", `{"op":"add"}`, jp, nil},
			{"merge patch not an object", `"desc"`, nil, nil},
			{"malformed", `{"desc":`, nil, nil},
			{"invalid result", `{"group_id":"not valid!","desc":"x"}`, nil, []string{"group_id"}},
			{"unknown field", `{"nickname":"x"}`, nil, []string{"nickname"}},
			{"unknown plugin", `{"plugins":{"nope":{}}}`, nil, []string{"plugins.nope"}},
			{"json patch to invalid", `[{"op":"add","path":"/group_id","value":"a b"}]`, jp, []string{"group_id"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := e.do(http.MethodPatch, "/api/consumers/alice", tc.body, tc.hdr...)
				requireError(t, r, http.StatusBadRequest, "bad_request")
				if tc.fields != nil {
					requireFields(t, r, tc.fields...)
				}
				after, err := e.store.GetConsumer(ctx, "alice")
				require.NoError(t, err)
				require.Equal(t, before, after)
			})
		}
	})

	t.Run("patch missing", func(t *testing.T) {
		requireError(t, e.do(http.MethodPatch, "/api/consumers/nobody", `{"desc":"x"}`), http.StatusNotFound, "not_found")
		_, err := e.store.GetConsumer(ctx, "nobody")
		require.ErrorIs(t, err, store.ErrNotFound)
	})

	t.Run("delete", func(t *testing.T) {
		r := e.must(http.StatusNoContent, http.MethodDelete, "/api/consumers/alice", nil)
		require.Empty(t, r.Body)
		requireError(t, e.do(http.MethodGet, "/api/consumers/alice", nil), http.StatusNotFound, "not_found")
		requireError(t, e.do(http.MethodDelete, "/api/consumers/alice", nil), http.StatusNotFound, "not_found")
	})
}

func TestConsumerValidation(t *testing.T) {
	e := newEnv(t)
	long := strings.Repeat("a", 513)
	tests := []struct {
		name   string
		body   any
		fields []string
	}{
		{"no username", map[string]any{"desc": "x"}, []string{"username"}},
		{"bad username and group", map[string]any{"username": "bad name", "group_id": "bad/group"}, []string{"username", "group_id"}},
		{"long username", map[string]any{"username": long}, []string{"username"}},
		{"empty label key", map[string]any{"username": "ok", "labels": map[string]string{"": "v"}}, []string{"labels"}},
		{"unknown plugin and bad settings", map[string]any{
			"username": "ok",
			"plugins":  map[string]any{"nope": map[string]any{}, "key-auth": map[string]any{"header": "bad header"}},
		}, []string{"plugins.nope", "plugins.key-auth.header"}},
		{"everything at once", map[string]any{
			"username": "",
			"group_id": "x y",
			"plugins":  map[string]any{"nope": nil},
		}, []string{"username", "group_id", "plugins.nope"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			requireFields(t, e.do(http.MethodPost, "/api/consumers", tc.body), tc.fields...)
		})
	}
	page, err := e.store.ListConsumers(context.Background(), store.ListOptions{})
	require.NoError(t, err)
	require.Zero(t, page.Total, "no invalid consumer was stored")

	t.Run("PUT with an invalid username in the URL", func(t *testing.T) {
		requireFields(t, e.do(http.MethodPut, "/api/consumers/"+long, map[string]any{}), "username")
	})

	t.Run("valid plugins are kept", func(t *testing.T) {
		r := e.must(http.StatusCreated, http.MethodPost, "/api/consumers", map[string]any{
			"username": "withplugin",
			"plugins":  map[string]any{"key-auth": map[string]any{"header": "x-key"}},
		})
		require.Equal(t, map[string]any{"key-auth": map[string]any{"header": "x-key"}}, r.JSON(t)["plugins"])
	})
}
