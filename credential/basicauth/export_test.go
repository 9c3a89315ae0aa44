package basicauth

import (
	"time"

	"github.com/gatehousehq/gatehouse/credential"
)

// BcryptCompares returns how many bcrypt comparisons the package has made.
func BcryptCompares() uint64 { return compares.Load() }

// Put remembers that pair ("username:password") was verified against m.
func (c *Cache) Put(pair string, m *credential.Match) {
	k := c.keyOf([]byte(pair))
	c.put(&k, m)
}

// Get returns what is remembered for pair, or nil.
func (c *Cache) Get(pair string) *credential.Match {
	k := c.keyOf([]byte(pair))
	return c.get(&k)
}

// Clear forgets every entry.
func (c *Cache) Clear() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		clear(s.m)
		s.mu.Unlock()
	}
}

// Keys returns the raw keys of the cache, to check they are not plaintext.
func (c *Cache) Keys() [][]byte {
	var out [][]byte
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		for k := range s.m {
			out = append(out, append([]byte(nil), k[:]...))
		}
		s.mu.RUnlock()
	}
	return out
}

// SetNow replaces the clock an Authenticator checks expiry with.
func SetNow(a *Authenticator, now func() time.Time) { a.now = now }
