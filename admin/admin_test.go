package admin_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/admin"
	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/store"
	"github.com/gatehousehq/gatehouse/store/memory"
)

func TestAdminKey(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name string
		hdr  []string
		want int
	}{
		{"no key", []string{"X-API-KEY", ""}, http.StatusUnauthorized},
		{"wrong X-API-KEY", []string{"X-API-KEY", "wrong"}, http.StatusUnauthorized},
		{"key prefix", []string{"X-API-KEY", testKey[:5]}, http.StatusUnauthorized},
		{"key with suffix", []string{"X-API-KEY", testKey + "x"}, http.StatusUnauthorized},
		{"wrong bearer", []string{"X-API-KEY", "", "Authorization", "Bearer wrong"}, http.StatusUnauthorized},
		{"basic scheme", []string{"X-API-KEY", "", "Authorization", "Basic " + testKey}, http.StatusUnauthorized},
		{"X-API-KEY", nil, http.StatusOK},
		{"bearer", []string{"X-API-KEY", "", "Authorization", "Bearer " + testKey}, http.StatusOK},
		{"bearer lower case", []string{"X-API-KEY", "", "Authorization", "bearer " + testKey}, http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(http.MethodGet, "/api/consumers", nil, tc.hdr...)
			if tc.want == http.StatusUnauthorized {
				requireError(t, r, http.StatusUnauthorized, "unauthorized")
				require.NotEmpty(t, r.Header.Get("WWW-Authenticate"))
				return
			}
			require.Equal(t, tc.want, r.Code, r.Body)
		})
	}

	t.Run("checked before routing", func(t *testing.T) {
		r := e.do(http.MethodDelete, "/nowhere", nil, "X-API-KEY", "")
		requireError(t, r, http.StatusUnauthorized, "unauthorized")
	})

	t.Run("checked before writing", func(t *testing.T) {
		r := e.do(http.MethodPost, "/api/consumers", `{"username":"mallory"}`, "X-API-KEY", "nope")
		requireError(t, r, http.StatusUnauthorized, "unauthorized")
		_, err := e.store.GetConsumer(context.Background(), "mallory")
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}

func TestNoKeyConfiguredFailsClosed(t *testing.T) {
	for _, opts := range [][]admin.Option{nil, {admin.WithKey("")}} {
		h := admin.New(memory.New(), nil, opts...)
		for _, hdr := range [][2]string{{"X-API-KEY", ""}, {"X-API-KEY", "anything"}, {"Authorization", "Bearer "}} {
			req := httptest.NewRequest(http.MethodGet, "/api/consumers", nil)
			req.Header.Set(hdr[0], hdr[1])
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			requireError(t, response{Code: rec.Code, Header: rec.Header(), Body: rec.Body.String()},
				http.StatusUnauthorized, "unauthorized")
		}
	}
}

func TestRouting(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		method, path string
		status       int
		code, allow  string
	}{
		{http.MethodDelete, "/api/consumers", http.StatusMethodNotAllowed, "method_not_allowed", "GET, HEAD, POST"},
		{http.MethodPost, "/api/consumers/alice", http.StatusMethodNotAllowed, "method_not_allowed", "GET, HEAD, PUT, PATCH, DELETE"},
		{http.MethodPut, "/api/routes", http.StatusMethodNotAllowed, "method_not_allowed", "GET, HEAD, POST"},
		{http.MethodPost, "/api/consumers/alice/credentials/x", http.StatusMethodNotAllowed, "method_not_allowed", "GET, HEAD, PUT, PATCH, DELETE"},
		{http.MethodGet, "/api/nothing", http.StatusNotFound, "not_found", ""},
		{http.MethodGet, "/", http.StatusNotFound, "not_found", ""},
		{http.MethodGet, "/api/consumers/alice/other", http.StatusNotFound, "not_found", ""},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			r := e.do(tc.method, tc.path, nil)
			requireError(t, r, tc.status, tc.code)
			require.Equal(t, tc.allow, r.Header.Get("Allow"))
		})
	}
}

