package plugin_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/plugin"
	"github.com/gatehousehq/gatehouse/validation"
)

// testPlugin is a compiled instance of testDef.
type testPlugin struct {
	name     string
	settings string
}

func (p *testPlugin) Name() string { return p.name }

// testDef is a Definition whose New records the settings it was given and
// fails with err when err is set.
type testDef struct {
	name     string
	stage    plugin.Stage
	priority int
	err      error
	got      *[]string
}

func (d testDef) Name() string        { return d.name }
func (d testDef) Stage() plugin.Stage { return d.stage }
func (d testDef) Priority() int       { return d.priority }
func (d testDef) New(settings json.RawMessage) (plugin.Plugin, error) {
	if d.got != nil {
		*d.got = append(*d.got, string(settings))
	}
	if d.err != nil {
		return nil, d.err
	}
	return &testPlugin{name: d.name, settings: string(settings)}, nil
}

func TestStageString(t *testing.T) {
	tests := []struct {
		stage plugin.Stage
		want  string
	}{
		{plugin.PreRequest, "pre_request"},
		{plugin.PostRequest, "post_request"},
		{plugin.PreResponse, "pre_response"},
		{plugin.PostResponse, "post_response"},
		{plugin.Stage(9), "stage(9)"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, tt.stage.String())
	}
}

func TestParseStage(t *testing.T) {
	tests := []struct {
		in      string
		want    plugin.Stage
		wantErr bool
	}{
		{"pre_request", plugin.PreRequest, false},
		{"post_request", plugin.PostRequest, false},
		{"pre_response", plugin.PreResponse, false},
		{"post_response", plugin.PostResponse, false},
		{"PRE_RESPONSE", plugin.PreResponse, false},
		{"Post_Response", plugin.PostResponse, false},
		{"", 0, true},
		{"pre-request", 0, true},
		{"prerequest", 0, true},
		{"stage(1)", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := plugin.ParseStage(tt.in)
			if tt.wantErr {
				require.Error(t, err)
				require.Contains(t, err.Error(), "pre_request")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestStageJSON(t *testing.T) {
	type config struct {
		Name  string       `json:"name"`
		Stage plugin.Stage `json:"stage"`
	}
	for _, s := range []plugin.Stage{plugin.PreRequest, plugin.PostRequest, plugin.PreResponse, plugin.PostResponse} {
		t.Run(s.String(), func(t *testing.T) {
			b, err := json.Marshal(config{Name: "p", Stage: s})
			require.NoError(t, err)
			require.JSONEq(t, `{"name":"p","stage":"`+s.String()+`"}`, string(b))

			var back config
			require.NoError(t, json.Unmarshal(b, &back))
			require.Equal(t, s, back.Stage)
		})
	}

	tests := []struct {
		name    string
		in      string
		want    plugin.Stage
		wantErr bool
	}{
		{"upper case", `{"stage":"POST_REQUEST"}`, plugin.PostRequest, false},
		{"unknown", `{"stage":"during"}`, 0, true},
		{"number", `{"stage":1}`, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c config
			err := json.Unmarshal([]byte(tt.in), &c)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, c.Stage)
		})
	}
}

func TestStageUnmarshalTextKeepsValueOnError(t *testing.T) {
	s := plugin.PostResponse
	require.Error(t, s.UnmarshalText([]byte("nope")))
	require.Equal(t, plugin.PostResponse, s)
}

func TestRegistryRegister(t *testing.T) {
	var r plugin.Registry // the zero value is usable
	require.NoError(t, r.Register(testDef{name: "a"}))
	require.NoError(t, r.Register(testDef{name: "b"}))
	err := r.Register(testDef{name: "a", priority: 7})
	require.Error(t, err)
	require.Contains(t, err.Error(), `"a"`)

	// The first definition stays.
	d, ok := r.Lookup("a")
	require.True(t, ok)
	require.Equal(t, 0, d.Priority())

	require.Panics(t, func() { r.MustRegister(testDef{name: "b"}) })
	require.NotPanics(t, func() { r.MustRegister(testDef{name: "c"}) })
	require.Panics(t, func() { plugin.NewRegistry(testDef{name: "x"}, testDef{name: "x"}) })
}

func TestRegistryLookupAndNames(t *testing.T) {
	r := plugin.NewRegistry(testDef{name: "key-auth", priority: 1}, testDef{name: "cors", priority: 2}, testDef{name: "limit-count", priority: 3})
	require.Equal(t, []string{"cors", "key-auth", "limit-count"}, r.Names())

	tests := []struct {
		name         string
		wantOK       bool
		wantPriority int
	}{
		{"key-auth", true, 1},
		{"cors", true, 2},
		{"limit-count", true, 3},
		{"Key-Auth", false, 0},
		{"", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, ok := r.Lookup(tt.name)
			require.Equal(t, tt.wantOK, ok)
			if !tt.wantOK {
				require.Nil(t, d)
				return
			}
			require.Equal(t, tt.name, d.Name())
			require.Equal(t, tt.wantPriority, d.Priority())
		})
	}
	require.Empty(t, plugin.NewRegistry().Names())
}

func TestRegistryNew(t *testing.T) {
	var got []string
	planErr := errors.New("bad settings")
	r := plugin.NewRegistry(testDef{name: "ok", got: &got}, testDef{name: "fails", err: planErr})
	tests := []struct {
		name         string
		plugin       string
		settings     json.RawMessage
		wantSettings string
		wantErr      error
	}{
		{"settings passed through", "ok", json.RawMessage(`{"a":1}`), `{"a":1}`, nil},
		{"nil settings become {}", "ok", nil, `{}`, nil},
		{"empty settings become {}", "ok", json.RawMessage{}, `{}`, nil},
		{"unknown plugin", "nope", json.RawMessage(`{}`), "", plugin.ErrUnknown},
		{"definition error", "fails", json.RawMessage(`{}`), "", planErr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got = nil
			p, err := r.New(tt.plugin, tt.settings)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.Nil(t, p)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.plugin, p.Name())
			require.Equal(t, []string{tt.wantSettings}, got)
		})
	}
}

