package basicauth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"hash"
	"sync"

	"github.com/gatehousehq/gatehouse/credential"
)

// DefaultCacheSize is the number of successful checks a cache remembers
// unless NewCache is told otherwise.
const DefaultCacheSize = 10_000

// A cache is split in up to maxShards independently locked parts of at
// least minShardSize entries each, so that a small cache does not evict early
// because one part is full while another is empty.
const (
	maxShards    = 32
	minShardSize = 64
)

// cacheKey is the HMAC-SHA256 of presented "username:password" credentials.
type cacheKey [sha256.Size]byte

// Cache remembers recent successful password checks, so that a client that
// sends the same valid credentials again does not pay bcrypt again. It is
// bounded (when full, a random entry of the part being written is evicted),
// safe for concurrent use, and never holds a password: entries are keyed by
// an HMAC of the presented credentials under a random key made for the cache.
//
// An entry names the *credential.Match it was verified against. It counts only
// while the gateway's index still holds that very Match for the username:
// every change to the credential or its consumer builds a new Match, so a
// changed password, a deletion or a disabled credential takes effect at
// once, with no hook to call. A failed check is never remembered.
type Cache struct {
	shards []cacheShard
	mask   uint8
	size   int
	key    [32]byte
	pool   sync.Pool // *keyer
}

type cacheShard struct {
	mu  sync.RWMutex
	m   map[cacheKey]*credential.Match
	max int
	_   [24]byte // 64 bytes a shard: fewer shards share a cache line
}

// NewCache returns a cache of at most size entries; size <= 0 means
// DefaultCacheSize.
func NewCache(size int) *Cache {
	if size <= 0 {
		size = DefaultCacheSize
	}
	n := 1
	for n*2 <= maxShards && n*2*minShardSize <= size {
		n *= 2
	}
	c := &Cache{shards: make([]cacheShard, n), mask: uint8(n - 1), size: size}
	for i := range c.shards {
		c.shards[i].m = make(map[cacheKey]*credential.Match)
		c.shards[i].max = size / n
		if i < size%n {
			c.shards[i].max++
		}
	}
	randRead(c.key[:])
	c.pool.New = func() any { return &keyer{h: hmac.New(sha256.New, c.key[:])} }
	return c
}

// defaultCache is the cache of Definitions that have none of their own.
var defaultCache = sync.OnceValue(func() *Cache { return NewCache(DefaultCacheSize) })

// Len returns the number of entries in the cache.
func (c *Cache) Len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}

// Cap returns the most entries the cache holds.
func (c *Cache) Cap() int { return c.size }

// keyer computes cache keys; pooled because an HMAC state is not free to make.
type keyer struct {
	h   hash.Hash
	buf []byte
	sum []byte
}

// keyOf returns the cache key of presented "username:password" credentials.
func (c *Cache) keyOf(pair []byte) cacheKey {
	k := c.pool.Get().(*keyer)
	// Copy into the keyer's own buffer: handing pair to the hash.Hash
	// interface would make the caller's stack buffer escape to the heap.
	k.buf = append(k.buf[:0], pair...)
	k.h.Reset()
	k.h.Write(k.buf)
	k.sum = k.h.Sum(k.sum[:0])
	var out cacheKey
	copy(out[:], k.sum)
	clear(k.buf)
	c.pool.Put(k)
	return out
}

func (c *Cache) shard(k *cacheKey) *cacheShard { return &c.shards[k[0]&c.mask] }

// get returns the match remembered under k, or nil.
func (c *Cache) get(k *cacheKey) *credential.Match {
	s := c.shard(k)
	s.mu.RLock()
	m := s.m[*k]
	s.mu.RUnlock()
	return m
}

// put remembers that k was verified against m, evicting a random entry of
// k's shard when it is full.
func (c *Cache) put(k *cacheKey, m *credential.Match) {
	s := c.shard(k)
	s.mu.Lock()
	if _, ok := s.m[*k]; !ok && len(s.m) >= s.max {
		for old := range s.m { // map iteration starts at a random entry
			delete(s.m, old)
			break
		}
	}
	s.m[*k] = m
	s.mu.Unlock()
}

// forget drops k: an entry left by a credential that has changed since.
func (c *Cache) forget(k *cacheKey) {
	s := c.shard(k)
	s.mu.Lock()
	delete(s.m, *k)
	s.mu.Unlock()
}

func randRead(b []byte) {
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
}
