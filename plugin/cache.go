package plugin

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// DefaultCacheSize is the number of plans a Cache holds unless WithCacheSize
// says otherwise.
const DefaultCacheSize = 65536

const cacheShards = 16

var cacheSeed = maphash.MakeSeed()

// CacheOption configures NewCache.
type CacheOption func(*Cache)

// WithCacheSize bounds the cache to about n plans (n rounded up to a multiple
// of 16, the number of shards); n < 1 keeps DefaultCacheSize.
func WithCacheSize(n int) CacheOption {
	return func(c *Cache) {
		if n > 0 {
			c.perShard = (n + cacheShards - 1) / cacheShards
		}
	}
}

// Cache holds the plans of (route id, consumer id) pairs so that a plan is
// merged once and then reused by every request of the pair; a hit takes a
// read lock and a map lookup, and allocates nothing.
//
// Invalidate drops every plan at once: call it whenever something a plan is
// built from changes (a route's plugins, a consumer group's required_plugins,
// the gateway's plugins). A plan whose build started before an Invalidate is
// returned to its caller but not stored, so a stale plan never outlives the
// change that made it stale. What belongs to one consumer (its plugins, its
// group) needs no Invalidate when callers give its version (GetVersion): a
// change to one consumer then rebuilds only that consumer's plans.
//
// The cache is bounded (DefaultCacheSize, or WithCacheSize) and split into 16
// shards by a hash of the pair; a shard that is full evicts an arbitrary
// entry (Go's map iteration order, close to random) for each new one. An
// evicted plan costs one rebuild. The zero value is ready to use with the
// default size.
type Cache struct {
	gen      atomic.Uint64
	perShard int
	shards   [cacheShards]cacheShard
}

type cacheShard struct {
	mu sync.RWMutex
	// gen is the generation the entries were stored at; entries of an older
	// generation are misses, dropped at the shard's next store.
	gen uint64
	// m is keyed by a 64-bit hash of the pair; the entry holds the pair, so
	// a hash collision is a miss (and the newer pair replaces the older).
	m map[uint64]cacheEntry
	_ [64]byte // keep shards on separate cache lines
}

type cacheEntry struct {
	route, consumer string
	version         any
	plan            *Plan
}

// NewCache returns an empty cache.
func NewCache(opts ...CacheOption) *Cache {
	c := new(Cache)
	for _, o := range opts {
		o(c)
	}
	return c
}

// Get returns the plan of the pair, calling build on a miss and keeping its
// result. consumerID is "" for requests without a consumer. Build errors are
// returned and not kept. Concurrent misses of one pair may each call build;
// one of the results is kept.
func (c *Cache) Get(routeID, consumerID string, build func() (*Plan, error)) (*Plan, error) {
	return c.GetAt(c.Generation(), routeID, consumerID, build)
}

// Generation returns the cache's generation: Invalidate starts a new one.
// Read it before reading what a plan is built from (GetAt).
func (c *Cache) Generation() uint64 { return c.gen.Load() }

// GetAt is Get for a caller that read the generation gen (Generation)
// before it read what build uses (the request's consumer, its group): a plan
// built from inputs that an Invalidate since gen made stale is returned but
// never kept, and an entry is a hit only for gen. Get reads the generation
// itself, which is enough when build reads its inputs afresh.
func (c *Cache) GetAt(gen uint64, routeID, consumerID string, build func() (*Plan, error)) (*Plan, error) {
	return c.GetVersion(gen, routeID, consumerID, nil, build)
}

// GetVersion is GetAt for a consumer whose state comes in versions: version
// (comparable, such as the pointer to the consumer's current value; nil for
// none) is kept with the plan, and an entry is a hit only for the same
// version. A consumer that changes gets a new version, and so new plans,
// without an Invalidate that would drop every other consumer's.
func (c *Cache) GetVersion(gen uint64, routeID, consumerID string, version any, build func() (*Plan, error)) (*Plan, error) {
	k := maphash.String(cacheSeed, routeID)*0x9e3779b97f4a7c15 ^ maphash.String(cacheSeed, consumerID)
	s := &c.shards[k>>60]
	s.mu.RLock()
	if s.gen == gen {
		if e, ok := s.m[k]; ok && e.route == routeID && e.consumer == consumerID && e.version == version {
			s.mu.RUnlock()
			return e.plan, nil
		}
	}
	s.mu.RUnlock()
	p, err := build()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.gen.Load() != gen {
		return p, nil // invalidated while building: p may be stale
	}
	if s.gen != gen || s.m == nil {
		clear(s.m)
		if s.m == nil {
			s.m = make(map[uint64]cacheEntry)
		}
		s.gen = gen
	}
	if _, ok := s.m[k]; !ok && len(s.m) >= c.shardSize() {
		for old := range s.m {
			delete(s.m, old)
			break
		}
	}
	s.m[k] = cacheEntry{route: routeID, consumer: consumerID, version: version, plan: p}
	return p, nil
}

// Invalidate drops every plan: the next Get of each pair builds it again.
// It costs one atomic increment; the dropped entries are freed as shards are
// written again.
func (c *Cache) Invalidate() { c.gen.Add(1) }

// Len returns the number of plans held that are still valid.
func (c *Cache) Len() int {
	gen := c.gen.Load()
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		if s.gen == gen {
			n += len(s.m)
		}
		s.mu.RUnlock()
	}
	return n
}

func (c *Cache) shardSize() int {
	if c.perShard > 0 {
		return c.perShard
	}
	return DefaultCacheSize / cacheShards
}
