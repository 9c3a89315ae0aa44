package limitplugin

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/gatehousehq/gatehouse/ratelimit"
)

// Caller is what a request's limits are keyed by. The executor fills it from
// the request and the identity authentication found.
//
// A limiter key is
//
//	gh:<plugin>:<fingerprint>:<scope>:<tag>:<value>
//
// or, for an advanced_rate_limiter instance of two or more limits,
//
//	gh:arl:{<fingerprint>:<scope>}:<tag>:<value>
//
// where:
//
//   - plugin is "lc" (limit-count) or "arl" (advanced_rate_limiter);
//   - fingerprint is 12 hex digits of the SHA-256 of the instance's counting
//     settings (limit-count: count, time_window, key_type;
//     advanced_rate_limiter: every limit's name, count and window), so that
//     instances that count differently never share a counter. Changing those
//     settings starts new counters; changing the others (messages, codes,
//     retry_after, allow_degradation) keeps them;
//   - scope is Scope, with '%' and ':' escaped so that it cannot run into
//     the next field;
//   - tag is limit-count's key type ("consumer", "ip", "route",
//     "consumer_group", "header", "constant") or advanced_rate_limiter's limit
//     ("per_user", "per_consumer", "per_ip", "global"); "header#" when the
//     header value is hashed; with "~ip" appended when the key falls back to
//     the client address;
//   - value is the username, the address (as netip.Addr writes it, "-" when
//     unknown), the route id, the group id, the header value (its hex SHA-256
//     when longer than 128 bytes), or nothing for constant. It is the last
//     field, so it needs no escaping.
//
// A key that cannot be formed (no consumer, no route, no group, the header
// absent or empty) falls back to the client address, as APISIX does, under a
// tag of its own ("consumer~ip:198.51.100.7"), so that it never shares a
// counter with a consumer or with an ip key. global is never a fallback: a
// caller without a group counts under the empty group id.
//
// The braces of an advanced_rate_limiter of several limits are a Redis hash
// tag: a limiter in Redis Cluster (ratelimit/redislimiter) hashes such a key
// by "<fingerprint>:<scope>" (up to the first '}'), which every key of one
// Check shares, so that its limits are decided in one script on one slot.
// The first '{' of a key is always that tag's, since the fields before it
// hold none. Keys charged alone (limit-count, an advanced_rate_limiter of one
// limit) carry no tag: each hashes by its whole key, spreading the callers
// over the cluster. A Check on a tagged instance thus goes to the slot of
// its scope: one consumer group's requests to one node, as its global limit
// would anyway.
type Caller struct {
	// Consumer is the consumer's username; empty for an anonymous request.
	Consumer string
	// Group is the consumer group id of the consumer; empty when it has none.
	Group string
	// Route is the id of the route the request matched.
	Route string
	// Scope names where the running plugin instance is configured, such as
	// "route:orders", "consumer_group:premium" or "consumer:alice". It is part
	// of every key, so that instances configured in different places never
	// share counters; a limit-count with key_type consumer set on a consumer
	// then counts that consumer across every route, and the same settings on
	// two routes count per route. Empty is allowed: instances with the same
	// counting settings then share counters.
	Scope string
	// Addr is the client address (see package clientip).
	Addr netip.Addr
	// Header is the request's header, read by limit-count's header:<name>
	// key type.
	Header http.Header
}

// Verdict is the outcome of a Check.
type Verdict uint8

const (
	// Allowed: the request may proceed (it has been charged, or the limiter
	// failed and allow_degradation let it through).
	Allowed Verdict = iota
	// Refused: a limit is spent; the request must be answered with Reject.
	Refused
	// Failed: the limiter failed and allow_degradation is false; the request
	// must be answered with Reject (500).
	Failed
)

// String returns "allowed", "refused" or "failed".
func (v Verdict) String() string {
	switch v {
	case Allowed:
		return "allowed"
	case Refused:
		return "refused"
	case Failed:
		return "failed"
	}
	return "verdict(" + strconv.Itoa(int(v)) + ")"
}

