package gatehouse_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/consumergroup"
	"github.com/gatehousehq/gatehouse/store"
	"github.com/gatehousehq/gatehouse/store/memory"
)

// downStore is a memory store whose every read fails while down is set, with
// an error naming where the database is, as a driver's would; its change
// feed stays open and quiet, as a SQL store's does while its server is away.
type downStore struct {
	*memory.Store
	down  atomic.Bool
	reads atomic.Int64 // GetGateway calls: the gateway's checks
}

var errDial = fmt.Errorf("dial tcp db.internal:5432: connect: connection refused: %w", store.ErrUnavailable)

func (s *downStore) GetGateway(ctx context.Context, id string) (*consumergroup.Gateway, error) {
	s.reads.Add(1)
	if s.down.Load() {
		return nil, errDial
	}
	return s.Store.GetGateway(ctx, id)
}

func (s *downStore) Snapshot(ctx context.Context) (*store.Snapshot, error) {
	if s.down.Load() {
		return nil, errDial
	}
	return s.Store.Snapshot(ctx)
}

func (s *downStore) GetConsumer(ctx context.Context, username string) (*consumer.Consumer, error) {
	if s.down.Load() {
		return nil, errDial
	}
	return s.Store.GetConsumer(ctx, username)
}

func TestStatusAfterNew(t *testing.T) {
	before := time.Now()
	gw, err := gatehouse.New(context.Background(), memory.New(), gatehouse.WithLogger(discardLogger()))
	require.NoError(t, err)
	defer gw.Close()
	st := gw.Status()
	require.True(t, st.Loaded())
	require.False(t, st.LoadedAt.Before(before), "LoadedAt %v is before New was called (%v)", st.LoadedAt, before)
	require.False(t, st.LoadedAt.After(time.Now()))
	require.False(t, st.LastContact.Before(st.LoadedAt), "the load is a contact")
	require.True(t, st.UnreachableSince.IsZero())
	require.NoError(t, gw.Ready(time.Second))
	require.NoError(t, gw.Ready(0))
}

func TestNilGatewayIsNotReady(t *testing.T) {
	var gw *gatehouse.Gateway // New has not returned yet
	require.False(t, gw.Status().Loaded())
	require.ErrorIs(t, gw.Ready(time.Minute), gatehouse.ErrNotLoaded)
	require.ErrorIs(t, gw.Ready(0), gatehouse.ErrNotLoaded)
}

// A store that goes away while nothing changes is noticed by the checks;
// the gateway stays ready for maxStoreOutage, then is not, and is ready again
// (with its view read again) once the store answers.
func TestReadyFollowsStoreOutage(t *testing.T) {
	st := &downStore{Store: memory.New()}
	gw, err := gatehouse.New(context.Background(), st, gatehouse.WithLogger(discardLogger()),
		gatehouse.WithStoreCheckInterval(10*time.Millisecond), gatehouse.WithRetryInterval(5*time.Millisecond))
	require.NoError(t, err)
	defer gw.Close()
	loaded := gw.Status().LoadedAt
	require.Eventually(t, func() bool { return st.reads.Load() >= 2 }, 5*time.Second, time.Millisecond, "the store is checked")
	contact := gw.Status().LastContact
	require.True(t, contact.After(loaded), "a check is a contact: %v, loaded %v", contact, loaded)

	cut := time.Now()
	st.down.Store(true)
	require.Eventually(t, func() bool { return !gw.Status().UnreachableSince.IsZero() }, 5*time.Second, time.Millisecond)
	down := gw.Status()
	require.False(t, down.UnreachableSince.Before(cut.Add(-10*time.Millisecond)), "outage began %v, store cut at %v", down.UnreachableSince, cut)
	require.False(t, down.LastContact.After(down.UnreachableSince), "no contact during the outage")
	require.NoError(t, gw.Ready(time.Hour), "a short outage is ridden out")
	require.NoError(t, gw.Ready(0), "0 leaves the store out")

	const allowed = 100 * time.Millisecond
	var readyErr error
	require.Eventually(t, func() bool { readyErr = gw.Ready(allowed); return readyErr != nil }, 5*time.Second, time.Millisecond)
	require.ErrorIs(t, readyErr, gatehouse.ErrStoreUnreachable)
	require.False(t, errors.Is(readyErr, store.ErrUnavailable), "the store's error is not carried")
	require.NotContains(t, readyErr.Error(), "db.internal", "the store's address never reaches a probe")
	// (A check begun just before the cut may count the outage from its start.)
	require.GreaterOrEqual(t, time.Since(cut), allowed-10*time.Millisecond, "not ready before the allowed outage passed")
	require.Contains(t, readyErr.Error(), "(allowed 100ms)")

	st.down.Store(false)
	require.Eventually(t, func() bool { return gw.Ready(allowed) == nil }, 5*time.Second, time.Millisecond)
	up := gw.Status()
	require.True(t, up.UnreachableSince.IsZero())
	require.True(t, up.LoadedAt.After(down.UnreachableSince), "the view is read again after the outage")
}

