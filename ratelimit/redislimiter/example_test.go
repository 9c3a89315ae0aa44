package redislimiter_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/ratelimit"
	"github.com/gatehousehq/gatehouse/ratelimit/redislimiter"
	"github.com/gatehousehq/gatehouse/store/memory"
)

// Every gateway instance is given a limiter over the same Redis: rate
// limits, API-key quotas and hmac-auth's replay cache are then shared.
func Example() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer client.Close()
	rl := redislimiter.New(client, redislimiter.WithPrefix("gatehouse:prod:"))

	gw, err := gatehouse.New(context.Background(), memory.New(),
		gatehouse.WithLimiter(rl),     // limit-count, advanced_rate_limiter, API-key quotas
		gatehouse.WithReplayStore(rl)) // hmac-auth replay_protection
	if err != nil {
		log.Fatal(err)
	}
	defer gw.Close()
}

// A limiter used directly: 3 requests per second for one key, then a
// refusal with the time to wait. (Not run by go test: it needs a server.)
func ExampleLimiter_Allow() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer client.Close()
	rl := redislimiter.New(client)

	limit := ratelimit.Limit{Count: 3, Window: time.Second}
	for range 4 {
		d, err := rl.Allow(context.Background(), "user:alice", limit, 1)
		if err != nil {
			log.Fatal(err) // wraps redislimiter.ErrUnavailable
		}
		fmt.Println(d.Allowed, d.Remaining, d.RetryAfter.Round(time.Millisecond))
	}
}
