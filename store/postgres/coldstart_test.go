package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/credential/keyauth"
	"github.com/gatehousehq/gatehouse/internal/testenv"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store"
	"github.com/gatehousehq/gatehouse/store/postgres"
)

// TestColdStart measures, when GATEHOUSE_BENCH_COLDSTART=1, how long a new
// Store takes to Snapshot a configuration of GATEHOUSE_BENCH_CREDENTIALS
// (default 1,000,000) consumers with one credential each, bulk-loaded with
// COPY, and how long a credential change takes from commit to a watcher
// there and in a configuration of 10 consumers.
func TestColdStart(t *testing.T) {
	if os.Getenv("GATEHOUSE_BENCH_COLDSTART") != "1" {
		t.Skip("set GATEHOUSE_BENCH_COLDSTART=1 (and GATEHOUSE_TEST_POSTGRES) to measure a cold start")
	}
	n := 1_000_000
	if v := os.Getenv("GATEHOUSE_BENCH_CREDENTIALS"); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		require.NoError(t, err)
	}
	for _, size := range []int{10, n} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			dsn, schema := testenv.PostgresSchema(t)
			s := open(t, dsn, schema) // creates the schema
			start := time.Now()
			bulkLoad(t, dsn, schema, size, false)
			t.Logf("COPY of %d consumers and credentials: %v", size, time.Since(start))

			fresh := open(t, dsn, schema)
			start = time.Now()
			snap, err := fresh.Snapshot(t.Context())
			require.NoError(t, err)
			took := time.Since(start)
			require.Len(t, snap.Credentials, size)
			t.Logf("cold Snapshot of %d credentials: %v (%.0f credentials/s)", size, took, float64(size)/took.Seconds())
			snap = nil

			// A gateway's whole start on that store: Snapshot, then its
			// view (every credential compiled and indexed), and the heap
			// the view keeps per credential.
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start = time.Now()
			timed := &timedStore{Store: fresh}
			gw, err := gatehouse.New(t.Context(), timed, gatehouse.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
				gatehouse.WithRoutes(route.Route{ID: "r", Plugins: map[string]json.RawMessage{keyauth.Name: json.RawMessage(`{}`)}}))
			require.NoError(t, err)
			took = time.Since(start)
			runtime.GC()
			runtime.ReadMemStats(&after)
			t.Logf("gateway start (Snapshot and view) on %d credentials: %v (its Snapshot %v); view heap %.0f B per consumer with its credential",
				size, took, timed.took, float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(size))
			h := gw.Protect("r", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
			viewLatency(t, s, h, size)
			require.NoError(t, gw.Close())

			for _, q := range []store.CredentialQuery{
				{LookupPrefix: "apikey-auth:"},
				{ConsumerGroup: "gold"},
				{AnyEntity: []string{"group_none"}},
				{LookupPrefix: "key-auth:", AnyEntity: []string{"group_g1"}},
			} {
				start := time.Now()
				page, err := fresh.QueryCredentials(t.Context(), q, store.ListOptions{})
				require.NoError(t, err)
				t.Logf("QueryCredentials %+v: %d of %d in %v", q, len(page.Items), page.Total, time.Since(start))
			}

			watchLatency(t, s, fresh, size)
		})
	}
}

// TestColdStartUpgrade measures, when GATEHOUSE_BENCH_COLDSTART=1, how long
// the first Open of a new build takes on a schema of version 2 (JSON
// documents) holding GATEHOUSE_BENCH_CREDENTIALS (default 1,000,000)
// consumers with one credential each: migrations 0003 and 0004.
func TestColdStartUpgrade(t *testing.T) {
	if os.Getenv("GATEHOUSE_BENCH_COLDSTART") != "1" {
		t.Skip("set GATEHOUSE_BENCH_COLDSTART=1 (and GATEHOUSE_TEST_POSTGRES) to measure an upgrade")
	}
	n := 1_000_000
	if v := os.Getenv("GATEHOUSE_BENCH_CREDENTIALS"); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		require.NoError(t, err)
	}
	dsn, schema := testenv.PostgresSchema(t)
	require.NoError(t, open(t, dsn, schema, postgres.WithMigrationsUpTo(2)).Close())
	bulkLoad(t, dsn, schema, n, true)
	start := time.Now()
	s := open(t, dsn, schema)
	t.Logf("Open migrating %d consumers and credentials from documents to columns: %v", n, time.Since(start))
	start = time.Now()
	snap, err := s.Snapshot(t.Context())
	require.NoError(t, err)
	require.Len(t, snap.Credentials, n)
	require.Equal(t, []string{"group_g1"}, snap.Credentials[n-1].AuthorizedEntities)
	t.Logf("Snapshot after the upgrade: %v", time.Since(start))
}

// timedStore records how long its last Snapshot took.
type timedStore struct {
	*postgres.Store
	took time.Duration
}

func (s *timedStore) Snapshot(ctx context.Context) (*store.Snapshot, error) {
	start := time.Now()
	snap, err := s.Store.Snapshot(ctx)
	s.took = time.Since(start)
	return snap, err
}

