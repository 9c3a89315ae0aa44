package plugin_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/plugin"
)

func TestServeOrderAcrossStagesAndPriorities(t *testing.T) {
	tr := new(trace)
	sp := func(name string) *stagePlugin { return &stagePlugin{name: name, tr: tr} }
	// Given out of order, spread over levels: the plan orders them.
	p := mustPlan(t, plugin.Levels{
		Gateway: []plugin.Configured{
			at(sp("log"), plugin.PostResponse, 0),
			at(sp("limit"), plugin.PreRequest, 20),
		},
		Route: []plugin.Configured{
			at(sp("cors"), plugin.PreResponse, 5),
			at(sp("acl"), plugin.PreRequest, 10),
			at(sp("usage"), plugin.PostRequest, 0),
		},
		Consumer: []plugin.Configured{
			at(sp("zeta"), plugin.PreRequest, 10),
			at(sp("alpha"), plugin.PreRequest, 10),
			at(sp("gzip"), plugin.PreResponse, -1),
		},
	})
	rec := serve(p, handlerOK(tr))
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "hello", rec.Body.String())
	require.Equal(t, []string{
		"pre_request:acl", "pre_request:alpha", "pre_request:zeta", "pre_request:limit",
		"handler",
		"post_request:usage",
		"pre_response:gzip", "pre_response:cors",
		"post_response:log",
	}, tr.list())

	var names []string
	for _, c := range p.Plugins() {
		names = append(names, c.Name)
	}
	require.Equal(t, []string{"acl", "alpha", "zeta", "limit", "usage", "gzip", "cors", "log"}, names)
}

func TestServeCallCarriesRequestRouteAndIdentity(t *testing.T) {
	var got []string
	p := mustPlan(t, plugin.Levels{Route: []plugin.Configured{at(&stagePlugin{name: "who", pre: func(c *plugin.Call) {
		got = append(got, c.Request().URL.Path, c.RouteID(), c.Stage().String())
		if c.Identity() != nil {
			got = append(got, c.Consumer().Username, c.Identity().CredentialID)
		} else {
			require.Nil(t, c.Consumer())
		}
	}}, plugin.PreRequest, 0)}})
	serve(p, handlerOK(nil))
	require.Equal(t, []string{"/orders/1", "orders", "pre_request", "alice", "c1"}, got)

	got = nil
	rec := httptest.NewRecorder()
	p.Serve(rec, httptest.NewRequest(http.MethodGet, "/open", nil), handlerOK(nil), "open", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, []string{"/open", "open", "pre_request"}, got)
}

// barrier returns a func that blocks until n callers are in it; it reports
// false after a timeout, which is what plugins run one by one would hit.
func barrier(n int) func() bool {
	var arrived atomic.Int32
	all := make(chan struct{})
	return func() bool {
		if arrived.Add(1) == int32(n) {
			close(all)
		}
		select {
		case <-all:
			return true
		case <-time.After(5 * time.Second):
			return false
		}
	}
}

func TestServeParallelGroupRunsConcurrently(t *testing.T) {
	for _, stage := range []plugin.Stage{plugin.PreRequest, plugin.PostRequest, plugin.PostResponse} {
		t.Run(stage.String(), func(t *testing.T) {
			wait := barrier(3)
			var met atomic.Int32
			hook := func() {
				if wait() {
					met.Add(1)
				}
			}
			mk := func(name string) *stagePlugin {
				return &stagePlugin{name: name,
					pre:   func(*plugin.Call) { hook() },
					post:  func(*plugin.Call, *plugin.Response) { hook() },
					after: func(*plugin.Call, *plugin.Response) { hook() },
				}
			}
			p := mustPlan(t, plugin.Levels{Route: []plugin.Configured{
				parallel(at(mk("a"), stage, 7)),
				parallel(at(mk("b"), stage, 7)),
				parallel(at(mk("c"), stage, 7)),
			}})
			rec := serve(p, handlerOK(nil))
			require.Equal(t, http.StatusOK, rec.Code)
			require.Equal(t, int32(3), met.Load(), "the three plugins must have been in the barrier together")
		})
	}
}

