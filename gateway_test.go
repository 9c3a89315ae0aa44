package gatehouse_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/consumergroup"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/credential/keyauth"
	"github.com/gatehousehq/gatehouse/internal/testlog"
	"github.com/gatehousehq/gatehouse/plugin"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/servicegroup"
	"github.com/gatehousehq/gatehouse/store"
	"github.com/gatehousehq/gatehouse/store/memory"
)

// fixture is a gateway over a memory store, with helpers that write to the
// store as the admin API would.
type fixture struct {
	t  testing.TB
	st *memory.Store
	gw *gatehouse.Gateway
}

func newFixture(t testing.TB, routes ...route.Route) *fixture {
	t.Helper()
	st := memory.New()
	opts := []gatehouse.Option{gatehouse.WithRoutes(routes...)}
	if _, bench := t.(*testing.B); !bench {
		// Tests log at debug level (internal/logcheck); benchmarks keep the
		// default logger, so that they do not measure the refusal log line.
		opts = append(opts, gatehouse.WithLogger(discardLogger()))
	}
	gw, err := gatehouse.New(context.Background(), st, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = gw.Close() })
	return &fixture{t: t, st: st, gw: gw}
}

func (f *fixture) consumer(c consumer.Consumer) {
	f.t.Helper()
	_, _, err := f.st.PutConsumer(context.Background(), c.Username, func(*consumer.Consumer) (*consumer.Consumer, error) { return &c, nil })
	require.NoError(f.t, err)
}

// group creates service groups.
func (f *fixture) group(ids ...string) {
	f.t.Helper()
	for _, id := range ids {
		_, _, err := f.st.PutGroup(context.Background(), id, func(*servicegroup.Group) (*servicegroup.Group, error) {
			return &servicegroup.Group{ID: id, Name: id}, nil
		})
		require.NoError(f.t, err)
	}
}

// key gives username a key-auth credential id holding key.
func (f *fixture) key(username, id, key string, mutate ...func(*credential.Credential)) {
	f.t.Helper()
	sealed, err := keyauth.Definition{}.Seal(json.RawMessage(`{"key":"`+key+`"}`), nil)
	require.NoError(f.t, err)
	_, _, err = f.st.PutCredential(context.Background(), username, id, func(*credential.Credential) (*credential.Credential, error) {
		c := &credential.Credential{ID: id, Name: id, Enabled: true, Lookup: sealed.Lookup,
			Plugins: map[string]json.RawMessage{keyauth.Name: sealed.Stored}}
		for _, m := range mutate {
			m(c)
		}
		return c, nil
	})
	require.NoError(f.t, err)
}

// do sends a request through h and returns the response.
func do(h http.Handler, method, target string, header map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// eventually waits until a request through h answers want: the view follows
// the store asynchronously.
func eventually(t testing.TB, h http.Handler, target string, header map[string]string, want int) *httptest.ResponseRecorder {
	t.Helper()
	// Generous: under -race on a loaded 2-core machine one bcrypt check (a
	// basic-auth poll) can take a second.
	deadline := time.Now().Add(10 * time.Second)
	for {
		w := do(h, http.MethodGet, target, header)
		if w.Code == want {
			return w
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: want %d, got %d %s", target, want, w.Code, w.Body.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// echo reports what the upstream handler saw.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	c, _ := consumer.FromContext(r.Context())
	id, _ := consumer.IdentityFromContext(r.Context())
	out := map[string]any{
		"username": r.Header.Get(gatehouse.HeaderConsumerUsername),
		"id":       r.Header.Get(gatehouse.HeaderConsumerID),
		"cred":     r.Header.Get(gatehouse.HeaderCredentialIdentifier),
		"groups":   r.Header.Get(gatehouse.HeaderConsumerGroups),
		"anon":     r.Header.Get(gatehouse.HeaderAnonymousConsumer),
		"apikey":   r.Header.Get("apikey"),
		"query":    r.URL.RawQuery,
		"path":     r.URL.Path,
	}
	if c != nil {
		out["ctx"] = c.Username
		out["ctx_cred"] = id.CredentialID
	}
	_ = json.NewEncoder(w).Encode(out)
})

func body(t testing.TB, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &m), w.Body.String())
	return m
}

func keyRoute(id, settings string) route.Route {
	return route.Route{ID: id, Plugins: map[string]json.RawMessage{keyauth.Name: json.RawMessage(settings)}}
}

