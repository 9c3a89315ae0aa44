// Package memory is the in-process ratelimit.Limiter: GCRA state in sharded maps, one
// int64 per live key, idle keys evicted, no allocation per decision on a known key.
package memory

import (
	"context"
	"fmt"
	"hash/maphash"
	"math/bits"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehousehq/gatehouse/ratelimit"
)

// DefaultMaxKeys is the default bound on live keys (WithMaxKeys).
const DefaultMaxKeys = 1_000_000

// evictSample is how many entries a full shard inspects to make room.
const evictSample = 32

// Option configures a Limiter.
type Option func(*config)

type config struct {
	clock   func() time.Time
	shards  int
	maxKeys int
}

// WithClock sets the clock the limiter reads (default time.Now); tests pass a
// fake one.
func WithClock(now func() time.Time) Option {
	return func(c *config) { c.clock = now }
}

// WithShards sets the number of shards, each a map behind its own mutex; it is
// rounded up to a power of two. The default is the smallest power of two at
// least 4×GOMAXPROCS. Values below 1 keep the default.
func WithShards(n int) Option {
	return func(c *config) { c.shards = n }
}

// WithMaxKeys bounds the number of keys held (default DefaultMaxKeys). When
// the limiter is full, a new key makes room in its own shard: it samples up to
// 32 keys there, drops those that are idle and, if none is, the one closest to
// having its full capacity back, which thereby loses its usage (it gets more
// requests through, never fewer). The bound is exact except when the new key's
// shard is empty, where the key is added anyway: at most one key more per shard.
// Values below 1 keep the default.
func WithMaxKeys(n int) Option {
	return func(c *config) { c.maxKeys = n }
}

// Limiter is the in-memory ratelimit.Limiter; it also implements
// ratelimit.Resetter. Create it with New; it is safe for concurrent use and
// needs no Close: it starts no goroutine.
//
// The algorithm is GCRA (the generic cell rate algorithm): each key stores one
// "theoretical arrival time" (TAT). A limit of Count per Window spaces requests
// I = Window/Count apart (integer nanoseconds, rounded down) and tolerates a
// burst of Count: a request of weight n is allowed when
// max(TAT, now) + n·I − now ≤ Count·I. So Count requests at once are allowed
// exactly, capacity comes back continuously (⌊d/I⌋ requests after d), and all
// of it within one Window. It never allows more than Count + ⌊d/I⌋ requests in
// any interval of length d. A key whose TAT is in the past has its full
// capacity, the same as an unknown key, so dropping it loses nothing.
type Limiter struct {
	clock      func() time.Time
	seed       maphash.Seed
	mask       uint64
	maxKeys    int64
	live       atomic.Int64 // keys held; written only on insert and delete
	sweepEvery int64
	nextSweep  atomic.Int64
	sweepNext  atomic.Uint64
	shards     []shard
	quotas     quotaTable // fixed-window quotas (quota.go)
}

type shard struct {
	mu sync.Mutex
	m  map[string]int64 // key → TAT in Unix nanoseconds
	_  [48]byte         // keep shards on separate cache lines
}

// New returns an empty Limiter.
func New(opts ...Option) *Limiter {
	c := config{clock: time.Now, maxKeys: DefaultMaxKeys}
	for _, o := range opts {
		o(&c)
	}
	if c.clock == nil {
		c.clock = time.Now
	}
	if c.shards < 1 {
		c.shards = 4 * runtime.GOMAXPROCS(0)
	}
	if c.maxKeys < 1 {
		c.maxKeys = DefaultMaxKeys
	}
	n := 1 << bits.Len(uint(c.shards-1)) // next power of two
	l := &Limiter{
		clock:   c.clock,
		seed:    maphash.MakeSeed(),
		mask:    uint64(n - 1),
		maxKeys: int64(c.maxKeys),
		// Each shard is swept about once a second.
		sweepEvery: max(int64(time.Second)/int64(n), int64(time.Millisecond)),
		shards:     make([]shard, n),
	}
	for i := range l.shards {
		l.shards[i].m = make(map[string]int64)
	}
	l.quotas.init(n)
	return l
}

