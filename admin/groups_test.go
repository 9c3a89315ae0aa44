package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/admin"
	"github.com/gatehousehq/gatehouse/store"
)

func TestGroupLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	// The Otoroshi example body, as is.
	r := e.must(http.StatusCreated, http.MethodPost, "/api/groups", `{
		"id": "group_payment_apis",
		"name": "Payment APIs",
		"description": "All payment-related API routes",
		"metadata": {"department": "finance"},
		"tags": ["payment", "finance"],
		"created_at": "2001-01-01T00:00:00Z"
	}`)
	require.Equal(t, "/api/groups/group_payment_apis", r.Header.Get("Location"))
	created := r.JSON(t)
	require.Equal(t, "group_payment_apis", created["id"])
	require.Equal(t, "Payment APIs", created["name"])
	require.Equal(t, "All payment-related API routes", created["description"])
	require.Equal(t, map[string]any{"department": "finance"}, created["metadata"])
	require.Equal(t, []any{"payment", "finance"}, created["tags"], "tags keep their order")
	ts, err := time.Parse(time.RFC3339, created["created_at"].(string))
	require.NoError(t, err)
	require.WithinDuration(t, time.Now(), ts, time.Minute, "client-sent created_at is ignored")
	require.True(t, strings.HasSuffix(created["created_at"].(string), "Z"), "UTC")
	require.Equal(t, created["created_at"], created["updated_at"])
	require.Equal(t, created, e.must(http.StatusOK, http.MethodGet, "/api/groups/group_payment_apis", nil).JSON(t))

	t.Run("POST without id generates one", func(t *testing.T) {
		r := e.must(http.StatusCreated, http.MethodPost, "/api/groups", map[string]any{"name": "Public APIs"})
		m := r.JSON(t)
		id := m["id"].(string)
		require.Regexp(t, `^[0-9a-f]{32}$`, id)
		require.Equal(t, "/api/groups/"+id, r.Header.Get("Location"))
		require.Equal(t, m, e.must(http.StatusOK, http.MethodGet, "/api/groups/"+id, nil).JSON(t))
		require.NotContains(t, m, "tags", "empty fields are omitted")
		require.NotContains(t, m, "description")
	})

	t.Run("POST with a taken id", func(t *testing.T) {
		r := e.do(http.MethodPost, "/api/groups", map[string]any{"id": "group_payment_apis", "name": "Impostor"})
		requireError(t, r, http.StatusConflict, "conflict")
		require.Equal(t, map[string]any{"id": "already in use"}, r.Fields(t))
		g, err := e.store.GetGroup(ctx, "group_payment_apis")
		require.NoError(t, err)
		require.Equal(t, "Payment APIs", g.Name, "the existing group is untouched")
	})

	t.Run("PUT creates: 201", func(t *testing.T) {
		r := e.must(http.StatusCreated, http.MethodPut, "/api/groups/internal", map[string]any{"name": "Internal"})
		require.Equal(t, "/api/groups/internal", r.Header.Get("Location"))
		m := r.JSON(t)
		require.Equal(t, "internal", m["id"], "the id comes from the URL")
		require.Equal(t, "Internal", m["name"])
	})

	t.Run("PUT replaces: 200", func(t *testing.T) {
		r := e.must(http.StatusOK, http.MethodPut, "/api/groups/group_payment_apis",
			map[string]any{"id": "group_payment_apis", "name": "Payments", "tags": []string{"v2"}})
		require.Empty(t, r.Header.Get("Location"))
		m := r.JSON(t)
		require.Equal(t, "Payments", m["name"])
		require.Equal(t, []any{"v2"}, m["tags"])
		require.Nil(t, m["description"], "PUT replaces the whole object")
		require.Nil(t, m["metadata"], "PUT replaces the whole object")
		require.Equal(t, created["created_at"], m["created_at"], "created_at is kept")
	})

	t.Run("PUT with another id", func(t *testing.T) {
		requireFields(t, e.do(http.MethodPut, "/api/groups/group_payment_apis", map[string]any{"id": "moved", "name": "x"}), "id")
		_, err := e.store.GetGroup(ctx, "moved")
		require.ErrorIs(t, err, store.ErrNotFound)
		g, err := e.store.GetGroup(ctx, "group_payment_apis")
		require.NoError(t, err)
		require.Equal(t, "Payments", g.Name)
	})

	t.Run("merge patch", func(t *testing.T) {
		for _, ct := range []string{"application/merge-patch+json", "application/json", ""} {
			r := e.must(http.StatusOK, http.MethodPatch, "/api/groups/group_payment_apis",
				`{"description":"merged `+ct+`","metadata":{"team":"billing"},"tags":null}`, "Content-Type", ct)
			m := r.JSON(t)
			require.Equal(t, "merged "+ct, m["description"])
			require.Equal(t, "Payments", m["name"], "fields the patch does not name are kept")
			require.Equal(t, map[string]any{"team": "billing"}, m["metadata"])
			require.Nil(t, m["tags"], "null removes a field")
			require.Equal(t, created["created_at"], m["created_at"])
		}
	})

	t.Run("json patch", func(t *testing.T) {
		r := e.must(http.StatusOK, http.MethodPatch, "/api/groups/group_payment_apis",
			`[{"op":"add","path":"/tags","value":["payment"]},{"op":"add","path":"/tags/-","value":"finance"},
			  {"op":"replace","path":"/name","value":"Payment APIs"},{"op":"remove","path":"/metadata/team"}]`,
			"Content-Type", "application/json-patch+json")
		m := r.JSON(t)
		require.Equal(t, []any{"payment", "finance"}, m["tags"])
		require.Equal(t, "Payment APIs", m["name"])
		require.Nil(t, m["metadata"], "an emptied map is omitted")
	})

	t.Run("patch cannot change the id", func(t *testing.T) {
		r := e.must(http.StatusOK, http.MethodPatch, "/api/groups/group_payment_apis", `{"id":"moved","description":"moved?"}`)
		require.Equal(t, "group_payment_apis", r.JSON(t)["id"], "the URL wins")
		r = e.must(http.StatusOK, http.MethodPatch, "/api/groups/group_payment_apis",
			`[{"op":"replace","path":"/id","value":"moved"}]`, "Content-Type", "application/json-patch+json")
		require.Equal(t, "group_payment_apis", r.JSON(t)["id"])
		r = e.must(http.StatusOK, http.MethodPatch, "/api/groups/group_payment_apis",
			`[{"op":"remove","path":"/id"}]`, "Content-Type", "application/json-patch+json")
		require.Equal(t, "group_payment_apis", r.JSON(t)["id"])
		_, err := e.store.GetGroup(ctx, "moved")
		require.ErrorIs(t, err, store.ErrNotFound)
		g, err := e.store.GetGroup(ctx, "group_payment_apis")
		require.NoError(t, err)
		require.Equal(t, "moved?", g.Description)
	})

	t.Run("bad patches change nothing", func(t *testing.T) {
		before, err := e.store.GetGroup(ctx, "group_payment_apis")
		require.NoError(t, err)
		jp := []string{"Content-Type", "application/json-patch+json"}
		for _, tc := range []struct {
			name, body string
			hdr        []string
			fields     []string
		}{
			{"unknown op", `[{"op":"frobnicate","path":"/name","value":"x"}]`, jp, nil},
			{"missing path", `[{"op":"remove","path":"/nothing/here"}]`, jp, nil},
			{"failed test", `[{"op":"replace","path":"/name","value":"x"},{"op":"test","path":"/name","value":"y"}]`, jp, nil},
			{"json patch not an array", `{"op":"add"}`, jp, nil},
			{"merge patch not an object", `"name"`, nil, nil},
			{"malformed", `{"name":`, nil, nil},
			{"empty", ``, nil, nil},
			{"removes the name", `{"name":null,"description":"x"}`, nil, []string{"name"}},
			{"json patch removes the name", `[{"op":"remove","path":"/name"}]`, jp, []string{"name"}},
			{"duplicate tag", `[{"op":"add","path":"/tags/-","value":"payment"}]`, jp, []string{"tags"}},
			{"everything invalid", `{"name":"","tags":[""],"metadata":{"":"v"}}`, nil, []string{"name", "tags", "metadata"}},
			{"unknown field", `{"owner":"x"}`, nil, []string{"owner"}},
			{"wrong type", `{"tags":"payment"}`, nil, []string{"tags"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := e.do(http.MethodPatch, "/api/groups/group_payment_apis", tc.body, tc.hdr...)
				requireError(t, r, http.StatusBadRequest, "bad_request")
				if tc.fields != nil {
					requireFields(t, r, tc.fields...)
				}
				after, err := e.store.GetGroup(ctx, "group_payment_apis")
				require.NoError(t, err)
				require.Equal(t, before, after)
			})
		}
	})

	t.Run("missing", func(t *testing.T) {
		requireError(t, e.do(http.MethodGet, "/api/groups/nope", nil), http.StatusNotFound, "not_found")
		requireError(t, e.do(http.MethodPatch, "/api/groups/nope", `{"name":"x"}`), http.StatusNotFound, "not_found")
		requireError(t, e.do(http.MethodPatch, "/api/groups/nope", `[{"op":"add","path":"/name","value":"x"}]`,
			"Content-Type", "application/json-patch+json"), http.StatusNotFound, "not_found")
		requireError(t, e.do(http.MethodDelete, "/api/groups/nope", nil), http.StatusNotFound, "not_found")
		_, err := e.store.GetGroup(ctx, "nope")
		require.ErrorIs(t, err, store.ErrNotFound, "a patch never creates")
	})

	t.Run("delete deletes nothing else", func(t *testing.T) {
		e.must(http.StatusCreated, http.MethodPut, "/api/routes/pay", map[string]any{
			"groups": []string{"group_payment_apis", "internal"}, "frontend": map[string]any{"paths": []string{"/pay"}},
		})
		e.must(http.StatusCreated, http.MethodPost, "/api/consumers", map[string]any{"username": "shop"})
		e.must(http.StatusCreated, http.MethodPost, "/api/consumers/shop/credentials", map[string]any{
			"id": "k1", "name": "main", "plugins": map[string]any{"key-auth": map[string]any{}},
			"authorized_entities": []string{"group_group_payment_apis"},
		})

		r := e.must(http.StatusNoContent, http.MethodDelete, "/api/groups/group_payment_apis", nil)
		require.Empty(t, r.Body)
		requireError(t, e.do(http.MethodGet, "/api/groups/group_payment_apis", nil), http.StatusNotFound, "not_found")
		requireError(t, e.do(http.MethodDelete, "/api/groups/group_payment_apis", nil), http.StatusNotFound, "not_found")

		rt := e.must(http.StatusOK, http.MethodGet, "/api/routes/pay", nil).JSON(t)
		require.Equal(t, []any{"group_payment_apis", "internal"}, rt["groups"], "the route keeps its reference")
		cr := e.must(http.StatusOK, http.MethodGet, "/api/consumers/shop/credentials/k1", nil).JSON(t)
		require.Equal(t, []any{"group_group_payment_apis"}, cr["authorized_entities"], "the credential keeps its reference")
		e.must(http.StatusOK, http.MethodGet, "/api/groups/internal", nil)
	})
}

