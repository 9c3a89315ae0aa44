package plugin_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/plugin"
)

func TestNewPlanPrecedence(t *testing.T) {
	tr := new(trace)
	// inst is an instance of plugin "limit" (or name) configured at a level.
	inst := func(level string, priority int) plugin.Configured {
		return at(&stagePlugin{name: "limit", label: "limit@" + level, tr: tr}, plugin.PreRequest, priority)
	}
	off := plugin.Configured{Name: "limit", Disabled: true}
	other := at(&stagePlugin{name: "acl", tr: tr}, plugin.PreRequest, 10)

	tests := []struct {
		name   string
		levels plugin.Levels
		want   []string // what ran, in order
	}{
		{"gateway only", plugin.Levels{Gateway: []plugin.Configured{inst("gateway", 0), other}},
			[]string{"pre_request:limit@gateway", "pre_request:acl"}},
		{"route over gateway", plugin.Levels{
			Gateway: []plugin.Configured{inst("gateway", 0)},
			Route:   []plugin.Configured{inst("route", 0), other},
		}, []string{"pre_request:limit@route", "pre_request:acl"}},
		{"group over route and gateway", plugin.Levels{
			Gateway: []plugin.Configured{inst("gateway", 0)},
			Route:   []plugin.Configured{inst("route", 0)},
			Group:   []plugin.Configured{inst("group", 0)},
		}, []string{"pre_request:limit@group"}},
		{"consumer over every level", plugin.Levels{
			Gateway:  []plugin.Configured{inst("gateway", 0)},
			Route:    []plugin.Configured{inst("route", 0)},
			Group:    []plugin.Configured{inst("group", 0)},
			Consumer: []plugin.Configured{inst("consumer", 0)},
		}, []string{"pre_request:limit@consumer"}},
		{"the winner's priority places it", plugin.Levels{
			Route:    []plugin.Configured{inst("route", 0), other},
			Consumer: []plugin.Configured{inst("consumer", 20)},
		}, []string{"pre_request:acl", "pre_request:limit@consumer"}},
		{"a disabled consumer entry removes the plugin", plugin.Levels{
			Gateway:  []plugin.Configured{inst("gateway", 0)},
			Group:    []plugin.Configured{inst("group", 0)},
			Consumer: []plugin.Configured{off, other},
		}, []string{"pre_request:acl"}},
		{"a disabled group entry removes the route's", plugin.Levels{
			Route: []plugin.Configured{inst("route", 0), other},
			Group: []plugin.Configured{off},
		}, []string{"pre_request:acl"}},
		{"a more specific enabled entry wins over a disabled one", plugin.Levels{
			Gateway:  []plugin.Configured{inst("gateway", 0)},
			Group:    []plugin.Configured{off},
			Consumer: []plugin.Configured{inst("consumer", 0)},
		}, []string{"pre_request:limit@consumer"}},
		{"a disabled entry that names its plugin", plugin.Levels{
			Route:    []plugin.Configured{inst("route", 0)},
			Consumer: []plugin.Configured{{Plugin: &stagePlugin{name: "limit"}, Disabled: true}},
		}, nil},
		{"a disabled entry with nothing to override", plugin.Levels{
			Consumer: []plugin.Configured{off, other},
		}, []string{"pre_request:acl"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr.got = nil
			p := mustPlan(t, tt.levels)
			rec := serve(p, handlerOK(nil))
			require.Equal(t, http.StatusOK, rec.Code)
			require.Equal(t, tt.want, tr.list())
		})
	}
}

func TestNewPlanPrecedenceTakesTheWinnersStage(t *testing.T) {
	tr := new(trace)
	p := mustPlan(t, plugin.Levels{
		Route:    []plugin.Configured{at(&stagePlugin{name: "audit", label: "route", tr: tr}, plugin.PreRequest, 0)},
		Consumer: []plugin.Configured{at(&stagePlugin{name: "audit", label: "consumer", tr: tr}, plugin.PostResponse, 0)},
	})
	serve(p, handlerOK(tr))
	require.Equal(t, []string{"handler", "post_response:consumer"}, tr.list())
}

func TestNewPlanErrors(t *testing.T) {
	tests := []struct {
		name   string
		levels plugin.Levels
		want   error
	}{
		{"twice at one level", plugin.Levels{Group: []plugin.Configured{
			at(&stagePlugin{name: "x"}, plugin.PreRequest, 0), at(&stagePlugin{name: "x"}, plugin.PostResponse, 0),
		}}, plugin.ErrDuplicate},
		{"disabled twice at one level", plugin.Levels{Group: []plugin.Configured{
			{Name: "x", Disabled: true}, {Name: "x", Disabled: true},
		}}, plugin.ErrDuplicate},
		{"plugin without the stage's interface", plugin.Levels{Route: []plugin.Configured{
			at(preOnly{"acl"}, plugin.PreResponse, 0),
		}}, plugin.ErrStage},
		{"unknown stage", plugin.Levels{Route: []plugin.Configured{
			at(&stagePlugin{name: "x"}, plugin.Stage(9), 0),
		}}, plugin.ErrStage},
		{"enabled without a plugin", plugin.Levels{Consumer: []plugin.Configured{{Name: "x"}}}, plugin.ErrStage},
		{"no name at all", plugin.Levels{Consumer: []plugin.Configured{{Disabled: true}}}, plugin.ErrStage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := plugin.NewPlan(tt.levels)
			require.ErrorIs(t, err, tt.want)
			require.Nil(t, p)
		})
	}

	// An overridden entry is not checked against its stage: it never runs.
	p, err := plugin.NewPlan(plugin.Levels{
		Gateway:  []plugin.Configured{at(preOnly{"acl"}, plugin.PostResponse, 0)},
		Consumer: []plugin.Configured{at(preOnly{"acl"}, plugin.PreRequest, 0)},
	})
	require.NoError(t, err)
	require.Len(t, p.Plugins(), 1)
}

func TestConfiguredSortUsesName(t *testing.T) {
	ps := []plugin.Configured{
		{Name: "zeta", Disabled: true},
		at(&stagePlugin{name: "mid"}, plugin.PreRequest, 0),
		{Name: "alpha", Plugin: &stagePlugin{name: "ignored-name"}},
	}
	plugin.Sort(ps)
	require.Equal(t, "alpha", ps[0].Name)
	require.Equal(t, "mid", ps[1].Plugin.Name())
	require.Equal(t, "zeta", ps[2].Name)
}
