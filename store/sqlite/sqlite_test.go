package sqlite_test

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
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
	"github.com/gatehousehq/gatehouse/store/internal/sqlstore/sqlstoretest"
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

// TestOpenTogether opens one new file from several Stores at once: the
// migrations are applied once, and every Store works.
func TestOpenTogether(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	const n = 4
	type opened struct {
		s   *sqlite.Store
		err error
	}
	stores := make(chan opened, n)
	for range n {
		go func() {
			s, err := sqlite.Open(t.Context(), path)
			stores <- opened{s, err}
		}()
	}
	for i := range n {
		o := <-stores
		require.NoError(t, o.err)
		s := o.s
		t.Cleanup(func() { s.Close() })
		id := fmt.Sprintf("r%d", i)
		_, _, err := s.PutRoute(t.Context(), id, set(&route.Route{}))
		require.NoError(t, err)
	}
	s := open(t, path)
	page, err := s.ListRoutes(t.Context(), store.ListOptions{})
	require.NoError(t, err)
	require.Equal(t, n, page.Total)
}

// TestCloseEndsWatchers checks that closing the store closes the channels of
// its watchers.
func TestCloseEndsWatchers(t *testing.T) {
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "gatehouse.db"))
	require.NoError(t, err)
	ch, err := s.Watch(t.Context())
	require.NoError(t, err)
	require.NoError(t, s.Close())
	select {
	case _, ok := <-ch:
		require.False(t, ok, "no change was written")
	case <-time.After(5 * time.Second):
		t.Fatal("the watch channel stayed open after Close")
	}
}

// TestPaths opens files whose names hold the characters URIs give a
// meaning to.
func TestPaths(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a b.db", "a?b.db", "a#b.db", "a%41b.db"} {
		path := filepath.Join(dir, name)
		s := open(t, path)
		_, _, err := s.PutRoute(t.Context(), "r", set(&route.Route{}))
		require.NoError(t, err, name)
		_, err = os.Stat(path)
		require.NoError(t, err, "the file is where the path says")
	}
}

// TestNewerSchemaRefused checks that a build refuses a database whose schema
// a newer build migrated.
func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	s, err := sqlite.Open(t.Context(), path)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	_, err = db.Exec("INSERT INTO schema_migrations (version, name, applied_ms) VALUES (9999, '9999_future.sql', 0)")
	require.NoError(t, err)
	require.NoError(t, db.Close())
	_, err = sqlite.Open(t.Context(), path)
	require.ErrorContains(t, err, "newer than this build")
}

// TestPrunedChangesReset checks that a watcher that needs changes pruned from
// the outbox receives store.KindReset, then goes on.
func TestPrunedChangesReset(t *testing.T) {
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "gatehouse.db"), sqlite.WithChangeRetention(10, time.Hour))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	ch, err := s.Watch(t.Context())
	require.NoError(t, err)
	const n = 400 // more than the channel holds, fewer than a lag reset needs
	for i := range n {
		_, _, err := s.PutRoute(t.Context(), fmt.Sprintf("r%03d", i), set(&route.Route{}))
		require.NoError(t, err)
	}
	require.NoError(t, s.Prune(t.Context()))
	got := 0
	for reset := false; !reset; {
		select {
		case c := <-ch:
			if c.Kind == store.KindReset {
				reset = true
				continue
			}
			got++
		case <-time.After(5 * time.Second):
			t.Fatal("no reset after the outbox was pruned")
		}
	}
	require.Less(t, got, n, "the pruned changes were not delivered")
	_, _, err = s.PutRoute(t.Context(), "after", set(&route.Route{}))
	require.NoError(t, err)
	deadline := time.After(5 * time.Second)
	for {
		select {
		case c := <-ch:
			if c == (store.Change{Kind: store.KindRoute, ID: "after"}) {
				return
			}
		case <-deadline:
			t.Fatal("the watcher did not go on after the reset")
		}
	}
}

func TestBulk(t *testing.T) {
	sqlstoretest.Bulk(t, open(t, filepath.Join(t.TempDir(), "gatehouse.db")))
}

// TestUpgrade checks migrations 0003 and 0004 on a file that version 1 (JSON
// documents) made: everything stored reads back intact, in columns.
func TestUpgrade(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	old, err := sqlite.Open(t.Context(), path, sqlite.WithMigrationsUpTo(2))
	require.NoError(t, err)
	require.NoError(t, old.Close())
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	sqlstoretest.Upgrade(t, db, func(t *testing.T) store.Store { return open(t, path) })
	var n int
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM pragma_table_info('credentials') WHERE name = 'doc'").Scan(&n))
	require.Zero(t, n, "the documents are gone")
}

// A new database and its WAL are readable by their owner only.
func TestNewDatabaseIsPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	s, err := sqlite.Open(t.Context(), path)
	require.NoError(t, err)
	defer s.Close()
	_, _, err = s.PutConsumer(t.Context(), "alice", set(&consumer.Consumer{Username: "alice"}))
	require.NoError(t, err)
	for _, p := range []string{path, path + "-wal"} {
		fi, err := os.Stat(p)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), p)
	}
}
