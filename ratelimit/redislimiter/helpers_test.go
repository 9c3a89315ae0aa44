package redislimiter_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/internal/testenv"
)

// newClient connects to the test server, through addr when it is not empty
// (a proxy), and closes the client when the test ends.
func newClient(tb testing.TB, addr string) *redis.Client {
	tb.Helper()
	opt, err := redis.ParseURL(testenv.Redis(tb))
	require.NoError(tb, err)
	if addr != "" {
		opt.Addr = addr
	}
	c := redis.NewClient(opt)
	tb.Cleanup(func() { c.Close() })
	return c
}

// testPrefix returns a key prefix of the test's own and deletes every key
// under it when the test ends.
func testPrefix(tb testing.TB, c *redis.Client) string {
	tb.Helper()
	var b [8]byte
	_, _ = rand.Read(b[:])
	p := "gatehouse-test:" + hex.EncodeToString(b[:]) + ":"
	tb.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, p+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if len(keys) > 0 {
			c.Del(ctx, keys...)
		}
	})
	return p
}

// counter is a go-redis hook that counts the commands sent (a pipeline
// counts as one round trip) and keeps the keys of the last script call.
type counter struct {
	mu         sync.Mutex
	trips      int
	scriptKeys []string
}

func (c *counter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *counter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.mu.Lock()
		c.trips++
		args := cmd.Args()
		if name := cmd.Name(); (name == "evalsha" || name == "eval") && len(args) >= 3 {
			nkeys, _ := args[2].(int)
			c.scriptKeys = c.scriptKeys[:0]
			for _, k := range args[3 : 3+nkeys] {
				c.scriptKeys = append(c.scriptKeys, k.(string))
			}
		}
		c.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (c *counter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.mu.Lock()
		c.trips++
		c.mu.Unlock()
		return next(ctx, cmds)
	}
}

// take returns the round trips counted since the last take and the keys of
// the last script call.
func (c *counter) take() (int, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, keys := c.trips, append([]string(nil), c.scriptKeys...)
	c.trips = 0
	return n, keys
}

// slot is the Redis Cluster slot of key: CRC16 (XMODEM) of its hash tag, or
// of the whole key without one, modulo 16384.
func slot(key string) uint16 {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc ^= uint16(key[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc % 16384
}
