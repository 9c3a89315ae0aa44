package plugin

import (
	"net/http"
	"net/textproto"

	"github.com/gatehousehq/gatehouse/consumer"
)

// PreRequestPlugin is implemented by plugins that run at PreRequest, before
// the route's handler: rate limits, access rules. PreRequest may add headers
// to the eventual response (Call.SetHeader) or answer the request itself
// (Call.Stop).
type PreRequestPlugin interface {
	Plugin
	// PreRequest acts on the request before the handler runs.
	PreRequest(c *Call)
}

// PostRequestPlugin is implemented by plugins that run at PostRequest, once
// the handler's outcome is known and before anything of it is sent: usage
// accounting, decisions based on the upstream's answer. res is read-only;
// headers added with Call.SetHeader still reach the response.
type PostRequestPlugin interface {
	Plugin
	// PostRequest observes the handler's outcome before it is sent.
	PostRequest(c *Call, res *Response)
}

// PreResponsePlugin is implemented by plugins that run at PreResponse and may
// change the response (status, headers, body) before it reaches the client.
type PreResponsePlugin interface {
	Plugin
	// NeedsBody reports whether the plugin reads or replaces the body. It is
	// asked once, when the plan is built: a plan with such a plugin buffers
	// every response body (and so does not stream) up to a cap
	// (WithMaxBufferedBody; past it, see Overflow and OverflowPolicy);
	// without one, bodies stream and Response.Body is nil.
	NeedsBody() bool
	// PreResponse may change res before it is sent.
	PreResponse(c *Call, res *Response)
}

// PostResponsePlugin is implemented by plugins that run at PostResponse, after
// the response was handed to the client: logging, metrics. They cannot change
// it.
type PostResponsePlugin interface {
	Plugin
	// PostResponse observes res once it was sent.
	PostResponse(c *Call, res *Response)
}

// Call is what a plugin is told about the request it runs for, and how it
// acts on it. A Call is valid only during the plugin method it is passed to:
// do not keep it. Plugins of a parallel group each get their own Call.
type Call struct {
	req     *http.Request
	route   string
	id      *consumer.Identity
	stage   Stage
	ops     []headerOp
	stopped bool
	stop    stopResponse
	// hdr is the response's header map at PreResponse, where header changes
	// apply at once.
	hdr      http.Header
	panicked bool
}

type headerOp struct {
	add         bool
	name, value string
	// writer, when not nil, writes its fields (SetHeaders).
	writer HeaderWriter
}

type stopResponse struct {
	status      int
	contentType string
	body        []byte
}

// Request returns the request. Read it; sequential PreRequest plugins may also
// change its headers before the handler sees them, but plugins of a parallel
// group share it and must not change it.
func (c *Call) Request() *http.Request { return c.req }

// RouteID returns the id of the route the request is served by.
func (c *Call) RouteID() string { return c.route }

// Identity returns the caller the gateway identified, or nil on a route
// without authentication. It is shared between requests: read-only.
func (c *Call) Identity() *consumer.Identity { return c.id }

// Consumer returns the identified consumer, or nil.
func (c *Call) Consumer() *consumer.Consumer {
	if c.id == nil {
		return nil
	}
	return c.id.Consumer
}

// Stage returns the stage the plugin is running at.
func (c *Call) Stage() Stage { return c.stage }

// SetHeader sets a header of the response the client will receive, replacing
// any value the handler set: rate-limit plugins use it for X-RateLimit-* on
// allowed and refused requests alike. At PreRequest and PostRequest the
// header is applied when the response is sent (in plan order, after the
// handler's own headers); at PreResponse at once; at PostResponse it does
// nothing. Pass canonical names (http.CanonicalHeaderKey) to spare an
// allocation.
func (c *Call) SetHeader(name, value string) { c.header(false, name, value) }

// AddHeader is SetHeader that adds a value instead of replacing.
func (c *Call) AddHeader(name, value string) { c.header(true, name, value) }

// HeaderWriter writes header fields to a response's header map: a plugin
// that sets several fields per request records one (Call.SetHeaders) instead
// of a value per field.
type HeaderWriter interface {
	// WriteHeaders sets the fields on h.
	WriteHeaders(h http.Header)
}

// SetHeaders is SetHeader for every field w writes: at PreRequest and
// PostRequest w.WriteHeaders runs when the response is sent, in plan order
// with the other header changes; at PreResponse at once; at PostResponse
// never. w must not change afterwards. Rate-limit plugins set five fields per
// request this way, with their values prepared in one allocation.
func (c *Call) SetHeaders(w HeaderWriter) {
	switch {
	case c.stage == PostResponse:
	case c.hdr != nil:
		w.WriteHeaders(c.hdr)
	default:
		c.ops = append(c.ops, headerOp{writer: w})
	}
}

