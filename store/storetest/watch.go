package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/servicegroup"
	"github.com/gatehousehq/gatehouse/store"
)

// waitFor bounds every wait for a change.
const waitFor = 5 * time.Second

// recv returns the next change on ch.
func recv(t *testing.T, ch <-chan store.Change) store.Change {
	t.Helper()
	select {
	case c, ok := <-ch:
		require.True(t, ok, "the watch channel closed early")
		return c
	case <-time.After(waitFor):
		require.FailNow(t, "no change delivered", "waited %v", waitFor)
	}
	panic("unreachable")
}

// requireClosed drains ch and fails unless it closes in time.
func requireClosed(t *testing.T, ch <-chan store.Change) {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			require.FailNow(t, "the watch channel did not close after its context was done")
		}
	}
}

func consumerChange(u string, deleted bool) store.Change {
	return store.Change{Kind: store.KindConsumer, Consumer: u, Deleted: deleted}
}

func credentialChange(u, id string, deleted bool) store.Change {
	return store.Change{Kind: store.KindCredential, Consumer: u, ID: id, Deleted: deleted}
}

func routeChange(id string, deleted bool) store.Change {
	return store.Change{Kind: store.KindRoute, ID: id, Deleted: deleted}
}

func groupChange(id string, deleted bool) store.Change {
	return store.Change{Kind: store.KindGroup, ID: id, Deleted: deleted}
}

func testSnapshot(t *testing.T, newStore func(*testing.T) store.Store) {
	s, ctx := newStore(t), t.Context()
	snap, err := s.Snapshot(ctx)
	require.NoError(t, err)
	require.Empty(t, snap.Consumers)
	require.Empty(t, snap.Credentials)
	require.Empty(t, snap.Routes)
	require.Empty(t, snap.Groups)

	var (
		consumers []*consumer.Consumer
		creds     []*credential.Credential
		routes    []*route.Route
		groups    []*servicegroup.Group
	)
	for _, u := range []string{"carol", "alice", "bob"} {
		consumers = append(consumers, mustPutConsumer(t, s, newConsumer(u, map[string]string{"u": u})))
	}
	creds = append(creds,
		mustPutCredential(t, s, "alice", newCredential("k2", "two", "L2")),
		mustPutCredential(t, s, "alice", newCredential("k1", "one", "L1")),
		mustPutCredential(t, s, "bob", newCredential("k1", "one", "L3")),
	)
	for _, id := range []string{"r2", "r1"} {
		routes = append(routes, mustPutRoute(t, s, newRoute(id)))
	}
	for _, id := range []string{"g2", "g1"} {
		groups = append(groups, mustPutGroup(t, s, newGroup(id, "t")))
	}
	// Deleted objects are not in the snapshot.
	mustPutConsumer(t, s, newConsumer("gone", nil))
	mustPutCredential(t, s, "gone", newCredential("k1", "one", "L4"))
	require.NoError(t, s.DeleteConsumer(ctx, "gone"))
	mustPutCredential(t, s, "carol", newCredential("k1", "one", "L5"))
	require.NoError(t, s.DeleteCredential(ctx, "carol", "k1"))
	mustPutRoute(t, s, newRoute("r3"))
	require.NoError(t, s.DeleteRoute(ctx, "r3"))
	mustPutGroup(t, s, newGroup("g3"))
	require.NoError(t, s.DeleteGroup(ctx, "g3"))

	snap, err = s.Snapshot(ctx)
	require.NoError(t, err)
	require.ElementsMatch(t, consumers, snap.Consumers)
	require.ElementsMatch(t, creds, snap.Credentials)
	require.ElementsMatch(t, routes, snap.Routes)
	require.ElementsMatch(t, groups, snap.Groups)
}

