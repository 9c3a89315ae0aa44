package config_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store"
	"github.com/gatehousehq/gatehouse/validation"
	"github.com/stretchr/testify/require"
)

// TestApplyTwice: the first Apply creates everything and the credentials
// work; the second writes nothing (secrets compared with their hash or
// ciphertext), on every store.
func TestApplyTwice(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		res := e.apply(t, fullConfig, secrets)
		require.Equal(t, config.Counts{Updated: 1}, res.Gateway, "the gateway (made by gatehouse.New) gets the file's plugins")
		require.Equal(t, config.Counts{Created: 2}, res.Groups)
		require.Equal(t, config.Counts{Created: 1}, res.ConsumerGroups)
		require.Equal(t, config.Counts{Created: 3}, res.Consumers)
		require.Equal(t, config.Counts{Created: 6}, res.Credentials)
		require.Equal(t, config.Counts{Created: 4}, res.Routes)

		code, who := e.call(t, "orders", "apikey", secrets["ALICE_KEY"])
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, "alice", who)
		code, who = e.call(t, "basic", "Authorization", basic("alice", secrets["ALICE_PASSWORD"]))
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, "alice", who)
		code, who = e.call(t, "jwt", "Authorization", signJWT(t, "bob", secrets["BOB_JWT"]))
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, "bob", who)
		code, who = e.call(t, "apikeys", "Otoroshi-Client-Id", "carol-app", "Otoroshi-Client-Secret", secrets["CAROL_SECRET"])
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, "carol", who)

		before, err := e.store.Snapshot(context.Background())
		require.NoError(t, err)
		res = e.apply(t, fullConfig, secrets)
		require.Zero(t, res.Changes(), "second apply: %s", res)
		require.Equal(t, 6, res.Credentials.Unchanged)
		require.Equal(t, 3, res.Consumers.Unchanged)
		require.Equal(t, 4, res.Routes.Unchanged)
		after, err := e.store.Snapshot(context.Background())
		require.NoError(t, err)
		requireSameCredentials(t, before, after)
	})
}

// requireSameCredentials: no credential was rewritten.
func requireSameCredentials(t *testing.T, a, b *store.Snapshot) {
	t.Helper()
	require.Len(t, b.Credentials, len(a.Credentials))
	byID := map[string]*credential.Credential{}
	for _, c := range a.Credentials {
		byID[c.Consumer+"/"+c.ID] = c
	}
	for _, c := range b.Credentials {
		old := byID[c.Consumer+"/"+c.ID]
		require.NotNil(t, old)
		require.True(t, old.Equal(c), "credential %s/%s was rewritten", c.Consumer, c.ID)
	}
}

// TestApplyDifference: a changed file writes only what changed; a new secret
// replaces the old one.
func TestApplyDifference(t *testing.T) {
	t.Parallel()
	e := newEnv(t, memoryStore())
	e.apply(t, fullConfig, secrets)

	changed := strings.Replace(fullConfig, "desc: the shop's first customer", "desc: a loyal customer", 1)
	changed = strings.Replace(changed, "frontend: {paths: [/jwt]}", "frontend: {paths: [/jwt, /jwt2]}", 1)
	vars := map[string]string{}
	for k, v := range secrets {
		vars[k] = v
	}
	vars["ALICE_KEY"] = "alice-new-key-0123456789"
	res := e.apply(t, changed, vars)
	require.Equal(t, config.Counts{Updated: 1, Unchanged: 2}, res.Consumers, res.String())
	require.Equal(t, config.Counts{Updated: 1, Unchanged: 5}, res.Credentials, res.String())
	require.Equal(t, config.Counts{Updated: 1, Unchanged: 3}, res.Routes, res.String())
	require.Equal(t, config.Counts{Unchanged: 2}, res.Groups)
	require.Equal(t, 3, res.Changes())

	code, _ := e.call(t, "orders", "apikey", secrets["ALICE_KEY"])
	require.Equal(t, http.StatusUnauthorized, code, "the old key no longer works")
	code, who := e.call(t, "orders", "apikey", vars["ALICE_KEY"])
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "alice", who)
	c, err := e.store.GetConsumer(context.Background(), "alice")
	require.NoError(t, err)
	require.Equal(t, "a loyal customer", c.Desc)
}

