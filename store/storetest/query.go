package storetest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/store"
)

// testQueryCredentials checks QueryCredentials: credentials of every consumer
// selected by Lookup prefix, issuing consumer group and authorized entities
// (all given fields at once), ordered by Lookup, paged by cursor with the
// Total of every match, following replacements and deletions.
func testQueryCredentials(t *testing.T, newStore func(*testing.T) store.Store) {
	s, ctx := newStore(t), t.Context()
	for _, u := range []string{"alice", "bob", "carol"} {
		mustPutConsumer(t, s, newConsumer(u, nil))
	}
	cred := func(owner, id, lookup, group string, ents ...string) {
		c := newCredential(id, id, lookup)
		c.ConsumerGroup = group
		c.AuthorizedEntities = ents
		mustPutCredential(t, s, owner, c)
	}
	cred("carol", "k1", "apikey-auth:c3", "", "group_pay")
	cred("alice", "k2", "apikey-auth:a1", "", "group_pay", "route_r1")
	cred("bob", "k3", "apikey-auth:b2", "", "route_r1")
	cred("alice", "g1", "key-auth:zz", "gold", "group_pay")
	cred("bob", "g2", "key-auth:aa", "gold")
	cred("carol", "g3", "key-auth:mm", "silver")
	cred("carol", "plain", "", "") // no Lookup: never selected

	lookups := func(q store.CredentialQuery, opts store.ListOptions) ([]string, int, string) {
		t.Helper()
		page, err := s.QueryCredentials(ctx, q, opts)
		require.NoError(t, err)
		var out []string
		for _, c := range page.Items {
			require.NotEmpty(t, c.Consumer, "a queried credential names its consumer")
			out = append(out, c.Lookup)
		}
		return out, page.Total, page.Next
	}

	got, total, next := lookups(store.CredentialQuery{}, store.ListOptions{})
	require.Equal(t, []string{"apikey-auth:a1", "apikey-auth:b2", "apikey-auth:c3", "key-auth:aa", "key-auth:mm", "key-auth:zz"}, got)
	require.Equal(t, 6, total)
	require.Empty(t, next)

	got, total, _ = lookups(store.CredentialQuery{LookupPrefix: "apikey-auth:"}, store.ListOptions{})
	require.Equal(t, []string{"apikey-auth:a1", "apikey-auth:b2", "apikey-auth:c3"}, got)
	require.Equal(t, 3, total)

	got, _, _ = lookups(store.CredentialQuery{ConsumerGroup: "gold"}, store.ListOptions{})
	require.Equal(t, []string{"key-auth:aa", "key-auth:zz"}, got)

	got, _, _ = lookups(store.CredentialQuery{AnyEntity: []string{"group_pay", "pay"}}, store.ListOptions{})
	require.Equal(t, []string{"apikey-auth:a1", "apikey-auth:c3", "key-auth:zz"}, got)

	got, _, _ = lookups(store.CredentialQuery{LookupPrefix: "apikey-auth:", AnyEntity: []string{"route_r1"}}, store.ListOptions{})
	require.Equal(t, []string{"apikey-auth:a1", "apikey-auth:b2"}, got, "every given field must match")

	got, total, _ = lookups(store.CredentialQuery{LookupPrefix: "apikey-auth:", ConsumerGroup: "gold"}, store.ListOptions{})
	require.Empty(t, got)
	require.Zero(t, total)

	got, _, _ = lookups(store.CredentialQuery{LookupPrefix: "nope:"}, store.ListOptions{})
	require.Empty(t, got)

	// Pages: two at a time, Total on every page, the cursor survives the
	// deletion of the item it points at.
	q := store.CredentialQuery{LookupPrefix: "apikey-auth:"}
	got, total, next = lookups(q, store.ListOptions{Limit: 2})
	require.Equal(t, []string{"apikey-auth:a1", "apikey-auth:b2"}, got)
	require.Equal(t, 3, total)
	require.NotEmpty(t, next)
	require.NoError(t, s.DeleteCredential(ctx, "bob", "k3"))
	got, total, next = lookups(q, store.ListOptions{Limit: 2, Cursor: next})
	require.Equal(t, []string{"apikey-auth:c3"}, got)
	require.Equal(t, 2, total)
	require.Empty(t, next)
	_, err := s.QueryCredentials(ctx, q, store.ListOptions{Cursor: "not a cursor!"})
	require.ErrorIs(t, err, store.ErrInvalidCursor)

	// Replacements move a credential in and out of a query; a deleted
	// consumer's credentials leave it; a copy is returned.
	_, _, err = s.PutCredential(ctx, "alice", "k2", func(cur *credential.Credential) (*credential.Credential, error) {
		cur.AuthorizedEntities = []string{"group_other"}
		return cur, nil
	})
	require.NoError(t, err)
	got, _, _ = lookups(store.CredentialQuery{AnyEntity: []string{"group_pay"}}, store.ListOptions{})
	require.Equal(t, []string{"apikey-auth:c3", "key-auth:zz"}, got)
	require.NoError(t, s.DeleteConsumer(ctx, "carol"))
	got, _, _ = lookups(store.CredentialQuery{AnyEntity: []string{"group_pay"}}, store.ListOptions{})
	require.Equal(t, []string{"key-auth:zz"}, got)

	page, err := s.QueryCredentials(ctx, store.CredentialQuery{ConsumerGroup: "gold"}, store.ListOptions{})
	require.NoError(t, err)
	require.Len(t, page.Items, 2)
	page.Items[0].AuthorizedEntities = append(page.Items[0].AuthorizedEntities, "mutated")
	again, err := s.QueryCredentials(ctx, store.CredentialQuery{ConsumerGroup: "gold"}, store.ListOptions{})
	require.NoError(t, err)
	require.NotContains(t, again.Items[0].AuthorizedEntities, "mutated", "QueryCredentials returns copies")
}
