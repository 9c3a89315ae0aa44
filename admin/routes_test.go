package admin_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/store"
)

func TestRouteLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	r := e.must(http.StatusCreated, http.MethodPost, "/api/routes", map[string]any{
		"name":     "orders",
		"frontend": map[string]any{"paths": []string{"/orders"}, "methods": []string{"GET"}},
		"backend":  map[string]any{"target": "http://127.0.0.1:9000"},
		"plugins":  map[string]any{"key-auth": map[string]any{}},
	})
	m := r.JSON(t)
	id := m["id"].(string)
	require.Regexp(t, `^[0-9a-f]{32}$`, id)
	require.Equal(t, "/api/routes/"+id, r.Header.Get("Location"))
	require.Equal(t, m, e.must(http.StatusOK, http.MethodGet, "/api/routes/"+id, nil).JSON(t))

	t.Run("POST with a taken id", func(t *testing.T) {
		requireError(t, e.do(http.MethodPost, "/api/routes", map[string]any{"id": id}), http.StatusConflict, "conflict")
		rt, err := e.store.GetRoute(ctx, id)
		require.NoError(t, err)
		require.Equal(t, "orders", rt.Name)
	})

	t.Run("PUT", func(t *testing.T) {
		e.must(http.StatusCreated, http.MethodPut, "/api/routes/r2", map[string]any{"name": "two"})
		r := e.must(http.StatusOK, http.MethodPut, "/api/routes/r2", map[string]any{"id": "r2", "name": "deux"})
		require.Equal(t, "deux", r.JSON(t)["name"])
		r = e.must(http.StatusOK, http.MethodPatch, "/api/routes/r2", `{"api":"shop"}`)
		require.Equal(t, "shop", r.JSON(t)["api"], "a route joins an API (virtual group api_shop)")
		requireFields(t, e.do(http.MethodPut, "/api/routes/r2", map[string]any{"id": "r3"}), "id")
	})

	t.Run("patch", func(t *testing.T) {
		r := e.must(http.StatusOK, http.MethodPatch, "/api/routes/"+id, `{"id":"moved","auth_mode":"any","backend":null}`)
		m := r.JSON(t)
		require.Equal(t, id, m["id"])
		require.Equal(t, "any", m["auth_mode"])
		require.Nil(t, m["backend"])
		r = e.must(http.StatusOK, http.MethodPatch, "/api/routes/"+id,
			`[{"op":"add","path":"/frontend/paths/-","value":"/orders2"},{"op":"replace","path":"/id","value":"moved"}]`,
			"Content-Type", "application/json-patch+json")
		require.Equal(t, []any{"/orders", "/orders2"}, r.JSON(t)["frontend"].(map[string]any)["paths"])
		_, err := e.store.GetRoute(ctx, "moved")
		require.ErrorIs(t, err, store.ErrNotFound)
		requireError(t, e.do(http.MethodPatch, "/api/routes/nope", `{"name":"x"}`), http.StatusNotFound, "not_found")
	})

	t.Run("delete", func(t *testing.T) {
		e.must(http.StatusNoContent, http.MethodDelete, "/api/routes/"+id, nil)
		requireError(t, e.do(http.MethodGet, "/api/routes/"+id, nil), http.StatusNotFound, "not_found")
		requireError(t, e.do(http.MethodDelete, "/api/routes/"+id, nil), http.StatusNotFound, "not_found")
	})
}

func TestRouteValidation(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name   string
		body   any
		fields []string
	}{
		{"every field wrong", map[string]any{
			"id":        "a/b",
			"groups":    []string{"ok", "not ok"},
			"api":       "shop v2",
			"frontend":  map[string]any{"paths": []string{"orders"}, "methods": []string{"get"}},
			"backend":   map[string]any{"target": "ftp://x"},
			"auth_mode": "some",
			"plugins":   map[string]any{"nope": map[string]any{}, "key-auth": map[string]any{"realm": `a"b`}},
		}, []string{"id", "groups", "api", "frontend.paths", "frontend.methods", "backend.target", "auth_mode", "plugins.nope", "plugins.key-auth.realm"}},
		{"unknown nested field", map[string]any{"frontend": map[string]any{"path": "/x"}}, []string{"path"}},
		{"wrong nested type", map[string]any{"frontend": map[string]any{"paths": "/x"}}, []string{"frontend.paths"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			requireFields(t, e.do(http.MethodPost, "/api/routes", tc.body), tc.fields...)
		})
	}
	page, err := e.store.ListRoutes(context.Background(), store.ListOptions{})
	require.NoError(t, err)
	require.Zero(t, page.Total)
}