func testWatch(t *testing.T, newStore func(*testing.T) store.Store) {
	t.Run("Changes", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		mustPutConsumer(t, s, newConsumer("before", nil)) // not reported
		ch1, err := s.Watch(ctx)
		require.NoError(t, err)
		ch2, err := s.Watch(ctx)
		require.NoError(t, err)

		steps := []struct {
			name  string
			write func() error
			want  []store.Change // nil: the write fails and reports nothing
		}{
			{"create consumer", func() error {
				_, _, err := s.PutConsumer(ctx, "alice", set(newConsumer("alice", nil)))
				return err
			}, []store.Change{consumerChange("alice", false)}},
			{"replace consumer", func() error {
				_, _, err := s.PutConsumer(ctx, "alice", set(newConsumer("alice", map[string]string{"a": "b"})))
				return err
			}, []store.Change{consumerChange("alice", false)}},
			{"failed consumer write", func() error {
				_, _, err := s.PutConsumer(ctx, "alice", func(*consumer.Consumer) (*consumer.Consumer, error) { return nil, errBoom })
				return err
			}, nil},
			{"create credential", func() error {
				_, _, err := s.PutCredential(ctx, "alice", "k1", set(newCredential("k1", "one", "L1")))
				return err
			}, []store.Change{credentialChange("alice", "k1", false)}},
			{"conflicting credential", func() error {
				_, _, err := s.PutCredential(ctx, "alice", "k2", set(newCredential("k2", "two", "L1")))
				return err
			}, nil},
			{"credential of a missing consumer", func() error {
				_, _, err := s.PutCredential(ctx, "ghost", "k2", set(newCredential("k2", "two", "L2")))
				return err
			}, nil},
			{"create route", func() error {
				_, _, err := s.PutRoute(ctx, "r1", set(newRoute("r1")))
				return err
			}, []store.Change{routeChange("r1", false)}},
			{"replace route", func() error {
				_, _, err := s.PutRoute(ctx, "r1", set(newRoute("r1")))
				return err
			}, []store.Change{routeChange("r1", false)}},
			{"delete missing route", func() error { return s.DeleteRoute(ctx, "nope") }, nil},
			{"delete route", func() error { return s.DeleteRoute(ctx, "r1") }, []store.Change{routeChange("r1", true)}},
			{"delete credential", func() error { return s.DeleteCredential(ctx, "alice", "k1") }, []store.Change{credentialChange("alice", "k1", true)}},
			{"create credential 2", func() error {
				_, _, err := s.PutCredential(ctx, "alice", "k2", set(newCredential("k2", "two", "L2")))
				return err
			}, []store.Change{credentialChange("alice", "k2", false)}},
			{"create credential 3", func() error {
				_, _, err := s.PutCredential(ctx, "alice", "k3", set(newCredential("k3", "three", "L3")))
				return err
			}, []store.Change{credentialChange("alice", "k3", false)}},
			{"create group", func() error {
				_, _, err := s.PutGroup(ctx, "g1", set(newGroup("g1", "a")))
				return err
			}, []store.Change{groupChange("g1", false)}},
			{"replace group", func() error {
				_, _, err := s.PutGroup(ctx, "g1", set(newGroup("g1", "b")))
				return err
			}, []store.Change{groupChange("g1", false)}},
			{"failed group write", func() error {
				_, _, err := s.PutGroup(ctx, "g1", func(*servicegroup.Group) (*servicegroup.Group, error) { return nil, errBoom })
				return err
			}, nil},
			{"group mutator changes the id", func() error {
				_, _, err := s.PutGroup(ctx, "g2", set(newGroup("g3")))
				return err
			}, nil},
			{"delete missing group", func() error { return s.DeleteGroup(ctx, "nope") }, nil},
			{"delete group", func() error { return s.DeleteGroup(ctx, "g1") }, []store.Change{groupChange("g1", true)}},
			{"delete missing consumer", func() error { return s.DeleteConsumer(ctx, "nope") }, nil},
			// The credentials may come in either order; see below.
			{"delete consumer", func() error { return s.DeleteConsumer(ctx, "alice") }, []store.Change{
				credentialChange("alice", "k2", true), credentialChange("alice", "k3", true), consumerChange("alice", true),
			}},
			{"marker", func() error {
				_, _, err := s.PutRoute(ctx, "marker", set(newRoute("marker")))
				return err
			}, []store.Change{routeChange("marker", false)}},
		}
		var want []store.Change
		for _, st := range steps {
			err := st.write()
			if st.want == nil {
				require.Error(t, err, st.name)
				continue
			}
			require.NoError(t, err, st.name)
			want = append(want, st.want...)
		}
		for i, ch := range []<-chan store.Change{ch1, ch2} {
			got := make([]store.Change, len(want))
			for j := range got {
				got[j] = recv(t, ch)
			}
			// The consumer's credentials are reported before it, in any order.
			n := len(want)
			require.ElementsMatch(t, want[n-4:n-2], got[n-4:n-2], "watcher %d: credentials of a deleted consumer", i)
			copy(got[n-4:n-2], want[n-4:n-2])
			require.Equal(t, want, got, "watcher %d", i)
			select {
			case c := <-ch:
				require.FailNow(t, "unexpected change", "watcher %d: %+v", i, c)
			case <-time.After(50 * time.Millisecond):
			}
		}
	})

	t.Run("ClosesWhenContextDone", func(t *testing.T) {
		s := newStore(t)
		ctx, cancel := context.WithCancel(t.Context())
		ch, err := s.Watch(ctx)
		require.NoError(t, err)
		other, err := s.Watch(t.Context())
		require.NoError(t, err)
		mustPutRoute(t, s, newRoute("r1"))
		cancel()
		requireClosed(t, ch)
		// Writes go on, and other watchers still see them.
		require.Equal(t, routeChange("r1", false), recv(t, other))
		mustPutRoute(t, s, newRoute("r2"))
		require.Equal(t, routeChange("r2", false), recv(t, other))
	})

	t.Run("SlowWatcherGetsReset", func(t *testing.T) {
		s := newStore(t)
		ch, err := s.Watch(t.Context())
		require.NoError(t, err)
		// More writes than any back-end here buffers for one watcher (the
		// memory store 256 + 4,096, the SQL stores 4,096 behind the outbox
		// head). Durable stores commit about 1,000 writes a second, slower
		// under -race: what must hold is that writers keep going, so each
		// write, not the whole run, has a deadline.
		const n = 6000
		progress := make(chan error, 1)
		go func() {
			for i := range n {
				id := fmt.Sprintf("r%05d", i)
				if _, _, err := s.PutRoute(context.Background(), id, set(newRoute(id))); err != nil {
					progress <- err
					return
				}
				if i%100 == 99 || i == n-1 {
					progress <- nil
				}
			}
			close(progress)
		}()
	writing:
		for {
			select {
			case err, ok := <-progress:
				if !ok {
					break writing
				}
				require.NoError(t, err)
			case <-time.After(10 * time.Second): // a blocked writer waits forever
				require.FailNow(t, "writers are blocked by a watcher that does not read")
			}
		}
		// The slow watcher now reads: somewhere it is told it missed changes.
		deadline := time.After(waitFor)
		for reset := false; !reset; {
			select {
			case c, ok := <-ch:
				require.True(t, ok, "the channel closed")
				reset = c.Kind == store.KindReset
			case <-deadline:
				require.FailNow(t, "a watcher that fell behind got no KindReset")
			}
		}
		// And it goes on working.
		mustPutConsumer(t, s, newConsumer("after", nil))
		for {
			if c := recv(t, ch); c == consumerChange("after", false) {
				break
			}
		}
	})
}

