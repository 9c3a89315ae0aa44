package gatehouse

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential/keyauth"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store/memory"
)

// TestPlanMemo: a route remembers a consumer's plan only for that consumer
// value and the plan cache's generation, so that a consumer change (a new
// value) or a route, group or gateway change (a new generation) gets a new
// plan; consumers sharing a slot each get their own.
func TestPlanMemo(t *testing.T) {
	g, err := New(context.Background(), memory.New(), WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		WithRoutes(route.Route{ID: "r", Plugins: map[string]json.RawMessage{
			keyauth.Name:  json.RawMessage(`{}`),
			"limit-count": json.RawMessage(`{"count":10,"time_window":60,"key_type":"consumer"}`),
		}}))
	require.NoError(t, err)
	defer g.Close()
	cr := g.routes.Load().byID["r"]
	require.NotNil(t, cr)
	plan := func(c *consumer.Consumer) any {
		p, err := g.plan(g.plans.Generation(), cr, &consumer.Identity{Consumer: c})
		require.NoError(t, err)
		require.NotNil(t, p)
		return p
	}

	alice := &consumer.Consumer{Username: "alice"}
	first := plan(alice)
	require.Same(t, first, plan(alice), "remembered")

	alice2 := &consumer.Consumer{Username: "alice", Labels: map[string]string{"tier": "gold"}}
	before := plan(alice2)
	require.NotSame(t, first, before, "a new value of the consumer: a new plan")

	g.plans.Invalidate() // as a route, group or gateway change does
	again := plan(alice2)
	require.NotSame(t, before, again, "a new generation: a new plan")
	require.Same(t, again, plan(alice2))

	// Consumers whose values share a slot alternate and keep their own plans.
	var same []*consumer.Consumer
	for i := 0; len(same) < 2 && i < 10_000; i++ {
		c := &consumer.Consumer{Username: fmt.Sprintf("u%d", i)}
		if len(same) == 0 || planSlot(c) == planSlot(same[0]) {
			same = append(same, c)
		}
	}
	require.Len(t, same, 2)
	p0, p1 := plan(same[0]), plan(same[1])
	require.NotSame(t, p0, p1)
	require.Same(t, p0, plan(same[0]))
	require.Same(t, p1, plan(same[1]))
}
