package hmacauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/admin"
	"github.com/gatehousehq/gatehouse/credential/hmacauth"
	"github.com/gatehousehq/gatehouse/internal/testenv"
	"github.com/gatehousehq/gatehouse/internal/testlog"
	"github.com/gatehousehq/gatehouse/keyring"
	"github.com/gatehousehq/gatehouse/ratelimit/redislimiter"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store/memory"
)

// instances are gateways sharing one store and key ring, each with its own
// replay store (nil: the process's cache): instances of one deployment.
type instances struct {
	gws []*gatehouse.Gateway
	log *testlog.Levels
}

func newInstances(t *testing.T, stores ...hmacauth.ReplayStore) *instances {
	t.Helper()
	return build(t, func(ring *keyring.Ring, s hmacauth.ReplayStore, log *slog.Logger) []gatehouse.Option {
		return []gatehouse.Option{gatehouse.WithPlugins(hmacauth.Definition{Ring: ring, Replay: s, Logger: log})}
	}, stores)
}

// build makes one gateway per store with the options opts returns.
func build(t *testing.T, opts func(*keyring.Ring, hmacauth.ReplayStore, *slog.Logger) []gatehouse.Option, stores []hmacauth.ReplayStore) *instances {
	t.Helper()
	ring, _ := keyring.Generate()
	st := memory.New()
	in := &instances{log: &testlog.Levels{}}
	rt := route.Route{ID: "replay", Plugins: map[string]json.RawMessage{hmacauth.Name: json.RawMessage(`{"replay_protection":true}`)}}
	for _, s := range stores {
		gw, err := gatehouse.New(context.Background(), st,
			append(opts(ring, s, slog.New(in.log)), gatehouse.WithRoutes(rt))...)
		require.NoError(t, err)
		t.Cleanup(func() { _ = gw.Close() })
		in.gws = append(in.gws, gw)
	}
	adm := in.gws[0].AdminHandler(admin.WithKey(adminKey))
	for _, call := range [][2]string{
		{"/api/consumers", `{"username":"alice"}`},
		{"/api/consumers/alice/credentials", `{"id":"a1","name":"a1","plugins":{"hmac-auth":{"key_id":"alice-key","secret_key":"` + aliceSecret + `"}}}`},
	} {
		r := httptest.NewRequest(http.MethodPost, call[0], strings.NewReader(call[1]))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("X-API-KEY", adminKey)
		w := httptest.NewRecorder()
		adm.ServeHTTP(w, r)
		require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	}
	for _, gw := range in.gws {
		require.NoError(t, gw.Refresh(context.Background()))
	}
	return in
}

// signed returns a request signed now, unique to this call.
func signed() *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/orders", nil)
	r.Header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	r.Header.Set("X-Request-Id", strconv.FormatInt(time.Now().UnixNano(), 10))
	sign(r, "alice-key", aliceSecret, "hmac-sha256", "@request-target", "date", "x-request-id")
	return r
}

// serve sends a copy of r through instance i.
func (in *instances) serve(i int, r *http.Request) int {
	w := httptest.NewRecorder()
	in.gws[i].Protect("replay", echo).ServeHTTP(w, r.Clone(context.Background()))
	return w.Code
}

// fakeStore is a shared ReplayStore in memory that can be made to fail.
type fakeStore struct {
	mu      sync.Mutex
	m       map[[32]byte]time.Time
	failing atomic.Bool
}

var errStoreDown = errors.New("store down")

func (s *fakeStore) Remember(_ context.Context, key [32]byte, until time.Time) (bool, error) {
	if s.failing.Load() {
		return false, errStoreDown
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[[32]byte]time.Time)
	}
	if exp, ok := s.m[key]; ok && time.Now().Before(exp) {
		return true, nil
	}
	s.m[key] = until
	return false, nil
}

func TestReplayStoreSharedByInstances(t *testing.T) {
	shared := &fakeStore{}
	in := newInstances(t, shared, shared, nil)
	r := signed()
	require.Equal(t, http.StatusOK, in.serve(0, r))
	require.Equal(t, http.StatusUnauthorized, in.serve(1, r), "a signature accepted by one instance is a replay for another")
	require.Equal(t, http.StatusUnauthorized, in.serve(0, r))
	require.Equal(t, http.StatusOK, in.serve(2, r), "an instance without the store knows only its own requests")
	require.Empty(t, in.log.Get())
}

func TestReplayStoreOutage(t *testing.T) {
	shared := &fakeStore{}
	in := newInstances(t, shared, shared)
	before := signed()
	require.Equal(t, http.StatusOK, in.serve(0, before))

	shared.failing.Store(true)
	r := signed()
	require.Equal(t, http.StatusOK, in.serve(0, r), "requests still pass")
	require.Equal(t, http.StatusUnauthorized, in.serve(0, r), "the process's cache stands in")
	// Both gateways run in this process and share its cache; another
	// process would accept r once too. What only the store knows passes.
	require.Equal(t, http.StatusOK, in.serve(1, before), "replay protection covers what this process saw")
	require.Equal(t, []slog.Level{slog.LevelError}, in.log.Get(), "one outage, one line")

	shared.failing.Store(false)
	require.Equal(t, http.StatusUnauthorized, in.serve(0, r), "what the cache saw during the outage stays refused there")
	require.Equal(t, http.StatusUnauthorized, in.serve(1, before), "the store is back")
	fresh := signed()
	require.Equal(t, http.StatusOK, in.serve(1, fresh))
	require.Equal(t, http.StatusUnauthorized, in.serve(0, fresh))
	require.Equal(t, []slog.Level{slog.LevelError, slog.LevelInfo}, in.log.Get(), "the recovery is logged once")
}

// Two instances sharing one Redis (ratelimit/redislimiter, given to the
// built-in hmac-auth with gatehouse.WithReplayStore) refuse each other's
// replays.
func TestReplayStoreRedis(t *testing.T) {
	opt, err := redis.ParseURL(testenv.Redis(t))
	require.NoError(t, err)
	prefix := "gatehouse-test:hmac:" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
	var clients []*redis.Client
	var stores []hmacauth.ReplayStore
	for range 2 {
		c := redis.NewClient(opt)
		t.Cleanup(func() { c.Close() })
		clients = append(clients, c)
		stores = append(stores, redislimiter.New(c, redislimiter.WithPrefix(prefix)))
	}
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := clients[0].Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			clients[0].Del(ctx, keys...)
		}
	})
	in := build(t, func(ring *keyring.Ring, s hmacauth.ReplayStore, _ *slog.Logger) []gatehouse.Option {
		return []gatehouse.Option{gatehouse.WithKeyRing(ring), gatehouse.WithReplayStore(s)}
	}, stores)
	r := signed()
	require.Equal(t, http.StatusOK, in.serve(1, r))
	require.Equal(t, http.StatusUnauthorized, in.serve(0, r))
	require.Equal(t, http.StatusUnauthorized, in.serve(1, r))
	require.Equal(t, http.StatusOK, in.serve(0, signed()))
	n, err := clients[0].Exists(context.Background(), clients[0].Keys(context.Background(), prefix+"n:*").Val()...).Result()
	require.NoError(t, err)
	require.EqualValues(t, 2, n, "one entry per accepted signature, in Redis")
}
