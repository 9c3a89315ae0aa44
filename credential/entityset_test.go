package credential_test

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/credential"
)

func TestEntitySet(t *testing.T) {
	var empty credential.EntitySet
	require.False(t, empty.Has(0))
	require.Equal(t, 0, empty.Len())

	for _, n := range []int{1, 2, 3, 7, 100, 1000} {
		want := map[uint32]bool{}
		var ids []uint32
		for len(ids) < n {
			id := rand.Uint32N(5000)
			if !want[id] {
				want[id] = true
				ids = append(ids, id)
			}
		}
		ids = append(ids, ids[0]) // a duplicate is stored once
		s := credential.NewEntitySet(ids)
		require.Equal(t, n, s.Len())
		for id := uint32(0); id < 5000; id++ {
			require.Equal(t, want[id], s.Has(id), "n=%d id=%d", n, id)
		}
	}
	require.True(t, credential.NewEntitySet([]uint32{0}).Has(0), "id 0 is a valid id")
}