func (c *Call) header(add bool, name, value string) {
	switch {
	case c.stage == PostResponse:
	case c.hdr != nil:
		if add {
			c.hdr.Add(name, value)
		} else {
			c.hdr.Set(name, value)
		}
	default:
		c.ops = append(c.ops, headerOp{add: add, name: name, value: value})
	}
}

// Stop answers the request at PreRequest with status, body and, when
// contentType is not empty, that Content-Type, plus the headers set with
// SetHeader by this plugin and the ones before it. The handler is not called
// and later PreRequest plugins do not run; PreResponse plugins still see the
// answer and PostResponse plugins observe it. body is sent as is: do not
// change it afterwards. status must be a final status (200 to 999): anything
// else panics, and so becomes the plan's 500. At other stages Stop does
// nothing.
func (c *Call) Stop(status int, contentType string, body []byte) {
	if status < 200 || status > 999 {
		panic("plugin: invalid status code for Stop")
	}
	if c.stage != PreRequest {
		return
	}
	c.stopped = true
	c.stop = stopResponse{status: status, contentType: contentType, body: body}
}

// reset prepares c for a request, keeping its header buffer.
func (c *Call) reset(r *http.Request, route string, id *consumer.Identity, stage Stage) {
	clear(c.ops)
	*c = Call{req: r, route: route, id: id, stage: stage, ops: c.ops[:0]}
}

// applyOps applies the recorded header changes to h, in order. The values
// of the replacing changes share one allocation: a rate-limit plugin sets five
// headers per request.
func (c *Call) applyOps(h http.Header) {
	sets := 0
	for _, op := range c.ops {
		if !op.add && op.writer == nil {
			sets++
		}
	}
	var vals []string
	if sets > 1 {
		vals = make([]string, 0, sets)
	}
	for _, op := range c.ops {
		switch {
		case op.writer != nil:
			op.writer.WriteHeaders(h)
		case op.add:
			h.Add(op.name, op.value)
		case vals != nil:
			vals = append(vals, op.value)
			// A full slice expression, so that a later Add on this name
			// copies instead of writing into the next header's value.
			h[textproto.CanonicalMIMEHeaderKey(op.name)] = vals[len(vals)-1 : len(vals) : len(vals)]
		default:
			h.Set(op.name, op.value)
		}
	}
}

// Response is the response as plugins after the handler see it. At
// PostRequest it is read-only; at PreResponse it may be changed; at
// PostResponse it is what was sent. Like Call, it is valid only during the
// plugin method it is passed to.
type Response struct {
	rw *respWriter
}

// Status returns the response's status code (200 when the handler set none).
func (res *Response) Status() int { return res.rw.status }

// SetStatus replaces the status code at PreResponse; at other stages it does
// nothing. code must be a final status (200 to 999): anything else panics, and
// so becomes the plan's 500.
func (res *Response) SetStatus(code int) {
	if code < 200 || code > 999 {
		panic("plugin: invalid status code for SetStatus")
	}
	if res.rw.stage() == PreResponse {
		res.rw.status = code
	}
}

// Header returns the response's header map: at PreResponse it may be
// changed; at other stages read it only.
func (res *Response) Header() http.Header { return res.rw.w.Header() }

// Buffered reports whether the whole body is held (a PreResponse plugin of
// the plan needs the body): Body then returns it and SetBody may replace it.
func (res *Response) Buffered() bool { return res.rw.buffer }

// Body returns the buffered body (after any SetBody), or nil when the plan
// does not buffer. Read it only, and only during the call.
func (res *Response) Body() []byte {
	switch {
	case !res.rw.buffer || res.rw.failed:
		return nil
	case res.rw.bodySet:
		return res.rw.body
	}
	return res.rw.buf
}

// SetBody replaces the body at PreResponse; Content-Length is set to its
// length when the response is sent. It panics when the body is not
// buffered (no plugin of the plan said NeedsBody), and so becomes the plan's
// 500. At other stages, and on a response that Overflowed, it does nothing.
func (res *Response) SetBody(b []byte) {
	if res.rw.overflowed {
		return // too large to buffer, streaming unmodified (Overflowed)
	}
	if !res.rw.buffer {
		panic("plugin: SetBody on a response that is not buffered (NeedsBody is false)")
	}
	if res.rw.stage() == PreResponse {
		res.rw.body, res.rw.bodySet = b, true
	}
}

// Size returns the body's length in bytes. Before the response is sent
// (PostRequest, PreResponse) it counts what the handler has written so far,
// which is the whole body when Complete is true; at PostResponse it counts
// what was handed to the client.
func (res *Response) Size() int64 {
	if res.rw.stage() == PostResponse {
		return res.rw.sent
	}
	return res.rw.written
}

// Complete reports whether the handler had returned when the response was
// committed, so that Size is final. It is false when the handler flushed, or
// wrote more than the hold size (4 KiB), before returning: the response then
// streams and PostRequest and PreResponse run at that moment.
func (res *Response) Complete() bool { return res.rw.done }
