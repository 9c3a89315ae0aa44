package memory

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehousehq/gatehouse/consumergroup"
	"github.com/gatehousehq/gatehouse/store"
)

// ---- gateways ----

// GetGateway returns the gateway id.
func (s *Store) GetGateway(_ context.Context, id string) (*consumergroup.Gateway, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	g, ok := s.gateways[id]
	if !ok {
		return nil, fmt.Errorf("gateway %q: %w", id, store.ErrNotFound)
	}
	return g.Clone(), nil
}

// PutGateway creates or replaces gateway id with what fn returns. An empty ID
// in the result is set to id; a different one is an error.
func (s *Store) PutGateway(_ context.Context, id string, fn store.Mutator[consumergroup.Gateway]) (*consumergroup.Gateway, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next, created, err := put(s, s.gateways, id, fn, (*consumergroup.Gateway).Clone,
		func(g *consumergroup.Gateway) (*string, *time.Time, *time.Time) {
			return &g.ID, &g.CreatedAt, &g.UpdatedAt
		})
	if err != nil {
		return nil, false, fmt.Errorf("store: gateway %q: %w", id, err)
	}
	s.notify(store.Change{Kind: store.KindGateway, ID: id})
	return next, created, nil
}

// DeleteGateway deletes gateway id; a *store.ConflictError
// (store.ConflictGatewayNotEmpty) while it holds consumer groups.
func (s *Store) DeleteGateway(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.gateways[id]; !ok {
		return fmt.Errorf("gateway %q: %w", id, store.ErrNotFound)
	}
	if n := len(s.groupNames[id]); n > 0 {
		return &store.ConflictError{Rule: store.ConflictGatewayNotEmpty, Kind: store.KindGateway, ID: id}
	}
	delete(s.gateways, id)
	s.notify(store.Change{Kind: store.KindGateway, Deleted: true, ID: id})
	return nil
}

// ListGateways returns a page of gateways ordered by id. opts.Labels and
// opts.Tag are ignored.
func (s *Store) ListGateways(_ context.Context, opts store.ListOptions) (store.Page[consumergroup.Gateway], error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return list(s.gateways, opts, nil, (*consumergroup.Gateway).Clone)
}

// ---- consumer groups ----

// GetConsumerGroup returns the consumer group id.
func (s *Store) GetConsumerGroup(_ context.Context, id string) (*consumergroup.Group, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	g, ok := s.cgroups[id]
	if !ok {
		return nil, fmt.Errorf("consumer group %q: %w", id, store.ErrNotFound)
	}
	return g.Clone(), nil
}

// PutConsumerGroup creates or replaces consumer group id with what fn
// returns; see store.Store.
func (s *Store) PutConsumerGroup(_ context.Context, id string, fn store.Mutator[consumergroup.Group]) (*consumergroup.Group, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.cgroups[id]
	// put writes into a scratch map first, so that the rules below can
	// refuse the result without changing anything.
	scratch := map[string]*consumergroup.Group{}
	if cur != nil {
		scratch[id] = cur
	}
	next, created, err := put(s, scratch, id, fn, (*consumergroup.Group).Clone,
		func(g *consumergroup.Group) (*string, *time.Time, *time.Time) {
			return &g.ID, &g.CreatedAt, &g.UpdatedAt
		})
	if err != nil {
		return nil, false, fmt.Errorf("store: consumer group %q: %w", id, err)
	}
	if cur != nil && next.GatewayID != cur.GatewayID {
		return nil, false, fmt.Errorf("store: consumer group %q: mutator moved it from gateway %q to %q", id, cur.GatewayID, next.GatewayID)
	}
	if _, ok := s.gateways[next.GatewayID]; !ok {
		return nil, false, fmt.Errorf("store: consumer group %q: gateway %q: %w", id, next.GatewayID, store.ErrNotFound)
	}
	if other, ok := s.groupNames[next.GatewayID][next.Name]; ok && other != id {
		return nil, false, &store.ConflictError{Rule: store.ConflictConsumerGroupName, Kind: store.KindConsumerGroup, ID: id, Name: next.Name}
	}
	if cur != nil {
		delete(s.groupNames[cur.GatewayID], cur.Name)
	}
	if s.groupNames[next.GatewayID] == nil {
		s.groupNames[next.GatewayID] = map[string]string{}
	}
	s.groupNames[next.GatewayID][next.Name] = id
	s.cgroups[id] = scratch[id]
	s.notify(store.Change{Kind: store.KindConsumerGroup, ID: id})
	return next, created, nil
}

// DeleteConsumerGroup deletes consumer group id and the keys it issued.
// Watchers see a deleted change for each key, then one for the group.
func (s *Store) DeleteConsumerGroup(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.cgroups[id]
	if !ok {
		return fmt.Errorf("consumer group %q: %w", id, store.ErrNotFound)
	}
	for _, username := range sortedKeys(s.creds) {
		creds := s.creds[username]
		for _, cid := range sortedKeys(creds) {
			if c := creds[cid]; c.ConsumerGroup == id {
				s.deleteCredential(username, cid)
			}
		}
	}
	delete(s.groupNames[g.GatewayID], g.Name)
	if len(s.groupNames[g.GatewayID]) == 0 {
		delete(s.groupNames, g.GatewayID)
	}
	delete(s.cgroups, id)
	s.notify(store.Change{Kind: store.KindConsumerGroup, Deleted: true, ID: id})
	return nil
}

// ListConsumerGroups returns a page of the consumer groups of gatewayID
// ordered by id; store.ErrNotFound when the gateway does not exist.
func (s *Store) ListConsumerGroups(_ context.Context, gatewayID string, opts store.ListOptions) (store.Page[consumergroup.Group], error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if _, ok := s.gateways[gatewayID]; !ok {
		return store.Page[consumergroup.Group]{}, fmt.Errorf("gateway %q: %w", gatewayID, store.ErrNotFound)
	}
	return list(s.cgroups, opts, func(g *consumergroup.Group) bool { return g.GatewayID == gatewayID }, (*consumergroup.Group).Clone)
}
