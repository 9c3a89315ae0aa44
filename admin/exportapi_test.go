package admin_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/admin"
	"github.com/gatehousehq/gatehouse/config"
)

// TestExport: GET /api/export is the configuration as a config file,
// without secrets, in JSON or YAML, behind the admin key.
func TestExport(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.must(http.StatusCreated, http.MethodPost, "/api/consumers", `{"username":"alice","desc":"first"}`)
	e.must(http.StatusCreated, http.MethodPost, "/api/consumers/alice/credentials",
		`{"id":"main","name":"main","plugins":{"key-auth":{"key":"alice-secret-key-0123"}}}`)
	e.must(http.StatusCreated, http.MethodPost, "/api/groups", `{"id":"shop","name":"Shop"}`)
	e.must(http.StatusCreated, http.MethodPost, "/api/routes", `{"id":"orders","groups":["shop"],"frontend":{"paths":["/orders"]},"plugins":{"key-auth":{}}}`)

	for _, tc := range []struct {
		name, path, accept, ctype string
	}{
		{"default", "/api/export", "", "application/json"},
		{"query yaml", "/api/export?format=yaml", "", "application/yaml"},
		{"query json wins", "/api/export?format=json", "application/yaml", "application/json"},
		{"accept yaml", "/api/export", "application/yaml", "application/yaml"},
		{"accept json first", "/api/export", "application/json, application/yaml", "application/json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.must(http.StatusOK, http.MethodGet, tc.path, nil, "Accept", tc.accept)
			require.Equal(t, tc.ctype, r.Header.Get("Content-Type"))
			require.Equal(t, "no-store", r.Header.Get("Cache-Control"))
			require.NotContains(t, r.Body, "alice-secret-key-0123")
			f, err := config.Parse([]byte(r.Body))
			require.NoError(t, err, r.Body)
			require.Len(t, f.Consumers, 1)
			require.Equal(t, "first", f.Consumers[0].Desc)
			require.Len(t, f.Consumers[0].Credentials, 1)
			require.Equal(t, "main", f.Consumers[0].Credentials[0].ID)
			require.Len(t, f.Routes, 1)
			require.Equal(t, []string{"shop"}, f.Routes[0].Groups)
			require.Len(t, f.Groups, 1)
		})
	}
	requireFields(t, e.do(http.MethodGet, "/api/export?format=xml", nil), "format")
	r := e.do(http.MethodPost, "/api/export", "{}")
	requireError(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
	require.Equal(t, "GET, HEAD", r.Header.Get("Allow"))
	requireError(t, e.do(http.MethodGet, "/api/export", nil, "X-API-KEY", ""), http.StatusUnauthorized, "unauthorized")
}

// TestExportGateway: the consumer groups exported are those of one gateway:
// the handler's (WithGatewayID), or ?gateway_id=.
func TestExportGateway(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.WithGatewayID("east"))
	for _, gw := range []string{"east", "west"} {
		e.must(http.StatusCreated, http.MethodPost, "/api/v1/gateways", `{"id":"`+gw+`","name":"`+gw+`"}`)
		e.must(http.StatusCreated, http.MethodPost, "/api/v1/gateways/"+gw+"/consumer-groups", `{"id":"`+gw+`-gold","name":"Gold"}`)
	}
	for path, want := range map[string]string{"/api/export": "east-gold", "/api/export?gateway_id=west": "west-gold"} {
		f, err := config.Parse([]byte(e.must(http.StatusOK, http.MethodGet, path, nil).Body))
		require.NoError(t, err)
		require.Len(t, f.ConsumerGroups, 1, path)
		require.Equal(t, want, f.ConsumerGroups[0].ID, path)
	}
}
