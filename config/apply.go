package config

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/gatehousehq/gatehouse/check"
	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/consumergroup"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/servicegroup"
	"github.com/gatehousehq/gatehouse/store"
)

// errSecretGone is the failure of a write whose file entry has no secret
// while the stored credential it keeps the secret of was deleted meanwhile.
var errSecretGone = errors.New("the file gives no secret, and the stored credential whose secret it keeps was deleted meanwhile")

// ErrNoRegistry is returned by Validate, Apply and Export without
// WithRegistry.
var ErrNoRegistry = errors.New("config: no plugin registry: pass WithRegistry (the gateway's Registry())")

// Validate checks f against s as Apply would, writing nothing: every object
// with the admin API's rules (check), references between objects (a route's
// groups, a consumer's group_id, a credential's authorized entities, each in
// the file or the store), duplicates inside the file (two consumers with one
// username, two credentials with one key) and against the store (a key
// another credential holds). It returns a *ValidationError listing every
// problem by path, or the store's error.
func Validate(ctx context.Context, s store.Store, f *File, opts ...Option) error {
	cfg := newSettings(opts)
	_, err := build(ctx, s, f, cfg)
	return err
}

// Apply makes s hold what f says. It validates everything first (Validate)
// and writes nothing when anything is invalid. Then it writes only what
// differs from the store: an object equal to the stored one is not written
// (secrets compared with the stored hash or ciphertext), so applying the same
// file twice writes nothing the second time. With WithPrune it also deletes
// what the file no longer names. Writes go deletes first (credentials,
// consumers, routes, consumer groups, service groups), then the gateway,
// service groups, consumer groups, consumers and their credentials, routes.
// A write that fails stops Apply with an *ApplyError saying what was applied.
func Apply(ctx context.Context, s store.Store, f *File, opts ...Option) (Result, error) {
	cfg := newSettings(opts)
	p, err := build(ctx, s, f, cfg)
	if err != nil {
		return Result{}, err
	}
	if cfg.dryRun {
		return p.result, nil
	}
	var done Result
	for _, o := range p.ops {
		if err := o.run(ctx, s); err != nil {
			return done, &ApplyError{Applied: done, Op: o.desc, Err: err}
		}
		c := done.counts(o.kind)
		switch o.act {
		case actCreate:
			c.Created++
		case actUpdate:
			c.Updated++
		default:
			c.Deleted++
		}
	}
	for _, k := range []kind{kindGateway, kindGroup, kindConsumerGroup, kindConsumer, kindCredential, kindRoute} {
		done.counts(k).Unchanged = p.result.counts(k).Unchanged
	}
	return done, nil
}

type kind uint8

const (
	kindGateway kind = iota
	kindGroup
	kindConsumerGroup
	kindConsumer
	kindCredential
	kindRoute
)

type action uint8

const (
	actCreate action = iota
	actUpdate
	actDelete
)

func (a action) String() string {
	switch a {
	case actCreate:
		return "create"
	case actUpdate:
		return "update"
	}
	return "delete"
}

// op is one write of a plan.
type op struct {
	kind kind
	act  action
	desc string
	run  func(ctx context.Context, s store.Store) error
}

type plan struct {
	result  Result
	deletes []op
	writes  []op
	ops     []op
}

func (p *plan) write(k kind, act action, desc string, run func(context.Context, store.Store) error) {
	p.writes = append(p.writes, op{kind: k, act: act, desc: act.String() + " " + desc, run: run})
	c := p.result.counts(k)
	if act == actCreate {
		c.Created++
	} else {
		c.Updated++
	}
}

func (p *plan) del(k kind, desc string, run func(context.Context, store.Store) error) {
	p.deletes = append(p.deletes, op{kind: k, act: actDelete, desc: "delete " + desc, run: run})
	p.result.counts(k).Deleted++
}

func (p *plan) same(k kind) { p.result.counts(k).Unchanged++ }

type credKey struct{ consumer, id string }

// index is the store's content, by key.
type index struct {
	consumers map[string]*consumer.Consumer
	creds     map[credKey]*credential.Credential
	credsOf   map[string][]*credential.Credential
	byLookup  map[string]*credential.Credential
	routes    map[string]*route.Route
	groups    map[string]*servicegroup.Group
	cgroups   map[string]*consumergroup.Group
	gateway   *consumergroup.Gateway
}

