package plugin_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/plugin"
)

// binder is a PreRequest plugin that, bound, says whom it was bound to.
type binder struct {
	bound string
	count *int
}

func (b *binder) Name() string { return "binder" }

func (b *binder) PreRequest(c *plugin.Call) { c.SetHeader("X-Bound", b.bound) }

func (b *binder) Bind(routeID string, c *consumer.Consumer) plugin.Plugin {
	*b.count++
	name := "-"
	if c != nil {
		name = c.Username
	}
	return &binder{bound: routeID + "/" + name, count: b.count}
}

// With WithCaller, NewPlan runs a Binder as what its Bind returns, bound
// once per plan; without it the Binder runs as it is.
func TestNewPlanBindsBinders(t *testing.T) {
	binds := 0
	b := &binder{bound: "unbound", count: &binds}
	lv := plugin.Levels{Route: []plugin.Configured{at(b, plugin.PreRequest, 0)}}
	alice := &consumer.Consumer{Username: "alice"}

	p := mustPlan(t, lv, plugin.WithCaller("orders", alice))
	require.Equal(t, 1, binds)
	for range 3 {
		rec := serve(p, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		require.Equal(t, "orders/alice", rec.Header().Get("X-Bound"))
	}
	require.Equal(t, 1, binds, "bound when the plan is built, not per request")

	rec := serve(mustPlan(t, lv, plugin.WithCaller("public", nil)), http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	require.Equal(t, "public/-", rec.Header().Get("X-Bound"))
	rec = serve(mustPlan(t, lv), http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	require.Equal(t, "unbound", rec.Header().Get("X-Bound"))
}

// fields is a HeaderWriter of two fields.
type fields struct{ limit, left []string }

func (f *fields) WriteHeaders(h http.Header) {
	h["X-Ratelimit-Limit"] = f.limit
	h["X-Ratelimit-Remaining"] = f.left
}

// SetHeaders records a HeaderWriter that runs, in plan order with the other
// header changes, when the response is sent (after the handler's headers),
// and at once at PreResponse.
func TestServeSetHeaders(t *testing.T) {
	p := mustPlan(t, plugin.Levels{Route: []plugin.Configured{
		at(&stagePlugin{name: "a", pre: func(c *plugin.Call) {
			c.SetHeader("X-Ratelimit-Remaining", "overwritten")
			c.SetHeaders(&fields{limit: []string{"10"}, left: []string{"9"}})
			c.AddHeader("X-Ratelimit-Remaining", "added after")
		}}, plugin.PreRequest, 0),
		at(&stagePlugin{name: "b", resp: func(c *plugin.Call, res *plugin.Response) {
			require.Equal(t, "10", res.Header().Get("X-Ratelimit-Limit"), "applied before PreResponse")
			c.SetHeaders(&fields{limit: []string{"20"}, left: []string{"19"}})
			require.Equal(t, "20", res.Header().Get("X-Ratelimit-Limit"), "at once at PreResponse")
		}}, plugin.PreResponse, 0),
	}})
	rec := serve(p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Ratelimit-Limit", "999")
		w.WriteHeader(http.StatusAccepted)
	}))
	require.Equal(t, http.StatusAccepted, rec.Code)
	require.Equal(t, []string{"20"}, rec.Header().Values("X-Ratelimit-Limit"))
	require.Equal(t, []string{"19"}, rec.Header().Values("X-Ratelimit-Remaining"))

	p = mustPlan(t, plugin.Levels{Route: []plugin.Configured{
		at(&stagePlugin{name: "a", pre: func(c *plugin.Call) {
			c.SetHeader("X-Ratelimit-Remaining", "overwritten")
			c.SetHeaders(&fields{limit: []string{"10"}, left: []string{"9"}})
			c.AddHeader("X-Ratelimit-Remaining", "added after")
		}}, plugin.PreRequest, 0),
	}})
	rec = serve(p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	require.Equal(t, []string{"9", "added after"}, rec.Header().Values("X-Ratelimit-Remaining"), "in the order recorded")
}
