package gatehouse

import (
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
	c     *consumer.Consumer
	anon  *credential.Match
	self  *credential.Match                 // the consumer-level match: identity, no credential
	creds map[string]*credential.Credential // by id
	// matches are the entries this consumer owns in the index, by credential id.
	matches map[string]*credential.Match
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
	return e.anon, true
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
			if om := old.matches[cr.ID]; om != nil && om.Credential.Equal(cr) {
				cr, m = om.Credential, rebind(om, e.c)
			}
		}
		e.creds[cr.ID] = cr
		if m == nil {
			m = v.newMatch(e.c, cr)
		}
		if m != nil {
			e.matches[cr.ID] = m
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
		for _, m := range old.matches {
			drop = append(drop, m)
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
		e.creds = old.creds
	}
	for id, cr := range e.creds {
		var m *credential.Match
		if had {
			m = rebind(old.matches[id], c)
		}
		if m == nil {
			m = v.newMatch(c, cr)
		}
		if m != nil {
			e.matches[id] = m
			add = append(add, m)
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
	var drop, add []*credential.Match
	if m, ok := e.matches[id]; ok {
		drop = append(drop, m)
		delete(e.matches, id)
	}
	if cr == nil {
		delete(e.creds, id)
	} else {
		e.creds[id] = cr
		if m := v.newMatch(e.c, cr); m != nil {
			e.matches[id] = m
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
		anon: &credential.Match{
			Identity: consumer.Identity{Consumer: c, Anonymous: true},
			Headers:  identity(c, "", true),
		},
		self: &credential.Match{
			Identity: consumer.Identity{Consumer: c},
			Headers:  identity(c, "", false),
		},
		creds:   map[string]*credential.Credential{},
		matches: map[string]*credential.Match{},
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
func identity(c *consumer.Consumer, credentialID string, anonymous bool) []credential.HeaderField {
	values := map[string]string{
		HeaderConsumerUsername:     c.Username,
		HeaderConsumerID:           c.Username,
		HeaderCredentialIdentifier: credentialID,
		HeaderConsumerGroups:       c.GroupID,
	}
	if anonymous {
		values[HeaderAnonymousConsumer] = "true"
	}
	out := make([]credential.HeaderField, 0, len(identityHeaders))
	for _, name := range identityHeaders {
		f := credential.HeaderField{Name: name}
		if v := values[name]; v != "" {
			f.Values = []string{v}
		}
		out = append(out, f)
	}
	return out
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
