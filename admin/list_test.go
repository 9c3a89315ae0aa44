package admin_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

// collect follows next cursors from path and returns every item's id field.
func collect(t *testing.T, e *env, path, idField string, limit int) ([]string, int) {
	t.Helper()
	var ids []string
	cursor, pages := "", 0
	for {
		q := url.Values{"limit": {fmt.Sprint(limit)}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		sep := "?"
		if u, _ := url.Parse(path); u.RawQuery != "" {
			sep = "&"
		}
		m := e.must(http.StatusOK, http.MethodGet, path+sep+q.Encode(), nil).JSON(t)
		items := m["items"].([]any)
		require.LessOrEqual(t, len(items), limit)
		for _, it := range items {
			ids = append(ids, it.(map[string]any)[idField].(string))
		}
		pages++
		require.Less(t, pages, 100, "the cursor loops")
		cursor = m["next"].(string)
		if cursor == "" {
			return ids, int(m["total"].(float64))
		}
	}
}

func TestListPagination(t *testing.T) {
	e := newEnv(t)
	var want []string
	for i := range 23 {
		name := fmt.Sprintf("user%02d", i)
		want = append(want, name)
		labels := map[string]string{"parity": []string{"even", "odd"}[i%2]}
		if i%3 == 0 {
			labels["three"] = "yes"
		}
		e.must(http.StatusCreated, http.MethodPost, "/api/consumers", map[string]any{"username": name, "labels": labels})
		e.must(http.StatusCreated, http.MethodPut, "/api/routes/"+name, map[string]any{})
		e.must(http.StatusCreated, http.MethodPost, "/api/consumers/user00/credentials", map[string]any{
			"id": name, "name": name, "plugins": map[string]any{"key-auth": map[string]any{}},
		})
	}

	for _, path := range []string{"/api/consumers", "/api/routes", "/api/consumers/user00/credentials"} {
		idField := "id"
		if path == "/api/consumers" {
			idField = "username"
		}
		for _, limit := range []int{1, 5, 23, 1000} {
			t.Run(fmt.Sprintf("%s limit %d", path, limit), func(t *testing.T) {
				ids, total := collect(t, e, path, idField, limit)
				require.Equal(t, want, ids, "every item once, in id order")
				require.Equal(t, 23, total)
			})
		}
	}

	t.Run("credential list shows no secret", func(t *testing.T) {
		r := e.must(http.StatusOK, http.MethodGet, "/api/consumers/user00/credentials", nil)
		require.NotContains(t, r.Body, `"key"`)
		require.NotContains(t, r.Body, "key_hash")
	})

	t.Run("default limit is 100", func(t *testing.T) {
		m := e.must(http.StatusOK, http.MethodGet, "/api/consumers", nil).JSON(t)
		require.Len(t, m["items"], 23)
		require.Equal(t, "", m["next"])
	})

	t.Run("labels", func(t *testing.T) {
		ids, total := collect(t, e, "/api/consumers?label=parity:even&label=three:yes", "username", 2)
		require.Equal(t, []string{"user00", "user06", "user12", "user18"}, ids)
		require.Equal(t, 4, total)
		ids, _ = collect(t, e, "/api/consumers?label=parity:odd", "username", 100)
		require.Len(t, ids, 11)
		m := e.must(http.StatusOK, http.MethodGet, "/api/consumers?label=parity:none", nil).JSON(t)
		require.Equal(t, []any{}, m["items"], "items is [] when empty, never null")
		require.EqualValues(t, 0, m["total"])
	})

	t.Run("bad query", func(t *testing.T) {
		for _, tc := range []struct{ query, field string }{
			{"limit=0", "limit"},
			{"limit=-1", "limit"},
			{"limit=1001", "limit"},
			{"limit=ten", "limit"},
			{"limit=", "limit"},
			{"label=parity", "label"},
			{"label=:even", "label"},
			{"label=parity:even&label=parity:odd", "label"},
			{"cursor=%21%21not-a-cursor", "cursor"},
		} {
			t.Run(tc.query, func(t *testing.T) {
				requireFields(t, e.do(http.MethodGet, "/api/consumers?"+tc.query, nil), tc.field)
			})
		}
		requireFields(t, e.do(http.MethodGet, "/api/routes?limit=5000", nil), "limit")
		requireFields(t, e.do(http.MethodGet, "/api/consumers/user00/credentials?cursor=%21", nil), "cursor")
	})
}
