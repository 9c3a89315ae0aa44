package admin_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/admin"
	"github.com/gatehousehq/gatehouse/credential/keyauth"
	"github.com/gatehousehq/gatehouse/plugin"
	"github.com/gatehousehq/gatehouse/restriction"
	"github.com/gatehousehq/gatehouse/store/memory"
)

// groupEnv is an admin handler whose registry also knows consumer-restriction,
// a plugin consumer groups can require; it holds gateway "default".
func groupEnv(t *testing.T) *env {
	t.Helper()
	st := memory.New()
	e := &env{t: t, store: st, logs: &bytes.Buffer{}}
	e.h = admin.New(st, plugin.NewRegistry(keyauth.Definition{}, restriction.Definition{}),
		admin.WithKey(testKey), admin.WithLogger(slogTo(e.logs)))
	e.must(http.StatusCreated, http.MethodPost, "/api/v1/gateways", `{"id":"default","name":"default"}`)
	return e
}

const groupsPath = "/api/v1/gateways/default/consumer-groups"

func TestGateways(t *testing.T) {
	e := groupEnv(t)
	r := e.must(http.StatusCreated, http.MethodPost, "/api/v1/gateways", `{"name":"edge"}`)
	id := r.JSON(t)["id"].(string)
	require.Regexp(t, `^[0-9a-f]{32}$`, id)
	require.Equal(t, "/api/v1/gateways/"+id, r.Header.Get("Location"))
	require.Equal(t, "edge", e.must(http.StatusOK, http.MethodGet, "/api/v1/gateways/"+id, nil).JSON(t)["name"])
	list := e.must(http.StatusOK, http.MethodGet, "/api/v1/gateways", nil).JSON(t)
	require.EqualValues(t, 2, list["total"])

	requireFields(t, e.do(http.MethodPost, "/api/v1/gateways", `{"id":"a b"}`), "id", "name")
	requireFields(t, e.do(http.MethodPost, "/api/v1/gateways", `{"name":"x","region":"eu"}`), "region")
	requireError(t, e.do(http.MethodPost, "/api/v1/gateways", `{"id":"default","name":"again"}`), http.StatusConflict, "conflict")
	requireError(t, e.do(http.MethodGet, "/api/v1/gateways/nope", nil), http.StatusNotFound, "not_found")
	requireError(t, e.do(http.MethodPost, "/api/v1/gateways/default", `{"name":"x"}`), http.StatusMethodNotAllowed, "method_not_allowed")

	// Gateway-level plugins, validated by the registry.
	r = e.must(http.StatusOK, http.MethodPatch, "/api/v1/gateways/default", `{"plugins":{"consumer-restriction":{"blacklist":["mallory"]}}}`)
	require.Equal(t, map[string]any{"consumer-restriction": map[string]any{"blacklist": []any{"mallory"}}}, r.JSON(t)["plugins"])
	require.Equal(t, "default", r.JSON(t)["name"], "a merge patch keeps what it does not name")
	requireFields(t, e.do(http.MethodPut, "/api/v1/gateways/default", `{"name":"default","plugins":{"nope":{},"consumer-restriction":{"whitelist":"x"}}}`),
		"plugins.nope", "plugins.consumer-restriction.whitelist")
	r = e.must(http.StatusOK, http.MethodPut, "/api/v1/gateways/default", `{"name":"renamed"}`)
	require.Nil(t, r.JSON(t)["plugins"], "PUT replaces the gateway")

	e.must(http.StatusCreated, http.MethodPost, "/api/v1/gateways/"+id+"/consumer-groups", `{"name":"g"}`)
	r = e.do(http.MethodDelete, "/api/v1/gateways/"+id, nil)
	requireError(t, r, http.StatusConflict, "conflict")
	require.Contains(t, r.JSON(t)["message"], "still holds consumer groups")
	requireError(t, e.do(http.MethodDelete, "/api/v1/gateways/nope", nil), http.StatusNotFound, "not_found")
	e.must(http.StatusNoContent, http.MethodDelete, "/api/v1/gateways/default", nil)
}