func newIndex(snap *store.Snapshot, gatewayID string) *index {
	x := &index{
		consumers: map[string]*consumer.Consumer{}, creds: map[credKey]*credential.Credential{},
		credsOf: map[string][]*credential.Credential{}, byLookup: map[string]*credential.Credential{},
		routes: map[string]*route.Route{}, groups: map[string]*servicegroup.Group{}, cgroups: map[string]*consumergroup.Group{},
	}
	for _, c := range snap.Consumers {
		x.consumers[c.Username] = c
	}
	for _, c := range snap.Credentials {
		x.creds[credKey{c.Consumer, c.ID}] = c
		x.credsOf[c.Consumer] = append(x.credsOf[c.Consumer], c)
		if c.Lookup != "" {
			x.byLookup[c.Lookup] = c
		}
	}
	for _, r := range snap.Routes {
		x.routes[r.ID] = r
	}
	for _, g := range snap.Groups {
		x.groups[g.ID] = g
	}
	for _, g := range snap.ConsumerGroups {
		x.cgroups[g.ID] = g
	}
	for _, g := range snap.Gateways {
		if g.ID == gatewayID {
			x.gateway = g
		}
	}
	return x
}

// builder computes the plan of one file against one snapshot.
type builder struct {
	cfg settings
	f   *File
	x   *index
	p   problems
	pl  plan

	// What the file names.
	fileGroups, fileCGroups, fileConsumers, fileRoutes map[string]bool
	fileCreds                                          map[credKey]bool
	// entities holds every authorized-entity entry that names a service
	// group, route or API existing once the file is applied.
	entities map[string]bool
}

func build(ctx context.Context, s store.Store, f *File, cfg settings) (*plan, error) {
	if cfg.reg == nil {
		return nil, ErrNoRegistry
	}
	if f == nil {
		f = &File{}
	}
	snap, err := s.Snapshot(ctx)
	if err != nil {
		return nil, fmt.Errorf("config: read the store: %w", err)
	}
	b := &builder{cfg: cfg, f: f, x: newIndex(snap, cfg.gatewayID)}
	b.names()
	b.gateway()
	b.groups()
	b.consumerGroups()
	b.consumers()
	b.routes()
	if err := b.p.err(); err != nil {
		return nil, err
	}
	// Deletes in the documented order (what refers to an object goes
	// before it), whatever order the kinds were planned in.
	slices.SortStableFunc(b.pl.deletes, func(x, y op) int { return deleteRank(x.kind) - deleteRank(y.kind) })
	b.pl.ops = append(b.pl.deletes, b.pl.writes...)
	return &b.pl, nil
}

// deleteRank is a kind's place among the deletes: credentials, consumers,
// routes, consumer groups, service groups.
func deleteRank(k kind) int {
	switch k {
	case kindCredential:
		return 0
	case kindConsumer:
		return 1
	case kindRoute:
		return 2
	case kindConsumerGroup:
		return 3
	}
	return 4
}

// names records what the file names and what exists once it is applied.
func (b *builder) names() {
	b.fileGroups, b.fileCGroups, b.fileConsumers, b.fileRoutes = map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	b.fileCreds = map[credKey]bool{}
	for _, g := range b.f.Groups {
		b.fileGroups[g.ID] = true
	}
	for _, g := range b.f.ConsumerGroups {
		b.fileCGroups[g.ID] = true
	}
	for _, c := range b.f.Consumers {
		b.fileConsumers[c.Username] = true
		for _, cr := range c.Credentials {
			b.fileCreds[credKey{c.Username, cr.id()}] = true
		}
	}
	for _, r := range b.f.Routes {
		b.fileRoutes[r.ID] = true
	}
	b.entities = map[string]bool{}
	add := func(kind, id string) {
		for _, n := range credential.EntityNames(kind, id) {
			b.entities[n] = true
		}
	}
	for _, g := range b.f.Groups {
		add(credential.EntityGroup, g.ID)
	}
	for id := range b.x.groups {
		if !b.cfg.prune {
			add(credential.EntityGroup, id)
		}
	}
	for _, r := range b.f.Routes {
		add(credential.EntityRoute, r.ID)
		if r.API != "" {
			add(credential.EntityAPI, r.API)
		}
	}
	for _, r := range b.x.routes {
		if !b.cfg.prune {
			add(credential.EntityRoute, r.ID)
			if r.API != "" {
				add(credential.EntityAPI, r.API)
			}
		}
	}
}

