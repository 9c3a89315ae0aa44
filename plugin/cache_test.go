package plugin_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/plugin"
)

// counter builds plans and counts how often it was asked to.
type counter struct {
	mu sync.Mutex
	n  int
}

func (c *counter) build() (*plugin.Plan, error) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return plugin.NewPlan(plugin.Levels{Route: []plugin.Configured{at(&stagePlugin{name: "x"}, plugin.PreRequest, 0)}})
}

func (c *counter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func TestCacheHitBuildsOnce(t *testing.T) {
	c := plugin.NewCache()
	var b counter
	p1, err := c.Get("orders", "alice", b.build)
	require.NoError(t, err)
	p2, err := c.Get("orders", "alice", b.build)
	require.NoError(t, err)
	require.Same(t, p1, p2)
	require.Equal(t, 1, b.count())

	// Other pairs have their own plans.
	p3, err := c.Get("orders", "bob", b.build)
	require.NoError(t, err)
	require.NotSame(t, p1, p3)
	_, err = c.Get("invoices", "alice", b.build)
	require.NoError(t, err)
	_, err = c.Get("orders", "", b.build)
	require.NoError(t, err)
	require.Equal(t, 4, b.count())
	require.Equal(t, 4, c.Len())
}

func TestCacheHitAllocatesNothing(t *testing.T) {
	var c plugin.Cache // the zero value works
	var b counter
	route, cons := "orders", "alice"
	_, err := c.Get(route, cons, b.build)
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(1000, func() {
		// A closure as the gateway would write it.
		p, err := c.Get(route, cons, func() (*plugin.Plan, error) { return b.build() })
		if p == nil || err != nil {
			panic("miss")
		}
	})
	require.Zero(t, allocs)
	require.Equal(t, 1, b.count())
}

func TestCacheInvalidate(t *testing.T) {
	c := plugin.NewCache()
	var b counter
	p1, _ := c.Get("orders", "alice", b.build)
	c.Invalidate()
	require.Zero(t, c.Len())
	p2, err := c.Get("orders", "alice", b.build)
	require.NoError(t, err)
	require.NotSame(t, p1, p2)
	require.Equal(t, 2, b.count())
	p3, _ := c.Get("orders", "alice", b.build)
	require.Same(t, p2, p3, "the rebuilt plan is cached")
	require.Equal(t, 1, c.Len())
}

func TestCacheDoesNotKeepAPlanBuiltAcrossAnInvalidate(t *testing.T) {
	c := plugin.NewCache()
	var b counter
	stale, err := c.Get("orders", "alice", func() (*plugin.Plan, error) {
		c.Invalidate() // the configuration changed while this plan was built
		return b.build()
	})
	require.NoError(t, err)
	require.NotNil(t, stale, "the caller still gets its plan")
	fresh, err := c.Get("orders", "alice", b.build)
	require.NoError(t, err)
	require.NotSame(t, stale, fresh)
	require.Equal(t, 2, b.count())
}

func TestCacheDoesNotKeepErrors(t *testing.T) {
	c := plugin.NewCache()
	bad := errors.New("bad config")
	_, err := c.Get("orders", "alice", func() (*plugin.Plan, error) { return nil, bad })
	require.ErrorIs(t, err, bad)
	var b counter
	p, err := c.Get("orders", "alice", b.build)
	require.NoError(t, err)
	require.NotNil(t, p)
	require.Equal(t, 1, b.count())
}

func TestCacheIsBounded(t *testing.T) {
	c := plugin.NewCache(plugin.WithCacheSize(32))
	var b counter
	for i := range 1000 {
		_, err := c.Get("orders", fmt.Sprint("consumer-", i), b.build)
		require.NoError(t, err)
	}
	require.LessOrEqual(t, c.Len(), 32)
	require.Positive(t, c.Len())
	// The most recent entry is there.
	_, _ = c.Get("orders", "consumer-999", b.build)
	require.Equal(t, 1000, b.count())
}

func TestCacheConcurrentUse(t *testing.T) {
	c := plugin.NewCache(plugin.WithCacheSize(64))
	var b counter
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				if g == 0 && i%50 == 0 {
					c.Invalidate()
				}
				p, err := c.Get(fmt.Sprint("r", i%5), fmt.Sprint("c", i%20), b.build)
				if err != nil || p == nil {
					panic("no plan")
				}
			}
		})
	}
	wg.Wait()
	require.LessOrEqual(t, c.Len(), 64)
}

// A plan built for a generation read before an Invalidate (its inputs may be
// stale) is returned to its caller but never kept, and never answers a
// caller of the newer generation.
func TestCacheGetAtStaleGeneration(t *testing.T) {
	var c plugin.Cache
	builds := 0
	build := func() (*plugin.Plan, error) {
		builds++
		return plugin.NewPlan(plugin.Levels{})
	}
	gen := c.Generation()
	c.Invalidate() // a consumer changed after the request read its identity
	p, err := c.GetAt(gen, "r", "alice", build)
	require.NoError(t, err)
	require.NotNil(t, p)
	require.Equal(t, 1, builds)
	_, err = c.Get("r", "alice", build)
	require.NoError(t, err)
	require.Equal(t, 2, builds, "the stale build was not kept")
	_, err = c.Get("r", "alice", build)
	require.NoError(t, err)
	require.Equal(t, 2, builds, "a build of the current generation is")
	require.Equal(t, 1, c.Len())
}

// A new version of one consumer rebuilds its plans and no one else's; the
// old version's plan is not handed to the new one.
func TestCacheVersionRebuildsOneConsumer(t *testing.T) {
	c := plugin.NewCache()
	var b counter
	type consumer struct{ plugins string }
	alice1, alice2, bob := &consumer{"v1"}, &consumer{"v2"}, &consumer{}
	get := func(route, name string, v *consumer) *plugin.Plan {
		t.Helper()
		p, err := c.GetVersion(c.Generation(), route, name, v, b.build)
		require.NoError(t, err)
		return p
	}
	a1, bp := get("orders", "alice", alice1), get("orders", "bob", bob)
	require.Same(t, a1, get("orders", "alice", alice1))
	require.Equal(t, 2, b.count())

	a2 := get("orders", "alice", alice2)
	require.NotSame(t, a1, a2, "a new version gets a new plan")
	require.Same(t, a2, get("orders", "alice", alice2), "and keeps it")
	require.Same(t, bp, get("orders", "bob", bob), "other consumers keep theirs")
	require.Equal(t, 3, b.count())
	require.NotSame(t, a2, get("orders", "alice", alice1), "an old version is a miss, never the new plan")

	allocs := testing.AllocsPerRun(1000, func() {
		if p, err := c.GetVersion(c.Generation(), "orders", "bob", bob, b.build); p == nil || err != nil {
			panic("miss")
		}
	})
	require.Zero(t, allocs, "a versioned hit allocates nothing")
}
