package check_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/check"
	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/consumergroup"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/credential/keyauth"
	"github.com/gatehousehq/gatehouse/plugin"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/validation"
)

func fields(t *testing.T, err error) []string {
	t.Helper()
	var ve *validation.Error
	require.ErrorAs(t, err, &ve)
	var out []string
	for f := range ve.Fields {
		out = append(out, f)
	}
	return out
}

func TestConsumerAndRoute(t *testing.T) {
	t.Parallel()
	reg := plugin.NewRegistry(keyauth.Definition{})
	require.NoError(t, check.Consumer(reg, &consumer.Consumer{Username: "alice"}))
	err := check.Consumer(reg, &consumer.Consumer{Username: "bad name", Plugins: map[string]json.RawMessage{"nope": json.RawMessage(`{}`)}})
	require.ElementsMatch(t, []string{"username", "plugins.nope"}, fields(t, err))

	err = check.Route(reg, &route.Route{ID: "r", Frontend: route.Frontend{Paths: []string{"/a"}},
		Plugins: map[string]json.RawMessage{"key-auth": json.RawMessage(`{"bogus":1}`)}})
	require.ElementsMatch(t, []string{"plugins.key-auth.bogus"}, fields(t, err))
}

func TestConsumerGroupDefaults(t *testing.T) {
	t.Parallel()
	reg := plugin.NewRegistry(keyauth.Definition{})
	g := &consumergroup.Group{ID: "g", Name: "G", RequiredPlugins: []consumergroup.PluginConfig{{Name: "key-auth"}}}
	require.NoError(t, check.ConsumerGroup(reg, g))
	p := g.RequiredPlugins[0]
	require.True(t, *p.Enabled)
	require.Equal(t, keyauth.Definition{}.Stage().String(), p.Stage)
	require.Equal(t, keyauth.Definition{}.Priority(), *p.Priority)

	g = &consumergroup.Group{ID: "g", Name: "G", RequiredPlugins: []consumergroup.PluginConfig{{Name: "nope"}}}
	require.ElementsMatch(t, []string{"required_plugins[0].name"}, fields(t, check.ConsumerGroup(reg, g)))
}

func TestCredential(t *testing.T) {
	t.Parallel()
	reg := plugin.NewRegistry(keyauth.Definition{})
	next := &credential.Credential{ID: "main", Consumer: "alice", Name: "main", Enabled: true,
		Plugins: map[string]json.RawMessage{"key-auth": json.RawMessage(`{"key":"alice-key-123"}`)}}
	reveal, err := check.Credential(reg, next, nil)
	require.NoError(t, err)
	require.Nil(t, reveal, "the key was given, not generated")
	require.NotContains(t, string(next.Plugins["key-auth"]), "alice-key-123", "sealed in place")
	require.Contains(t, next.Lookup, "key-auth:")

	again := &credential.Credential{ID: "main", Consumer: "alice", Name: "main", Enabled: true,
		Plugins: map[string]json.RawMessage{"key-auth": json.RawMessage(`{}`)}}
	_, err = check.Credential(reg, again, next)
	require.NoError(t, err)
	require.Equal(t, next.Lookup, again.Lookup, "no key: the stored one is kept")

	bad := &credential.Credential{ID: "x", Consumer: "alice", Plugins: map[string]json.RawMessage{"key-auth": json.RawMessage(`{"key":"abc"}`)}}
	_, err = check.Credential(reg, bad, nil)
	require.ElementsMatch(t, []string{"name", "plugins.key-auth.key"}, fields(t, err))
}
