package config_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/validation"
	"github.com/stretchr/testify/require"
)

func TestExpand(t *testing.T) {
	t.Parallel()
	vars := lookup(map[string]string{"KEY": "s3cret", "EMPTY": "", "A_1": "x"})
	for _, tc := range []struct{ in, want, err string }{
		{"plain", "plain", ""},
		{"${KEY}", "s3cret", ""},
		{"pre-${KEY}-${A_1}", "pre-s3cret-x", ""},
		{"${EMPTY}", "", ""},
		{"$${KEY}", "${KEY}", ""},
		{"$$${KEY}", "$${KEY}", ""}, // "$" then the literal "${"
		{"cost $5 and $$", "cost $5 and $$", ""},
		{"${MISSING}", "", "${MISSING}: environment variable is not set"},
		{"${KEY", "", "without a closing }"},
		{"${1X}", "", "whose name is not"},
		{"${a b}", "", "whose name is not"},
		{"${}", "", "whose name is not"},
	} {
		got, err := config.Expand(tc.in, vars)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
	_, err := config.Expand("${MISSING}", vars)
	require.ErrorIs(t, err, config.ErrUnsetVariable)
}

// TestParseEnv: variables are expanded in string values anywhere; an unset
// one is an error naming its path; nothing echoes a value.
func TestParseEnv(t *testing.T) {
	t.Parallel()
	text := `consumers:
  - username: alice
    labels: {team: "${TEAM}"}
    credentials:
      - name: main
        plugins: {key-auth: {key: "${ALICE_KEY}"}}
      - name: other
        plugins: {key-auth: {key: "${BOB_KEY}"}}
routes:
  - id: r
    frontend: {paths: ["${NOPE}"]}
`
	_, err := config.Parse([]byte(text), config.WithLookupEnv(lookup(map[string]string{"TEAM": "shop", "ALICE_KEY": "alice-secret-key"})))
	var ve *config.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, []config.Problem{
		{Path: "consumers[0].credentials[1].plugins.key-auth.key", Message: "${BOB_KEY}: environment variable is not set"},
		{Path: "routes[0].frontend.paths[0]", Message: "${NOPE}: environment variable is not set"},
	}, ve.Problems)
	require.NotContains(t, err.Error(), "alice-secret-key")
}

// TestParseOSEnv: os.LookupEnv by default.
func TestParseOSEnv(t *testing.T) {
	t.Setenv("GATEHOUSE_CONFIG_TEST_KEY", "from-the-real-environment")
	f, err := config.Parse([]byte(`consumers: [{username: alice, credentials: [{name: main, plugins: {key-auth: {key: "${GATEHOUSE_CONFIG_TEST_KEY}"}}}]}]`))
	require.NoError(t, err, "os.LookupEnv by default")
	require.JSONEq(t, `{"key":"from-the-real-environment"}`, string(f.Consumers[0].Credentials[0].Plugins["key-auth"]))
}

// TestParseEnvApplied: a secret from the environment is what authenticates.
func TestParseEnvApplied(t *testing.T) {
	t.Parallel()
	e := newEnv(t, memoryStore())
	e.apply(t, fullConfig, secrets)
	code, who := e.call(t, "orders", "apikey", "alice-key-0123456789")
	require.Equal(t, 200, code)
	require.Equal(t, "alice", who)
	code, _ = e.call(t, "orders", "apikey", "${ALICE_KEY}")
	require.Equal(t, 401, code)
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, text string
		want       []string // paths
	}{
		{"unknown top-level key", "consumer: []", []string{"consumer"}},
		{"unknown field", "consumers: [{username: a, nmae: b}]", []string{"consumers[0]"}},
		{"unknown credential field", "consumers: [{username: a, credentials: [{name: x, plugin: {}}]}]", []string{"consumers[0].credentials[0]"}},
		{"wrong type", "routes: [{id: 7}]", []string{"routes[0].id"}},
		{"nested wrong type", "routes: [{id: r, frontend: {paths: /a}}]", []string{"routes[0].frontend.paths"}},
		{"not a list", "groups: {id: x}", []string{"groups"}},
		{"not an object", "groups: [x]", []string{"groups[0]"}},
		{"several", "groups: [x]\nroutes: [{id: 1}]\nbogus: 1", []string{"bogus", "groups[0]", "routes[0].id"}},
		{"top level list", "[1, 2]", []string{""}},
		{"bad yaml", "a: [", []string{""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse([]byte(tc.text))
			var ve *config.ValidationError
			require.ErrorAs(t, err, &ve)
			require.True(t, errors.Is(err, validation.ErrInvalid))
			var got []string
			for _, p := range ve.Problems {
				got = append(got, p.Path)
			}
			require.Equal(t, tc.want, got, err.Error())
		})
	}
	f, err := config.Parse(nil)
	require.NoError(t, err)
	require.Equal(t, &config.File{}, f, "an empty file configures nothing")
}

// TestJSONAndYAML: the same configuration in either format is the same File.
func TestJSONAndYAML(t *testing.T) {
	t.Parallel()
	y, err := config.Parse([]byte(fullConfig), config.WithLookupEnv(lookup(secrets)))
	require.NoError(t, err)
	js, err := config.Marshal(y, config.FormatJSON)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(js), "{"))
	j, err := config.Parse(js)
	require.NoError(t, err)
	require.Equal(t, y, j)
}

// TestMarshalEscapes: a value holding "${" survives Marshal and Parse.
func TestMarshalEscapes(t *testing.T) {
	t.Parallel()
	f := &config.File{Consumers: []config.Consumer{{Username: "alice", Desc: "costs ${5} and $${x}"}}}
	for _, format := range []config.Format{config.FormatJSON, config.FormatYAML} {
		out, err := config.Marshal(f, format)
		require.NoError(t, err)
		back, err := config.Parse(out, config.WithLookupEnv(lookup(nil)))
		require.NoError(t, err, string(out))
		require.Equal(t, f, back)
	}
}

func TestNoRegistry(t *testing.T) {
	t.Parallel()
	_, err := config.Apply(context.Background(), memoryStore(), &config.File{})
	require.ErrorIs(t, err, config.ErrNoRegistry)
}

// TestResultLog: a Result logs its counts by kind, and says "nothing" when
// the file touched nothing.
func TestResultLog(t *testing.T) {
	t.Parallel()
	var buf strings.Builder
	log := slog.New(slog.NewTextHandler(&buf, nil))
	res := config.Result{Consumers: config.Counts{Created: 1, Unchanged: 2}, Routes: config.Counts{Deleted: 1}}
	log.Info("applied", "result", res)
	require.Contains(t, buf.String(), "result.consumers.created=1 result.consumers.updated=0 result.consumers.deleted=0 result.consumers.unchanged=2 result.routes.created=0")
	require.NotContains(t, buf.String(), "groups")
	require.Equal(t, "consumers 1 created 2 unchanged; routes 1 deleted", res.String())
	require.Equal(t, 2, res.Changes())
	require.Equal(t, "nothing", config.Result{}.String())
}
