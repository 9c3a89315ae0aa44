package redislimiter_test

import (
	"testing"
	"time"


	"github.com/gatehousehq/gatehouse/ratelimit"
	"github.com/gatehousehq/gatehouse/ratelimit/limitertest"
	"github.com/gatehousehq/gatehouse/ratelimit/redislimiter"
)

func TestConformance(t *testing.T) {
	c := newClient(t, "")
	limitertest.Run(t, func(t *testing.T, now func() time.Time) ratelimit.Limiter {
		return redislimiter.New(c, redislimiter.WithPrefix(testPrefix(t, c)), redislimiter.WithClock(now))
	})
}

func TestQuotaConformance(t *testing.T) {
	c := newClient(t, "")
	limitertest.RunQuotas(t, func(t *testing.T, now func() time.Time) ratelimit.QuotaCounter {
		return redislimiter.New(c, redislimiter.WithPrefix(testPrefix(t, c)), redislimiter.WithClock(now))
	})
}
