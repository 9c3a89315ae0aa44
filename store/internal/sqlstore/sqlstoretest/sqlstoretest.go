// Package sqlstoretest holds the checks the SQL back-ends run beyond
// store/storetest: writes whose statements must be split (many keys, many
// entities) and schema upgrades, shared by store/sqlite and store/postgres
// tests.
package sqlstoretest

import (
	"database/sql"
	"encoding/json"
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

// Upgrade checks the migration of consumers and credentials from JSON
// documents to columns (0003, 0004). old is a database at a version before
// 0003 (1 or 2), as an older build left it; Upgrade fills it with rows such
// a build wrote, then opens it with open, which migrates it: every field
// reads back as it was, plugin settings byte for byte, and the store works.
func Upgrade(t *testing.T, old *sql.DB, open func(t *testing.T) store.Store) {
	ctx := t.Context()
	const at = `"created_at": "2025-01-02T03:04:05.123456Z", "updated_at": "2025-01-03T03:04:05Z"`
	for _, q := range []string{
		`INSERT INTO consumers (username, doc) VALUES ('alice', '{"username": "alice", "desc": "Alice''s \"team\"", "labels": {"team": "x", "tier": "1"}, "plugins": {"limit-count": {"count": 10, "time_window": 60}}, "group_id": "gold", ` + at + `}')`,
		`INSERT INTO consumers (username, doc) VALUES ('bob', '{"username": "bob", ` + at + `}')`,
		`INSERT INTO credentials (consumer, id, name, lookup, consumer_group, doc) VALUES ('alice', 'k1', 'main', 'L1', '', '{"id": "k1", "name": "main", "plugins": {"key-auth": {"n": [1, {"a": "}"}], "key_hash": "abc"}}, "authorized_entities": ["route_r1", "group_a", "group_a"], "enabled": true, "expires_at": "2030-01-01T00:00:00.5Z", ` + at + `}')`,
		`INSERT INTO credentials (consumer, id, name, lookup, consumer_group, doc) VALUES ('alice', 'k2', 'odd', '', 'cg', '{"id": "k2", "name": "odd", "plugins": {}, "authorized_entities": ["odd one", "", "[x"], "enabled": false, "consumer_group": "cg", ` + at + `}')`,
		`INSERT INTO credentials (consumer, id, name, lookup, consumer_group, doc) VALUES ('bob', 'k3', 'k3', 'L3', '', '{"id": "k3", "name": "k3", "plugins": null, "enabled": true, ` + at + `}')`,
		`INSERT INTO credential_entities (consumer, credential, entity) VALUES ('alice', 'k1', 'group_a'), ('alice', 'k1', 'route_r1')`,
	} {
		_, err := old.ExecContext(ctx, q)
		require.NoError(t, err, q)
	}

	s := open(t)
	created := time.Date(2025, 1, 2, 3, 4, 5, 123456000, time.UTC)
	updated := time.Date(2025, 1, 3, 3, 4, 5, 0, time.UTC)
	expires := time.Date(2030, 1, 1, 0, 0, 0, 500000000, time.UTC)
	alice := &consumer.Consumer{Username: "alice", Desc: `Alice's "team"`, GroupID: "gold",
		Labels:    map[string]string{"team": "x", "tier": "1"},
		Plugins:   map[string]json.RawMessage{"limit-count": json.RawMessage(`{"count": 10, "time_window": 60}`)},
		CreatedAt: created, UpdatedAt: updated}
	bob := &consumer.Consumer{Username: "bob", CreatedAt: created, UpdatedAt: updated}
	k1 := &credential.Credential{ID: "k1", Consumer: "alice", Name: "main", Lookup: "L1", Enabled: true, ExpiresAt: &expires,
		Plugins:            map[string]json.RawMessage{"key-auth": json.RawMessage(`{"n": [1, {"a": "}"}], "key_hash": "abc"}`)},
		AuthorizedEntities: []string{"route_r1", "group_a", "group_a"}, CreatedAt: created, UpdatedAt: updated}
	k2 := &credential.Credential{ID: "k2", Consumer: "alice", Name: "odd", ConsumerGroup: "cg",
		Plugins: map[string]json.RawMessage{}, AuthorizedEntities: []string{"odd one", "", "[x"}, CreatedAt: created, UpdatedAt: updated}
	k3 := &credential.Credential{ID: "k3", Consumer: "bob", Name: "k3", Lookup: "L3", Enabled: true, CreatedAt: created, UpdatedAt: updated}

	snap, err := s.Snapshot(ctx)
	require.NoError(t, err)
	require.Equal(t, []*consumer.Consumer{alice, bob}, snap.Consumers)
	require.Equal(t, []*credential.Credential{k1, k2, k3}, snap.Credentials)
	got, err := s.GetCredential(ctx, "alice", "k1")
	require.NoError(t, err)
	require.Equal(t, k1, got)
	found, err := s.FindCredential(ctx, "L3")
	require.NoError(t, err)
	require.Equal(t, k3, found)
	c, err := s.GetConsumer(ctx, "alice")
	require.NoError(t, err)
	require.Equal(t, alice, c)
	q, err := s.QueryCredentials(ctx, store.CredentialQuery{AnyEntity: []string{"group_a"}}, store.ListOptions{})
	require.NoError(t, err)
	require.Equal(t, []*credential.Credential{k1}, q.Items)

	// Writes go on in the new columns.
	next, _, err := s.PutCredential(ctx, "alice", "k2", func(cur *credential.Credential) (*credential.Credential, error) {
		cur.Enabled, cur.AuthorizedEntities = true, append(cur.AuthorizedEntities, "group_b")
		return cur, nil
	})
	require.NoError(t, err)
	require.Equal(t, []string{"odd one", "", "[x", "group_b"}, next.AuthorizedEntities)
	require.True(t, next.Enabled)
	require.Equal(t, created, next.CreatedAt)
	got, err = s.GetCredential(ctx, "alice", "k2")
	require.NoError(t, err)
	require.Equal(t, next, got)
}