// TestPrune: without prune, what the file no longer names stays; with it,
// it goes (not a consumer group's keys).
func TestPrune(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		e.apply(t, fullConfig, secrets)
		ctx := context.Background()
		// A key issued by the consumer group, outside the file.
		_, _, err := e.store.PutCredential(ctx, "alice", "group-key", func(*credential.Credential) (*credential.Credential, error) {
			return &credential.Credential{Name: "group-key", Enabled: true, ConsumerGroup: "premium", Lookup: "key-auth:0000",
				Plugins: map[string]json.RawMessage{"key-auth": json.RawMessage(`{"key_hash":"0000","key_preview":"..."}`)}}, nil
		})
		require.NoError(t, err)

		smaller := cut(fullConfig, "  - username: bob", "  - username: carol") // bob goes
		smaller = cut(smaller, "      - id: alice-basic", "  - username: carol")
		smaller = strings.Replace(smaller, "  - username: carol", "  - username: alice2\n  - username: carol", 1)
		smaller = cut(smaller, "  - id: internal", "consumer_groups:")
		smaller = cut(smaller, "  - id: jwt\n", "  - id: apikeys")

		res := e.apply(t, smaller, secrets)
		require.Zero(t, res.Consumers.Deleted+res.Credentials.Deleted+res.Routes.Deleted+res.Groups.Deleted, res.String())
		_, err = e.store.GetConsumer(ctx, "bob")
		require.NoError(t, err, "without prune bob stays")

		res = e.apply(t, smaller, secrets, config.WithPrune(true))
		require.Equal(t, 1, res.Consumers.Deleted, res.String())
		require.Equal(t, 1, res.Credentials.Deleted, res.String()) // alice-basic
		require.Equal(t, 1, res.Routes.Deleted, res.String())
		require.Equal(t, 1, res.Groups.Deleted, res.String())
		_, err = e.store.GetConsumer(ctx, "bob")
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = e.store.GetCredential(ctx, "alice", "alice-basic")
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = e.store.GetRoute(ctx, "jwt")
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = e.store.GetGroup(ctx, "internal")
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = e.store.GetCredential(ctx, "alice", "group-key")
		require.NoError(t, err, "a consumer group's key belongs to its group")
		code, _ := e.call(t, "orders", "apikey", secrets["ALICE_KEY"])
		require.Equal(t, http.StatusOK, code)

		res = e.apply(t, smaller, secrets, config.WithPrune(true))
		require.Zero(t, res.Changes(), res.String())
	})
}

// cut removes text from the line starting with from up to (not including) to.
func cut(s, from, to string) string {
	i := strings.Index(s, from)
	j := strings.Index(s[i+len(from):], to)
	if i < 0 || j < 0 {
		panic("cut: " + from)
	}
	return s[:i] + s[i+len(from)+j:]
}

const invalidConfig = `
groups:
  - id: shop
    name: ""
consumers:
  - username: alice
    credentials:
      - name: main
        plugins: {key-auth: {key: shared-key-123456}}
  - username: bob
    group_id: nosuchgroup
    credentials:
      - name: main
        plugins: {key-auth: {key: shared-key-123456}}
      - name: short
        plugins: {key-auth: {key: abc}}
      - name: nosecret
        plugins: {hmac-auth: {key_id: bob}}
  - username: "bad name"
  - username: alice
routes:
  - id: orders
    groups: [shop, nosuchgroup]
    frontend: {paths: [/orders]}
    plugins: {key-auth: {header: "bad header\n"}, no-such-plugin: {}}
  - frontend: {paths: [relative]}
`

// TestInvalidFile: every problem is listed by path, and nothing is written.
func TestInvalidFile(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		f, err := config.Parse([]byte(invalidConfig))
		require.NoError(t, err)
		_, err = config.Apply(context.Background(), e.store, f, e.opts()...)
		var ve *config.ValidationError
		require.ErrorAs(t, err, &ve)
		require.ErrorIs(t, err, validation.ErrInvalid)
		paths := map[string]string{}
		for _, p := range ve.Problems {
			paths[p.Path] = p.Message
		}
		for _, want := range []string{
			"groups[0].name",
			"consumers[1].group_id",
			"consumers[1].credentials[0].plugins.key-auth", // bob's key is alice's
			"consumers[1].credentials[1].plugins.key-auth.key",
			"consumers[1].credentials[2].plugins.hmac-auth", // no secret for a new credential
			"consumers[2].username",
			"consumers[3].username", // alice twice
			"routes[0].groups",
			"routes[0].plugins.key-auth.header",
			"routes[0].plugins.no-such-plugin",
			"routes[1].id",
			"routes[1].frontend.paths",
		} {
			require.Contains(t, paths, want, "problems: %v", err)
		}
		require.Contains(t, paths["consumers[1].credentials[0].plugins.key-auth"], "consumers[0].credentials[0]")
		require.NotContains(t, err.Error(), "shared-key-123456", "a key is never echoed")
		require.Less(t, strings.Index(err.Error(), "groups[0]"), strings.Index(err.Error(), "routes[0]"), "problems in file order")

		snap, err := e.store.Snapshot(context.Background())
		require.NoError(t, err)
		require.Empty(t, snap.Consumers)
		require.Empty(t, snap.Credentials)
		require.Empty(t, snap.Routes)
		require.Empty(t, snap.Groups)
	})
}