func TestServeParallelOnlyWithinOnePriority(t *testing.T) {
	tr := new(trace)
	var inFirst atomic.Int32
	first := func(name string) *stagePlugin {
		return &stagePlugin{name: name, tr: tr, pre: func(*plugin.Call) {
			inFirst.Add(1)
			time.Sleep(20 * time.Millisecond)
			inFirst.Add(-1)
		}}
	}
	var overlap atomic.Bool
	later := &stagePlugin{name: "later", tr: tr, pre: func(*plugin.Call) {
		if inFirst.Load() != 0 {
			overlap.Store(true)
		}
	}}
	seq := &stagePlugin{name: "b-seq", tr: tr}
	p := mustPlan(t, plugin.Levels{Route: []plugin.Configured{
		parallel(at(first("a"), plugin.PreRequest, 1)),
		at(seq, plugin.PreRequest, 1),
		parallel(at(first("c"), plugin.PreRequest, 1)),
		parallel(at(later, plugin.PreRequest, 2)),
	}})
	serve(p, handlerOK(nil))
	require.False(t, overlap.Load(), "a plugin of a higher priority must wait for the group before it")
	got := tr.list()
	// a and c form one group, run where a stands; b-seq runs alone after it.
	require.ElementsMatch(t, []string{"pre_request:a", "pre_request:c"}, got[:2])
	require.Equal(t, []string{"pre_request:b-seq", "pre_request:later"}, got[2:])
}

func TestServeParallelMergeIsDeterministic(t *testing.T) {
	// Members finish in random order; the outcome is always that of plan
	// order: a's header, then b's stop (with b's header); c is discarded.
	jitter := func() { time.Sleep(time.Duration(rand.IntN(3)) * time.Millisecond) }
	a := &stagePlugin{name: "a", pre: func(c *plugin.Call) {
		jitter()
		c.AddHeader("X-Order", "a")
	}}
	b := &stagePlugin{name: "b", pre: func(c *plugin.Call) {
		jitter()
		c.AddHeader("X-Order", "b")
		c.SetHeader("X-Ratelimit-Remaining", "0")
		c.Stop(http.StatusTooManyRequests, "application/json", []byte(`{"error":"rate limit exceeded"}`))
	}}
	c := &stagePlugin{name: "c", pre: func(c *plugin.Call) {
		jitter()
		c.AddHeader("X-Order", "c")
		c.Stop(http.StatusForbidden, "text/plain", []byte("no"))
	}}
	p := mustPlan(t, plugin.Levels{Route: []plugin.Configured{
		parallel(at(c, plugin.PreRequest, 0)),
		parallel(at(a, plugin.PreRequest, 0)),
		parallel(at(b, plugin.PreRequest, 0)),
	}})
	for range 50 {
		var called bool
		rec := serve(p, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }))
		require.False(t, called)
		require.Equal(t, http.StatusTooManyRequests, rec.Code)
		require.Equal(t, []string{"a", "b"}, rec.Header().Values("X-Order"))
		require.Equal(t, "0", rec.Header().Get("X-Ratelimit-Remaining"))
		require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
		require.JSONEq(t, `{"error":"rate limit exceeded"}`, rec.Body.String())
	}
}

func TestServeParallelPanicAndStopFollowPlanOrder(t *testing.T) {
	stop := func(name string) *stagePlugin {
		return &stagePlugin{name: name, pre: func(c *plugin.Call) { c.Stop(http.StatusForbidden, "", nil) }}
	}
	boom := func(name string) *stagePlugin {
		return &stagePlugin{name: name, pre: func(*plugin.Call) { panic("boom") }}
	}
	tests := []struct {
		name string
		a, b plugin.Plugin
		want int
	}{
		{"stop before panic", stop("a"), boom("b"), http.StatusForbidden},
		{"panic before stop", boom("a"), stop("b"), http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs, log := newLog()
			p := mustPlan(t, plugin.Levels{Route: []plugin.Configured{
				parallel(at(tt.b, plugin.PreRequest, 0)),
				parallel(at(tt.a, plugin.PreRequest, 0)),
			}}, plugin.WithLogger(log))
			for range 20 {
				require.Equal(t, tt.want, serve(p, handlerOK(nil)).Code)
			}
			require.NotEmpty(t, logs.records(t), "the panic is logged either way")
		})
	}
}

