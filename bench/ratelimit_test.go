package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-chi/httprate"
	sethvargo "github.com/sethvargo/go-limiter/memorystore"
	"github.com/throttled/throttled/v2"
	throttledmem "github.com/throttled/throttled/v2/store/memstore"
	ulule "github.com/ulule/limiter/v3"
	ululemem "github.com/ulule/limiter/v3/drivers/store/memory"
	"golang.org/x/time/rate"

	"github.com/gatehousehq/gatehouse/ratelimit"
	ratemem "github.com/gatehousehq/gatehouse/ratelimit/memory"
)

// Limits of BenchmarkLimiter, each given to every library in its own terms
// (see limiterLibs): Count requests per Window, a burst of Count.
var (
	// hotLimit is never exhausted by one key hit for the whole benchmark:
	// every decision is an allow and records a charge.
	hotLimit = ratelimit.Limit{Count: 1 << 40, Window: time.Hour}
	// liveLimit lets each of the million keys take 2^20 requests at once
	// and gives one back per hour: every decision is an allow, and no key
	// becomes idle (and so evictable) while the benchmark runs.
	liveLimit = ratelimit.Limit{Count: 1 << 20, Window: (1 << 20) * time.Hour}
	// spentLimit is one request per hour; the benchmark spends it before
	// the timer starts, so every timed decision is a refusal.
	spentLimit = ratelimit.Limit{Count: 1, Window: time.Hour}
)

// hotKey is the key of the single-key scenarios, one of limiterKeys.
const hotKey = "consumer-00000042"

// limiterLib is one library under test: open returns a decision function
// (true: allowed, and charged 1) for one limit, and a function releasing
// what open started.
type limiterLib struct {
	name string
	open func(b *testing.B, lim ratelimit.Limit) (allow func(key string) bool, release func())
}

// limiterLibs configures each library for ratelimit.Limit lim: Count
// requests per Window with a burst of Count, in memory, with its fastest
// in-process decision call. Each takes its own clock reading per decision,
// as it does by default.
var limiterLibs = []limiterLib{
	{"gatehouse", func(b *testing.B, lim ratelimit.Limit) (func(string) bool, func()) {
		l := ratemem.New()
		ctx := context.Background()
		return func(key string) bool {
			d, err := l.Allow(ctx, key, lim, 1)
			if err != nil {
				b.Fatal(err)
			}
			return d.Allowed
		}, func() {}
	}},
	// golang.org/x/time/rate limits one thing: a map of limiters, one per
	// key, created on first use. sync.Map, made for keys written once and
	// read many times, is faster than a mutex-guarded map under RunParallel.
	{"xrate", func(b *testing.B, lim ratelimit.Limit) (func(string) bool, func()) {
		var m sync.Map
		every := rate.Limit(float64(lim.Count) / lim.Window.Seconds())
		burst := int(lim.Count)
		return func(key string) bool {
			v, ok := m.Load(key)
			if !ok {
				v, _ = m.LoadOrStore(key, rate.NewLimiter(every, burst))
			}
			return v.(*rate.Limiter).Allow()
		}, func() {}
	}},
	// httprate's decision for a given key is RateLimiter.OnLimit, which
	// takes a ResponseWriter and a Request for its headers and context
	// overrides: one request prepared here and a writer that keeps nothing,
	// response headers turned off (no HTTP round trip, no key function).
	{"httprate", func(b *testing.B, lim ratelimit.Limit) (func(string) bool, func()) {
		rl := httprate.NewRateLimiter(int(lim.Count), lim.Window, httprate.WithResponseHeaders(httprate.ResponseHeaders{}))
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		w := headerOnlyWriter{}
		return func(key string) bool { return !rl.OnLimit(w, r, key) }, func() {}
	}},
	// ulule/limiter v3 with its memory store (default prefix and cleaner).
	{"ulule", func(b *testing.B, lim ratelimit.Limit) (func(string) bool, func()) {
		l := ulule.New(ululemem.NewStore(), ulule.Rate{Period: lim.Window, Limit: lim.Count})
		ctx := context.Background()
		return func(key string) bool {
			c, err := l.Get(ctx, key)
			if err != nil {
				b.Fatal(err)
			}
			return !c.Reached
		}, func() {}
	}},
	// sethvargo/go-limiter's memorystore (default sweep settings).
	{"sethvargo", func(b *testing.B, lim ratelimit.Limit) (func(string) bool, func()) {
		st, err := sethvargo.New(&sethvargo.Config{Tokens: uint64(lim.Count), Interval: lim.Window})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		return func(key string) bool {
			_, _, _, ok, err := st.Take(ctx, key)
			if err != nil {
				b.Fatal(err)
			}
			return ok
		}, func() { _ = st.Close(context.Background()) }
	}},
	// throttled v2's GCRA limiter over its memstore; maxKeys 0 is its plain
	// map (bounded stores go through an LRU list, slower).
	{"throttled", func(b *testing.B, lim ratelimit.Limit) (func(string) bool, func()) {
		st, err := throttledmem.NewCtx(0)
		if err != nil {
			b.Fatal(err)
		}
		rl, err := throttled.NewGCRARateLimiterCtx(st, throttled.RateQuota{
			MaxRate:  throttled.PerDuration(int(lim.Count), lim.Window),
			MaxBurst: int(lim.Count) - 1,
		})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		return func(key string) bool {
			limited, _, err := rl.RateLimitCtx(ctx, key, 1)
			if err != nil {
				b.Fatal(err)
			}
			return !limited
		}, func() {}
	}},
}