// groupAfter reports whether service group id exists once the file is applied.
func (b *builder) groupAfter(id string) bool {
	return b.fileGroups[id] || (!b.cfg.prune && b.x.groups[id] != nil)
}

// consumerGroupAfter reports whether consumer group id exists once the file
// is applied.
func (b *builder) consumerGroupAfter(id string) bool {
	if b.fileCGroups[id] {
		return true
	}
	g := b.x.cgroups[id]
	return g != nil && (!b.cfg.prune || g.GatewayID != b.cfg.gatewayID)
}

// credentialAfter reports whether stored credential c still exists once the
// file is applied, under its current name and key unless the file names it.
func (b *builder) credentialAfter(c *credential.Credential) bool {
	if b.fileCreds[credKey{c.Consumer, c.ID}] {
		return true
	}
	if !b.cfg.prune {
		return true
	}
	return b.fileConsumers[c.Consumer] && c.ConsumerGroup != ""
}

func (b *builder) gateway() {
	id := b.cfg.gatewayID
	cur := b.x.gateway
	var next *consumergroup.Gateway
	switch {
	case cur != nil && b.f.Plugins == nil && !b.cfg.prune:
		return // the file says nothing of the gateway
	case cur != nil:
		next = cur.Clone()
		if b.f.Plugins != nil {
			next.Plugins = consumer.ClonePlugins(b.f.Plugins)
		} else if b.cfg.prune {
			next.Plugins = nil
		}
	case b.f.Plugins != nil || len(b.f.ConsumerGroups) > 0:
		next = &consumergroup.Gateway{ID: id, Name: id, Plugins: consumer.ClonePlugins(b.f.Plugins)}
	default:
		return
	}
	if err := check.Gateway(b.cfg.reg, next); err != nil {
		b.p.merge("", err)
		return
	}
	gatewayKind.plan(b, id, gatewayKind.desc(id), cur, next, func(n, c *consumergroup.Gateway) error {
		if c != nil {
			n.Name = c.Name
			if b.f.Plugins == nil && !b.cfg.prune {
				n.Plugins = c.Plugins
			}
		}
		return nil
	})
}

func (b *builder) groups() {
	seen := map[string]int{}
	for i := range b.f.Groups {
		g := &b.f.Groups[i]
		path := fmt.Sprintf("groups[%d]", i)
		ent := g.entity()
		b.p.merge(path, check.Group(ent))
		if !b.firstID(seen, "groups", i, g.ID) {
			continue
		}
		groupKind.plan(b, ent.ID, groupKind.desc(g.ID), b.x.groups[g.ID], ent, nil)
	}
	groupKind.prune(b, b.x.groups, func(id string) bool { return !b.fileGroups[id] }, groupKind.desc)
}

func (b *builder) consumerGroups() {
	gw := b.cfg.gatewayID
	desc := func(id string) string { return cgroupKind.desc(id) + fmt.Sprintf(" of gateway %q", gw) }
	seen, names := map[string]int{}, map[string]int{}
	for i := range b.f.ConsumerGroups {
		g := &b.f.ConsumerGroups[i]
		path := fmt.Sprintf("consumer_groups[%d]", i)
		ent := g.entity(gw)
		b.p.merge(path, check.ConsumerGroup(b.cfg.reg, ent))
		if g.Name != "" {
			if j, dup := names[g.Name]; dup {
				b.p.add(path+".name", fmt.Sprintf("%q is also the name of consumer_groups[%d]", g.Name, j))
			}
			names[g.Name] = i
			for _, other := range b.x.cgroups {
				if other.GatewayID == gw && other.Name == g.Name && other.ID != g.ID && !b.fileCGroups[other.ID] && !b.cfg.prune {
					b.p.add(path+".name", fmt.Sprintf("gateway %q already has a consumer group named %q (id %q)", gw, g.Name, other.ID))
				}
			}
		}
		if !b.firstID(seen, "consumer_groups", i, g.ID) {
			continue
		}
		cur := b.x.cgroups[g.ID]
		if cur != nil && cur.GatewayID != gw {
			b.p.add(path+".id", fmt.Sprintf("%q is a consumer group of gateway %q", g.ID, cur.GatewayID))
			continue
		}
		cgroupKind.plan(b, ent.ID, desc(g.ID), cur, ent, func(_, c *consumergroup.Group) error {
			if c != nil && c.GatewayID != gw {
				return fmt.Errorf("consumer group %q now belongs to gateway %q: %w", c.ID, c.GatewayID, store.ErrConflict)
			}
			return nil
		})
	}
	cgroupKind.prune(b, b.x.cgroups, func(id string) bool { return b.x.cgroups[id].GatewayID == gw && !b.fileCGroups[id] }, desc)
}

