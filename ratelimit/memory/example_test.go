package memory_test

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehousehq/gatehouse/ratelimit"
	"github.com/gatehousehq/gatehouse/ratelimit/memory"
)

// A limiter used directly (a gateway is given one with gatehouse.WithLimiter;
// this one is its default), on a clock the example controls: 3 requests a
// minute for one key, the fourth refused with the time to wait, and capacity
// coming back one request every 20 seconds.
func Example() {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	rl := memory.New(memory.WithClock(func() time.Time { return now }))
	ctx := context.Background()
	limit := ratelimit.Limit{Count: 3, Window: time.Minute}

	for range 4 {
		d, _ := rl.Allow(ctx, "consumer:alice", limit, 1)
		fmt.Println(d.Allowed, d.Remaining, d.RetryAfter)
	}
	now = now.Add(20 * time.Second)
	d, _ := rl.Allow(ctx, "consumer:alice", limit, 1)
	fmt.Println(d.Allowed, d.Remaining)
	d, _ = rl.Allow(ctx, "consumer:bob", limit, 1) // every key has its own count
	fmt.Println(d.Allowed, d.Remaining)
	// Output:
	// true 2 0s
	// true 1 0s
	// true 0 0s
	// false 0 20s
	// true 0
	// true 2
}