func TestGroupValidation(t *testing.T) {
	e := newEnv(t)
	long := strings.Repeat("a", 513)
	tests := []struct {
		name   string
		body   any
		fields []string
	}{
		{"no name", map[string]any{"id": "g1", "description": "x"}, []string{"name"}},
		{"empty name", map[string]any{"name": ""}, []string{"name"}},
		{"long name", map[string]any{"name": strings.Repeat("é", 513)}, []string{"name"}},
		{"bad id", map[string]any{"id": "a/b", "name": "x"}, []string{"id"}},
		{"long id", map[string]any{"id": long, "name": "x"}, []string{"id"}},
		{"empty tag", map[string]any{"name": "x", "tags": []string{"a", ""}}, []string{"tags"}},
		{"duplicate tag", map[string]any{"name": "x", "tags": []string{"a", "a"}}, []string{"tags"}},
		{"empty metadata key", map[string]any{"name": "x", "metadata": map[string]string{"": "v"}}, []string{"metadata"}},
		{"every field wrong", map[string]any{
			"id": "not ok", "tags": []string{""}, "metadata": map[string]string{"": ""},
		}, []string{"id", "name", "tags", "metadata"}},
		{"unknown field", map[string]any{"name": "x", "services": []string{"a"}}, []string{"services"}},
		{"wrong type", map[string]any{"name": "x", "metadata": map[string]any{"n": 1}}, []string{"metadata"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			requireFields(t, e.do(http.MethodPost, "/api/groups", tc.body), tc.fields...)
		})
	}

	t.Run("PUT", func(t *testing.T) {
		requireFields(t, e.do(http.MethodPut, "/api/groups/g1", map[string]any{"description": "x"}), "name")
		requireFields(t, e.do(http.MethodPut, "/api/groups/g1", map[string]any{"name": "x", "colour": "red"}), "colour")
		requireFields(t, e.do(http.MethodPut, "/api/groups/"+long, map[string]any{"name": "x"}), "id")
		requireFields(t, e.do(http.MethodPut, "/api/groups/bad%20id", map[string]any{"name": "x"}), "id")
	})

	page, err := e.store.ListGroups(context.Background(), store.ListOptions{})
	require.NoError(t, err)
	require.Zero(t, page.Total, "no invalid group was stored")

	t.Run("512 characters is enough", func(t *testing.T) {
		name := strings.Repeat("é", 512)
		r := e.must(http.StatusCreated, http.MethodPost, "/api/groups", map[string]any{"name": name})
		require.Equal(t, name, r.JSON(t)["name"])
	})
}

