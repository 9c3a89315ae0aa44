package config_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/consumergroup"
	"github.com/gatehousehq/gatehouse/store"
	"github.com/stretchr/testify/require"
)

// movedGroupStore answers a consumer group write as if the group had moved
// to another gateway since Apply read the store.
type movedGroupStore struct{ store.Store }

func (movedGroupStore) PutConsumerGroup(_ context.Context, id string, fn store.Mutator[consumergroup.Group]) (*consumergroup.Group, bool, error) {
	g, err := fn(&consumergroup.Group{ID: id, Name: "moved", GatewayID: "elsewhere"})
	return g, false, err
}

// TestWriteRechecksStored: a write looks at what is stored at that moment:
// a consumer group moved to another gateway is not taken back, and the
// gateway made meanwhile keeps its name and plugins.
func TestWriteRechecksStored(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, memoryStore())
	f, err := config.Parse([]byte(`consumer_groups: [{id: premium, name: Premium}]`))
	require.NoError(t, err)
	_, err = config.Apply(ctx, movedGroupStore{e.store}, f, e.opts()...)
	var ae *config.ApplyError
	require.ErrorAs(t, err, &ae)
	require.ErrorIs(t, err, store.ErrConflict)
	require.Equal(t, `create consumer group "premium" of gateway "default"`, ae.Op)

	// Written meanwhile by another instance: its name and plugins stay.
	var written *consumergroup.Gateway
	racing := gatewayMadeMeanwhile{Store: e.store, written: &written}
	res, err := config.Apply(ctx, racing, f, e.opts(config.WithGatewayID("edge"))...)
	require.NoError(t, err)
	require.Equal(t, config.Counts{Created: 1}, res.Gateway)
	require.NotNil(t, written)
	require.Equal(t, "Edge gateway", written.Name)
	require.Contains(t, written.Plugins, "limit-count", "a file without plugins leaves the stored ones")
}

// gatewayMadeMeanwhile answers a gateway write as if another writer had
// made the gateway since Apply read the store; written gets what Apply
// stores.
type gatewayMadeMeanwhile struct {
	store.Store
	written **consumergroup.Gateway
}

func (s gatewayMadeMeanwhile) PutGateway(ctx context.Context, id string, fn store.Mutator[consumergroup.Gateway]) (*consumergroup.Gateway, bool, error) {
	return s.Store.PutGateway(ctx, id, func(*consumergroup.Gateway) (*consumergroup.Gateway, error) {
		g, err := fn(&consumergroup.Gateway{ID: id, Name: "Edge gateway",
			Plugins: map[string]json.RawMessage{"limit-count": json.RawMessage(`{"count":10,"time_window":60}`)}})
		*s.written = g
		return g, err
	})
}
