package apikey_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/route"
)

const (
	msgMissing   = `{"message":"no apikey"}`
	msgInvalid   = `{"message":"bad apikey"}`
	msgForbidden = `{"message":"The consumer is not authorized on this route"}`
)

func TestExtractionAndErrors(t *testing.T) {
	e := newEnv(t)
	code, body := e.admin(t, http.MethodPost, "/api/consumers", `{"username":"alice"}`)
	require.Equal(t, http.StatusCreated, code, body)
	e.key(t, `{"clientId":"k1","clientSecret":"secret-one-123","clientName":"one","consumer":"alice","authorizedEntities":["group_A"]}`)
	e.key(t, `{"clientId":"ro","clientSecret":"secret-ro-1234","clientName":"ro","consumer":"alice","readOnly":true,"authorizedEntities":["A"]}`)
	e.key(t, `{"clientId":"idonly","clientSecret":"secret-id-1234","clientName":"id only","allowClientIdOnly":true}`)

	for _, tc := range []struct {
		name, route, method string
		hdr                 []string
		code                int
		body, consumer      string
	}{
		{"headers", "a", "GET", pair("k1", "secret-one-123"), 200, "", "alice"},
		{"basic", "a", "GET", []string{"Authorization", basic("k1", "secret-one-123")}, 200, "", "alice"},
		{"basic lower-case scheme", "a", "GET", []string{"Authorization", "basic " + basic("k1", "secret-one-123")[6:]}, 200, "", "alice"},
		{"headers win over basic", "a", "GET", append(pair("k1", "secret-one-123"), "Authorization", basic("k1", "wrong")), 200, "", "alice"},
		{"route without groups", "open", "GET", pair("k1", "secret-one-123"), 200, "", "alice"},
		{"no key", "a", "GET", nil, 400, msgMissing, ""},
		{"bearer is not ours", "a", "GET", []string{"Authorization", "Bearer xyz"}, 400, msgMissing, ""},
		{"unknown clientId", "a", "GET", pair("nope", "secret-one-123"), 401, msgInvalid, ""},
		{"wrong secret", "a", "GET", pair("k1", "secret-one-124"), 401, msgInvalid, ""},
		{"wrong secret basic", "a", "GET", []string{"Authorization", basic("k1", "nope")}, 401, msgInvalid, ""},
		{"id header alone", "a", "GET", []string{"Otoroshi-Client-Id", "k1"}, 401, msgInvalid, ""},
		{"secret header alone", "a", "GET", []string{"Otoroshi-Client-Secret", "x"}, 401, msgInvalid, ""},
		{"basic without colon", "a", "GET", []string{"Authorization", "Basic " + "azE="}, 401, msgInvalid, ""},
		{"basic bad base64", "a", "GET", []string{"Authorization", "Basic !!!"}, 401, msgInvalid, ""},
		{"clientId only refused", "open", "GET", []string{"X-Api-Key", "k1"}, 401, msgInvalid, ""},
		{"clientId only allowed", "open", "GET", []string{"X-Api-Key", "idonly"}, 200, "", "idonly"},
		{"clientId only with secret too", "open", "GET", pair("idonly", "secret-id-1234"), 200, "", "idonly"},
		{"other group", "b", "GET", pair("k1", "secret-one-123"), 403, msgForbidden, ""},
		{"not on any group", "a", "GET", []string{"X-Api-Key", "idonly"}, 403, msgForbidden, ""},
		{"read-only GET", "a", "GET", pair("ro", "secret-ro-1234"), 200, "", "alice"},
		{"read-only HEAD", "a", "HEAD", pair("ro", "secret-ro-1234"), 200, "", "alice"},
		{"read-only OPTIONS", "a", "OPTIONS", pair("ro", "secret-ro-1234"), 200, "", "alice"},
		{"read-only POST", "a", "POST", pair("ro", "secret-ro-1234"), 403, `{"message":"apikey is read-only: only GET, HEAD and OPTIONS are allowed"}`, ""},
		{"read-only DELETE", "open", "DELETE", pair("ro", "secret-ro-1234"), 403, `{"message":"apikey is read-only: only GET, HEAD and OPTIONS are allowed"}`, ""},
		{"read-only wrong secret", "a", "POST", pair("ro", "nope-nope"), 401, msgInvalid, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := e.call(t, tc.route, tc.method, tc.hdr...)
			require.Equal(t, tc.code, res.code, res.body)
			if tc.body != "" {
				require.JSONEq(t, tc.body, res.body)
			}
			if tc.code == 400 || tc.code == 401 {
				require.Equal(t, `Apikey realm="apikey"`, res.auth)
			}
			require.Equal(t, tc.consumer, res.consumer)
		})
	}
}

