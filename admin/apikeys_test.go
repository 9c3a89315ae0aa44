package admin_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/admin"
	"github.com/gatehousehq/gatehouse/credential/apikey"
	"github.com/gatehousehq/gatehouse/credential/keyauth"
	"github.com/gatehousehq/gatehouse/keyring"
	"github.com/gatehousehq/gatehouse/plugin"
	"github.com/gatehousehq/gatehouse/store/memory"
)

// newKeyEnv is an admin handler whose registry holds apikey-auth.
func newKeyEnv(t *testing.T) *env {
	t.Helper()
	st := memory.New()
	ring, _ := keyring.Generate()
	logs := &bytes.Buffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg := plugin.NewRegistry(keyauth.Definition{}, apikey.Definition{Ring: ring})
	e := &env{t: t, store: st, h: admin.New(st, reg, admin.WithKey(testKey), admin.WithLogger(logger)), logs: logs}
	e.must(http.StatusCreated, http.MethodPost, "/api/groups", map[string]any{"id": "A", "name": "group A"})
	return e
}

func TestAPIKeyValidation(t *testing.T) {
	e := newKeyEnv(t)
	for _, tc := range []struct {
		name   string
		body   string
		fields []string
	}{
		{"every bad field", `{"clientId":"bad id!","clientSecret":"short","clientName":"","throttlingQuota":-1,"dailyQuota":1.5,
			"monthlyQuota":"x","validUntil":"soon","rotation":{"enabled":true,"rotationEvery":-1,"gracePeriod":-2},
			"authorizedEntities":["group_ bad"],"consumer":"no such!","tags":[""],"metadata":{"":"x"}}`,
			[]string{"clientId", "clientSecret", "clientName", "throttlingQuota", "dailyQuota", "monthlyQuota", "validUntil",
				"rotation.rotationEvery", "rotation.gracePeriod", "authorizedEntities", "consumer", "tags", "metadata"}},
		{"name required", `{}`, []string{"clientName"}},
		{"unknown field", `{"clientName":"x","nope":1}`, []string{"nope"}},
		{"missing consumer", `{"clientName":"x","consumer":"ghost"}`, []string{"consumer"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requireFields(t, e.do(http.MethodPost, "/api/apikeys", tc.body), tc.fields...)
		})
	}
	r := e.must(http.StatusOK, http.MethodGet, "/api/apikeys", nil)
	require.JSONEq(t, `{"items":[],"total":0,"next":""}`, r.Body, "a refused write changes nothing")
	r = e.must(http.StatusOK, http.MethodGet, "/api/consumers", nil)
	require.Contains(t, r.Body, `"total":0`)
}

