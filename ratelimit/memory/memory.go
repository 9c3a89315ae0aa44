// Package memory is the in-process ratelimit.Limiter: GCRA state in sharded hash tables,
// 24 bytes per live key (its TAT and a fingerprint of the key), idle keys evicted, no
// allocation per decision on a known key.
package memory

import (
	"context"
	"fmt"
	"hash/maphash"
	"math/bits"
	"math/rand/v2"
	"runtime"
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
	res     time.Duration
	shards  int
	maxKeys int
}

// WithClock sets the clock the limiter reads, for rate limits and quotas
// alike, on every decision; tests pass a fake one. Without it (or with nil),
// rate limits read the limiter's own clock, a copy of the monotonic clock kept
// up to date by a ticker (see WithClockResolution), and quotas read the wall
// clock: that same clock plus its difference to time.Now, re-read at most
// every 10 ms (time.Now itself when the ticker is off).
func WithClock(now func() time.Time) Option {
	return func(c *config) { c.clock = now }
}

// WithClockResolution sets how often the default clock of rate limits is
// brought up to date (DefaultClockResolution, 1 ms, without this option;
// values below 100 µs count as 100 µs). It has no effect with WithClock.
//
// Reading the OS clock costs about a third of a decision on one key, so by
// default a goroutine stores a reading of the monotonic clock every
// resolution and a decision loads that reading: rate-limit decisions are as
// exact as a clock that trails the monotonic clock by up to the resolution
// (see Limiter). The goroutine stops ticking after one to two seconds without
// decisions (the next decision reads the monotonic clock itself and wakes it)
// and ends when the Limiter becomes unreachable.
//
// A resolution of 0 or less turns this off: every decision reads the
// monotonic clock (time.Since a reading taken by New), exactly, and the
// limiter starts no goroutine.
func WithClockResolution(d time.Duration) Option {
	return func(c *config) { c.res = d }
}

// WithShards sets the number of shards, each a hash table behind its own mutex; it is
// rounded up to a power of two. The default is the smallest power of two at
// least 16×GOMAXPROCS and at least 64: a decision holds its shard's lock while
// it reads the key's entry, a cache miss when keys are many, so more shards
// mean fewer callers waiting on one another (and shorter sweeps and rehashes).
// Values below 1 keep the default.
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
// ratelimit.Resetter and ratelimit.MultiLimiter. Create it with New; it is
// safe for concurrent use and needs no Close: the one goroutine it starts
// (its clock's ticker, see WithClockResolution) uses no CPU while the
// limiter is idle and ends once the Limiter is unreachable.
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
//
// A key is held as a 127-bit fingerprint, two maphash values under seeds
// drawn by New, never as its bytes: the limiter keeps no copy of a key (API
// keys used as rate-limit keys are not held in clear), and two distinct keys
// share a TAT only if both values collide, a chance of about n²/2¹²⁸ for n
// live keys (3×10⁻²⁷ for a million), which no caller can aim at without the
// seeds. Each shard is an open-addressing table of 24-byte entries (TAT and
// fingerprint) that doubles, rehashing under the shard's lock, when it is
// three quarters full; it does not shrink when keys are dropped.
//
// The default clock (no WithClock) is the monotonic clock as a ticker stores
// it every resolution (1 ms unless WithClockResolution says otherwise): it
// trails the monotonic clock by up to the resolution, longer when the ticker
// waits for CPU, and never leads it or goes backwards. Refills, Reset and
// RetryAfter are then exact to within that lag (the resolution while the
// ticker is on time): a client waiting RetryAfter may be refused once more,
// with a RetryAfter of at most the lag. A decision made with a reading that
// lags sees less capacity
// back than it would with the exact time, never more; the bound above holds
// for the readings, so in real time an interval of length d sees at most
// Count + ⌊(d+L)/I⌋ requests when the clock lagged by up to L in it (one
// request more than the exact bound when I ≥ L), the same as a decision
// delayed between reading the clock and taking the shard's lock. The
// average rate is exact.
type Limiter struct {
	clock      func() time.Time // WithClock, or time.Now for quotas
	custom     bool             // WithClock given: rate limits read clock too
	coarse     *coarseClock     // the default clock of rate limits, or nil
	mono       monoClock        // without either: the monotonic clock
	seed       maphash.Seed     // h1 of fingerprints, and the shard index
	seed2      maphash.Seed     // h2 of fingerprints
	mask       uint64
	maxKeys    int64
	live       atomic.Int64 // keys held; written only on insert and delete
	sweepEvery int64
	nextSweep  atomic.Int64
	sweepNext  atomic.Uint64
	shards     []shard
	quotas     quotaTable // fixed-window quotas (quota.go)
}

