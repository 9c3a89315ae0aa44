package storetest

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/store"
)

// testFindCredential checks FindCredential: found by Lookup whichever
// consumer holds it, a copy, and gone after a replacement, a deletion or the
// deletion of its consumer.
func testFindCredential(t *testing.T, newStore func(*testing.T) store.Store) {
	s, ctx := newStore(t), t.Context()
	mustPutConsumer(t, s, newConsumer("alice", nil))
	mustPutConsumer(t, s, newConsumer("bob", nil))
	mustPutCredential(t, s, "alice", newCredential("a1", "one", "LA"))
	want := mustPutCredential(t, s, "bob", newCredential("b1", "one", "LB"))

	got, err := s.FindCredential(ctx, "LB")
	require.NoError(t, err)
	require.Equal(t, want, got)
	got.Plugins["key-auth"] = raw(`{"changed": true}`)
	again, err := s.FindCredential(ctx, "LB")
	require.NoError(t, err)
	require.Equal(t, want, again, "FindCredential returns a copy")

	for _, lookup := range []string{"", "nope", "lb"} {
		_, err := s.FindCredential(ctx, lookup)
		require.True(t, errors.Is(err, store.ErrNotFound), "lookup %q: %v", lookup, err)
	}

	// A replacement with another Lookup frees the old one.
	_, _, err = s.PutCredential(ctx, "alice", "a1", func(cur *credential.Credential) (*credential.Credential, error) {
		cur.Lookup = "LA2"
		return cur, nil
	})
	require.NoError(t, err)
	_, err = s.FindCredential(ctx, "LA")
	require.ErrorIs(t, err, store.ErrNotFound)
	got, err = s.FindCredential(ctx, "LA2")
	require.NoError(t, err)
	require.Equal(t, "alice", got.Consumer)
	require.Equal(t, "a1", got.ID)

	require.NoError(t, s.DeleteCredential(ctx, "alice", "a1"))
	_, err = s.FindCredential(ctx, "LA2")
	require.ErrorIs(t, err, store.ErrNotFound)

	require.NoError(t, s.DeleteConsumer(ctx, "bob"))
	_, err = s.FindCredential(ctx, "LB")
	require.ErrorIs(t, err, store.ErrNotFound)
}