func TestProtectKeyAuth(t *testing.T) {
	f := newFixture(t, keyRoute("orders", `{}`))
	f.consumer(consumer.Consumer{Username: "alice", GroupID: "gold"})
	f.key("alice", "alice-main", "alice-secret-key")
	h := f.gw.Protect("orders", echo)

	w := eventually(t, h, "/orders", map[string]string{"apikey": "alice-secret-key"}, http.StatusOK)
	got := body(t, w)
	require.Equal(t, "alice", got["username"])
	require.Equal(t, "alice", got["id"])
	require.Equal(t, "alice-main", got["cred"])
	require.Equal(t, "gold", got["groups"])
	require.Equal(t, "alice", got["ctx"])
	require.Equal(t, "alice-main", got["ctx_cred"])
	require.Equal(t, "", got["anon"])

	w = do(h, http.MethodGet, "/orders", map[string]string{"Authorization": "Bearer alice-secret-key"})
	require.Equal(t, http.StatusOK, w.Code)
	w = do(h, http.MethodGet, "/orders?apikey=alice-secret-key", nil)
	require.Equal(t, http.StatusOK, w.Code)

	w = do(h, http.MethodGet, "/orders", nil)
	require.Equal(t, http.StatusUnauthorized, w.Code)
	require.Equal(t, keyauth.MsgMissing, body(t, w)["message"])
	require.Equal(t, `Key realm="key"`, w.Header().Get("WWW-Authenticate"))
	require.Equal(t, "application/json", w.Header().Get("Content-Type"))

	w = do(h, http.MethodGet, "/orders", map[string]string{"apikey": "not-alice-key"})
	require.Equal(t, http.StatusUnauthorized, w.Code)
	require.Equal(t, keyauth.MsgInvalid, body(t, w)["message"])

	w = do(h, http.MethodGet, "/orders", nil)
	require.Equal(t, http.StatusUnauthorized, w.Code)

	require.Equal(t, http.StatusNotFound, do(f.gw.Protect("nope", echo), http.MethodGet, "/", nil).Code)
}

func TestClientCannotForgeIdentityHeaders(t *testing.T) {
	f := newFixture(t, keyRoute("orders", `{}`), route.Route{ID: "public"})
	f.consumer(consumer.Consumer{Username: "alice"})
	f.key("alice", "k1", "alice-secret-key")
	forged := map[string]string{
		"apikey":                             "alice-secret-key",
		gatehouse.HeaderConsumerUsername:     "root",
		"x-consumer-id":                      "root",
		gatehouse.HeaderCredentialIdentifier: "root-cred",
		gatehouse.HeaderConsumerGroups:       "admins",
		gatehouse.HeaderAnonymousConsumer:    "false",
	}
	got := body(t, eventually(t, f.gw.Protect("orders", echo), "/", forged, http.StatusOK))
	require.Equal(t, "alice", got["username"])
	require.Equal(t, "alice", got["id"])
	require.Equal(t, "k1", got["cred"])
	require.Equal(t, "", got["groups"], "alice has no group: the forged value must be gone")
	require.Equal(t, "", got["anon"])

	// A public route authenticates nobody, and still drops forged headers.
	got = body(t, eventually(t, f.gw.Protect("public", echo), "/", forged, http.StatusOK))
	require.Equal(t, "", got["username"])
	require.Equal(t, "", got["cred"])
	require.Nil(t, got["ctx"])
}

func TestHideCredentialsThroughGateway(t *testing.T) {
	f := newFixture(t, keyRoute("r", `{"hide_credentials":true}`))
	f.consumer(consumer.Consumer{Username: "alice"})
	f.key("alice", "k1", "alice-secret-key")
	got := body(t, eventually(t, f.gw.Protect("r", echo), "/?apikey=alice-secret-key&x=1", nil, http.StatusOK))
	require.Equal(t, "x=1", got["query"])
	got = body(t, eventually(t, f.gw.Protect("r", echo), "/", map[string]string{"apikey": "alice-secret-key"}, http.StatusOK))
	require.Equal(t, "", got["apikey"])
}

