// Package sqlstoretest holds the checks the SQL back-ends run beyond
// store/storetest: writes whose statements must be split (many keys, many
// entities), shared by store/sqlite and store/postgres tests.
package sqlstoretest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/consumergroup"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/store"
)

func set[T any](v *T) store.Mutator[T] { return func(*T) (*T, error) { return v, nil } }

// Bulk checks writes of many rows at once on an empty s: a credential with
// hundreds of authorized entities, a consumer with hundreds of labels, and the
// deletion of a consumer group that issued hundreds of keys, announced key by
// key before the group.
func Bulk(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 300
	labels := map[string]string{}
	var ents []string
	for i := range n {
		labels[fmt.Sprintf("l%03d", i)] = "v"
		ents = append(ents, fmt.Sprintf("group_g%03d", i))
	}
	_, _, err := s.PutConsumer(ctx, "alice", set(&consumer.Consumer{Labels: labels}))
	require.NoError(t, err)
	page, err := s.ListConsumers(ctx, store.ListOptions{Labels: map[string]string{"l299": "v", "l000": "v"}})
	require.NoError(t, err)
	require.Equal(t, 1, page.Total)
	_, _, err = s.PutCredential(ctx, "alice", "wide", set(&credential.Credential{Name: "wide", Lookup: "wide", AuthorizedEntities: ents}))
	require.NoError(t, err)
	q, err := s.QueryCredentials(ctx, store.CredentialQuery{AnyEntity: []string{"group_g299"}}, store.ListOptions{})
	require.NoError(t, err)
	require.Equal(t, 1, q.Total)

	_, _, err = s.PutGateway(ctx, "gw", set(&consumergroup.Gateway{}))
	require.NoError(t, err)
	_, _, err = s.PutConsumerGroup(ctx, "cg", set(&consumergroup.Group{GatewayID: "gw", Name: "gold"}))
	require.NoError(t, err)
	for i := range n {
		u := fmt.Sprintf("u%03d", i)
		_, _, err := s.PutConsumerWithCredential(ctx, u, set(&consumer.Consumer{GroupID: "cg"}), "key",
			set(&credential.Credential{Name: "key", Lookup: "cg:" + u, ConsumerGroup: "cg"}))
		require.NoError(t, err)
	}
	ch, err := s.Watch(ctx)
	require.NoError(t, err)
	require.NoError(t, s.DeleteConsumerGroup(ctx, "cg"))
	for i := range n + 1 {
		select {
		case c := <-ch:
			if i < n {
				require.Equal(t, store.Change{Kind: store.KindCredential, Deleted: true, Consumer: fmt.Sprintf("u%03d", i), ID: "key"}, c)
			} else {
				require.Equal(t, store.Change{Kind: store.KindConsumerGroup, Deleted: true, ID: "cg"}, c)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("change %d not delivered", i)
		}
	}
	q, err = s.QueryCredentials(ctx, store.CredentialQuery{ConsumerGroup: "cg"}, store.ListOptions{})
	require.NoError(t, err)
	require.Zero(t, q.Total, "the group's keys went with it")
}