func TestRegistryNewUnknownNamesPlugin(t *testing.T) {
	_, err := plugin.NewRegistry().New("no-such-plugin", nil)
	require.ErrorIs(t, err, plugin.ErrUnknown)
	require.Contains(t, err.Error(), "no-such-plugin")
}

func TestRegistryValidate(t *testing.T) {
	r := plugin.NewRegistry(
		testDef{name: "good"},
		testDef{name: "field-error", err: validation.Field("header", "must not be empty")},
		testDef{name: "two-fields", err: &validation.Error{Fields: map[string]string{"a": "bad a", "b.c": "bad c"}}},
		testDef{name: "whole-error", err: validation.Field("", "settings must be an object")},
		testDef{name: "wrapped", err: fmt.Errorf("compile: %w", validation.Field("x", "bad x"))},
		testDef{name: "plain-error", err: errors.New("cannot parse")},
	)
	settings := func(names ...string) map[string]json.RawMessage {
		m := map[string]json.RawMessage{}
		for _, n := range names {
			m[n] = json.RawMessage(`{}`)
		}
		return m
	}
	tests := []struct {
		name    string
		field   string
		plugins map[string]json.RawMessage
		want    map[string]string // nil means valid
	}{
		{"no plugins", "plugins", nil, nil},
		{"valid plugin", "plugins", settings("good"), nil},
		{"valid plugin without settings", "plugins", map[string]json.RawMessage{"good": nil}, nil},
		{"unknown plugin", "plugins", settings("good", "nope"), map[string]string{"plugins.nope": "unknown plugin"}},
		{"field error", "plugins", settings("field-error"), map[string]string{"plugins.field-error.header": "must not be empty"}},
		{"several fields of one plugin", "plugins", settings("two-fields"),
			map[string]string{"plugins.two-fields.a": "bad a", "plugins.two-fields.b.c": "bad c"}},
		{"error about the whole settings", "plugins", settings("whole-error"),
			map[string]string{"plugins.whole-error": "settings must be an object"}},
		{"wrapped field error", "plugins", settings("wrapped"), map[string]string{"plugins.wrapped.x": "bad x"}},
		{"plain error", "plugins", settings("plain-error"), map[string]string{"plugins.plain-error": "cannot parse"}},
		{"other field name", "consumer.plugins", settings("field-error"),
			map[string]string{"consumer.plugins.field-error.header": "must not be empty"}},
		{"every invalid plugin at once", "plugins", settings("good", "nope", "field-error", "plain-error", "whole-error"),
			map[string]string{
				"plugins.nope":               "unknown plugin",
				"plugins.field-error.header": "must not be empty",
				"plugins.plain-error":        "cannot parse",
				"plugins.whole-error":        "settings must be an object",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := r.Validate(tt.field, tt.plugins)
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, validation.ErrInvalid)
			var ve *validation.Error
			require.ErrorAs(t, err, &ve)
			require.Equal(t, tt.want, ve.Fields)
		})
	}
}

