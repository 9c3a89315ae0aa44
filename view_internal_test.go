package gatehouse

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/store"
)

// A change that does not touch a credential keeps what the view compiled
// from it: the same *Credential and Secret in the rebuilt Match, which is
// what the caches of verified credentials (basic-auth, jwt-auth) compare. A
// change of the credential itself replaces both.
func TestViewKeepsUnchangedCredentials(t *testing.T) {
	compiled := 0
	v := newView(func(cr *credential.Credential) (any, error) {
		compiled++
		return &struct{ n int }{compiled}, nil
	})
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	alice := &consumer.Consumer{Username: "alice", Labels: map[string]string{"team": "a"}}
	cred := func() *credential.Credential {
		return &credential.Credential{ID: "c1", Consumer: "alice", Name: "n", Enabled: true, Lookup: "x:1",
			Plugins: map[string]json.RawMessage{"x": json.RawMessage(`{"k":1}`)}, CreatedAt: at, UpdatedAt: at}
	}
	v.load(&store.Snapshot{Consumers: []*consumer.Consumer{alice}, Credentials: []*credential.Credential{cred()}})
	first, ok := v.index.Find([]byte("x:1"))
	require.True(t, ok)
	require.Equal(t, 1, compiled)

	// A label change: a new Match (the new identity), the same credential.
	relabelled := &consumer.Consumer{Username: "alice", Labels: map[string]string{"team": "b"}}
	v.setConsumer("alice", relabelled)
	m, ok := v.index.Find([]byte("x:1"))
	require.True(t, ok)
	require.NotSame(t, first, m)
	require.Same(t, relabelled, m.Identity.Consumer, "requests see the new consumer")
	require.Equal(t, "c1", m.Identity.CredentialID)
	require.Same(t, first.Credential, m.Credential)
	require.Same(t, first.Secret, m.Secret)
	require.Equal(t, 1, compiled, "nothing compiled again")

	// A full reload reading the same credential keeps it too.
	v.load(&store.Snapshot{Consumers: []*consumer.Consumer{relabelled}, Credentials: []*credential.Credential{cred()}})
	again, _ := v.index.Find([]byte("x:1"))
	require.Same(t, first.Credential, again.Credential)
	require.Same(t, first.Secret, again.Secret)
	require.Equal(t, 1, compiled)

	// A changed credential (read again by a reload, or written) is new.
	changed := cred()
	changed.Enabled, changed.UpdatedAt = false, at.Add(time.Second)
	v.load(&store.Snapshot{Consumers: []*consumer.Consumer{relabelled}, Credentials: []*credential.Credential{changed}})
	m, _ = v.index.Find([]byte("x:1"))
	require.Same(t, changed, m.Credential)
	require.Equal(t, 2, compiled)
	written := cred()
	v.setCredential("alice", "c1", written)
	m, _ = v.index.Find([]byte("x:1"))
	require.Same(t, written, m.Credential)
	require.Equal(t, 3, compiled)
}

// The same credential applied twice (a new consumer's change loads its
// credentials, then the credential's own change arrives) keeps the first:
// verified-credential caches keep their entries. A changed one replaces it.
func TestViewKeepsCredentialAppliedTwice(t *testing.T) {
	compiled := 0
	v := newView(func(cr *credential.Credential) (any, error) {
		compiled++
		return &struct{ n int }{compiled}, nil
	})
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cred := func() *credential.Credential {
		return &credential.Credential{ID: "c1", Consumer: "alice", Name: "n", Enabled: true, Lookup: "x:1",
			Plugins: map[string]json.RawMessage{"x": json.RawMessage(`{"k":1}`)}, CreatedAt: at, UpdatedAt: at}
	}
	v.setConsumer("alice", &consumer.Consumer{Username: "alice"})
	v.setCredential("alice", "c1", cred())
	first, ok := v.index.Find([]byte("x:1"))
	require.True(t, ok)
	v.setCredential("alice", "c1", cred())
	again, ok := v.index.Find([]byte("x:1"))
	require.True(t, ok)
	require.Same(t, first, again)
	require.Equal(t, 1, compiled)

	changed := cred()
	changed.UpdatedAt = at.Add(time.Second)
	v.setCredential("alice", "c1", changed)
	m, _ := v.index.Find([]byte("x:1"))
	require.Same(t, changed, m.Credential)
	require.Equal(t, 2, compiled)
	v.setCredential("alice", "c1", nil)
	_, ok = v.index.Find([]byte("x:1"))
	require.False(t, ok, "a deletion still removes it")
}
