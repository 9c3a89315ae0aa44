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

// tooLargeBody is the body of the 502 that replaces a response whose body
// outgrew the cap on buffered bodies (OverflowFail).
var tooLargeBody = []byte(`{"error":"bad_gateway","message":"upstream response too large"}` + "\n")

// ErrResponseTooLarge is returned to a handler that writes a body over the
// plan's cap on buffered bodies (WithMaxBufferedBody) when the response was
// replaced with a 502 (OverflowFail): a reverse proxy then stops copying.
var ErrResponseTooLarge = errors.New("plugin: response body over the buffered-body cap, replaced with 502")

// respWriter is the http.ResponseWriter next sees when the plan has work to
// do around the response. The head (status, and the header map, which is the
// underlying writer's own) is held until commit; so are up to holdSize body
// bytes, or the whole body when buffer is set, up to limit bytes.
type respWriter struct {
	x *exchange
	w http.ResponseWriter
	// status is the handler's (or PreResponse's) status; 0 until set.
	status int
	// hold: run PostRequest and PreResponse before the head is sent.
	// buffer: hold the whole body. skipPost: the request was stopped by a
	// plugin, next did not run.
	hold, buffer, skipPost bool
	// committed: the head was passed to w (or a 500 or 502 replaced it,
	// failed, and err is what later writes return; or the connection was
	// hijacked). done: next had returned. overflowed: the body outgrew limit
	// and streams unmodified (buffer is then false).
	committed, failed, hijacked, done, overflowed bool
	buf                                           []byte
	body                                          []byte
	bodySet                                       bool
	written, sent                                 int64
	limit                                         int
	err                                           error
}

func (rw *respWriter) init(x *exchange, w http.ResponseWriter) {
	rw.x, rw.w = x, w
	rw.hold, rw.buffer, rw.limit = x.plan.hold, x.plan.buffer, x.plan.maxBody
	if rw.buffer && cap(rw.buf) > rw.limit {
		rw.buf = nil // a pooled buffer larger than this plan may hold
	}
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
	if rw.buffer && rw.declaredOverLimit() && !rw.overflow(true) {
		return
	}
	if !rw.hold {
		rw.commit()
	}
}

// declaredOverLimit reports whether the held head announces a body larger
// than the cap: a Content-Length over it, on a response that has a body.
func (rw *respWriter) declaredOverLimit() bool {
	v := rw.w.Header()["Content-Length"]
	if len(v) == 0 || !bodyAllowed(rw.status) || rw.x.call.req.Method == http.MethodHead {
		return false
	}
	n, err := strconv.ParseInt(v[0], 10, 64)
	return err == nil && n > int64(rw.limit)
}

// overflow handles a body over the cap (declared: by its Content-Length).
// When every plugin that needs the body chose OverflowStream, the body stops
// being buffered and overflow reports true: the response streams from here.
// Otherwise the response is replaced with a 502, the route and plugin are
// logged, and overflow reports false.
func (rw *respWriter) overflow(declared bool) bool {
	x := rw.x
	if x.plan.failOn == "" {
		rw.buffer, rw.overflowed = false, true
		return true
	}
	args := []any{
		"route", x.route,
		"plugin", x.plan.failOn,
		"max_buffered_body", rw.limit,
		"content_length_declared", declared,
	}
	if c := x.call.Consumer(); c != nil {
		args = append(args, "consumer", c.Username)
	}
	x.plan.log.Error("gatehouse: response body over the buffered-body cap of a pre_response plugin; answered 502", args...)
	rw.replace(http.StatusBadGateway, tooLargeBody, ErrResponseTooLarge)
	return false
}

// keep appends p to the held bytes. The buffer grows to at most the cap that
// applies (the plan's limit when the whole body is buffered, else
// holdSize), so that what a response holds never exceeds it; the caller has
// checked that p fits.
func (rw *respWriter) keep(p []byte) {
	if n := len(rw.buf) + len(p); n > cap(rw.buf) {
		limit := holdSize
		if rw.buffer {
			limit = rw.limit
		}
		buf := make([]byte, len(rw.buf), max(min(max(2*cap(rw.buf), 512), limit), n))
		copy(buf, rw.buf)
		rw.buf = buf
	}
	rw.buf = append(rw.buf, p...)
}

// Write holds the body (or passes it through once committed).
func (rw *respWriter) Write(p []byte) (int, error) {
	if rw.status == 0 && !rw.failed && !rw.hijacked {
		rw.WriteHeader(http.StatusOK)
	}
	if rw.failed {
		return 0, rw.err
	}
	if rw.hijacked {
		return 0, http.ErrHijacked
	}
	rw.written += int64(len(p))
	if !rw.committed {
		n := len(rw.buf) + len(p)
		switch {
		case rw.buffer && n <= rw.limit, !rw.buffer && n <= holdSize:
			rw.keep(p)
			return len(p), nil
		case rw.buffer && !rw.overflow(false):
			return 0, rw.err
		}
		// Past holdSize, or past the cap of a body that now streams: the
		// held bytes go first, then p.
		if !rw.commit() {
			return 0, rw.err
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
		switch {
		case !bodyAllowed(rw.status):
			h.Del("Content-Length")
			body = nil
		case x.call.req.Method == http.MethodHead:
			// The handler's length is the original body's; the replaced
			// one's is not known without the body a GET would get.
			h.Del("Content-Length")
			body = nil
		default:
			h.Set("Content-Length", strconv.Itoa(len(body)))
		}
	}
	rw.w.WriteHeader(rw.status)
	if len(body) > 0 {
		n, _ := rw.w.Write(body)
		rw.sent += int64(n)
	}
	if !rw.buffer && cap(rw.buf) > maxPooledBuf {
		rw.buf = nil // sent: a body that streams on does not keep its buffer
	}
	return true
}

// fail replaces the response, of which nothing was sent, with the 500 of a
// plugin panic: the held head, headers included, is dropped.
func (rw *respWriter) fail() {
	rw.replace(http.StatusInternalServerError, internalError, errReplaced)
}

// replace sends status and body instead of the held response, headers
// included; later writes of the handler fail with err.
func (rw *respWriter) replace(status int, body []byte, err error) {
	rw.failed, rw.committed, rw.err = true, true, err
	h := rw.w.Header()
	clear(h)
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	rw.status = status
	rw.w.WriteHeader(rw.status)
	n, _ := rw.w.Write(body)
	rw.sent = int64(n)
}

// Overflowed reports whether the body outgrew the plan's cap on buffered
// bodies (WithMaxBufferedBody) and, every plugin that needs the body having
// chosen OverflowStream, the response streams unmodified: Body is then nil,
// Buffered false and SetBody does nothing.
func (res *Response) Overflowed() bool { return res.rw.overflowed }

// bodyAllowed reports whether a response with status may have a body.
func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}
