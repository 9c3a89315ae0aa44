package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// randomName returns prefix followed by 12 random hex digits.
func randomName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// PostgresSchema returns the test database's URL (Postgres) and the name of
// a schema of the test's own, which the store creates; the schema is dropped
// with everything in it when the test ends. Tests of several packages run at
// once on one server: each works in its own schema.
func PostgresSchema(tb testing.TB) (dsn, schema string) {
	tb.Helper()
	dsn = Postgres(tb)
	schema = randomName("gatehouse_test_")
	tb.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			tb.Errorf("testenv: drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			tb.Errorf("testenv: drop schema %s: %v", schema, err)
		}
	})
	return dsn, schema
}

// RedisPrefix returns a key prefix of the test's own ("gatehouse-test:<hex>:")
// and deletes every key under it through c when the test ends. Tests never
// flush the shared server.
func RedisPrefix(tb testing.TB, c redis.UniversalClient) string {
	tb.Helper()
	p := randomName("gatehouse-test:") + ":"
	tb.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, p+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			tb.Errorf("testenv: list keys %s*: %v", p, err)
			return
		}
		for len(keys) > 0 {
			n := min(len(keys), 500)
			if err := c.Del(ctx, keys[:n]...).Err(); err != nil {
				tb.Errorf("testenv: delete keys %s*: %v", p, err)
				return
			}
			keys = keys[n:]
		}
	})
	return p
}