func TestAnonymousConsumer(t *testing.T) {
	f := newFixture(t, keyRoute("r", `{"anonymous_consumer":"guest"}`), keyRoute("ghost", `{"anonymous_consumer":"nobody"}`))
	f.consumer(consumer.Consumer{Username: "guest"})
	f.consumer(consumer.Consumer{Username: "alice"})
	f.key("alice", "k1", "alice-secret-key")

	got := body(t, eventually(t, f.gw.Protect("r", echo), "/", nil, http.StatusOK))
	require.Equal(t, "guest", got["username"])
	require.Equal(t, "true", got["anon"])
	require.Equal(t, "guest", got["ctx"])
	require.Equal(t, "", got["cred"])

	require.Eventually(t, func() bool {
		got = body(t, do(f.gw.Protect("r", echo), http.MethodGet, "/", map[string]string{"apikey": "alice-secret-key"}))
		return got["username"] == "alice" // a valid key wins over the anonymous consumer
	}, 2*time.Second, 2*time.Millisecond)
	require.Equal(t, "", got["anon"])

	w := do(f.gw.Protect("ghost", echo), http.MethodGet, "/", nil)
	require.Equal(t, http.StatusUnauthorized, w.Code)
	require.Equal(t, gatehouse.MsgInvalidUser, body(t, w)["message"])
}

func TestChangesApplyWithoutRestart(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, keyRoute("r", `{}`))
	h := f.gw.Protect("r", echo)
	hdr := map[string]string{"apikey": "alice-secret-key"}
	f.consumer(consumer.Consumer{Username: "alice"})
	f.key("alice", "k1", "alice-secret-key")
	eventually(t, h, "/", hdr, http.StatusOK)

	// Disabled credential: refused.
	f.key("alice", "k1", "alice-secret-key", func(c *credential.Credential) { c.Enabled = false })
	w := eventually(t, h, "/", hdr, http.StatusUnauthorized)
	require.Equal(t, keyauth.MsgInvalid, body(t, w)["message"])

	// Expired credential: refused; renewed: accepted.
	past := time.Now().Add(-time.Minute)
	f.key("alice", "k1", "alice-secret-key", func(c *credential.Credential) { c.ExpiresAt = &past })
	eventually(t, h, "/", hdr, http.StatusUnauthorized)
	f.key("alice", "k1", "alice-secret-key")
	eventually(t, h, "/", hdr, http.StatusOK)

	// A consumer change is seen by its existing credentials.
	f.consumer(consumer.Consumer{Username: "alice", GroupID: "silver"})
	require.Eventually(t, func() bool {
		return body(t, do(h, http.MethodGet, "/", hdr))["groups"] == "silver"
	}, 2*time.Second, 2*time.Millisecond)

	// Key rotation: the old key stops working, the new one works.
	f.key("alice", "k1", "alice-rotated-key")
	eventually(t, h, "/", map[string]string{"apikey": "alice-rotated-key"}, http.StatusOK)
	eventually(t, h, "/", hdr, http.StatusUnauthorized)

	// Deleted credential, then deleted consumer.
	require.NoError(t, f.st.DeleteCredential(ctx, "alice", "k1"))
	eventually(t, h, "/", map[string]string{"apikey": "alice-rotated-key"}, http.StatusUnauthorized)
	f.key("alice", "k2", "alice-second-key")
	eventually(t, h, "/", map[string]string{"apikey": "alice-second-key"}, http.StatusOK)
	require.NoError(t, f.st.DeleteConsumer(ctx, "alice"))
	eventually(t, h, "/", map[string]string{"apikey": "alice-second-key"}, http.StatusUnauthorized)

	// A consumer created again with the same key works again.
	f.consumer(consumer.Consumer{Username: "alice"})
	f.key("alice", "k3", "alice-second-key")
	eventually(t, h, "/", map[string]string{"apikey": "alice-second-key"}, http.StatusOK)

	// Route settings changed through the store apply on the next requests.
	_, _, err := f.st.PutRoute(ctx, "r", func(*route.Route) (*route.Route, error) {
		r := keyRoute("r", `{"header":"X-Key"}`)
		return &r, nil
	})
	require.NoError(t, err)
	eventually(t, h, "/", map[string]string{"X-Key": "alice-second-key"}, http.StatusOK)
	require.NoError(t, f.st.DeleteRoute(ctx, "r"))
	eventually(t, h, "/", map[string]string{"X-Key": "alice-second-key"}, http.StatusNotFound)
}

