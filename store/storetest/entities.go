package storetest

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/servicegroup"
	"github.com/gatehousehq/gatehouse/store"
)

var errBoom = errors.New("storetest: mutator refused")

func testConsumers(t *testing.T, newStore func(*testing.T) store.Store) {
	t.Run("CreateThenReplace", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		var seen []*consumer.Consumer
		first, created, err := s.PutConsumer(ctx, "alice", func(cur *consumer.Consumer) (*consumer.Consumer, error) {
			seen = append(seen, cur)
			return newConsumer("alice", map[string]string{"team": "a"}), nil
		})
		require.NoError(t, err)
		require.True(t, created)
		require.Equal(t, []*consumer.Consumer{nil}, seen, "the mutator of a missing consumer gets nil")
		require.Equal(t, "alice", first.Username)
		require.Equal(t, "consumer alice", first.Desc)
		require.Equal(t, map[string]string{"team": "a"}, first.Labels)
		require.JSONEq(t, `{"count": 10, "time_window": 60}`, string(first.Plugins["limit-count"]))
		requireStamped(t, first.CreatedAt, first.UpdatedAt)
		require.Equal(t, first.CreatedAt, first.UpdatedAt, "a new consumer is created and updated at once")

		got, err := s.GetConsumer(ctx, "alice")
		require.NoError(t, err)
		require.Equal(t, first, got)

		tick()
		seen = nil
		second, created, err := s.PutConsumer(ctx, "alice", func(cur *consumer.Consumer) (*consumer.Consumer, error) {
			seen = append(seen, cur)
			return &consumer.Consumer{Username: "alice", Desc: "replaced", GroupID: "gold"}, nil
		})
		require.NoError(t, err)
		require.False(t, created)
		require.Equal(t, []*consumer.Consumer{got}, seen, "the mutator gets the current consumer")
		require.Equal(t, "replaced", second.Desc)
		require.Equal(t, "gold", second.GroupID)
		require.Nil(t, second.Labels, "a put replaces the whole consumer")
		require.Nil(t, second.Plugins, "a put replaces the whole consumer")
		require.Equal(t, first.CreatedAt, second.CreatedAt, "CreatedAt is kept")
		require.True(t, second.UpdatedAt.After(first.UpdatedAt), "UpdatedAt %v did not advance past %v", second.UpdatedAt, first.UpdatedAt)
		requireStamped(t, second.CreatedAt, second.UpdatedAt)

		got, err = s.GetConsumer(ctx, "alice")
		require.NoError(t, err)
		require.Equal(t, second, got)
	})

	t.Run("StoreSetsTimestamps", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		old := time.Date(2001, 2, 3, 4, 5, 6, 7, time.FixedZone("X", 3600))
		c := newConsumer("alice", nil)
		c.CreatedAt, c.UpdatedAt = old, old
		out, _, err := s.PutConsumer(ctx, "alice", set(c))
		require.NoError(t, err)
		requireStamped(t, out.CreatedAt, out.UpdatedAt)
	})

	t.Run("MutatorErrorChangesNothing", func(t *testing.T) {
		for _, exists := range []bool{false, true} {
			s, ctx := newStore(t), t.Context()
			var before *consumer.Consumer
			if exists {
				before = mustPutConsumer(t, s, newConsumer("alice", map[string]string{"team": "a"}))
			}
			_, _, err := s.PutConsumer(ctx, "alice", func(cur *consumer.Consumer) (*consumer.Consumer, error) {
				if cur != nil { // change the copy before failing: it must not leak
					cur.Desc = "changed"
					cur.Labels["team"] = "changed"
				}
				return cur, errBoom
			})
			require.ErrorIs(t, err, errBoom, "exists=%v", exists)
			got, err := s.GetConsumer(ctx, "alice")
			if exists {
				require.NoError(t, err)
				require.Equal(t, before, got)
			} else {
				require.ErrorIs(t, err, store.ErrNotFound)
			}
		}
	})

	t.Run("UsernameMustMatchKey", func(t *testing.T) {
		for _, exists := range []bool{false, true} {
			s, ctx := newStore(t), t.Context()
			var before *consumer.Consumer
			if exists {
				before = mustPutConsumer(t, s, newConsumer("alice", nil))
			}
			_, _, err := s.PutConsumer(ctx, "alice", set(newConsumer("bob", nil)))
			require.Error(t, err, "exists=%v", exists)
			require.NotErrorIs(t, err, store.ErrNotFound)
			_, err = s.GetConsumer(ctx, "bob")
			require.ErrorIs(t, err, store.ErrNotFound)
			got, err := s.GetConsumer(ctx, "alice")
			if exists {
				require.NoError(t, err)
				require.Equal(t, before, got)
			} else {
				require.ErrorIs(t, err, store.ErrNotFound)
			}
		}
	})

	t.Run("EmptyUsernameGetsKey", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		out, created, err := s.PutConsumer(ctx, "alice", set(&consumer.Consumer{Desc: "x"}))
		require.NoError(t, err)
		require.True(t, created)
		require.Equal(t, "alice", out.Username)
		got, err := s.GetConsumer(ctx, "alice")
		require.NoError(t, err)
		require.Equal(t, "alice", got.Username)
	})

	t.Run("NilResultIsAnError", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		_, _, err := s.PutConsumer(ctx, "alice", set[consumer.Consumer](nil))
		require.Error(t, err)
		_, err = s.GetConsumer(ctx, "alice")
		require.ErrorIs(t, err, store.ErrNotFound)
	})

	t.Run("Missing", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		_, err := s.GetConsumer(ctx, "ghost")
		require.ErrorIs(t, err, store.ErrNotFound)
		require.ErrorIs(t, s.DeleteConsumer(ctx, "ghost"), store.ErrNotFound)

		mustPutConsumer(t, s, newConsumer("alice", nil))
		require.NoError(t, s.DeleteConsumer(ctx, "alice"))
		_, err = s.GetConsumer(ctx, "alice")
		require.ErrorIs(t, err, store.ErrNotFound)
		require.ErrorIs(t, s.DeleteConsumer(ctx, "alice"), store.ErrNotFound)
	})

	t.Run("DeleteCascadesToCredentials", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		mustPutConsumer(t, s, newConsumer("alice", nil))
		mustPutConsumer(t, s, newConsumer("bob", nil))
		mustPutCredential(t, s, "alice", newCredential("k1", "main", "L1"))
		mustPutCredential(t, s, "alice", newCredential("k2", "backup", "L2"))
		bobs := mustPutCredential(t, s, "bob", newCredential("k3", "main", "L3"))

		require.NoError(t, s.DeleteConsumer(ctx, "alice"))
		_, err := s.ListCredentials(ctx, "alice", store.ListOptions{})
		require.ErrorIs(t, err, store.ErrNotFound)
		for _, id := range []string{"k1", "k2"} {
			_, err := s.GetCredential(ctx, "alice", id)
			require.ErrorIs(t, err, store.ErrNotFound, id)
		}
		got, err := s.GetCredential(ctx, "bob", "k3")
		require.NoError(t, err)
		require.Equal(t, bobs, got, "another consumer's credentials are kept")

		// Alice's lookups are free again, and her credentials do not come back
		// with a new consumer of the same name.
		mustPutCredential(t, s, "bob", newCredential("k4", "alices-old-key", "L1"))
		mustPutConsumer(t, s, newConsumer("alice", nil))
		page, err := s.ListCredentials(ctx, "alice", store.ListOptions{})
		require.NoError(t, err)
		require.Empty(t, page.Items)
		require.Zero(t, page.Total)
		mustPutCredential(t, s, "alice", newCredential("k1", "main", "L2"))
	})
}