// Allow charges n requests to key against limit; see ratelimit.Limiter. It
// returns an error wrapping ratelimit.ErrInvalidLimit when limit is invalid or
// n is negative. It never blocks on I/O and ignores ctx.
func (l *Limiter) Allow(_ context.Context, key string, limit ratelimit.Limit, n int64) (ratelimit.Decision, error) {
	if err := limit.Validate(); err != nil {
		return ratelimit.Decision{}, fmt.Errorf("memory limiter: %w", err)
	}
	if n < 0 {
		return ratelimit.Decision{}, fmt.Errorf("memory limiter: %w: negative charge %d", ratelimit.ErrInvalidLimit, n)
	}
	now := l.clock().UnixNano()
	l.maybeSweep(now)

	interval := int64(limit.Window) / limit.Count
	tolerance := interval * limit.Count // ≤ Window

	s := &l.shards[maphash.String(l.seed, key)&l.mask]
	s.mu.Lock()
	tat, known := s.m[key]
	if tat < now {
		tat = now
	}
	if n > limit.Count {
		s.mu.Unlock()
		// Can never be allowed; retrying after a full window is the best hint.
		return refused(limit.Count, tat-now, interval, tolerance, limit.Window), nil
	}
	next := tat + n*interval
	if next-now > tolerance {
		s.mu.Unlock()
		return refused(limit.Count, tat-now, interval, tolerance, time.Duration(next-now-tolerance)), nil
	}
	switch {
	case n > 0 && known:
		s.m[key] = next
	case n > 0:
		l.insert(s, key, next, now)
	case known && next <= now:
		delete(s.m, key) // a peek at an idle key: drop it now
		l.live.Add(-1)
	}
	s.mu.Unlock()
	return ratelimit.Decision{
		Allowed:   true,
		Limit:     limit.Count,
		Remaining: (tolerance - (next - now)) / interval,
		Reset:     time.Duration(next - now),
	}, nil
}

func refused(count, used, interval, tolerance int64, retry time.Duration) ratelimit.Decision {
	return ratelimit.Decision{
		Limit:      count,
		Remaining:  max(tolerance-used, 0) / interval,
		Reset:      time.Duration(used),
		RetryAfter: retry,
	}
}

// insert adds a new key to s (locked), making room if s is full.
func (l *Limiter) insert(s *shard, key string, tat, now int64) {
	if l.live.Load() >= l.maxKeys && len(s.m) > 0 {
		// Map iteration starts at a random place: a cheap random sample.
		var victim string
		var victimTAT int64
		seen, freed := 0, false
		for k, v := range s.m {
			if v <= now {
				delete(s.m, k)
				l.live.Add(-1)
				freed = true
			} else if seen == 0 || v < victimTAT {
				victim, victimTAT = k, v
			}
			seen++
			if seen >= evictSample {
				break
			}
		}
		if !freed {
			delete(s.m, victim)
			l.live.Add(-1)
		}
	}
	l.live.Add(1)
	// Copy the key: the caller's string may share memory with a larger buffer.
	s.m[strings.Clone(key)] = tat
}

// maybeSweep drops the idle keys of one shard when its turn has come; the
// caller whose request wins the turn does the work, no goroutine runs.
func (l *Limiter) maybeSweep(now int64) {
	due := l.nextSweep.Load()
	if now < due || !l.nextSweep.CompareAndSwap(due, now+l.sweepEvery) {
		return
	}
	s := &l.shards[(l.sweepNext.Add(1)-1)&l.mask]
	s.mu.Lock()
	dropped := 0
	for k, v := range s.m {
		if v <= now {
			delete(s.m, k)
			dropped++
		}
	}
	s.mu.Unlock()
	l.live.Add(int64(-dropped))
}

// Reset forgets key's usage: its next request has the full capacity. It
// implements ratelimit.Resetter and never fails.
func (l *Limiter) Reset(_ context.Context, key string) error {
	s := &l.shards[maphash.String(l.seed, key)&l.mask]
	s.mu.Lock()
	if _, ok := s.m[key]; ok {
		delete(s.m, key)
		l.live.Add(-1)
	}
	s.mu.Unlock()
	return nil
}

// Len reports the number of keys the limiter holds, idle ones not yet evicted
// included.
func (l *Limiter) Len() int {
	total := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		total += len(s.m)
		s.mu.Unlock()
	}
	return total
}

var (
	_ ratelimit.Limiter  = (*Limiter)(nil)
	_ ratelimit.Resetter = (*Limiter)(nil)
)
