package admin_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/admin"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/route"
)

// padded returns a consumer body of exactly n bytes: its desc fills the rest.
func padded(t *testing.T, username string, n int) string {
	t.Helper()
	head, tail := `{"username":"`+username+`","desc":"`, `"}`
	require.Greater(t, n, len(head)+len(tail))
	return head + strings.Repeat("d", n-len(head)-len(tail)) + tail
}

// TestBodyCapExact: a body of exactly the cap is accepted, one byte more is
// 413 and stores nothing, for POST, PUT and PATCH, with the default cap and
// a smaller one.
func TestBodyCapExact(t *testing.T) {
	for _, limit := range []int{int(admin.DefaultMaxBody), 256} {
		t.Run(strconv.Itoa(limit), func(t *testing.T) {
			var opts []admin.Option
			if limit != int(admin.DefaultMaxBody) {
				opts = append(opts, admin.WithMaxBody(int64(limit)))
			}
			e := newEnv(t, opts...)
			e.must(http.StatusCreated, http.MethodPost, "/api/consumers", `{"username":"alice"}`)
			for _, tc := range []struct{ method, path, user string }{
				{http.MethodPost, "/api/consumers", "bob"},
				{http.MethodPut, "/api/consumers/carol", "carol"},
				{http.MethodPatch, "/api/consumers/alice", "alice"},
			} {
				over := e.do(tc.method, tc.path, padded(t, tc.user, limit+1))
				requireError(t, over, http.StatusRequestEntityTooLarge, "payload_too_large")
				require.Contains(t, over.Body, strconv.Itoa(limit))
				if tc.user != "alice" {
					e.must(http.StatusNotFound, http.MethodGet, "/api/consumers/"+tc.user, nil)
				}
				body := padded(t, tc.user, limit)
				require.Len(t, body, limit)
				r := e.do(tc.method, tc.path, body)
				require.Contains(t, []int{http.StatusOK, http.StatusCreated}, r.Code, r.Body)
				got := e.must(http.StatusOK, http.MethodGet, "/api/consumers/"+tc.user, nil).JSON(t)
				require.Len(t, got["desc"], limit-len(`{"username":"`+tc.user+`","desc":""}`))
			}
		})
	}
}

// entities returns n distinct authorized entities as a JSON array.
func entities(n int) string {
	out := make([]string, n)
	for i := range out {
		out[i] = `"group_g` + strconv.Itoa(i) + `"`
	}
	return "[" + strings.Join(out, ",") + "]"
}

// TestAuthorizedEntitiesCap: at most MaxAuthorizedEntities entities on a
// credential or an API key, whether sent whole or made by a patch.
func TestAuthorizedEntitiesCap(t *testing.T) {
	const max = credential.MaxAuthorizedEntities
	e := newKeyEnv(t)
	e.must(http.StatusCreated, http.MethodPost, "/api/consumers", `{"username":"alice"}`)
	cred := func(id string, n int) string {
		return `{"id":"` + id + `","name":"` + id + `","plugins":{"key-auth":{"key":"key-of-` + id + `"}},"authorized_entities":` + entities(n) + `}`
	}
	key := func(id string, n int) string {
		return `{"clientId":"` + id + `","clientName":"` + id + `","authorizedEntities":` + entities(n) + `}`
	}
	for _, tc := range []struct {
		name, path, field string
		body              func(id string, n int) string
	}{
		{"credential", "/api/consumers/alice/credentials", "authorized_entities", cred},
		{"API key", "/api/apikeys", "authorizedEntities", key},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requireFields(t, e.do(http.MethodPost, tc.path, tc.body("over", max+1)), tc.field)
			e.must(http.StatusNotFound, http.MethodGet, tc.path+"/over", nil)
			e.must(http.StatusCreated, http.MethodPost, tc.path, tc.body("at", max))
			got := e.must(http.StatusOK, http.MethodGet, tc.path+"/at", nil).JSON(t)
			require.Len(t, got[tc.field], max)

			// A patch that adds one entity more is refused too; the stored
			// object is unchanged.
			patch := `[{"op":"add","path":"/` + tc.field + `/-","value":"group_extra"}]`
			r := e.do(http.MethodPatch, tc.path+"/at", patch, "Content-Type", "application/json-patch+json")
			requireFields(t, r, tc.field)
			got = e.must(http.StatusOK, http.MethodGet, tc.path+"/at", nil).JSON(t)
			require.Len(t, got[tc.field], max)
		})
	}
}

// patchOps returns a JSON Patch of n operations.
func patchOps(n int) string {
	ops := make([]string, n)
	for i := range ops {
		ops[i] = `{"op":"replace","path":"/desc","value":"v` + strconv.Itoa(i) + `"}`
	}
	return "[" + strings.Join(ops, ",") + "]"
}

// TestJSONPatchOperationsCap: a JSON Patch of MaxPatchOperations applies,
// one operation more is 400 and changes nothing.
func TestJSONPatchOperationsCap(t *testing.T) {
	const max = admin.MaxPatchOperations
	e := newEnv(t)
	e.must(http.StatusCreated, http.MethodPost, "/api/consumers", `{"username":"alice","desc":"start"}`)
	r := e.do(http.MethodPatch, "/api/consumers/alice", patchOps(max+1), "Content-Type", "application/json-patch+json")
	requireError(t, r, http.StatusBadRequest, "bad_request")
	require.Contains(t, r.Body, fmt.Sprint(max))
	got := e.must(http.StatusOK, http.MethodGet, "/api/consumers/alice", nil).JSON(t)
	require.Equal(t, "start", got["desc"])

	r = e.must(http.StatusOK, http.MethodPatch, "/api/consumers/alice", patchOps(max), "Content-Type", "application/json-patch+json")
	var out struct {
		Desc string `json:"desc"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.Body), &out))
	require.Equal(t, "v"+strconv.Itoa(max-1), out.Desc)
}

// TestRouteLimits: a route at route.MaxPaths paths is stored, one more path
// is 400 naming frontend.paths.
func TestRouteLimits(t *testing.T) {
	e := newEnv(t)
	body := func(id string, n int) map[string]any {
		ps := make([]string, n)
		for i := range ps {
			ps[i] = "/p" + strconv.Itoa(i)
		}
		return map[string]any{"id": id, "frontend": map[string]any{"paths": ps}}
	}
	requireFields(t, e.do(http.MethodPost, "/api/routes", body("over", route.MaxPaths+1)), "frontend.paths")
	e.must(http.StatusNotFound, http.MethodGet, "/api/routes/over", nil)
	e.must(http.StatusCreated, http.MethodPost, "/api/routes", body("at", route.MaxPaths))
}
