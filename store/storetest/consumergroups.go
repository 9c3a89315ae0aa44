package storetest

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/consumergroup"
	"github.com/gatehousehq/gatehouse/store"
)

func newGateway(id string) *consumergroup.Gateway {
	return &consumergroup.Gateway{ID: id, Name: "gateway " + id,
		Plugins: map[string]json.RawMessage{"limit-count": raw(`{"count": 1000, "key_type": "ip"}`)}}
}

func newConsumerGroup(id, gatewayID, name string) *consumergroup.Group {
	on, prio := false, 1
	return &consumergroup.Group{
		ID: id, GatewayID: gatewayID, Name: name,
		RequiredPlugins: []consumergroup.PluginConfig{
			{Name: "advanced_rate_limiter", Stage: "pre_request", Priority: &prio, Parallel: true,
				Settings: json.RawMessage(`{"limits": {"per_user": {"limit": 50, "window": "1m"}}}`)},
			{Name: "limit-count", Enabled: &on, Settings: json.RawMessage(`{"count": 1}`)},
		},
	}
}

func mustPutGateway(t *testing.T, s store.Store, g *consumergroup.Gateway) *consumergroup.Gateway {
	t.Helper()
	out, _, err := s.PutGateway(t.Context(), g.ID, set(g))
	require.NoError(t, err)
	return out
}

func mustPutConsumerGroup(t *testing.T, s store.Store, g *consumergroup.Group) *consumergroup.Group {
	t.Helper()
	out, _, err := s.PutConsumerGroup(t.Context(), g.ID, set(g))
	require.NoError(t, err)
	return out
}

func gatewayChange(id string, deleted bool) store.Change {
	return store.Change{Kind: store.KindGateway, ID: id, Deleted: deleted}
}

func consumerGroupChange(id string, deleted bool) store.Change {
	return store.Change{Kind: store.KindConsumerGroup, ID: id, Deleted: deleted}
}

func testGateways(t *testing.T, newStore func(*testing.T) store.Store) {
	t.Run("CreateReplaceDelete", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		_, err := s.GetGateway(ctx, "gw")
		require.ErrorIs(t, err, store.ErrNotFound)
		require.ErrorIs(t, s.DeleteGateway(ctx, "gw"), store.ErrNotFound)
		first, created, err := s.PutGateway(ctx, "gw", set(newGateway("")))
		require.NoError(t, err)
		require.True(t, created)
		require.Equal(t, "gw", first.ID, "an empty id gets the key")
		requireStamped(t, first.CreatedAt, first.UpdatedAt)
		tick()
		second, created, err := s.PutGateway(ctx, "gw", func(cur *consumergroup.Gateway) (*consumergroup.Gateway, error) {
			require.Equal(t, first, cur)
			cur.Name = "renamed"
			return cur, nil
		})
		require.NoError(t, err)
		require.False(t, created)
		require.Equal(t, first.CreatedAt, second.CreatedAt)
		require.True(t, second.UpdatedAt.After(first.UpdatedAt))
		got, err := s.GetGateway(ctx, "gw")
		require.NoError(t, err)
		require.Equal(t, second, got)
		_, _, err = s.PutGateway(ctx, "gw", set(newGateway("other")))
		require.Error(t, err, "a mutator may not change the id")
		_, _, err = s.PutGateway(ctx, "gw", func(*consumergroup.Gateway) (*consumergroup.Gateway, error) { return nil, errBoom })
		require.ErrorIs(t, err, errBoom)
		got, err = s.GetGateway(ctx, "gw")
		require.NoError(t, err)
		require.Equal(t, second, got, "failed writes change nothing")

		got.Plugins["limit-count"][0] = 'X'
		again, err := s.GetGateway(ctx, "gw")
		require.NoError(t, err)
		require.Equal(t, second, again, "values are copies")

		page, err := s.ListGateways(ctx, store.ListOptions{})
		require.NoError(t, err)
		require.Equal(t, []*consumergroup.Gateway{second}, page.Items)
		require.NoError(t, s.DeleteGateway(ctx, "gw"))
		_, err = s.GetGateway(ctx, "gw")
		require.ErrorIs(t, err, store.ErrNotFound)
	})

	t.Run("DeleteRefusedWhileItHoldsGroups", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		gw := mustPutGateway(t, s, newGateway("gw"))
		mustPutConsumerGroup(t, s, newConsumerGroup("g1", "gw", "Premium Users"))
		requireConflict(t, s.DeleteGateway(ctx, "gw"),
			store.ConflictError{Rule: store.ConflictGatewayNotEmpty, Kind: store.KindGateway, ID: "gw"}, "")
		got, err := s.GetGateway(ctx, "gw")
		require.NoError(t, err)
		require.Equal(t, gw, got)
		require.NoError(t, s.DeleteConsumerGroup(ctx, "g1"))
		require.NoError(t, s.DeleteGateway(ctx, "gw"), "an empty gateway can go")
	})
}