// shard is an open-addressing hash table with linear probing, behind mu.
// An entry's home index is the bits of its h1 above the shard index; deletion
// shifts the entries that follow back (no tombstones), so a probe ends at the
// first empty entry.
type shard struct {
	mu    sync.Mutex
	slots []slot // nil or a power of two long, at most 3/4 full
	n     int    // entries in use
	shift uint   // bits of h1 that index the shard
	_     [16]byte
}

// fingerprint identifies a key: h1 and h2 are its maphash values under the
// limiter's two seeds, h2 made odd so that an empty slot (h2 = 0) matches no
// key.
type fingerprint struct{ h1, h2 uint64 }

// slot is one key of a shard, or none when fp.h2 is 0.
type slot struct {
	tat int64 // TAT in Unix nanoseconds
	fp  fingerprint
}

func (l *Limiter) fingerprint(key string) fingerprint {
	return fingerprint{maphash.String(l.seed, key), maphash.String(l.seed2, key) | 1}
}

// preparedKey is a key's fingerprint under one limiter's seeds
// (ratelimit.KeyPreparer).
type preparedKey struct {
	l  *Limiter
	fp fingerprint
}

// PrepareKey returns key's fingerprint, so that AllowAll does not hash key
// again when a Request carries it (ratelimit.KeyPreparer).
func (l *Limiter) PrepareKey(key string) any { return &preparedKey{l: l, fp: l.fingerprint(key)} }

var _ ratelimit.KeyPreparer = (*Limiter)(nil)

// fingerprintOf returns the fingerprint of r's key: the prepared one when r
// carries one of l's, otherwise a new hash.
func (l *Limiter) fingerprintOf(r *ratelimit.Request) fingerprint {
	if pk, ok := r.Prepared.(*preparedKey); ok && pk.l == l {
		return pk.fp
	}
	return l.fingerprint(r.Key)
}

func (s *shard) home(fp fingerprint) int { return int(fp.h1>>s.shift) & (len(s.slots) - 1) }

// New returns an empty Limiter.
func New(opts ...Option) *Limiter {
	c := config{maxKeys: DefaultMaxKeys, res: DefaultClockResolution}
	for _, o := range opts {
		o(&c)
	}
	if c.shards < 1 {
		c.shards = max(64, 16*runtime.GOMAXPROCS(0))
	}
	if c.maxKeys < 1 {
		c.maxKeys = DefaultMaxKeys
	}
	n := 1 << bits.Len(uint(c.shards-1)) // next power of two
	l := &Limiter{
		clock:   c.clock,
		custom:  c.clock != nil,
		seed:    maphash.MakeSeed(),
		seed2:   maphash.MakeSeed(),
		mask:    uint64(n - 1),
		maxKeys: int64(c.maxKeys),
		// Each shard is swept about once a second.
		sweepEvery: max(int64(time.Second)/int64(n), int64(time.Millisecond)),
		shards:     make([]shard, n),
	}
	switch {
	case l.custom:
	case c.res > 0:
		l.clock = time.Now
		l.coarse = newCoarseClock(c.res, clockParkAfter)
		// The ticker references the clock cell, never l: once l is
		// unreachable, this ends it.
		runtime.AddCleanup(l, (*coarseClock).stop, l.coarse)
	default:
		l.clock = time.Now
		l.mono = newMonoClock()
	}
	for i := range l.shards {
		l.shards[i].shift = uint(bits.Len(uint(n - 1)))
	}
	l.quotas.init(n)
	return l
}

// now reads the limiter's clock of rate limits in Unix nanoseconds.
func (l *Limiter) now() int64 {
	if l.coarse != nil {
		return l.coarse.now()
	}
	if !l.custom {
		return l.mono.read()
	}
	return l.clock().UnixNano()
}

// check validates one limit and a charge as Allow and AllowAll do.
func check(limit ratelimit.Limit, n int64) error {
	if limit.Count > 0 && int64(limit.Window) >= limit.Count && n >= 0 {
		return nil // valid: small enough to inline on every request
	}
	return invalid(limit, n)
}

