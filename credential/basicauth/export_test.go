package basicauth

import (
	"time"

	"github.com/gatehousehq/gatehouse/credential"
)

// Put remembers that pair ("username:password") was verified against cr.
func (c *Cache) Put(pair string, cr *credential.Credential) {
	k := c.keyOf([]byte(pair))
	c.verify(&k, cr)
}

// Get returns the credential pair is remembered as verified against, or nil.
func (c *Cache) Get(pair string) *credential.Credential {
	k := c.keyOf([]byte(pair))
	cr, _ := c.ok.get(&k)
	return cr
}

// PutFailure remembers that pair was refused against cr (nil: unknown user).
func (c *Cache) PutFailure(pair string, cr *credential.Credential) {
	k := c.keyOf([]byte(pair))
	c.refuse(&k, cr)
}

// GetFailure returns the credential pair is remembered as refused against,
// and whether it is remembered as refused at all.
func (c *Cache) GetFailure(pair string) (*credential.Credential, bool) {
	k := c.keyOf([]byte(pair))
	return c.fail.get(&k)
}

// Clear forgets every entry, successes and failures.
func (c *Cache) Clear() {
	for _, t := range []*table{&c.ok, &c.fail} {
		for i := range t.shards {
			s := &t.shards[i]
			s.mu.Lock()
			clear(s.m)
			s.mu.Unlock()
		}
	}
}

// Keys returns the raw keys of both tables, to check they are not plaintext.
func (c *Cache) Keys() [][]byte {
	var out [][]byte
	for _, t := range []*table{&c.ok, &c.fail} {
		for i := range t.shards {
			s := &t.shards[i]
			s.mu.RLock()
			for k := range s.m {
				out = append(out, append([]byte(nil), k[:]...))
			}
			s.mu.RUnlock()
		}
	}
	return out
}

// SetNow replaces the clock an Authenticator checks expiry with.
func SetNow(a *Authenticator, now func() time.Time) { a.now = now }

// SetHook makes l call hook with a slot taken, before each comparison, and
// what hook returns after it, so that a test can hold a slot or watch the
// slots in use; call it before the limiter is used.
func SetHook(l *Limiter, hook func() (after func())) { l.hook = hook }
