package sqlite_test

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/consumergroup"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/servicegroup"
	"github.com/gatehousehq/gatehouse/store"
	"github.com/gatehousehq/gatehouse/store/sqlite"
	"github.com/gatehousehq/gatehouse/store/storetest"
)

func open(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "gatehouse.db"))
	})
}

// TestReopen checks that everything written survives closing the store and
// opening the file again, and that the reopened store goes on working.
func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	ctx := t.Context()
	s, err := sqlite.Open(ctx, path)
	require.NoError(t, err)
	put := func(fn func() error) { require.NoError(t, fn()) }
	put(func() error {
		_, _, err := s.PutConsumer(ctx, "alice", set(&consumer.Consumer{Desc: "a", Labels: map[string]string{"team": "x"},
			Plugins: map[string]json.RawMessage{"limit-count": json.RawMessage(`{"count": 1}`)}}))
		return err
	})
	put(func() error {
		_, _, err := s.PutCredential(ctx, "alice", "k1", set(&credential.Credential{Name: "main", Lookup: "L1", Enabled: true,
			AuthorizedEntities: []string{"group_a"}, Plugins: map[string]json.RawMessage{"key-auth": json.RawMessage(`{"key_hash": "h"}`)}}))
		return err
	})
	put(func() error {
		_, _, err := s.PutRoute(ctx, "r1", set(&route.Route{Name: "r", Frontend: route.Frontend{Paths: []string{"/r"}}}))
		return err
	})
	put(func() error {
		_, _, err := s.PutGroup(ctx, "g1", set(&servicegroup.Group{Name: "g", Tags: []string{"pay"}}))
		return err
	})
	put(func() error {
		_, _, err := s.PutGateway(ctx, "gw", set(&consumergroup.Gateway{Name: "gw"}))
		return err
	})
	put(func() error {
		_, _, err := s.PutConsumerGroup(ctx, "cg", set(&consumergroup.Group{GatewayID: "gw", Name: "gold"}))
		return err
	})
	before, err := s.Snapshot(ctx)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	s = open(t, path)
	after, err := s.Snapshot(ctx)
	require.NoError(t, err)
	require.Equal(t, before, after)
	found, err := s.FindCredential(ctx, "L1")
	require.NoError(t, err)
	require.Equal(t, "alice", found.Consumer, "the lookup index is intact")
	_, _, err = s.PutCredential(ctx, "alice", "k2", set(&credential.Credential{Name: "other", Lookup: "L1"}))
	require.ErrorIs(t, err, store.ErrConflict, "the uniqueness rules are intact")
	page, err := s.ListGroups(ctx, store.ListOptions{Tag: "pay"})
	require.NoError(t, err)
	require.Equal(t, 1, page.Total)

	// Watching goes on from the reopened outbox.
	ch, err := s.Watch(ctx)
	require.NoError(t, err)
	require.NoError(t, s.DeleteRoute(ctx, "r1"))
	select {
	case c := <-ch:
		require.Equal(t, store.Change{Kind: store.KindRoute, Deleted: true, ID: "r1"}, c)
	case <-time.After(5 * time.Second):
		t.Fatal("no change after reopening")
	}
}

// TestTwoStoresOneFile checks that a second Store on the same file (another
// process, say) sees the first one's writes through the outbox, by polling.
func TestTwoStoresOneFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	a, b := open(t, path), open(t, path)
	ch, err := b.Watch(t.Context())
	require.NoError(t, err)
	_, _, err = a.PutRoute(t.Context(), "r1", set(&route.Route{}))
	require.NoError(t, err)
	select {
	case c := <-ch:
		require.Equal(t, store.Change{Kind: store.KindRoute, ID: "r1"}, c)
	case <-time.After(3 * time.Second):
		t.Fatal("the other store's write was not seen")
	}
}

func set[T any](v *T) store.Mutator[T] { return func(*T) (*T, error) { return v, nil } }
