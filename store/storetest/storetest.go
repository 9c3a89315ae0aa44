// Package storetest is the conformance suite of store.Store: every back-end
// runs Run from its own tests, so that all of them behave the same way.
package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store"
)

// Run checks that the stores newStore returns behave as store.Store documents.
// newStore is called once per subtest and must return an empty store; use
// t.Cleanup to release it.
//
// Besides the interface's documentation, the suite pins down what users of
// every back-end rely on:
//   - timestamps are set by the store, in UTC, with microsecond precision, and
//     UpdatedAt advances on every write while CreatedAt is kept;
//   - a mutator result with an empty username or id gets the key; a different
//     one is an error; a credential's Consumer is always the username key;
//   - deleting a service group deletes nothing else; deleting a consumer group
//     deletes the keys it issued and nothing else; a gateway holding consumer
//     groups cannot be deleted; consumer group names are unique per gateway;
//   - empty credential Lookups never conflict;
//   - every conflict the store detects is a *store.ConflictError naming the
//     rule and the object written, and never the Lookup;
//   - PutConsumerWithCredential changes nothing when either part fails, and
//     notifies the consumer before the credential;
//   - lists are in byte order of ids; cursors are opaque, survive deletion of
//     the item they point at, and an undecodable one is an error that is
//     neither store.ErrNotFound nor store.ErrConflict; ListOptions.Tag keeps
//     the groups whose tags contain it, and Total counts only those;
//   - a watcher that never reads blocks no writer and later gets store.KindReset;
//     deleting a consumer notifies each of its credentials, then the consumer.
//
// Plugin settings are compared byte for byte, so the suite writes them in the
// form PostgreSQL's jsonb prints (`{"a": 1}`).
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, func(*testing.T) store.Store)
	}{
		{"Consumers", testConsumers},
		{"Credentials", testCredentials},
		{"FindCredential", testFindCredential},
		{"QueryCredentials", testQueryCredentials},
		{"ConsumerWithCredential", testConsumerWithCredential},
		{"Routes", testRoutes},
		{"Groups", testGroups},
		{"Gateways", testGateways},
		{"ConsumerGroups", testConsumerGroups},
		{"Copies", testCopies},
		{"Lists", testLists},
		{"Snapshot", testSnapshot},
		{"Watch", testWatch},
		{"Concurrency", testConcurrency},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore) })
	}
}

// set is a mutator that ignores the current value and writes v.
func set[T any](v *T) store.Mutator[T] {
	return func(*T) (*T, error) { return v, nil }
}

// raw is a plugin settings value.
func raw(s string) json.RawMessage { return json.RawMessage(s) }

func newConsumer(username string, labels map[string]string) *consumer.Consumer {
	return &consumer.Consumer{
		Username: username,
		Desc:     "consumer " + username,
		Labels:   labels,
		Plugins:  map[string]json.RawMessage{"limit-count": raw(`{"count": 10, "time_window": 60}`)},
	}
}

func newCredential(id, name, lookup string) *credential.Credential {
	return &credential.Credential{
		ID:                 id,
		Name:               name,
		Plugins:            map[string]json.RawMessage{"key-auth": raw(`{"key_hash": "` + lookup + `"}`)},
		AuthorizedEntities: []string{"group_a", "route_r1"},
		Enabled:            true,
		Lookup:             lookup,
	}
}

func newRoute(id string) *route.Route {
	return &route.Route{
		ID:       id,
		Name:     "route " + id,
		Groups:   []string{"g1"},
		Frontend: route.Frontend{Paths: []string{"/" + id}, Methods: []string{"GET"}},
		Backend:  &route.Backend{Target: "http://127.0.0.1:9000"},
		Plugins:  map[string]json.RawMessage{"key-auth": raw(`{}`)},
		AuthMode: route.AuthAny,
	}
}

func mustPutConsumer(t *testing.T, s store.Store, c *consumer.Consumer) *consumer.Consumer {
	t.Helper()
	out, _, err := s.PutConsumer(t.Context(), c.Username, set(c))
	require.NoError(t, err)
	return out
}

func mustPutCredential(t *testing.T, s store.Store, username string, c *credential.Credential) *credential.Credential {
	t.Helper()
	out, _, err := s.PutCredential(t.Context(), username, c.ID, set(c))
	require.NoError(t, err)
	return out
}

func mustPutRoute(t *testing.T, s store.Store, r *route.Route) *route.Route {
	t.Helper()
	out, _, err := s.PutRoute(t.Context(), r.ID, set(r))
	require.NoError(t, err)
	return out
}

// requireConflict checks that err is the store's conflict want: a
// *store.ConflictError matched by errors.Is(err, store.ErrConflict), whose
// message does not carry the secret-derived lookup (when not empty).
func requireConflict(t *testing.T, err error, want store.ConflictError, lookup string, msgAndArgs ...any) {
	t.Helper()
	require.ErrorIs(t, err, store.ErrConflict, msgAndArgs...)
	var got *store.ConflictError
	require.ErrorAs(t, err, &got, msgAndArgs...)
	require.Equal(t, want, *got, msgAndArgs...)
	if lookup != "" {
		require.NotContains(t, err.Error(), lookup, msgAndArgs...)
	}
}

// requireStamped checks timestamps a store just set: UTC, microsecond
// precision, close to the wall clock, UpdatedAt not before CreatedAt.
func requireStamped(t *testing.T, created, updated time.Time) {
	t.Helper()
	for _, ts := range []time.Time{created, updated} {
		require.False(t, ts.IsZero(), "timestamp not set")
		require.Equal(t, time.UTC, ts.Location(), "timestamp %v is not UTC", ts)
		require.Zero(t, ts.Nanosecond()%1000, "timestamp %v has sub-microsecond precision", ts)
		require.WithinDuration(t, time.Now(), ts, time.Minute)
	}
	require.False(t, updated.Before(created), "UpdatedAt %v before CreatedAt %v", updated, created)
}

// tick waits long enough for the store's clock to move by more than its
// precision, so that a rewrite gets a later UpdatedAt.
func tick() { time.Sleep(5 * time.Millisecond) }
