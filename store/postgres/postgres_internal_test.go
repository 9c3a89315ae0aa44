package postgres

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/store"
)

// TestAnnouncement: a notification's payload carries its transaction's
// changes, and reads back as what was written, numbered up to the
// transaction's last sequence number.
func TestAnnouncement(t *testing.T) {
	changes := []store.Change{
		{Kind: store.KindConsumer, Consumer: "alice"},
		{Kind: store.KindCredential, Consumer: "alice", ID: "k\"1 é"},
		{Kind: store.KindRoute, ID: "orders", Deleted: true},
	}
	first, got, ok := parseAnnouncement("42" + announcement(changes))
	require.True(t, ok)
	require.Equal(t, int64(40), first)
	require.Equal(t, changes, got)

	for _, payload := range []string{"42", "", "x [[1,0,\"a\",\"\"]]", "42 [[1,0,\"a\"]]", "42 []", "42 {}", "42 [[\"1\",0,\"a\",\"\"]]"} {
		_, _, ok := parseAnnouncement(payload)
		require.False(t, ok, "%q", payload)
	}

	many := make([]store.Change, 400)
	for i := range many {
		many[i] = store.Change{Kind: store.KindCredential, Consumer: strings.Repeat("u", 20), ID: strings.Repeat("c", 20)}
	}
	require.Empty(t, announcement(many), "too long for a notification: the outbox is read")
}

func FuzzParseAnnouncement(f *testing.F) {
	f.Add("42" + announcement([]store.Change{{Kind: store.KindConsumer, Consumer: "alice"}}))
	f.Add("7 [[2,1,\"bob\",\"k\"],[1,0,\"bob\",\"\"]]")
	f.Add("")
	f.Fuzz(func(t *testing.T, payload string) {
		first, changes, ok := parseAnnouncement(payload)
		if !ok {
			return
		}
		require.NotEmpty(t, changes)
		// What reads back is what announcement writes for it.
		again, back, ok := parseAnnouncement(strings.SplitN(payload, " ", 2)[0] + announcement(changes))
		if announcement(changes) == "" {
			return
		}
		require.True(t, ok)
		require.Equal(t, first, again)
		require.Equal(t, changes, back)
	})
}
