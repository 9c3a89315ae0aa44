package storetest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/servicegroup"
	"github.com/gatehousehq/gatehouse/store"
)

func newGroup(id string, tags ...string) *servicegroup.Group {
	return &servicegroup.Group{
		ID:          id,
		Name:        "group " + id,
		Description: "the " + id + " APIs",
		Tags:        tags,
		Metadata:    map[string]string{"department": "finance"},
	}
}

func mustPutGroup(t *testing.T, s store.Store, g *servicegroup.Group) *servicegroup.Group {
	t.Helper()
	out, _, err := s.PutGroup(t.Context(), g.ID, set(g))
	require.NoError(t, err)
	return out
}

func testGroups(t *testing.T, newStore func(*testing.T) store.Store) {
	t.Run("CreateReplaceDelete", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		_, err := s.GetGroup(ctx, "g1")
		require.ErrorIs(t, err, store.ErrNotFound)
		require.ErrorIs(t, s.DeleteGroup(ctx, "g1"), store.ErrNotFound)

		var seen []*servicegroup.Group
		first, created, err := s.PutGroup(ctx, "g1", func(cur *servicegroup.Group) (*servicegroup.Group, error) {
			seen = append(seen, cur)
			return newGroup("g1", "payment", "finance"), nil
		})
		require.NoError(t, err)
		require.True(t, created)
		require.Equal(t, []*servicegroup.Group{nil}, seen, "the mutator of a missing group gets nil")
		want := newGroup("g1", "payment", "finance")
		want.CreatedAt, want.UpdatedAt = first.CreatedAt, first.UpdatedAt
		require.Equal(t, want, first)
		requireStamped(t, first.CreatedAt, first.UpdatedAt)
		require.Equal(t, first.CreatedAt, first.UpdatedAt, "a new group is created and updated at once")
		got, err := s.GetGroup(ctx, "g1")
		require.NoError(t, err)
		require.Equal(t, first, got)

		tick()
		seen = nil
		second, created, err := s.PutGroup(ctx, "g1", func(cur *servicegroup.Group) (*servicegroup.Group, error) {
			seen = append(seen, cur)
			return &servicegroup.Group{Name: "renamed"}, nil
		})
		require.NoError(t, err)
		require.False(t, created)
		require.Equal(t, []*servicegroup.Group{got}, seen, "the mutator gets the current group")
		require.Equal(t, "g1", second.ID, "an empty id gets the key")
		require.Equal(t, "renamed", second.Name)
		require.Empty(t, second.Description, "a put replaces the whole group")
		require.Nil(t, second.Tags, "a put replaces the whole group")
		require.Nil(t, second.Metadata, "a put replaces the whole group")
		require.Equal(t, first.CreatedAt, second.CreatedAt, "CreatedAt is kept")
		require.True(t, second.UpdatedAt.After(first.UpdatedAt), "UpdatedAt %v did not advance past %v", second.UpdatedAt, first.UpdatedAt)
		got, err = s.GetGroup(ctx, "g1")
		require.NoError(t, err)
		require.Equal(t, second, got)

		require.NoError(t, s.DeleteGroup(ctx, "g1"))
		_, err = s.GetGroup(ctx, "g1")
		require.ErrorIs(t, err, store.ErrNotFound)
		require.ErrorIs(t, s.DeleteGroup(ctx, "g1"), store.ErrNotFound)

		// A group created again under the same id is new.
		tick()
		again, created, err := s.PutGroup(ctx, "g1", set(newGroup("g1")))
		require.NoError(t, err)
		require.True(t, created)
		require.True(t, again.CreatedAt.After(first.CreatedAt))
	})

	t.Run("FailedWritesChangeNothing", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		before := mustPutGroup(t, s, newGroup("g1", "a"))
		_, _, err := s.PutGroup(ctx, "g1", func(cur *servicegroup.Group) (*servicegroup.Group, error) {
			cur.Name = "changed"
			cur.Tags[0] = "changed"
			cur.Metadata["department"] = "changed"
			return cur, errBoom
		})
		require.ErrorIs(t, err, errBoom)
		_, _, err = s.PutGroup(ctx, "g1", set(newGroup("g2")))
		require.Error(t, err, "a mutator may not change the id")
		require.NotErrorIs(t, err, store.ErrNotFound)
		_, _, err = s.PutGroup(ctx, "g3", func(*servicegroup.Group) (*servicegroup.Group, error) { return newGroup("g3"), errBoom })
		require.ErrorIs(t, err, errBoom)
		_, _, err = s.PutGroup(ctx, "g4", set[servicegroup.Group](nil))
		require.Error(t, err, "a nil result is an error")

		got, err := s.GetGroup(ctx, "g1")
		require.NoError(t, err)
		require.Equal(t, before, got)
		for _, id := range []string{"g2", "g3", "g4"} {
			_, err = s.GetGroup(ctx, id)
			require.ErrorIs(t, err, store.ErrNotFound, id)
		}
	})

	t.Run("DeleteLeavesReferences", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		mustPutGroup(t, s, newGroup("g1"))
		other := mustPutGroup(t, s, newGroup("g2"))
		r := newRoute("r1")
		r.Groups = []string{"g1", "g2"}
		rt := mustPutRoute(t, s, r)
		mustPutConsumer(t, s, newConsumer("alice", nil))
		cr := newCredential("k1", "main", "L1")
		cr.AuthorizedEntities = []string{"group_g1", "g1"}
		cred := mustPutCredential(t, s, "alice", cr)

		watch, err := s.Watch(ctx)
		require.NoError(t, err)
		require.NoError(t, s.DeleteGroup(ctx, "g1"))
		mustPutRoute(t, s, newRoute("marker"))
		require.Equal(t, groupChange("g1", true), recv(t, watch))
		require.Equal(t, routeChange("marker", false), recv(t, watch), "deleting a group reports no other change")
		require.NoError(t, s.DeleteRoute(ctx, "marker"))

		gotRoute, err := s.GetRoute(ctx, "r1")
		require.NoError(t, err)
		require.Equal(t, rt, gotRoute, "deleting a group leaves the routes that name it as they are")
		require.Equal(t, []string{"g1", "g2"}, gotRoute.Groups)
		gotCred, err := s.GetCredential(ctx, "alice", "k1")
		require.NoError(t, err)
		require.Equal(t, cred, gotCred, "deleting a group leaves the credentials that name it as they are")
		gotGroup, err := s.GetGroup(ctx, "g2")
		require.NoError(t, err)
		require.Equal(t, other, gotGroup)
		snap, err := s.Snapshot(ctx)
		require.NoError(t, err)
		require.Equal(t, []*route.Route{rt}, snap.Routes)
		require.Len(t, snap.Credentials, 1)
		require.Len(t, snap.Consumers, 1)
	})

	t.Run("IDsAreTheirOwn", func(t *testing.T) {
		// A group, a route and a credential may share an id.
		s, ctx := newStore(t), t.Context()
		g := mustPutGroup(t, s, newGroup("same"))
		mustPutRoute(t, s, newRoute("same"))
		require.NoError(t, s.DeleteRoute(ctx, "same"))
		got, err := s.GetGroup(ctx, "same")
		require.NoError(t, err)
		require.Equal(t, g, got)
		_, err = s.GetRoute(ctx, "same")
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}
