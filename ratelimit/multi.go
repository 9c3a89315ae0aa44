package ratelimit

import (
	"context"
	"fmt"
)

// Request is one limit of an AllowAll call: Limit applied to Key.
type Request struct {
	Key   string
	Limit Limit
	// Prepared, when not nil, is what the limiter's PrepareKey returned for
	// Key (KeyPreparer): it spares the limiter work it does on every call.
	// A limiter ignores a value it did not make.
	Prepared any
}

// KeyPreparer is implemented by MultiLimiters that can do once the work they
// otherwise do on each call for a key (the memory limiter hashes it): a caller
// that charges the same keys again and again (a rate-limit plugin bound to
// one consumer) prepares them once and passes the result in
// Request.Prepared.
type KeyPreparer interface {
	// PrepareKey returns the prepared form of key, valid with this limiter
	// only, for as long as the limiter lives.
	PrepareKey(key string) any
}

// MultiLimiter is implemented by limiters that decide several limits in one
// step: a request is charged to every key or to none, so that a limit that
// refuses does not use up the others (a per-user limit refusing must not spend
// the group's global limit).
type MultiLimiter interface {
	// AllowAll charges n to every request's key when all of them allow it,
	// and to none otherwise. out[i] receives the decision for reqs[i] (for a
	// refusal, what each limit would have said; at least one is not Allowed);
	// out must have len(reqs) elements. Keys must be distinct.
	AllowAll(ctx context.Context, reqs []Request, n int64, out []Decision) (allowed bool, err error)
}

// AllowAll charges n to every request's key, or to none, through l. It uses
// l's own AllowAll when l is a MultiLimiter. Otherwise it reads every limit
// first (n = 0) and charges only when all of them have room, one after the
// other: a request racing another for the last unit of a later limit may then
// have charged the earlier ones (never more than Count on any key). On a
// refusal, out then holds those reads, with Allowed false where a limit lacks
// room and RetryAfter the time until its full capacity is back (an upper
// bound: the limiter's own AllowAll is exact). A key given twice is an error
// wrapping ErrInvalidLimit.
func AllowAll(ctx context.Context, l Limiter, reqs []Request, n int64, out []Decision) (bool, error) {
	if len(out) != len(reqs) {
		return false, fmt.Errorf("%w: %d limits but room for %d decisions", ErrInvalidLimit, len(reqs), len(out))
	}
	if m, ok := l.(MultiLimiter); ok {
		return m.AllowAll(ctx, reqs, n, out)
	}
	for i := range reqs {
		for j := range i {
			if reqs[j].Key == reqs[i].Key {
				return false, fmt.Errorf("%w: key %q appears twice (requests %d and %d)", ErrInvalidLimit, reqs[i].Key, j, i)
			}
		}
	}
	allowed := true
	for i, r := range reqs {
		d, err := l.Allow(ctx, r.Key, r.Limit, 0)
		if err != nil {
			return false, err
		}
		out[i] = d
		if d.Remaining < n {
			allowed = false
			out[i].Allowed = false
			if out[i].RetryAfter == 0 {
				out[i].RetryAfter = max(d.Reset, 1)
			}
		}
	}
	if !allowed || n == 0 {
		return allowed, nil
	}
	for i, r := range reqs {
		d, err := l.Allow(ctx, r.Key, r.Limit, n)
		if err != nil {
			return false, err
		}
		out[i] = d
		if !d.Allowed {
			return false, nil
		}
	}
	return true, nil
}
