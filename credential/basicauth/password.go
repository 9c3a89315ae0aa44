package basicauth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// bcrypt reads at most 72 bytes of a password, and x/crypto refuses longer
// ones. Passwords may be up to MaxPasswordLen bytes, so every password is
// first reduced to the base64 of its SHA-256 (44 bytes, no NUL): the stored
// hash is bcrypt(base64(sha256(password))). Doing it for every password, not
// only long ones, keeps a 44-byte string from standing for a long password.
type prehashed [44]byte

func prehash(password []byte) prehashed {
	sum := sha256.Sum256(password)
	var p prehashed
	base64.StdEncoding.Encode(p[:], sum[:])
	return p
}

// hashPassword returns the bcrypt hash stored for password.
func hashPassword(password []byte, cost int) ([]byte, error) {
	p := prehash(password)
	return bcrypt.GenerateFromPassword(p[:], cost)
}

// RetryAfter is the Retry-After, in seconds, of the 503 that answers a
// request finding its Limiter full.
const RetryAfter = 1

// DefaultLimit returns the number of bcrypt comparisons a Limiter lets run at
// once unless told otherwise: half of GOMAXPROCS, at least 1. A bcrypt
// comparison keeps one core busy for its whole length (about 70 ms at cost
// 10), so this leaves at least half the cores to every other request however
// many failing passwords arrive.
func DefaultLimit() int { return max(1, runtime.GOMAXPROCS(0)/2) }

// Limiter bounds the bcrypt comparisons (of real hashes, and of the dummy
// hash an unknown username is checked against) running at once. A request
// that needs one while all slots are taken is not queued: it is answered
// 503 with Retry-After (RetryAfter seconds) without waiting for a slot, so
// that a flood of wrong passwords costs at most Cap cores and never piles up
// requests waiting for bcrypt. Refusals, that 503 included, are answered once
// the refusal delay has passed (WithRefusalDelay), which slows down clients
// that repeat failing checks. Checks answered by the Cache take no slot. A
// Limiter is safe for concurrent use; share one between Definitions to bound
// them together.
type Limiter struct {
	sem      chan struct{}
	delay    time.Duration
	compares atomic.Uint64
	refused  atomic.Uint64
	// hook, when not nil (tests only), is called with a slot taken, before
	// the comparison; what it returns is called after it. It takes no
	// password: a call through a func value would move the request's stack
	// buffer to the heap.
	hook func() (after func())
}

// DefaultRefusalDelay is how long a refused password check waits before it is
// answered, unless WithRefusalDelay says otherwise.
const DefaultRefusalDelay = 100 * time.Millisecond

// LimiterOption configures NewLimiter.
type LimiterOption func(*Limiter)

// WithRefusalDelay sets how long a request whose password check is refused
// (401 Invalid user authorization, wrong password, unknown user, disabled
// credential; and the 503 of a full limiter) waits before it is answered,
// holding no CPU and no slot: a client that repeats failing checks as fast as
// it can is slowed to one per d per connection, so that a flood of them
// cannot take the CPU from other requests. 0 answers at once. Negative values
// keep DefaultRefusalDelay.
func WithRefusalDelay(d time.Duration) LimiterOption {
	return func(l *Limiter) {
		if d >= 0 {
			l.delay = d
		}
	}
}

// NewLimiter returns a limiter of n slots; n <= 0 means DefaultLimit(), read
// now.
func NewLimiter(n int, opts ...LimiterOption) *Limiter {
	if n <= 0 {
		n = DefaultLimit()
	}
	l := &Limiter{sem: make(chan struct{}, n), delay: DefaultRefusalDelay}
	for _, o := range opts {
		o(l)
	}
	return l
}

// RefusalDelay returns how long a refused password check waits before it is
// answered (WithRefusalDelay).
func (l *Limiter) RefusalDelay() time.Duration { return l.delay }

// slowDown waits for the refusal delay, or until ctx is done (the client went
// away).
func (l *Limiter) slowDown(ctx context.Context) {
	if l.delay <= 0 {
		return
	}
	t := time.NewTimer(l.delay)
	select {
	case <-t.C:
	case <-ctx.Done():
		t.Stop()
	}
}

// defaultLimiter is the limiter of Definitions that have none of their own:
// one per process, since the cores it protects are the process's.
var defaultLimiter = sync.OnceValue(func() *Limiter { return NewLimiter(0) })

// Cap returns the number of comparisons that may run at once.
func (l *Limiter) Cap() int { return cap(l.sem) }

// Compares returns how many bcrypt comparisons the limiter has let run since
// it was made. It is meant for metrics and tests.
func (l *Limiter) Compares() uint64 { return l.compares.Load() }

// Refused returns how many requests were answered 503 because every slot was
// taken. It is meant for metrics and tests.
func (l *Limiter) Refused() uint64 { return l.refused.Load() }

// acquire takes a slot if one is free; it never waits. On false the refusal
// is counted.
func (l *Limiter) acquire() bool {
	select {
	case l.sem <- struct{}{}:
		return true
	default:
		l.refused.Add(1)
		return false
	}
}

// check compares password with hash under a slot taken by acquire, and gives
// the slot back.
func (l *Limiter) check(hash, password []byte) bool {
	defer func() { <-l.sem }()
	l.compares.Add(1)
	if l.hook != nil {
		defer l.hook()()
	}
	return compare(hash, prehash(password))
}

// compare reports whether the prehashed password p matches hash: a bcrypt
// comparison.
func compare(hash []byte, p prehashed) bool {
	return bcrypt.CompareHashAndPassword(hash, p[:]) == nil
}

// dummyHashes holds, per cost, a bcrypt hash that no password matches
// knowingly; an unknown username is checked against it so that it costs what
// a wrong password costs and usernames cannot be told apart by timing.
var dummyHashes sync.Map // int → func() []byte

func dummyHash(cost int) []byte {
	f, ok := dummyHashes.Load(cost)
	if !ok {
		f, _ = dummyHashes.LoadOrStore(cost, sync.OnceValue(func() []byte {
			var secret [32]byte
			randRead(secret[:])
			h, err := hashPassword(secret[:], cost)
			if err != nil {
				// Only a cost above bcrypt.MaxCost fails; Seal refuses it too.
				h, _ = hashPassword(secret[:], DefaultCost)
			}
			return h
		}))
	}
	return f.(func() []byte)()
}
