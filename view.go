package gatehouse

import (
	"net/http"
	"sync"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/store"
)

// Canonical names of the headers the upstream handler is told the caller by.
// Client-sent copies are removed before authentication.
const (
	HeaderConsumerUsername     = "X-Consumer-Username"
	HeaderConsumerID           = "X-Consumer-Id"
	HeaderCredentialIdentifier = "X-Credential-Identifier"
	HeaderConsumerGroups       = "X-Consumer-Groups"
	HeaderAnonymousConsumer    = "X-Anonymous-Consumer"
)

var identityHeaders = [...]string{
	HeaderConsumerUsername, HeaderConsumerID, HeaderCredentialIdentifier,
	HeaderConsumerGroups, HeaderAnonymousConsumer,
}

// view is the data plane's read-optimized copy of consumers and credentials.
// Every change is applied incrementally: its cost depends on the size of one
// consumer, not on how many there are.
type view struct {
	mu        sync.RWMutex
	byLookup  map[string]*credential.Match
	consumers map[string]*consumerEntry
}

type consumerEntry struct {
	c     *consumer.Consumer
	anon  *credential.Match
	creds map[string]*credential.Credential // by id
	// matches are the entries this consumer owns in byLookup, by credential id.
	matches map[string]*credential.Match
}

var _ credential.Finder = (*view)(nil)

func newView() *view {
	return &view{byLookup: map[string]*credential.Match{}, consumers: map[string]*consumerEntry{}}
}

// Find returns the live credential whose Lookup is lookup.
func (v *view) Find(lookup []byte) (*credential.Match, bool) {
	v.mu.RLock()
	m, ok := v.byLookup[string(lookup)]
	v.mu.RUnlock()
	return m, ok
}

// anonymous returns the identity of the consumer named username for requests
// let through by an anonymous_consumer setting.
func (v *view) anonymous(username string) (*credential.Match, bool) {
	v.mu.RLock()
	e, ok := v.consumers[username]
	v.mu.RUnlock()
	if !ok {
		return nil, false
	}
	return e.anon, true
}

// load replaces the whole view with a snapshot.
func (v *view) load(s *store.Snapshot) {
	byLookup := make(map[string]*credential.Match, len(s.Credentials))
	consumers := make(map[string]*consumerEntry, len(s.Consumers))
	for _, c := range s.Consumers {
		consumers[c.Username] = newEntry(c)
	}
	for _, cr := range s.Credentials {
		e, ok := consumers[cr.Consumer]
		if !ok {
			continue
		}
		e.creds[cr.ID] = cr
		if m := newMatch(e.c, cr); m != nil {
			e.matches[cr.ID] = m
			byLookup[cr.Lookup] = m
		}
	}
	v.mu.Lock()
	v.byLookup, v.consumers = byLookup, consumers
	v.mu.Unlock()
}

// setConsumer applies a consumer write (c != nil) or deletion (c == nil).
func (v *view) setConsumer(username string, c *consumer.Consumer) {
	v.mu.Lock()
	defer v.mu.Unlock()
	old, had := v.consumers[username]
	if had {
		for _, m := range old.matches {
			v.dropMatch(m)
		}
	}
	if c == nil {
		delete(v.consumers, username)
		return
	}
	e := newEntry(c)
	if had {
		e.creds = old.creds
	}
	for id, cr := range e.creds {
		if m := newMatch(c, cr); m != nil {
			e.matches[id] = m
			v.byLookup[cr.Lookup] = m
		}
	}
	v.consumers[username] = e
}

// setCredential applies a credential write (cr != nil) or deletion. A
// credential whose consumer the view does not hold yet is ignored: the
// consumer's own change brings it.
func (v *view) setCredential(username, id string, cr *credential.Credential) {
	v.mu.Lock()
	defer v.mu.Unlock()
	e, ok := v.consumers[username]
	if !ok {
		return
	}
	if m, ok := e.matches[id]; ok {
		v.dropMatch(m)
		delete(e.matches, id)
	}
	if cr == nil {
		delete(e.creds, id)
		return
	}
	e.creds[id] = cr
	if m := newMatch(e.c, cr); m != nil {
		e.matches[id] = m
		v.byLookup[cr.Lookup] = m
	}
}

// dropMatch removes m from the lookup index unless another credential has
// taken its lookup since.
func (v *view) dropMatch(m *credential.Match) {
	if cur, ok := v.byLookup[m.Credential.Lookup]; ok && cur == m {
		delete(v.byLookup, m.Credential.Lookup)
	}
}

func (v *view) hasConsumer(username string) bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	_, ok := v.consumers[username]
	return ok
}

func newEntry(c *consumer.Consumer) *consumerEntry {
	h := consumerHeaders(c)
	h[HeaderAnonymousConsumer] = []string{"true"}
	return &consumerEntry{
		c:       c,
		anon:    &credential.Match{Identity: consumer.Identity{Consumer: c, Anonymous: true}, Headers: h},
		creds:   map[string]*credential.Credential{},
		matches: map[string]*credential.Match{},
	}
}

// newMatch builds the data-plane entry of a credential, or nil when it has no
// lookup (nothing can present it).
func newMatch(c *consumer.Consumer, cr *credential.Credential) *credential.Match {
	if cr.Lookup == "" {
		return nil
	}
	h := consumerHeaders(c)
	h[HeaderCredentialIdentifier] = []string{cr.ID}
	return &credential.Match{
		Identity:   consumer.Identity{Consumer: c, CredentialID: cr.ID},
		Credential: cr,
		Headers:    h,
	}
}

func consumerHeaders(c *consumer.Consumer) http.Header {
	h := http.Header{
		HeaderConsumerUsername: {c.Username},
		HeaderConsumerID:       {c.Username},
	}
	if c.GroupID != "" {
		h[HeaderConsumerGroups] = []string{c.GroupID}
	}
	return h
}