func (b *builder) consumers() {
	seen := map[string]int{}
	lookups := map[string]string{} // lookup → path of the file's credential holding it
	for i := range b.f.Consumers {
		c := &b.f.Consumers[i]
		path := fmt.Sprintf("consumers[%d]", i)
		ent := c.entity()
		b.p.merge(path, check.Consumer(b.cfg.reg, ent))
		cur := b.x.consumers[c.Username]
		if gid := ent.GroupID; gid != "" && consumer.ValidName(gid) && !b.consumerGroupAfter(gid) && (cur == nil || cur.GroupID != gid) {
			b.p.add(path+".group_id", fmt.Sprintf("%q names no consumer group of the file or the store", gid))
		}
		if c.Username == "" || !b.first(seen, "consumers", i, "username", c.Username) {
			continue
		}
		consumerKind.plan(b, ent.Username, consumerKind.desc(c.Username), cur, ent, nil)
		b.credentials(c, path, cur != nil, lookups)
	}
	consumerKind.prune(b, b.x.consumers, func(name string) bool { return !b.fileConsumers[name] }, consumerKind.desc)
}

func (b *builder) credentials(c *Consumer, path string, exists bool, lookups map[string]string) {
	username := c.Username
	ids, names := map[string]int{}, map[string]int{}
	for j := range c.Credentials {
		cr := &c.Credentials[j]
		cpath := fmt.Sprintf("%s.credentials[%d]", path, j)
		id := cr.id()
		next := cr.entity(username)
		var prev *credential.Credential
		if exists {
			prev = b.x.creds[credKey{username, id}]
		}
		reveal, err := check.Credential(b.cfg.reg, next, prev)
		if err != nil {
			b.p.merge(cpath, err)
			continue
		}
		scheme := "plugins." + next.Scheme()
		if reveal != nil {
			b.p.add(join(cpath, scheme), "holds no secret, and the store has no such credential to keep one from: write the secret (from the environment: ${NAME})")
			continue
		}
		if k, dup := ids[id]; dup {
			b.p.add(cpath+".id", fmt.Sprintf("%q is also the id of credentials[%d] (the id is the name when absent)", id, k))
			continue
		}
		ids[id] = j
		if k, dup := names[cr.Name]; dup {
			b.p.add(cpath+".name", fmt.Sprintf("%q is also the name of credentials[%d]", cr.Name, k))
		}
		names[cr.Name] = j
		for _, other := range b.x.credsOf[username] {
			if exists && other.ID != id && other.Name == cr.Name && !b.fileCreds[credKey{username, other.ID}] && b.credentialAfter(other) {
				b.p.add(cpath+".name", fmt.Sprintf("consumer %q already has credential %q named %q", username, other.ID, cr.Name))
			}
		}
		if at, dup := lookups[next.Lookup]; dup {
			b.p.add(join(cpath, scheme), "the same key (or username, key_id, clientId) as "+at)
		} else {
			lookups[next.Lookup] = cpath
			if h := b.x.byLookup[next.Lookup]; h != nil && (h.Consumer != username || h.ID != id) &&
				!b.fileCreds[credKey{h.Consumer, h.ID}] && b.credentialAfter(h) {
				b.p.add(join(cpath, scheme), fmt.Sprintf("the same key (or username, key_id, clientId) as credential %q of consumer %q in the store", h.ID, h.Consumer))
			}
		}
		for k, e := range next.AuthorizedEntities {
			if !b.entities[e] && (prev == nil || !slices.Contains(prev.AuthorizedEntities, e)) {
				b.p.add(cpath+".authorized_entities", fmt.Sprintf("entry %d (%q) names no service group, route or API of the file or the store", k, e))
			}
		}
		if prev != nil && sameCredential(prev, next) {
			b.pl.same(kindCredential)
			continue
		}
		file := cr
		b.pl.write(kindCredential, actOf(prev != nil), fmt.Sprintf("credential %q of consumer %q", id, username), func(ctx context.Context, s store.Store) error {
			_, _, err := s.PutCredential(ctx, username, id, func(cur *credential.Credential) (*credential.Credential, error) {
				if cur.Equal(prev) {
					return next.Clone(), nil // sealed against what is still stored
				}
				// Changed since it was read: seal again over the current one.
				n := file.entity(username)
				reveal, err := check.Credential(b.cfg.reg, n, cur)
				if err != nil {
					return nil, err
				}
				if reveal != nil {
					// The file gives no secret and the credential it was
					// to keep one from is gone: never write a key nobody
					// is shown.
					return nil, errSecretGone
				}
				return n, nil
			})
			return err
		})
	}
	if b.cfg.prune && exists {
		for _, other := range b.x.credsOf[username] {
			if !b.fileCreds[credKey{username, other.ID}] && other.ConsumerGroup == "" {
				id := other.ID
				b.pl.del(kindCredential, fmt.Sprintf("credential %q of consumer %q", id, username), func(ctx context.Context, s store.Store) error {
					return ignoreNotFound(s.DeleteCredential(ctx, username, id))
				})
			}
		}
	}
}

