// Package redislimiter is the ratelimit.Limiter whose state lives in Redis, shared by every
// gateway instance: GCRA rate limits, fixed-window quotas and hmac-auth's replay cache.
//
// Every decision is one command: one Lua script (EVALSHA, loaded again
// transparently after a SCRIPT FLUSH or a fail-over) reads the keys, decides
// with integer arithmetic exactly as ratelimit/memory does, and writes them.
// AllowAll decides all of its limits in that same script, so a consumer
// group's per-user, per-IP and global limits cost one command too.
//
// # Pipelining
//
// Decisions made at the same time share round trips. Allow, AllowAll,
// Consume and Remember hand their command to a batcher: while fewer than N
// commands or pipelines are in flight, a decision's command is sent at once,
// alone, on the caller's context (a lone decision waits for nothing but its
// own round trip); when all N are in flight, decisions queue, and the next
// one to come back sends the whole queue (up to 128 commands) as one
// pipeline, replies read in one go. Each decision still rides exactly one
// round trip, the one of its pipeline; what it may wait for beyond that, at
// high load only, is the pipeline in flight before its own. Redis' cost of
// a request (reading, parsing, the event loop, writing the reply) is then
// paid once per pipeline instead of once per decision, and so is the
// client's (one write and one read for the batch). The decisions are the
// same: each command is its own script call, atomic on its own.
//
// N is WithPipelining's, one per 8 connections of the client's pool by
// default (at least 2); WithPipelining(0) sends every command alone. A
// pipeline carries the commands of many callers, so it is sent under
// context.Background() (hooks see that context), bounded by the client's
// read and write timeouts; a caller whose context ends while it waits
// returns at once with the context's error (wrapping ErrUnavailable), its
// command dropped if it was not sent yet, its reply ignored if it was. The
// queue's senders are goroutines that live while there is a queue: an idle
// limiter runs nothing and has nothing to close. With a ClusterClient or a
// Ring, go-redis splits a pipeline by node.
//
// # Clocks
//
// Without WithClock the scripts read Redis' own clock (TIME): instances need
// not agree on the time, only the Redis server's clock counts. With WithClock
// the caller's clock is sent with each call (tests pass a fake one); every
// instance must then keep that clock in step.
//
// # Keys and Redis Cluster
//
// A rate-limit key k is stored at <prefix>r:<k>, a quota key at <prefix>q:<k>,
// a replay entry at <prefix>n:<hex of its 32 bytes>; the prefix is
// DefaultPrefix unless WithPrefix says otherwise. In Redis Cluster the keys of
// one script must hash to one slot. The limiter adds no hash tag of its own,
// and the prefix may hold none, so a key's slot is decided by the key as the
// caller wrote it: a key with a Redis hash tag ("{…}", the first '{' and the
// next '}', non-empty) hashes by that tag, any other key by the whole key.
// Callers of AllowAll in a cluster therefore give the keys of one call a
// common tag; ratelimit/limitplugin does (see its Caller for its key
// format): an advanced_rate_limiter instance of several limits writes
// "{<fingerprint>:<scope>}" into every key, so that one consumer group's
// limits share a slot, and keys charged alone carry no tag and spread over
// the cluster. AllowAll on keys of different slots fails in a cluster (a
// CROSSSLOT error, wrapping ErrUnavailable) and works on a single server.
//
// # Failures
//
// Every error of a call that reached for Redis wraps ErrUnavailable (and the
// underlying error: errors.Is also finds context.DeadlineExceeded or
// context.Canceled); invalid limits and arguments wrap
// ratelimit.ErrInvalidLimit. Callers decide what a failure means: the
// rate-limit plugins follow allow_degradation and log one line per outage,
// API-key quotas fail closed, hmac-auth falls back to its in-process replay
// cache. Nothing needs restarting when Redis is back: go-redis reconnects.
//
// Redis 6.2 or later is needed (SET … PXAT for replay entries).
package redislimiter

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehousehq/gatehouse/ratelimit"
)

// DefaultPrefix starts every key the limiter writes unless WithPrefix says
// otherwise.
const DefaultPrefix = "gatehouse:"