func TestHideCredentials(t *testing.T) {
	e := newEnv(t)
	e.key(t, `{"clientId":"k1","clientSecret":"secret-one-123","clientName":"one","allowClientIdOnly":true}`)
	for _, hdr := range [][]string{pair("k1", "secret-one-123"), {"Authorization", basic("k1", "secret-one-123")}, {"X-Api-Key", "k1"}} {
		res := e.call(t, "hidden", "GET", append(hdr, "X-Other", "kept")...)
		require.Equal(t, 200, res.code, res.body)
		for _, h := range []string{"Otoroshi-Client-Id", "Otoroshi-Client-Secret", "Authorization", "X-Api-Key"} {
			require.Empty(t, res.headers.Get(h), h)
		}
		require.Equal(t, "kept", res.headers.Get("X-Other"))
		require.Equal(t, "k1", res.headers.Get("X-Consumer-Username"))

		res = e.call(t, "open", "GET", hdr...)
		require.Equal(t, hdr[1], res.headers.Get(hdr[0]), "kept without hide_credentials")
	}
}

func TestRouteSettings(t *testing.T) {
	e := newEnv(t, route.Route{ID: "custom", Plugins: map[string]json.RawMessage{"apikey-auth": json.RawMessage(
		`{"client_id_header":"X-Id","client_secret_header":"X-Secret","client_id_only_header":"X-Key","realm":"mine"}`)}})
	e.key(t, `{"clientId":"k1","clientSecret":"secret-one-123","clientName":"one","allowClientIdOnly":true}`)
	require.Equal(t, 200, e.call(t, "custom", "GET", "X-Id", "k1", "X-Secret", "secret-one-123").code)
	require.Equal(t, 200, e.call(t, "custom", "GET", "X-Key", "k1").code)
	res := e.call(t, "custom", "GET", pair("k1", "secret-one-123")...)
	require.Equal(t, 400, res.code)
	require.Equal(t, `Apikey realm="mine"`, res.auth)

	for _, bad := range []string{`{"client_id_header":"bad header"}`, `{"realm":"a\"b"}`, `{"nope":1}`,
		`{"client_id_header":"X-A","client_secret_header":"x-a"}`} {
		code, body := e.admin(t, http.MethodPost, "/api/routes",
			`{"id":"r-bad","frontend":{"paths":["/bad"]},"plugins":{"apikey-auth":`+bad+`}}`)
		require.Equal(t, http.StatusBadRequest, code, "%s: %s", bad, body)
	}
}

func TestOwnedConsumerAndSecretShownOnce(t *testing.T) {
	e := newEnv(t)
	created := e.key(t, `{"clientName":"generated","authorizedEntities":["group_A"]}`)
	id, _ := created["clientId"].(string)
	secret, _ := created["clientSecret"].(string)
	require.NotEmpty(t, id)
	require.Len(t, secret, 43, "a generated secret is revealed once")
	require.Equal(t, id, created["consumer"])
	require.Equal(t, true, created["enabled"])

	code, body := e.admin(t, http.MethodGet, "/api/consumers/"+id, "")
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `"gatehouse.apikey":"owned"`)

	for _, path := range []string{"/api/apikeys/" + id, "/api/apikeys", "/api/consumers/" + id + "/credentials/" + id, "/api/groups/A/apikeys"} {
		code, body := e.admin(t, http.MethodGet, path, "")
		require.Equal(t, http.StatusOK, code, body)
		require.NotContains(t, body, secret, path)
		require.NotContains(t, body, "clientSecret", path)
		require.NotContains(t, body, "Sealed", path)
	}
	require.Equal(t, 200, e.call(t, "a", "GET", pair(id, secret)...).code)

	code, body = e.admin(t, http.MethodDelete, "/api/apikeys/"+id, "")
	require.Equal(t, http.StatusNoContent, code, body)
	code, _ = e.admin(t, http.MethodGet, "/api/consumers/"+id, "")
	require.Equal(t, http.StatusNotFound, code, "the owned consumer goes with its key")
	code, _ = e.admin(t, http.MethodGet, "/api/apikeys/"+id, "")
	require.Equal(t, http.StatusNotFound, code)
	require.NoError(t, e.gw.Refresh(context.Background()))
	require.Equal(t, 401, e.call(t, "a", "GET", pair(id, secret)...).code)
}

func TestNamedConsumerKept(t *testing.T) {
	e := newEnv(t)
	code, body := e.admin(t, http.MethodPost, "/api/consumers", `{"username":"bob"}`)
	require.Equal(t, http.StatusCreated, code, body)
	created := e.key(t, `{"clientId":"bk","clientSecret":"given-secret-1","clientName":"b","consumer":"bob"}`)
	require.NotContains(t, created, "clientSecret", "a secret the admin chose is not echoed")
	code, _ = e.admin(t, http.MethodDelete, "/api/apikeys/bk", "")
	require.Equal(t, http.StatusNoContent, code)
	code, _ = e.admin(t, http.MethodGet, "/api/consumers/bob", "")
	require.Equal(t, http.StatusOK, code, "a consumer the key did not create stays")
}

