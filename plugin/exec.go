package plugin

import (
	"net/http"
	"runtime/debug"
	"sync"

	"github.com/gatehousehq/gatehouse/consumer"
)

// Serve runs the plan around next for one request of route routeID made by
// id (nil when the route has no authentication):
//
//  1. PreRequest plugins, in order; a parallel group concurrently. The first
//     plugin (in plan order) that stops answers the request.
//  2. next, unless a plugin stopped the request.
//  3. PostRequest plugins when next has returned (or flushed, or written more
//     than 4 KiB), before anything is sent; skipped for stopped requests.
//  4. PreResponse plugins, which may change the response; then it is sent.
//  5. PostResponse plugins, which observe what was sent.
//
// A panic in a plugin is logged and answered with 500
// {"error":"internal_error","message":"internal error"}; a panic in a
// PostResponse plugin is logged only. A panic in next is not recovered.
// An empty (or nil) plan calls next directly, at no cost.
func (p *Plan) Serve(w http.ResponseWriter, r *http.Request, next http.Handler, routeID string, id *consumer.Identity) {
	p.ServeOutcome(w, r, next, routeID, id)
}

// Outcome says whether a plan answered a request itself instead of its
// handler (ServeOutcome).
type Outcome struct {
	// Status is the status the plan answered with instead of next's
	// response: a PreRequest plugin's Stop, the 500 of a plugin panic, the
	// 502 of a body over the buffered-body cap. 0 when next's response went
	// out (PreResponse plugins may have changed it).
	Status int
	// Plugin names the plugin whose Stop answered the request; "" otherwise.
	Plugin string
}

// ServeOutcome is Serve, and reports how the plan answered the request. The
// gateway reads it for its metrics and refusal logs.
func (p *Plan) ServeOutcome(w http.ResponseWriter, r *http.Request, next http.Handler, routeID string, id *consumer.Identity) Outcome {
	if p == nil || len(p.list) == 0 {
		next.ServeHTTP(w, r)
		return Outcome{}
	}
	x := exchanges.Get().(*exchange)
	x.plan, x.route = p, routeID
	// A pooled exchange was released clean (release): only the request's
	// own fields need setting.
	x.call.req, x.call.route, x.call.id = r, routeID, id
	failed := len(p.pre) > 0 && x.run(p.pre, PreRequest)
	c := &x.call
	if !failed && !c.stopped && !p.wrap && len(c.ops) == 0 {
		next.ServeHTTP(w, r)
		x.release()
		return Outcome{}
	}
	var out Outcome
	rw := &x.rw
	rw.init(x, w)
	switch {
	case failed:
		rw.fail()
	case c.stopped:
		out = Outcome{Status: c.stop.status, Plugin: x.stoppedBy}
		rw.skipPost = true
		if c.stop.contentType != "" {
			w.Header().Set("Content-Type", c.stop.contentType)
		}
		rw.WriteHeader(c.stop.status)
		_, _ = rw.Write(c.stop.body)
	default:
		next.ServeHTTP(rw, r)
	}
	rw.finish()
	if rw.failed {
		out = Outcome{Status: rw.status}
	}
	if len(p.after) > 0 {
		x.run(p.after, PostResponse)
	}
	x.release()
	return out
}

// exchange is the per-request state of a plan's run, pooled.
type exchange struct {
	plan  *Plan
	route string
	// stoppedBy names the PreRequest plugin that stopped the request.
	stoppedBy string
	call      Call
	subs      []Call
	res       Response
	rw        respWriter
	wg        sync.WaitGroup
}

var exchanges = sync.Pool{New: func() any {
	x := new(exchange)
	x.res.rw = &x.rw
	return x
}}

// maxPooledBuf is the largest body buffer kept for reuse.
const maxPooledBuf = 64 << 10

func (x *exchange) release() {
	x.call.reset(nil, "", nil, PreRequest)
	for i := range x.subs {
		x.subs[i].reset(nil, "", nil, PreRequest)
	}
	buf := x.rw.buf
	if cap(buf) > maxPooledBuf {
		buf = nil
	}
	x.rw = respWriter{buf: buf[:0]}
	x.plan, x.route, x.stoppedBy = nil, "", ""
	exchanges.Put(x)
}

// run runs the steps of one stage and reports whether a plugin panicked in
// a way that fails the request (PostResponse panics never do). At PreRequest
// it stops at the first step that stopped the request.
func (x *exchange) run(steps []step, stage Stage) (failed bool) {
	c := &x.call
	c.stage = stage
	if stage == PreResponse {
		c.hdr = x.rw.w.Header()
	}
	for i := range steps {
		st := &steps[i]
		if len(st.members) == 1 {
			if !x.invoke(&st.members[0], c) && stage != PostResponse {
				return true
			}
		} else if x.runGroup(st, stage) {
			return true
		}
		if c.stopped {
			if len(st.members) == 1 {
				x.stoppedBy = st.members[0].name
			}
			return false
		}
	}
	return false
}

// runGroup runs a parallel group: every member but the first in a goroutine
// of its own, each with its own Call. Their outcomes merge in plan order as
// a sequential run would have produced them: header changes of each member
// up to the first that stopped or panicked; that one decides the request.
func (x *exchange) runGroup(st *step, stage Stage) (failed bool) {
	n := len(st.members)
	if len(x.subs) < n {
		x.subs = append(x.subs, make([]Call, n-len(x.subs))...)
	}
	subs := x.subs[:n]
	for i := range subs {
		subs[i].reset(x.call.req, x.call.route, x.call.id, stage)
	}
	x.wg.Add(n - 1)
	for i := 1; i < n; i++ {
		go x.invokeAsync(&st.members[i], &subs[i])
	}
	x.invoke(&st.members[0], &subs[0])
	x.wg.Wait()
	if stage == PostResponse {
		return false
	}
	c := &x.call
	for i := range subs {
		s := &subs[i]
		if s.panicked {
			return true
		}
		c.ops = append(c.ops, s.ops...)
		if s.stopped {
			c.stopped, c.stop = true, s.stop
			x.stoppedBy = st.members[i].name
			return false
		}
	}
	return false
}

func (x *exchange) invokeAsync(m *member, c *Call) {
	defer x.wg.Done()
	x.invoke(m, c)
}

// invoke runs one plugin's method for its stage, turning a panic into a log
// line and a false result.
func (x *exchange) invoke(m *member, c *Call) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			c.panicked = true
			ok = false
			x.logPanic(m, c, v)
		}
	}()
	switch m.stage {
	case PreRequest:
		m.pre.PreRequest(c)
	case PostRequest:
		m.post.PostRequest(c, &x.res)
	case PreResponse:
		m.resp.PreResponse(c, &x.res)
	case PostResponse:
		m.after.PostResponse(c, &x.res)
	}
	return true
}

func (x *exchange) logPanic(m *member, c *Call, v any) {
	args := []any{
		"plugin", m.name,
		"stage", m.stage.String(),
		"route", x.route,
		"panic", v,
		"stack", string(debug.Stack()),
	}
	if cons := c.Consumer(); cons != nil {
		args = append(args, "consumer", cons.Username)
	}
	x.plan.log.Error("gatehouse: plugin panicked", args...)
}
