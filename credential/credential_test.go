package credential_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/validation"
)

// isScheme accepts the four authentication plugins of the API.
func isScheme(name string) bool {
	switch name {
	case "key-auth", "basic-auth", "hmac-auth", "jwt-auth":
		return true
	}
	return false
}

func plugins(names ...string) map[string]json.RawMessage {
	if names == nil {
		return nil
	}
	m := make(map[string]json.RawMessage, len(names))
	for _, n := range names {
		m[n] = json.RawMessage(`{}`)
	}
	return m
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		c    credential.Credential
		// want is the set of invalid fields; empty means valid.
		want []string
	}{
		{"minimal", credential.Credential{Name: "k", Plugins: plugins("key-auth")}, nil},
		{"every field", credential.Credential{ID: "cred-1", Name: "my key", Plugins: plugins("jwt-auth"),
			AuthorizedEntities: []string{"group_a", "route_b", "api_c", "bare"}, Enabled: true}, nil},
		{"512 character name", credential.Credential{Name: strings.Repeat("n", 512), Plugins: plugins("basic-auth")}, nil},
		{"missing name", credential.Credential{Plugins: plugins("key-auth")}, []string{"name"}},
		{"blank name", credential.Credential{Name: "  \t", Plugins: plugins("key-auth")}, []string{"name"}},
		{"512 two-byte characters", credential.Credential{Name: strings.Repeat("é", 512), Plugins: plugins("key-auth")}, nil},
		{"513 character name", credential.Credential{Name: strings.Repeat("n", 513), Plugins: plugins("key-auth")}, []string{"name"}},
		{"no plugin", credential.Credential{Name: "k"}, []string{"plugins"}},
		{"empty plugins", credential.Credential{Name: "k", Plugins: map[string]json.RawMessage{}}, []string{"plugins"}},
		{"two plugins", credential.Credential{Name: "k", Plugins: plugins("key-auth", "basic-auth")}, []string{"plugins"}},
		{"not a scheme", credential.Credential{Name: "k", Plugins: plugins("limit-count")}, []string{"plugins.limit-count"}},
		{"bad id", credential.Credential{ID: "a b", Name: "k", Plugins: plugins("key-auth")}, []string{"id"}},
		{"id too long", credential.Credential{ID: strings.Repeat("i", 513), Name: "k", Plugins: plugins("key-auth")}, []string{"id"}},
		{"empty entity", credential.Credential{Name: "k", Plugins: plugins("key-auth"), AuthorizedEntities: []string{"group_a", ""}},
			[]string{"authorized_entities"}},
		{"bad entity", credential.Credential{Name: "k", Plugins: plugins("key-auth"), AuthorizedEntities: []string{"group_a b"}},
			[]string{"authorized_entities"}},
		{"several errors at once", credential.Credential{ID: "x/y", Plugins: plugins("key-auth", "jwt-auth"),
			AuthorizedEntities: []string{"route_"}}, []string{"id", "name", "plugins", "authorized_entities"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Validate(isScheme)
			if len(tt.want) == 0 {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, validation.ErrInvalid)
			var ve *validation.Error
			require.ErrorAs(t, err, &ve)
			got := make([]string, 0, len(ve.Fields))
			for f, why := range ve.Fields {
				require.NotEmpty(t, why)
				got = append(got, f)
			}
			require.ElementsMatch(t, tt.want, got)
		})
	}
}

func TestValidateEntityReasonNamesEntry(t *testing.T) {
	c := credential.Credential{Name: "k", Plugins: plugins("key-auth"), AuthorizedEntities: []string{"ok", "fine", "bad id"}}
	var ve *validation.Error
	require.ErrorAs(t, c.Validate(isScheme), &ve)
	require.Contains(t, ve.Fields["authorized_entities"], "entry 2")
}

func TestActive(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	past, future := now.Add(-time.Second), now.Add(time.Second)
	tests := []struct {
		name      string
		enabled   bool
		expiresAt *time.Time
		want      bool
	}{
		{"enabled, no expiry", true, nil, true},
		{"enabled, expires later", true, &future, true},
		{"enabled, expired", true, &past, false},
		{"enabled, expires exactly now", true, &now, false},
		{"disabled, no expiry", false, nil, false},
		{"disabled, expires later", false, &future, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := credential.Credential{Enabled: tt.enabled, ExpiresAt: tt.expiresAt}
			require.Equal(t, tt.want, c.Active(now))
		})
	}
}

func TestScheme(t *testing.T) {
	tests := []struct {
		name    string
		plugins map[string]json.RawMessage
		want    string
	}{
		{"none", nil, ""},
		{"one", plugins("hmac-auth"), "hmac-auth"},
		{"two", plugins("key-auth", "jwt-auth"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, (&credential.Credential{Plugins: tt.plugins}).Scheme())
		})
	}
}

func TestClone(t *testing.T) {
	exp := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	newOrig := func() *credential.Credential {
		e := exp
		return &credential.Credential{
			ID: "c1", Consumer: "alice", Name: "k", Enabled: true, Lookup: "h",
			Plugins:            map[string]json.RawMessage{"key-auth": json.RawMessage(`{"key":"abc"}`)},
			AuthorizedEntities: []string{"group_a", "route_b"},
			ExpiresAt:          &e,
		}
	}
	tests := []struct {
		name   string
		mutate func(c *credential.Credential)
	}{
		{"plugin bytes", func(c *credential.Credential) { c.Plugins["key-auth"][2] = 'X' }},
		{"plugin map", func(c *credential.Credential) { c.Plugins["jwt-auth"] = json.RawMessage(`{}`) }},
		{"entity", func(c *credential.Credential) { c.AuthorizedEntities[0] = "group_z" }},
		{"expiry", func(c *credential.Credential) { *c.ExpiresAt = c.ExpiresAt.Add(time.Hour) }},
		{"scalars", func(c *credential.Credential) { c.ID, c.Name, c.Enabled, c.Lookup = "c2", "j", false, "g" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := newOrig()
			c := orig.Clone()
			require.Equal(t, orig, c)
			tt.mutate(c)
			require.NotEqual(t, orig, c)
			require.Equal(t, newOrig(), orig)
		})
	}
}