func TestDisabledAndExpired(t *testing.T) {
	e := newEnv(t)
	until := t0.Add(time.Hour).UnixMilli()
	e.key(t, `{"clientId":"k1","clientSecret":"secret-one-123","clientName":"one","validUntil":`+strconv.FormatInt(until, 10)+`}`)
	e.key(t, `{"clientId":"k2","clientSecret":"secret-two-123","clientName":"two"}`)
	require.Equal(t, 200, e.call(t, "open", "GET", pair("k1", "secret-one-123")...).code)

	code, body := e.admin(t, http.MethodPatch, "/api/apikeys/k2", `{"enabled":false}`)
	require.Equal(t, http.StatusOK, code, body)
	require.NoError(t, e.gw.Refresh(context.Background()))
	res := e.call(t, "open", "GET", pair("k2", "secret-two-123")...)
	require.Equal(t, 401, res.code)
	require.JSONEq(t, msgInvalid, res.body)

	e.advance(2 * time.Hour)
	res = e.call(t, "open", "GET", pair("k1", "secret-one-123")...)
	require.Equal(t, 401, res.code)
	require.JSONEq(t, msgInvalid, res.body)
}

func TestRotation(t *testing.T) {
	e := newEnv(t)
	e.key(t, `{"clientId":"rot","clientSecret":"first-secret-1","clientName":"r","rotation":{"enabled":true,"rotationEvery":744,"gracePeriod":2}}`)
	e.key(t, `{"clientId":"norot","clientSecret":"first-secret-1","clientName":"n"}`)

	for _, id := range []string{"rot", "norot"} {
		code, body := e.admin(t, http.MethodPatch, "/api/apikeys/"+id, `{"clientSecret":"second-secret-2"}`)
		require.Equal(t, http.StatusOK, code, body)
		require.NotContains(t, body, "second-secret-2")
		require.Contains(t, body, `"rotatedAt":`+strconv.FormatInt(t0.UnixMilli(), 10))
	}
	require.NoError(t, e.gw.Refresh(context.Background()))
	for _, tc := range []struct {
		id, secret string
		code       int
	}{
		{"rot", "second-secret-2", 200},
		{"rot", "first-secret-1", 200}, // grace period
		{"norot", "second-secret-2", 200},
		{"norot", "first-secret-1", 401}, // no rotation: at once
	} {
		require.Equal(t, tc.code, e.call(t, "open", "GET", pair(tc.id, tc.secret)...).code, "%s %s", tc.id, tc.secret)
	}
	// A PUT that resends the current secret is not a rotation.
	code, body := e.admin(t, http.MethodPut, "/api/apikeys/rot", `{"clientSecret":"second-secret-2","clientName":"r","rotation":{"enabled":true,"gracePeriod":2}}`)
	require.Equal(t, http.StatusOK, code, body)
	require.NoError(t, e.gw.Refresh(context.Background()))
	require.Equal(t, 200, e.call(t, "open", "GET", pair("rot", "first-secret-1")...).code)

	e.advance(2*time.Hour + time.Second)
	require.Equal(t, 401, e.call(t, "open", "GET", pair("rot", "first-secret-1")...).code)
	require.Equal(t, 200, e.call(t, "open", "GET", pair("rot", "second-secret-2")...).code)
}

// A request without a key is a missing credential, not a refusal: it runs
// as the anonymous consumer when the route has one, and under auth_mode any
// the other plugins still get their turn.
func TestMissingKeyFallsThrough(t *testing.T) {
	e := newEnv(t,
		route.Route{ID: "anon", Plugins: map[string]json.RawMessage{"apikey-auth": json.RawMessage(`{"anonymous_consumer":"guest"}`)}},
		route.Route{ID: "either", AuthMode: route.AuthAny, Plugins: map[string]json.RawMessage{
			"apikey-auth": json.RawMessage(`{}`), "key-auth": json.RawMessage(`{}`)}},
	)
	code, body := e.admin(t, http.MethodPost, "/api/consumers", `{"username":"guest"}`)
	require.Equal(t, http.StatusCreated, code, body)
	e.key(t, `{"clientId":"k1","clientSecret":"secret-one-123","clientName":"one","readOnly":true}`)
	require.NoError(t, e.gw.Refresh(context.Background()))

	res := e.call(t, "anon", "GET")
	require.Equal(t, http.StatusOK, res.code, res.body)
	require.Equal(t, "guest", res.consumer)
	res = e.call(t, "anon", "GET", pair("k1", "wrong-secret-000")...)
	require.Equal(t, http.StatusOK, res.code, res.body)
	require.Equal(t, "guest", res.consumer)
	res = e.call(t, "anon", "POST", pair("k1", "secret-one-123")...)
	require.Equal(t, http.StatusForbidden, res.code, "a read-only key's refusal stands: %s", res.body)

	res = e.call(t, "either", "GET")
	require.Equal(t, http.StatusUnauthorized, res.code)
	require.JSONEq(t, `{"message":"Authorization Failed"}`, res.body)
}