func TestConsumerGroups(t *testing.T) {
	e := groupEnv(t)
	e.must(http.StatusCreated, http.MethodPost, "/api/v1/gateways", `{"id":"other","name":"other"}`)
	r := e.must(http.StatusCreated, http.MethodPost, groupsPath, `{
		"name": "Premium Users",
		"required_plugins": [
			{"name": "consumer-restriction", "priority": 1, "parallel": true, "settings": {"blacklist": ["mallory"]}}
		]}`)
	g := r.JSON(t)
	id := g["id"].(string)
	require.Regexp(t, `^[0-9a-f]{32}$`, id)
	require.Equal(t, groupsPath+"/"+id, r.Header.Get("Location"))
	require.Equal(t, "default", g["gateway_id"])
	p := g["required_plugins"].([]any)[0].(map[string]any)
	require.Equal(t, true, p["enabled"], "enabled is filled in")
	require.Equal(t, "pre_request", p["stage"], "the plugin's own stage is filled in")
	require.EqualValues(t, 1, p["priority"], "a given priority is kept")
	require.Equal(t, true, p["parallel"])
	require.Equal(t, map[string]any{"blacklist": []any{"mallory"}}, p["settings"])
	require.Equal(t, g, e.must(http.StatusOK, http.MethodGet, groupsPath+"/"+id, nil).JSON(t))

	t.Run("errors", func(t *testing.T) {
		requireFields(t, e.do(http.MethodPost, groupsPath, `{}`), "name")
		requireFields(t, e.do(http.MethodPost, groupsPath, `{"name":"x","required_plugins":[{"name":"nope"},{"name":"consumer-restriction","settings":{"blacklist":"x"}},{"settings":{}}]}`),
			"required_plugins[0].name", "required_plugins[1].settings.blacklist", "required_plugins[2].name")
		requireFields(t, e.do(http.MethodPost, groupsPath, `{"name":"x","required_plugins":[{"name":"consumer-restriction","stage":"later","settings":{"whitelist":["a"]}}]}`), "required_plugins[0].stage")
		requireFields(t, e.do(http.MethodPost, groupsPath, `{"name":"x","members":[]}`), "members")
		requireFields(t, e.do(http.MethodPost, groupsPath, `{"name":"x","required_plugins":[{"name":"consumer-restriction","stage":"post_response","settings":{"whitelist":["a"]}}]}`),
			"required_plugins[0].stage") // a stage the plugin has no code for
		requireFields(t, e.do(http.MethodPost, groupsPath, `{"name":"x","gateway_id":"other"}`), "gateway_id")
		r := e.do(http.MethodPost, groupsPath, `{"name":"Premium Users"}`)
		requireError(t, r, http.StatusConflict, "conflict")
		require.Contains(t, r.JSON(t)["message"], `named "Premium Users"`)
		requireError(t, e.do(http.MethodPost, "/api/v1/gateways/nope/consumer-groups", `{"name":"x"}`), http.StatusNotFound, "not_found")
		requireError(t, e.do(http.MethodGet, "/api/v1/gateways/other/consumer-groups/"+id, nil), http.StatusNotFound, "not_found")
		requireError(t, e.do(http.MethodPut, "/api/v1/gateways/other/consumer-groups/"+id, `{"name":"stolen"}`), http.StatusNotFound, "not_found")
		requireError(t, e.do(http.MethodPatch, groupsPath+"/"+id, `{"name":"x"}`), http.StatusMethodNotAllowed, "method_not_allowed")
		requireFields(t, e.do(http.MethodPut, groupsPath+"/"+id, `{"id":"other-id","name":"x"}`), "id")
		require.Equal(t, "Premium Users", e.must(http.StatusOK, http.MethodGet, groupsPath+"/"+id, nil).JSON(t)["name"], "failed writes change nothing")
	})

	t.Run("PUT replaces or creates", func(t *testing.T) {
		r := e.must(http.StatusOK, http.MethodPut, groupsPath+"/"+id, `{"name":"Premium Users","required_plugins":[]}`)
		require.Empty(t, r.JSON(t)["required_plugins"])
		require.Equal(t, g["created_at"], r.JSON(t)["created_at"])
		e.must(http.StatusCreated, http.MethodPut, groupsPath+"/basic", `{"name":"Basic"}`)
		list := e.must(http.StatusOK, http.MethodGet, groupsPath, nil).JSON(t)
		require.EqualValues(t, 2, list["total"])
		other := e.must(http.StatusOK, http.MethodGet, "/api/v1/gateways/other/consumer-groups", nil).JSON(t)
		require.EqualValues(t, 0, other["total"], "each gateway lists its own groups")
	})
}