func TestRouteGroupsAuthorization(t *testing.T) {
	grouped := keyRoute("orders", `{}`)
	grouped.Groups = []string{"shop", "billing"}
	f := newFixture(t, grouped)
	f.group("shop", "billing")
	f.consumer(consumer.Consumer{Username: "alice"})
	for _, tc := range []struct {
		key      string
		entities []string
		want     int
	}{
		{"key-none-000", nil, http.StatusForbidden},
		{"key-group-01", []string{"group_shop"}, http.StatusOK},
		{"key-bare-002", []string{"billing"}, http.StatusOK},
		{"key-route-03", []string{"route_orders"}, http.StatusOK},
		{"key-other-04", []string{"group_other", "route_other"}, http.StatusForbidden},
		{"key-prefix-05", []string{"group_shopping"}, http.StatusForbidden},
	} {
		f.key("alice", tc.key, tc.key, func(c *credential.Credential) { c.AuthorizedEntities = tc.entities })
		w := eventually(t, f.gw.Protect("orders", echo), "/", map[string]string{"apikey": tc.key}, tc.want)
		if tc.want == http.StatusForbidden {
			require.Equal(t, gatehouse.MsgNotAuthorized, body(t, w)["message"])
		}
	}
}

func TestRouterProxiesToBackend(t *testing.T) {
	backend := httptest.NewServer(echo)
	defer backend.Close()
	ctx := context.Background()
	f := newFixture(t)
	f.consumer(consumer.Consumer{Username: "alice"})
	f.key("alice", "k1", "alice-secret-key")
	put := func(r route.Route) {
		_, _, err := f.st.PutRoute(ctx, r.ID, func(*route.Route) (*route.Route, error) { return &r, nil })
		require.NoError(t, err)
	}
	put(route.Route{ID: "api", Frontend: route.Frontend{Paths: []string{"/api"}, StripPath: true}, Backend: &route.Backend{Target: backend.URL + "/v1"},
		Plugins: map[string]json.RawMessage{keyauth.Name: json.RawMessage(`{}`)}})
	put(route.Route{ID: "health", Frontend: route.Frontend{Paths: []string{"/api/health"}, Methods: []string{"GET"}}, Backend: &route.Backend{Target: backend.URL}})

	h := f.gw.Router()
	hdr := map[string]string{"apikey": "alice-secret-key"}
	got := body(t, eventually(t, h, "/api/orders/7?x=1", hdr, http.StatusOK))
	require.Equal(t, "/v1/orders/7", got["path"])
	require.Equal(t, "x=1", got["query"])
	require.Equal(t, "alice", got["username"])

	// Longest prefix wins: /api/health is public and not stripped.
	got = body(t, eventually(t, h, "/api/health", nil, http.StatusOK))
	require.Equal(t, "/api/health", got["path"])
	require.Equal(t, "", got["username"])
	// Its method list excludes POST, so POST falls back to /api (needs a key).
	require.Equal(t, http.StatusUnauthorized, do(h, http.MethodPost, "/api/health", nil).Code)
	require.Equal(t, http.StatusUnauthorized, do(h, http.MethodGet, "/api", nil).Code)
	// A prefix matches whole segments only.
	w := do(h, http.MethodGet, "/apix", nil)
	require.Equal(t, http.StatusNotFound, w.Code)
	require.Equal(t, gatehouse.MsgRouteNotFound, body(t, w)["message"])

	// An unreachable backend is a 502, not a hang or a crash.
	put(route.Route{ID: "down", Frontend: route.Frontend{Paths: []string{"/down"}}, Backend: &route.Backend{Target: "http://127.0.0.1:1"}})
	eventually(t, h, "/down", nil, http.StatusBadGateway)
}

func TestDeclaredRoutesDoNotOverwriteStored(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	_, _, err := st.PutRoute(ctx, "orders", func(*route.Route) (*route.Route, error) {
		r := keyRoute("orders", `{"header":"X-Stored"}`)
		return &r, nil
	})
	require.NoError(t, err)
	gw, err := gatehouse.New(ctx, st, gatehouse.WithRoutes(keyRoute("orders", `{}`), keyRoute("new", `{}`)))
	require.NoError(t, err)
	defer gw.Close()
	r, err := st.GetRoute(ctx, "orders")
	require.NoError(t, err)
	require.JSONEq(t, `{"header":"X-Stored"}`, string(r.Plugins[keyauth.Name]))
	_, err = st.GetRoute(ctx, "new")
	require.NoError(t, err)

	_, err = gatehouse.New(ctx, memory.New(), gatehouse.WithRoutes(keyRoute("bad", `{"header":"a b"}`)))
	require.Error(t, err)
	_, err = gatehouse.New(ctx, memory.New(), gatehouse.WithRoutes(route.Route{}))
	require.Error(t, err)
}

