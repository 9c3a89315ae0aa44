package admin_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/admin"
	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/credential/apikey"
	"github.com/gatehousehq/gatehouse/credential/keyauth"
	"github.com/gatehousehq/gatehouse/keyring"
	"github.com/gatehousehq/gatehouse/plugin"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store"
	"github.com/gatehousehq/gatehouse/store/memory"
)

// newConflictEnv is an admin handler over s whose registry holds key-auth and
// apikey-auth, with gateway "gw" and its consumer group "cg".
func newConflictEnv(t *testing.T, s store.Store, mem *memory.Store) *env {
	t.Helper()
	ring, _ := keyring.Generate()
	e := &env{t: t, store: mem, logs: &bytes.Buffer{}}
	e.h = admin.New(s, plugin.NewRegistry(keyauth.Definition{}, apikey.Definition{Ring: ring}),
		admin.WithKey(testKey), admin.WithLogger(slogTo(e.logs)))
	e.must(http.StatusCreated, http.MethodPost, "/api/v1/gateways", `{"id":"gw","name":"gw"}`)
	e.must(http.StatusCreated, http.MethodPost, "/api/v1/gateways/gw/consumer-groups", `{"id":"cg","name":"Premium"}`)
	return e
}

// Each conflict answers 409 with a message that says which rule the request
// breaks and, where the request has one, the field that breaks it; it never
// echoes a secret, and it changes nothing.
func TestConflictBodies(t *testing.T) {
	mem := memory.New()
	e := newConflictEnv(t, mem, mem)
	const key = "alice-secret-key-1"
	e.must(http.StatusCreated, http.MethodPost, "/api/consumers", `{"username":"alice"}`)
	e.must(http.StatusCreated, http.MethodPost, "/api/consumers", `{"username":"bob"}`)
	e.must(http.StatusCreated, http.MethodPost, "/api/consumers/alice/credentials",
		`{"id":"a1","name":"main","plugins":{"key-auth":{"key":"`+key+`"}}}`)
	e.must(http.StatusCreated, http.MethodPost, "/api/apikeys", `{"clientId":"k1","clientName":"one","consumer":"alice"}`)
	e.must(http.StatusCreated, http.MethodPost, "/api/consumers/alice/credentials", `{"id":"x9","name":"k9","plugins":{"key-auth":{}}}`)
	e.must(http.StatusCreated, http.MethodPost, "/api/v1/gateways/gw/consumer-groups", `{"id":"cg2","name":"Basic"}`)

	for _, tc := range []struct {
		name         string
		method, path string
		body         string
		message      string
		fields       map[string]any
	}{
		{"credential name taken in the consumer", http.MethodPost, "/api/consumers/alice/credentials",
			`{"name":"main","plugins":{"key-auth":{}}}`,
			`consumer "alice" already has a credential named "main"`, map[string]any{"name": "already in use"}},
		{"credential key taken by another consumer", http.MethodPost, "/api/consumers/bob/credentials",
			`{"name":"main","plugins":{"key-auth":{"key":"` + key + `"}}}`,
			"the credential's key is already in use by another credential", map[string]any{"plugins.key-auth": "already in use"}},
		{"credential PUT taking another's key", http.MethodPut, "/api/consumers/bob/credentials/b2",
			`{"name":"x","plugins":{"key-auth":{"key":"` + key + `"}}}`,
			"the credential's key is already in use by another credential", map[string]any{"plugins.key-auth": "already in use"}},
		{"credential id taken", http.MethodPost, "/api/consumers/alice/credentials",
			`{"id":"a1","name":"again","plugins":{"key-auth":{}}}`,
			`consumer "alice" already has a credential with id "a1"`, map[string]any{"id": "already in use"}},
		{"API key clientId taken, through the credentials endpoint", http.MethodPost, "/api/consumers/bob/credentials",
			`{"name":"other","plugins":{"apikey-auth":{"clientId":"k1"}}}`,
			"the credential's key is already in use by another credential", map[string]any{"plugins.apikey-auth": "already in use"}},
		{"API key clientId is the name of another credential of the consumer", http.MethodPost, "/api/apikeys",
			`{"clientId":"k9","clientName":"nine","consumer":"alice"}`,
			`consumer "alice" already has a credential named "k9"`, map[string]any{"clientId": "already in use"}},
		{"API key exists", http.MethodPost, "/api/apikeys", `{"clientId":"k1","clientName":"again"}`,
			`an API key with clientId "k1" already exists`, map[string]any{"clientId": "already in use"}},
		{"API key's own consumer taken", http.MethodPost, "/api/apikeys", `{"clientId":"alice","clientName":"x"}`,
			`a consumer named "alice" already exists: name it in consumer, or choose another clientId`, map[string]any{"consumer": "already in use"}},
		{"consumer group name taken in the gateway", http.MethodPost, "/api/v1/gateways/gw/consumer-groups", `{"name":"Premium"}`,
			`gateway "gw" already has a consumer group named "Premium"`, map[string]any{"name": "already in use"}},
		{"consumer group renamed to a taken name", http.MethodPut, "/api/v1/gateways/gw/consumer-groups/cg2", `{"name":"Premium"}`,
			`gateway "gw" already has a consumer group named "Premium"`, map[string]any{"name": "already in use"}},
		{"gateway holding consumer groups", http.MethodDelete, "/api/v1/gateways/gw", ``,
			`gateway "gw" still holds consumer groups: delete them first`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, err := mem.Snapshot(context.Background())
			require.NoError(t, err)
			var body any
			if tc.body != "" {
				body = tc.body
			}
			r := e.do(tc.method, tc.path, body)
			requireError(t, r, http.StatusConflict, "conflict")
			m := r.JSON(t)
			require.Equal(t, tc.message, m["message"])
			require.Equal(t, tc.fields, r.Fields(t))
			require.NotContains(t, r.Body, key)
			after, err := mem.Snapshot(context.Background())
			require.NoError(t, err)
			require.Equal(t, before, after, "a refused write changed the store")
		})
	}
}