// ErrUnavailable is wrapped by every error that comes from Redis or from the
// way to it: connection refused or lost, a timeout, an error reply. Match it
// with errors.Is.
var ErrUnavailable = errors.New("redis limiter unavailable")

// Option configures a Limiter.
type Option func(*Limiter)

// WithPrefix sets the namespace of the limiter's keys (DefaultPrefix
// without it): instances that share counters use the same prefix, gateways
// that must not share them different ones. The prefix may not hold '{' or
// '}', which would take a key's Redis Cluster slot from the prefix: New
// panics on one.
func WithPrefix(p string) Option { return func(l *Limiter) { l.prefix = p } }

// WithClock sets the clock the limiter decides by; tests pass a fake one.
// Its reading is sent with every call, so every instance sharing the limiter
// must keep it in step. Without it (or with nil) the scripts read the Redis
// server's clock. Keys still expire by Redis' clock, as long after the call
// as the decision said (the time until the key has its capacity back, or
// until its latest quota window ends), so the clock given must not run
// slower than real time.
func WithClock(now func() time.Time) Option { return func(l *Limiter) { l.clock = now } }

// WithPipelining sets how many pipelines of concurrent decisions may be in
// flight at once (see the package doc, "Pipelining"); 0 turns pipelining
// off, every decision then its own command. Without it the limiter allows
// one per 8 connections of the client's pool (PoolSize, per node for a
// cluster), at least 2; 2 for a client of another type. A negative n counts
// as 0.
func WithPipelining(n int) Option { return func(l *Limiter) { l.pipelines = max(n, 0) } }

// defaultPipelines is one pipeline per 8 pool connections, at least 2: with
// one, the server would wait while the client reads a pipeline's replies.
func defaultPipelines(c redis.UniversalClient) int {
	var pool int
	switch c := c.(type) {
	case *redis.Client:
		pool = c.Options().PoolSize
	case *redis.ClusterClient:
		pool = c.Options().PoolSize
	case *redis.Ring:
		pool = c.Options().PoolSize
	default:
		return 2
	}
	return max(pool/8, 2)
}

// Limiter keeps rate limits, quotas and replay entries in Redis. It
// implements ratelimit.Limiter, ratelimit.Resetter, ratelimit.MultiLimiter,
// ratelimit.KeyPreparer, ratelimit.QuotaCounter and ratelimit.QuotaClock, and
// hmacauth.ReplayStore (Remember). Create it with New; it is safe for
// concurrent use and holds nothing but the client, which the caller closes.
//
// Rate limits are GCRA with the memory limiter's arithmetic: a limit of
// Count per Window spaces requests I = Window/Count ns apart (rounded down)
// and allows a request of weight n when max(TAT, now) + n·I − now ≤ Count·I.
// The decisions are the memory limiter's to the nanosecond for windows up to
// 2⁵² ns (about 52 days); longer windows are computed in float64 and may
// differ by a few hundred nanoseconds.
type Limiter struct {
	client    redis.UniversalClient
	prefix    string
	clock     func() time.Time
	pipelines int // WithPipelining's n, or −1 for the default
	b         batcher
}

// New returns a Limiter keeping its state through client (a *redis.Client,
// *redis.ClusterClient or *redis.Ring; see the package doc for the slot
// rule). New sends nothing: the scripts are loaded by the first call that
// needs them.
func New(client redis.UniversalClient, opts ...Option) *Limiter {
	if client == nil {
		panic("redislimiter: New needs a redis client")
	}
	l := &Limiter{client: client, prefix: DefaultPrefix, pipelines: -1}
	for _, o := range opts {
		o(l)
	}
	if l.pipelines < 0 {
		l.pipelines = defaultPipelines(client)
	}
	l.b = batcher{client: client, max: l.pipelines}
	if strings.ContainsAny(l.prefix, "{}") {
		panic(fmt.Sprintf("redislimiter: prefix %q holds '{' or '}', which would decide the Redis Cluster slot of every key", l.prefix))
	}
	return l
}

// Key prefixes under the limiter's prefix.
const (
	rateSpace   = "r:"
	quotaSpace  = "q:"
	replaySpace = "n:"
)

