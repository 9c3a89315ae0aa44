package route_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/validation"
)

func paths(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "/p" + strconv.Itoa(i)
	}
	return out
}

func methods(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "M" + strconv.Itoa(i)
	}
	return out
}

func groups(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "g" + strconv.Itoa(i)
	}
	return out
}

// TestValidateLimits: each limit accepts a route exactly at it and names the
// field of a route one over it.
func TestValidateLimits(t *testing.T) {
	long := "/" + strings.Repeat("a", route.MaxPathLen-1)
	for _, tc := range []struct {
		name     string
		at, over route.Route
		field    string
	}{
		{"paths", route.Route{Frontend: route.Frontend{Paths: paths(route.MaxPaths)}},
			route.Route{Frontend: route.Frontend{Paths: paths(route.MaxPaths + 1)}}, "frontend.paths"},
		{"path length", route.Route{Frontend: route.Frontend{Paths: []string{long}}},
			route.Route{Frontend: route.Frontend{Paths: []string{long + "a"}}}, "frontend.paths"},
		{"methods", route.Route{Frontend: route.Frontend{Methods: methods(route.MaxMethods)}},
			route.Route{Frontend: route.Frontend{Methods: methods(route.MaxMethods + 1)}}, "frontend.methods"},
		{"groups", route.Route{Groups: groups(route.MaxGroups)},
			route.Route{Groups: groups(route.MaxGroups + 1)}, "groups"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, tc.at.Validate())
			err := tc.over.Validate()
			require.ErrorIs(t, err, validation.ErrInvalid)
			var ve *validation.Error
			require.True(t, errors.As(err, &ve))
			require.Equal(t, []string{tc.field}, keys(ve.Fields))
		})
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
