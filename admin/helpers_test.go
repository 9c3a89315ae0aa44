package admin_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/admin"
	"github.com/gatehousehq/gatehouse/credential/keyauth"
	"github.com/gatehousehq/gatehouse/internal/testlog"
	"github.com/gatehousehq/gatehouse/plugin"
	"github.com/gatehousehq/gatehouse/store/memory"
)

const testKey = "s3cret-admin-key"

// env is an admin handler over a fresh memory store.
type env struct {
	t     *testing.T
	store *memory.Store
	h     http.Handler
	logs  *bytes.Buffer
	// seen records, by operationId of the OpenAPI document ("" for a path
	// or method it has not), the statuses of the answers do received.
	seen map[string][]int
}

func newEnv(t *testing.T, opts ...admin.Option) *env {
	t.Helper()
	st := memory.New()
	logs := &bytes.Buffer{}
	logger := testlog.New(logs)
	opts = append([]admin.Option{admin.WithKey(testKey), admin.WithLogger(logger)}, opts...)
	return &env{t: t, store: st, h: admin.New(st, plugin.NewRegistry(keyauth.Definition{}), opts...), logs: logs}
}

// response is a recorded answer.
type response struct {
	Code   int
	Header http.Header
	Body   string
}

// JSON decodes the body into a generic object.
func (r response) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.Body), &m), "body: %s", r.Body)
	return m
}

// Fields returns the error's fields.
func (r response) Fields(t *testing.T) map[string]any {
	t.Helper()
	f, _ := r.JSON(t)["fields"].(map[string]any)
	return f
}

// do sends a request with the admin key. body is a string (sent as is) or a
// value encoded as JSON. hdr are header name/value pairs; a value of "" removes
// the header.
func (e *env) do(method, path string, body any, hdr ...string) response {
	e.t.Helper()
	var rd io.Reader
	var sent []byte
	switch b := body.(type) {
	case nil:
	case string:
		sent = []byte(b)
	case []byte:
		sent = b
	default:
		raw, err := json.Marshal(b)
		require.NoError(e.t, err)
		sent = raw
	}
	if body != nil {
		rd = bytes.NewReader(sent)
	}
	req := httptest.NewRequest(method, path, rd)
	req.Header.Set("X-API-KEY", testKey)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	// Every answer must be one the OpenAPI document describes.
	opID, err := mustDoc(e.t).checkAnswer(method, req.URL.Path, rec.Code, rec.Header(), rec.Body.Bytes())
	require.NoError(e.t, err, "%s %s", method, path)
	if rec.Code >= 200 && rec.Code < 300 && len(sent) > 0 {
		require.NoError(e.t, mustDoc(e.t).checkRequest(method, req.URL.Path, req.Header.Get("Content-Type"), sent))
	}
	if e.seen == nil {
		e.seen = map[string][]int{}
	}
	e.seen[opID] = append(e.seen[opID], rec.Code)
	return response{Code: rec.Code, Header: rec.Header(), Body: rec.Body.String()}
}

// must sends a request and requires status want.
func (e *env) must(want int, method, path string, body any, hdr ...string) response {
	e.t.Helper()
	r := e.do(method, path, body, hdr...)
	require.Equal(e.t, want, r.Code, "%s %s: %s", method, path, r.Body)
	return r
}

// requireError checks an error response: status, code, JSON content type.
func requireError(t *testing.T, r response, status int, code string) {
	t.Helper()
	require.Equal(t, status, r.Code, r.Body)
	require.Equal(t, "application/json", r.Header.Get("Content-Type"))
	m := r.JSON(t)
	require.Equal(t, code, m["error"], r.Body)
	require.NotEmpty(t, m["message"], r.Body)
}

// requireFields checks that a 400 names exactly the fields want.
func requireFields(t *testing.T, r response, want ...string) {
	t.Helper()
	requireError(t, r, http.StatusBadRequest, "bad_request")
	got := make([]string, 0)
	for f := range r.Fields(t) {
		got = append(got, f)
	}
	require.ElementsMatch(t, want, got, r.Body)
}

// slogTo returns a debug-level logger writing text to w.
func slogTo(w io.Writer) *slog.Logger {
	return testlog.New(w)
}