// Limiter is one compiled limit-count or advanced_rate_limiter: its limits,
// its refusal and its key prefix. It is safe for concurrent use.
type Limiter struct {
	set        *Plugins
	id         uint64 // distinguishes instances in the key cache
	name       string
	prefix     string // "gh:lc:<fingerprint>:", "gh:arl:{<fingerprint>:" when tagged
	tagged     bool   // the keys carry the Redis hash tag {<fingerprint>:<scope>}
	limits     [maxLimits]limitSpec
	n          int
	status     int
	retryAfter time.Duration // the least Retry-After of a refusal
	degrade    bool
	policy     []string // RateLimit-Policy
	settings   json.RawMessage
}

// Name returns the plugin's name, "limit-count" or "advanced_rate_limiter".
func (p *Limiter) Name() string { return p.name }

// Settings returns the instance's settings as compiled, defaults filled in
// (rejected_code, key_type, policy, the default rejected_msg) and windows
// written in their canonical form; compiling them again gives an instance
// that keeps the same counters.
func (p *Limiter) Settings() json.RawMessage { return p.settings }

// scratch holds the arguments of one AllowAll call, pooled so that a Check
// allocates nothing.
type scratch struct {
	reqs [maxLimits]ratelimit.Request
	out  [maxLimits]ratelimit.Decision
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// Check charges one request by c to every limit of the instance, all or none
// (ratelimit.AllowAll): a limit that refuses does not spend the others. The
// Outcome says whether the request may proceed and writes the response
// fields. On a limiter error, the request is Allowed (degraded) when
// allow_degradation is set and Failed otherwise, and the first error of an
// outage is logged. In steady state (the keys of c cached, the limiter
// knowing them) Check does not allocate.
func (p *Limiter) Check(ctx context.Context, c Caller) Outcome {
	var keys [maxLimits]string
	for i := range p.n {
		keys[i] = p.key(i, &c)
	}
	return p.check(ctx, c.Route, &keys, nil)
}

// check is Check with the keys of the limits formed, and, when prepared is
// not nil, what the limiter's PrepareKey made of them (nil where it made
// nothing), for a request of route (for WithErrorObserver).
func (p *Limiter) check(ctx context.Context, route string, keys *[maxLimits]string, prepared *[maxLimits]any) Outcome {
	o := Outcome{p: p, refused: -1}
	var err error
	allowed := false
	if p.n == 1 {
		var d ratelimit.Decision
		d, err = p.set.limiter.Allow(ctx, keys[0], p.limits[0].limit, 1)
		o.dec[0], allowed = d, d.Allowed
	} else {
		sc := scratchPool.Get().(*scratch)
		for i := range p.n {
			sc.reqs[i] = ratelimit.Request{Key: keys[i], Limit: p.limits[i].limit}
			if prepared != nil {
				sc.reqs[i].Prepared = prepared[i]
			}
		}
		allowed, err = ratelimit.AllowAll(ctx, p.set.limiter, sc.reqs[:p.n], 1, sc.out[:p.n])
		copy(o.dec[:], sc.out[:p.n])
		// Not cleared: every field is written before the next use, and the
		// keys it still names are the instance's own or its key cache's.
		scratchPool.Put(sc)
	}
	if err != nil {
		p.set.failed(ctx, p.name, route, err)
		o.err = err
		if p.degrade {
			o.degraded = true
			return o
		}
		o.verdict = Failed
		return o
	}
	p.set.succeeded(ctx)
	if allowed {
		return o
	}
	o.verdict = Refused
	for i := range p.n {
		d := &o.dec[i]
		if !d.Allowed && (o.refused < 0 || d.RetryAfter > o.dec[o.refused].RetryAfter) {
			o.refused = i
		}
	}
	if o.refused < 0 { // a limiter that refused without saying which limit
		o.refused = 0
		o.dec[0].Allowed = false
	}
	return o
}

// Handle is Check for an *http.Request: it resolves c.Addr with the
// Plugins' resolver when it is not set, reads c.Header from r when nil, and
// then either writes the rate-limit fields to w's header and returns true
// (the request proceeds) or answers the request (Reject) and returns false.
func (p *Limiter) Handle(w http.ResponseWriter, r *http.Request, c Caller) bool {
	if !c.Addr.IsValid() {
		c.Addr = p.set.resolver.Resolve(r)
	}
	if c.Header == nil {
		c.Header = r.Header
	}
	o := p.Check(r.Context(), c)
	if o.Verdict() == Allowed {
		o.WriteHeaders(w.Header())
		return true
	}
	o.Reject(w)
	return false
}

// Outcome is the result of a Check.
type Outcome struct {
	p        *Limiter
	verdict  Verdict
	degraded bool
	refused  int // index of the limit that refused; -1
	err      error
	dec      [maxLimits]ratelimit.Decision
}

// Verdict says whether the request may proceed.
func (o *Outcome) Verdict() Verdict { return o.verdict }

// Degraded reports whether the request was allowed only because the limiter
// failed and allow_degradation is set.
func (o *Outcome) Degraded() bool { return o.degraded }

// Err returns the limiter's error when it failed (Failed, or Degraded).
func (o *Outcome) Err() error { return o.err }

// Limit names the limit that refused the request ("per_user", "global",
// "limit-count", ...); empty unless Refused.
func (o *Outcome) Limit() string {
	if o.verdict != Refused {
		return ""
	}
	return o.p.limits[o.refused].name
}

// RetryAfter is the Retry-After a refusal sends, in whole seconds: the time
// until the request would pass, rounded up, or the configured retry_after
// when that is longer. Zero unless Refused.
func (o *Outcome) RetryAfter() int64 {
	if o.verdict != Refused {
		return 0
	}
	return max(ceilSeconds(o.dec[o.refused].RetryAfter), ceilSeconds(o.p.retryAfter), 1)
}

// Remaining returns what the decision said of the named limit: the requests
// of weight 1 it would allow now, and whether the name is one of the
// instance's limits (a degraded or failed Outcome has no decisions).
func (o *Outcome) Remaining(limit string) (int64, bool) {
	if o.p == nil || o.err != nil {
		return 0, false
	}
	for i := range o.p.n {
		if o.p.limits[i].name == limit {
			return o.dec[i].Remaining, true
		}
	}
	return 0, false
}

// Canonical header names, so that they are set without canonicalising.
const (
	hdrLimit       = "X-Ratelimit-Limit"
	hdrRemaining   = "X-Ratelimit-Remaining"
	hdrReset       = "X-Ratelimit-Reset"
	hdrPolicy      = "Ratelimit-Policy"
	hdrRateLimit   = "Ratelimit"
	hdrRetryAfter  = "Retry-After"
	hdrContentType = "Content-Type"
)

var jsonContentType = []string{"application/json"}

// WriteHeaders sets the rate-limit fields of an allowed or refused request
// on h (a degraded or failed one has none):
//
//   - X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset (seconds)
//     of the limit closest to refusing: the one that refused, otherwise the
//     one with the fewest requests left;
//   - RateLimit-Policy and RateLimit (draft-ietf-httpapi-ratelimit-headers-11)
//     for every limit: `"per_user";q=50;w=60` and `"per_user";r=49;t=2`, t
//     being the seconds until the limit has all of its capacity back;
//   - on a refusal, Retry-After (RetryAfter), also the t and
//     X-RateLimit-Reset of the limit that refused.
//
// The value slices are shared (between responses for X-RateLimit-Limit and
// RateLimit-Policy, between the fields of one response for the others): do
// not change them in place. The fields of one response cost one allocation.
func (o *Outcome) WriteHeaders(h http.Header) {
	if f := o.fields(); f != nil {
		f.WriteHeaders(h)
	}
}

// EachHeader calls set with each field WriteHeaders would set, name
// (canonical) and value, for executors that record response headers one at a
// time.
func (o *Outcome) EachHeader(set func(name, value string)) {
	f := o.fields()
	if f == nil {
		return
	}
	set(hdrLimit, f.p.limits[f.head].countValue[0])
	set(hdrRemaining, f.vals[0])
	set(hdrReset, f.vals[1])
	set(hdrPolicy, f.p.policy[0])
	set(hdrRateLimit, f.vals[2])
	if f.retry {
		set(hdrRetryAfter, f.vals[1])
	}
}

// fieldBlock holds the rate-limit fields of one response in one allocation:
// the values that change with each decision point into buf, and it is the
// plugin.HeaderWriter the executor runs when the response is sent.
type fieldBlock struct {
	p     *Limiter
	head  int32
	retry bool
	// X-RateLimit-Remaining, X-RateLimit-Reset (and Retry-After, which
	// equals it when set), RateLimit.
	vals [3]string
	buf  [96]byte
}

// WriteHeaders sets the fields on h (plugin.HeaderWriter).
func (f *fieldBlock) WriteHeaders(h http.Header) {
	h[hdrLimit] = f.p.limits[f.head].countValue
	h[hdrRemaining] = f.vals[0:1:1]
	h[hdrReset] = f.vals[1:2:2]
	h[hdrPolicy] = f.p.policy
	h[hdrRateLimit] = f.vals[2:3:3]
	if f.retry {
		h[hdrRetryAfter] = f.vals[1:2:2]
	}
}

// fields prepares the rate-limit fields (see WriteHeaders); nil when there
// are none.
func (o *Outcome) fields() *fieldBlock {
	if o.p == nil || o.err != nil {
		return nil
	}
	p := o.p
	head := o.refused
	if head < 0 {
		head = 0
		for i := 1; i < p.n; i++ {
			if o.dec[i].Remaining < o.dec[head].Remaining ||
				o.dec[i].Remaining == o.dec[head].Remaining && o.dec[i].Reset > o.dec[head].Reset {
				head = i
			}
		}
	}
	retry := o.RetryAfter()
	f := &fieldBlock{p: p, head: int32(head), retry: retry > 0}
	// Only RateLimit is formatted, in f.buf (or, should it not fit, in a
	// buffer of its own): X-RateLimit-Remaining, X-RateLimit-Reset and
	// Retry-After are the r and t of a limit in it, and share its bytes.
	b := f.buf[:0]
	var rStart, rEnd, tStart, tEnd int // the head's r and t in b
	for i := range p.n {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, '"')
		b = append(b, p.limits[i].name...)
		b = append(b, `";r=`...)
		r := len(b)
		b = strconv.AppendInt(b, o.dec[i].Remaining, 10)
		re := len(b)
		b = append(b, ";t="...)
		t := len(b)
		b = strconv.AppendInt(b, o.resetSeconds(i, retry), 10)
		if i == head {
			rStart, rEnd, tStart, tEnd = r, re, t, len(b)
		}
	}
	all := unsafe.String(&b[0], len(b))
	f.vals[0] = all[rStart:rEnd]
	f.vals[1] = all[tStart:tEnd]
	f.vals[2] = all // when refused, the head refused, and its t is Retry-After
	return f
}