// invalid is check's error for a limit or charge it does not accept.
func invalid(limit ratelimit.Limit, n int64) error {
	if err := limit.Validate(); err != nil {
		return fmt.Errorf("memory limiter: %w", err)
	}
	if n < 0 {
		return fmt.Errorf("memory limiter: %w: negative charge %d", ratelimit.ErrInvalidLimit, n)
	}
	return nil
}

// Allow charges n requests to key against limit; see ratelimit.Limiter. It
// returns an error wrapping ratelimit.ErrInvalidLimit when limit is invalid or
// n is negative. It never blocks on I/O and ignores ctx.
func (l *Limiter) Allow(_ context.Context, key string, limit ratelimit.Limit, n int64) (d ratelimit.Decision, err error) {
	// A wrapper small enough to be inlined: a caller holding a *Limiter gets
	// the decision written into its own variable, not copied out of a
	// returned value (which stalled on the stores that made it).
	err = l.allow(key, limit, n, &d)
	return d, err
}

// allow is Allow, writing the decision to d.
func (l *Limiter) allow(key string, limit ratelimit.Limit, n int64, d *ratelimit.Decision) error {
	// Count > 0 and Window ≥ Count cover every check of Validate: one branch
	// on the way of valid calls.
	if n < 0 || limit.Count <= 0 || int64(limit.Window) < limit.Count {
		return check(limit, n)
	}
	// l.fingerprint, written out: the call is not inlined.
	fp := fingerprint{maphash.String(l.seed, key), maphash.String(l.seed2, key) | 1}
	interval := int64(limit.Window) / limit.Count // computed outside the lock
	now := l.now()
	if now >= l.nextSweep.Load() {
		l.maybeSweep(now)
	}
	s := &l.shards[fp.h1&l.mask]
	s.mu.Lock()
	i, found := s.find(fp)
	var tat int64
	if found {
		tat = s.slots[i].tat
	}
	next := gcra(d, tat, now, limit, interval, n)
	switch {
	case !d.Allowed:
	case found && n > 0:
		s.slots[i].tat = next
	default:
		l.record(s, i, found, fp, n, next, now)
	}
	s.mu.Unlock()
	return nil
}

// gcra is one GCRA decision: n requests against limit for a key whose TAT is
// tat (anything up to now for a key not held), at now; interval is
// limit.Window/limit.Count. It writes the decision to d, which it does not
// read, and when the decision is allowed returns the key's TAT after the
// charge. (Writing d in place, a field at a time, is faster than returning
// it: the caller's copy of a returned Decision waited on the stores.)
func gcra(d *ratelimit.Decision, tat, now int64, limit ratelimit.Limit, interval, n int64) (next int64) {
	tolerance := interval * limit.Count // ≤ Window
	tat = max(tat, now)
	d.Limit = limit.Count
	next = tat + n*interval
	switch {
	case n > limit.Count:
		// Can never be allowed; retrying after a full window is the best hint.
		d.RetryAfter = limit.Window
	case next-now > tolerance:
		d.RetryAfter = time.Duration(next - now - tolerance)
	default:
		d.Allowed = true
		d.Remaining = capacity(limit.Count, interval, next-now)
		d.Reset = time.Duration(next - now)
		return next
	}
	d.Remaining = capacity(limit.Count, interval, tat-now)
	d.Reset = time.Duration(tat - now)
	return tat
}

// capacity is how many requests of weight 1 a key whose TAT is used ahead of
// now has room for: ⌊(count·interval − used)/interval⌋, and 0 when that is
// negative. It divides only when the key has both some backlog and some
// room, and then divides used, for a small quotient on a key far from its
// limit (a division's cost grows with its quotient).
func capacity(count, interval, used int64) int64 {
	if used <= 0 {
		return count
	}
	room := count*interval - used
	if room < interval {
		return 0
	}
	// ⌊(count·interval − used)/interval⌋ = count − ⌈used/interval⌉.
	q := uint64(used) / uint64(interval)
	if q*uint64(interval) != uint64(used) {
		q++
	}
	return count - int64(q)
}

