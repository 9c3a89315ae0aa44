// Package store defines where Gatehouse keeps its configuration: the Store
// interface every back-end implements, its errors, and its change notifications.
// Back-ends: store/memory (default); the conformance suite is store/storetest.
package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/consumergroup"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/servicegroup"
)

// Errors every back-end returns, wrapped with detail; match them with errors.Is.
var (
	// ErrNotFound: the object (or the consumer that would own it) does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the write would break a uniqueness rule (a credential name
	// within a consumer, a credential lookup key, or a consumer group name
	// within a gateway), or delete a gateway that holds consumer groups. The
	// store's own conflicts are a *ConflictError, which says which rule.
	ErrConflict = errors.New("conflict")
	// ErrInvalidCursor: ListOptions.Cursor is not one the store issued.
	ErrInvalidCursor = errors.New("invalid list cursor")
	// ErrUnavailable: the back-end cannot be reached (connection refused,
	// lost or timed out). The admin API answers 503 for it; a gateway keeps
	// serving its last good view until the store is back.
	ErrUnavailable = errors.New("store unavailable")
)

// ConflictRule names the rule a write refused with ErrConflict would break.
type ConflictRule uint8

// Conflict rules.
const (
	// ConflictCredentialName: another credential of the consumer has the name.
	ConflictCredentialName ConflictRule = iota + 1
	// ConflictCredentialLookup: another credential, of any consumer, has the
	// Lookup.
	ConflictCredentialLookup
	// ConflictConsumerGroupName: another consumer group of the gateway has the
	// name.
	ConflictConsumerGroupName
	// ConflictGatewayNotEmpty: the gateway to delete holds consumer groups.
	ConflictGatewayNotEmpty
)

// String returns the rule's name, for logs.
func (r ConflictRule) String() string {
	switch r {
	case ConflictCredentialName:
		return "credential name"
	case ConflictCredentialLookup:
		return "credential lookup"
	case ConflictConsumerGroupName:
		return "consumer group name"
	case ConflictGatewayNotEmpty:
		return "gateway not empty"
	}
	return "ConflictRule(" + strconv.Itoa(int(r)) + ")"
}

// ConflictError is the error a store returns when a write would break one of
// its rules; errors.Is(err, ErrConflict) holds for it. It names the object
// written and the rule, never secret material: a lookup conflict does not
// carry the lookup (for key-auth, the hash of a key). When a write breaks
// several rules, which one is reported is up to the back-end.
type ConflictError struct {
	// Rule is the rule the write would break.
	Rule ConflictRule
	// Kind is what the refused write was about: KindCredential for the
	// credential rules, KindConsumerGroup and KindGateway for the others.
	Kind Kind
	// Consumer is the username owning the credential, for credential rules.
	Consumer string
	// ID is the id of the credential, consumer group or gateway written or
	// deleted.
	ID string
	// Name is the name already taken, for ConflictCredentialName and
	// ConflictConsumerGroupName.
	Name string
}

// Error describes the conflict.
func (e *ConflictError) Error() string {
	var what string
	switch e.Rule {
	case ConflictCredentialName:
		what = fmt.Sprintf("credential %q of consumer %q: another credential of the consumer is named %q", e.ID, e.Consumer, e.Name)
	case ConflictCredentialLookup:
		what = fmt.Sprintf("credential %q of consumer %q: another credential has the same lookup key", e.ID, e.Consumer)
	case ConflictConsumerGroupName:
		what = fmt.Sprintf("consumer group %q: another group of its gateway is named %q", e.ID, e.Name)
	case ConflictGatewayNotEmpty:
		what = fmt.Sprintf("gateway %q holds consumer groups", e.ID)
	default:
		what = fmt.Sprintf("%s %q", e.Rule, e.ID)
	}
	return "store: " + what + ": " + ErrConflict.Error()
}

// Unwrap returns ErrConflict.
func (e *ConflictError) Unwrap() error { return ErrConflict }

// Mutator computes the new value of an object from its current one (nil when
// it does not exist yet). Returning an error aborts the write and is returned
// as is. The store passes a copy: the mutator may change and return it.
type Mutator[T any] func(cur *T) (*T, error)

// ListOptions selects a page of a list. Lists are ordered by id.
type ListOptions struct {
	// Limit is the page size; 0 means 100. Back-ends cap it at 1000.
	Limit int
	// Cursor continues a previous list: the Next of its page.
	Cursor string
	// Labels keeps only objects whose labels hold every pair (consumers).
	Labels map[string]string
	// Tag, when not empty, keeps only objects whose tags contain it (groups).
	Tag string
}

