package hmacauth

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// ReplayStore remembers replay keys for every gateway instance that shares
// it, so that a signature (or RFC 9421 nonce) accepted by one instance is
// refused by all the others: ratelimit/redislimiter's Limiter is one. Give
// it to Definition.Replay (gatehouse.WithReplayStore for the built-in
// definition). Without one, replay protection is per process.
type ReplayStore interface {
	// Remember records key until the time until and reports whether it was
	// already recorded and not expired. Of concurrent calls with one key,
	// exactly one reports false. key is a SHA-256 of the credential and the
	// signature or nonce, never a secret.
	Remember(ctx context.Context, key [32]byte, until time.Time) (seen bool, err error)
}

// storeDown is set while the replay store fails (in any Authenticator of the
// process): the first failure of an outage and the recovery are logged
// once each.
var storeDown atomic.Bool

// replayed reports whether key was seen before, and remembers it until
// until (Unix seconds): in the replay store when there is one, otherwise,
// and while the store fails, in the process's cache. During an outage
// replay protection is thus per instance. A key remembered by the cache
// during an outage is still refused by this instance once the store is
// back.
func (a *Authenticator) replayed(ctx context.Context, key [sha256.Size]byte, now, until int64) bool {
	if a.store == nil {
		return a.cache.seen(key, now, until)
	}
	seen, err := a.store.Remember(ctx, key, time.Unix(until, 0))
	if err != nil {
		if ctx.Err() == nil && storeDown.CompareAndSwap(false, true) {
			a.log.LogAttrs(context.WithoutCancel(ctx), slog.LevelError,
				"hmac-auth: replay store unavailable: replay protection is per instance until it recovers; logged once",
				slog.Any("err", err))
		}
		return a.cache.seen(key, now, until)
	}
	if storeDown.Load() && storeDown.CompareAndSwap(true, false) {
		a.log.LogAttrs(context.WithoutCancel(ctx), slog.LevelInfo, "hmac-auth: replay store recovered")
	}
	return seen || a.cache.has(key, now)
}

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

// has reports whether key is remembered and not expired at now, without
// remembering it.
func (c *replayCache) has(key [sha256.Size]byte, now int64) bool {
	s := &c.shards[key[0]%replayShards]
	s.mu.Lock()
	exp, ok := s.m[key]
	s.mu.Unlock()
	return ok && exp > now
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
