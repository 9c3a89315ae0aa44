package credential

import "sync"

// Index is the data plane's table of live credentials, keyed by Lookup. The
// gateway keeps it in step with the store; authenticators read it with Find on
// every request. It is safe for concurrent use, and Find does not allocate.
type Index struct {
	mu sync.RWMutex
	m  map[string]*Match
	// consumers are consumer-level matches (no credential), by username, for
	// schemes that name a consumer directly (a JWKS-verified token's claim).
	consumers map[string]*Match
}

// NewIndex returns an empty index.
func NewIndex() *Index { return &Index{m: map[string]*Match{}, consumers: map[string]*Match{}} }

// FindConsumer returns the consumer-level match of username: its identity and
// headers, with no credential.
func (x *Index) FindConsumer(username string) (*Match, bool) {
	x.mu.RLock()
	m, ok := x.consumers[username]
	x.mu.RUnlock()
	return m, ok
}

// SetConsumer stores (m != nil) or removes the consumer-level match of username.
func (x *Index) SetConsumer(username string, m *Match) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if m == nil {
		delete(x.consumers, username)
		return
	}
	x.consumers[username] = m
}

// Find returns the live credential whose Lookup is lookup.
func (x *Index) Find(lookup []byte) (*Match, bool) {
	x.mu.RLock()
	m, ok := x.m[string(lookup)]
	x.mu.RUnlock()
	return m, ok
}

// Len returns the number of credentials in the index.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.m)
}

// Update applies changes under one lock: every match of drop is removed (unless
// its lookup has been taken by another credential since), then every match of
// add is stored under its credential's Lookup.
func (x *Index) Update(drop, add []*Match) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, m := range drop {
		if cur, ok := x.m[m.Credential.Lookup]; ok && cur == m {
			delete(x.m, m.Credential.Lookup)
		}
	}
	for _, m := range add {
		x.m[m.Credential.Lookup] = m
	}
}

// Replace swaps the whole content of the index for matches (credential
// matches) and consumers (consumer-level matches by username).
func (x *Index) Replace(matches []*Match, consumers map[string]*Match) {
	m := make(map[string]*Match, len(matches))
	for _, v := range matches {
		m[v.Credential.Lookup] = v
	}
	if consumers == nil {
		consumers = map[string]*Match{}
	}
	x.mu.Lock()
	x.m, x.consumers = m, consumers
	x.mu.Unlock()
}