// Without checks a quiet outage goes unnoticed until a change cannot be
// applied.
func TestNoChecksNoticeOutageOnChange(t *testing.T) {
	st := &downStore{Store: memory.New()}
	gw, err := gatehouse.New(context.Background(), st, gatehouse.WithLogger(discardLogger()),
		gatehouse.WithStoreCheckInterval(0), gatehouse.WithRetryInterval(5*time.Millisecond))
	require.NoError(t, err)
	defer gw.Close()
	st.down.Store(true)
	time.Sleep(50 * time.Millisecond)
	require.Zero(t, st.reads.Load(), "no checks")
	require.True(t, gw.Status().UnreachableSince.IsZero())

	f := &fixture{t: t, st: st.Store, gw: gw}
	f.consumer(consumer.Consumer{Username: "alice"}) // the gateway reads it back, and fails
	require.Eventually(t, func() bool { return !gw.Status().UnreachableSince.IsZero() }, 5*time.Second, time.Millisecond)
	st.down.Store(false)
	require.Eventually(t, func() bool { return gw.Status().UnreachableSince.IsZero() }, 5*time.Second, time.Millisecond)
}

func TestProbeHandlers(t *testing.T) {
	var err atomic.Pointer[error]
	ready := gatehouse.ReadyHandler(func() error {
		if e := err.Load(); e != nil {
			return *e
		}
		return nil
	})
	health := gatehouse.HealthHandler()
	notReady := fmt.Errorf("%w for 45s (allowed 30s)", gatehouse.ErrStoreUnreachable)
	for _, tc := range []struct {
		name    string
		h       http.Handler
		err     error
		method  string
		status  int
		body    string
		allowed string
	}{
		{name: "health", h: health, method: http.MethodGet, status: 200, body: "ok\n"},
		{name: "health while not ready", h: health, err: notReady, method: http.MethodGet, status: 200, body: "ok\n"},
		{name: "health HEAD", h: health, method: http.MethodHead, status: 200},
		{name: "health POST", h: health, method: http.MethodPost, status: 405, body: "method not allowed\n", allowed: "GET, HEAD"},
		{name: "ready", h: ready, method: http.MethodGet, status: 200, body: "ready\n"},
		{name: "not ready", h: ready, err: notReady, method: http.MethodGet, status: 503,
			body: "not ready: gatehouse: store unreachable for 45s (allowed 30s)\n"},
		{name: "not loaded", h: ready, err: gatehouse.ErrNotLoaded, method: http.MethodGet, status: 503,
			body: "not ready: gatehouse: configuration not loaded yet\n"},
		{name: "not ready HEAD", h: ready, err: notReady, method: http.MethodHead, status: 503},
		{name: "ready DELETE", h: ready, method: http.MethodDelete, status: 405, body: "method not allowed\n", allowed: "GET, HEAD"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err != nil {
				err.Store(&tc.err)
			} else {
				err.Store(nil)
			}
			w := httptest.NewRecorder()
			tc.h.ServeHTTP(w, httptest.NewRequest(tc.method, "/probe", nil))
			require.Equal(t, tc.status, w.Code)
			require.Equal(t, tc.body, w.Body.String())
			require.Equal(t, "text/plain; charset=utf-8", w.Header().Get("Content-Type"))
			require.Equal(t, "no-store", w.Header().Get("Cache-Control"))
			require.Equal(t, tc.allowed, w.Header().Get("Allow"))
		})
	}
}

// A gateway's probes beside the routes it protects: /readyz turns 503 once
// the store has been away for longer than 30 s.
func ExampleReadyHandler() {
	gw, err := gatehouse.New(context.Background(), memory.New())
	if err != nil {
		panic(err)
	}
	defer gw.Close()
	mux := http.NewServeMux()
	mux.Handle("/healthz", gatehouse.HealthHandler())
	mux.Handle("/readyz", gatehouse.ReadyHandler(func() error { return gw.Ready(30 * time.Second) }))

	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	fmt.Println(w.Code, strings.TrimSpace(w.Body.String()))
	// Output: 200 ready
}
