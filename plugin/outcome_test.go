package plugin_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/plugin"
)

// TestServeOutcome checks what ServeOutcome reports: whether the plan
// answered the request itself, with which status, and which plugin stopped it.
func TestServeOutcome(t *testing.T) {
	stop := func(name string, status int) *stagePlugin {
		return &stagePlugin{name: name, pre: func(c *plugin.Call) { c.Stop(status, "", nil) }}
	}
	pass := &stagePlugin{name: "pass"}
	boom := &stagePlugin{name: "boom", pre: func(*plugin.Call) { panic("boom") }}
	for _, tc := range []struct {
		name     string
		plugins  []plugin.Configured
		want     plugin.Outcome
		wantCode int
	}{
		{"empty plan", nil, plugin.Outcome{}, http.StatusOK},
		{"plugins let it through", []plugin.Configured{at(pass, plugin.PreRequest, 0), at(&stagePlugin{name: "usage"}, plugin.PostRequest, 0)}, plugin.Outcome{}, http.StatusOK},
		{"stopped", []plugin.Configured{at(pass, plugin.PreRequest, 0), at(stop("limit", http.StatusTooManyRequests), plugin.PreRequest, 1)},
			plugin.Outcome{Status: http.StatusTooManyRequests, Plugin: "limit"}, http.StatusTooManyRequests},
		{"stopped in a parallel group", []plugin.Configured{
			parallel(at(&stagePlugin{name: "a"}, plugin.PreRequest, 0)),
			parallel(at(stop("b", http.StatusForbidden), plugin.PreRequest, 0)),
		}, plugin.Outcome{Status: http.StatusForbidden, Plugin: "b"}, http.StatusForbidden},
		{"panic", []plugin.Configured{at(boom, plugin.PreRequest, 0)}, plugin.Outcome{Status: http.StatusInternalServerError}, http.StatusInternalServerError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, log := newLog()
			p := mustPlan(t, plugin.Levels{Route: tc.plugins}, plugin.WithLogger(log))
			for range 3 { // pooled exchanges do not carry a stop over
				rec := httptest.NewRecorder()
				got := p.ServeOutcome(rec, httptest.NewRequest(http.MethodGet, "/", nil), handlerOK(nil), "orders", alice)
				require.Equal(t, tc.want, got)
				require.Equal(t, tc.wantCode, rec.Code)
			}
		})
	}
}