func TestServeStop(t *testing.T) {
	tr := new(trace)
	body := []byte(`{"error":"rate limit exceeded","message":"slow down","limit":"per_user","retry_after":60}`)
	limiter := &stagePlugin{name: "limit", tr: tr, pre: func(c *plugin.Call) {
		c.SetHeader("X-Ratelimit-Limit", "50")
		c.SetHeader("X-Ratelimit-Remaining", "0")
		c.SetHeader("Retry-After", "60")
		c.Stop(http.StatusTooManyRequests, "application/json", body)
	}}
	var observed []string
	p := mustPlan(t, plugin.Levels{Route: []plugin.Configured{
		at(&stagePlugin{name: "first", tr: tr, pre: func(c *plugin.Call) { c.SetHeader("X-First", "1") }}, plugin.PreRequest, 0),
		at(limiter, plugin.PreRequest, 1),
		at(&stagePlugin{name: "after-limit", tr: tr}, plugin.PreRequest, 2),
		at(&stagePlugin{name: "usage", tr: tr}, plugin.PostRequest, 0),
		at(&stagePlugin{name: "cors", tr: tr, resp: func(c *plugin.Call, res *plugin.Response) {
			res.Header().Set("Access-Control-Allow-Origin", "*")
		}}, plugin.PreResponse, 0),
		at(&stagePlugin{name: "log", tr: tr, after: func(c *plugin.Call, res *plugin.Response) {
			observed = append(observed, strconv.Itoa(res.Status()), strconv.FormatInt(res.Size(), 10))
		}}, plugin.PostResponse, 0),
	}})
	rec := serve(p, handlerOK(tr))

	require.Equal(t, http.StatusTooManyRequests, rec.Code)
	require.JSONEq(t, string(body), rec.Body.String())
	h := rec.Header()
	require.Equal(t, "application/json", h.Get("Content-Type"))
	require.Equal(t, "50", h.Get("X-RateLimit-Limit"))
	require.Equal(t, "0", h.Get("X-RateLimit-Remaining"))
	require.Equal(t, "60", h.Get("Retry-After"))
	require.Equal(t, "1", h.Get("X-First"), "headers of plugins before the stop are kept")
	require.Equal(t, "*", h.Get("Access-Control-Allow-Origin"), "PreResponse sees a stopped request's answer")
	require.Equal(t, []string{
		"pre_request:first", "pre_request:limit",
		"pre_response:cors", "post_response:log",
	}, tr.list(), "no later PreRequest plugin, no handler, no PostRequest")
	require.Equal(t, []string{"429", strconv.Itoa(len(body))}, observed)
}

func TestServeStopOutsidePreRequestDoesNothing(t *testing.T) {
	p := mustPlan(t, plugin.Levels{Route: []plugin.Configured{
		at(&stagePlugin{name: "late", post: func(c *plugin.Call, _ *plugin.Response) {
			c.Stop(http.StatusTeapot, "", nil)
		}}, plugin.PostRequest, 0),
	}})
	rec := serve(p, handlerOK(nil))
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "hello", rec.Body.String())
}

func TestServeHeadersFromPreRequest(t *testing.T) {
	p := mustPlan(t, plugin.Levels{Route: []plugin.Configured{
		at(&stagePlugin{name: "limit", pre: func(c *plugin.Call) {
			c.SetHeader("X-Ratelimit-Limit", "10")
			c.AddHeader("Vary", "X-Consumer")
		}}, plugin.PreRequest, 0),
	}})
	rec := serve(p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Ratelimit-Limit", "999") // an upstream's own value
		w.Header().Set("Vary", "Accept")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte("made"))
	}))
	require.Equal(t, http.StatusCreated, rec.Code)
	require.Equal(t, "made", rec.Body.String())
	require.Equal(t, []string{"10"}, rec.Header().Values("X-Ratelimit-Limit"), "the gateway's value replaces the handler's")
	require.Equal(t, []string{"Accept", "X-Consumer"}, rec.Header().Values("Vary"))
}

