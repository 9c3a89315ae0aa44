package redislimiter

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/gatehousehq/gatehouse/ratelimit"
)

func (l *Limiter) quotaKey(key string) string { return l.prefix + quotaSpace + key }

// Consume charges n to every window of key, or to none, in one round trip;
// see ratelimit.QuotaCounter. The key is one hash with a field per window
// name holding the window's End and count; the script counts a field made
// for another End, or a window whose End has passed by the limiter's clock
// (Redis' unless WithClock), as zero, and sets the hash to expire when the
// latest window it holds ends. Invalid arguments are errors wrapping
// ratelimit.ErrInvalidLimit, failures to reach Redis errors wrapping
// ErrUnavailable.
func (l *Limiter) Consume(ctx context.Context, key string, windows []ratelimit.QuotaWindow, n int64, used []int64) (bool, error) {
	if err := ratelimit.ValidateQuota(key, windows, n, used); err != nil {
		return false, fmt.Errorf("redislimiter: %w", err)
	}
	if len(windows) == 0 {
		return true, nil
	}
	args := l.appendNow(append(quotaScript.evalSha(1, 3+5*len(windows)), l.quotaKey(key), n))
	for _, w := range windows {
		args = append(args, w.Name, w.Max, itoa(w.End.UnixNano()), w.End.Unix(), w.End.Nanosecond())
	}
	cmd, err := l.b.do(ctx, quotaScript, redis.NewCmd(ctx, args...))
	var res []int64
	if err == nil {
		res, err = cmd.Int64Slice()
	}
	if err != nil {
		return false, unavailable("quota", err)
	}
	if len(res) != 1+len(windows) {
		return false, unavailable("quota", fmt.Errorf("script answered %d values, want %d", len(res), 1+len(windows)))
	}
	allowed := res[0] == 1
	for i := range used {
		used[i] = res[1+i]
		if allowed {
			used[i] += n
		}
	}
	return allowed, nil
}

// ResetQuota forgets every window count of key (ratelimit.QuotaCounter): one
// DEL.
func (l *Limiter) ResetQuota(ctx context.Context, key string) error {
	if err := l.client.Del(ctx, l.quotaKey(key)).Err(); err != nil {
		return unavailable("reset quota", err)
	}
	return nil
}
