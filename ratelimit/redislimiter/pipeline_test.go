package redislimiter_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/ratelimit"
	"github.com/gatehousehq/gatehouse/ratelimit/redislimiter"
)

// gate is a go-redis hook that records what is sent, one entry per round
// trip (the number of commands: 1 for a command sent alone), and that can
// hold the next round trip until the test lets it go.
type gate struct {
	mu     sync.Mutex
	trips  []int
	hold   chan struct{} // the next round trip waits for it to close; nil: none waits
	held   chan struct{} // closed when a round trip is being held
	forget int           // EVALSHAs still to be sent with an unknown digest
}

func (g *gate) DialHook(next redis.DialHook) redis.DialHook { return next }

func (g *gate) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		g.trip([]redis.Cmder{cmd})
		return next(ctx, cmd)
	}
}

func (g *gate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		g.trip(cmds)
		return next(ctx, cmds)
	}
}

// trip records one round trip of cmds (not a new connection's handshake), gives the EVALSHAs to forget an
// unknown digest, and waits if the trip is to be held.
func (g *gate) trip(cmds []redis.Cmder) {
	switch cmds[0].Name() {
	case "hello", "client", "auth", "select": // a new connection's handshake
		return
	}
	g.mu.Lock()
	g.trips = append(g.trips, len(cmds))
	for _, c := range cmds {
		if c.Name() == "evalsha" && g.forget > 0 {
			c.Args()[1] = "0000000000000000000000000000000000000000"
			g.forget--
		}
	}
	hold, held := g.hold, g.held
	g.hold = nil
	g.mu.Unlock()
	if hold != nil {
		close(held)
		<-hold
	}
}

// holdNext makes the next round trip wait until release is called; held
// is closed once it waits.
func (g *gate) holdNext() (held <-chan struct{}, release func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	hold := make(chan struct{})
	g.hold, g.held = hold, make(chan struct{})
	return g.held, sync.OnceFunc(func() { close(hold) })
}

func (g *gate) take() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	t := g.trips
	g.trips = nil
	return t
}

func gated(t *testing.T, opts ...redislimiter.Option) (*redislimiter.Limiter, *gate) {
	t.Helper()
	c := newClient(t, "")
	require.NoError(t, c.Ping(context.Background()).Err()) // the handshake is nobody's
	g := &gate{}
	c.AddHook(g)
	l := redislimiter.New(c, append([]redislimiter.Option{redislimiter.WithPrefix(testPrefix(t, c))}, opts...)...)
	return l, g
}

// waitQueued waits until n commands wait for a pipeline.
func waitQueued(t *testing.T, l *redislimiter.Limiter, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return redislimiter.Queued(l) == n }, 5*time.Second, time.Millisecond, "%d commands queued", n)
}

var lim = ratelimit.Limit{Count: 100, Window: time.Minute}

// A lone decision is sent at once, alone; decisions made while the
// pipelines are all in flight wait for one and are sent together, each
// riding one round trip, and each decided as if alone.
func TestPipelineBatches(t *testing.T) {
	l, g := gated(t, redislimiter.WithPipelining(1))
	ctx := context.Background()
	for i := range 3 {
		d, err := l.Allow(ctx, "k", lim, 1)
		require.NoError(t, err)
		require.Equal(t, int64(99-i), d.Remaining)
		require.Equal(t, []int{1}, g.take(), "a lone decision: one command, sent alone")
	}

	held, release := g.holdNext()
	defer release()
	first := make(chan error, 1)
	go func() {
		_, err := l.Allow(ctx, "k", lim, 1)
		first <- err
	}()
	<-held // the only pipeline turn is taken: what follows queues
	const n = 10
	var wg sync.WaitGroup
	errs := make(chan error, n+2)
	for range n {
		wg.Go(func() {
			d, err := l.Allow(ctx, "k", lim, 1)
			if err == nil && !d.Allowed {
				t.Error("refused")
			}
			errs <- err
		})
	}
	wg.Go(func() {
		_, err := l.AllowAll(ctx, []ratelimit.Request{{Key: "{x}a", Limit: lim}, {Key: "{x}b", Limit: lim}}, 1, make([]ratelimit.Decision, 2))
		errs <- err
	})
	wg.Go(func() {
		_, err := l.Consume(ctx, "q", []ratelimit.QuotaWindow{{Name: "d", Max: 5, End: time.Now().Add(time.Hour)}}, 1, make([]int64, 1))
		errs <- err
	})
	waitQueued(t, l, n+2)
	release()
	require.NoError(t, <-first)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, []int{1, n + 2}, g.take(), "the held command, then one pipeline of every queued one")
	d, err := l.Allow(ctx, "k", lim, 0)
	require.NoError(t, err)
	require.Equal(t, int64(100-3-1-n), d.Remaining, "every decision charged once")
	g.take()
}

