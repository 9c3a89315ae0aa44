package ratelimit

import (
	"context"
	"log/slog"
	"sync/atomic"
)

// OutageLog logs a limiter's failures once per outage rather than once per
// request, and its recovery: a flood of requests against a down limiter
// writes two lines, not one per request. The zero value is ready to use; it
// is safe for concurrent use.
type OutageLog struct {
	down atomic.Bool
}

// Failed reports a failed limiter call: the first failure of an outage is
// logged at error level with msg and args. A failure while ctx is done (the
// client went away, a deadline passed) is not taken for an outage.
func (o *OutageLog) Failed(ctx context.Context, log *slog.Logger, msg string, args ...any) {
	if ctx.Err() != nil {
		return
	}
	if o.down.CompareAndSwap(false, true) {
		log.ErrorContext(ctx, msg, args...)
	}
}

// Succeeded reports a successful limiter call: an outage in progress ends and
// is logged at info level with msg. Outside an outage it costs one atomic load.
func (o *OutageLog) Succeeded(ctx context.Context, log *slog.Logger, msg string) {
	if o.down.Load() { // small enough to be inlined on the way of every decision
		o.recovered(ctx, log, msg)
	}
}

func (o *OutageLog) recovered(ctx context.Context, log *slog.Logger, msg string) {
	if o.down.CompareAndSwap(true, false) {
		log.InfoContext(ctx, msg)
	}
}
