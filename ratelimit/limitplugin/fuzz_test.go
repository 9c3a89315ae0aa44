package limitplugin_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/ratelimit/limitplugin"
	"github.com/gatehousehq/gatehouse/ratelimit/memory"
	"github.com/gatehousehq/gatehouse/validation"
)

// FuzzSettings compiles arbitrary settings with both definitions: New never
// panics, refuses with a *validation.Error, and accepted settings compile
// again from Settings to the same settings and the same counters.
func FuzzSettings(f *testing.F) {
	for _, s := range []string{
		premium,
		`{"count":2,"time_window":60,"key_type":"header:x-api-key","rejected_code":503,"rejected_msg":"x","policy":"redis","allow_degradation":true}`,
		`{"count":1,"time_window":9223372036}`,
		`{"limits":{"per_consumer":{"limit":1,"window":"1d"}},"actions":{"retry_after":"2m"}}`,
		`{"limits":{"global":{"limit":0,"window":"x"},"nope":{}},"actions":{"type":"log"}}`,
		`{"limits":{"global":null}}`,
		`{"count":1.5}`, `null`, `[]`, ``, `{"limits":{}}`,
	} {
		f.Add([]byte(s))
	}
	defs := limitplugin.New(memory.New()).Definitions()
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, def := range defs {
			p, err := def.New(json.RawMessage(raw))
			if err != nil {
				var ve *validation.Error
				require.True(t, errors.As(err, &ve), "%s: %v", def.Name(), err)
				require.NotEmpty(t, ve.Fields)
				continue
			}
			l := p.(*limitplugin.Limiter)
			require.Equal(t, def.Name(), l.Name())
			again, err := def.New(l.Settings())
			require.NoError(t, err, "%s: %s", def.Name(), l.Settings())
			l2 := again.(*limitplugin.Limiter)
			require.JSONEq(t, string(l.Settings()), string(l2.Settings()))
			require.Equal(t, limitplugin.KeyPrefix(l), limitplugin.KeyPrefix(l2), "the same counters")
		}
	})
}