func TestCloneNil(t *testing.T) {
	var c *credential.Credential
	require.Nil(t, c.Clone())
	cp := (&credential.Credential{Name: "k"}).Clone()
	require.Nil(t, cp.ExpiresAt)
	require.Nil(t, cp.AuthorizedEntities)
	require.Nil(t, cp.Plugins)
}

func TestValidateEntity(t *testing.T) {
	for _, ok := range []string{
		"group_x", "route_x", "api_x", "x", "my-group_1", "route_group_x", "group_payment_apis",
		"group_" + strings.Repeat("a", 512), strings.Repeat("a", 512),
	} {
		require.NoError(t, credential.ValidateEntity(ok), ok)
	}
	for _, bad := range []string{
		"", "group_", "route_", "api_", "group_a b", "a b", "route_a/b", "api_" + strings.Repeat("a", 513), strings.Repeat("a", 513), "é",
	} {
		require.Error(t, credential.ValidateEntity(bad), bad)
	}
}

func TestEntityNames(t *testing.T) {
	tests := []struct {
		kind, id string
		want     []string
	}{
		// A group is named with the prefix or by its bare id, whatever its id.
		{credential.EntityGroup, "payment_apis", []string{"group_payment_apis", "payment_apis"}},
		{credential.EntityGroup, "group_payment_apis", []string{"group_group_payment_apis", "group_payment_apis"}},
		// An entry shaped like a route's or an API's reference never names a
		// group: "route_x" means route x, whatever groups exist.
		{credential.EntityGroup, "route_x", []string{"group_route_x"}},
		{credential.EntityGroup, "api_shop", []string{"group_api_shop"}},
		// A route or an API by its bare id only when the id carries the prefix
		// itself: a bare id names a group.
		{credential.EntityRoute, "checkout", []string{"route_checkout"}},
		{credential.EntityRoute, "route_process_payment", []string{"route_route_process_payment", "route_process_payment"}},
		{credential.EntityAPI, "payments", []string{"api_payments"}},
		{credential.EntityAPI, "api_payments", []string{"api_api_payments", "api_payments"}},
	}
	for _, tt := range tests {
		t.Run(tt.kind+"/"+tt.id, func(t *testing.T) {
			require.Equal(t, tt.want, credential.EntityNames(tt.kind, tt.id))
		})
	}
}

func TestAuthError(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"auth error", &credential.AuthError{Status: 401, Message: "Invalid API key"}, true},
		{"wrapped", fmt.Errorf("auth: %w", &credential.AuthError{Status: 403, Message: "nope"}), true},
		{"other error", errors.New("unauthorized"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, errors.Is(tt.err, credential.ErrUnauthorized))
		})
	}
	e := &credential.AuthError{Status: 401, Message: "Missing API key", Challenge: `Key realm="key"`, Missing: true}
	require.Equal(t, "Missing API key", e.Error())
	require.False(t, errors.Is(e, validation.ErrInvalid))
}

func TestCredentialEqual(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	exp := at.Add(time.Hour)
	base := &credential.Credential{ID: "c", Consumer: "alice", Name: "n", Enabled: true, Lookup: "k:1",
		Plugins: map[string]json.RawMessage{"key-auth": json.RawMessage(`{"a":1}`)}, AuthorizedEntities: []string{"g"},
		ExpiresAt: &exp, CreatedAt: at, UpdatedAt: at}
	require.True(t, base.Equal(base.Clone()))
	inZone := base.Clone()
	inZone.UpdatedAt = at.In(time.FixedZone("x", 3600)) // the same instant
	require.True(t, base.Equal(inZone))
	require.True(t, (*credential.Credential)(nil).Equal(nil))
	require.False(t, base.Equal(nil))
	for name, change := range map[string]func(c *credential.Credential){
		"id":       func(c *credential.Credential) { c.ID = "d" },
		"consumer": func(c *credential.Credential) { c.Consumer = "bob" },
		"name":     func(c *credential.Credential) { c.Name = "m" },
		"enabled":  func(c *credential.Credential) { c.Enabled = false },
		"lookup":   func(c *credential.Credential) { c.Lookup = "k:2" },
		"group":    func(c *credential.Credential) { c.ConsumerGroup = "g" },
		"updated":  func(c *credential.Credential) { c.UpdatedAt = at.Add(1) },
		"expiry":   func(c *credential.Credential) { c.ExpiresAt = nil },
		"entities": func(c *credential.Credential) { c.AuthorizedEntities = []string{"h"} },
		"settings": func(c *credential.Credential) { c.Plugins["key-auth"] = json.RawMessage(`{"a":2}`) },
		"plugin": func(c *credential.Credential) {
			c.Plugins = map[string]json.RawMessage{"basic-auth": json.RawMessage(`{"a":1}`)}
		},
	} {
		c := base.Clone()
		change(c)
		require.False(t, base.Equal(c), name)
		require.False(t, c.Equal(base), name)
	}
}
