package gatehouse

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/credential"
)

func TestRenderCacheIsBoundedAndCorrect(t *testing.T) {
	c := &renderCache{bodies: map[string][]byte{}, vals: map[string][]string{}}
	for i := range renderCacheMax + 100 {
		msg := fmt.Sprintf("message \"%d\" <b>", i)
		var got struct{ Message string }
		require.NoError(t, json.Unmarshal(c.body(msg), &got))
		require.Equal(t, msg, got.Message)
		require.Equal(t, []string{msg}, c.values(msg))
	}
	require.Len(t, c.bodies, renderCacheMax)
	require.Len(t, c.vals, renderCacheMax)
}

// BenchmarkAuthorized measures the authorization step alone: a credential on
// 100 groups, a route in 10 groups sharing only the last one.
func BenchmarkAuthorized(b *testing.B) {
	v := newView(nil)
	var entities []string
	for i := range 99 {
		entities = append(entities, fmt.Sprintf("group_key-group-%03d", i))
	}
	entities = append(entities, "route-group-09") // a bare id names a group
	m := &credential.Match{Entities: v.entities.set(entities)}
	cr := &compiledRoute{grouped: true}
	cr.admit(v.entities, credential.EntityRoute, "r")
	for i := range 10 {
		cr.admit(v.entities, credential.EntityGroup, fmt.Sprintf("route-group-%02d", i))
	}
	if !cr.authorized(m) || cr.authorized(&credential.Match{Entities: v.entities.set(entities[:99])}) {
		b.Fatal("wrong decision")
	}
	b.ReportAllocs()
	for b.Loop() {
		if !cr.authorized(m) {
			b.Fatal("refused")
		}
	}
}