func testCredentials(t *testing.T, newStore func(*testing.T) store.Store) {
	t.Run("CreateThenReplace", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		mustPutConsumer(t, s, newConsumer("alice", nil))
		expires := time.Date(2030, 1, 2, 3, 4, 5, 6000, time.FixedZone("X", -7200))
		in := newCredential("k1", "main", "L1")
		in.Consumer = "mallory" // the store ignores it: the key decides
		in.ExpiresAt = &expires
		var seen []*credential.Credential
		first, created, err := s.PutCredential(ctx, "alice", "k1", func(cur *credential.Credential) (*credential.Credential, error) {
			seen = append(seen, cur)
			return in, nil
		})
		require.NoError(t, err)
		require.True(t, created)
		require.Equal(t, []*credential.Credential{nil}, seen)
		require.Equal(t, "k1", first.ID)
		require.Equal(t, "alice", first.Consumer, "the store sets Consumer to the username key")
		require.Equal(t, "main", first.Name)
		require.Equal(t, "L1", first.Lookup)
		require.True(t, first.Enabled)
		require.Equal(t, []string{"group_a", "route_r1"}, first.AuthorizedEntities)
		require.JSONEq(t, `{"key_hash": "L1"}`, string(first.Plugins["key-auth"]))
		require.NotNil(t, first.ExpiresAt)
		require.True(t, expires.Equal(*first.ExpiresAt), "ExpiresAt %v, want %v", *first.ExpiresAt, expires)
		requireStamped(t, first.CreatedAt, first.UpdatedAt)

		got, err := s.GetCredential(ctx, "alice", "k1")
		require.NoError(t, err)
		require.Equal(t, first, got)

		tick()
		seen = nil
		second, created, err := s.PutCredential(ctx, "alice", "k1", func(cur *credential.Credential) (*credential.Credential, error) {
			seen = append(seen, cur)
			c := cur.Clone()
			c.Enabled = false
			c.ExpiresAt = nil
			c.Consumer = ""
			return c, nil
		})
		require.NoError(t, err)
		require.False(t, created)
		require.Equal(t, []*credential.Credential{got}, seen, "the mutator gets the current credential")
		require.False(t, second.Enabled)
		require.Nil(t, second.ExpiresAt)
		require.Equal(t, "alice", second.Consumer)
		require.Equal(t, first.CreatedAt, second.CreatedAt)
		require.True(t, second.UpdatedAt.After(first.UpdatedAt))
		got, err = s.GetCredential(ctx, "alice", "k1")
		require.NoError(t, err)
		require.Equal(t, second, got)
	})

	t.Run("EmptyIDGetsKeyOtherIDFails", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		mustPutConsumer(t, s, newConsumer("alice", nil))
		out, _, err := s.PutCredential(ctx, "alice", "k1", set(newCredential("", "main", "L1")))
		require.NoError(t, err)
		require.Equal(t, "k1", out.ID)

		_, _, err = s.PutCredential(ctx, "alice", "k2", set(newCredential("k3", "other", "L2")))
		require.Error(t, err)
		for _, id := range []string{"k2", "k3"} {
			_, err = s.GetCredential(ctx, "alice", id)
			require.ErrorIs(t, err, store.ErrNotFound)
		}
	})

	t.Run("MutatorErrorChangesNothing", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		mustPutConsumer(t, s, newConsumer("alice", nil))
		before := mustPutCredential(t, s, "alice", newCredential("k1", "main", "L1"))
		_, _, err := s.PutCredential(ctx, "alice", "k1", func(cur *credential.Credential) (*credential.Credential, error) {
			cur.Name = "changed"
			cur.AuthorizedEntities[0] = "changed"
			cur.Plugins["key-auth"][0] = '['
			return cur, errBoom
		})
		require.ErrorIs(t, err, errBoom)
		got, err := s.GetCredential(ctx, "alice", "k1")
		require.NoError(t, err)
		require.Equal(t, before, got)

		_, _, err = s.PutCredential(ctx, "alice", "k2", func(*credential.Credential) (*credential.Credential, error) {
			return newCredential("k2", "other", "L2"), errBoom
		})
		require.ErrorIs(t, err, errBoom)
		_, err = s.GetCredential(ctx, "alice", "k2")
		require.ErrorIs(t, err, store.ErrNotFound)
	})

	t.Run("MissingConsumer", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		_, _, err := s.PutCredential(ctx, "ghost", "k1", set(newCredential("k1", "main", "L1")))
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = s.GetCredential(ctx, "ghost", "k1")
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = s.ListCredentials(ctx, "ghost", store.ListOptions{})
		require.ErrorIs(t, err, store.ErrNotFound)
		require.ErrorIs(t, s.DeleteCredential(ctx, "ghost", "k1"), store.ErrNotFound)

		// The lookup was not taken by the failed write.
		mustPutConsumer(t, s, newConsumer("alice", nil))
		mustPutCredential(t, s, "alice", newCredential("k1", "main", "L1"))
	})

	t.Run("Missing", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		mustPutConsumer(t, s, newConsumer("alice", nil))
		_, err := s.GetCredential(ctx, "alice", "k1")
		require.ErrorIs(t, err, store.ErrNotFound)
		require.ErrorIs(t, s.DeleteCredential(ctx, "alice", "k1"), store.ErrNotFound)
		mustPutCredential(t, s, "alice", newCredential("k1", "main", "L1"))
		require.NoError(t, s.DeleteCredential(ctx, "alice", "k1"))
		_, err = s.GetCredential(ctx, "alice", "k1")
		require.ErrorIs(t, err, store.ErrNotFound)
		require.ErrorIs(t, s.DeleteCredential(ctx, "alice", "k1"), store.ErrNotFound)
		// Its name and lookup are free again.
		mustPutCredential(t, s, "alice", newCredential("k2", "main", "L1"))
	})

	t.Run("IDsArePerConsumer", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		mustPutConsumer(t, s, newConsumer("alice", nil))
		mustPutConsumer(t, s, newConsumer("bob", nil))
		a := mustPutCredential(t, s, "alice", newCredential("k1", "main", "LA"))
		b := mustPutCredential(t, s, "bob", newCredential("k1", "main", "LB"))
		require.NoError(t, s.DeleteCredential(ctx, "alice", "k1"))
		_, err := s.GetCredential(ctx, "alice", "k1")
		require.ErrorIs(t, err, store.ErrNotFound)
		got, err := s.GetCredential(ctx, "bob", "k1")
		require.NoError(t, err)
		require.Equal(t, b, got)
		require.NotEqual(t, a.Lookup, got.Lookup)
	})

	// Each step runs on the store the previous steps built.
	type step struct {
		name          string
		username, id  string
		cname, lookup string
		conflict      store.ConflictRule // 0: the write succeeds
	}
	t.Run("Uniqueness", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		mustPutConsumer(t, s, newConsumer("alice", nil))
		mustPutConsumer(t, s, newConsumer("bob", nil))
		steps := []step{
			{name: "first", username: "alice", id: "k1", cname: "main", lookup: "L1"},
			{name: "same name same consumer", username: "alice", id: "k2", cname: "main", lookup: "L2", conflict: store.ConflictCredentialName},
			{name: "same name other consumer", username: "bob", id: "k2", cname: "main", lookup: "L2"},
			{name: "same lookup other consumer", username: "bob", id: "k3", cname: "third", lookup: "L1", conflict: store.ConflictCredentialLookup},
			{name: "same lookup same consumer", username: "alice", id: "k3", cname: "third", lookup: "L1", conflict: store.ConflictCredentialLookup},
			{name: "replace keeping own name and lookup", username: "alice", id: "k1", cname: "main", lookup: "L1"},
			{name: "replace taking another's lookup", username: "alice", id: "k1", cname: "main", lookup: "L2", conflict: store.ConflictCredentialLookup},
			{name: "replace with a new name", username: "alice", id: "k1", cname: "third", lookup: "L1"},
			{name: "new credential taking a renamed one's name", username: "alice", id: "k6", cname: "third", lookup: "L6", conflict: store.ConflictCredentialName},
			{name: "replace taking own consumer's other name", username: "bob", id: "k2", cname: "x", lookup: "L2"},
			{name: "empty lookup", username: "alice", id: "e1", cname: "e1", lookup: ""},
			{name: "empty lookup again", username: "alice", id: "e2", cname: "e2", lookup: ""},
			{name: "empty lookup other consumer", username: "bob", id: "e3", cname: "e3", lookup: ""},
			{name: "rename frees the old name", username: "alice", id: "k1", cname: "renamed", lookup: "L9"},
			{name: "old name is free", username: "alice", id: "k4", cname: "main", lookup: "L4"},
			{name: "old lookup is free", username: "bob", id: "k5", cname: "k5", lookup: "L1"},
			{name: "replace taking a sibling's name", username: "alice", id: "k4", cname: "renamed", lookup: "L4", conflict: store.ConflictCredentialName},
		}
		for _, st := range steps {
			before, beforeErr := s.GetCredential(ctx, st.username, st.id)
			out, _, err := s.PutCredential(ctx, st.username, st.id, set(newCredential(st.id, st.cname, st.lookup)))
			if st.conflict == 0 {
				require.NoError(t, err, st.name)
				require.Equal(t, st.lookup, out.Lookup, st.name)
				continue
			}
			want := store.ConflictError{Rule: st.conflict, Kind: store.KindCredential, Consumer: st.username, ID: st.id}
			if st.conflict == store.ConflictCredentialName {
				want.Name = st.cname
			}
			requireConflict(t, err, want, st.lookup, st.name)
			after, afterErr := s.GetCredential(ctx, st.username, st.id)
			require.Equal(t, beforeErr == nil, afterErr == nil, st.name)
			require.Equal(t, before, after, "%s: a conflicting write changed the credential", st.name)
		}
	})

	t.Run("ConcurrentLookupOneWinner", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		users := []string{"alice", "bob"}
		for _, u := range users {
			mustPutConsumer(t, s, newConsumer(u, nil))
		}
		const rounds, workers = 10, 32
		for r := range rounds {
			lookup := "shared-" + strconv.Itoa(r)
			start := make(chan struct{})
			errs := make(chan error, workers)
			for w := range workers {
				go func() {
					<-start
					id := lookup + "-" + strconv.Itoa(w)
					_, _, err := s.PutCredential(ctx, users[w%2], id, set(newCredential(id, id, lookup)))
					errs <- err
				}()
			}
			close(start)
			wins := 0
			for range workers {
				err := <-errs
				if err == nil {
					wins++
					continue
				}
				var ce *store.ConflictError
				require.ErrorAs(t, err, &ce)
				require.Equal(t, store.ConflictCredentialLookup, ce.Rule)
			}
			require.Equal(t, 1, wins, "round %d: %d writers got lookup %q", r, wins, lookup)
		}
		snap, err := s.Snapshot(ctx)
		require.NoError(t, err)
		require.Len(t, snap.Credentials, rounds)
	})
}

