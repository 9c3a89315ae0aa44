package memory

import (
	"context"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"sync"

	"github.com/gatehousehq/gatehouse/ratelimit"
)

// quotaTable holds the fixed-window quota counts of a Limiter, in shards of
// their own: quota keys are few (a handful per API key) and long-lived, so
// they are not subject to the rate-limit keys' bound and eviction. A key's
// next window reuses its entry; a count whose window has ended is dropped
// when a new key, sampling its shard, finds it.
type quotaTable struct {
	seed   maphash.Seed
	mask   uint64
	shards []quotaShard
}

type quotaShard struct {
	mu sync.Mutex
	m  map[string]quotaCount
	_  [40]byte // keep shards on separate cache lines
}

// quotaCount is one key's count in the window ending at end (Unix ns).
type quotaCount struct {
	end  int64
	used int64
}

func (t *quotaTable) init(n int) {
	t.seed = maphash.MakeSeed()
	t.mask = uint64(n - 1)
	t.shards = make([]quotaShard, n)
	for i := range t.shards {
		t.shards[i].m = make(map[string]quotaCount)
	}
}

func (t *quotaTable) shard(key string) int {
	return int(maphash.String(t.seed, key) & t.mask)
}

// Consume implements ratelimit.QuotaCounter: n is charged to every quota or
// to none. The shards involved are locked together, in index order, so the
// decision is atomic. It never blocks on I/O and ignores ctx.
func (l *Limiter) Consume(_ context.Context, quotas []ratelimit.Quota, n int64, used []int64) (bool, error) {
	if err := ratelimit.ValidateQuotas(quotas, n, used); err != nil {
		return false, fmt.Errorf("memory limiter: %w", err)
	}
	t := &l.quotas
	now := l.clock().UnixNano()
	// shardOf[k] is quota k's shard; locked lists each shard once, sorted.
	var shardBuf, lockedBuf [4]int
	shardOf, locked := shardBuf[:0], lockedBuf[:0]
	for _, q := range quotas {
		i := t.shard(q.Key)
		shardOf = append(shardOf, i)
		if !slices.Contains(locked, i) {
			locked = append(locked, i)
		}
	}
	slices.Sort(locked)
	for _, i := range locked {
		t.shards[i].mu.Lock()
	}
	defer func() {
		for _, i := range locked {
			t.shards[i].mu.Unlock()
		}
	}()
	allowed := true
	for k, q := range quotas {
		c := t.shards[shardOf[k]].m[q.Key]
		if c.end != q.End.UnixNano() || c.end <= now {
			c = quotaCount{}
		}
		used[k] = c.used
		if c.used+n > q.Max {
			allowed = false
		}
	}
	if !allowed || n == 0 {
		return allowed, nil
	}
	for k, q := range quotas {
		s := &t.shards[shardOf[k]]
		end := q.End.UnixNano()
		used[k] += n
		if end <= now {
			continue // a window already over keeps nothing
		}
		if _, ok := s.m[q.Key]; ok {
			s.m[q.Key] = quotaCount{end: end, used: used[k]}
		} else {
			dropEnded(s.m, now)
			s.m[strings.Clone(q.Key)] = quotaCount{end: end, used: used[k]}
		}
	}
	return true, nil
}

// dropEnded deletes from m (locked) the counts whose window has ended among
// a few taken at random (map iteration starts at a random place): each new
// key cleans up after the keys that are no longer used, at a bounded cost.
func dropEnded(m map[string]quotaCount, now int64) {
	seen := 0
	for k, c := range m {
		if c.end <= now {
			delete(m, k)
		}
		if seen++; seen == evictSample {
			return
		}
	}
}

// ResetQuota implements ratelimit.QuotaCounter: key's count is forgotten. It
// never fails.
func (l *Limiter) ResetQuota(_ context.Context, key string) error {
	t := &l.quotas
	s := &t.shards[t.shard(key)]
	s.mu.Lock()
	delete(s.m, key)
	s.mu.Unlock()
	return nil
}

var _ ratelimit.QuotaCounter = (*Limiter)(nil)