// CredentialQuery selects credentials of every consumer
// (Store.QueryCredentials). A zero field selects everything; the fields that
// are set must all match.
type CredentialQuery struct {
	// LookupPrefix keeps the credentials whose Lookup starts with it
	// (apikey.LookupPrefix: the Otoroshi API keys).
	LookupPrefix string
	// ConsumerGroup keeps the keys issued by the consumer group with this id.
	ConsumerGroup string
	// AnyEntity, when not empty, keeps the credentials whose
	// AuthorizedEntities hold at least one of these names.
	AnyEntity []string
}

// Match reports whether q selects c (for back-ends that filter in Go).
func (q *CredentialQuery) Match(c *credential.Credential) bool {
	if c.Lookup == "" || !strings.HasPrefix(c.Lookup, q.LookupPrefix) {
		return false
	}
	if q.ConsumerGroup != "" && c.ConsumerGroup != q.ConsumerGroup {
		return false
	}
	if len(q.AnyEntity) == 0 {
		return true
	}
	for _, e := range c.AuthorizedEntities {
		if slices.Contains(q.AnyEntity, e) {
			return true
		}
	}
	return false
}

// Page is one page of a list.
type Page[T any] struct {
	// Items in id order.
	Items []*T
	// Total counts every object that matches the filter, on all pages.
	Total int
	// Next is the cursor of the following page, or "" on the last one.
	Next string
}

// Snapshot is the whole configuration at one instant.
type Snapshot struct {
	Consumers   []*consumer.Consumer
	Credentials []*credential.Credential
	Routes      []*route.Route
	Groups      []*servicegroup.Group
	// Gateways and ConsumerGroups are the TrustGate-style gateways and the
	// consumer groups they hold, by id.
	Gateways       []*consumergroup.Gateway
	ConsumerGroups []*consumergroup.Group
}

// Kind names what a Change is about.
type Kind uint8

// Change kinds.
const (
	// KindReset means changes may have been missed: reload everything.
	KindReset Kind = iota
	KindConsumer
	KindCredential
	KindRoute
	KindGroup
	KindGateway
	KindConsumerGroup
)

// Change tells a watcher that one object was written or deleted. It carries
// keys, not values: the watcher reads the current value back, so that changes
// can be applied in any order and more than once.
type Change struct {
	Kind Kind
	// Deleted is true when the object no longer exists.
	Deleted bool
	// Consumer is the username for consumer and credential changes.
	Consumer string
	// ID is the credential, route, group, gateway or consumer group id.
	ID string
}

