package gatehouse

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
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
