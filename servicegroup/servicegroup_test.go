package servicegroup_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/servicegroup"
	"github.com/gatehousehq/gatehouse/validation"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		g      servicegroup.Group
		fields []string
	}{
		{"minimal", servicegroup.Group{Name: "Payment APIs"}, nil},
		{"full", servicegroup.Group{
			ID: "group_payment-apis", Name: "Payment APIs", Description: "all payments",
			Tags: []string{"payment", "finance"}, Metadata: map[string]string{"department": "finance", "empty": ""},
		}, nil},
		{"name of 512 characters", servicegroup.Group{Name: strings.Repeat("é", 512)}, nil},
		{"no name", servicegroup.Group{ID: "g1"}, []string{"name"}},
		{"name of 513 characters", servicegroup.Group{Name: strings.Repeat("a", 513)}, []string{"name"}},
		{"bad id", servicegroup.Group{ID: "a/b", Name: "x"}, []string{"id"}},
		{"long id", servicegroup.Group{ID: strings.Repeat("a", 513), Name: "x"}, []string{"id"}},
		{"empty tag", servicegroup.Group{Name: "x", Tags: []string{"a", ""}}, []string{"tags"}},
		{"duplicate tag", servicegroup.Group{Name: "x", Tags: []string{"a", "b", "a"}}, []string{"tags"}},
		{"empty metadata key", servicegroup.Group{Name: "x", Metadata: map[string]string{"": "v"}}, []string{"metadata"}},
		{"everything wrong", servicegroup.Group{
			ID: "not ok", Tags: []string{""}, Metadata: map[string]string{"": ""},
		}, []string{"id", "name", "tags", "metadata"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.g.Validate()
			if tc.fields == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, validation.ErrInvalid)
			var ve *validation.Error
			require.True(t, errors.As(err, &ve))
			got := make([]string, 0, len(ve.Fields))
			for f := range ve.Fields {
				got = append(got, f)
			}
			require.ElementsMatch(t, tc.fields, got, err.Error())
		})
	}
}

func TestClone(t *testing.T) {
	require.Nil(t, (*servicegroup.Group)(nil).Clone())
	now := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	g := &servicegroup.Group{
		ID: "g1", Name: "one", Description: "d",
		Tags: []string{"a", "b"}, Metadata: map[string]string{"k": "v"},
		CreatedAt: now, UpdatedAt: now,
	}
	c := g.Clone()
	require.Equal(t, g, c)
	c.Tags[0] = "changed"
	c.Metadata["k"] = "changed"
	c.Metadata["new"] = "x"
	require.Equal(t, []string{"a", "b"}, g.Tags, "the clone shares no tags")
	require.Equal(t, map[string]string{"k": "v"}, g.Metadata, "the clone shares no metadata")
}

func TestHasTag(t *testing.T) {
	g := &servicegroup.Group{Name: "x", Tags: []string{"payment", "finance"}}
	require.True(t, g.HasTag("finance"))
	require.False(t, g.HasTag("Finance"))
	require.False(t, g.HasTag(""))
}

func TestJSON(t *testing.T) {
	// The Otoroshi example from the reference document decodes as is.
	var g servicegroup.Group
	require.NoError(t, json.Unmarshal([]byte(`{
		"id": "group_payment_apis",
		"name": "Payment APIs",
		"description": "All payment-related API routes",
		"metadata": {"department": "finance"},
		"tags": ["payment", "finance"]
	}`), &g))
	require.NoError(t, g.Validate())
	require.Equal(t, "group_payment_apis", g.ID)
	require.Equal(t, []string{"payment", "finance"}, g.Tags)

	b, err := json.Marshal(servicegroup.Group{ID: "g", Name: "n"})
	require.NoError(t, err)
	require.JSONEq(t, `{"id":"g","name":"n","created_at":"0001-01-01T00:00:00Z","updated_at":"0001-01-01T00:00:00Z"}`, string(b))
}
