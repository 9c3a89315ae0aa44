package gatehouse

import (
	"slices"
	"sync"
	"sync/atomic"

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
	index *credential.Index
	// entities interns authorized-entity names for credentials and routes.
	entities *entityTable
	// compile turns a credential's stored settings into its scheme's
	// verification material (Match.Secret); nil when no scheme needs one.
	compile func(cr *credential.Credential) (any, error)

	mu        sync.RWMutex // guards consumers; writers hold it across index updates
	consumers map[string]*consumerEntry
}

type consumerEntry struct {
	c *consumer.Consumer
	// anon is the identity of requests let through as this consumer by an
	// anonymous_consumer setting, made on first use: few consumers are ever
	// one, and a view holds every consumer.
	anon atomic.Pointer[credential.Match]
	self *credential.Match // the consumer-level match: identity, no credential
	// creds are the consumer's credentials, in no order. A slice, not a
	// map: consumers hold a few credentials, and a view holds every consumer.
	creds []credEntry
}

// credEntry is a credential of a consumer and the entry it owns in the
// index (nil when it has none: no lookup, or its scheme cannot compile it).
type credEntry struct {
	cr *credential.Credential
	m  *credential.Match
}

// find returns the index of credential id in e.creds, or -1.
func (e *consumerEntry) find(id string) int {
	for i := range e.creds {
		if e.creds[i].cr.ID == id {
			return i
		}
	}
	return -1
}

// match returns the index entry of credential id, or nil.
func (e *consumerEntry) match(id string) *credential.Match {
	if i := e.find(id); i >= 0 {
		return e.creds[i].m
	}
	return nil
}

func newView(compile func(*credential.Credential) (any, error)) *view {
	return &view{index: credential.NewIndex(), entities: newEntityTable(), compile: compile, consumers: map[string]*consumerEntry{}}
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
	if m := e.anon.Load(); m != nil {
		return m, true
	}
	e.anon.CompareAndSwap(nil, &credential.Match{
		Identity: consumer.Identity{Consumer: e.c, Anonymous: true},
		Headers:  identity(e.c, "", true),
	})
	return e.anon.Load(), true
}