func TestGroupKeys(t *testing.T) {
	e := groupEnv(t)
	gid := e.must(http.StatusCreated, http.MethodPost, groupsPath, `{"name":"Premium Users"}`).JSON(t)["id"].(string)
	other := e.must(http.StatusCreated, http.MethodPost, groupsPath, `{"name":"Basic"}`).JSON(t)["id"].(string)
	keys := groupsPath + "/" + gid + "/keys"

	r := e.must(http.StatusCreated, http.MethodPost, keys, `{"user_id":"user123"}`)
	k := r.JSON(t)
	key := k["key"].(string)
	require.Regexp(t, `^ghk_[A-Za-z0-9_-]{43}$`, key, "a recognisable prefix and 256 random bits")
	require.Equal(t, "user123", k["user_id"])
	require.Nil(t, k["expires_at"])
	require.NotEmpty(t, k["created_at"])
	kid := k["id"].(string)
	require.Equal(t, keys+"/"+kid, r.Header.Get("Location"))

	c := e.must(http.StatusOK, http.MethodGet, "/api/consumers/user123", nil).JSON(t)
	require.Equal(t, gid, c["group_id"], "the missing user is created in the group")

	list := e.must(http.StatusOK, http.MethodGet, keys, nil)
	require.NotContains(t, list.Body, key, "the key is shown once")
	item := list.JSON(t)["items"].([]any)[0].(map[string]any)
	require.Equal(t, kid, item["id"])
	require.Equal(t, key[:6]+"..."+key[len(key)-4:], item["key_preview"])
	require.NotContains(t, e.must(http.StatusOK, http.MethodGet, "/api/consumers/user123/credentials", nil).Body, key)

	cred := e.must(http.StatusOK, http.MethodGet, "/api/consumers/user123/credentials/"+kid, nil).JSON(t)
	require.Equal(t, gid, cred["consumer_group"])
	requireFields(t, e.do(http.MethodPost, "/api/consumers/user123/credentials",
		`{"name":"mine","plugins":{"key-auth":{}},"consumer_group":"`+gid+`"}`), "consumer_group")

	t.Run("expiry and errors", func(t *testing.T) {
		later := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		r := e.must(http.StatusCreated, http.MethodPost, keys, `{"user_id":"user123","expires_at":"`+later+`"}`)
		require.Equal(t, later, r.JSON(t)["expires_at"])

		page := e.must(http.StatusOK, http.MethodGet, keys+"?limit=1", nil).JSON(t)
		require.EqualValues(t, 2, page["total"])
		require.Len(t, page["items"], 1)
		next := page["next"].(string)
		require.NotEmpty(t, next)
		page2 := e.must(http.StatusOK, http.MethodGet, keys+"?limit=1&cursor="+next, nil).JSON(t)
		require.Len(t, page2["items"], 1)
		require.Empty(t, page2["next"])
		require.NotEqual(t, page["items"].([]any)[0].(map[string]any)["id"], page2["items"].([]any)[0].(map[string]any)["id"])
		requireError(t, e.do(http.MethodGet, keys+"?cursor=%21%21", nil), http.StatusBadRequest, "bad_request") // not a cursor the store issued
		requireFields(t, e.do(http.MethodPost, keys, `{}`), "user_id")
		requireFields(t, e.do(http.MethodPost, keys, `{"user_id":"a b"}`), "user_id")
		requireFields(t, e.do(http.MethodPost, keys, `{"user_id":"u","expires_at":"2001-01-01T00:00:00Z"}`), "expires_at")
		requireFields(t, e.do(http.MethodPost, keys, `{"user_id":"u","key":"mine"}`), "key")
		requireError(t, e.do(http.MethodPost, groupsPath+"/nope/keys", `{"user_id":"u"}`), http.StatusNotFound, "not_found")
		r = e.do(http.MethodPost, groupsPath+"/"+other+"/keys", `{"user_id":"user123"}`)
		requireError(t, r, http.StatusConflict, "conflict")
		require.Contains(t, r.JSON(t)["message"], "belongs to consumer group")
	})

	t.Run("an existing consumer without a group joins it", func(t *testing.T) {
		e.must(http.StatusCreated, http.MethodPost, "/api/consumers", `{"username":"bob"}`)
		e.must(http.StatusCreated, http.MethodPost, keys, `{"user_id":"bob"}`)
		require.Equal(t, gid, e.must(http.StatusOK, http.MethodGet, "/api/consumers/bob", nil).JSON(t)["group_id"])
	})

	t.Run("revoke", func(t *testing.T) {
		e.must(http.StatusNoContent, http.MethodDelete, keys+"/"+kid, nil)
		requireError(t, e.do(http.MethodDelete, keys+"/"+kid, nil), http.StatusNotFound, "not_found")
		requireError(t, e.do(http.MethodGet, "/api/consumers/user123/credentials/"+kid, nil), http.StatusNotFound, "not_found")
		own := e.must(http.StatusCreated, http.MethodPost, "/api/consumers/user123/credentials", `{"name":"own","plugins":{"key-auth":{}}}`).JSON(t)["id"].(string)
		requireError(t, e.do(http.MethodDelete, keys+"/"+own, nil), http.StatusNotFound, "not_found") // not a group key
	})

	t.Run("deleting the group revokes its keys", func(t *testing.T) {
		total := e.must(http.StatusOK, http.MethodGet, keys, nil).JSON(t)["total"]
		require.EqualValues(t, 2, total)
		e.must(http.StatusNoContent, http.MethodDelete, groupsPath+"/"+gid, nil)
		creds := e.must(http.StatusOK, http.MethodGet, "/api/consumers/user123/credentials", nil).Body
		require.False(t, strings.Contains(creds, "group-key-"), creds)
		require.Contains(t, creds, `"own"`, "the consumer's own credentials stay")
		e.must(http.StatusOK, http.MethodGet, "/api/consumers/user123", nil)
	})
}
