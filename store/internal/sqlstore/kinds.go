package sqlstore

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/consumergroup"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/servicegroup"
	"github.com/gatehousehq/gatehouse/store"
)

// The kinds of objects and their tables (see migrations/0001_init.sql).
var (
	consumers = &kind[consumer.Consumer]{
		what: "consumer", table: "consumers", keys: []string{"username"},
		cols: consumerCols, vals: consumerVals, decode: decodeConsumer,
		clone: (*consumer.Consumer).Clone,
		fields: func(c *consumer.Consumer) (*string, *time.Time, *time.Time) {
			return &c.Username, &c.CreatedAt, &c.UpdatedAt
		},
		side: func(t *tx, keys []string, cur, next *consumer.Consumer) error {
			if cur != nil && maps.Equal(cur.Labels, next.Labels) {
				return nil
			}
			rows := make([][]any, 0, len(next.Labels))
			for _, k := range slices.Sorted(maps.Keys(next.Labels)) {
				rows = append(rows, []any{k, next.Labels[k]})
			}
			return t.rewrite("consumer_labels", []string{"username"}, keys, []string{"key", "value"}, rows, cur != nil)
		},
		change: func(keys []string, deleted bool) store.Change {
			return store.Change{Kind: store.KindConsumer, Deleted: deleted, Consumer: keys[0]}
		},
	}

	credentials = &kind[credential.Credential]{
		what: "credential", table: "credentials", keys: []string{"consumer", "id"},
		cols: credentialCols, vals: credentialVals, decode: decodeCredential,
		clone: (*credential.Credential).Clone,
		fields: func(c *credential.Credential) (*string, *time.Time, *time.Time) {
			return &c.ID, &c.CreatedAt, &c.UpdatedAt
		},
		check: func(_, next *credential.Credential) error {
			if next.ExpiresAt != nil {
				t := normTime(*next.ExpiresAt)
				next.ExpiresAt = &t
			}
			return nil
		},
		conflict: func(index string, keys []string, c *credential.Credential) error {
			switch index {
			case "credentials_name":
				return &store.ConflictError{Rule: store.ConflictCredentialName, Kind: store.KindCredential,
					Consumer: keys[0], ID: keys[1], Name: c.Name}
			case "credentials_lookup":
				// The error never carries the lookup: it is a secret's hash.
				return &store.ConflictError{Rule: store.ConflictCredentialLookup, Kind: store.KindCredential,
					Consumer: keys[0], ID: keys[1]}
			case "":
				return fmt.Errorf("consumer %q: %w", keys[0], store.ErrNotFound)
			}
			return nil
		},
		side: func(t *tx, keys []string, cur, next *credential.Credential) error {
			ents := uniqueSorted(next.AuthorizedEntities)
			if cur != nil && slices.Equal(uniqueSorted(cur.AuthorizedEntities), ents) {
				return nil
			}
			rows := make([][]any, len(ents))
			for i, e := range ents {
				rows[i] = []any{e}
			}
			return t.rewrite("credential_entities", []string{"consumer", "credential"}, keys, []string{"entity"}, rows, cur != nil)
		},
		change: func(keys []string, deleted bool) store.Change {
			return store.Change{Kind: store.KindCredential, Deleted: deleted, Consumer: keys[0], ID: keys[1]}
		},
	}

	routes = docKind(&kind[route.Route]{
		what: "route", table: "routes", keys: []string{"id"},
		clone: (*route.Route).Clone,
		fields: func(r *route.Route) (*string, *time.Time, *time.Time) {
			return &r.ID, &r.CreatedAt, &r.UpdatedAt
		},
		change: func(keys []string, deleted bool) store.Change {
			return store.Change{Kind: store.KindRoute, Deleted: deleted, ID: keys[0]}
		},
	}, nil, nil)

	serviceGroups = docKind(&kind[servicegroup.Group]{
		what: "service group", table: "service_groups", keys: []string{"id"},
		clone: (*servicegroup.Group).Clone,
		fields: func(g *servicegroup.Group) (*string, *time.Time, *time.Time) {
			return &g.ID, &g.CreatedAt, &g.UpdatedAt
		},
		side: func(t *tx, keys []string, cur, next *servicegroup.Group) error {
			tags := uniqueSorted(next.Tags)
			if cur != nil && slices.Equal(uniqueSorted(cur.Tags), tags) {
				return nil
			}
			rows := make([][]any, len(tags))
			for i, tag := range tags {
				rows[i] = []any{tag}
			}
			return t.rewrite("service_group_tags", []string{"group_id"}, keys, []string{"tag"}, rows, cur != nil)
		},
		change: func(keys []string, deleted bool) store.Change {
			return store.Change{Kind: store.KindGroup, Deleted: deleted, ID: keys[0]}
		},
	}, nil, nil)

	gateways = docKind(&kind[consumergroup.Gateway]{
		what: "gateway", table: "gateways", keys: []string{"id"},
		clone: (*consumergroup.Gateway).Clone,
		fields: func(g *consumergroup.Gateway) (*string, *time.Time, *time.Time) {
			return &g.ID, &g.CreatedAt, &g.UpdatedAt
		},
		conflict: func(index string, keys []string, _ *consumergroup.Gateway) error {
			if index == "" { // consumer_groups.gateway_id refuses the delete
				return &store.ConflictError{Rule: store.ConflictGatewayNotEmpty, Kind: store.KindGateway, ID: keys[0]}
			}
			return nil
		},
		change: func(keys []string, deleted bool) store.Change {
			return store.Change{Kind: store.KindGateway, Deleted: deleted, ID: keys[0]}
		},
	}, nil, nil)

	consumerGroups = docKind(&kind[consumergroup.Group]{
		what: "consumer group", table: "consumer_groups", keys: []string{"id"},
		clone: (*consumergroup.Group).Clone,
		fields: func(g *consumergroup.Group) (*string, *time.Time, *time.Time) {
			return &g.ID, &g.CreatedAt, &g.UpdatedAt
		},
		check: func(cur, next *consumergroup.Group) error {
			if cur != nil && next.GatewayID != cur.GatewayID {
				return fmt.Errorf("mutator moved it from gateway %q to %q", cur.GatewayID, next.GatewayID)
			}
			return nil
		},
		conflict: func(index string, keys []string, g *consumergroup.Group) error {
			switch index {
			case "consumer_groups_name":
				return &store.ConflictError{Rule: store.ConflictConsumerGroupName, Kind: store.KindConsumerGroup,
					ID: keys[0], Name: g.Name}
			case "":
				return fmt.Errorf("consumer group %q: gateway %q: %w", keys[0], g.GatewayID, store.ErrNotFound)
			}
			return nil
		},
		change: func(keys []string, deleted bool) store.Change {
			return store.Change{Kind: store.KindConsumerGroup, Deleted: deleted, ID: keys[0]}
		},
	}, []string{"gateway_id", "name"}, func(g *consumergroup.Group) []any { return []any{g.GatewayID, g.Name} })
)

// uniqueSorted returns the distinct values of vs, sorted.
func uniqueSorted(vs []string) []string {
	out := slices.Clone(vs)
	sort.Strings(out)
	return slices.Compact(out)
}

// rewrite replaces an object's rows in a side table: the rows whose owner
// columns hold keys (deleted first when had) become rows, each holding the
// cols' values.
func (t *tx) rewrite(table string, owner, keys, cols []string, rows [][]any, had bool) error {
	where := make([]string, len(owner))
	for i, c := range owner {
		where[i] = c + " = ?"
	}
	if had {
		if _, err := t.exec("DELETE FROM "+table+" WHERE "+strings.Join(where, " AND "), args(keys)...); err != nil {
			return err
		}
	}
	if len(rows) == 0 {
		return nil
	}
	all := make([][]any, len(rows))
	for i, r := range rows {
		all[i] = append(args(keys), r...)
	}
	return t.insert(table, append(slices.Clone(owner), cols...), all)
}