// record stores an allowed charge of n in s (locked): i and found are what
// s.find returned for fp. A peek (n = 0) at a held key that is idle drops it.
func (l *Limiter) record(s *shard, i int, found bool, fp fingerprint, n, next, now int64) {
	switch {
	case n > 0 && found:
		s.slots[i].tat = next
	case n > 0:
		l.insert(s, fp, next, now)
	case found && next <= now:
		s.deleteAt(i) // a peek at an idle key: drop it now
		l.live.Add(-1)
	}
}

// find returns the index of fp's entry in s (locked) and true, or false when
// the key is not held.
func (s *shard) find(fp fingerprint) (int, bool) {
	if s.slots == nil {
		return 0, false
	}
	mask := len(s.slots) - 1
	for i := s.home(fp); ; i = (i + 1) & mask {
		e := &s.slots[i]
		if e.fp == fp {
			return i, true
		}
		if e.fp.h2 == 0 {
			return i, false
		}
	}
}

// deleteAt empties slot i of s (locked) and moves back the entries after it
// that could not be found past the hole.
func (s *shard) deleteAt(i int) {
	mask := len(s.slots) - 1
	for j := (i + 1) & mask; ; j = (j + 1) & mask {
		e := &s.slots[j]
		if e.fp.h2 == 0 {
			break
		}
		// e may fill the hole at i unless its home is cyclically in (i, j].
		if home := s.home(e.fp); (j-home)&mask >= (j-i)&mask {
			s.slots[i] = *e
			i = j
		}
	}
	s.slots[i] = slot{}
	s.n--
}

// add puts a key known to be absent into s (locked), growing the table first
// when it would be more than three quarters full.
func (s *shard) add(e slot) {
	if (s.n+1)*4 > len(s.slots)*3 {
		s.grow()
	}
	mask := len(s.slots) - 1
	i := s.home(e.fp)
	for s.slots[i].fp.h2 != 0 {
		i = (i + 1) & mask
	}
	s.slots[i] = e
	s.n++
}

// grow doubles s's table (locked), at least 8 entries.
func (s *shard) grow() {
	old := s.slots
	s.slots = make([]slot, max(8, 2*len(old)))
	mask := len(s.slots) - 1
	for _, e := range old {
		if e.fp.h2 == 0 {
			continue
		}
		i := s.home(e.fp)
		for s.slots[i].fp.h2 != 0 {
			i = (i + 1) & mask
		}
		s.slots[i] = e
	}
}

// insert adds a new key to s (locked), making room if the limiter is full.
func (l *Limiter) insert(s *shard, fp fingerprint, tat, now int64) {
	if l.live.Load() >= l.maxKeys && s.n > 0 {
		l.makeRoom(s, now)
	}
	l.live.Add(1)
	s.add(slot{tat: tat, fp: fp})
}

// makeRoom samples up to evictSample keys of s (locked), from a random slot
// on and at most once around the table, and drops the idle ones or, when none
// is, the one closest to having its full capacity back.
func (l *Limiter) makeRoom(s *shard, now int64) {
	mask := len(s.slots) - 1
	i := int(rand.Uint64()) & mask
	victim, seen, freed := -1, 0, 0
	for steps := 0; seen < evictSample && s.n > 0 && steps < len(s.slots); steps++ {
		e := &s.slots[i]
		switch {
		case e.fp.h2 == 0:
		case e.tat <= now:
			s.deleteAt(i) // an entry may have moved into i: look at it next
			freed++
			seen++
			continue
		default:
			if victim < 0 || e.tat < s.slots[victim].tat {
				victim = i
			}
			seen++
		}
		i = (i + 1) & mask
	}
	if freed == 0 && victim >= 0 {
		s.deleteAt(victim)
		freed = 1
	}
	l.live.Add(int64(-freed))
}