func TestSort(t *testing.T) {
	c := func(name string, stage plugin.Stage, priority int) plugin.Configured {
		return plugin.Configured{Plugin: &testPlugin{name: name}, Stage: stage, Priority: priority}
	}
	names := func(ps []plugin.Configured) []string {
		out := make([]string, len(ps))
		for i, p := range ps {
			out[i] = p.Plugin.Name()
		}
		return out
	}
	tests := []struct {
		name string
		in   []plugin.Configured
		want []string
	}{
		{"empty", nil, []string{}},
		{"by stage", []plugin.Configured{
			c("post-resp", plugin.PostResponse, 0), c("pre-resp", plugin.PreResponse, 0),
			c("post-req", plugin.PostRequest, 0), c("pre-req", plugin.PreRequest, 0),
		}, []string{"pre-req", "post-req", "pre-resp", "post-resp"}},
		{"stage before priority", []plugin.Configured{
			c("late-low", plugin.PostRequest, -100), c("early-high", plugin.PreRequest, 100),
		}, []string{"early-high", "late-low"}},
		{"priority within a stage, lower first", []plugin.Configured{
			c("p10", plugin.PreRequest, 10), c("p-5", plugin.PreRequest, -5), c("p0", plugin.PreRequest, 0),
		}, []string{"p-5", "p0", "p10"}},
		{"name breaks ties", []plugin.Configured{
			c("zeta", plugin.PreRequest, 1), c("alpha", plugin.PreRequest, 1), c("mid", plugin.PreRequest, 1),
		}, []string{"alpha", "mid", "zeta"}},
		{"all keys", []plugin.Configured{
			c("b", plugin.PreResponse, 1), c("a", plugin.PreResponse, 1), c("c", plugin.PreResponse, 0),
			c("d", plugin.PreRequest, 9), c("e", plugin.PreRequest, 9),
		}, []string{"d", "e", "c", "a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := append([]plugin.Configured(nil), tt.in...)
			plugin.Sort(ps)
			require.Equal(t, tt.want, names(ps))
			// Sorting again (from the reverse order) gives the same plan.
			rev := make([]plugin.Configured, len(tt.in))
			for i, p := range tt.in {
				rev[len(tt.in)-1-i] = p
			}
			plugin.Sort(rev)
			require.Equal(t, tt.want, names(rev))
		})
	}
}

func TestStageMarshalUnknown(t *testing.T) {
	_, err := json.Marshal(plugin.Stage(9))
	require.Error(t, err, "a stage no decoder accepts must not be written")
}

func TestDecodeSettings(t *testing.T) {
	type settings struct {
		Header string `json:"header"`
		Count  int    `json:"count"`
	}
	var s settings
	require.NoError(t, plugin.DecodeSettings(nil, &s), "no settings is an empty object")
	require.NoError(t, plugin.DecodeSettings(json.RawMessage(`{"header":"X","count":2}`), &s))
	require.Equal(t, settings{"X", 2}, s)

	for _, tc := range []struct{ raw, field string }{
		{`{"nope":1}`, "nope"},
		{`{"count":"two"}`, "count"},
		{`{"header":"a"} {}`, ""},
		{`[1]`, ""},
		{`{`, ""},
	} {
		err := plugin.DecodeSettings(json.RawMessage(tc.raw), &settings{})
		var ve *validation.Error
		require.ErrorAs(t, err, &ve, tc.raw)
		require.Contains(t, ve.Fields, tc.field, tc.raw)
	}
}
