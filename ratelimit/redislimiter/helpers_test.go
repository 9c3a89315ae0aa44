package redislimiter_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// redisURL returns GATEHOUSE_TEST_REDIS, skipping the test without it (or
// failing it when GATEHOUSE_TEST_REQUIRE_SERVICES=1).
// TODO(redis): internal/testenv.Redis once it is on main.
func redisURL(tb testing.TB) string {
	tb.Helper()
	if v := os.Getenv("GATEHOUSE_TEST_REDIS"); v != "" {
		return v
	}
	msg := "set GATEHOUSE_TEST_REDIS=redis://127.0.0.1:6379/0 to run this test against a real server"
	if os.Getenv("GATEHOUSE_TEST_REQUIRE_SERVICES") == "1" {
		tb.Fatal("GATEHOUSE_TEST_REDIS is required (GATEHOUSE_TEST_REQUIRE_SERVICES=1): " + msg)
	}
	tb.Skip(msg)
	return ""
}

// newClient connects to the test server, through addr when it is not empty
// (a proxy), and closes the client when the test ends.
func newClient(tb testing.TB, addr string) *redis.Client {
	tb.Helper()
	opt, err := redis.ParseURL(redisURL(tb))
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
