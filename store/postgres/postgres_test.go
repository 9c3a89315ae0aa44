package postgres_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"net/url"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/internal/testenv"
	"github.com/gatehousehq/gatehouse/internal/testnet"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store"
	"github.com/gatehousehq/gatehouse/store/postgres"
	"github.com/gatehousehq/gatehouse/store/storetest"
)

// newSchema returns a fresh schema name, dropped with everything in it when
// the test ends.
func newSchema(t testing.TB, dsn string) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "gatehouse_test_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer db.Close()
		if _, err := db.Exec(`DROP SCHEMA IF EXISTS "` + schema + `" CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

func open(t *testing.T, dsn, schema string, opts ...postgres.Option) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), dsn, append([]postgres.Option{postgres.WithSchema(schema)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	dsn := testenv.Postgres(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, dsn, newSchema(t, dsn))
	})
}

func set[T any](v *T) store.Mutator[T] { return func(*T) (*T, error) { return v, nil } }

// within waits for want on ch for at most d.
func within(t *testing.T, ch <-chan store.Change, d time.Duration, want store.Change) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case c, ok := <-ch:
			require.True(t, ok, "the watch channel closed")
			if c == want {
				return
			}
		case <-deadline:
			t.Fatalf("%+v not delivered within %v", want, d)
		}
	}
}

// TestTwoInstances checks that a write through one Store reaches the
// watchers of another Store on the same schema within a second, and that
// opening the same schema twice at once migrates it once.
func TestTwoInstances(t *testing.T) {
	dsn := testenv.Postgres(t)
	schema := newSchema(t, dsn)
	stores := make(chan *postgres.Store, 2)
	for range 2 {
		go func() {
			s, err := postgres.Open(context.Background(), dsn, postgres.WithSchema(schema))
			if err != nil {
				t.Error(err)
			}
			stores <- s
		}()
	}
	a, b := <-stores, <-stores
	require.NotNil(t, a)
	require.NotNil(t, b)
	t.Cleanup(func() { a.Close(); b.Close() })

	chA, err := a.Watch(t.Context())
	require.NoError(t, err)
	chB, err := b.Watch(t.Context())
	require.NoError(t, err)
	for i, w := range []struct {
		writer *postgres.Store
		id     string
	}{{a, "from-a"}, {b, "from-b"}, {a, "again"}} {
		start := time.Now()
		_, _, err := w.writer.PutRoute(t.Context(), w.id, set(&route.Route{}))
		require.NoError(t, err)
		for _, ch := range []<-chan store.Change{chA, chB} {
			within(t, ch, time.Second, store.Change{Kind: store.KindRoute, ID: w.id})
		}
		t.Logf("write %d seen by both instances after %v", i, time.Since(start))
	}
}

// TestOutage cuts one Store from the server: its calls fail promptly with
// store.ErrUnavailable, its watch channel stays open and receives
// store.KindReset after the server is back, and everything resumes without
// a restart; another Store's watcher sees the first write after it.
func TestOutage(t *testing.T) {
	dsn := testenv.Postgres(t)
	u, err := url.Parse(dsn)
	require.NoError(t, err, "GATEHOUSE_TEST_POSTGRES must be a URL for this test")
	proxy := testnet.NewProxy(t, u.Host)
	cut := *u
	cut.Host = proxy.Addr()
	schema := newSchema(t, dsn)

	a := open(t, cut.String(), schema, postgres.WithConnectTimeout(time.Second))
	b := open(t, dsn, schema)
	chA, err := a.Watch(t.Context())
	require.NoError(t, err)
	chB, err := b.Watch(t.Context())
	require.NoError(t, err)
	_, _, err = a.PutRoute(t.Context(), "before", set(&route.Route{}))
	require.NoError(t, err)
	within(t, chA, time.Second, store.Change{Kind: store.KindRoute, ID: "before"})

	proxy.Cut()
	start := time.Now()
	_, _, err = a.PutRoute(t.Context(), "during", set(&route.Route{}))
	require.ErrorIs(t, err, store.ErrUnavailable)
	_, err = a.GetRoute(t.Context(), "before")
	require.ErrorIs(t, err, store.ErrUnavailable)
	require.False(t, errors.Is(err, store.ErrNotFound))
	require.Less(t, time.Since(start), 3*time.Second, "failures are prompt")
	require.NotContains(t, err.Error(), "password")

	// Writes by others go on meanwhile; a's watcher cannot see them.
	_, _, err = b.PutRoute(t.Context(), "missed", set(&route.Route{}))
	require.NoError(t, err)
	select {
	case c, ok := <-chA:
		require.True(t, ok, "the watch channel stays open during the outage")
		require.Equal(t, store.KindReset, c.Kind, "nothing but a reset comes during the outage: %+v", c)
	case <-time.After(1500 * time.Millisecond):
	}

	proxy.Restore()
	within(t, chA, 5*time.Second, store.Change{Kind: store.KindReset})
	start = time.Now()
	_, _, err = a.PutRoute(t.Context(), "after", set(&route.Route{}))
	require.NoError(t, err, "the store works again without a restart")
	within(t, chB, time.Second, store.Change{Kind: store.KindRoute, ID: "after"})
	within(t, chA, time.Second, store.Change{Kind: store.KindRoute, ID: "after"})
	t.Logf("the write after the outage was seen after %v", time.Since(start))
	got, err := a.GetRoute(t.Context(), "missed")
	require.NoError(t, err)
	require.Equal(t, "missed", got.ID)
}