func testConsumerGroups(t *testing.T, newStore func(*testing.T) store.Store) {
	t.Run("CreateReplaceDelete", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		mustPutGateway(t, s, newGateway("gw"))
		_, _, err := s.PutConsumerGroup(ctx, "g0", set(newConsumerGroup("g0", "nope", "x")))
		require.ErrorIs(t, err, store.ErrNotFound, "the gateway must exist")

		first, created, err := s.PutConsumerGroup(ctx, "g1", set(newConsumerGroup("", "gw", "Premium Users")))
		require.NoError(t, err)
		require.True(t, created)
		want := newConsumerGroup("g1", "gw", "Premium Users")
		want.CreatedAt, want.UpdatedAt = first.CreatedAt, first.UpdatedAt
		require.Equal(t, want, first, "every field is kept, settings byte for byte")
		got, err := s.GetConsumerGroup(ctx, "g1")
		require.NoError(t, err)
		require.Equal(t, first, got)

		// Values are copies.
		*got.RequiredPlugins[0].Priority = 99
		got.RequiredPlugins[0].Settings[0] = 'X'
		again, err := s.GetConsumerGroup(ctx, "g1")
		require.NoError(t, err)
		require.Equal(t, first, again)

		tick()
		second, created, err := s.PutConsumerGroup(ctx, "g1", func(cur *consumergroup.Group) (*consumergroup.Group, error) {
			cur.Name = "Gold"
			cur.RequiredPlugins = nil
			return cur, nil
		})
		require.NoError(t, err)
		require.False(t, created)
		require.Equal(t, "Gold", second.Name)
		require.Nil(t, second.RequiredPlugins)
		require.Equal(t, first.CreatedAt, second.CreatedAt)

		require.NoError(t, s.DeleteConsumerGroup(ctx, "g1"))
		_, err = s.GetConsumerGroup(ctx, "g1")
		require.ErrorIs(t, err, store.ErrNotFound)
		require.ErrorIs(t, s.DeleteConsumerGroup(ctx, "g1"), store.ErrNotFound)
	})

	t.Run("NamesAreUniquePerGateway", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		mustPutGateway(t, s, newGateway("gw"))
		mustPutGateway(t, s, newGateway("other"))
		g1 := mustPutConsumerGroup(t, s, newConsumerGroup("g1", "gw", "Premium Users"))
		_, _, err := s.PutConsumerGroup(ctx, "g2", set(newConsumerGroup("g2", "gw", "Premium Users")))
		requireConflict(t, err, store.ConflictError{Rule: store.ConflictConsumerGroupName, Kind: store.KindConsumerGroup,
			ID: "g2", Name: "Premium Users"}, "")
		_, err = s.GetConsumerGroup(ctx, "g2")
		require.ErrorIs(t, err, store.ErrNotFound, "a refused write changes nothing")
		mustPutConsumerGroup(t, s, newConsumerGroup("g3", "other", "Premium Users")) // another gateway: fine

		// Renaming frees the old name; keeping one's own name is no conflict.
		mustPutConsumerGroup(t, s, newConsumerGroup("g1", "gw", "Premium Users"))
		mustPutConsumerGroup(t, s, newConsumerGroup("g1", "gw", "Gold"))
		mustPutConsumerGroup(t, s, newConsumerGroup("g2", "gw", "Premium Users"))
		_, _, err = s.PutConsumerGroup(ctx, "g2", set(newConsumerGroup("g2", "gw", "Gold")))
		requireConflict(t, err, store.ConflictError{Rule: store.ConflictConsumerGroupName, Kind: store.KindConsumerGroup,
			ID: "g2", Name: "Gold"}, "")

		// A group stays in its gateway.
		_, _, err = s.PutConsumerGroup(ctx, "g1", set(newConsumerGroup("g1", "other", "Gold")))
		require.Error(t, err)
		got, err := s.GetConsumerGroup(ctx, "g1")
		require.NoError(t, err)
		require.Equal(t, "gw", got.GatewayID)
		require.Equal(t, "Gold", got.Name)
		require.Equal(t, g1.CreatedAt, got.CreatedAt)

		// Deleting a group frees its name.
		require.NoError(t, s.DeleteConsumerGroup(ctx, "g1"))
		mustPutConsumerGroup(t, s, newConsumerGroup("g4", "gw", "Gold"))
	})

	t.Run("ListPerGateway", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		mustPutGateway(t, s, newGateway("gw"))
		mustPutGateway(t, s, newGateway("other"))
		a := mustPutConsumerGroup(t, s, newConsumerGroup("a", "gw", "A"))
		mustPutConsumerGroup(t, s, newConsumerGroup("b", "other", "B"))
		c := mustPutConsumerGroup(t, s, newConsumerGroup("c", "gw", "C"))
		page, err := s.ListConsumerGroups(ctx, "gw", store.ListOptions{Limit: 1})
		require.NoError(t, err)
		require.Equal(t, []*consumergroup.Group{a}, page.Items)
		require.Equal(t, 2, page.Total, "Total counts the gateway's groups only")
		page, err = s.ListConsumerGroups(ctx, "gw", store.ListOptions{Cursor: page.Next})
		require.NoError(t, err)
		require.Equal(t, []*consumergroup.Group{c}, page.Items)
		require.Empty(t, page.Next)
		_, err = s.ListConsumerGroups(ctx, "nope", store.ListOptions{})
		require.ErrorIs(t, err, store.ErrNotFound)
	})

	t.Run("DeleteTakesItsKeys", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		mustPutGateway(t, s, newGateway("gw"))
		mustPutConsumerGroup(t, s, newConsumerGroup("g1", "gw", "A"))
		mustPutConsumerGroup(t, s, newConsumerGroup("g2", "gw", "B"))
		alice := newConsumer("alice", nil)
		alice.GroupID = "g1"
		mustPutConsumer(t, s, alice)
		k1 := newCredential("k1", "group key 1", "L1")
		k1.ConsumerGroup = "g1"
		mustPutCredential(t, s, "alice", k1)
		k2 := newCredential("k2", "group key 2", "L2")
		k2.ConsumerGroup = "g2"
		mustPutCredential(t, s, "alice", k2)
		mustPutCredential(t, s, "alice", newCredential("own", "own key", "L3"))

		watch, err := s.Watch(ctx)
		require.NoError(t, err)
		require.NoError(t, s.DeleteConsumerGroup(ctx, "g1"))
		require.Equal(t, credentialChange("alice", "k1", true), recv(t, watch))
		require.Equal(t, consumerGroupChange("g1", true), recv(t, watch))

		_, err = s.GetCredential(ctx, "alice", "k1")
		require.ErrorIs(t, err, store.ErrNotFound, "the group's key went with it")
		_, err = s.FindCredential(ctx, "L1")
		require.ErrorIs(t, err, store.ErrNotFound, "and its lookup is free again")
		for _, want := range []string{"k2", "own"} {
			_, err = s.GetCredential(ctx, "alice", want)
			require.NoError(t, err, want)
		}
		got, err := s.GetConsumer(ctx, "alice")
		require.NoError(t, err)
		require.Equal(t, "g1", got.GroupID, "members keep their reference")
		mustPutCredential(t, s, "alice", newCredential("k3", "group key 1", "L1"))
	})

	t.Run("SnapshotAndWatch", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		watch, err := s.Watch(ctx)
		require.NoError(t, err)
		gw := mustPutGateway(t, s, newGateway("gw"))
		g := mustPutConsumerGroup(t, s, newConsumerGroup("g1", "gw", "A"))
		require.Equal(t, gatewayChange("gw", false), recv(t, watch))
		require.Equal(t, consumerGroupChange("g1", false), recv(t, watch))
		snap, err := s.Snapshot(ctx)
		require.NoError(t, err)
		require.Equal(t, []*consumergroup.Gateway{gw}, snap.Gateways)
		require.Equal(t, []*consumergroup.Group{g}, snap.ConsumerGroups)
		require.NoError(t, s.DeleteConsumerGroup(ctx, "g1"))
		require.NoError(t, s.DeleteGateway(ctx, "gw"))
		require.Equal(t, consumerGroupChange("g1", true), recv(t, watch))
		require.Equal(t, gatewayChange("gw", true), recv(t, watch))
	})
}
