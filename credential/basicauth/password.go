package basicauth

import (
	"crypto/sha256"
	"encoding/base64"
	"runtime"
	"sync"
	"sync/atomic"

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

// checkPassword reports whether password matches hash. It costs a bcrypt
// comparison: call it only under a Limiter slot, when the cache has no answer.
func checkPassword(hash, password []byte) bool {
	p := prehash(password)
	return bcrypt.CompareHashAndPassword(hash, p[:]) == nil
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
// that needs one while all slots are taken is not queued: it is answered at
// once with 503 and Retry-After (RetryAfter seconds), so that a flood of
// wrong passwords costs at most Cap cores and never piles up waiting
// requests. Checks answered by the Cache take no slot. A Limiter is safe for
// concurrent use; share one between Definitions to bound them together.
type Limiter struct {
	sem      chan struct{}
	compares atomic.Uint64
	refused  atomic.Uint64
	// hook, when not nil (tests only), is called with a slot taken, before
	// the comparison; what it returns is called after it. It takes no
	// password: a call through a func value would move the request's stack
	// buffer to the heap.
	hook func() (after func())
}

// NewLimiter returns a limiter of n slots; n <= 0 means DefaultLimit(), read
// now.
func NewLimiter(n int) *Limiter {
	if n <= 0 {
		n = DefaultLimit()
	}
	return &Limiter{sem: make(chan struct{}, n)}
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
	return checkPassword(hash, password)
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
