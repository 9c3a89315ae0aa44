// Package memory is the default store.Store: it keeps consumers, credentials, routes,
// groups and gateways in process memory, for tests, single instances and as a reference.
package memory

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/consumergroup"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/servicegroup"
	"github.com/gatehousehq/gatehouse/store"
)

var _ store.Store = (*Store)(nil)

// errNilResult is returned when a mutator returns neither a value nor an error.
var errNilResult = errors.New("store: mutator returned a nil value")

// credKey names a credential: the owning consumer's username and its id.
type credKey struct {
	username, id string
}

// Store is an in-memory store.Store. The zero value is not usable: call New.
// It is safe for concurrent use; every value passed in or returned is a deep
// copy. Mutators run while the store is locked, so they must not call it.
// An undecodable ListOptions.Cursor is reported as store.ErrInvalidCursor.
type Store struct {
	now func() time.Time

	mu        sync.RWMutex
	consumers map[string]*consumer.Consumer
	creds     map[string]map[string]*credential.Credential // username → id → credential
	names     map[string]map[string]string                 // username → name → id
	lookups   map[string]credKey                           // Lookup → owner
	routes    map[string]*route.Route
	groups    map[string]*servicegroup.Group
	gateways  map[string]*consumergroup.Gateway
	cgroups   map[string]*consumergroup.Group
	// groupNames indexes consumer groups: gateway id → name → group id.
	groupNames map[string]map[string]string
	watchers   map[*watcher]struct{}
}

// Option configures a Store built by New.
type Option func(*Store)

// WithClock sets the clock the store reads CreatedAt and UpdatedAt from
// (default time.Now). Stored times are always UTC, truncated to microseconds.
func WithClock(now func() time.Time) Option {
	return func(s *Store) { s.now = now }
}