func (b *builder) routes() {
	seen := map[string]int{}
	for i := range b.f.Routes {
		r := &b.f.Routes[i]
		path := fmt.Sprintf("routes[%d]", i)
		ent := r.entity()
		b.p.merge(path, check.Route(b.cfg.reg, ent))
		cur := b.x.routes[r.ID]
		for k, g := range ent.Groups {
			if !b.groupAfter(g) && (cur == nil || !slices.Contains(cur.Groups, g)) {
				b.p.add(path+".groups", fmt.Sprintf("entry %d (%q) names no service group of the file or the store", k, g))
			}
		}
		if !b.firstID(seen, "routes", i, r.ID) {
			continue
		}
		routeKind.plan(b, ent.ID, routeKind.desc(r.ID), cur, ent, nil)
	}
	routeKind.prune(b, b.x.routes, func(id string) bool { return !b.fileRoutes[id] }, routeKind.desc)
}

// firstID reports whether list[i] has an id and the first entry of list
// to have it; when not, it records the problem.
func (b *builder) firstID(seen map[string]int, list string, i int, id string) bool {
	if id == "" {
		b.p.add(fmt.Sprintf("%s[%d].id", list, i), "is required")
		return false
	}
	return b.first(seen, list, i, "id", id)
}

// first reports whether list[i] is the first entry of list whose field is
// key (and records it in seen); when not, it records the problem.
func (b *builder) first(seen map[string]int, list string, i int, field, key string) bool {
	if j, dup := seen[key]; dup {
		b.p.add(fmt.Sprintf("%s[%d].%s", list, i, field), fmt.Sprintf("%q is also the %s of %s[%d]", key, field, list, j))
		return false
	}
	seen[key] = i
	return true
}

// planKind is how the planner compares, writes and deletes one kind of stored
// object (T: a service group, a route...), the same for every kind.
type planKind[T any] struct {
	kind  kind
	noun  string // what a plan's op calls it: "service group"
	clone func(*T) *T
	// times points at the object's timestamps, which the store keeps.
	times func(*T) (created, updated *time.Time)
	// even, when set, fills in a copy what the store may give back in
	// another form (an empty list for none), before two are compared.
	even func(*T)
	put  func(store.Store, context.Context, string, store.Mutator[T]) (*T, bool, error)
	del  func(store.Store, context.Context, string) error
}