// The gateway a data plane serves is created at start when missing, and left
// as it is when it exists.
func TestGatewayDeclaredAtStart(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	gw, err := gatehouse.New(ctx, st)
	require.NoError(t, err)
	defer gw.Close()
	got, err := st.GetGateway(ctx, gatehouse.DefaultGatewayID)
	require.NoError(t, err)
	require.Equal(t, "default", got.Name)

	_, _, err = st.PutGateway(ctx, "edge", func(*consumergroup.Gateway) (*consumergroup.Gateway, error) {
		return &consumergroup.Gateway{Name: "Edge (eu-west)"}, nil
	})
	require.NoError(t, err)
	gw2, err := gatehouse.New(ctx, st, gatehouse.WithGatewayID("edge"))
	require.NoError(t, err)
	defer gw2.Close()
	got, err = st.GetGateway(ctx, "edge")
	require.NoError(t, err)
	require.Equal(t, "Edge (eu-west)", got.Name, "an existing gateway is kept")

	_, err = gatehouse.New(ctx, memory.New(), gatehouse.WithGatewayID("not valid"))
	require.Error(t, err)
}

// failingStore fails every read after fail is set, as an unreachable database
// would.
type failingStore struct {
	*memory.Store
	fail atomic.Bool
}

func (s *failingStore) GetCredential(ctx context.Context, u, id string) (*credential.Credential, error) {
	if s.fail.Load() {
		return nil, context.DeadlineExceeded
	}
	return s.Store.GetCredential(ctx, u, id)
}

func TestLastGoodViewServesWhenStoreFails(t *testing.T) {
	st := &failingStore{Store: memory.New()}
	gw, err := gatehouse.New(context.Background(), st, gatehouse.WithRoutes(keyRoute("r", `{}`)), gatehouse.WithRetryInterval(5*time.Millisecond),
		gatehouse.WithLogger(discardLogger()))
	require.NoError(t, err)
	defer gw.Close()
	f := &fixture{t: t, st: st.Store, gw: gw}
	f.consumer(consumer.Consumer{Username: "alice"})
	f.key("alice", "k1", "alice-secret-key")
	h := gw.Protect("r", echo)
	eventually(t, h, "/", map[string]string{"apikey": "alice-secret-key"}, http.StatusOK)

	st.fail.Store(true)
	f.key("alice", "k2", "alice-other-key")
	time.Sleep(50 * time.Millisecond) // several failed reloads
	require.Equal(t, http.StatusOK, do(h, http.MethodGet, "/", map[string]string{"apikey": "alice-secret-key"}).Code)
	require.Equal(t, http.StatusUnauthorized, do(h, http.MethodGet, "/", map[string]string{"apikey": "alice-other-key"}).Code)

	// The store answers again: the next reload brings the missed change.
	st.fail.Store(false)
	eventually(t, h, "/", map[string]string{"apikey": "alice-other-key"}, http.StatusOK)
}

func (s *failingStore) Snapshot(ctx context.Context) (*store.Snapshot, error) {
	if s.fail.Load() {
		return nil, context.DeadlineExceeded
	}
	return s.Store.Snapshot(ctx)
}

var _ store.Store = (*failingStore)(nil)

// endingFeedStore ends its first change feed at once and refuses to start
// the next watchFailures ones, as a store whose notification connection
// dropped and whose server is still down.
type endingFeedStore struct {
	*memory.Store
	watches atomic.Int32
}

const watchFailures = 3

func (s *endingFeedStore) Watch(ctx context.Context) (<-chan store.Change, error) {
	switch n := s.watches.Add(1); {
	case n == 1:
		ch := make(chan store.Change)
		close(ch)
		return ch, nil
	case n <= 1+watchFailures:
		return nil, fmt.Errorf("listen: %w", store.ErrUnavailable)
	}
	return s.Store.Watch(ctx)
}

