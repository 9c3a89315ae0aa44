package consumer

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type otherKey struct{}

func TestIdentityContext(t *testing.T) {
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), otherKey{}, "v"))
	id := &Identity{Consumer: &Consumer{Username: "alice"}, CredentialID: "c1"}
	var c IdentityContext
	c.Init(parent, id)

	got, ok := FromContext(&c)
	require.True(t, ok)
	require.Equal(t, "alice", got.Username)
	gotID, ok := IdentityFromContext(&c)
	require.True(t, ok)
	require.Same(t, id, gotID)
	require.Equal(t, "v", c.Value(otherKey{}), "other values come from the parent")

	// Contexts derived from it still see the identity and the parent's cancellation.
	child, stop := context.WithTimeout(&c, time.Hour)
	defer stop()
	got, ok = FromContext(child)
	require.True(t, ok)
	require.Equal(t, "alice", got.Username)
	cancel()
	select {
	case <-child.Done():
	case <-time.After(time.Second):
		t.Fatal("cancelling the parent did not reach the derived context")
	}
	require.ErrorIs(t, c.Err(), context.Canceled)
	require.Equal(t, "consumer.IdentityContext", c.String())
}