func testRoutes(t *testing.T, newStore func(*testing.T) store.Store) {
	t.Run("CreateReplaceDelete", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		_, err := s.GetRoute(ctx, "r1")
		require.ErrorIs(t, err, store.ErrNotFound)
		require.ErrorIs(t, s.DeleteRoute(ctx, "r1"), store.ErrNotFound)

		var seen []*route.Route
		first, created, err := s.PutRoute(ctx, "r1", func(cur *route.Route) (*route.Route, error) {
			seen = append(seen, cur)
			return newRoute("r1"), nil
		})
		require.NoError(t, err)
		require.True(t, created)
		require.Equal(t, []*route.Route{nil}, seen)
		want := newRoute("r1")
		want.CreatedAt, want.UpdatedAt = first.CreatedAt, first.UpdatedAt
		require.Equal(t, want, first)
		requireStamped(t, first.CreatedAt, first.UpdatedAt)
		got, err := s.GetRoute(ctx, "r1")
		require.NoError(t, err)
		require.Equal(t, first, got)

		tick()
		seen = nil
		second, created, err := s.PutRoute(ctx, "r1", func(cur *route.Route) (*route.Route, error) {
			seen = append(seen, cur)
			return &route.Route{Frontend: route.Frontend{Paths: []string{"/v2"}}}, nil
		})
		require.NoError(t, err)
		require.False(t, created)
		require.Equal(t, []*route.Route{got}, seen)
		require.Equal(t, "r1", second.ID, "an empty id gets the key")
		require.Equal(t, []string{"/v2"}, second.Frontend.Paths)
		require.Nil(t, second.Backend)
		require.Equal(t, first.CreatedAt, second.CreatedAt)
		require.True(t, second.UpdatedAt.After(first.UpdatedAt))
		got, err = s.GetRoute(ctx, "r1")
		require.NoError(t, err)
		require.Equal(t, second, got)

		require.NoError(t, s.DeleteRoute(ctx, "r1"))
		_, err = s.GetRoute(ctx, "r1")
		require.ErrorIs(t, err, store.ErrNotFound)
		require.ErrorIs(t, s.DeleteRoute(ctx, "r1"), store.ErrNotFound)
	})

	t.Run("FailedWritesChangeNothing", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		before := mustPutRoute(t, s, newRoute("r1"))
		_, _, err := s.PutRoute(ctx, "r1", func(cur *route.Route) (*route.Route, error) {
			cur.Frontend.Paths[0] = "/changed"
			cur.Backend.Target = "http://changed"
			return cur, errBoom
		})
		require.ErrorIs(t, err, errBoom)
		_, _, err = s.PutRoute(ctx, "r1", set(newRoute("r2")))
		require.Error(t, err, "a mutator may not change the id")
		_, _, err = s.PutRoute(ctx, "r3", func(*route.Route) (*route.Route, error) { return newRoute("r3"), errBoom })
		require.ErrorIs(t, err, errBoom)

		got, err := s.GetRoute(ctx, "r1")
		require.NoError(t, err)
		require.Equal(t, before, got)
		for _, id := range []string{"r2", "r3"} {
			_, err = s.GetRoute(ctx, id)
			require.ErrorIs(t, err, store.ErrNotFound, id)
		}
	})
}