// A change feed that ends, then cannot be started again for a while, is
// started again once the store answers: changes made afterwards still reach
// the view.
func TestFollowsStoreAgainAfterFeedEnds(t *testing.T) {
	st := &endingFeedStore{Store: memory.New()}
	gw, err := gatehouse.New(context.Background(), st, gatehouse.WithRoutes(keyRoute("r", `{}`)), gatehouse.WithRetryInterval(5*time.Millisecond),
		gatehouse.WithLogger(discardLogger()))
	require.NoError(t, err)
	defer gw.Close()
	require.Eventually(t, func() bool { return st.watches.Load() > 1+watchFailures }, 2*time.Second, time.Millisecond)

	f := &fixture{t: t, st: st.Store, gw: gw}
	f.consumer(consumer.Consumer{Username: "alice"})
	f.key("alice", "k1", "alice-secret-key")
	eventually(t, gw.Protect("r", echo), "/", map[string]string{"apikey": "alice-secret-key"}, http.StatusOK)
}

func TestAuthenticatedBodyReachesHandler(t *testing.T) {
	f := newFixture(t, keyRoute("r", `{}`))
	f.consumer(consumer.Consumer{Username: "alice"})
	f.key("alice", "k1", "alice-secret-key")
	h := f.gw.Protect("r", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = w.Write(b)
	}))
	require.Eventually(t, func() bool {
		r := httptest.NewRequest(http.MethodPost, "/", stringsReader("payload"))
		r.Header.Set("apikey", "alice-secret-key")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code == http.StatusOK && w.Body.String() == "payload"
	}, 2*time.Second, 2*time.Millisecond)
}

// A burst of writes larger than a watcher's queue makes the store send a
// reset; the gateway then reloads, and every key works.
func TestFollowsBurstOfWrites(t *testing.T) {
	f := newFixture(t, keyRoute("r", `{}`))
	const n = 3000
	for i := range n {
		name := fmt.Sprintf("user-%04d", i)
		f.consumer(consumer.Consumer{Username: name})
		f.key(name, "k", fmt.Sprintf("burst-key-%04d", i))
	}
	h := f.gw.Protect("r", echo)
	for _, i := range []int{0, n / 2, n - 1} {
		got := body(t, eventually(t, h, "/", map[string]string{"apikey": fmt.Sprintf("burst-key-%04d", i)}, http.StatusOK))
		require.Equal(t, fmt.Sprintf("user-%04d", i), got["username"])
	}
}

// realmKeyAuth is key-auth with a fixed realm, to show that a plugin
// given with WithPlugins replaces the built-in of the same name.
type realmKeyAuth struct{ keyauth.Definition }

func (realmKeyAuth) New(raw json.RawMessage) (plugin.Plugin, error) {
	return keyauth.Definition{}.New(json.RawMessage(`{"realm":"replaced"}`))
}

func TestWithPluginsReplacesBuiltin(t *testing.T) {
	st := memory.New()
	gw, err := gatehouse.New(context.Background(), st, gatehouse.WithPlugins(realmKeyAuth{}), gatehouse.WithRoutes(keyRoute("r", `{}`)))
	require.NoError(t, err)
	defer gw.Close()
	w := do(gw.Protect("r", echo), http.MethodGet, "/", nil)
	require.Equal(t, `Key realm="replaced"`, w.Header().Get("WWW-Authenticate"))

	_, err = gatehouse.New(context.Background(), memory.New(), gatehouse.WithPlugins(realmKeyAuth{}, realmKeyAuth{}))
	require.Error(t, err, "two given definitions with one name")
}

// The built-in schemes log through the gateway's logger: a refused jwt-auth
// token's reason reaches WithLogger's handler at debug level, not
// slog.Default.
func TestBuiltinSchemesUseGatewayLogger(t *testing.T) {
	var logs testlog.Buffer
	gw, err := gatehouse.New(context.Background(), memory.New(),
		gatehouse.WithRoutes(route.Route{ID: "r", Plugins: map[string]json.RawMessage{"jwt-auth": json.RawMessage(`{}`)}}),
		gatehouse.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	require.NoError(t, err)
	defer gw.Close()
	r := do(gw.Protect("r", echo), http.MethodGet, "/", map[string]string{"Authorization": "Bearer not.a.token"})
	require.Equal(t, http.StatusUnauthorized, r.Code)
	require.Contains(t, logs.String(), "jwt-auth: ")
}
