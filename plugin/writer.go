package plugin

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"strconv"
)

// holdSize is how many body bytes a plan with PostRequest or PreResponse
// plugins holds, with the response head, before it commits the response and
// lets the rest stream.
const holdSize = 4 << 10

// internalError is the body of the 500 that replaces a response when a
// plugin panics.
var internalError = []byte(`{"error":"internal_error","message":"internal error"}` + "\n")

// errReplaced is returned to a handler that writes after a plugin failure
// replaced its response with a 500.
var errReplaced = errors.New("plugin: response replaced by an internal error after a plugin panicked")

// respWriter is the http.ResponseWriter next sees when the plan has work to
// do around the response. The head (status, and the header map, which is the
// underlying writer's own) is held until commit; so are up to holdSize body
// bytes, or the whole body when buffer is set.
type respWriter struct {
	x *exchange
	w http.ResponseWriter
	// status is the handler's (or PreResponse's) status; 0 until set.
	status int
	// hold: run PostRequest and PreResponse before the head is sent.
	// buffer: hold the whole body. skipPost: the request was stopped by a
	// plugin, next did not run.
	hold, buffer, skipPost bool
	// committed: the head was passed to w (or a 500 replaced it, failed; or
	// the connection was hijacked). done: next had returned.
	committed, failed, hijacked, done bool
	buf                               []byte
	body                              []byte
	bodySet                           bool
	written, sent                     int64
}

func (rw *respWriter) init(x *exchange, w http.ResponseWriter) {
	rw.x, rw.w = x, w
	rw.hold, rw.buffer = x.plan.hold, x.plan.buffer
}

func (rw *respWriter) stage() Stage { return rw.x.call.stage }

// Header returns the underlying writer's header map: the head is held by not
// calling its WriteHeader yet.
func (rw *respWriter) Header() http.Header { return rw.w.Header() }

// WriteHeader records the status; it is sent at commit. Informational
// statuses (103 Early Hints, ...) pass through at once.
func (rw *respWriter) WriteHeader(code int) {
	if rw.failed || rw.hijacked {
		return
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		rw.w.WriteHeader(code)
		return
	}
	if rw.status != 0 {
		return
	}
	rw.status = code
	if !rw.hold {
		rw.commit()
	}
}

// Write holds the body (or passes it through once committed).
func (rw *respWriter) Write(p []byte) (int, error) {
	if rw.failed {
		return 0, errReplaced
	}
	if rw.hijacked {
		return 0, http.ErrHijacked
	}
	if rw.status == 0 {
		rw.WriteHeader(http.StatusOK)
	}
	rw.written += int64(len(p))
	if !rw.committed {
		if rw.buffer || len(rw.buf)+len(p) <= holdSize {
			rw.buf = append(rw.buf, p...)
			return len(p), nil
		}
		if !rw.commit() {
			return 0, errReplaced
		}
	}
	n, err := rw.w.Write(p)
	rw.sent += int64(n)
	return n, err
}

// Flush commits the response (running PostRequest and PreResponse with what
// the handler has written so far) and flushes it to the client, unless the
// whole body is buffered: then it does nothing until the handler returns.
func (rw *respWriter) Flush() {
	if rw.failed || rw.hijacked || rw.buffer {
		return
	}
	if !rw.committed && !rw.commit() {
		return
	}
	_ = http.NewResponseController(rw.w).Flush()
}

// Hijack hands the connection over (WebSocket upgrades through a reverse
// proxy); PostRequest and PreResponse do not run for it.
func (rw *respWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(rw.w).Hijack()
	if err == nil {
		rw.hijacked, rw.committed = true, true
		if rw.status == 0 {
			rw.status = http.StatusSwitchingProtocols
		}
	}
	return conn, brw, err
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (rw *respWriter) Unwrap() http.ResponseWriter { return rw.w }

// finish commits the response if next returned without doing so.
func (rw *respWriter) finish() {
	rw.done = true
	if !rw.committed {
		rw.commit()
	}
}

// commit runs PostRequest (unless the request was stopped), applies the
// header changes plugins asked for, runs PreResponse, then sends the head and
// the held body. It reports false when a plugin panicked and a 500 was sent
// instead.
func (rw *respWriter) commit() bool {
	rw.committed = true
	x, p := rw.x, rw.x.plan
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	if !rw.skipPost && len(p.post) > 0 && x.run(p.post, PostRequest) {
		rw.fail()
		return false
	}
	h := rw.w.Header()
	x.call.applyOps(h)
	if len(p.resp) > 0 && x.run(p.resp, PreResponse) {
		rw.fail()
		return false
	}
	body := rw.buf
	if rw.bodySet {
		body = rw.body
		if bodyAllowed(rw.status) {
			h.Set("Content-Length", strconv.Itoa(len(body)))
		} else {
			h.Del("Content-Length")
			body = nil
		}
	}
	rw.w.WriteHeader(rw.status)
	if len(body) > 0 {
		n, _ := rw.w.Write(body)
		rw.sent += int64(n)
	}
	return true
}

// fail replaces the response, of which nothing was sent, with the 500 of a
// plugin panic: the held head, headers included, is dropped.
func (rw *respWriter) fail() {
	rw.failed, rw.committed = true, true
	h := rw.w.Header()
	clear(h)
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	rw.status = http.StatusInternalServerError
	rw.w.WriteHeader(rw.status)
	n, _ := rw.w.Write(internalError)
	rw.sent = int64(n)
}

// bodyAllowed reports whether a response with status may have a body.
func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}