// Under concurrency, fewer round trips than decisions, and the counts are
// exact.
func TestPipelineConcurrent(t *testing.T) {
	l, g := gated(t, redislimiter.WithPipelining(2))
	ctx := context.Background()
	const workers, each = 16, 25
	big := ratelimit.Limit{Count: 1000, Window: time.Hour}
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				d, err := l.Allow(ctx, "k", big, 1)
				if err != nil {
					t.Error(err)
					return
				}
				if d.Allowed {
					allowed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	require.Equal(t, int64(workers*each), allowed.Load())
	trips, cmds := 0, 0
	for _, n := range g.take() {
		trips++
		cmds += n
	}
	require.Equal(t, workers*each, cmds, "every decision sent once")
	require.Less(t, trips, workers*each, "decisions shared round trips")
	t.Logf("%d decisions in %d round trips", cmds, trips)
	d, err := l.Allow(ctx, "k", big, 0)
	require.NoError(t, err)
	require.Equal(t, big.Count-workers*each, d.Remaining)
}

// A caller whose context ends while it waits for a pipeline, or while its
// pipeline is in flight, returns at once with the context's error; the
// others are not held up, and a command abandoned before it was sent is not
// sent.
func TestPipelineCancel(t *testing.T) {
	l, g := gated(t, redislimiter.WithPipelining(1))
	ctx := context.Background()
	held, release := g.holdNext()
	defer release()
	first := make(chan error, 1)
	go func() {
		_, err := l.Allow(ctx, "a", lim, 1)
		first <- err
	}()
	<-held

	// Cancelled while queued: never sent.
	cctx, cancel := context.WithCancel(ctx)
	gone := make(chan error, 1)
	go func() {
		_, err := l.Allow(cctx, "gone", lim, 1)
		gone <- err
	}()
	waitQueued(t, l, 1)
	other := make(chan error, 1)
	go func() {
		_, err := l.Allow(ctx, "b", lim, 1)
		other <- err
	}()
	waitQueued(t, l, 2)
	cancel()
	select {
	case err := <-gone:
		require.ErrorIs(t, err, context.Canceled)
		require.ErrorIs(t, err, redislimiter.ErrUnavailable)
	case <-time.After(5 * time.Second):
		t.Fatal("a cancelled caller waited for the pipeline")
	}

	// Cancelled in flight: the pipeline carrying it is held.
	held, release2 := g.holdNext()
	defer release2()
	release()
	require.NoError(t, <-first)
	<-held // "b" alone: "gone" was dropped
	dctx, stop := context.WithTimeout(ctx, 50*time.Millisecond)
	defer stop()
	late := make(chan error, 1)
	go func() {
		_, err := l.Allow(dctx, "late", lim, 1)
		late <- err
	}()
	waitQueued(t, l, 1)
	select {
	case err := <-late:
		require.ErrorIs(t, err, context.DeadlineExceeded)
	case <-time.After(5 * time.Second):
		t.Fatal("a caller past its deadline waited for the pipeline")
	}
	release2()
	require.NoError(t, <-other)
	require.Equal(t, []int{1, 1}, g.take(), `"a", then "b" alone`)

	for key, want := range map[string]int64{"a": 99, "b": 99, "gone": 100, "late": 100} {
		d, err := l.Allow(ctx, key, lim, 0)
		require.NoError(t, err)
		require.Equal(t, want, d.Remaining, key)
	}
}

// A NOSCRIPT answer (after a SCRIPT FLUSH, or a fail-over to a server that
// never ran the script, which a test of a shared server cannot cause: the
// hook sends an unknown digest instead) costs one more round trip, an EVAL
// that loads the script again, and is no error: for a command sent alone
// and for those of a pipeline.
func TestNoScript(t *testing.T) {
	l, g := gated(t, redislimiter.WithPipelining(1))
	ctx := context.Background()
	g.mu.Lock()
	g.forget = 1
	g.mu.Unlock()
	d, err := l.Allow(ctx, "k", lim, 1)
	require.NoError(t, err)
	require.Equal(t, int64(99), d.Remaining)
	require.Equal(t, []int{1, 1}, g.take(), "EVALSHA answered NOSCRIPT, then EVAL")
	d, err = l.Allow(ctx, "k", lim, 1)
	require.NoError(t, err)
	require.Equal(t, int64(98), d.Remaining)
	require.Equal(t, []int{1}, g.take(), "EVALSHA again")

	held, release := g.holdNext()
	defer release()
	go func() { _, _ = l.Allow(ctx, "other", lim, 1) }()
	<-held
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			_, err := l.Allow(ctx, "k", lim, 1)
			assert.NoError(t, err)
		})
	}
	waitQueued(t, l, 4)
	g.mu.Lock()
	g.forget = 2 // the first two of the pipeline
	g.mu.Unlock()
	release()
	wg.Wait()
	require.Equal(t, []int{1, 4, 2}, g.take(), "a pipeline, then the EVALs of its two NOSCRIPT answers")
	d, err = l.Allow(ctx, "k", lim, 0)
	require.NoError(t, err)
	require.Equal(t, int64(94), d.Remaining)
}

// WithPipelining(0): every decision its own command, whatever the
// concurrency.
func TestPipeliningOff(t *testing.T) {
	l, g := gated(t, redislimiter.WithPipelining(0))
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 5 {
				_, err := l.Allow(ctx, "k", lim, 1)
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	trips := g.take()
	require.Len(t, trips, 40)
	for _, n := range trips {
		require.Equal(t, 1, n)
	}
}
