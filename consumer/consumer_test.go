package consumer_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/validation"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		c    consumer.Consumer
		// want lists the invalid fields; empty means valid.
		want []string
	}{
		{"simple", consumer.Consumer{Username: "alice"}, nil},
		{"every allowed character", consumer.Consumer{Username: "aZ09_-"}, nil},
		{"512 characters", consumer.Consumer{Username: strings.Repeat("a", consumer.MaxUsernameLen)}, nil},
		{"with labels group and plugins", consumer.Consumer{Username: "bob", GroupID: "g-1",
			Labels: map[string]string{"team": "x", "env": ""}, Plugins: map[string]json.RawMessage{"limit-count": json.RawMessage(`{}`)}}, nil},
		{"missing username", consumer.Consumer{}, []string{"username"}},
		{"513 characters", consumer.Consumer{Username: strings.Repeat("a", consumer.MaxUsernameLen+1)}, []string{"username"}},
		{"space", consumer.Consumer{Username: "al ice"}, []string{"username"}},
		{"dot", consumer.Consumer{Username: "alice.b"}, []string{"username"}},
		{"slash", consumer.Consumer{Username: "a/b"}, []string{"username"}},
		{"non-ASCII", consumer.Consumer{Username: "élise"}, []string{"username"}},
		{"bad group id", consumer.Consumer{Username: "alice", GroupID: "g 1"}, []string{"group_id"}},
		{"empty label key", consumer.Consumer{Username: "alice", Labels: map[string]string{"": "v"}}, []string{"labels"}},
		{"every invalid field at once", consumer.Consumer{Username: "a b", GroupID: "g/1", Labels: map[string]string{"": "v", "ok": "v"}},
			[]string{"username", "group_id", "labels"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Validate()
			if len(tt.want) == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.True(t, errors.Is(err, validation.ErrInvalid))
			var ve *validation.Error
			require.ErrorAs(t, err, &ve)
			got := make([]string, 0, len(ve.Fields))
			for f, why := range ve.Fields {
				require.NotEmpty(t, why, "field %s has no reason", f)
				got = append(got, f)
			}
			require.ElementsMatch(t, tt.want, got)
		})
	}
}

func TestValidateUsernameReasons(t *testing.T) {
	tests := []struct {
		name     string
		username string
		contains string
	}{
		{"missing", "", "required"},
		{"too long", strings.Repeat("a", consumer.MaxUsernameLen+1), "512"},
		{"pattern", "a b", "^[a-zA-Z0-9_-]+$"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := (&consumer.Consumer{Username: tt.username}).Validate()
			var ve *validation.Error
			require.ErrorAs(t, err, &ve)
			require.Contains(t, ve.Fields["username"], tt.contains)
		})
	}
}

func TestValidName(t *testing.T) {
	tests := []struct {
		s    string
		want bool
	}{
		{"a", true},
		{"A-b_9", true},
		{strings.Repeat("x", 512), true},
		{strings.Repeat("x", 513), false},
		{"", false},
		{"a b", false},
		{"a.b", false},
		{"a\x00", false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, consumer.ValidName(tt.s), "%q", tt.s)
	}
}

func TestClone(t *testing.T) {
	orig := &consumer.Consumer{
		Username: "alice",
		Desc:     "d",
		Labels:   map[string]string{"team": "a"},
		Plugins:  map[string]json.RawMessage{"limit-count": json.RawMessage(`{"count":1}`)},
		GroupID:  "g",
	}
	tests := []struct {
		name   string
		mutate func(c *consumer.Consumer)
	}{
		{"label value", func(c *consumer.Consumer) { c.Labels["team"] = "b" }},
		{"new label", func(c *consumer.Consumer) { c.Labels["new"] = "x" }},
		{"plugin bytes", func(c *consumer.Consumer) { c.Plugins["limit-count"][2] = 'X' }},
		{"new plugin", func(c *consumer.Consumer) { c.Plugins["cors"] = json.RawMessage(`{}`) }},
		{"scalar fields", func(c *consumer.Consumer) { c.Username, c.Desc, c.GroupID = "bob", "other", "h" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := orig.Clone()
			require.Equal(t, orig, c)
			tt.mutate(c)
			require.NotEqual(t, orig, c)
			require.Equal(t, "alice", orig.Username)
			require.Equal(t, "d", orig.Desc)
			require.Equal(t, "g", orig.GroupID)
			require.Equal(t, map[string]string{"team": "a"}, orig.Labels)
			require.Equal(t, map[string]json.RawMessage{"limit-count": json.RawMessage(`{"count":1}`)}, orig.Plugins)
		})
	}
}

func TestCloneNil(t *testing.T) {
	var c *consumer.Consumer
	require.Nil(t, c.Clone())

	empty := (&consumer.Consumer{Username: "a"}).Clone()
	require.Nil(t, empty.Labels)
	require.Nil(t, empty.Plugins)
}

func TestClonePlugins(t *testing.T) {
	require.Nil(t, consumer.ClonePlugins(nil))
	orig := map[string]json.RawMessage{"a": json.RawMessage(`{"k":"v"}`)}
	cp := consumer.ClonePlugins(orig)
	require.Equal(t, orig, cp)
	cp["a"][1] = 'X'
	require.Equal(t, `{"k":"v"}`, string(orig["a"]))
}

func TestContext(t *testing.T) {
	alice := &consumer.Consumer{Username: "alice"}
	tests := []struct {
		name         string
		ctx          context.Context
		wantIdentity *consumer.Identity
		wantConsumer *consumer.Consumer
	}{
		{"absent", context.Background(), nil, nil},
		{"nil identity", consumer.NewContext(context.Background(), nil), nil, nil},
		{"identity without consumer",
			consumer.NewContext(context.Background(), &consumer.Identity{CredentialID: "c"}),
			&consumer.Identity{CredentialID: "c"}, nil},
		{"authenticated",
			consumer.NewContext(context.Background(), &consumer.Identity{Consumer: alice, CredentialID: "c1"}),
			&consumer.Identity{Consumer: alice, CredentialID: "c1"}, alice},
		{"anonymous",
			consumer.NewContext(context.Background(), &consumer.Identity{Consumer: alice, Anonymous: true}),
			&consumer.Identity{Consumer: alice, Anonymous: true}, alice},
		{"innermost wins",
			consumer.NewContext(consumer.NewContext(context.Background(), &consumer.Identity{Consumer: &consumer.Consumer{Username: "old"}}),
				&consumer.Identity{Consumer: alice}),
			&consumer.Identity{Consumer: alice}, alice},
		{"nil identity hides outer one",
			consumer.NewContext(consumer.NewContext(context.Background(), &consumer.Identity{Consumer: alice}), nil),
			nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, ok := consumer.IdentityFromContext(tt.ctx)
			require.Equal(t, tt.wantIdentity != nil, ok)
			require.Equal(t, tt.wantIdentity, id)

			c, ok := consumer.FromContext(tt.ctx)
			require.Equal(t, tt.wantConsumer != nil, ok)
			if tt.wantConsumer == nil {
				require.Nil(t, c)
			} else {
				require.Same(t, tt.wantConsumer, c)
			}
		})
	}
}
