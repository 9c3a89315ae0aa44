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

func TestQuotaWindowsBeforeTheEpoch(t *testing.T) {
	at := time.Date(1969, 12, 31, 13, 0, 5, 0, time.UTC)
	require.True(t, time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC).Equal(ratelimit.DayEnd(at)))
	require.True(t, time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC).Equal(ratelimit.MonthEnd(at)))
	require.True(t, time.Date(1969, 12, 31, 13, 0, 10, 0, time.UTC).Equal(ratelimit.WindowEnd(at, 10*time.Second)))
}

func TestValidateQuota(t *testing.T) {
	end := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := ratelimit.QuotaWindow{Name: "a", Max: 1, End: end}
	b := ratelimit.QuotaWindow{Name: "b", Max: 0, End: end}
	for _, tc := range []struct {
		name    string
		ws      []ratelimit.QuotaWindow
		n       int64
		used    int
		invalid bool
	}{
		{"two windows", []ratelimit.QuotaWindow{a, b}, 1, 2, false},
		{"a read", []ratelimit.QuotaWindow{a}, 0, 1, false},
		{"no window", nil, 1, 0, false},
		{"negative n", []ratelimit.QuotaWindow{a}, -1, 1, true},
		{"used too short", []ratelimit.QuotaWindow{a, b}, 1, 1, true},
		{"used too long", []ratelimit.QuotaWindow{a}, 1, 2, true},
		{"negative Max", []ratelimit.QuotaWindow{a, {Name: "c", Max: -1, End: end}}, 1, 2, true},
		{"no name", []ratelimit.QuotaWindow{a, {Max: 1, End: end}}, 1, 2, true},
		{"a name twice", []ratelimit.QuotaWindow{a, b, a}, 1, 3, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ratelimit.ValidateQuota("k", tc.ws, tc.n, make([]int64, tc.used))
			if !tc.invalid {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ratelimit.ErrInvalidLimit)
		})
	}
}