// New returns an empty Store.
func New(opts ...Option) *Store {
	s := &Store{
		now:        time.Now,
		consumers:  make(map[string]*consumer.Consumer),
		creds:      make(map[string]map[string]*credential.Credential),
		names:      make(map[string]map[string]string),
		lookups:    make(map[string]credKey),
		routes:     make(map[string]*route.Route),
		groups:     make(map[string]*servicegroup.Group),
		gateways:   make(map[string]*consumergroup.Gateway),
		cgroups:    make(map[string]*consumergroup.Group),
		groupNames: make(map[string]map[string]string),
		watchers:   make(map[*watcher]struct{}),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// timestamp returns the store's current time as it is stored.
func (s *Store) timestamp() time.Time {
	return normTime(s.now())
}

func normTime(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}

// ---- consumers ----

// GetConsumer returns the consumer named username.
func (s *Store) GetConsumer(_ context.Context, username string) (*consumer.Consumer, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.consumers[username]
	if !ok {
		return nil, fmt.Errorf("consumer %q: %w", username, store.ErrNotFound)
	}
	return c.Clone(), nil
}

// PutConsumer creates or replaces the consumer named username with what fn
// returns. An empty Username in the result is set to username; a different one
// is an error.
func (s *Store) PutConsumer(_ context.Context, username string, fn store.Mutator[consumer.Consumer]) (*consumer.Consumer, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, exists := s.consumers[username]
	next, err := putConsumer(s, s.consumers, username, fn)
	if err != nil {
		return nil, false, err
	}
	s.notify(store.Change{Kind: store.KindConsumer, Consumer: username})
	return next, !exists, nil
}

// putConsumer writes what fn returns for consumer username into m (s.consumers
// or a scratch copy of its entry). The caller holds s.mu for writing.
func putConsumer(s *Store, m map[string]*consumer.Consumer, username string, fn store.Mutator[consumer.Consumer]) (*consumer.Consumer, error) {
	next, _, err := put(s, m, username, fn, (*consumer.Consumer).Clone,
		func(c *consumer.Consumer) (*string, *time.Time, *time.Time) {
			return &c.Username, &c.CreatedAt, &c.UpdatedAt
		})
	if err != nil {
		return nil, fmt.Errorf("store: consumer %q: %w", username, err)
	}
	return next, nil
}

// DeleteConsumer deletes the consumer and every credential it holds. Watchers
// see a deleted change for each credential, then one for the consumer.
func (s *Store) DeleteConsumer(_ context.Context, username string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.consumers[username]; !ok {
		return fmt.Errorf("consumer %q: %w", username, store.ErrNotFound)
	}
	creds := s.creds[username]
	for _, id := range sortedKeys(creds) {
		if l := creds[id].Lookup; l != "" {
			delete(s.lookups, l)
		}
		s.notify(store.Change{Kind: store.KindCredential, Deleted: true, Consumer: username, ID: id})
	}
	delete(s.creds, username)
	delete(s.names, username)
	delete(s.consumers, username)
	s.notify(store.Change{Kind: store.KindConsumer, Deleted: true, Consumer: username})
	return nil
}

// ListConsumers returns a page of consumers ordered by username, keeping those
// whose labels hold every pair of opts.Labels. opts.Tag is ignored.
func (s *Store) ListConsumers(_ context.Context, opts store.ListOptions) (store.Page[consumer.Consumer], error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return list(s.consumers, opts, func(c *consumer.Consumer) bool {
		for k, v := range opts.Labels {
			if got, ok := c.Labels[k]; !ok || got != v {
				return false
			}
		}
		return true
	}, (*consumer.Consumer).Clone)
}

// ---- credentials ----

// QueryCredentials returns a page of the credentials of every consumer that q
// selects, ordered by consumer username, then id. It reads every credential
// with a Lookup: the memory store keeps no index of the query's fields.
func (s *Store) QueryCredentials(_ context.Context, q store.CredentialQuery, opts store.ListOptions) (store.Page[credential.Credential], error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	// Keyed by username NUL id: byte order of the keys is (username, id)
	// order, as neither holds a NUL.
	byOwner := make(map[string]*credential.Credential)
	for _, k := range s.lookups {
		if c := s.creds[k.username][k.id]; q.Match(c) {
			byOwner[k.username+"\x00"+k.id] = c
		}
	}
	return list(byOwner, opts, nil, (*credential.Credential).Clone)
}

// GetCredential returns the credential id of the consumer username.
func (s *Store) GetCredential(_ context.Context, username, id string) (*credential.Credential, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.creds[username][id]
	if !ok {
		return nil, fmt.Errorf("credential %q of consumer %q: %w", id, username, store.ErrNotFound)
	}
	return c.Clone(), nil
}

// PutCredential creates or replaces credential id of the consumer username with
// what fn returns. The store sets Consumer to username; an empty ID is set to id
// and a different one is an error. Empty names and lookups are never conflicts.
func (s *Store) PutCredential(_ context.Context, username, id string, fn store.Mutator[credential.Credential]) (*credential.Credential, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.consumers[username]; !ok {
		return nil, false, fmt.Errorf("consumer %q: %w", username, store.ErrNotFound)
	}
	cur, next, err := s.prepareCredential(username, id, fn)
	if err != nil {
		return nil, false, err
	}
	s.commitCredential(username, id, cur, next)
	return next.Clone(), cur == nil, nil
}

// PutConsumerWithCredential writes the consumer named username and its
// credential credID together, as PutConsumer and PutCredential would one
// after the other, but atomically: when either part fails, nothing changes.
func (s *Store) PutConsumerWithCredential(_ context.Context, username string, consumerFn store.Mutator[consumer.Consumer],
	credID string, credFn store.Mutator[credential.Credential]) (*consumer.Consumer, *credential.Credential, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// put writes into a scratch map, so that the credential can still refuse
	// the write after the consumer's mutator ran.
	scratch := map[string]*consumer.Consumer{}
	if cur, ok := s.consumers[username]; ok {
		scratch[username] = cur
	}
	c, err := putConsumer(s, scratch, username, consumerFn)
	if err != nil {
		return nil, nil, err
	}
	cur, next, err := s.prepareCredential(username, credID, credFn)
	if err != nil {
		return nil, nil, err
	}
	s.consumers[username] = scratch[username]
	s.notify(store.Change{Kind: store.KindConsumer, Consumer: username})
	s.commitCredential(username, credID, cur, next)
	return c, next.Clone(), nil
}

// prepareCredential runs fn for credential id of the consumer username (which
// exists, or is being written with it) and checks the store's rules, changing
// nothing. It returns the stored credential (nil when new) and the one to
// store. The caller holds s.mu for writing.
func (s *Store) prepareCredential(username, id string, fn store.Mutator[credential.Credential]) (cur, next *credential.Credential, err error) {
	cur = s.creds[username][id]
	if next, err = fn(cur.Clone()); err != nil {
		return nil, nil, err
	}
	if next == nil {
		return nil, nil, errNilResult
	}
	next = next.Clone()
	if next.ID == "" {
		next.ID = id
	}
	if next.ID != id {
		return nil, nil, fmt.Errorf("store: credential %q: mutator changed the id to %q", id, next.ID)
	}
	next.Consumer = username
	if next.Name != "" {
		if other, ok := s.names[username][next.Name]; ok && other != id {
			return nil, nil, &store.ConflictError{Rule: store.ConflictCredentialName, Kind: store.KindCredential,
				Consumer: username, ID: id, Name: next.Name}
		}
	}
	if next.Lookup != "" {
		if other, ok := s.lookups[next.Lookup]; ok && other != (credKey{username, id}) {
			// The error never carries the lookup: it is a secret's hash.
			return nil, nil, &store.ConflictError{Rule: store.ConflictCredentialLookup, Kind: store.KindCredential,
				Consumer: username, ID: id}
		}
	}
	if next.ExpiresAt != nil {
		t := normTime(*next.ExpiresAt)
		next.ExpiresAt = &t
	}
	now := s.timestamp()
	next.CreatedAt, next.UpdatedAt = now, now
	if cur != nil {
		next.CreatedAt = cur.CreatedAt
	}
	return cur, next, nil
}

// commitCredential stores next, prepared by prepareCredential, in place of
// cur, updates the indexes and notifies watchers. The caller holds s.mu for
// writing.
func (s *Store) commitCredential(username, id string, cur, next *credential.Credential) {
	if cur != nil {
		if cur.Name != "" {
			delete(s.names[username], cur.Name)
		}
		if cur.Lookup != "" {
			delete(s.lookups, cur.Lookup)
		}
	}
	if s.creds[username] == nil {
		s.creds[username] = make(map[string]*credential.Credential)
	}
	s.creds[username][id] = next
	if next.Name != "" {
		if s.names[username] == nil {
			s.names[username] = make(map[string]string)
		}
		s.names[username][next.Name] = id
	}
	if next.Lookup != "" {
		s.lookups[next.Lookup] = credKey{username, id}
	}
	s.notify(store.Change{Kind: store.KindCredential, Consumer: username, ID: id})
}

// FindCredential returns the credential whose Lookup is lookup, whichever
// consumer holds it; store.ErrNotFound when there is none.
func (s *Store) FindCredential(_ context.Context, lookup string) (*credential.Credential, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if key, ok := s.lookups[lookup]; ok && lookup != "" {
		if c, ok := s.creds[key.username][key.id]; ok {
			return c.Clone(), nil
		}
	}
	return nil, fmt.Errorf("credential with the given lookup: %w", store.ErrNotFound)
}

// DeleteCredential deletes credential id of the consumer username.
func (s *Store) DeleteCredential(_ context.Context, username, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.creds[username][id]; !ok {
		return fmt.Errorf("credential %q of consumer %q: %w", id, username, store.ErrNotFound)
	}
	s.deleteCredential(username, id)
	return nil
}

// deleteCredential removes an existing credential and its indexes and
// notifies watchers; the caller holds s.mu for writing.
func (s *Store) deleteCredential(username, id string) {
	c := s.creds[username][id]
	delete(s.creds[username], id)
	if c.Name != "" {
		delete(s.names[username], c.Name)
	}
	if c.Lookup != "" {
		delete(s.lookups, c.Lookup)
	}
	s.notify(store.Change{Kind: store.KindCredential, Deleted: true, Consumer: username, ID: id})
}

// ListCredentials returns a page of the consumer's credentials ordered by id;
// store.ErrNotFound when the consumer does not exist. opts.Labels and opts.Tag
// are ignored.
func (s *Store) ListCredentials(_ context.Context, username string, opts store.ListOptions) (store.Page[credential.Credential], error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if _, ok := s.consumers[username]; !ok {
		return store.Page[credential.Credential]{}, fmt.Errorf("consumer %q: %w", username, store.ErrNotFound)
	}
	return list(s.creds[username], opts, nil, (*credential.Credential).Clone)
}

// ---- routes ----

// GetRoute returns the route id.
func (s *Store) GetRoute(_ context.Context, id string) (*route.Route, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.routes[id]
	if !ok {
		return nil, fmt.Errorf("route %q: %w", id, store.ErrNotFound)
	}
	return r.Clone(), nil
}

// PutRoute creates or replaces route id with what fn returns. An empty ID in
// the result is set to id; a different one is an error.
func (s *Store) PutRoute(_ context.Context, id string, fn store.Mutator[route.Route]) (*route.Route, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next, created, err := put(s, s.routes, id, fn, (*route.Route).Clone,
		func(r *route.Route) (*string, *time.Time, *time.Time) { return &r.ID, &r.CreatedAt, &r.UpdatedAt })
	if err != nil {
		return nil, false, fmt.Errorf("store: route %q: %w", id, err)
	}
	s.notify(store.Change{Kind: store.KindRoute, ID: id})
	return next, created, nil
}

// DeleteRoute deletes route id.
func (s *Store) DeleteRoute(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.routes[id]; !ok {
		return fmt.Errorf("route %q: %w", id, store.ErrNotFound)
	}
	delete(s.routes, id)
	s.notify(store.Change{Kind: store.KindRoute, Deleted: true, ID: id})
	return nil
}

// ListRoutes returns a page of routes ordered by id. opts.Labels and opts.Tag
// are ignored.
func (s *Store) ListRoutes(_ context.Context, opts store.ListOptions) (store.Page[route.Route], error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return list(s.routes, opts, nil, (*route.Route).Clone)
}

// ---- service groups ----

// GetGroup returns the service group id.
func (s *Store) GetGroup(_ context.Context, id string) (*servicegroup.Group, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	g, ok := s.groups[id]
	if !ok {
		return nil, fmt.Errorf("service group %q: %w", id, store.ErrNotFound)
	}
	return g.Clone(), nil
}

// PutGroup creates or replaces service group id with what fn returns. An
// empty ID in the result is set to id; a different one is an error.
func (s *Store) PutGroup(_ context.Context, id string, fn store.Mutator[servicegroup.Group]) (*servicegroup.Group, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next, created, err := put(s, s.groups, id, fn, (*servicegroup.Group).Clone,
		func(g *servicegroup.Group) (*string, *time.Time, *time.Time) {
			return &g.ID, &g.CreatedAt, &g.UpdatedAt
		})
	if err != nil {
		return nil, false, fmt.Errorf("store: service group %q: %w", id, err)
	}
	s.notify(store.Change{Kind: store.KindGroup, ID: id})
	return next, created, nil
}

// DeleteGroup deletes service group id. Routes and credentials that name it
// are left as they are.
func (s *Store) DeleteGroup(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.groups[id]; !ok {
		return fmt.Errorf("service group %q: %w", id, store.ErrNotFound)
	}
	delete(s.groups, id)
	s.notify(store.Change{Kind: store.KindGroup, Deleted: true, ID: id})
	return nil
}

// ListGroups returns a page of service groups ordered by id, keeping those
// tagged opts.Tag when it is set. opts.Labels is ignored.
func (s *Store) ListGroups(_ context.Context, opts store.ListOptions) (store.Page[servicegroup.Group], error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var keep func(*servicegroup.Group) bool
	if opts.Tag != "" {
		keep = func(g *servicegroup.Group) bool { return g.HasTag(opts.Tag) }
	}
	return list(s.groups, opts, keep, (*servicegroup.Group).Clone)
}

// put writes what fn returns under key in m, for objects whose only rule is
// that the key field (given by fields, with the timestamps) keeps its value:
// empty means key, another value is an error. The caller holds s.mu for
// writing and notifies watchers. It returns a copy of the stored value.
func put[T any](s *Store, m map[string]*T, key string, fn store.Mutator[T], clone func(*T) *T,
	fields func(*T) (id *string, created, updated *time.Time)) (*T, bool, error) {
	cur, exists := m[key]
	var arg *T
	if exists {
		arg = clone(cur)
	}
	next, err := fn(arg)
	if err != nil {
		return nil, false, err
	}
	if next == nil {
		return nil, false, errNilResult
	}
	next = clone(next)
	id, created, updated := fields(next)
	if *id == "" {
		*id = key
	}
	if *id != key {
		return nil, false, fmt.Errorf("mutator changed the id to %q", *id)
	}
	now := s.timestamp()
	*created, *updated = now, now
	if exists {
		_, curCreated, _ := fields(cur)
		*created = *curCreated
	}
	m[key] = next
	return clone(next), !exists, nil
}

// ---- snapshot ----

// Snapshot returns a copy of the whole configuration: consumers by username,
// credentials by username then id, routes and groups by id.
func (s *Store) Snapshot(_ context.Context) (*store.Snapshot, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := 0
	for _, creds := range s.creds {
		n += len(creds)
	}
	snap := &store.Snapshot{
		Consumers:      make([]*consumer.Consumer, 0, len(s.consumers)),
		Credentials:    make([]*credential.Credential, 0, n),
		Routes:         make([]*route.Route, 0, len(s.routes)),
		Groups:         make([]*servicegroup.Group, 0, len(s.groups)),
		Gateways:       make([]*consumergroup.Gateway, 0, len(s.gateways)),
		ConsumerGroups: make([]*consumergroup.Group, 0, len(s.cgroups)),
	}
	for _, u := range sortedKeys(s.consumers) {
		snap.Consumers = append(snap.Consumers, s.consumers[u].Clone())
		creds := s.creds[u]
		for _, id := range sortedKeys(creds) {
			snap.Credentials = append(snap.Credentials, creds[id].Clone())
		}
	}
	for _, id := range sortedKeys(s.routes) {
		snap.Routes = append(snap.Routes, s.routes[id].Clone())
	}
	for _, id := range sortedKeys(s.groups) {
		snap.Groups = append(snap.Groups, s.groups[id].Clone())
	}
	for _, id := range sortedKeys(s.gateways) {
		snap.Gateways = append(snap.Gateways, s.gateways[id].Clone())
	}
	for _, id := range sortedKeys(s.cgroups) {
		snap.ConsumerGroups = append(snap.ConsumerGroups, s.cgroups[id].Clone())
	}
	return snap, nil
}

// ---- lists ----

// list returns the page of m (keyed by id) that opts selects among the values
// keep accepts (all when keep is nil), cloned.
func list[T any](m map[string]*T, opts store.ListOptions, keep func(*T) bool, clone func(*T) *T) (store.Page[T], error) {
	after := ""
	if opts.Cursor != "" {
		var err error
		if after, err = store.DecodeCursor(opts.Cursor); err != nil {
			return store.Page[T]{}, err
		}
	}
	n := opts.PageSize()
	page := store.Page[T]{Items: make([]*T, 0, min(n, len(m)))}
	last := ""
	for _, id := range sortedKeys(m) {
		v := m[id]
		if keep != nil && !keep(v) {
			continue
		}
		page.Total++
		if opts.Cursor != "" && id <= after {
			continue
		}
		if len(page.Items) == n {
			page.Next = store.EncodeCursor(last)
			continue
		}
		page.Items = append(page.Items, clone(v))
		last = id
	}
	return page, nil
}

func sortedKeys[T any](m map[string]T) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