// load replaces the whole view with a snapshot. A credential the snapshot
// holds unchanged keeps what the view compiled from it (and so the entries of
// the caches of verified credentials).
func (v *view) load(s *store.Snapshot) {
	v.mu.RLock()
	prev := v.consumers // written only by view writers, which are serialized
	v.mu.RUnlock()
	consumers := make(map[string]*consumerEntry, len(s.Consumers))
	for _, c := range s.Consumers {
		consumers[c.Username] = newEntry(c)
	}
	matches := make([]*credential.Match, 0, len(s.Credentials))
	selves := make(map[string]*credential.Match, len(consumers))
	for name, e := range consumers {
		selves[name] = e.self
	}
	for _, cr := range s.Credentials {
		e, ok := consumers[cr.Consumer]
		if !ok {
			continue
		}
		var m *credential.Match
		if old, ok := prev[cr.Consumer]; ok {
			if om := old.match(cr.ID); om != nil && om.Credential.Equal(cr) {
				cr, m = om.Credential, rebind(om, e.c)
			}
		}
		if m == nil {
			m = v.newMatch(e.c, cr)
		}
		e.creds = append(e.creds, credEntry{cr: cr, m: m})
		if m != nil {
			matches = append(matches, m)
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.consumers = consumers
	v.index.Replace(matches, selves)
}

// setConsumer applies a consumer write (c != nil) or deletion (c == nil).
func (v *view) setConsumer(username string, c *consumer.Consumer) {
	v.mu.Lock()
	defer v.mu.Unlock()
	var drop, add []*credential.Match
	old, had := v.consumers[username]
	if had {
		for _, ce := range old.creds {
			if ce.m != nil {
				drop = append(drop, ce.m)
			}
		}
	}
	if c == nil {
		delete(v.consumers, username)
		v.index.Update(drop, nil)
		v.index.SetConsumer(username, nil)
		return
	}
	e := newEntry(c)
	if had {
		e.creds = make([]credEntry, 0, len(old.creds))
		for _, ce := range old.creds {
			m := rebind(ce.m, c)
			if m == nil {
				m = v.newMatch(c, ce.cr)
			}
			e.creds = append(e.creds, credEntry{cr: ce.cr, m: m})
			if m != nil {
				add = append(add, m)
			}
		}
	}
	v.consumers[username] = e
	v.index.Update(drop, add)
	v.index.SetConsumer(username, e.self)
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
	i := e.find(id)
	if i >= 0 && cr != nil && e.creds[i].cr.Equal(cr) {
		// The same credential read again (the consumer's change loaded it,
		// then its own change arrived): keep what the view holds, so that
		// caches of verified credentials, which compare it, keep their
		// entries.
		return
	}
	var drop, add []*credential.Match
	if i >= 0 {
		if m := e.creds[i].m; m != nil {
			drop = append(drop, m)
		}
	}
	switch {
	case cr == nil && i >= 0:
		e.creds = slices.Delete(e.creds, i, i+1)
	case cr != nil:
		m := v.newMatch(e.c, cr)
		if i >= 0 {
			e.creds[i] = credEntry{cr: cr, m: m}
		} else {
			e.creds = append(e.creds, credEntry{cr: cr, m: m})
		}
		if m != nil {
			add = append(add, m)
		}
	}
	v.index.Update(drop, add)
}

func (v *view) hasConsumer(username string) bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	_, ok := v.consumers[username]
	return ok
}

func newEntry(c *consumer.Consumer) *consumerEntry {
	return &consumerEntry{
		c: c,
		self: &credential.Match{
			Identity: consumer.Identity{Consumer: c},
			Headers:  identity(c, "", false),
		},
	}
}

// newMatch builds the data-plane entry of a credential, or nil when it has no
// lookup (nothing can present it) or its scheme cannot compile it.
func (v *view) newMatch(c *consumer.Consumer, cr *credential.Credential) *credential.Match {
	if cr.Lookup == "" {
		return nil
	}
	var secret any
	if v.compile != nil {
		var err error
		if secret, err = v.compile(cr); err != nil {
			return nil
		}
	}
	return &credential.Match{
		Identity:   consumer.Identity{Consumer: c, CredentialID: cr.ID},
		Credential: cr,
		Secret:     secret,
		Entities:   v.entities.set(cr.AuthorizedEntities),
		Headers:    identity(c, cr.ID, false),
	}
}

// rebind returns a copy of m for consumer c, the new version of m's
// consumer: the credential, its compiled secret and entities are kept as
// they are (the credential did not change), so that caches of verified
// credentials, which compare Match.Credential, keep their entries across a
// consumer-only change. It returns nil when m is nil.
func rebind(m *credential.Match, c *consumer.Consumer) *credential.Match {
	if m == nil {
		return nil
	}
	return &credential.Match{
		Identity:   consumer.Identity{Consumer: c, CredentialID: m.Credential.ID},
		Credential: m.Credential,
		Secret:     m.Secret,
		Entities:   m.Entities,
		Headers:    identity(c, m.Credential.ID, false),
	}
}

// identity returns the identity headers of a consumer: set, or empty to be
// removed from the request.
//
// The fields and their values take one allocation: a view holds the
// identity of every consumer and credential.
func identity(c *consumer.Consumer, credentialID string, anonymous bool) []credential.HeaderField {
	anon := ""
	if anonymous {
		anon = "true"
	}
	block := new(struct {
		fields [len(identityHeaders)]credential.HeaderField
		values [len(identityHeaders)]string
	})
	block.values = [...]string{c.Username, c.Username, credentialID, c.GroupID, anon} // identityHeaders' order
	for i, name := range identityHeaders {
		block.fields[i].Name = name
		if block.values[i] != "" {
			block.fields[i].Values = block.values[i : i+1 : i+1]
		}
	}
	return block.fields[:]
}

// entityTable interns authorized-entity entries ("group_x", "route_y",
// "payment_apis", ...) as small integers, as they are written: a route
// compiles the entries that admit it (credential.EntityNames), a credential
// the entries it holds, so that authorizing a request is a few integer
// probes. It only grows, by the distinct entries the configuration has used;
// it is read and written by view writers, never on the request path.
type entityTable struct {
	mu    sync.Mutex
	names map[string]uint32
}

func newEntityTable() *entityTable { return &entityTable{names: map[string]uint32{}} }

// id returns the id of an entry, assigning one if needed.
func (t *entityTable) id(name string) uint32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	id, ok := t.names[name]
	if !ok {
		id = uint32(len(t.names))
		t.names[name] = id
	}
	return id
}

// set returns the set of ids of the entries written on a credential. Entries
// that are not valid are left out.
func (t *entityTable) set(entities []string) credential.EntitySet {
	if len(entities) == 0 {
		return credential.EntitySet{}
	}
	out := make([]uint32, 0, len(entities))
	for _, e := range entities {
		if credential.ValidateEntity(e) != nil {
			continue
		}
		out = append(out, t.id(e))
	}
	return credential.NewEntitySet(out)
}