func testConcurrency(t *testing.T, newStore func(*testing.T) store.Store) {
	s, ctx := newStore(t), t.Context()
	watch, err := s.Watch(ctx)
	require.NoError(t, err)
	go func() {
		for range watch { // drain: a reading watcher must not disturb writers
		}
	}()

	const workers, ops = 8, 200
	users := []string{"u0", "u1", "u2", "u3"}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok := func(err error, allowed ...error) {
				if err == nil {
					return
				}
				for _, a := range allowed {
					if errors.Is(err, a) {
						return
					}
				}
				assert.NoError(t, err, "worker %d", w)
			}
			for i := range ops {
				u := users[(w+i)%len(users)]
				id := fmt.Sprintf("k%d", i%5)
				lookup := fmt.Sprintf("L%d", (w*i)%7)
				switch i % 10 {
				case 0, 1, 2:
					_, _, err := s.PutConsumer(ctx, u, set(newConsumer(u, map[string]string{"w": fmt.Sprint(w)})))
					ok(err)
				case 3, 4, 5:
					_, _, err := s.PutCredential(ctx, u, id, set(newCredential(id, "n"+lookup, lookup)))
					ok(err, store.ErrNotFound, store.ErrConflict)
				case 6:
					ok(s.DeleteConsumer(ctx, u), store.ErrNotFound)
				case 7:
					ok(s.DeleteCredential(ctx, u, id), store.ErrNotFound)
					cid := fmt.Sprintf("c%d", i%3)
					_, _, err := s.PutConsumerWithCredential(ctx, u, set(newConsumer(u, nil)), cid, set(newCredential(cid, "n"+lookup, lookup)))
					ok(err, store.ErrConflict)
				case 8:
					rid := fmt.Sprintf("r%d", i%3)
					_, _, err := s.PutRoute(ctx, rid, set(newRoute(rid)))
					ok(err)
					ok(s.DeleteRoute(ctx, rid), store.ErrNotFound)
					gid := fmt.Sprintf("g%d", i%3)
					_, _, err = s.PutGroup(ctx, gid, set(newGroup(gid, fmt.Sprint(w))))
					ok(err)
					ok(s.DeleteGroup(ctx, gid), store.ErrNotFound)
				case 9:
					_, err := s.ListConsumers(ctx, store.ListOptions{Limit: 2, Labels: map[string]string{"w": "1"}})
					ok(err)
					_, err = s.ListCredentials(ctx, u, store.ListOptions{})
					ok(err, store.ErrNotFound)
					_, err = s.ListRoutes(ctx, store.ListOptions{})
					ok(err)
					_, err = s.ListGroups(ctx, store.ListOptions{Tag: "1"})
					ok(err)
					_, err = s.GetCredential(ctx, u, id)
					ok(err, store.ErrNotFound)
					_, err = s.Snapshot(ctx)
					ok(err)
				}
			}
		}()
	}
	wg.Wait()

	// Whatever the interleaving, the rules hold at the end.
	snap, err := s.Snapshot(ctx)
	require.NoError(t, err)
	usernames := map[string]bool{}
	for _, c := range snap.Consumers {
		usernames[c.Username] = true
	}
	lookups := map[string]string{}
	names := map[string]string{}
	perConsumer := map[string]int{}
	for _, c := range snap.Credentials {
		require.True(t, usernames[c.Consumer], "credential %s/%s outlived its consumer", c.Consumer, c.ID)
		who := c.Consumer + "/" + c.ID
		require.NotContains(t, lookups, c.Lookup, "lookup of %s already used by %s", who, lookups[c.Lookup])
		lookups[c.Lookup] = who
		key := c.Consumer + "/" + c.Name
		require.NotContains(t, names, key, "name of %s already used by %s", who, names[key])
		names[key] = who
		perConsumer[c.Consumer]++
	}
	page, err := s.ListConsumers(ctx, store.ListOptions{})
	require.NoError(t, err)
	require.Equal(t, len(snap.Consumers), page.Total)
	groups, err := s.ListGroups(ctx, store.ListOptions{})
	require.NoError(t, err)
	require.Equal(t, len(snap.Groups), groups.Total)
	for u := range usernames {
		p, err := s.ListCredentials(ctx, u, store.ListOptions{})
		require.NoError(t, err)
		require.Equal(t, perConsumer[u], p.Total, u)
	}
	// The freed lookups can be taken again.
	for u := range usernames {
		for l := range 7 {
			lookup := fmt.Sprintf("L%d", l)
			if _, used := lookups[lookup]; used {
				continue
			}
			id := "again-" + lookup
			_, _, err := s.PutCredential(ctx, u, id, set(newCredential(id, id, lookup)))
			require.NoError(t, err)
			lookups[lookup] = u
		}
	}
}
