package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	ulule "github.com/ulule/limiter/v3"
	ululeredis "github.com/ulule/limiter/v3/drivers/store/redis"

	"github.com/gatehousehq/gatehouse/ratelimit"
	"github.com/gatehousehq/gatehouse/ratelimit/redislimiter"
)

// redisClients is the number of goroutines deciding at once in
// BenchmarkRedis, and the size of every side's connection pool.
const redisClients = 32

// redisKeys is the number of keys the goroutines cycle through.
const redisKeys = 10_000

// redisLimit is never exhausted while the benchmark runs: every decision is
// an allow that writes its key.
var redisLimit = ratelimit.Limit{Count: 1 << 30, Window: time.Hour}

// tripCounter is a go-redis hook counting round trips: one per command sent
// alone, one per pipeline. The handshake of a new connection (HELLO, CLIENT
// SETINFO …) is not a decision's and is not counted.
type tripCounter struct{ n atomic.Int64 }

func handshake(cmd redis.Cmder) bool {
	switch cmd.Name() {
	case "hello", "client", "auth", "select":
		return true
	}
	return false
}

func (c *tripCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *tripCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !handshake(cmd) {
			c.n.Add(1)
		}
		return next(ctx, cmd)
	}
}
func (c *tripCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && !handshake(cmds[0]) {
			c.n.Add(1)
		}
		return next(ctx, cmds)
	}
}

// redisSide is one way of deciding with Redis: open returns the decision of
// one request on key (true: allowed and charged).
type redisSide struct {
	name string
	open func(b *testing.B, c *redis.Client, prefix string) func(ctx context.Context, key string) bool
}

var redisSides = []redisSide{
	// Gatehouse: one EVALSHA of the GCRA script, the time read by Redis;
	// concurrent decisions share pipelines (the default: 32/8 = 4 in flight).
	{"gatehouse", func(b *testing.B, c *redis.Client, prefix string) func(context.Context, string) bool {
		l := redislimiter.New(c, redislimiter.WithPrefix(prefix))
		return func(ctx context.Context, key string) bool {
			d, err := l.Allow(ctx, key, redisLimit, 1)
			if err != nil {
				b.Fatal(err)
			}
			return d.Allowed
		}
	}},
	// Gatehouse without pipelining: every decision its own EVALSHA, as
	// before WithPipelining.
	{"gatehouse-unpipelined", func(b *testing.B, c *redis.Client, prefix string) func(context.Context, string) bool {
		l := redislimiter.New(c, redislimiter.WithPrefix(prefix), redislimiter.WithPipelining(0))
		return func(ctx context.Context, key string) bool {
			d, err := l.Allow(ctx, key, redisLimit, 1)
			if err != nil {
				b.Fatal(err)
			}
			return d.Allowed
		}
	}},
	// go-redis/redis_rate v10: GCRA in one EVALSHA (its allowN script).
	{"redis_rate", func(b *testing.B, c *redis.Client, prefix string) func(context.Context, string) bool {
		l := redis_rate.NewLimiter(c)
		lim := redis_rate.Limit{Rate: int(redisLimit.Count), Burst: int(redisLimit.Count), Period: redisLimit.Window}
		return func(ctx context.Context, key string) bool {
			r, err := l.Allow(ctx, prefix+key, lim)
			if err != nil {
				b.Fatal(err)
			}
			return r.Allowed > 0
		}
	}},
	// ulule/limiter v3's Redis store: a fixed window, INCRBY then PEXPIRE
	// (new key) or PTTL in one EVALSHA.
	{"ulule", func(b *testing.B, c *redis.Client, prefix string) func(context.Context, string) bool {
		st, err := ululeredis.NewStoreWithOptions(c, ulule.StoreOptions{Prefix: prefix, MaxRetry: 1})
		if err != nil {
			b.Fatal(err)
		}
		l := ulule.New(st, ulule.Rate{Period: redisLimit.Window, Limit: redisLimit.Count})
		return func(ctx context.Context, key string) bool {
			r, err := l.Get(ctx, key)
			if err != nil {
				b.Fatal(err)
			}
			return !r.Reached
		}
	}},
	// The floor: INCR and PEXPIRE pipelined, one round trip, no script (a
	// fixed window that decides nothing about refills).
	{"floor", func(b *testing.B, c *redis.Client, prefix string) func(context.Context, string) bool {
		return func(ctx context.Context, key string) bool {
			pipe := c.Pipeline()
			incr := pipe.Incr(ctx, prefix+key)
			pipe.PExpire(ctx, prefix+key, redisLimit.Window)
			if _, err := pipe.Exec(ctx); err != nil {
				b.Fatal(err)
			}
			return incr.Val() <= redisLimit.Count
		}
	}},
	// Gatehouse's AllowAll on a consumer group's three limits (per_user,
	// per_ip, global): one script call decides all three.
	{"gatehouse-allowall3", func(b *testing.B, c *redis.Client, prefix string) func(context.Context, string) bool {
		l := redislimiter.New(c, redislimiter.WithPrefix(prefix))
		return func(ctx context.Context, key string) bool {
			reqs := [3]ratelimit.Request{
				{Key: "{g}:per_user:" + key, Limit: redisLimit},
				{Key: "{g}:per_ip:" + key, Limit: redisLimit},
				{Key: "{g}:global", Limit: redisLimit},
			}
			var out [3]ratelimit.Decision
			ok, err := l.AllowAll(ctx, reqs[:], 1, out[:])
			if err != nil {
				b.Fatal(err)
			}
			return ok
		}
	}},
}

