package ratelimit_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/ratelimit"
)

func TestOutageLogOncePerOutage(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	var o ratelimit.OutageLog
	ctx := context.Background()
	boom := errors.New("connection refused")

	o.Succeeded(ctx, log, "recovered") // no outage: nothing logged
	for range 100 {
		o.Failed(ctx, log, "limiter down", "err", boom)
	}
	for range 100 {
		o.Succeeded(ctx, log, "recovered")
	}
	o.Failed(ctx, log, "limiter down", "err", boom) // a second outage
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	o.Succeeded(ctx, log, "recovered")
	o.Failed(cancelled, log, "limiter down", "err", context.Canceled) // the client went away: no outage

	out := buf.String()
	require.Equal(t, 2, strings.Count(out, "limiter down"), out)
	require.Equal(t, 2, strings.Count(out, "recovered"), out)
	require.Contains(t, out, "connection refused")
}
