package plugin_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/plugin"
)

// trace records what ran, in order, from any goroutine.
type trace struct {
	mu  sync.Mutex
	got []string
}

func (t *trace) add(s string) {
	t.mu.Lock()
	t.got = append(t.got, s)
	t.mu.Unlock()
}

func (t *trace) list() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.got...)
}

// stagePlugin implements every stage interface: each hook records
// "<stage>:<label>" in tr and then calls the matching func, if set.
type stagePlugin struct {
	name  string
	label string // defaults to name; tells instances of one name apart
	tr    *trace
	body  bool

	pre   func(c *plugin.Call)
	post  func(c *plugin.Call, res *plugin.Response)
	resp  func(c *plugin.Call, res *plugin.Response)
	after func(c *plugin.Call, res *plugin.Response)
}

func (p *stagePlugin) Name() string { return p.name }

func (p *stagePlugin) record(stage string) {
	if p.tr == nil {
		return
	}
	l := p.label
	if l == "" {
		l = p.name
	}
	p.tr.add(stage + ":" + l)
}

func (p *stagePlugin) PreRequest(c *plugin.Call) {
	p.record("pre_request")
	if p.pre != nil {
		p.pre(c)
	}
}

func (p *stagePlugin) PostRequest(c *plugin.Call, res *plugin.Response) {
	p.record("post_request")
	if p.post != nil {
		p.post(c, res)
	}
}

func (p *stagePlugin) NeedsBody() bool { return p.body }

func (p *stagePlugin) PreResponse(c *plugin.Call, res *plugin.Response) {
	p.record("pre_response")
	if p.resp != nil {
		p.resp(c, res)
	}
}

func (p *stagePlugin) PostResponse(c *plugin.Call, res *plugin.Response) {
	p.record("post_response")
	if p.after != nil {
		p.after(c, res)
	}
}

// preOnly runs at PreRequest only.
type preOnly struct{ name string }

func (p preOnly) Name() string              { return p.name }
func (p preOnly) PreRequest(c *plugin.Call) {}

func at(p plugin.Plugin, stage plugin.Stage, priority int) plugin.Configured {
	return plugin.Configured{Plugin: p, Stage: stage, Priority: priority}
}

func parallel(c plugin.Configured) plugin.Configured {
	c.Parallel = true
	return c
}

func mustPlan(t testing.TB, l plugin.Levels, opts ...plugin.PlanOption) *plugin.Plan {
	t.Helper()
	p, err := plugin.NewPlan(l, opts...)
	require.NoError(t, err)
	return p
}

// handlerOK answers 200 "hello" and records "handler".
func handlerOK(tr *trace) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tr != nil {
			tr.add("handler")
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("hello"))
	})
}

var alice = &consumer.Identity{Consumer: &consumer.Consumer{Username: "alice"}, CredentialID: "c1"}

// serve runs plan p around h for one GET and returns the recorded response.
func serve(p *plugin.Plan, h http.Handler) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	p.Serve(rec, httptest.NewRequest(http.MethodGet, "/orders/1", nil), h, "orders", alice)
	return rec
}

// logBuffer collects JSON log records, safely across goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m))
		out = append(out, m)
	}
	return out
}

func newLog() (*logBuffer, *slog.Logger) {
	b := new(logBuffer)
	return b, slog.New(slog.NewJSONHandler(b, nil))
}