var (
	gatewayKind = planKind[consumergroup.Gateway]{kind: kindGateway, noun: "gateway", clone: (*consumergroup.Gateway).Clone,
		times: func(g *consumergroup.Gateway) (*time.Time, *time.Time) { return &g.CreatedAt, &g.UpdatedAt },
		put:   store.Store.PutGateway} // never pruned
	groupKind = planKind[servicegroup.Group]{kind: kindGroup, noun: "service group", clone: (*servicegroup.Group).Clone,
		times: func(g *servicegroup.Group) (*time.Time, *time.Time) { return &g.CreatedAt, &g.UpdatedAt },
		put:   store.Store.PutGroup, del: store.Store.DeleteGroup}
	cgroupKind = planKind[consumergroup.Group]{kind: kindConsumerGroup, noun: "consumer group", clone: (*consumergroup.Group).Clone,
		times: func(g *consumergroup.Group) (*time.Time, *time.Time) { return &g.CreatedAt, &g.UpdatedAt },
		even: func(g *consumergroup.Group) {
			if g.RequiredPlugins == nil {
				g.RequiredPlugins = []consumergroup.PluginConfig{}
			}
		},
		put: store.Store.PutConsumerGroup, del: store.Store.DeleteConsumerGroup}
	consumerKind = planKind[consumer.Consumer]{kind: kindConsumer, noun: "consumer", clone: (*consumer.Consumer).Clone,
		times: func(c *consumer.Consumer) (*time.Time, *time.Time) { return &c.CreatedAt, &c.UpdatedAt },
		put:   store.Store.PutConsumer, del: store.Store.DeleteConsumer}
	routeKind = planKind[route.Route]{kind: kindRoute, noun: "route", clone: (*route.Route).Clone,
		times: func(r *route.Route) (*time.Time, *time.Time) { return &r.CreatedAt, &r.UpdatedAt },
		put:   store.Store.PutRoute, del: store.Store.DeleteRoute}
)

// desc names the object id in a plan's op: service group "shop".
func (k planKind[T]) desc(id string) string { return fmt.Sprintf("%s %q", k.noun, id) }

// same reports whether stored object cur already is next, timestamps aside.
func (k planKind[T]) same(cur, next *T) bool {
	a, b := k.clone(cur), k.clone(next)
	for _, v := range []*T{a, b} {
		c, u := k.times(v)
		*c, *u = time.Time{}, time.Time{}
		if k.even != nil {
			k.even(v)
		}
	}
	return sameJSON(a, b)
}

// plan counts next unchanged when cur (the stored object, or nil) already
// is next, and otherwise plans writing a copy of next under id, keeping the
// timestamps of the object stored then. adjust, when not nil, is called in
// the write with that copy and the object stored then (nil for none): it may
// change the copy or refuse the write.
func (k planKind[T]) plan(b *builder, id, desc string, cur, next *T, adjust func(n, c *T) error) {
	if cur != nil && k.same(cur, next) {
		b.pl.same(k.kind)
		return
	}
	b.pl.write(k.kind, actOf(cur != nil), desc, func(ctx context.Context, s store.Store) error {
		_, _, err := k.put(s, ctx, id, func(c *T) (*T, error) {
			n := k.clone(next)
			if c != nil {
				nc, nu := k.times(n)
				cc, cu := k.times(c)
				*nc, *nu = *cc, *cu
			}
			if adjust != nil {
				if err := adjust(n, c); err != nil {
					return nil, err
				}
			}
			return n, nil
		})
		return err
	})
}

// prune plans, with WithPrune, deleting every object of stored (by id) the
// file no longer holds: those gone reports.
func (k planKind[T]) prune(b *builder, stored map[string]*T, gone func(id string) bool, desc func(id string) string) {
	if !b.cfg.prune {
		return
	}
	for _, id := range sortedKeys(stored) {
		if gone(id) {
			b.pl.del(k.kind, desc(id), func(ctx context.Context, s store.Store) error {
				return ignoreNotFound(k.del(s, ctx, id))
			})
		}
	}
}

func actOf(exists bool) action {
	if exists {
		return actUpdate
	}
	return actCreate
}

// ignoreNotFound: an object already gone is what a delete wants.
func ignoreNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// sameCredential reports whether stored credential cur already is next (a
// credential sealed over cur: a secret it already had keeps its stored form).
func sameCredential(cur, next *credential.Credential) bool {
	a, b := cur.Clone(), next.Clone()
	for _, c := range []*credential.Credential{a, b} {
		c.CreatedAt, c.UpdatedAt = time.Time{}, time.Time{}
		if c.ExpiresAt != nil {
			t := c.ExpiresAt.UTC()
			c.ExpiresAt = &t
		}
	}
	return a.Consumer == b.Consumer && a.Lookup == b.Lookup && sameJSON(a, b)
}

// sameJSON reports whether a and b encode to the same JSON value (object
// keys in any order, numbers by their text).
func sameJSON(a, b any) bool {
	va, ok1 := jsonValue(a)
	vb, ok2 := jsonValue(b)
	return ok1 && ok2 && reflect.DeepEqual(va, vb)
}

func jsonValue(v any) (any, bool) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, false
	}
	return out, true
}
