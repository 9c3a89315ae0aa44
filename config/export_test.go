package config_test

import (
	"context"
	"testing"

	"github.com/gatehousehq/gatehouse/config"
	"github.com/stretchr/testify/require"
)

// TestExportRoundTrip: an export holds no secret, and applying it to the
// store it came from changes nothing, even with prune; applied to an empty
// store it is refused, naming each credential that lacks its secret.
func TestExportRoundTrip(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		e.apply(t, fullConfig, secrets)
		ctx := context.Background()
		f, err := config.Export(ctx, e.store, e.opts()...)
		require.NoError(t, err)
		require.Len(t, f.Consumers, 3)
		require.Len(t, f.Routes, 4)
		require.Len(t, f.Groups, 2)
		require.Len(t, f.ConsumerGroups, 1)
		require.Contains(t, f.Plugins, "limit-count")

		for _, format := range []config.Format{config.FormatYAML, config.FormatJSON} {
			out, err := config.Marshal(f, format)
			require.NoError(t, err)
			for name, secret := range secrets {
				if name == "CAROL_PUB" {
					continue // a public key is no secret: it is exported
				}
				require.NotContains(t, string(out), secret, "the export holds %s", name)
			}
			back, err := config.Parse(out)
			require.NoError(t, err)
			res, err := config.Apply(ctx, e.store, back, e.opts(config.WithPrune(true))...)
			require.NoError(t, err)
			require.Zero(t, res.Changes(), "%s: %s", format, res)
			require.Equal(t, 6, res.Credentials.Unchanged)
		}
		code, _ := e.call(t, "basic", "Authorization", basic("alice", secrets["ALICE_PASSWORD"]))
		require.Equal(t, 200, code, "the stored secrets are still the ones that work")

		fresh := newEnv(t, memoryStore())
		err = config.Validate(ctx, fresh.store, f, fresh.opts()...)
		var ve *config.ValidationError
		require.ErrorAs(t, err, &ve)
		require.Len(t, ve.Problems, 5, "every credential but the public-key one: %v", err)
		require.Equal(t, "consumers[0].credentials[0].plugins.basic-auth.password", ve.Problems[0].Path)
	})
}