// failingCredentials is a memory store whose credential writes fail once
// their mutator has run, as a database that fails in the middle of a write
// would.
type failingCredentials struct {
	*memory.Store
}

func failAfter(fn store.Mutator[credential.Credential]) store.Mutator[credential.Credential] {
	return func(cur *credential.Credential) (*credential.Credential, error) {
		if _, err := fn(cur); err != nil {
			return nil, err
		}
		return nil, errDatabaseDown
	}
}

func (s failingCredentials) PutCredential(ctx context.Context, username, id string, fn store.Mutator[credential.Credential]) (*credential.Credential, bool, error) {
	return s.Store.PutCredential(ctx, username, id, failAfter(fn))
}

func (s failingCredentials) PutConsumerWithCredential(ctx context.Context, username string, consumerFn store.Mutator[consumer.Consumer],
	credID string, credFn store.Mutator[credential.Credential]) (*consumer.Consumer, *credential.Credential, error) {
	return s.Store.PutConsumerWithCredential(ctx, username, consumerFn, credID, failAfter(credFn))
}

// A request that creates a consumer together with its credential changes
// nothing when the credential cannot be stored: no consumer is left behind,
// an existing one is not moved, and the gateway never sees either.
func TestFailedKeyLeavesNoConsumer(t *testing.T) {
	mem := memory.New()
	e := newConflictEnv(t, failingCredentials{mem}, mem)
	e.must(http.StatusCreated, http.MethodPost, "/api/consumers", `{"username":"bob"}`)
	e.must(http.StatusCreated, http.MethodPost, "/api/groups", `{"id":"A","name":"group A"}`)
	for _, tc := range []struct {
		name     string
		path     string
		body     string
		consumer string
	}{
		{"API key with its own consumer", "/api/apikeys", `{"clientId":"k1","clientName":"one"}`, "k1"},
		{"API key of a service group, with its own consumer", "/api/groups/A/apikeys", `{"clientId":"k2","clientName":"two"}`, "k2"},
		{"consumer group key for a new user", "/api/v1/gateways/gw/consumer-groups/cg/keys", `{"user_id":"newuser"}`, "newuser"},
		{"consumer group key for a user without a group", "/api/v1/gateways/gw/consumer-groups/cg/keys", `{"user_id":"bob"}`, "bob"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			before, err := mem.Snapshot(ctx)
			require.NoError(t, err)
			watch, err := mem.Watch(ctx)
			require.NoError(t, err)

			r := e.do(http.MethodPost, tc.path, tc.body)
			requireError(t, r, http.StatusInternalServerError, "internal")

			after, err := mem.Snapshot(ctx)
			require.NoError(t, err)
			require.Equal(t, before, after, "the failed request changed the store")
			if tc.consumer != "bob" {
				requireError(t, e.do(http.MethodGet, "/api/consumers/"+tc.consumer, nil), http.StatusNotFound, "not_found")
			}
			// Not even for a moment: the first change a watcher sees is the
			// next write.
			_, _, err = mem.PutRoute(ctx, "marker", func(*route.Route) (*route.Route, error) { return &route.Route{}, nil })
			require.NoError(t, err)
			select {
			case c := <-watch:
				require.Equal(t, store.Change{Kind: store.KindRoute, ID: "marker"}, c)
			case <-time.After(5 * time.Second):
				require.FailNow(t, "no change delivered")
			}
		})
	}
}
