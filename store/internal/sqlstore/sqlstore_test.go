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
		require.GreaterOrEqual(t, len(ms), 2)
		for i, m := range ms {
			require.Equal(t, i+1, m.version)
		}
		require.Equal(t, "0002_doc_json", ms[1].name)
		require.Equal(t, name == "postgres", ms[1].sql != "", "%s: 0002 is PostgreSQL's only", name)
		require.NotContains(t, ms[0].sql, "{{")
	}
}