func TestServePostRequestSeesOutcomeBeforeAnythingIsSent(t *testing.T) {
	var (
		status   int
		size     int64
		complete bool
		ctype    string
		sentYet  bool
	)
	var rec *httptest.ResponseRecorder
	p := mustPlan(t, plugin.Levels{Route: []plugin.Configured{
		at(&stagePlugin{name: "usage", post: func(c *plugin.Call, res *plugin.Response) {
			status, size, complete, ctype = res.Status(), res.Size(), res.Complete(), res.Header().Get("Content-Type")
			sentYet = rec.Flushed || rec.Body.Len() > 0 || rec.Code != http.StatusOK
			c.SetHeader("X-Usage", strconv.FormatInt(res.Size(), 10))
		}}, plugin.PostRequest, 0),
	}})
	rec = httptest.NewRecorder()
	p.Serve(rec, httptest.NewRequest(http.MethodGet, "/", nil), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"a":`))
		_, _ = w.Write([]byte(`1}`))
	}), "r", nil)
	require.Equal(t, http.StatusAccepted, status)
	require.Equal(t, int64(7), size)
	require.True(t, complete)
	require.Equal(t, "application/json", ctype)
	require.False(t, sentYet)
	require.Equal(t, http.StatusAccepted, rec.Code)
	require.Equal(t, "7", rec.Header().Get("X-Usage"))
	require.Equal(t, `{"a":1}`, rec.Body.String())
}

func TestServeLargeResponseCommitsAtHoldSize(t *testing.T) {
	var size int64
	var complete bool
	p := mustPlan(t, plugin.Levels{Route: []plugin.Configured{
		at(&stagePlugin{name: "usage", post: func(_ *plugin.Call, res *plugin.Response) {
			size, complete = res.Size(), res.Complete()
		}}, plugin.PostRequest, 0),
		at(&stagePlugin{name: "count", after: func(_ *plugin.Call, res *plugin.Response) {
			size = res.Size()
		}}, plugin.PostResponse, 0),
	}})
	chunk := strings.Repeat("x", 3000)
	var sizes []int64
	rec := serve(p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for range 3 {
			_, _ = w.Write([]byte(chunk))
			sizes = append(sizes, size)
		}
	}))
	// The second write goes over 4 KiB: the response commits then, with what
	// the handler has written so far.
	require.Equal(t, []int64{0, 6000, 6000}, sizes)
	require.False(t, complete)
	require.Equal(t, strings.Repeat(chunk, 3), rec.Body.String())
	require.Equal(t, int64(9000), size, "PostResponse counts what was sent")
}

func TestServeEmptyPlanCallsNextDirectly(t *testing.T) {
	for name, p := range map[string]*plugin.Plan{"nil": nil, "empty": mustPlan(t, plugin.Levels{})} {
		t.Run(name, func(t *testing.T) {
			require.True(t, p.Empty())
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			var gotW http.ResponseWriter
			var gotR *http.Request
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { gotW, gotR = w, r })
			p.Serve(rec, req, next, "r", nil)
			require.Same(t, rec, gotW.(*httptest.ResponseRecorder), "the writer is not wrapped")
			require.Same(t, req, gotR)
			allocs := testing.AllocsPerRun(100, func() { p.Serve(rec, req, next, "r", nil) })
			require.Zero(t, allocs)
		})
	}
}

func TestServePreRequestOnlyDoesNotWrapWriter(t *testing.T) {
	p := mustPlan(t, plugin.Levels{Route: []plugin.Configured{at(&stagePlugin{name: "acl"}, plugin.PreRequest, 0)}})
	rec := httptest.NewRecorder()
	var gotW http.ResponseWriter
	p.Serve(rec, httptest.NewRequest(http.MethodGet, "/", nil), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { gotW = w }), "r", nil)
	require.Same(t, rec, gotW.(*httptest.ResponseRecorder))
}

func TestServePanics(t *testing.T) {
	boom := func() { panic(fmt.Errorf("boom")) }
	tests := []struct {
		name       string
		levels     plugin.Levels
		wantStatus int
		wantStage  string
	}{
		{"pre_request", plugin.Levels{Route: []plugin.Configured{
			at(&stagePlugin{name: "bad", pre: func(*plugin.Call) { boom() }}, plugin.PreRequest, 0),
		}}, 500, "pre_request"},
		{"pre_request in a parallel goroutine", plugin.Levels{Route: []plugin.Configured{
			parallel(at(&stagePlugin{name: "a-fine"}, plugin.PreRequest, 0)),
			parallel(at(&stagePlugin{name: "bad", pre: func(*plugin.Call) { boom() }}, plugin.PreRequest, 0)),
		}}, 500, "pre_request"},
		{"post_request", plugin.Levels{Route: []plugin.Configured{
			at(&stagePlugin{name: "bad", post: func(*plugin.Call, *plugin.Response) { boom() }}, plugin.PostRequest, 0),
		}}, 500, "post_request"},
		{"post_request in a parallel goroutine", plugin.Levels{Route: []plugin.Configured{
			parallel(at(&stagePlugin{name: "a-fine"}, plugin.PostRequest, 0)),
			parallel(at(&stagePlugin{name: "bad", post: func(*plugin.Call, *plugin.Response) { boom() }}, plugin.PostRequest, 0)),
		}}, 500, "post_request"},
		{"pre_response", plugin.Levels{Route: []plugin.Configured{
			at(&stagePlugin{name: "bad", resp: func(*plugin.Call, *plugin.Response) { boom() }}, plugin.PreResponse, 0),
		}}, 500, "pre_response"},
		{"pre_response setting an invalid status", plugin.Levels{Route: []plugin.Configured{
			at(&stagePlugin{name: "bad", resp: func(_ *plugin.Call, res *plugin.Response) { res.SetStatus(42) }}, plugin.PreResponse, 0),
		}}, 500, "pre_response"},
		{"post_response", plugin.Levels{Route: []plugin.Configured{
			at(&stagePlugin{name: "bad", after: func(*plugin.Call, *plugin.Response) { boom() }}, plugin.PostResponse, 0),
		}}, 200, "post_response"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs, log := newLog()
			p := mustPlan(t, tt.levels, plugin.WithLogger(log))
			var observed int
			// Every plan also has an observer, which sees what was sent.
			if tt.wantStage != "post_response" {
				tt.levels.Gateway = []plugin.Configured{at(&stagePlugin{name: "obs", after: func(_ *plugin.Call, res *plugin.Response) {
					observed = res.Status()
				}}, plugin.PostResponse, 0)}
				p = mustPlan(t, tt.levels, plugin.WithLogger(log))
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				p.Serve(w, r, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("X-Handler", "yes")
					w.Header().Set("Set-Cookie", "s=1")
					_, _ = w.Write([]byte("hello"))
				}), "orders", alice)
			}))
			defer srv.Close()
			for range 2 { // the server keeps serving
				res, err := http.Get(srv.URL)
				require.NoError(t, err)
				b := readAll(t, res)
				require.Equal(t, tt.wantStatus, res.StatusCode)
				if tt.wantStatus == 500 {
					require.JSONEq(t, `{"error":"internal_error","message":"internal error"}`, b)
					require.Equal(t, "application/json", res.Header.Get("Content-Type"))
					require.Empty(t, res.Header.Get("X-Handler"), "the held response is dropped, headers included")
					require.Empty(t, res.Header.Get("Set-Cookie"))
					require.Equal(t, 500, observed)
				} else {
					require.Equal(t, "hello", b)
				}
			}
			recs := logs.records(t)
			require.Len(t, recs, 2)
			for _, r := range recs {
				require.Equal(t, "ERROR", r["level"])
				require.Equal(t, "bad", r["plugin"])
				require.Equal(t, tt.wantStage, r["stage"])
				require.Equal(t, "orders", r["route"])
				require.Equal(t, "alice", r["consumer"])
				require.NotEmpty(t, r["panic"])
				require.Contains(t, r["stack"], "plugin_test")
			}
		})
	}
}

func TestServeDoesNotRecoverHandlerPanics(t *testing.T) {
	p := mustPlan(t, plugin.Levels{Route: []plugin.Configured{at(&stagePlugin{name: "usage"}, plugin.PostRequest, 0)}})
	require.PanicsWithValue(t, "handler bug", func() {
		serve(p, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("handler bug") }))
	})
}

func TestServePostResponsePanicDoesNotStopOtherObservers(t *testing.T) {
	tr := new(trace)
	_, log := newLog()
	bad := func(name string) *stagePlugin {
		return &stagePlugin{name: name, tr: tr, after: func(*plugin.Call, *plugin.Response) { panic("observer bug") }}
	}
	p := mustPlan(t, plugin.Levels{Route: []plugin.Configured{
		at(bad("a-seq"), plugin.PostResponse, 0),
		parallel(at(bad("b-par"), plugin.PostResponse, 1)),
		parallel(at(&stagePlugin{name: "c-par", tr: tr}, plugin.PostResponse, 1)),
		at(&stagePlugin{name: "d-last", tr: tr}, plugin.PostResponse, 2),
	}}, plugin.WithLogger(log))
	rec := serve(p, handlerOK(nil))
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "hello", rec.Body.String())
	require.ElementsMatch(t, []string{
		"post_response:a-seq", "post_response:b-par", "post_response:c-par", "post_response:d-last",
	}, tr.list())
	require.Equal(t, "post_response:d-last", tr.list()[3])
}
