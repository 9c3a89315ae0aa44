package sqlstore

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEncodeSpacesLikeJSONB(t *testing.T) {
	v := map[string]any{
		"a": json.RawMessage(`{"count":10,"s":"x, y: \"z\\\"","arr":[1,2]}`),
		"h": "<b>&",
	}
	b, err := encode(v)
	require.NoError(t, err)
	require.Equal(t, `{"a": {"count": 10, "s": "x, y: \"z\\\"", "arr": [1, 2]}, "h": "<b>&"}`, string(b))
	var back map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, `{"count": 10, "s": "x, y: \"z\\\"", "arr": [1, 2]}`, string(back["a"]))
}

func TestPrefixEnd(t *testing.T) {
	for _, tc := range []struct {
		prefix, want string
		ok           bool
	}{
		{"apikey-auth:", "apikey-auth;", true},
		{"a\u00ff", "a\u0100", true},
		{"a\U0010FFFF", "b", true},
		{"\uD7FF", "\uE000", true},
		{"\U0010FFFF", "", false},
		{"", "", false},
	} {
		got, ok := prefixEnd(tc.prefix)
		require.Equal(t, tc.ok, ok, "%q", tc.prefix)
		require.Equal(t, tc.want, got, "%q", tc.prefix)
		if ok {
			require.Greater(t, got, tc.prefix)
			require.Greater(t, got, tc.prefix+"\U0010FFFF\U0010FFFF", "every string starting with the prefix is below")
			require.False(t, strings.HasPrefix(got, tc.prefix))
		}
	}
}

func TestMigrationsPerDialect(t *testing.T) {
	for _, name := range []string{"sqlite", "postgres"} {
		s := &Store{d: Dialect{Name: name, Types: map[string]string{"text": "TEXT", "json": "JSONB"}}}
		ms, err := s.loadMigrations()
		require.NoError(t, err)
		require.GreaterOrEqual(t, len(ms), 4)
		for i, m := range ms {
			require.Equal(t, i+1, m.version)
		}
		require.Equal(t, "0002_doc_json", ms[1].name)
		require.Equal(t, name == "postgres", ms[1].sql != "", "%s: 0002 is PostgreSQL's only", name)
		require.NotContains(t, ms[0].sql, "{{")
		require.Equal(t, "0003_columns", ms[2].name)
		require.Contains(t, ms[2].sql, "ADD COLUMN created_at", "%s: 0003 has each dialect's own", name)
		require.NotNil(t, ms[2].after, "0003 fills what its SQL left in Go")
		require.Contains(t, ms[3].sql, "DROP COLUMN doc")
	}
}

func TestDecodePlugins(t *testing.T) {
	for _, text := range []string{
		`{}`,
		`{"key-auth": {"key_hash": "abc"}}`,
		`{"a": {"s": "}, \"]", "n": [1, [2, {"x": null}]]}, "b": true, "c": -1.5e3, "d": "x"}`,
		` { "a" : [ ] , "b\u0041" : {"z": 1} } `,
	} {
		var want map[string]json.RawMessage
		require.NoError(t, json.Unmarshal([]byte(text), &want))
		got, err := decodePlugins([]byte(text), textFormats)
		require.NoError(t, err, text)
		require.Equal(t, want, got, text)
		for name := range got {
			require.Equal(t, len(got[name]), cap(got[name]), "an append to one value never writes over another")
		}
	}
	for _, text := range []string{"", "null"} {
		got, err := decodePlugins([]byte(text), textFormats)
		require.NoError(t, err)
		require.Nil(t, got)
	}
	got, err := decodePlugins(nil, textFormats)
	require.NoError(t, err)
	require.Nil(t, got)
	for _, bad := range []string{`[]`, `{"a": }`, `{"a": 1`, `"a"`, `{"a" 1}`} {
		_, err := decodePlugins([]byte(bad), textFormats)
		require.Error(t, err, bad)
	}
}

func TestEntitiesText(t *testing.T) {
	for _, ents := range [][]string{
		{"group_a"},
		{"route_r1", "group_a", "group_a"},
		{"odd one", "", "[x"},
		{""},
		{"[a"},
	} {
		text, err := entitiesText(ents)
		require.NoError(t, err)
		back, err := splitEntities(text)
		require.NoError(t, err)
		require.Equal(t, ents, back, "%q", text)
	}
	text, err := entitiesText([]string{"group_a", "route_r"})
	require.NoError(t, err)
	require.Equal(t, "group_a route_r", text)
	text, err = entitiesText(nil)
	require.NoError(t, err)
	require.Empty(t, text)
	back, err := splitEntities("")
	require.NoError(t, err)
	require.Nil(t, back)
}
