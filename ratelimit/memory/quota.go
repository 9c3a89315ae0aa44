package memory

import (
	"context"
	"fmt"
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehousehq/gatehouse/ratelimit"
)

// quotaTable holds the fixed-window quotas of a Limiter, in shards of their
// own: quota keys are few (one per API key with quotas) and long-lived, so
// they are not subject to the rate-limit keys' bound and eviction. A key is
// one entry holding the counts of all its windows, so that a decision takes
// one lock and one map lookup. A window's next End reuses its slot; an entry
// whose windows have all ended is dropped when a new key, sampling its shard,
// finds it.
type quotaTable struct {
	seed   maphash.Seed
	mask   uint64
	shards []quotaShard
	wall   wallClock // with the default clock of rate limits
}

type quotaShard struct {
	mu sync.Mutex
	m  map[string]*quotaEntry
	_  [40]byte // keep shards on separate cache lines
}

// quotaEntry is one key's windows. slots starts as inline[:0], so a key of up
// to three windows is one allocation.
type quotaEntry struct {
	end    int64 // the latest end among slots (Unix ns): after it, nothing is held
	slots  []quotaSlot
	inline [3]quotaSlot
}

// quotaSlot is one window's count, made for the window ending at end (Unix
// ns). name is the caller's string, not a copy: callers name windows with
// constants, which then compare equal by pointer.
type quotaSlot struct {
	name string
	end  int64
	used int64
}

func (t *quotaTable) init(n int) {
	t.seed = maphash.MakeSeed()
	t.mask = uint64(n - 1)
	t.shards = make([]quotaShard, n)
	for i := range t.shards {
		t.shards[i].m = make(map[string]*quotaEntry)
	}
}

func (t *quotaTable) shard(key string) *quotaShard {
	return &t.shards[maphash.String(t.seed, key)&t.mask]
}

// slot returns e's slot of the window named name, looking first at index i
// (callers give a key's windows in the same order every time), or nil.
func (e *quotaEntry) slot(i int, name string) *quotaSlot {
	if i < len(e.slots) && e.slots[i].name == name {
		return &e.slots[i]
	}
	for j := range e.slots {
		if e.slots[j].name == name {
			return &e.slots[j]
		}
	}
	return nil
}

// Consume implements ratelimit.QuotaCounter: n is charged to every window of
// key or to none, under the lock of key's shard. It never blocks on I/O and
// ignores ctx; quotaNow tells which Ends have passed.
func (l *Limiter) Consume(_ context.Context, key string, windows []ratelimit.QuotaWindow, n int64, used []int64) (bool, error) {
	if err := ratelimit.ValidateQuota(key, windows, n, used); err != nil {
		return false, fmt.Errorf("memory limiter: %w", err)
	}
	now := l.quotaNow()
	s := l.quotas.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.m[key]
	allowed, live := true, false
	var found [4]*quotaSlot // the slots of the first windows, as found here
	for i, w := range windows {
		// A window already over counts from zero and keeps nothing; a count
		// made for another End is not this window's.
		used[i] = 0
		if end := w.End.UnixNano(); end > now {
			live = true
			if e != nil {
				c := e.slot(i, w.Name)
				if c != nil && c.end == end {
					used[i] = c.used
				}
				if i < len(found) {
					found[i] = c
				}
			}
		}
		if used[i]+n > w.Max {
			allowed = false
		}
	}
	if !allowed || n == 0 {
		return allowed, nil
	}
	for i := range used {
		used[i] += n
	}
	if !live {
		return true, nil
	}
	if e == nil {
		dropEnded(s.m, now)
		e = &quotaEntry{}
		e.slots = e.inline[:0]
		s.m[strings.Clone(key)] = e
	}
	reshaped := false // newSlot ran: found may point to a renamed or moved slot
	for i, w := range windows {
		end := w.End.UnixNano()
		if end <= now {
			continue
		}
		var c *quotaSlot
		if i < len(found) && !reshaped {
			c = found[i]
		} else {
			c = e.slot(i, w.Name)
		}
		if c == nil {
			c, reshaped = e.newSlot(w.Name, now), true
		}
		c.end, c.used = end, used[i]
	}
	e.end = 0
	for _, c := range e.slots {
		e.end = max(e.end, c.end)
	}
	return true, nil
}

// quotaWallSync is how often, at most, quotaNow asks the OS for the wall
// clock while the rate limits' default clock runs.
const quotaWallSync = 10 * time.Millisecond

// wallClock is the wall clock of quotas as the rate limits' default clock
// (coarseClock) and an offset give it: quota windows end at wall-clock times
// (midnight UTC), while coarseClock counts monotonic time from a wall-clock
// reading taken at New. The offset, re-read from the OS every quotaWallSync,
// follows changes to the wall clock, so a decision costs two atomic loads
// instead of time.Now.
type wallClock struct {
	offset atomic.Int64 // wall clock minus coarseClock, at the last sync
	synced atomic.Int64 // coarseClock's reading at the last sync
}

// now returns the wall clock in Unix nanoseconds: it trails time.Now by up to
// c's lag, and follows a change to the wall clock within quotaWallSync.
func (w *wallClock) now(c *coarseClock) int64 {
	m := c.now()
	if s := w.synced.Load(); m-s >= int64(quotaWallSync) && w.synced.CompareAndSwap(s, m) {
		t := time.Now()
		w.offset.Store(t.UnixNano() - (c.mono.startNS + int64(t.Sub(c.mono.start))))
	}
	return m + w.offset.Load()
}

// quotaNow is the clock of quota decisions, in Unix nanoseconds: WithClock's,
// or the wall clock (wallClock over the rate limits' default clock, or
// time.Now when that clock is off).
func (l *Limiter) quotaNow() int64 {
	if l.coarse == nil {
		return l.clock().UnixNano()
	}
	return l.quotas.wall.now(l.coarse)
}

// Now returns the wall clock quota decisions read (ratelimit.QuotaClock):
// WithClock's clock, or time.Now as the limiter's coarse clock keeps it,
// trailing it by up to the clock resolution, at the cost of two atomic loads.
func (l *Limiter) Now() time.Time { return time.Unix(0, l.quotaNow()) }

var _ ratelimit.QuotaClock = (*Limiter)(nil)

// newSlot returns a slot for the window named name: one whose window has
// ended, or a new one, so that a key holds no more slots than it has windows
// in progress.
func (e *quotaEntry) newSlot(name string, now int64) *quotaSlot {
	for j := range e.slots {
		if e.slots[j].end <= now {
			e.slots[j] = quotaSlot{name: name}
			return &e.slots[j]
		}
	}
	e.slots = append(e.slots, quotaSlot{name: name})
	return &e.slots[len(e.slots)-1]
}

// dropEnded deletes from m (locked) the entries whose windows have all ended
// among a few taken at random (map iteration starts at a random place): each
// new key cleans up after the keys that are no longer used, at a bounded
// cost.
func dropEnded(m map[string]*quotaEntry, now int64) {
	seen := 0
	for k, e := range m {
		if e.end <= now {
			delete(m, k)
		}
		if seen++; seen == evictSample {
			return
		}
	}
}

// ResetQuota implements ratelimit.QuotaCounter: every window count of key is
// forgotten. It never fails.
func (l *Limiter) ResetQuota(_ context.Context, key string) error {
	s := l.quotas.shard(key)
	s.mu.Lock()
	delete(s.m, key)
	s.mu.Unlock()
	return nil
}

var _ ratelimit.QuotaCounter = (*Limiter)(nil)