// Store keeps consumers, credentials, routes, service groups, gateways and
// consumer groups. Implementations are safe for
// concurrent use and every write is atomic: a write that fails changes nothing.
// Values passed in and returned are copies owned by the caller.
type Store interface {
	// GetConsumer returns the consumer named username.
	GetConsumer(ctx context.Context, username string) (*consumer.Consumer, error)
	// PutConsumer creates or replaces the consumer named username with what fn
	// returns, atomically. The result must keep the username. created is true
	// when it did not exist. Timestamps are set by the store.
	PutConsumer(ctx context.Context, username string, fn Mutator[consumer.Consumer]) (c *consumer.Consumer, created bool, err error)
	// DeleteConsumer deletes the consumer and every credential it holds.
	DeleteConsumer(ctx context.Context, username string) error
	// ListConsumers returns a page of consumers ordered by username.
	ListConsumers(ctx context.Context, opts ListOptions) (Page[consumer.Consumer], error)

	// GetCredential returns the credential id of the consumer username.
	GetCredential(ctx context.Context, username, id string) (*credential.Credential, error)
	// PutCredential creates or replaces credential id of the consumer username
	// with what fn returns, atomically. ErrNotFound when the consumer does not
	// exist; a *ConflictError when another credential of the consumer has the
	// same name (ConflictCredentialName), or any credential has the same
	// Lookup (ConflictCredentialLookup).
	PutCredential(ctx context.Context, username, id string, fn Mutator[credential.Credential]) (c *credential.Credential, created bool, err error)
	// PutConsumerWithCredential writes the consumer named username (what
	// consumerFn returns, as PutConsumer does) and its credential credID (what
	// credFn returns, as PutCredential does) in one atomic write: both land or
	// neither does. consumerFn runs first; credFn is not called when it fails.
	// The credential's rules are checked as PutCredential checks them.
	// Watchers see the consumer's change, then the credential's.
	PutConsumerWithCredential(ctx context.Context, username string, consumerFn Mutator[consumer.Consumer],
		credID string, credFn Mutator[credential.Credential]) (*consumer.Consumer, *credential.Credential, error)
	// FindCredential returns the credential whose Lookup is lookup, whichever
	// consumer holds it; ErrNotFound when there is none. An empty lookup is
	// never found.
	FindCredential(ctx context.Context, lookup string) (*credential.Credential, error)
	// DeleteCredential deletes credential id of the consumer username.
	DeleteCredential(ctx context.Context, username, id string) error
	// ListCredentials returns a page of the consumer's credentials ordered by
	// id; ErrNotFound when the consumer does not exist.
	ListCredentials(ctx context.Context, username string, opts ListOptions) (Page[credential.Credential], error)
	// QueryCredentials returns a page of the credentials of every consumer
	// that q selects, ordered by Lookup in byte order; credentials with an
	// empty Lookup never match. opts.Labels and opts.Tag are ignored.
	QueryCredentials(ctx context.Context, q CredentialQuery, opts ListOptions) (Page[credential.Credential], error)

	// GetRoute returns the route id.
	GetRoute(ctx context.Context, id string) (*route.Route, error)
	// PutRoute creates or replaces route id with what fn returns, atomically.
	PutRoute(ctx context.Context, id string, fn Mutator[route.Route]) (r *route.Route, created bool, err error)
	// DeleteRoute deletes route id.
	DeleteRoute(ctx context.Context, id string) error
	// ListRoutes returns a page of routes ordered by id.
	ListRoutes(ctx context.Context, opts ListOptions) (Page[route.Route], error)

	// GetGroup returns the service group id.
	GetGroup(ctx context.Context, id string) (*servicegroup.Group, error)
	// PutGroup creates or replaces service group id with what fn returns,
	// atomically. The result must keep the id.
	PutGroup(ctx context.Context, id string, fn Mutator[servicegroup.Group]) (g *servicegroup.Group, created bool, err error)
	// DeleteGroup deletes service group id, and nothing else: routes and
	// credentials that name it keep their references.
	DeleteGroup(ctx context.Context, id string) error
	// ListGroups returns a page of service groups ordered by id, keeping only
	// those tagged opts.Tag when it is set.
	ListGroups(ctx context.Context, opts ListOptions) (Page[servicegroup.Group], error)

	// GetGateway returns the gateway id.
	GetGateway(ctx context.Context, id string) (*consumergroup.Gateway, error)
	// PutGateway creates or replaces gateway id with what fn returns,
	// atomically. The result must keep the id.
	PutGateway(ctx context.Context, id string, fn Mutator[consumergroup.Gateway]) (g *consumergroup.Gateway, created bool, err error)
	// DeleteGateway deletes gateway id; a *ConflictError
	// (ConflictGatewayNotEmpty) while it holds consumer groups (nothing is
	// deleted behind the caller's back).
	DeleteGateway(ctx context.Context, id string) error
	// ListGateways returns a page of gateways ordered by id.
	ListGateways(ctx context.Context, opts ListOptions) (Page[consumergroup.Gateway], error)

	// GetConsumerGroup returns the consumer group id, whichever gateway holds it.
	GetConsumerGroup(ctx context.Context, id string) (*consumergroup.Group, error)
	// PutConsumerGroup creates or replaces consumer group id with what fn
	// returns, atomically. The result must keep the id and, for an existing
	// group, its GatewayID. ErrNotFound when its gateway does not exist; a
	// *ConflictError (ConflictConsumerGroupName) when another group of the
	// gateway has the same name.
	PutConsumerGroup(ctx context.Context, id string, fn Mutator[consumergroup.Group]) (g *consumergroup.Group, created bool, err error)
	// DeleteConsumerGroup deletes consumer group id and the keys it issued
	// (the credentials whose ConsumerGroup is id), atomically. Consumers whose
	// GroupID names it keep the reference, which then applies nothing.
	DeleteConsumerGroup(ctx context.Context, id string) error
	// ListConsumerGroups returns a page of the consumer groups of gatewayID
	// ordered by id; ErrNotFound when the gateway does not exist.
	ListConsumerGroups(ctx context.Context, gatewayID string, opts ListOptions) (Page[consumergroup.Group], error)

	// Snapshot returns the whole configuration.
	Snapshot(ctx context.Context) (*Snapshot, error)
	// Watch delivers a Change for every write made from now on, until ctx is
	// done, when the channel is closed. A watcher that falls behind receives a
	// KindReset change instead of blocking writers. To build a view, call Watch,
	// then Snapshot, then apply the changes that follow.
	Watch(ctx context.Context) (<-chan Change, error)
}

// MaxListLimit is the largest page size a list returns.
const MaxListLimit = 1000

// DefaultListLimit is the page size when ListOptions.Limit is 0.
const DefaultListLimit = 100