// viewLatency measures how long a credential change written through w (as
// another instance's admin API would) takes from its commit to the gateway
// serving h: a consumer's key is replaced, and h is asked with the new key
// until it answers 200.
func viewLatency(t *testing.T, w *postgres.Store, h http.Handler, size int) {
	ctx := t.Context()
	const changes = 30
	var lat []time.Duration
	for i := range changes {
		u := fmt.Sprintf("u%07d", i*(size/changes+1)%size)
		key := fmt.Sprintf("rotated-key-%02d-of-%s", i, u)
		sealed, err := keyauth.Definition{}.Seal(json.RawMessage(`{"key": "`+key+`"}`), nil)
		require.NoError(t, err)
		_, _, err = w.PutCredential(ctx, u, "k", func(cur *credential.Credential) (*credential.Credential, error) {
			cur.Lookup, cur.Plugins = sealed.Lookup, map[string]json.RawMessage{keyauth.Name: sealed.Stored}
			return cur, nil
		})
		require.NoError(t, err)
		start := time.Now()
		for {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("apikey", key)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code == http.StatusOK {
				break
			}
			require.Less(t, time.Since(start), 5*time.Second, "the new key of %s never reached the view", u)
			time.Sleep(50 * time.Microsecond)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	t.Logf("%d consumers: a key replaced through another Store, from its commit to this gateway serving it: median %v, p90 %v, max %v",
		size, lat[len(lat)/2], lat[len(lat)*9/10], lat[len(lat)-1])
}

// watchLatency measures how long changes written through w take from the
// end of the write (its commit) to a watcher of r.
func watchLatency(t *testing.T, w, r *postgres.Store, size int) {
	ctx := t.Context()
	ch, err := r.Watch(ctx)
	require.NoError(t, err)
	const writes = 50
	var lat, write []time.Duration
	for i := range writes {
		u := fmt.Sprintf("u%07d", i*(size/writes+1)%size)
		start := time.Now()
		_, _, err := w.PutCredential(ctx, u, "k", func(cur *credential.Credential) (*credential.Credential, error) {
			cur.Enabled = i%2 == 0
			return cur, nil
		})
		require.NoError(t, err)
		write = append(write, time.Since(start))
		for c := range ch {
			if c.Kind == store.KindCredential && c.Consumer == u {
				lat = append(lat, time.Since(start))
				break
			}
		}
	}
	slices.Sort(lat)
	slices.Sort(write)
	// The commit is somewhere inside the write: its start to the delivery
	// bounds the latency from above.
	t.Logf("%d consumers: PutCredential %v (median; p90 %v); its start to another Store's watcher: median %v, p90 %v, max %v",
		size, write[len(write)/2], write[len(write)*9/10], lat[len(lat)/2], lat[len(lat)*9/10], lat[len(lat)-1])
}

// bulkLoad fills schema with size consumers u0000000… and one key-auth
// credential k each, with COPY; as JSON documents, the way versions 1 and 2
// of the schema kept them, when docs is true.
func bulkLoad(t *testing.T, dsn, schema string, size int, docs bool) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "SET search_path TO "+pgx.Identifier{schema}.Sanitize())
	require.NoError(t, err)
	now := time.Now().UTC().Truncate(time.Microsecond)
	copyRows := func(table string, cols []string, row func(i int) []any) {
		_, err := conn.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromFunc(func() func() ([]any, error) {
			i := 0
			return func() ([]any, error) {
				if i == size {
					return nil, nil
				}
				i++
				return row(i - 1), nil
			}
		}()))
		require.NoError(t, err)
	}
	user := func(i int) string { return fmt.Sprintf("u%07d", i) }
	stamp := now.Format(time.RFC3339Nano)
	consumerPlugins := `{"limit-count": {"count": 10, "time_window": 60}}`
	if docs {
		copyRows("consumers", []string{"username", "doc"}, func(i int) []any {
			return []any{user(i), `{"username": "` + user(i) + `", "plugins": ` + consumerPlugins +
				`, "created_at": "` + stamp + `", "updated_at": "` + stamp + `"}`}
		})
	} else {
		copyRows("consumers", []string{"username", "created_at", "updated_at", "plugins"}, func(i int) []any {
			return []any{user(i), now, now, consumerPlugins}
		})
	}
	// Sealed as the admin API seals a key, so that a gateway can compile
	// it.
	key := func(i int) (lookup, plugins string) {
		sealed, err := keyauth.Definition{}.Seal(json.RawMessage(fmt.Sprintf(`{"key": "key-of-user-%07d"}`, i)), nil)
		if err != nil {
			panic(err)
		}
		return sealed.Lookup, `{"key-auth": ` + string(sealed.Stored) + `}`
	}
	if docs {
		copyRows("credentials", []string{"consumer", "id", "name", "lookup", "consumer_group", "doc"}, func(i int) []any {
			lookup, plugins := key(i)
			return []any{user(i), "k", "main", lookup, "", `{"id": "k", "name": "main", "enabled": true, "plugins": ` + plugins +
				`, "authorized_entities": ["group_g1"], "created_at": "` + stamp + `", "updated_at": "` + stamp + `"}`}
		})
	} else {
		copyRows("credentials", []string{"consumer", "id", "name", "lookup", "consumer_group", "enabled", "created_at", "updated_at",
			"entities", "plugins"}, func(i int) []any {
			lookup, plugins := key(i)
			return []any{user(i), "k", "main", lookup, "", true, now, now, "group_g1", plugins}
		})
	}
	copyRows("credential_entities", []string{"consumer", "credential", "entity"}, func(i int) []any {
		return []any{user(i), "k", "group_g1"}
	})
	// What autovacuum does to a database that has been running: the
	// statistics, and every row's hint bits set (the first read after the
	// COPY would otherwise write them, page by page).
	_, err = conn.Exec(ctx, "VACUUM ANALYZE")
	require.NoError(t, err)
}
