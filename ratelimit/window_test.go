package ratelimit_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/ratelimit"
)

func TestParseWindow(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"30s", 30 * time.Second},
		{"1m", time.Minute},
		{"1h", time.Hour},
		{"1d", 24 * time.Hour},
		{"7d", 7 * 24 * time.Hour},
		{"60", time.Minute},
		{"1", time.Second},
		{"0090s", 90 * time.Second},
		{"9223372036s", 9223372036 * time.Second},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ratelimit.ParseWindow(tc.in)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestParseWindowRefuses(t *testing.T) {
	for _, in := range []string{
		"", "s", "d", "0", "0s", "00m", "-1s", "+1s", "1.5h", "1ms", "1w", "1 m", " 1m", "1m ",
		"1h30m", "abc", "1x", "9223372037s", "106752d", "99999999999999999999", "١s",
	} {
		t.Run(in, func(t *testing.T) {
			_, err := ratelimit.ParseWindow(in)
			require.ErrorIs(t, err, ratelimit.ErrInvalidWindow)
			require.Contains(t, err.Error(), strconv.Quote(in)[1:len(strconv.Quote(in))-1])
		})
	}
}

func FuzzParseWindow(f *testing.F) {
	for _, s := range []string{"30s", "1m", "1h", "1d", "60", "0", "-1s", "1.5h", "9223372037s", "106751d", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ratelimit.ParseWindow(s)
		if err != nil {
			require.ErrorIs(t, err, ratelimit.ErrInvalidWindow)
			require.Zero(t, d)
			return
		}
		require.Positive(t, d)
		require.Zero(t, d%time.Second, "windows are whole seconds")
		// The same window written in seconds parses to the same duration.
		again, err := ratelimit.ParseWindow(strconv.FormatInt(int64(d/time.Second), 10) + "s")
		require.NoError(t, err)
		require.Equal(t, d, again)
	})
}

func TestLimitValidate(t *testing.T) {
	require.NoError(t, ratelimit.Limit{Count: 10, Window: time.Second}.Validate())
	for _, l := range []ratelimit.Limit{
		{Count: 0, Window: time.Second},
		{Count: -1, Window: time.Second},
		{Count: 1, Window: 0},
		{Count: 1, Window: -time.Second},
		{Count: 1001, Window: time.Microsecond},
	} {
		require.ErrorIs(t, l.Validate(), ratelimit.ErrInvalidLimit, "%+v", l)
	}
}
