// Package testenv tells the project's tests where the real services they need
// are (PostgreSQL, Redis), and skips or fails those tests when they are not set.
package testenv

import (
	"os"
	"testing"
)

// Environment variables read by Postgres, Redis and Required.
const (
	// PostgresVar holds a PostgreSQL URL, e.g.
	// postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
	PostgresVar = "GATEHOUSE_TEST_POSTGRES"
	// RedisVar holds a Redis URL, e.g. redis://127.0.0.1:6379/0.
	RedisVar = "GATEHOUSE_TEST_REDIS"
	// RequireVar set to 1 turns the skips of Postgres and Redis into
	// failures (CI sets it, so that a missing service cannot pass silently).
	RequireVar = "GATEHOUSE_TEST_REQUIRE_SERVICES"
)

// Postgres returns the PostgreSQL URL tests use. When it is not set, it
// skips the test with a message saying how to run it, or fails it when
// services are required.
func Postgres(tb testing.TB) string {
	tb.Helper()
	return lookup(tb, PostgresVar, "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
}

// Redis returns the Redis URL tests use; when it is not set, it skips or
// fails the test as Postgres does.
func Redis(tb testing.TB) string {
	tb.Helper()
	return lookup(tb, RedisVar, "redis://127.0.0.1:6379/0")
}

// Required reports whether services are required (RequireVar is 1).
func Required() bool { return os.Getenv(RequireVar) == "1" }

func lookup(tb testing.TB, name, example string) string {
	tb.Helper()
	if v := os.Getenv(name); v != "" {
		return v
	}
	msg := "set " + name + "=" + example + " to run this test against a real server"
	if Required() {
		tb.Fatalf("%s is required (%s=1): %s", name, RequireVar, msg)
	}
	tb.Skip(msg)
	return ""
}