// TestConflictWithStore: a key held by a credential the file does not name
// is refused, unless prune deletes that credential first.
func TestConflictWithStore(t *testing.T) {
	t.Parallel()
	e := newEnv(t, memoryStore())
	e.apply(t, `consumers: [{username: alice, credentials: [{name: main, plugins: {key-auth: {key: shared-key-123456}}}]}]`, nil)
	f, err := config.Parse([]byte(`consumers: [{username: bob, credentials: [{name: main, plugins: {key-auth: {key: shared-key-123456}}}]}]`))
	require.NoError(t, err)
	err = config.Validate(context.Background(), e.store, f, e.opts()...)
	var ve *config.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "consumers[0].credentials[0].plugins.key-auth", ve.Problems[0].Path)
	require.Contains(t, ve.Problems[0].Message, `consumer "alice"`)

	res, err := config.Apply(context.Background(), e.store, f, e.opts(config.WithPrune(true))...)
	require.NoError(t, err)
	require.Equal(t, 1, res.Consumers.Deleted)
	_, err = e.store.GetConsumer(context.Background(), "alice")
	require.ErrorIs(t, err, store.ErrNotFound)
	got, err := e.store.FindCredential(context.Background(), "key-auth:"+sha256Hex("shared-key-123456"))
	require.NoError(t, err)
	require.Equal(t, "bob", got.Consumer)
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestSecretKept: a credential written without its secret keeps the stored
// one; a new credential without one is refused.
func TestSecretKept(t *testing.T) {
	t.Parallel()
	e := newEnv(t, memoryStore())
	e.apply(t, fullConfig, secrets)
	noSecrets := fullConfig
	for name := range secrets {
		if name != "CAROL_PUB" { // a public key is no secret
			noSecrets = strings.ReplaceAll(noSecrets, `"${`+name+`}"`, `""`)
		}
	}
	noSecrets = strings.NewReplacer(`, key: ""`, "", `key: ""`, "", `, password: ""`, "", `, secret_key: ""`, "",
		`, secret: ""`, "", `, clientSecret: ""`, "").Replace(noSecrets)
	require.NotContains(t, noSecrets, "password:")
	res := e.apply(t, noSecrets, map[string]string{"CAROL_PUB": secrets["CAROL_PUB"]})
	require.Zero(t, res.Changes(), res.String())
	code, _ := e.call(t, "basic", "Authorization", basic("alice", secrets["ALICE_PASSWORD"]))
	require.Equal(t, http.StatusOK, code)

	f, err := config.Parse([]byte(`consumers: [{username: dave, credentials: [{name: main, plugins: {key-auth: {}}}]}]`))
	require.NoError(t, err)
	err = config.Validate(context.Background(), e.store, f, e.opts()...)
	var ve *config.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "consumers[0].credentials[0].plugins.key-auth", ve.Problems[0].Path)
}

// failingStore refuses route writes.
type failingStore struct{ store.Store }

var errBroken = errors.New("disk on fire")

func (failingStore) PutRoute(context.Context, string, store.Mutator[route.Route]) (*route.Route, bool, error) {
	return nil, false, errBroken
}

// TestApplyFailsMidway: the error says which write failed and what had been
// applied; applying again once fixed finishes the job.
func TestApplyFailsMidway(t *testing.T) {
	t.Parallel()
	s := memoryStore()
	e := newEnv(t, s)
	f, err := config.Parse([]byte(fullConfig), config.WithLookupEnv(lookup(secrets)))
	require.NoError(t, err)
	res, err := config.Apply(context.Background(), failingStore{s}, f, e.opts()...)
	var ae *config.ApplyError
	require.ErrorAs(t, err, &ae)
	require.ErrorIs(t, err, errBroken)
	require.Equal(t, `create route "orders"`, ae.Op)
	require.Equal(t, 3, ae.Applied.Consumers.Created)
	require.Equal(t, 6, ae.Applied.Credentials.Created)
	require.Equal(t, ae.Applied, res)
	require.Contains(t, err.Error(), "consumers 3 created")

	res, err = config.Apply(context.Background(), s, f, e.opts()...)
	require.NoError(t, err)
	require.Equal(t, config.Counts{Created: 4}, res.Routes)
	require.Equal(t, 4, res.Changes(), "only the routes were left: %s", res)
	require.Equal(t, 6, res.Credentials.Unchanged)
}

