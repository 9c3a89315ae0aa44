package ratelimit_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/ratelimit"
)

func TestQuotaWindows(t *testing.T) {
	paris := time.FixedZone("Paris", 3600)
	for _, tc := range []struct {
		name       string
		at         time.Time
		day, month time.Time
		tenSeconds time.Time
	}{
		{"mid-month", time.Date(2026, 12, 2, 11, 53, 7, 5, time.UTC),
			time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
			time.Date(2026, 12, 2, 11, 53, 10, 0, time.UTC)},
		{"last day of February", time.Date(2028, 2, 29, 23, 59, 59, 999, time.UTC),
			time.Date(2028, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2028, 3, 1, 0, 0, 0, 0, time.UTC),
			time.Date(2028, 3, 1, 0, 0, 0, 0, time.UTC)},
		{"exactly midnight starts a new day", time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC),
			time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC),
			time.Date(2026, 1, 31, 0, 0, 10, 0, time.UTC)},
		{"another zone counts in UTC", time.Date(2026, 6, 1, 0, 30, 0, 0, paris), // 2026-05-31 23:30 UTC
			time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC),
			time.Date(2026, 5, 31, 23, 30, 10, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.True(t, tc.day.Equal(ratelimit.DayEnd(tc.at)), "day end %s", ratelimit.DayEnd(tc.at))
			require.True(t, tc.month.Equal(ratelimit.MonthEnd(tc.at)), "month end %s", ratelimit.MonthEnd(tc.at))
			require.True(t, tc.tenSeconds.Equal(ratelimit.WindowEnd(tc.at, 10*time.Second)), "10 s end %s", ratelimit.WindowEnd(tc.at, 10*time.Second))
		})
	}
}