func (l *Limiter) rateKey(key string) string { return l.prefix + rateSpace + key }

// preparedKey is a key's Redis key, built once (ratelimit.KeyPreparer).
type preparedKey struct {
	l     *Limiter
	redis string
}

// PrepareKey returns key's Redis key, so that AllowAll does not build it
// again when a Request carries it (ratelimit.KeyPreparer).
func (l *Limiter) PrepareKey(key string) any { return &preparedKey{l: l, redis: l.rateKey(key)} }

func (l *Limiter) keyOf(r *ratelimit.Request) string {
	if pk, ok := r.Prepared.(*preparedKey); ok && pk.l == l {
		return pk.redis
	}
	return l.rateKey(r.Key)
}

// unavailable wraps a Redis error.
func unavailable(op string, err error) error {
	return fmt.Errorf("redislimiter: %s: %w: %w", op, ErrUnavailable, err)
}

// check validates one limit and a charge as the memory limiter does.
func check(limit ratelimit.Limit, n int64) error {
	if err := limit.Validate(); err != nil {
		return fmt.Errorf("redislimiter: %w", err)
	}
	if n < 0 {
		return fmt.Errorf("redislimiter: %w: negative charge %d", ratelimit.ErrInvalidLimit, n)
	}
	return nil
}

// appendNow appends the clock's reading (seconds, nanoseconds), or two
// empty arguments so that the script reads TIME.
func (l *Limiter) appendNow(args []any) []any {
	if l.clock == nil {
		return append(args, "", "")
	}
	now := l.clock()
	return append(args, now.Unix(), now.Nanosecond())
}

// Allow charges n requests to key against limit in one command, one round
// trip (see the package doc on pipelining); see
// ratelimit.Limiter. An invalid limit or a negative n is an error wrapping
// ratelimit.ErrInvalidLimit, a failure to reach Redis one wrapping
// ErrUnavailable.
func (l *Limiter) Allow(ctx context.Context, key string, limit ratelimit.Limit, n int64) (ratelimit.Decision, error) {
	if err := check(limit, n); err != nil {
		return ratelimit.Decision{}, err
	}
	// A weight over Count can never pass: the script only reads the key
	// (n = 0), so that no float rounding of a huge n can charge it.
	sent := n
	if n > limit.Count {
		sent = 0
	}
	args := l.appendNow(append(allowScript.evalSha(1, 5), l.rateKey(key), sent))
	args = append(args, limit.Count, int64(limit.Window)/limit.Count)
	cmd, err := l.b.do(ctx, allowScript, redis.NewCmd(ctx, args...))
	var res int64
	if err == nil {
		res, err = cmd.Int64()
	}
	if err != nil {
		return ratelimit.Decision{}, unavailable("allow", err)
	}
	var d ratelimit.Decision
	if res >= 0 {
		decide(&d, sent == n, res, limit, n)
	} else {
		decide(&d, false, -1-res, limit, n)
	}
	return d, nil
}

// decide fills d from what the script reported of one limit: whether n fits
// and the key's backlog (TAT − now, ≥ 0) before the charge. It is the
// memory limiter's gcra, with the TAT read in Redis.
func decide(d *ratelimit.Decision, fits bool, backlog int64, limit ratelimit.Limit, n int64) {
	interval := int64(limit.Window) / limit.Count
	d.Limit = limit.Count
	switch {
	case fits:
		next := backlog + n*interval
		d.Allowed = true
		d.Remaining = capacity(limit.Count, interval, next)
		d.Reset = time.Duration(next)
		return
	case n > limit.Count:
		d.RetryAfter = limit.Window
	default:
		d.RetryAfter = time.Duration(backlog + n*interval - interval*limit.Count)
	}
	d.Remaining = capacity(limit.Count, interval, backlog)
	d.Reset = time.Duration(backlog)
}

// capacity is how many requests of weight 1 a key whose TAT is used ahead of
// now has room for, as the memory limiter computes it.
func capacity(count, interval, used int64) int64 {
	if used <= 0 {
		return count
	}
	if count*interval-used < interval {
		return 0
	}
	q := used / interval
	if q*interval != used {
		q++
	}
	return count - q
}

