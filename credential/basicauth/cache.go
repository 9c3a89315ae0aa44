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

// DefaultFailureCacheSize is the number of failed checks a cache remembers
// unless WithFailureCacheSize says otherwise.
const DefaultFailureCacheSize = 10_000

// A table is split in up to maxShards independently locked parts of at
// least minShardSize entries each, so that a small table does not evict early
// because one part is full while another is empty.
const (
	maxShards    = 32
	minShardSize = 64
)

// cacheKey is the HMAC-SHA256 of presented "username:password" credentials.
type cacheKey [sha256.Size]byte

// Cache remembers recent password checks, so that a client that sends the
// same credentials again does not pay bcrypt again: successful checks in one
// table, failed ones in another, each with its own bound, so that a flood of
// distinct wrong passwords cannot evict a single success. It is safe for
// concurrent use and never holds a password: entries are keyed by an HMAC of
// the presented "username:password" under a random key made for the cache.
//
// An entry names the *credential.Credential it was checked against (none, for
// a username the index did not hold). It counts only while the gateway's index
// holds, for that username, a match of that very credential; the answer is
// then given with the index's current match. Every change to a credential
// (password, username, enabled, expiry, deletion) stores a new Credential, so
// it takes effect at once, with no hook to call; a change to its consumer
// only (labels, say) keeps the Credential and so keeps the entries. A failure
// remembered for an unknown username stops counting as soon as a credential
// with that username appears.
type Cache struct {
	ok   table // verified pairs
	fail table // refused pairs
	key  [32]byte
	pool sync.Pool // *keyer
}

// table is a bounded, sharded map from cache keys to the credential a pair
// was checked against.
type table struct {
	shards []cacheShard
	mask   uint8
	size   int
}

type cacheShard struct {
	mu  sync.RWMutex
	m   map[cacheKey]*credential.Credential
	max int
	_   [24]byte // 64 bytes a shard: fewer shards share a cache line
}

// CacheOption configures a Cache.
type CacheOption func(*cacheConfig)

type cacheConfig struct{ failures int }

// WithFailureCacheSize sets how many failed checks the cache remembers; n <= 0
// means DefaultFailureCacheSize. Failures never take room from successes.
func WithFailureCacheSize(n int) CacheOption { return func(c *cacheConfig) { c.failures = n } }

// NewCache returns a cache of at most size successful checks (size <= 0
// means DefaultCacheSize) and, unless an option says otherwise,
// DefaultFailureCacheSize failed ones.
func NewCache(size int, opts ...CacheOption) *Cache {
	var cfg cacheConfig
	for _, o := range opts {
		o(&cfg)
	}
	if size <= 0 {
		size = DefaultCacheSize
	}
	if cfg.failures <= 0 {
		cfg.failures = DefaultFailureCacheSize
	}
	c := &Cache{ok: newTable(size), fail: newTable(cfg.failures)}
	randRead(c.key[:])
	c.pool.New = func() any { return &keyer{h: hmac.New(sha256.New, c.key[:])} }
	return c
}

func newTable(size int) table {
	n := 1
	for n*2 <= maxShards && n*2*minShardSize <= size {
		n *= 2
	}
	t := table{shards: make([]cacheShard, n), mask: uint8(n - 1), size: size}
	for i := range t.shards {
		t.shards[i].m = make(map[cacheKey]*credential.Credential)
		t.shards[i].max = size / n
		if i < size%n {
			t.shards[i].max++
		}
	}
	return t
}

// defaultCache is the cache of Definitions that have none of their own.
var defaultCache = sync.OnceValue(func() *Cache { return NewCache(DefaultCacheSize) })

// Len returns the number of successful checks in the cache.
func (c *Cache) Len() int { return c.ok.len() }

// Cap returns the most successful checks the cache holds.
func (c *Cache) Cap() int { return c.ok.size }

// FailureLen returns the number of failed checks in the cache.
func (c *Cache) FailureLen() int { return c.fail.len() }

// FailureCap returns the most failed checks the cache holds.
func (c *Cache) FailureCap() int { return c.fail.size }

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

// verdict is what the cache knows of a pair.
type verdict uint8

const (
	unknown  verdict = iota // never checked against the current credential
	verified                // the password matches the current credential
	refused                 // checked and refused: wrong password or unknown username
)

// recall returns what the cache knows of the pair keyed k, given cur, the
// credential the index holds now for the pair's username (nil for none). Both
// tables are read whatever cur is, so that an unknown username costs what a
// known one costs.
func (c *Cache) recall(k *cacheKey, cur *credential.Credential) verdict {
	good, okHit := c.ok.get(k)
	bad, failHit := c.fail.get(k)
	switch {
	case okHit && good == cur && cur != nil:
		return verified
	case failHit && bad == cur:
		return refused
	}
	return unknown
}

// verify remembers that the pair keyed k matches cr.
func (c *Cache) verify(k *cacheKey, cr *credential.Credential) {
	c.fail.forget(k)
	c.ok.put(k, cr)
}

// refuse remembers that the pair keyed k was refused against cr (nil for an
// unknown username).
func (c *Cache) refuse(k *cacheKey, cr *credential.Credential) {
	c.ok.forget(k)
	c.fail.put(k, cr)
}

func (t *table) shard(k *cacheKey) *cacheShard { return &t.shards[k[0]&t.mask] }

func (t *table) len() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}

// get returns the credential remembered under k, and whether there is one.
func (t *table) get(k *cacheKey) (*credential.Credential, bool) {
	s := t.shard(k)
	s.mu.RLock()
	cr, ok := s.m[*k]
	s.mu.RUnlock()
	return cr, ok
}

// put remembers cr under k, evicting a random entry of k's shard when it is
// full.
func (t *table) put(k *cacheKey, cr *credential.Credential) {
	s := t.shard(k)
	s.mu.Lock()
	if _, ok := s.m[*k]; !ok && len(s.m) >= s.max {
		for old := range s.m { // map iteration starts at a random entry
			delete(s.m, old)
			break
		}
	}
	s.m[*k] = cr
	s.mu.Unlock()
}

// forget drops k, if it is there.
func (t *table) forget(k *cacheKey) {
	s := t.shard(k)
	s.mu.RLock()
	_, ok := s.m[*k]
	s.mu.RUnlock()
	if !ok {
		return
	}
	s.mu.Lock()
	delete(s.m, *k)
	s.mu.Unlock()
}

func randRead(b []byte) {
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
}
