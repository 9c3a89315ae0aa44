package redislimiter

import (
	"context"
	"encoding/hex"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// Remember records key until the time until, and reports whether it was
// already recorded (and not expired): one SET … NX PXAT, so that of two
// instances given the same key at once exactly one sees it as new. It is
// hmac-auth's shared replay cache (hmacauth.ReplayStore): give the limiter
// to gatehouse.WithReplayStore, or to hmacauth.Definition's Replay, and a
// signature or nonce accepted by one instance is refused by every other.
// The entry expires by Redis' clock at until (rounded up to the
// millisecond); an until Redis already sees as past records nothing and
// reports the key as new. A failure wraps ErrUnavailable.
func (l *Limiter) Remember(ctx context.Context, key [32]byte, until time.Time) (bool, error) {
	var b [len(replaySpace) + 64]byte
	copy(b[:], replaySpace)
	hex.Encode(b[len(replaySpace):], key[:])
	ms := (until.UnixNano() + int64(time.Millisecond) - 1) / int64(time.Millisecond)
	cmd, err := l.b.do(ctx, nil, redis.NewCmd(ctx, "set", l.prefix+string(b[:]), "1", "nx", "pxat", ms))
	if err == nil {
		err = cmd.Err()
	}
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, redis.Nil):
		return true, nil
	}
	return false, unavailable("remember", err)
}