func TestBodyRules(t *testing.T) {
	e := newEnv(t)
	big := `{"username":"big","desc":"` + strings.Repeat("x", 2<<20) + `"}`
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		hdr    []string
		status int
		code   string
		fields []string
	}{
		{"2 MiB body", http.MethodPost, "/api/consumers", big, nil, 413, "payload_too_large", nil},
		{"2 MiB patch", http.MethodPatch, "/api/consumers/alice", big, nil, 413, "payload_too_large", nil},
		{"malformed", http.MethodPost, "/api/consumers", `{"username":`, nil, 400, "bad_request", nil},
		{"not JSON", http.MethodPost, "/api/consumers", `username=bob`, nil, 400, "bad_request", nil},
		{"empty", http.MethodPost, "/api/consumers", ``, nil, 400, "bad_request", nil},
		{"array", http.MethodPost, "/api/consumers", `[{"username":"bob"}]`, nil, 400, "bad_request", nil},
		{"trailing object", http.MethodPost, "/api/consumers", `{"username":"bob"}{"username":"eve"}`, nil, 400, "bad_request", nil},
		{"trailing garbage", http.MethodPost, "/api/consumers", `{"username":"bob"} x`, nil, 400, "bad_request", nil},
		{"unknown field", http.MethodPost, "/api/consumers", `{"username":"bob","nickname":"b"}`, nil, 400, "bad_request", []string{"nickname"}},
		{"wrong type", http.MethodPost, "/api/consumers", `{"username":42}`, nil, 400, "bad_request", []string{"username"}},
		{"text/plain", http.MethodPost, "/api/consumers", `{"username":"bob"}`, []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type", nil},
		{"merge patch type on POST", http.MethodPost, "/api/consumers", `{"username":"bob"}`, []string{"Content-Type", "application/merge-patch+json"}, 415, "unsupported_media_type", nil},
		{"bad content type", http.MethodPut, "/api/consumers/bob", `{}`, []string{"Content-Type", ";;"}, 415, "unsupported_media_type", nil},
		{"xml patch", http.MethodPatch, "/api/consumers/alice", `{}`, []string{"Content-Type", "application/xml"}, 415, "unsupported_media_type", nil},
	}
	e.must(http.StatusCreated, http.MethodPost, "/api/consumers", map[string]any{"username": "alice"})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.method, tc.path, tc.body, tc.hdr...)
			requireError(t, r, tc.status, tc.code)
			if tc.fields != nil {
				requireFields(t, r, tc.fields...)
			}
			// Nothing was written.
			page, err := e.store.ListConsumers(context.Background(), store.ListOptions{})
			require.NoError(t, err)
			require.Equal(t, 1, page.Total)
			c, err := e.store.GetConsumer(context.Background(), "alice")
			require.NoError(t, err)
			require.Empty(t, c.Desc)
		})
	}

	t.Run("accepted content types", func(t *testing.T) {
		for i, ct := range []string{"", "application/json", "application/json; charset=utf-8", "Application/JSON"} {
			name := "ct" + string(rune('a'+i))
			e.must(http.StatusCreated, http.MethodPost, "/api/consumers", `{"username":"`+name+`"}`, "Content-Type", ct)
		}
	})

	t.Run("smaller limit", func(t *testing.T) {
		small := newEnv(t, admin.WithMaxBody(64))
		r := small.do(http.MethodPost, "/api/consumers", `{"username":"bob","desc":"`+strings.Repeat("y", 64)+`"}`)
		requireError(t, r, http.StatusRequestEntityTooLarge, "payload_too_large")
		small.must(http.StatusCreated, http.MethodPost, "/api/consumers", `{"username":"bob"}`)
	})
}

// failingStore fails every list, as a store that lost its database would.
type failingStore struct {
	store.Store
}

var errDatabaseDown = errors.New("database is down")

func (failingStore) ListConsumers(context.Context, store.ListOptions) (store.Page[consumer.Consumer], error) {
	return store.Page[consumer.Consumer]{}, errDatabaseDown
}

func (failingStore) PutConsumer(context.Context, string, store.Mutator[consumer.Consumer]) (*consumer.Consumer, bool, error) {
	return nil, false, errDatabaseDown
}

