package consumergroup_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/consumergroup"
	"github.com/gatehousehq/gatehouse/validation"
)

func fields(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var ve *validation.Error
	require.True(t, errors.As(err, &ve), "%v is not a *validation.Error", err)
	var out []string
	for f := range ve.Fields {
		out = append(out, f)
	}
	return out
}

func TestGroupValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		g    consumergroup.Group
		want []string
	}{
		{"minimal", consumergroup.Group{Name: "Premium Users"}, nil},
		{"no name", consumergroup.Group{}, []string{"name"}},
		{"long name", consumergroup.Group{Name: strings.Repeat("é", 1025)}, []string{"name"}},
		{"bad id", consumergroup.Group{ID: "a b", Name: "x"}, []string{"id"}},
		{"plugin without name", consumergroup.Group{Name: "x", RequiredPlugins: []consumergroup.PluginConfig{{}}}, []string{"required_plugins[0].name"}},
		{"plugin twice", consumergroup.Group{Name: "x", RequiredPlugins: []consumergroup.PluginConfig{{Name: "a"}, {Name: "a"}}}, []string{"required_plugins[1].name"}},
		{"bad stage", consumergroup.Group{Name: "x", RequiredPlugins: []consumergroup.PluginConfig{{Name: "a", Stage: "later"}}}, []string{"required_plugins[0].stage"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.ElementsMatch(t, tc.want, fields(t, tc.g.Validate()))
		})
	}
}

func TestGatewayValidate(t *testing.T) {
	require.NoError(t, (&consumergroup.Gateway{ID: "default", Name: "default"}).Validate())
	require.ElementsMatch(t, []string{"id", "name"}, fields(t, (&consumergroup.Gateway{ID: "a/b"}).Validate()))
}

func TestGroupCloneIsDeep(t *testing.T) {
	on, prio := true, 3
	g := &consumergroup.Group{ID: "g", Name: "n", RequiredPlugins: []consumergroup.PluginConfig{
		{Name: "p", Enabled: &on, Stage: "pre_response", Priority: &prio, Settings: json.RawMessage(`{"a":1}`)}}}
	c := g.Clone()
	require.Equal(t, g, c)
	*c.RequiredPlugins[0].Enabled = false
	*c.RequiredPlugins[0].Priority = 9
	c.RequiredPlugins[0].Settings[1] = 'X'
	c.RequiredPlugins[0].Name = "q"
	require.True(t, *g.RequiredPlugins[0].Enabled)
	require.Equal(t, 3, *g.RequiredPlugins[0].Priority)
	require.JSONEq(t, `{"a":1}`, string(g.RequiredPlugins[0].Settings))
	require.Equal(t, "p", g.RequiredPlugins[0].Name)
	require.True(t, (&consumergroup.PluginConfig{}).IsEnabled(), "enabled by default")
}
