package limitplugin_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/plugin"
	"github.com/gatehousehq/gatehouse/ratelimit/limitplugin"
	"github.com/gatehousehq/gatehouse/ratelimit/memory"
	"github.com/gatehousehq/gatehouse/validation"
)

func TestDefinitions(t *testing.T) {
	p := limitplugin.New(memory.New())
	lc, arl := p.LimitCount(), p.AdvancedRateLimiter()
	require.Equal(t, "limit-count", lc.Name())
	require.Equal(t, "advanced_rate_limiter", arl.Name())
	require.Equal(t, plugin.PreRequest, lc.Stage())
	require.Equal(t, plugin.PreRequest, arl.Stage())
	require.Equal(t, limitplugin.PriorityLimitCount, lc.Priority())
	require.Equal(t, limitplugin.PriorityAdvancedRateLimiter, arl.Priority())
	require.Greater(t, lc.Priority(), 2400, "after consumer-restriction")

	reg := plugin.NewRegistry(p.Definitions()...)
	require.Equal(t, []string{"advanced_rate_limiter", "limit-count"}, reg.Names())
	err := reg.Validate("plugins", map[string]json.RawMessage{
		"advanced_rate_limiter": json.RawMessage(`{"limits":{"per_user":{"limit":50,"window":"1 m"}}}`),
		"limit-count":           json.RawMessage(`{"count":1,"time_window":60}`),
	})
	var ve *validation.Error
	require.True(t, errors.As(err, &ve))
	require.Equal(t, []string{"plugins.advanced_rate_limiter.limits.per_user.window"}, keys(ve.Fields))
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestLimitCountSettingsValidation(t *testing.T) {
	def := limitplugin.New(memory.New()).LimitCount()
	for _, tc := range []struct {
		settings string
		fields   []string
	}{
		{`{}`, []string{"count", "time_window"}},
		{`null`, []string{"count", "time_window"}},
		{`{"count":0,"time_window":60}`, []string{"count"}},
		{`{"count":-1,"time_window":60}`, []string{"count"}},
		{`{"count":1,"time_window":0}`, []string{"time_window"}},
		{`{"count":1,"time_window":-5}`, []string{"time_window"}},
		{`{"count":1,"time_window":9223372037}`, []string{"time_window"}},
		{`{"count":1.5,"time_window":60}`, []string{"count"}},
		{`{"count":"10","time_window":60}`, []string{"count"}},
		{`{"count":9000000000000000000,"time_window":1}`, []string{"count"}},
		{`{"count":1,"time_window":60,"key_type":"var"}`, []string{"key_type"}},
		{`{"count":1,"time_window":60,"key_type":"remote_addr"}`, []string{"key_type"}},
		{`{"count":1,"time_window":60,"key_type":"header:"}`, []string{"key_type"}},
		{`{"count":1,"time_window":60,"key_type":"header:a b"}`, []string{"key_type"}},
		{`{"count":1,"time_window":60,"key_type":"header:a:b"}`, []string{"key_type"}},
		{`{"count":1,"time_window":60,"key_type":"Consumer"}`, []string{"key_type"}},
		{`{"count":1,"time_window":60,"rejected_code":199}`, []string{"rejected_code"}},
		{`{"count":1,"time_window":60,"rejected_code":600}`, []string{"rejected_code"}},
		{`{"count":1,"time_window":60,"rejected_code":-429}`, []string{"rejected_code"}},
		{`{"count":1,"time_window":60,"policy":"redis-cluster"}`, []string{"policy"}},
		{`{"count":1,"time_window":60,"allow_degradation":"yes"}`, []string{"allow_degradation"}},
		{`{"count":1,"time_window":60,"group":"shared"}`, []string{"group"}},
		{`{"count":1,"time_window":60} {}`, []string{""}},
		{`[]`, []string{""}},
		{`{"count":0,"time_window":0,"key_type":"x","rejected_code":1,"policy":"x"}`, []string{"count", "time_window", "key_type", "rejected_code", "policy"}},
	} {
		_, err := def.New(json.RawMessage(tc.settings))
		var ve *validation.Error
		require.True(t, errors.As(err, &ve), "%s: %v", tc.settings, err)
		require.ErrorIs(t, err, validation.ErrInvalid)
		require.ElementsMatch(t, tc.fields, keys(ve.Fields), tc.settings)
	}
	for _, ok := range []string{
		`{"count":1,"time_window":1}`,
		`{"count":1000000000,"time_window":1}`,
		`{"count":1,"time_window":9223372036}`,
		`{"count":5,"time_window":60,"key_type":"header:X-Api-Key","rejected_code":200,"policy":"redis","allow_degradation":true}`,
		`{"count":5,"time_window":60,"rejected_code":599,"policy":"local","rejected_msg":""}`,
	} {
		_, err := def.New(json.RawMessage(ok))
		require.NoError(t, err, ok)
	}
}

func TestAdvancedSettingsValidation(t *testing.T) {
	def := limitplugin.New(memory.New()).AdvancedRateLimiter()
	for _, tc := range []struct {
		settings string
		fields   []string
	}{
		{`{}`, []string{"limits"}},
		{`{"limits":{}}`, []string{"limits"}},
		{`{"limits":{"per_hour":{"limit":1,"window":"1m"}}}`, []string{"limits.per_hour"}},
		{`{"limits":{"global":{"window":"1m"}}}`, []string{"limits.global.limit"}},
		{`{"limits":{"global":{"limit":0,"window":"1m"}}}`, []string{"limits.global.limit"}},
		{`{"limits":{"global":{"limit":-3,"window":"1m"}}}`, []string{"limits.global.limit"}},
		{`{"limits":{"global":{"limit":10}}}`, []string{"limits.global.window"}},
		{`{"limits":{"per_ip":{"limit":10,"window":"1w"}}}`, []string{"limits.per_ip.window"}},
		{`{"limits":{"per_ip":{"limit":10,"window":"0s"}}}`, []string{"limits.per_ip.window"}},
		{`{"limits":{"per_ip":{"limit":10,"window":"1.5h"}}}`, []string{"limits.per_ip.window"}},
		{`{"limits":{"per_ip":{"limit":10,"window":60}}}`, []string{"limits.per_ip.window"}},
		{`{"limits":{"per_user":{"limit":9000000000000000000,"window":"1s"}}}`, []string{"limits.per_user.limit"}},
		{`{"limits":{"per_user":{"limit":1,"window":"1m","burst":5}}}`, []string{"limits.per_user.burst"}},
		{`{"limits":{"global":{"limit":1,"window":"1m"}},"actions":{"type":"throttle"}}`, []string{"actions.type"}},
		{`{"limits":{"global":{"limit":1,"window":"1m"}},"actions":{"retry_after":"soon"}}`, []string{"actions.retry_after"}},
		{`{"limits":{"global":{"limit":1,"window":"1m"}},"actions":{"retry_after":60}}`, []string{"actions.retry_after"}},
		{`{"limits":{"global":{"limit":1,"window":"1m"}},"actions":{"type":"reject","status":503}}`, []string{"actions.status"}},
		{`{"limits":{"global":{"limit":1,"window":"1m"}},"enabled":true}`, []string{"enabled"}},
		{`{"limits":[]}`, []string{"limits"}},
		{`{"limits":{"global":null}}`, []string{"limits.global"}},
		{`{"limits":{"global":[1,"1m"]}}`, []string{"limits.global"}},
		{`{"limits":{"global":{"limit":1,"window":"1m"}},"actions":"reject"}`, []string{"actions"}},
		{`{"limits":{"global":{"limit":0,"window":"x"},"per_ip":{"limit":1},"nope":{}},"actions":{"type":"log"}}`,
			[]string{"limits.global.limit", "limits.global.window", "limits.per_ip.window", "limits.nope", "actions.type"}},
	} {
		_, err := def.New(json.RawMessage(tc.settings))
		var ve *validation.Error
		require.True(t, errors.As(err, &ve), "%s: %v", tc.settings, err)
		require.ElementsMatch(t, tc.fields, keys(ve.Fields), tc.settings)
	}
	for _, ok := range []string{
		premium,
		`{"limits":{"per_consumer":{"limit":1,"window":"60"}}}`,
		`{"limits":{"global":{"limit":1,"window":"1d"}},"actions":{}}`,
		`{"limits":{"global":{"limit":1,"window":"1d"}},"actions":{"retry_after":"2m"}}`,
		`{"limits":{"global":{"limit":1,"window":"1d"},"per_ip":{"limit":1,"window":"1d"},"per_user":{"limit":1,"window":"1d"},"per_consumer":{"limit":1,"window":"1d"}}}`,
	} {
		_, err := def.New(json.RawMessage(ok))
		require.NoError(t, err, ok)
	}
}

// Settings returns the compiled settings with their defaults.
func TestSettingsNormalized(t *testing.T) {
	p := limitplugin.New(memory.New())
	lc, err := p.LimitCount().New(json.RawMessage(`{"count":5,"time_window":3600,"key_type":"header:x-api-key"}`))
	require.NoError(t, err)
	require.JSONEq(t, `{"count":5,"time_window":3600,"key_type":"header:X-Api-Key","rejected_code":429,
		"rejected_msg":"rate limit exceeded: 5 requests per 1h","policy":"local"}`, string(lc.(*limitplugin.Limiter).Settings()))

	arl, err := p.AdvancedRateLimiter().New(json.RawMessage(`{"limits":{"global":{"limit":5,"window":"86400"},"per_ip":{"limit":5,"window":"90s"}},"actions":{"retry_after":"1m"}}`))
	require.NoError(t, err)
	require.JSONEq(t, `{"limits":{"global":{"limit":5,"window":"1d"},"per_ip":{"limit":5,"window":"90s"}},"actions":{"type":"reject","retry_after":"60"}}`,
		string(arl.(*limitplugin.Limiter).Settings()))
}

// A rejected_code below 400 is allowed (APISIX allows 200 to 599); it is
// still a refusal.
func TestRejectedCodeSuccess(t *testing.T) {
	e := newEnv(t)
	p := e.limitCount(t, `{"count":1,"time_window":60,"rejected_code":200}`)
	c := caller("", "", "198.51.100.1")
	require.Equal(t, http.StatusOK, serve(p, c).Code)
	w := serve(p, c)
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, "limit-count", decodeRefusal(t, w).Limit)
}
