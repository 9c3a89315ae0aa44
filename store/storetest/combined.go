package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/store"
)

// requireUnchanged fails unless s holds what before shows.
func requireUnchanged(t *testing.T, s store.Store, before *store.Snapshot, msgAndArgs ...any) {
	t.Helper()
	after, err := s.Snapshot(t.Context())
	require.NoError(t, err)
	require.ElementsMatch(t, before.Consumers, after.Consumers, msgAndArgs...)
	require.ElementsMatch(t, before.Credentials, after.Credentials, msgAndArgs...)
	require.ElementsMatch(t, before.Routes, after.Routes, msgAndArgs...)
	require.ElementsMatch(t, before.Groups, after.Groups, msgAndArgs...)
	require.ElementsMatch(t, before.Gateways, after.Gateways, msgAndArgs...)
	require.ElementsMatch(t, before.ConsumerGroups, after.ConsumerGroups, msgAndArgs...)
}

func testConsumerWithCredential(t *testing.T, newStore func(*testing.T) store.Store) {
	t.Run("BothLand", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		var seenConsumer []*consumer.Consumer
		var seenCred []*credential.Credential
		in := newCredential("", "main", "L1")
		in.Consumer = "mallory" // the store ignores it: the key decides
		c, cr, err := s.PutConsumerWithCredential(ctx, "alice",
			func(cur *consumer.Consumer) (*consumer.Consumer, error) {
				seenConsumer = append(seenConsumer, cur)
				return newConsumer("", map[string]string{"team": "a"}), nil
			}, "k1",
			func(cur *credential.Credential) (*credential.Credential, error) {
				seenCred = append(seenCred, cur)
				return in, nil
			})
		require.NoError(t, err)
		require.Equal(t, []*consumer.Consumer{nil}, seenConsumer, "the consumer mutator of a missing consumer gets nil")
		require.Equal(t, []*credential.Credential{nil}, seenCred, "the credential mutator of a missing credential gets nil")
		require.Equal(t, "alice", c.Username, "an empty username gets the key")
		require.Equal(t, map[string]string{"team": "a"}, c.Labels)
		requireStamped(t, c.CreatedAt, c.UpdatedAt)
		require.Equal(t, "k1", cr.ID, "an empty id gets the key")
		require.Equal(t, "alice", cr.Consumer)
		require.Equal(t, "main", cr.Name)
		require.Equal(t, "L1", cr.Lookup)
		requireStamped(t, cr.CreatedAt, cr.UpdatedAt)

		got, err := s.GetConsumer(ctx, "alice")
		require.NoError(t, err)
		require.Equal(t, c, got)
		gotCred, err := s.GetCredential(ctx, "alice", "k1")
		require.NoError(t, err)
		require.Equal(t, cr, gotCred)
		found, err := s.FindCredential(ctx, "L1")
		require.NoError(t, err)
		require.Equal(t, cr, found, "the lookup is indexed")
	})

	t.Run("ExistingConsumerAndCredential", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		before := mustPutConsumer(t, s, newConsumer("alice", map[string]string{"team": "a"}))
		other := mustPutCredential(t, s, "alice", newCredential("k0", "other", "L0"))
		prev := mustPutCredential(t, s, "alice", newCredential("k1", "main", "L1"))
		tick()
		var seenConsumer []*consumer.Consumer
		var seenCred []*credential.Credential
		c, cr, err := s.PutConsumerWithCredential(ctx, "alice",
			func(cur *consumer.Consumer) (*consumer.Consumer, error) {
				seenConsumer = append(seenConsumer, cur.Clone())
				cur.GroupID = "gold"
				return cur, nil
			}, "k1",
			func(cur *credential.Credential) (*credential.Credential, error) {
				seenCred = append(seenCred, cur.Clone())
				cur.Lookup = "L2"
				cur.Enabled = false
				return cur, nil
			})
		require.NoError(t, err)
		require.Equal(t, []*consumer.Consumer{before}, seenConsumer, "the consumer mutator gets the current consumer")
		require.Equal(t, []*credential.Credential{prev}, seenCred, "the credential mutator gets the current credential")
		require.Equal(t, "gold", c.GroupID)
		require.Equal(t, before.Labels, c.Labels)
		require.Equal(t, before.CreatedAt, c.CreatedAt, "CreatedAt is kept")
		require.True(t, c.UpdatedAt.After(before.UpdatedAt), "UpdatedAt %v did not advance past %v", c.UpdatedAt, before.UpdatedAt)
		require.False(t, cr.Enabled)
		require.Equal(t, prev.CreatedAt, cr.CreatedAt)
		require.True(t, cr.UpdatedAt.After(prev.UpdatedAt))

		_, err = s.FindCredential(ctx, "L1")
		require.ErrorIs(t, err, store.ErrNotFound, "the replaced lookup is free")
		found, err := s.FindCredential(ctx, "L2")
		require.NoError(t, err)
		require.Equal(t, cr, found)
		got, err := s.GetCredential(ctx, "alice", "k0")
		require.NoError(t, err)
		require.Equal(t, other, got, "the consumer's other credentials are kept")
		page, err := s.ListCredentials(ctx, "alice", store.ListOptions{})
		require.NoError(t, err)
		require.Equal(t, 2, page.Total)
	})

	// Every failure, whether the consumer exists or not, changes nothing.
	type failure struct {
		name       string
		consumerFn store.Mutator[consumer.Consumer]
		credID     string
		credFn     store.Mutator[credential.Credential]
		wantErr    error              // nil: any error
		conflict   store.ConflictRule // when not 0, the *store.ConflictError expected
		noCredCall bool               // the credential mutator must not run
		lookup     string             // a lookup the error must not carry
	}
	writeConsumer := func(cur *consumer.Consumer) (*consumer.Consumer, error) {
		if cur == nil {
			return newConsumer("alice", map[string]string{"new": "yes"}), nil
		}
		cur.Desc = "changed by a failed write"
		cur.Labels["team"] = "changed"
		return cur, nil
	}
	failures := []failure{
		{name: "credential mutator fails", consumerFn: writeConsumer, credID: "k9",
			credFn: func(*credential.Credential) (*credential.Credential, error) {
				return newCredential("k9", "nine", "L9"), errBoom
			}, wantErr: errBoom},
		{name: "credential mutator fails on an existing credential", consumerFn: writeConsumer, credID: "k1",
			credFn: func(cur *credential.Credential) (*credential.Credential, error) {
				if cur != nil { // change the copy before failing: it must not leak
					cur.Name = "changed"
					cur.AuthorizedEntities[0] = "changed"
				}
				return cur, errBoom
			}, wantErr: errBoom},
		{name: "consumer mutator fails", credID: "k9",
			consumerFn: func(cur *consumer.Consumer) (*consumer.Consumer, error) {
				if cur != nil {
					cur.Desc = "changed"
				}
				return cur, errBoom
			},
			credFn: set(newCredential("k9", "nine", "L9")), wantErr: errBoom, noCredCall: true},
		{name: "consumer mutator changes the username", credID: "k9",
			consumerFn: set(newConsumer("mallory", nil)),
			credFn:     set(newCredential("k9", "nine", "L9")), noCredCall: true},
		{name: "nil consumer", credID: "k9", consumerFn: set[consumer.Consumer](nil),
			credFn: set(newCredential("k9", "nine", "L9")), noCredCall: true},
		{name: "credential mutator changes the id", consumerFn: writeConsumer, credID: "k9",
			credFn: set(newCredential("k8", "nine", "L9"))},
		{name: "nil credential", consumerFn: writeConsumer, credID: "k9", credFn: set[credential.Credential](nil)},
		{name: "lookup held by another consumer", consumerFn: writeConsumer, credID: "k9",
			credFn: set(newCredential("k9", "nine", "LB")), conflict: store.ConflictCredentialLookup, lookup: "LB"},
	}
	// Alice's own credential k1 is there only when she exists: these break a
	// rule only then.
	existingOnly := []failure{
		{name: "name held by the consumer's other credential", consumerFn: writeConsumer, credID: "k9",
			credFn: set(newCredential("k9", "main", "L9")), conflict: store.ConflictCredentialName},
		{name: "lookup held by the consumer's other credential", consumerFn: writeConsumer, credID: "k9",
			credFn: set(newCredential("k9", "nine", "L1")), conflict: store.ConflictCredentialLookup, lookup: "L1"},
	}
	t.Run("FailuresChangeNothing", func(t *testing.T) {
		for _, exists := range []bool{false, true} {
			cases := failures
			if exists {
				cases = append(cases[:len(cases):len(cases)], existingOnly...)
			}
			for _, tc := range cases {
				s, ctx := newStore(t), t.Context()
				mustPutConsumer(t, s, newConsumer("bob", nil))
				mustPutCredential(t, s, "bob", newCredential("b1", "bobs", "LB"))
				if exists {
					mustPutConsumer(t, s, newConsumer("alice", map[string]string{"team": "a"}))
					mustPutCredential(t, s, "alice", newCredential("k1", "main", "L1"))
				}
				before, err := s.Snapshot(ctx)
				require.NoError(t, err)
				credCalled := false
				c, cr, err := s.PutConsumerWithCredential(ctx, "alice", tc.consumerFn, tc.credID,
					func(cur *credential.Credential) (*credential.Credential, error) {
						credCalled = true
						return tc.credFn(cur)
					})
				require.Error(t, err, "%s (exists=%v)", tc.name, exists)
				require.Nil(t, c, tc.name)
				require.Nil(t, cr, tc.name)
				switch {
				case tc.conflict != 0:
					want := store.ConflictError{Rule: tc.conflict, Kind: store.KindCredential, Consumer: "alice", ID: tc.credID}
					if tc.conflict == store.ConflictCredentialName {
						want.Name = "main"
					}
					requireConflict(t, err, want, tc.lookup, "%s (exists=%v)", tc.name, exists)
				case tc.wantErr != nil:
					require.ErrorIs(t, err, tc.wantErr, "%s (exists=%v)", tc.name, exists)
				default:
					require.NotErrorIs(t, err, store.ErrNotFound, tc.name)
					require.NotErrorIs(t, err, store.ErrConflict, tc.name)
				}
				if tc.noCredCall {
					require.False(t, credCalled, "%s: the credential mutator ran after the consumer's failed", tc.name)
				}
				requireUnchanged(t, s, before, "%s (exists=%v)", tc.name, exists)
				if !exists {
					_, err := s.GetConsumer(ctx, "alice")
					require.ErrorIs(t, err, store.ErrNotFound, "%s: a failed write left the consumer behind", tc.name)
				}
				// The lookup the failed write wanted is still free.
				_, err = s.FindCredential(ctx, "L9")
				require.ErrorIs(t, err, store.ErrNotFound, tc.name)
			}
		}
	})

	t.Run("Watch", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		mustPutConsumer(t, s, newConsumer("bob", nil))
		mustPutCredential(t, s, "bob", newCredential("b1", "bobs", "LB"))
		watch, err := s.Watch(ctx)
		require.NoError(t, err)
		for _, tc := range failures {
			_, _, err := s.PutConsumerWithCredential(ctx, "alice", tc.consumerFn, tc.credID, tc.credFn)
			require.Error(t, err, tc.name)
		}
		_, _, err = s.PutConsumerWithCredential(ctx, "alice", set(newConsumer("alice", nil)), "k1", set(newCredential("k1", "main", "L1")))
		require.NoError(t, err)
		_, _, err = s.PutConsumerWithCredential(ctx, "bob", set(newConsumer("bob", nil)), "b2", set(newCredential("b2", "two", "L2")))
		require.NoError(t, err)
		mustPutRoute(t, s, newRoute("marker"))
		// Failed writes report nothing; each write reports its consumer first,
		// so that a watcher holds the consumer when the credential comes.
		want := []store.Change{
			consumerChange("alice", false), credentialChange("alice", "k1", false),
			consumerChange("bob", false), credentialChange("bob", "b2", false),
			routeChange("marker", false),
		}
		got := make([]store.Change, len(want))
		for i := range got {
			got[i] = recv(t, watch)
		}
		require.Equal(t, want, got)
		select {
		case c := <-watch:
			require.FailNow(t, "unexpected change", "%+v", c)
		case <-time.After(50 * time.Millisecond):
		}
	})

	t.Run("Copies", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		inC := newConsumer("alice", map[string]string{"team": "a"})
		inCr := newCredential("k1", "main", "L1")
		c, cr, err := s.PutConsumerWithCredential(ctx, "alice", set(inC), "k1", set(inCr))
		require.NoError(t, err)
		wantC, wantCr := c.Clone(), cr.Clone()
		for _, v := range []*consumer.Consumer{inC, c} {
			v.Labels["team"] = "scribbled"
			v.Plugins["limit-count"][1] = 'X'
		}
		for _, v := range []*credential.Credential{inCr, cr} {
			v.AuthorizedEntities[0] = "scribbled"
			v.Plugins["key-auth"][1] = 'X'
		}
		got, err := s.GetConsumer(ctx, "alice")
		require.NoError(t, err)
		require.Equal(t, wantC, got, "changing a value passed to or returned by PutConsumerWithCredential changed the store")
		gotCr, err := s.GetCredential(ctx, "alice", "k1")
		require.NoError(t, err)
		require.Equal(t, wantCr, gotCr, "changing a value passed to or returned by PutConsumerWithCredential changed the store")
	})
}
