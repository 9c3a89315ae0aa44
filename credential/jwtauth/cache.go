package jwtauth

import (
	"hash/maphash"
	"sync"

	"github.com/gatehousehq/gatehouse/credential"
)

// cacheShards spreads the token cache over several locks.
const cacheShards = 16

// verified is a token that passed every check, and what it proved. It is
// trusted again only while what it was verified against is still current
// (see Authenticator.cached) and its time window holds.
type verified struct {
	token string
	// cred is the credential a credential's token was verified with; nil
	// for a JWKS token.
	cred *credential.Credential
	// consumer is the username a JWKS token's consumer claim names.
	consumer string
	// set is the JWKS key set the token was verified with; nil for a
	// credential's token.
	set *keySet
	// notBefore and notAfter bound when the token is valid, leeway
	// included, in Unix nanoseconds; 0 means unbounded.
	notBefore, notAfter int64
}

// tokenCache remembers verified tokens, bounded: a full shard drops an
// arbitrary entry (Go's map order is random) to make room.
type tokenCache struct {
	seed     maphash.Seed
	perShard int
	shards   [cacheShards]cacheShard
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[string]*verified
	_  [40]byte // keep shards on separate cache lines
}

func newTokenCache(size int) *tokenCache {
	per := (size + cacheShards - 1) / cacheShards
	c := &tokenCache{seed: maphash.MakeSeed(), perShard: per}
	for i := range c.shards {
		c.shards[i].m = make(map[string]*verified)
	}
	return c
}

func (c *tokenCache) shard(tok string) *cacheShard {
	return &c.shards[maphash.String(c.seed, tok)%cacheShards]
}

// get returns the entry of tok, comparing the whole token.
func (c *tokenCache) get(tok string) *verified {
	s := c.shard(tok)
	s.mu.RLock()
	v := s.m[tok]
	s.mu.RUnlock()
	return v
}

func (c *tokenCache) put(v *verified) {
	s := c.shard(v.token)
	s.mu.Lock()
	if _, ok := s.m[v.token]; !ok && len(s.m) >= c.perShard {
		for k := range s.m {
			delete(s.m, k)
			break
		}
	}
	s.m[v.token] = v
	s.mu.Unlock()
}

// drop removes v if it is still the entry of its token.
func (c *tokenCache) drop(v *verified) {
	s := c.shard(v.token)
	s.mu.Lock()
	if s.m[v.token] == v {
		delete(s.m, v.token)
	}
	s.mu.Unlock()
}

// len returns the number of entries.
func (c *tokenCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
