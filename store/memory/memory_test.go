package memory_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/store"
	"github.com/gatehousehq/gatehouse/store/memory"
	"github.com/gatehousehq/gatehouse/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(*testing.T) store.Store { return memory.New() })
}

func TestWithClock(t *testing.T) {
	now := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("CEST", 2*3600))
	s := memory.New(memory.WithClock(func() time.Time { return now }))
	ctx := context.Background()
	put := func() *consumer.Consumer {
		c, _, err := s.PutConsumer(ctx, "alice", func(*consumer.Consumer) (*consumer.Consumer, error) {
			return &consumer.Consumer{Username: "alice"}, nil
		})
		require.NoError(t, err)
		return c
	}
	c := put()
	want := time.Date(2024, 5, 6, 5, 8, 9, 123456000, time.UTC)
	require.Equal(t, want, c.CreatedAt, "UTC, truncated to microseconds")
	require.Equal(t, want, c.UpdatedAt)

	now = now.Add(time.Hour)
	c = put()
	require.Equal(t, want, c.CreatedAt)
	require.Equal(t, want.Add(time.Hour), c.UpdatedAt)
}

func TestWatchCanceledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := memory.New().Watch(ctx)
	require.ErrorIs(t, err, context.Canceled)
}
