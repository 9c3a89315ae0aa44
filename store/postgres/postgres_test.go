package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/internal/testenv"
	"github.com/gatehousehq/gatehouse/internal/testnet"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store"
	"github.com/gatehousehq/gatehouse/store/internal/sqlstore/sqlstoretest"
	"github.com/gatehousehq/gatehouse/store/postgres"
	"github.com/gatehousehq/gatehouse/store/storetest"
)

func open(t *testing.T, dsn, schema string, opts ...postgres.Option) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), dsn, append([]postgres.Option{postgres.WithSchema(schema)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		dsn, schema := testenv.PostgresSchema(t)
		return open(t, dsn, schema)
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
	dsn, schema := testenv.PostgresSchema(t)
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
	dsn, schema := testenv.PostgresSchema(t)
	u, err := url.Parse(dsn)
	require.NoError(t, err, "GATEHOUSE_TEST_POSTGRES must be a URL for this test")
	proxy := testnet.NewProxy(t, u.Host)
	cut := *u
	cut.Host = proxy.Addr()
	// The server trusts local connections: the password is only there to
	// check that no error carries it.
	cut.User = url.UserPassword(u.User.Username(), "s3cret-pw")

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
	require.NotContains(t, err.Error(), "s3cret-pw")
	start = time.Now()
	_, err = postgres.Open(t.Context(), cut.String(), postgres.WithSchema(schema), postgres.WithConnectTimeout(time.Second))
	require.ErrorIs(t, err, store.ErrUnavailable, "opening an unreachable store")
	require.NotContains(t, err.Error(), "s3cret-pw")
	require.Less(t, time.Since(start), 3*time.Second, "failures are prompt")
	t.Logf("while cut: %v", err)

	// Writes by others go on meanwhile; a's watcher cannot see them.
	_, _, err = b.PutRoute(t.Context(), "missed", set(&route.Route{}))
	require.NoError(t, err)
	select {
	case c, ok := <-chA:
		require.True(t, ok, "the watch channel stays open during the outage")
		require.Equal(t, store.KindReset, c.Kind, "nothing but a reset comes during the outage: %+v", c)
	case <-time.After(1500 * time.Millisecond):
	}

	require.NoError(t, proxy.Restore())
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

// TestBadDSN checks that a DSN that does not parse is refused without its
// password in the error.
func TestBadDSN(t *testing.T) {
	_, err := postgres.Open(t.Context(), "postgres://gatehouse:s3cret-pw@127.0.0.1:notaport/db")
	require.Error(t, err)
	require.NotContains(t, err.Error(), "s3cret-pw")
}

func TestBulk(t *testing.T) {
	dsn, schema := testenv.PostgresSchema(t)
	sqlstoretest.Bulk(t, open(t, dsn, schema))
}

// TestUpgrade checks migrations 0002 to 0004 on schemas that versions 1
// (jsonb documents) and 2 (json documents) made: everything stored reads back
// intact, in columns.
func TestUpgrade(t *testing.T) {
	for _, version := range []int{1, 2} {
		t.Run(fmt.Sprint("from", version), func(t *testing.T) {
			dsn, schema := testenv.PostgresSchema(t)
			require.NoError(t, open(t, dsn, schema, postgres.WithMigrationsUpTo(version)).Close())
			db, err := sql.Open("pgx", dsn)
			require.NoError(t, err)
			defer db.Close()
			db.SetMaxOpenConns(1)
			_, err = db.Exec("SET search_path TO " + pgx.Identifier{schema}.Sanitize())
			require.NoError(t, err)
			var typ string
			require.NoError(t, db.QueryRow("SELECT data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'consumers' AND column_name = 'doc'", schema).Scan(&typ))
			require.Equal(t, map[int]string{1: "jsonb", 2: "json"}[version], typ)

			sqlstoretest.Upgrade(t, db, func(t *testing.T) store.Store { return open(t, dsn, schema) })
			var n int
			require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = $1 AND column_name = 'doc' AND table_name IN ('consumers', 'credentials')", schema).Scan(&n))
			require.Zero(t, n, "the documents are gone")
			_, err = db.Exec("INSERT INTO credentials (consumer, id, name, lookup, consumer_group) VALUES ('bob', 'x', 'x', '', '')")
			require.ErrorContains(t, err, "created_at", "created_at is NOT NULL")
		})
	}
}
