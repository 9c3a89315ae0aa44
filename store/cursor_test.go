package store_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/store"
)

func TestPageSize(t *testing.T) {
	for limit, want := range map[int]int{-1: store.DefaultListLimit, 0: store.DefaultListLimit, 1: 1, 250: 250,
		store.MaxListLimit: store.MaxListLimit, store.MaxListLimit + 1: store.MaxListLimit} {
		require.Equal(t, want, store.ListOptions{Limit: limit}.PageSize(), "Limit %d", limit)
	}
}

func TestCursorRoundTrip(t *testing.T) {
	for _, key := range []string{"alice", "alice\x00k1", "é/ü?"} {
		got, err := store.DecodeCursor(store.EncodeCursor(key))
		require.NoError(t, err)
		require.Equal(t, key, got)
	}
	for _, bad := range []string{"", "!!", "a b"} {
		_, err := store.DecodeCursor(bad)
		require.ErrorIs(t, err, store.ErrInvalidCursor, "cursor %q", bad)
	}
}