func TestInternalErrorIsLoggedNotShown(t *testing.T) {
	var logs strings.Builder
	h := admin.New(failingStore{}, nil, admin.WithKey(testKey), admin.WithLogger(slogTo(&logs)))
	for _, tc := range []struct{ method, path, body string }{
		{http.MethodGet, "/api/consumers", ""},
		{http.MethodGet, "/api/consumers?cursor=abc", ""},
		{http.MethodPost, "/api/consumers", `{"username":"bob","desc":"private-desc"}`},
	} {
		req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
		req.Header.Set("X-API-KEY", testKey)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		r := response{Code: rec.Code, Header: rec.Header(), Body: rec.Body.String()}
		requireError(t, r, http.StatusInternalServerError, "internal")
		require.NotContains(t, r.Body, "database is down")
	}
	require.Contains(t, logs.String(), "database is down")
	require.NotContains(t, logs.String(), "private-desc")
	require.NotContains(t, logs.String(), testKey)
}

// unreachableStore fails as a back-end that lost its database connection.
type unreachableStore struct {
	store.Store
}

var errConnRefused = fmt.Errorf("dial tcp 10.0.0.9:5432: connection refused: %w", store.ErrUnavailable)

func (unreachableStore) ListConsumers(context.Context, store.ListOptions) (store.Page[consumer.Consumer], error) {
	return store.Page[consumer.Consumer]{}, errConnRefused
}

func (unreachableStore) PutConsumer(context.Context, string, store.Mutator[consumer.Consumer]) (*consumer.Consumer, bool, error) {
	return nil, false, errConnRefused
}

func TestUnavailableStoreIs503WithRetryAfter(t *testing.T) {
	var logs strings.Builder
	h := admin.New(unreachableStore{}, nil, admin.WithKey(testKey), admin.WithLogger(slogTo(&logs)))
	for _, tc := range []struct{ method, path, body string }{
		{http.MethodGet, "/api/consumers", ""},
		{http.MethodPost, "/api/consumers", `{"username":"bob"}`},
	} {
		req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
		req.Header.Set("X-API-KEY", testKey)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		r := response{Code: rec.Code, Header: rec.Header(), Body: rec.Body.String()}
		requireError(t, r, http.StatusServiceUnavailable, "unavailable")
		require.Equal(t, "1", r.Header.Get("Retry-After"))
		require.Contains(t, r.Body, "configuration store cannot be reached")
		require.NotContains(t, r.Body, "10.0.0.9", "the store's address stays in the log")
	}
	require.Contains(t, logs.String(), "connection refused")
}

// hangingStore never answers, as a database server that hangs instead of
// refusing connections: calls return when their context ends.
type hangingStore struct {
	store.Store
}

func (hangingStore) ListConsumers(ctx context.Context, _ store.ListOptions) (store.Page[consumer.Consumer], error) {
	<-ctx.Done()
	return store.Page[consumer.Consumer]{}, ctx.Err()
}

func TestHangingStoreIs503AfterTheTimeout(t *testing.T) {
	var logs strings.Builder
	h := admin.New(hangingStore{}, nil, admin.WithKey(testKey), admin.WithLogger(slogTo(&logs)), admin.WithTimeout(50*time.Millisecond))
	req := httptest.NewRequest(http.MethodGet, "/api/consumers", nil)
	req.Header.Set("X-API-KEY", testKey)
	rec := httptest.NewRecorder()
	start := time.Now()
	h.ServeHTTP(rec, req)
	took := time.Since(start)
	r := response{Code: rec.Code, Header: rec.Header(), Body: rec.Body.String()}
	requireError(t, r, http.StatusServiceUnavailable, "unavailable")
	require.Equal(t, "1", r.Header.Get("Retry-After"))
	require.Contains(t, r.Body, "did not answer in time")
	require.GreaterOrEqual(t, took, 50*time.Millisecond)
	require.Less(t, took, 2*time.Second)
	require.Contains(t, logs.String(), "timeout")

	// A client that goes away is not the store's fault: no 503 for it.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req = httptest.NewRequestWithContext(ctx, http.MethodGet, "/api/consumers", nil)
	req.Header.Set("X-API-KEY", testKey)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.NotEqual(t, http.StatusServiceUnavailable, rec.Code)
}
