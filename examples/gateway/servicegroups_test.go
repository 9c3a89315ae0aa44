package main

import (
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// The JSON examples of the service-groups reference
// (reference/otoroshi-service-groups.txt), verbatim.
const (
	paymentGroup = `{
"id": "group_payment_apis",
"name": "Payment APIs",
"description": "All payment-related API routes",
"metadata": {
"department": "finance"
},
"tags": ["payment", "finance"]
}`
	paymentAPIKey = `{
"clientId": "my-api-key-id",
"clientSecret": "my-api-key-secret",
"clientName": "Payment service key",
"authorizedEntities": ["group_payment_apis"]
}`
)

// paymentRoute is the reference's route with its placeholders ("frontend":
// {"...": "..."}) filled in: the id, name and groups are as written.
func paymentRoute(id, name, path, upstream string) string {
	return `{
"id": "` + id + `",
"name": "` + name + `",
"groups": ["group_payment_apis"],
"frontend": {"paths": ["` + path + `"]},
"backend": {"target": "` + upstream + `"},
"plugins": {"apikey-auth": {}, "key-auth": {}},
"auth_mode": "any"
}`
}

// TestServiceGroupsExample follows the service-groups reference word for
// word over real HTTP: the group "group_payment_apis", a route in it, an
// Otoroshi API key and a consumer credential authorized on
// "group_payment_apis" reach every route of the group and no other.
func TestServiceGroupsExample(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	g := startGateway(t)
	created := func(r response) map[string]any {
		t.Helper()
		require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
		return r.json(t)
	}

	grp := created(g.adminDo(t, http.MethodPost, "/api/groups", paymentGroup))
	require.Equal(t, "group_payment_apis", grp["id"])
	created(g.adminDo(t, http.MethodPost, "/api/routes", paymentRoute("route_process_payment", "Process payment", "/payments", up.URL)))
	key := created(g.adminDo(t, http.MethodPost, "/api/apikeys", paymentAPIKey))
	require.Equal(t, "my-api-key-id", key["clientId"])
	require.Equal(t, []any{"group_payment_apis"}, key["authorizedEntities"])
	require.NotContains(t, key, "clientSecret", "a secret the client chose is not echoed")

	// A consumer credential authorized on the group, the API7 way.
	created(g.adminDo(t, http.MethodPost, "/api/consumers", `{"username": "billing-service"}`))
	created(g.adminDo(t, http.MethodPost, "/api/consumers/billing-service/credentials",
		`{"name": "main", "plugins": {"key-auth": {"key": "billing-service-key"}}, "authorized_entities": ["group_payment_apis"]}`))

	// A route of another group, which neither is authorized on.
	created(g.adminDo(t, http.MethodPost, "/api/groups", `{"id": "group_refund_apis", "name": "Refund APIs"}`))
	r := g.adminDo(t, http.MethodPost, "/api/routes", `{"id": "route_refund", "groups": ["group_refund_apis"],
		"frontend": {"paths": ["/refunds"]}, "backend": {"target": "`+up.URL+`"},
		"plugins": {"apikey-auth": {}, "key-auth": {}}, "auth_mode": "any"}`)
	created(r)

	otoroshi := []string{"Otoroshi-Client-Id", "my-api-key-id", "Otoroshi-Client-Secret", "my-api-key-secret"}
	basic := []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("my-api-key-id:my-api-key-secret"))}
	keyAuth := []string{"apikey", "billing-service-key"}

	ok := pollStatus(t, http.StatusOK, http.MethodPost, g.data+"/payments/charge", otoroshi...)
	require.Equal(t, "my-api-key-id", decodeEcho(t, ok).User, "the API key's own consumer")
	require.Equal(t, "/payments/charge", decodeEcho(t, ok).Path)
	ok = pollStatus(t, http.StatusOK, http.MethodPost, g.data+"/payments/charge", basic...)
	require.Equal(t, "my-api-key-id", decodeEcho(t, ok).User)
	ok = pollStatus(t, http.StatusOK, http.MethodGet, g.data+"/payments", keyAuth...)
	require.Equal(t, "billing-service", decodeEcho(t, ok).User)

	for _, who := range [][]string{otoroshi, basic, keyAuth} {
		r := pollStatus(t, http.StatusForbidden, http.MethodGet, g.data+"/refunds", who...)
		require.Equal(t, "The consumer is not authorized on this route", r.json(t)["message"])
	}
	r = do(t, http.MethodGet, g.data+"/payments", "", "Otoroshi-Client-Id", "my-api-key-id", "Otoroshi-Client-Secret", "wrong")
	require.Equal(t, http.StatusUnauthorized, r.status, "body: %s", r.body)

	// One key reaches every route of the group: a route added to it later
	// works at once, without touching the key.
	created(g.adminDo(t, http.MethodPost, "/api/routes", paymentRoute("route_capture_payment", "Capture payment", "/captures", up.URL)))
	pollStatus(t, http.StatusOK, http.MethodPost, g.data+"/captures", otoroshi...)
	pollStatus(t, http.StatusOK, http.MethodPost, g.data+"/captures", keyAuth...)

	// The group lists the key, as Otoroshi's /api/groups/{id}/apikeys does.
	r = g.adminDo(t, http.MethodGet, "/api/groups/group_payment_apis/apikeys", "")
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	require.Contains(t, string(r.body), `"clientId":"my-api-key-id"`)

	// Moving the refund route into the payment group opens it to both.
	r = g.adminDo(t, http.MethodPatch, "/api/routes/route_refund", `{"groups": ["group_payment_apis"]}`)
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	pollStatus(t, http.StatusOK, http.MethodGet, g.data+"/refunds", otoroshi...)
	pollStatus(t, http.StatusOK, http.MethodGet, g.data+"/refunds", keyAuth...)

	// Deleting the group leaves its references in place, admitting nothing.
	r = g.adminDo(t, http.MethodDelete, "/api/groups/group_payment_apis", "")
	require.Equal(t, http.StatusNoContent, r.status, "body: %s", r.body)
	for _, who := range [][]string{otoroshi, keyAuth} {
		pollStatus(t, http.StatusForbidden, http.MethodPost, g.data+"/payments", who...)
	}
	r = g.adminDo(t, http.MethodGet, "/api/apikeys/my-api-key-id", "")
	require.Equal(t, []any{"group_payment_apis"}, r.json(t)["authorizedEntities"], "the key keeps its reference")
}