// testCopies checks that callers and the store never share memory.
func testCopies(t *testing.T, newStore func(*testing.T) store.Store) {
	t.Run("Consumer", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		in := newConsumer("alice", map[string]string{"team": "a"})
		out := mustPutConsumer(t, s, in)
		want := out.Clone()

		scribble := func(c *consumer.Consumer) {
			c.Desc = "scribbled"
			c.Labels["team"] = "scribbled"
			c.Labels["new"] = "scribbled"
			c.Plugins["limit-count"][1] = 'X'
			c.Plugins["new"] = raw(`1`)
		}
		scribble(in)
		scribble(out)
		got, err := s.GetConsumer(ctx, "alice")
		require.NoError(t, err)
		require.Equal(t, want, got, "changing a value passed to or returned by PutConsumer changed the store")

		scribble(got)
		page, err := s.ListConsumers(ctx, store.ListOptions{})
		require.NoError(t, err)
		require.Len(t, page.Items, 1)
		require.Equal(t, want, page.Items[0], "changing a value returned by GetConsumer changed the store")
		scribble(page.Items[0])
		snap, err := s.Snapshot(ctx)
		require.NoError(t, err)
		require.Equal(t, []*consumer.Consumer{want}, snap.Consumers, "changing a listed value changed the store")
		scribble(snap.Consumers[0])

		// The mutator's copy is its own, too.
		var kept *consumer.Consumer
		_, _, err = s.PutConsumer(ctx, "alice", func(cur *consumer.Consumer) (*consumer.Consumer, error) {
			kept = cur
			return cur, nil
		})
		require.NoError(t, err)
		scribble(kept)
		got, err = s.GetConsumer(ctx, "alice")
		require.NoError(t, err)
		require.Equal(t, want.Labels, got.Labels, "changing a snapshot or mutator value changed the store")
		require.Equal(t, want.Plugins, got.Plugins)
		require.Equal(t, want.Desc, got.Desc)
	})

	t.Run("Credential", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		mustPutConsumer(t, s, newConsumer("alice", nil))
		in := newCredential("k1", "main", "L1")
		exp := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		in.ExpiresAt = &exp
		out := mustPutCredential(t, s, "alice", in)
		want := out.Clone()

		scribble := func(c *credential.Credential) {
			c.Plugins["key-auth"][1] = 'X'
			c.Plugins["basic-auth"] = raw(`{}`)
			c.AuthorizedEntities[0] = "scribbled"
			*c.ExpiresAt = c.ExpiresAt.Add(time.Hour)
		}
		scribble(in)
		scribble(out)
		got, err := s.GetCredential(ctx, "alice", "k1")
		require.NoError(t, err)
		require.Equal(t, want, got, "changing a value passed to or returned by PutCredential changed the store")
		scribble(got)
		page, err := s.ListCredentials(ctx, "alice", store.ListOptions{})
		require.NoError(t, err)
		require.Len(t, page.Items, 1)
		require.Equal(t, want, page.Items[0], "changing a value returned by GetCredential changed the store")
		scribble(page.Items[0])
		snap, err := s.Snapshot(ctx)
		require.NoError(t, err)
		require.Equal(t, []*credential.Credential{want}, snap.Credentials, "changing a listed value changed the store")
	})

	t.Run("Route", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		in := newRoute("r1")
		out := mustPutRoute(t, s, in)
		want := out.Clone()

		scribble := func(r *route.Route) {
			r.Groups[0] = "scribbled"
			r.Frontend.Paths[0] = "/scribbled"
			r.Frontend.Methods[0] = "POST"
			r.Backend.Target = "http://scribbled"
			r.Plugins["key-auth"] = raw(`1`)
		}
		scribble(in)
		scribble(out)
		got, err := s.GetRoute(ctx, "r1")
		require.NoError(t, err)
		require.Equal(t, want, got, "changing a value passed to or returned by PutRoute changed the store")
		scribble(got)
		page, err := s.ListRoutes(ctx, store.ListOptions{})
		require.NoError(t, err)
		require.Len(t, page.Items, 1)
		require.Equal(t, want, page.Items[0], "changing a value returned by GetRoute changed the store")
		scribble(page.Items[0])
		snap, err := s.Snapshot(ctx)
		require.NoError(t, err)
		require.Equal(t, []*route.Route{want}, snap.Routes, "changing a listed value changed the store")
	})

	t.Run("Group", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		in := newGroup("g1", "payment", "finance")
		out := mustPutGroup(t, s, in)
		want := out.Clone()

		scribble := func(g *servicegroup.Group) {
			g.Name = "scribbled"
			g.Tags[0] = "scribbled"
			g.Metadata["department"] = "scribbled"
			g.Metadata["new"] = "scribbled"
		}
		scribble(in)
		scribble(out)
		got, err := s.GetGroup(ctx, "g1")
		require.NoError(t, err)
		require.Equal(t, want, got, "changing a value passed to or returned by PutGroup changed the store")
		scribble(got)
		page, err := s.ListGroups(ctx, store.ListOptions{})
		require.NoError(t, err)
		require.Len(t, page.Items, 1)
		require.Equal(t, want, page.Items[0], "changing a value returned by GetGroup changed the store")
		scribble(page.Items[0])
		snap, err := s.Snapshot(ctx)
		require.NoError(t, err)
		require.Equal(t, []*servicegroup.Group{want}, snap.Groups, "changing a listed value changed the store")
		scribble(snap.Groups[0])

		var kept *servicegroup.Group
		_, _, err = s.PutGroup(ctx, "g1", func(cur *servicegroup.Group) (*servicegroup.Group, error) {
			kept = cur
			return cur, nil
		})
		require.NoError(t, err)
		scribble(kept)
		got, err = s.GetGroup(ctx, "g1")
		require.NoError(t, err)
		require.Equal(t, want.Name, got.Name, "changing a snapshot or mutator value changed the store")
		require.Equal(t, want.Tags, got.Tags)
		require.Equal(t, want.Metadata, got.Metadata)
	})
}
