package config_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gatehousehq/gatehouse/config"
)

// FuzzParse: Parse never panics, and what it accepts survives Marshal and
// Parse unchanged.
func FuzzParse(f *testing.F) {
	f.Add([]byte(fullConfig))
	f.Add([]byte(invalidConfig))
	f.Add([]byte(`{"consumers":[{"username":"a","desc":"$${x} ${V}","credentials":[{"name":"m","plugins":{"key-auth":{"key":"${V}"}}}]}]}`))
	f.Add([]byte("routes: [{id: r, frontend: {paths: [/a]}, plugins: {limit-count: {count: 1e3}}}]"))
	f.Add([]byte("consumers: [{username: a, credentials: [{name: m, expires_at: 2030-01-01T00:00:00Z}]}]"))
	env := config.WithLookupEnv(func(name string) (string, bool) { return "v-" + name, !strings.HasPrefix(name, "U") })
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := config.Parse(data, env)
		if err != nil {
			return
		}
		out, err := config.Marshal(file, config.FormatJSON)
		if err != nil {
			return // plugin settings that are not JSON cannot come from Parse
		}
		back, err := config.Parse(out, env)
		if err != nil {
			t.Fatalf("Marshal wrote what Parse refuses: %v\n%s", err, out)
		}
		again, err := config.Marshal(back, config.FormatJSON)
		if err != nil || !bytes.Equal(out, again) {
			t.Fatalf("round trip changed the file:\n%s\n%s", out, again)
		}
	})
}

// FuzzExpand: Expand never panics, and undoes the escaping Marshal does.
func FuzzExpand(f *testing.F) {
	for _, s := range []string{"", "${A}", "$${A}", "$$${A}", "${", "a${b}c${", "${1}", "$"} {
		f.Add(s)
	}
	lookup := func(name string) (string, bool) { return "[" + name + "]", true }
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = config.Expand(s, lookup)
		escaped := strings.ReplaceAll(s, "${", "$${")
		got, err := config.Expand(escaped, lookup)
		if err != nil || got != s {
			t.Fatalf("Expand(%q) = %q, %v; want %q", escaped, got, err, s)
		}
	})
}