// headerOnlyWriter is the ResponseWriter given to httprate: OnLimit sets
// no header once they are turned off, and writes nothing.
type headerOnlyWriter struct{}

func (headerOnlyWriter) Header() http.Header         { return http.Header{} }
func (headerOnlyWriter) Write(b []byte) (int, error) { return len(b), nil }
func (headerOnlyWriter) WriteHeader(int)             {}

var (
	keysOnce    sync.Once
	millionKeys []string // in the order they are first seen
	visitOrder  []string // the same strings, shuffled
)

// limiterKeys returns the million keys every library is given, built once:
// fill charges them in creation order, the timed loops visit them in a
// fixed random order, as clients seen in one order come back in another
// (so no library gets its per-key memory in the order it is read). Like the
// strings a server parses from requests, each key passed to a library is
// its own copy, and a cheap one to read: a library that keeps the caller's
// string (rather than a copy) must compare bytes, not only pointers, to find
// it again, and what each library pays for is its own memory.
func limiterKeys() (keys, visit []string) {
	keysOnce.Do(func() {
		millionKeys = make([]string, 1_000_000)
		for i := range millionKeys {
			millionKeys[i] = fmt.Sprintf("consumer-%08d", i)
		}
		order := rand.New(rand.NewPCG(1, 2)).Perm(len(millionKeys))
		visitOrder = make([]string, len(millionKeys))
		for i, k := range order {
			// Copied in visit order: each key's bytes are read right after
			// the previous one's, as cheap as reading a request just parsed.
			visitOrder[i] = strings.Clone(millionKeys[k])
		}
	})
	return millionKeys, visitOrder
}

// fill opens lib for lim and charges every key once, outside the timer,
// each from a copy of its string made for that call. It returns the heap the
// library holds per key afterwards, by runtime.MemStats (both readings after
// a GC), the key bytes included whether the library copies them or keeps the
// caller's.
func fill(b *testing.B, lib limiterLib, lim ratelimit.Limit, keys []string) (allow func(string) bool, release func(), perKey float64) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	allow, release = lib.open(b, lim)
	for _, k := range keys {
		if !allow(strings.Clone(k)) { // held by the libraries that keep it
			b.Fatalf("%s refused the first request of %s", lib.name, k)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	return allow, release, (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / float64(len(keys))
}

// BenchmarkLimiter compares the memory limiter with other Go rate limiters
// on the same keys and equivalent limits, one decision of weight 1 per
// iteration:
//   - hot: one key, every decision allowed;
//   - refused: one key whose limit is spent, every decision refused;
//   - million: 1,000,000 live keys, charged once in creation order before the
//     timer starts, then visited in a fixed random order (cache misses); B/key
//     is the heap held per key after charging them;
//   - parallel: the same million keys in the same random order from
//     b.RunParallel, each goroutine starting at its own offset.
func BenchmarkLimiter(b *testing.B) {
	keys, visit := limiterKeys()
	for _, lib := range limiterLibs {
		b.Run("hot/lib="+lib.name, func(b *testing.B) {
			allow, release := lib.open(b, hotLimit)
			defer release()
			ok := allow(strings.Clone(hotKey))
			key := strings.Clone(hotKey)
			b.ReportAllocs()
			for b.Loop() {
				ok = allow(key)
			}
			if !ok {
				b.Fatalf("%s refused the hot key", lib.name)
			}
		})
	}
	for _, lib := range limiterLibs {
		b.Run("refused/lib="+lib.name, func(b *testing.B) {
			allow, release := lib.open(b, spentLimit)
			defer release()
			if !allow(strings.Clone(hotKey)) {
				b.Fatalf("%s refused the first request", lib.name)
			}
			ok := false
			key := strings.Clone(hotKey)
			b.ReportAllocs()
			for b.Loop() {
				ok = allow(key)
			}
			if ok {
				b.Fatalf("%s allowed a request over its limit", lib.name)
			}
		})
	}
	for _, lib := range limiterLibs {
		b.Run("million/lib="+lib.name, func(b *testing.B) {
			allow, release, perKey := fill(b, lib, liveLimit, keys)
			defer release()
			refused, i := 0, 0
			b.ReportAllocs()
			for b.Loop() {
				if !allow(visit[i]) {
					refused++
				}
				if i++; i == len(visit) {
					i = 0
				}
			}
			b.ReportMetric(perKey, "B/key")
			if refused > 0 {
				b.Fatalf("%s refused %d requests", lib.name, refused)
			}
		})
	}
	for _, lib := range limiterLibs {
		// RunParallel calls the function once per b.N tried: fill once.
		var (
			allow   func(string) bool
			release = func() {}
			perKey  float64
		)
		b.Run("parallel/lib="+lib.name, func(b *testing.B) {
			if allow == nil {
				allow, release, perKey = fill(b, lib, liveLimit, keys)
			}
			var next, refused atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := int(next.Add(1)*499_979) % len(visit)
				for pb.Next() {
					if !allow(visit[i]) {
						refused.Add(1)
					}
					if i++; i == len(visit) {
						i = 0
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(perKey, "B/key")
			if n := refused.Load(); n > 0 {
				b.Fatalf("%s refused %d requests", lib.name, n)
			}
		})
		release()
	}
}