// BenchmarkRedis compares decisions kept in Redis: redisClients goroutines
// (GOMAXPROCS-aware SetParallelism) on redisKeys keys, each side with its
// own client and a pool of redisClients connections. trips/op is the round
// trips per decision a go-redis hook counted (a pipeline is one), ops/trip
// its inverse: the decisions one round trip carried. It needs GATEHOUSE_TEST_REDIS
// (redis://127.0.0.1:6379/0); every key it writes is under a random prefix,
// deleted at the end.
func BenchmarkRedis(b *testing.B) {
	// Not internal/testenv: it would bring its PostgreSQL driver into this
	// module. The same rule: skip without the variable, fail when required.
	url := os.Getenv("GATEHOUSE_TEST_REDIS")
	if url == "" {
		msg := "set GATEHOUSE_TEST_REDIS=redis://127.0.0.1:6379/0 to run this benchmark against a real server"
		if os.Getenv("GATEHOUSE_TEST_REQUIRE_SERVICES") == "1" {
			b.Fatal(msg)
		}
		b.Skip(msg)
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		b.Fatal(err)
	}
	opt.PoolSize = redisClients
	keys := make([]string, redisKeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("consumer-%05d", i)
	}
	for _, side := range redisSides {
		b.Run("side="+side.name, func(b *testing.B) {
			c := redis.NewClient(opt)
			defer c.Close()
			var r [6]byte
			_, _ = rand.Read(r[:])
			prefix := "gatehouse-bench:" + hex.EncodeToString(r[:]) + ":"
			defer deleteUnder(c, prefix)
			allow := side.open(b, c, prefix)
			ctx := context.Background()
			if !allow(ctx, keys[0]) { // loads the scripts, opens a connection
				b.Fatal("first request refused")
			}
			cpu0 := serverCPU(b, c)
			trips := &tripCounter{}
			c.AddHook(trips)
			var next atomic.Int64
			b.SetParallelism((redisClients + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := int(next.Add(997)) // each goroutine from its own place
				for pb.Next() {
					if !allow(ctx, keys[i%len(keys)]) {
						b.Error("refused")
						return
					}
					i++
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(trips.n.Load())/float64(b.N), "trips/op")
			b.ReportMetric(float64(b.N)/float64(max(trips.n.Load(), 1)), "ops/trip")
			b.ReportMetric((serverCPU(b, c)-cpu0).Seconds()*1e6/float64(b.N), "server-µs/op")
		})
	}
}

// serverCPU returns the CPU time the Redis server has used (INFO cpu: user
// and system, its own threads). Per decision, it is what one costs the
// server, the resource every gateway instance shares; it counts the
// server's other clients too, so it is meant for a quiet server.
func serverCPU(b *testing.B, c *redis.Client) time.Duration {
	info, err := c.Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total float64
	for _, line := range strings.Split(info, "\n") {
		name, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (name == "used_cpu_sys" || name == "used_cpu_user") {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				b.Fatal(err)
			}
			total += f
		}
	}
	return time.Duration(total * float64(time.Second))
}

// deleteUnder deletes every key under prefix.
func deleteUnder(c *redis.Client, prefix string) {
	ctx := context.Background()
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var batch []string
	for iter.Next(ctx) {
		if batch = append(batch, iter.Val()); len(batch) == 1000 {
			c.Del(ctx, batch...)
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		c.Del(ctx, batch...)
	}
}