func TestAPIKeyCRUD(t *testing.T) {
	e := newKeyEnv(t)
	e.must(http.StatusCreated, http.MethodPost, "/api/consumers", map[string]any{"username": "alice"})
	r := e.must(http.StatusCreated, http.MethodPost, "/api/apikeys",
		`{"clientId":"k1","clientSecret":"secret-one-123","clientName":"same","consumer":"alice","throttlingQuota":10,"dailyQuota":0,"tags":["t"],"metadata":{"m":"v"},"validUntil":null}`)
	require.Equal(t, "/api/apikeys/k1", r.Header.Get("Location"))
	m := r.JSON(t)
	require.NotContains(t, m, "clientSecret")
	require.Equal(t, float64(10), m["throttlingQuota"])
	require.Equal(t, float64(0), m["dailyQuota"])
	require.Nil(t, m["monthlyQuota"])
	require.Equal(t, "alice", m["consumer"])
	require.NotEmpty(t, m["created_at"])

	// clientName may repeat within a consumer.
	e.must(http.StatusCreated, http.MethodPost, "/api/apikeys", `{"clientId":"k2","clientName":"same","consumer":"alice"}`)

	// Duplicates: a key, and a consumer that an owned key would need.
	requireError(t, e.do(http.MethodPost, "/api/apikeys", `{"clientId":"k1","clientName":"again"}`), http.StatusConflict, "conflict")
	requireError(t, e.do(http.MethodPost, "/api/apikeys", `{"clientId":"alice","clientName":"x"}`), http.StatusConflict, "conflict")
	// The generic credential endpoint cannot take the clientId either.
	requireError(t, e.do(http.MethodPost, "/api/consumers/alice/credentials",
		`{"id":"other","name":"other","plugins":{"apikey-auth":{"clientId":"k1"}}}`), http.StatusConflict, "conflict")

	// Merge patch: the URL's clientId wins.
	r = e.must(http.StatusOK, http.MethodPatch, "/api/apikeys/k1", `{"clientId":"zzz","description":"d","readOnly":true}`,
		"Content-Type", "application/merge-patch+json")
	m = r.JSON(t)
	require.Equal(t, "k1", m["clientId"])
	require.Equal(t, "d", m["description"])
	require.Equal(t, true, m["readOnly"])
	require.Equal(t, float64(10), m["throttlingQuota"], "a patch keeps what it does not name")
	// JSON patch.
	r = e.must(http.StatusOK, http.MethodPatch, "/api/apikeys/k1",
		`[{"op":"replace","path":"/clientName","value":"renamed"},{"op":"add","path":"/authorizedEntities/-","value":"group_A"}]`,
		"Content-Type", "application/json-patch+json")
	m = r.JSON(t)
	require.Equal(t, "renamed", m["clientName"])
	require.Equal(t, []any{"group_A"}, m["authorizedEntities"])
	requireFields(t, e.do(http.MethodPatch, "/api/apikeys/k1", `{"dailyQuota":-5}`), "dailyQuota")
	requireError(t, e.do(http.MethodPatch, "/api/apikeys/ghost", `{}`), http.StatusNotFound, "not_found")
	requireFields(t, e.do(http.MethodPatch, "/api/apikeys/k1", `{"consumer":"bob"}`), "consumer")

	// PUT replaces (keeping the secret) or creates.
	r = e.must(http.StatusOK, http.MethodPut, "/api/apikeys/k1", `{"clientName":"put"}`)
	m = r.JSON(t)
	require.Equal(t, "alice", m["consumer"])
	require.Nil(t, m["throttlingQuota"])
	requireError(t, e.do(http.MethodPut, "/api/apikeys/k1", `{"clientId":"k9","clientName":"put"}`), http.StatusBadRequest, "bad_request")
	r = e.must(http.StatusCreated, http.MethodPut, "/api/apikeys/k3", `{"clientName":"new"}`)
	require.NotEmpty(t, r.JSON(t)["clientSecret"])

	// Lists, with pages.
	r = e.must(http.StatusOK, http.MethodGet, "/api/apikeys?limit=2", nil)
	m = r.JSON(t)
	require.Equal(t, float64(3), m["total"])
	require.Len(t, m["items"], 2)
	next, _ := m["next"].(string)
	require.NotEmpty(t, next)
	r = e.must(http.StatusOK, http.MethodGet, "/api/apikeys?limit=2&cursor="+next, nil)
	m = r.JSON(t)
	require.Len(t, m["items"], 1)
	require.Equal(t, "k3", m["items"].([]any)[0].(map[string]any)["clientId"])
	require.Empty(t, m["next"])
	requireError(t, e.do(http.MethodGet, "/api/apikeys?cursor=@@", nil), http.StatusBadRequest, "bad_request")

	// Quotas are not there yet.
	requireError(t, e.do(http.MethodGet, "/api/apikeys/k1/quotas", nil), http.StatusNotImplemented, "not_implemented")
	requireError(t, e.do(http.MethodDelete, "/api/apikeys/k1/quotas", nil), http.StatusNotImplemented, "not_implemented")
	requireError(t, e.do(http.MethodGet, "/api/apikeys/ghost/quotas", nil), http.StatusNotFound, "not_found")
	requireError(t, e.do(http.MethodPost, "/api/apikeys/k1/quotas", nil), http.StatusMethodNotAllowed, "method_not_allowed")
	requireError(t, e.do(http.MethodPost, "/api/apikeys/k1", nil), http.StatusMethodNotAllowed, "method_not_allowed")

	e.must(http.StatusNoContent, http.MethodDelete, "/api/apikeys/k1", nil)
	requireError(t, e.do(http.MethodDelete, "/api/apikeys/k1", nil), http.StatusNotFound, "not_found")
	requireError(t, e.do(http.MethodGet, "/api/apikeys/k1", nil), http.StatusNotFound, "not_found")
	e.must(http.StatusOK, http.MethodGet, "/api/consumers/alice", nil)
}