// resetSeconds is limit i's reset in whole seconds: the refusal's
// Retry-After for the limit that refused, otherwise the time until it has
// all of its capacity back.
func (o *Outcome) resetSeconds(i int, retry int64) int64 {
	if i == o.refused {
		return retry
	}
	return ceilSeconds(o.dec[i].Reset)
}

func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

var failedBody = []byte(`{"error":"internal","message":"rate limiting is unavailable"}` + "\n")

// Response returns the answer to a refused or failed request: for a
// refusal, the instance's rejected_code (default 429) and {"error": "rate
// limit exceeded", "message": "…", "limit": "<which>", "retry_after": N};
// for a failure, 500 and {"error": "internal", "message": "rate limiting is
// unavailable"}. contentType is "application/json". For an allowed request
// it returns 0 and no body. Reject writes it.
func (o *Outcome) Response() (status int, contentType string, body []byte) {
	switch o.verdict {
	case Failed:
		return http.StatusInternalServerError, jsonContentType[0], failedBody
	case Refused:
		start := o.p.limits[o.refused].bodyStart
		body = make([]byte, 0, len(start)+24)
		body = append(body, start...)
		body = strconv.AppendInt(body, o.RetryAfter(), 10)
		body = append(body, "}\n"...)
		return o.p.status, jsonContentType[0], body
	}
	return 0, "", nil
}

// Reject answers a refused or failed request with Response, after the
// rate-limit fields (WriteHeaders) of a refusal. It writes nothing for an
// allowed request.
func (o *Outcome) Reject(w http.ResponseWriter) {
	status, _, body := o.Response()
	if status == 0 {
		return
	}
	h := w.Header()
	o.WriteHeaders(h)
	h[hdrContentType] = jsonContentType
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
