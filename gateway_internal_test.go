package gatehouse

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/credential/keyauth"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store/memory"
)

// hangOnceStore's first GetCredential never answers (until its context
// ends), as a database server that hangs without refusing connections.
type hangOnceStore struct {
	*memory.Store
	hung atomic.Bool
}

func (s *hangOnceStore) GetCredential(ctx context.Context, username, id string) (*credential.Credential, error) {
	if s.hung.CompareAndSwap(false, true) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return s.Store.GetCredential(ctx, username, id)
}

// A store call that hangs is given up after applyTimeout and retried by a
// reload: the change it was reading still reaches the view.
func TestHangingStoreCallIsGivenUp(t *testing.T) {
	old := applyTimeout
	applyTimeout = 50 * time.Millisecond
	t.Cleanup(func() { applyTimeout = old })

	st := &hangOnceStore{Store: memory.New()}
	ctx := context.Background()
	g, err := New(ctx, st, WithRetryInterval(10*time.Millisecond), WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		WithRoutes(route.Route{ID: "r", Plugins: map[string]json.RawMessage{keyauth.Name: json.RawMessage(`{}`)}}))
	require.NoError(t, err)
	defer g.Close()
	_, _, err = st.PutConsumer(ctx, "alice", func(*consumer.Consumer) (*consumer.Consumer, error) {
		return &consumer.Consumer{Username: "alice"}, nil
	})
	require.NoError(t, err)
	// The view knows alice before her credential exists, so that the
	// credential's change is read on its own (GetCredential, which hangs)
	// rather than listed with a new consumer.
	require.Eventually(t, func() bool { return g.view.hasConsumer("alice") }, 5*time.Second, time.Millisecond)
	sealed, err := keyauth.Definition{}.Seal(json.RawMessage(`{"key":"alice-secret-key"}`), nil)
	require.NoError(t, err)
	_, _, err = st.PutCredential(ctx, "alice", "k", func(*credential.Credential) (*credential.Credential, error) {
		return &credential.Credential{ID: "k", Name: "k", Enabled: true, Lookup: sealed.Lookup,
			Plugins: map[string]json.RawMessage{keyauth.Name: sealed.Stored}}, nil
	})
	require.NoError(t, err)

	require.Eventually(t, st.hung.Load, 5*time.Second, time.Millisecond, "the read that hangs is made")
	h := g.Protect("r", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	require.Eventually(t, func() bool {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("apikey", "alice-secret-key")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code == http.StatusOK
	}, 5*time.Second, 5*time.Millisecond)
}
