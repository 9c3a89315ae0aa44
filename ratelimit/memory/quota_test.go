package memory_test

import (
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/ratelimit"
	"github.com/gatehousehq/gatehouse/ratelimit/limitertest"
	"github.com/gatehousehq/gatehouse/ratelimit/memory"
)

func TestQuotaConformance(t *testing.T) {
	limitertest.RunQuotas(t, func(_ *testing.T, now func() time.Time) ratelimit.QuotaCounter {
		return memory.New(memory.WithClock(now))
	})
}