func TestGroupBodyRules(t *testing.T) {
	e := newEnv(t)
	e.must(http.StatusCreated, http.MethodPut, "/api/groups/g1", map[string]any{"name": "one"})
	big := `{"name":"big","description":"` + strings.Repeat("x", 2<<20) + `"}`
	tests := []struct {
		name         string
		method, path string
		body         string
		hdr          []string
		status       int
		code         string
	}{
		{"2 MiB POST", http.MethodPost, "/api/groups", big, nil, 413, "payload_too_large"},
		{"2 MiB PUT", http.MethodPut, "/api/groups/g1", big, nil, 413, "payload_too_large"},
		{"2 MiB PATCH", http.MethodPatch, "/api/groups/g1", big, nil, 413, "payload_too_large"},
		{"text/plain POST", http.MethodPost, "/api/groups", `{"name":"x"}`, []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type"},
		{"merge patch type on PUT", http.MethodPut, "/api/groups/g1", `{"name":"x"}`, []string{"Content-Type", "application/merge-patch+json"}, 415, "unsupported_media_type"},
		{"xml PATCH", http.MethodPatch, "/api/groups/g1", `{"name":"x"}`, []string{"Content-Type", "application/xml"}, 415, "unsupported_media_type"},
		{"malformed POST", http.MethodPost, "/api/groups", `{"name":`, nil, 400, "bad_request"},
		{"array POST", http.MethodPost, "/api/groups", `[{"name":"x"}]`, nil, 400, "bad_request"},
		{"trailing data PUT", http.MethodPut, "/api/groups/g1", `{"name":"x"} {}`, nil, 400, "bad_request"},
		{"json patch as merge patch", http.MethodPatch, "/api/groups/g1", `[{"op":"replace","path":"/name","value":"x"}]`, nil, 400, "bad_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			requireError(t, e.do(tc.method, tc.path, tc.body, tc.hdr...), tc.status, tc.code)
			page, err := e.store.ListGroups(context.Background(), store.ListOptions{})
			require.NoError(t, err)
			require.Equal(t, 1, page.Total, "nothing was created")
			g, err := e.store.GetGroup(context.Background(), "g1")
			require.NoError(t, err)
			require.Equal(t, "one", g.Name, "nothing was changed")
		})
	}

	t.Run("smaller limit", func(t *testing.T) {
		small := newEnv(t, admin.WithMaxBody(64))
		r := small.do(http.MethodPost, "/api/groups", `{"name":"`+strings.Repeat("y", 64)+`"}`)
		requireError(t, r, http.StatusRequestEntityTooLarge, "payload_too_large")
		small.must(http.StatusCreated, http.MethodPost, "/api/groups", `{"name":"small"}`)
	})

	t.Run("wrong method", func(t *testing.T) {
		r := e.do(http.MethodDelete, "/api/groups", nil)
		requireError(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
		require.Equal(t, "GET, HEAD, POST", r.Header.Get("Allow"))
		r = e.do(http.MethodPost, "/api/groups/g1", `{"name":"x"}`)
		requireError(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
		require.Equal(t, "GET, HEAD, PUT, PATCH, DELETE", r.Header.Get("Allow"))
		requireError(t, e.do(http.MethodGet, "/api/groups/g1/apikeys/x/y", nil), http.StatusNotFound, "not_found")
	})

	t.Run("admin key", func(t *testing.T) {
		requireError(t, e.do(http.MethodGet, "/api/groups", nil, "X-API-KEY", ""), http.StatusUnauthorized, "unauthorized")
		requireError(t, e.do(http.MethodDelete, "/api/groups/g1", nil, "X-API-KEY", "wrong"), http.StatusUnauthorized, "unauthorized")
		e.must(http.StatusOK, http.MethodGet, "/api/groups/g1", nil)
	})
}

func TestGroupList(t *testing.T) {
	e := newEnv(t)
	var want, payment []string
	for i := range 23 {
		id := fmt.Sprintf("group%02d", i)
		want = append(want, id)
		tags := []string{[]string{"even", "odd"}[i%2]}
		if i%3 == 0 {
			tags = append(tags, "payment")
			payment = append(payment, id)
		}
		e.must(http.StatusCreated, http.MethodPost, "/api/groups", map[string]any{"id": id, "name": "Group " + id, "tags": tags})
	}

	for _, limit := range []int{1, 5, 23, 1000} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			ids, total := collect(t, e, "/api/groups", "id", limit)
			require.Equal(t, want, ids, "every group once, in id order")
			require.Equal(t, 23, total)
		})
	}

	t.Run("default limit is 100", func(t *testing.T) {
		m := e.must(http.StatusOK, http.MethodGet, "/api/groups", nil).JSON(t)
		require.Len(t, m["items"], 23)
		require.Equal(t, "", m["next"])
		require.EqualValues(t, 23, m["total"])
	})

	t.Run("tag filter", func(t *testing.T) {
		ids, total := collect(t, e, "/api/groups?tag=payment", "id", 3)
		require.Equal(t, payment, ids)
		require.Equal(t, len(payment), total, "total counts the matching groups only")

		m := e.must(http.StatusOK, http.MethodGet, "/api/groups?tag=odd&limit=2", nil).JSON(t)
		require.EqualValues(t, 11, m["total"])
		require.Len(t, m["items"], 2)
		require.NotEmpty(t, m["next"])

		m = e.must(http.StatusOK, http.MethodGet, "/api/groups?tag=Payment", nil).JSON(t)
		require.Equal(t, []any{}, m["items"], "tags are case-sensitive; items is [] when empty, never null")
		require.EqualValues(t, 0, m["total"])

		ids, total = collect(t, e, "/api/groups?tag=", "id", 100)
		require.Equal(t, want, ids, "an empty tag filters nothing")
		require.Equal(t, 23, total)
		ids, _ = collect(t, e, "/api/groups?tag=payment&tag=payment", "id", 100)
		require.Equal(t, payment, ids, "the same tag twice is one filter")
	})

	t.Run("bad query", func(t *testing.T) {
		for _, tc := range []struct{ query, field string }{
			{"limit=0", "limit"},
			{"limit=1001", "limit"},
			{"limit=ten", "limit"},
			{"cursor=%21%21not-a-cursor", "cursor"},
			{"tag=payment&tag=odd", "tag"},
		} {
			t.Run(tc.query, func(t *testing.T) {
				requireFields(t, e.do(http.MethodGet, "/api/groups?"+tc.query, nil), tc.field)
			})
		}
		requireFields(t, e.do(http.MethodGet, "/api/groups?limit=0&tag=a&tag=b", nil), "limit", "tag")
	})
}
