package hmacauth

import (
	"crypto/sha256"
	"sync"
)

// replayShards spreads the replay cache over independent locks.
const replayShards = 64

// sweepEvery is how often, in seconds, a shard drops its expired entries.
const sweepEvery = 10

// replayCache remembers verified signatures (or nonces) until they expire: a
// signature can no longer pass the clock check once its Date (or created)
// plus clock_skew has passed, so it need not be remembered longer. Memory is
// bounded by the rate of signed requests times the clock skew. One cache
// serves every route of the process (routes are compiled again on changes;
// the cache must outlive them), so replay protection is per process.
type replayCache struct {
	shards [replayShards]replayShard
}

type replayShard struct {
	mu        sync.Mutex
	m         map[[sha256.Size]byte]int64 // key → expiry, unix seconds
	nextSweep int64
}

// defaultReplay is the process's replay cache.
var defaultReplay = &replayCache{}

// replayKey identifies a signature (kind 'a' or 's') or a nonce ('n') of one
// credential.
func replayKey(lookup string, kind byte, v []byte) [sha256.Size]byte {
	var stack [512]byte
	b := append(stack[:0], lookup...)
	b = append(b, 0, kind)
	b = append(b, v...)
	return sha256.Sum256(b)
}

// seen reports whether key is remembered and not expired at now; if not, it
// remembers it until expires.
func (c *replayCache) seen(key [sha256.Size]byte, now, expires int64) bool {
	s := &c.shards[key[0]%replayShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[[sha256.Size]byte]int64)
	}
	if now >= s.nextSweep {
		for k, exp := range s.m {
			if exp <= now {
				delete(s.m, k)
			}
		}
		s.nextSweep = now + sweepEvery
	}
	if exp, ok := s.m[key]; ok && exp > now {
		return true
	}
	s.m[key] = expires
	return false
}

// len returns the number of remembered entries (for tests).
func (c *replayCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}