func TestGroupAPIKeys(t *testing.T) {
	e := newKeyEnv(t)
	e.must(http.StatusCreated, http.MethodPost, "/api/groups", map[string]any{"id": "B", "name": "group B"})
	r := e.must(http.StatusCreated, http.MethodPost, "/api/groups/A/apikeys", `{"clientId":"ga","clientName":"in A"}`)
	require.Equal(t, []any{"group_A"}, r.JSON(t)["authorizedEntities"])
	e.must(http.StatusCreated, http.MethodPost, "/api/groups/A/apikeys", `{"clientId":"gb","clientName":"bare","authorizedEntities":["A","B"]}`)
	e.must(http.StatusCreated, http.MethodPost, "/api/apikeys", `{"clientId":"gc","clientName":"in B","authorizedEntities":["group_B"]}`)

	ids := func(path string) []string {
		var out []string
		for _, it := range e.must(http.StatusOK, http.MethodGet, path, nil).JSON(t)["items"].([]any) {
			out = append(out, it.(map[string]any)["clientId"].(string))
		}
		return out
	}
	require.Equal(t, []string{"ga", "gb"}, ids("/api/groups/A/apikeys"))
	require.Equal(t, []string{"gb", "gc"}, ids("/api/groups/B/apikeys"))
	requireError(t, e.do(http.MethodGet, "/api/groups/Z/apikeys", nil), http.StatusNotFound, "not_found")
	requireError(t, e.do(http.MethodPost, "/api/groups/Z/apikeys", `{"clientName":"x"}`), http.StatusNotFound, "not_found")
	requireError(t, e.do(http.MethodDelete, "/api/groups/A/apikeys", nil), http.StatusMethodNotAllowed, "method_not_allowed")
}

func TestAPIKeyWithoutScheme(t *testing.T) {
	e := newEnv(t) // registry without apikey-auth
	r := e.do(http.MethodPost, "/api/apikeys", `{"clientName":"x"}`)
	require.Equal(t, http.StatusNotImplemented, r.Code, r.Body)
	require.Contains(t, e.must(http.StatusOK, http.MethodGet, "/api/consumers", nil).Body, `"total":0`,
		"the consumer made for the key is removed when the key cannot be stored")
}

func TestAPIKeyFromCredentialsEndpoint(t *testing.T) {
	e := newKeyEnv(t)
	e.must(http.StatusCreated, http.MethodPost, "/api/consumers", map[string]any{"username": "carol"})
	r := e.must(http.StatusCreated, http.MethodPost, "/api/consumers/carol/credentials",
		`{"id":"cred1","name":"main","plugins":{"apikey-auth":{"clientId":"ck","clientName":"generic"}}}`)
	require.Contains(t, r.Body, `"clientSecret":`, "generated and shown once")
	r = e.must(http.StatusOK, http.MethodGet, "/api/consumers/carol/credentials/cred1", nil)
	require.NotContains(t, r.Body, "clientSecret")

	r = e.must(http.StatusOK, http.MethodGet, "/api/apikeys/ck", nil)
	require.Equal(t, "carol", r.JSON(t)["consumer"])
	e.must(http.StatusOK, http.MethodPatch, "/api/apikeys/ck", `{"description":"patched"}`)
	r = e.must(http.StatusOK, http.MethodGet, "/api/consumers/carol/credentials/cred1", nil)
	require.Contains(t, r.Body, `"description":"patched"`)
	require.Contains(t, r.Body, `"name":"main"`, "the credential keeps its id and name")
	e.must(http.StatusNoContent, http.MethodDelete, "/api/apikeys/ck", nil)
	e.must(http.StatusOK, http.MethodGet, "/api/consumers/carol", nil)
}