// AllowAll charges n requests to every request's key against its limit, or
// to none of them; see ratelimit.MultiLimiter. The shards involved are locked
// together, in ascending order, so the decision is atomic: no other call sees
// some of the charges and not the others. out[i] receives the decision
// Allow(reqs[i].Key, reqs[i].Limit, n) would have made at the same instant;
// when allowed is false nothing was charged, even where out[i].Allowed is
// true. n = 0 reads every limit.
//
// It returns an error wrapping ratelimit.ErrInvalidLimit, and charges
// nothing, when a limit is invalid, n is negative, out does not have
// len(reqs) elements, or two requests have the same key (checking that is
// quadratic in len(reqs): meant for a few limits). It does not allocate for up
// to 8 requests. It never blocks on I/O and ignores ctx.
func (l *Limiter) AllowAll(_ context.Context, reqs []ratelimit.Request, n int64, out []ratelimit.Decision) (bool, error) {
	if len(out) != len(reqs) {
		return false, fmt.Errorf("memory limiter: %w: %d limits but room for %d decisions", ratelimit.ErrInvalidLimit, len(reqs), len(out))
	}
	var fbuf [8]fingerprint
	fps := fbuf[:0]
	if len(reqs) > len(fbuf) {
		fps = make([]fingerprint, 0, len(reqs))
	}
	for i := range reqs {
		r := &reqs[i]
		if err := check(r.Limit, n); err != nil {
			return false, fmt.Errorf("%w (key %q)", err, r.Key)
		}
		fp := l.fingerprintOf(r)
		for j, other := range fps {
			if other == fp && reqs[j].Key == r.Key {
				return false, fmt.Errorf("memory limiter: %w: key %q appears twice (requests %d and %d)", ratelimit.ErrInvalidLimit, r.Key, j, i)
			}
		}
		fps = append(fps, fp)
	}
	// The shards to lock, ascending and without repeats (insertion sort).
	var ibuf [8]uint64
	locked := ibuf[:0]
	if len(reqs) > len(ibuf) {
		locked = make([]uint64, 0, len(reqs))
	}
	for _, fp := range fps {
		si := fp.h1 & l.mask
		k := len(locked)
		for k > 0 && locked[k-1] > si {
			k--
		}
		if k > 0 && locked[k-1] == si {
			continue
		}
		locked = append(locked, 0)
		copy(locked[k+1:], locked[k:])
		locked[k] = si
	}

	now := l.now()
	l.maybeSweep(now)
	for _, si := range locked {
		l.shards[si].mu.Lock()
	}
	allowed, allFound := true, true
	var jbuf [8]int // where each key was found, for up to 8 requests
	for i, r := range reqs {
		s := &l.shards[fps[i].h1&l.mask]
		j, found := s.find(fps[i])
		var tat int64
		if found {
			tat = s.slots[j].tat
		}
		if i < len(jbuf) {
			jbuf[i] = j
		}
		allFound = allFound && found
		out[i] = ratelimit.Decision{}
		gcra(&out[i], tat, now, r.Limit, int64(r.Limit.Window)/r.Limit.Count, n)
		allowed = allowed && out[i].Allowed
	}
	switch {
	case !allowed:
	case allFound && n > 0 && len(reqs) <= len(jbuf):
		// Every key is held and only its TAT changes: nothing moves, the
		// indices found above still hold.
		for i := range reqs {
			l.shards[fps[i].h1&l.mask].slots[jbuf[i]].tat = now + int64(out[i].Reset)
		}
	default:
		for i := range reqs {
			// Find again: an insertion or a deletion may have moved entries.
			s := &l.shards[fps[i].h1&l.mask]
			j, found := s.find(fps[i])
			l.record(s, j, found, fps[i], n, now+int64(out[i].Reset), now)
		}
	}
	for _, si := range locked {
		l.shards[si].mu.Unlock()
	}
	return allowed, nil
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
	for i := 0; i < len(s.slots); {
		if e := &s.slots[i]; e.fp.h2 != 0 && e.tat <= now {
			// The entry moved into i, if any, comes from further on (or
			// from the start of the table, where all are live): look again.
			s.deleteAt(i)
			dropped++
			continue
		}
		i++
	}
	s.mu.Unlock()
	l.live.Add(int64(-dropped))
}

// Reset forgets key's usage: its next request has the full capacity. It
// implements ratelimit.Resetter and never fails.
func (l *Limiter) Reset(_ context.Context, key string) error {
	fp := l.fingerprint(key)
	s := &l.shards[fp.h1&l.mask]
	s.mu.Lock()
	if i, ok := s.find(fp); ok {
		s.deleteAt(i)
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
		total += s.n
		s.mu.Unlock()
	}
	return total
}

var (
	_ ratelimit.Limiter      = (*Limiter)(nil)
	_ ratelimit.Resetter     = (*Limiter)(nil)
	_ ratelimit.MultiLimiter = (*Limiter)(nil)
)