// AllowAll charges n to every request's key, or to none, in one script call
// and so one round trip (shared with concurrent decisions); see
// ratelimit.MultiLimiter. out[i] receives the decision Allow would have
// made at the same instant. In Redis Cluster the
// keys must share a slot (see the package doc). It returns an error wrapping
// ratelimit.ErrInvalidLimit, and charges nothing, for an invalid limit, a
// negative n, an out of the wrong length or a key given twice.
func (l *Limiter) AllowAll(ctx context.Context, reqs []ratelimit.Request, n int64, out []ratelimit.Decision) (bool, error) {
	if len(out) != len(reqs) {
		return false, fmt.Errorf("redislimiter: %w: %d limits but room for %d decisions", ratelimit.ErrInvalidLimit, len(reqs), len(out))
	}
	if len(reqs) == 0 {
		return true, nil
	}
	tooHeavy := false // n is over a Count: the call cannot pass
	for i := range reqs {
		r := &reqs[i]
		if err := check(r.Limit, n); err != nil {
			return false, fmt.Errorf("%w (key %q)", err, r.Key)
		}
		for j := range i {
			if reqs[j].Key == r.Key {
				return false, fmt.Errorf("redislimiter: %w: key %q appears twice (requests %d and %d)", ratelimit.ErrInvalidLimit, r.Key, j, i)
			}
		}
		tooHeavy = tooHeavy || n > r.Limit.Count
	}
	// A call that cannot pass only reads the keys (n = 0); each decision is
	// then computed here from the backlog, exactly.
	args := gcraScript.evalSha(len(reqs), 3+2*len(reqs))
	for i := range reqs {
		args = append(args, l.keyOf(&reqs[i]))
	}
	if tooHeavy {
		args = append(args, int64(0))
	} else {
		args = append(args, n)
	}
	args = l.appendNow(args)
	for i := range reqs {
		r := &reqs[i]
		args = append(args, r.Limit.Count, int64(r.Limit.Window)/r.Limit.Count)
	}
	cmd, err := l.b.do(ctx, gcraScript, redis.NewCmd(ctx, args...))
	var res []int64
	if err == nil {
		res, err = cmd.Int64Slice()
	}
	if err != nil {
		return false, unavailable("allow all", err)
	}
	if len(res) != 1+2*len(reqs) {
		return false, unavailable("allow all", fmt.Errorf("script answered %d values, want %d", len(res), 1+2*len(reqs)))
	}
	for i := range reqs {
		lim, backlog := reqs[i].Limit, res[2+2*i]
		fits := res[1+2*i] == 1
		if tooHeavy {
			interval := int64(lim.Window) / lim.Count
			fits = n <= lim.Count && backlog+n*interval <= interval*lim.Count
		}
		out[i] = ratelimit.Decision{}
		decide(&out[i], fits, backlog, lim, n)
	}
	return res[0] == 1 && !tooHeavy, nil
}

// Reset forgets key's usage (ratelimit.Resetter): one DEL.
func (l *Limiter) Reset(ctx context.Context, key string) error {
	if err := l.client.Del(ctx, l.rateKey(key)).Err(); err != nil {
		return unavailable("reset", err)
	}
	return nil
}

// Now returns the time quota windows are computed by (ratelimit.QuotaClock):
// WithClock's clock, or time.Now, which is close to but not exactly the Redis
// clock the scripts then decide by. A window End computed this way that
// Redis sees as passed counts from zero; the difference matters only for the
// skew between the two clocks around a window's end.
func (l *Limiter) Now() time.Time {
	if l.clock != nil {
		return l.clock()
	}
	return time.Now()
}

var (
	_ ratelimit.Limiter      = (*Limiter)(nil)
	_ ratelimit.Resetter     = (*Limiter)(nil)
	_ ratelimit.MultiLimiter = (*Limiter)(nil)
	_ ratelimit.KeyPreparer  = (*Limiter)(nil)
	_ ratelimit.QuotaCounter = (*Limiter)(nil)
	_ ratelimit.QuotaClock   = (*Limiter)(nil)
)

// itoa is strconv.FormatInt in base 10.
func itoa(v int64) string { return strconv.FormatInt(v, 10) }
