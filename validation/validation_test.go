package validation_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/validation"
)

func TestAddKeepsFirstReason(t *testing.T) {
	tests := []struct {
		name string
		adds [][2]string
		want map[string]string
	}{
		{"one field", [][2]string{{"username", "is required"}}, map[string]string{"username": "is required"}},
		{"same field twice keeps first", [][2]string{{"username", "is required"}, {"username", "is too long"}},
			map[string]string{"username": "is required"}},
		{"two fields", [][2]string{{"username", "is required"}, {"group_id", "is bad"}, {"group_id", "later"}},
			map[string]string{"username": "is required", "group_id": "is bad"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e validation.Error
			for _, a := range tt.adds {
				e.Add(a[0], a[1])
			}
			require.Equal(t, tt.want, e.Fields)
		})
	}
}

func TestMerge(t *testing.T) {
	inner := func(fields map[string]string) error {
		e := &validation.Error{}
		for f, why := range fields {
			e.Add(f, why)
		}
		return e
	}
	tests := []struct {
		name     string
		existing map[string]string
		prefix   string
		other    error
		want     map[string]string
	}{
		{"nil error adds nothing", nil, "plugins.x", nil, nil},
		{"validation error without prefix", nil, "", inner(map[string]string{"a": "bad a", "b": "bad b"}),
			map[string]string{"a": "bad a", "b": "bad b"}},
		{"validation error with prefix", nil, "plugins.key-auth", inner(map[string]string{"header": "bad", "query": "worse"}),
			map[string]string{"plugins.key-auth.header": "bad", "plugins.key-auth.query": "worse"}},
		{"empty field name under prefix is the prefix alone", nil, "plugins.key-auth", inner(map[string]string{"": "whole thing bad"}),
			map[string]string{"plugins.key-auth": "whole thing bad"}},
		{"wrapped validation error is unwrapped", nil, "p", fmt.Errorf("wrapped: %w", validation.Field("f", "bad")),
			map[string]string{"p.f": "bad"}},
		{"non-validation error becomes the prefix field", nil, "plugins.x", errors.New("boom"),
			map[string]string{"plugins.x": "boom"}},
		{"merge keeps existing reasons", map[string]string{"p.f": "first"}, "p", validation.Field("f", "second"),
			map[string]string{"p.f": "first"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e validation.Error
			for f, why := range tt.existing {
				e.Add(f, why)
			}
			e.Merge(tt.prefix, tt.other)
			if tt.want == nil {
				require.Empty(t, e.Fields)
				require.NoError(t, e.Err())
				return
			}
			require.Equal(t, tt.want, e.Fields)
		})
	}
}

func TestErr(t *testing.T) {
	var nilErr *validation.Error
	require.NoError(t, nilErr.Err())

	var empty validation.Error
	require.NoError(t, empty.Err())
	// A nil error from Err must be an untyped nil, so that `err != nil` is false.
	require.True(t, empty.Err() == nil)

	var e validation.Error
	e.Add("name", "is required")
	err := e.Err()
	require.Error(t, err)
	var ve *validation.Error
	require.ErrorAs(t, err, &ve)
	require.Equal(t, map[string]string{"name": "is required"}, ve.Fields)
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		name string
		adds [][2]string
		want string
	}{
		{"one field", [][2]string{{"username", "is required"}}, "invalid username: is required"},
		{"sorted by field", [][2]string{{"zeta", "z"}, {"alpha", "a"}, {"mid", "m"}}, "invalid alpha: a; mid: m; zeta: z"},
		{"order of Add does not matter", [][2]string{{"mid", "m"}, {"zeta", "z"}, {"alpha", "a"}}, "invalid alpha: a; mid: m; zeta: z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e validation.Error
			for _, a := range tt.adds {
				e.Add(a[0], a[1])
			}
			// Map iteration order is random: the string must not depend on it.
			for range 20 {
				require.Equal(t, tt.want, e.Error())
			}
		})
	}
}

func TestIsErrInvalid(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"Field", validation.Field("a", "b"), true},
		{"wrapped", fmt.Errorf("ctx: %w", validation.Field("a", "b")), true},
		{"plain error", errors.New("invalid"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, errors.Is(tt.err, validation.ErrInvalid))
		})
	}
	require.False(t, errors.Is(validation.Field("a", "b"), errors.New("other")))
}

func TestField(t *testing.T) {
	err := validation.Field("plugins.key-auth.key", "must not be empty")
	var ve *validation.Error
	require.ErrorAs(t, err, &ve)
	require.Equal(t, map[string]string{"plugins.key-auth.key": "must not be empty"}, ve.Fields)
	require.Equal(t, "invalid plugins.key-auth.key: must not be empty", err.Error())
}