// TestDryRun reports the changes without writing them.
func TestDryRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t, memoryStore())
	f, err := config.Parse([]byte(fullConfig), config.WithLookupEnv(lookup(secrets)))
	require.NoError(t, err)
	res, err := config.Apply(context.Background(), e.store, f, e.opts(config.WithDryRun(true))...)
	require.NoError(t, err)
	require.Equal(t, 3, res.Consumers.Created)
	snap, err := e.store.Snapshot(context.Background())
	require.NoError(t, err)
	require.Empty(t, snap.Consumers)
}

// vanishingStore deletes a credential just before each write of it: another
// admin deleting it between the plan and the write.
type vanishingStore struct{ store.Store }

func (s vanishingStore) PutCredential(ctx context.Context, username, id string, m store.Mutator[credential.Credential]) (*credential.Credential, bool, error) {
	_ = s.Store.DeleteCredential(ctx, username, id)
	return s.Store.PutCredential(ctx, username, id, m)
}

// TestNoSecretNeverInvented: a file entry without its secret keeps the
// stored one; when that credential is deleted before the write, the write
// fails instead of storing a generated key nobody is ever shown.
func TestNoSecretNeverInvented(t *testing.T) {
	t.Parallel()
	s := memoryStore()
	e := newEnv(t, s)
	e.apply(t, `consumers: [{username: dave, credentials: [{id: main, name: main, plugins: {key-auth: {key: "${DAVE_KEY}"}}}]}]`,
		map[string]string{"DAVE_KEY": "dave-secret-key-0001"})
	f, err := config.Parse([]byte(`consumers: [{username: dave, credentials: [{id: main, name: renamed, plugins: {key-auth: {}}}]}]`))
	require.NoError(t, err)
	_, err = config.Apply(context.Background(), vanishingStore{s}, f, e.opts()...)
	var ae *config.ApplyError
	require.ErrorAs(t, err, &ae)
	require.Contains(t, err.Error(), "gives no secret")
	_, err = s.GetCredential(context.Background(), "dave", "main")
	require.ErrorIs(t, err, store.ErrNotFound, "no credential with an invented key was written")
}

// deleteLog records the kinds of the deletes made through it, in order.
type deleteLog struct {
	store.Store
	kinds *[]string
}

func (s deleteLog) DeleteCredential(ctx context.Context, username, id string) error {
	*s.kinds = append(*s.kinds, "credential")
	return s.Store.DeleteCredential(ctx, username, id)
}

func (s deleteLog) DeleteConsumer(ctx context.Context, username string) error {
	*s.kinds = append(*s.kinds, "consumer")
	return s.Store.DeleteConsumer(ctx, username)
}

func (s deleteLog) DeleteRoute(ctx context.Context, id string) error {
	*s.kinds = append(*s.kinds, "route")
	return s.Store.DeleteRoute(ctx, id)
}

func (s deleteLog) DeleteConsumerGroup(ctx context.Context, id string) error {
	*s.kinds = append(*s.kinds, "consumer group")
	return s.Store.DeleteConsumerGroup(ctx, id)
}

func (s deleteLog) DeleteGroup(ctx context.Context, id string) error {
	*s.kinds = append(*s.kinds, "service group")
	return s.Store.DeleteGroup(ctx, id)
}

// TestPruneOrder: prune deletes what refers to an object before it, as
// documented: credentials, consumers, routes, consumer groups, service
// groups (so that a delete that fails half-way leaves no reference behind).
func TestPruneOrder(t *testing.T) {
	t.Parallel()
	s := memoryStore()
	e := newEnv(t, s)
	e.apply(t, fullConfig, secrets)
	var kinds []string
	f, err := config.Parse([]byte(`{}`))
	require.NoError(t, err)
	res, err := config.Apply(context.Background(), deleteLog{s, &kinds}, f, e.opts(config.WithPrune(true))...)
	require.NoError(t, err)
	require.NotZero(t, res.Changes())
	order := []string{"credential", "consumer", "route", "consumer group", "service group"}
	require.True(t, slices.IsSortedFunc(kinds, func(a, b string) int { return slices.Index(order, a) - slices.Index(order, b) }), "deletes in the order %v", kinds)
	for _, k := range order[1:] { // a deleted consumer takes its credentials along
		require.Contains(t, kinds, k, "the full config has a %s to delete", k)
	}
}
