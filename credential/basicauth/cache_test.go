package basicauth_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/credential/basicauth"
)

func TestCacheBounded(t *testing.T) {
	for _, size := range []int{1, 3, 64, 100, 1000, 4099} {
		c := basicauth.NewCache(size)
		require.Equal(t, size, c.Cap())
		m := &credential.Credential{}
		for i := range 5 * size {
			c.Put(fmt.Sprintf("user-%d:pw", i), m)
			require.LessOrEqual(t, c.Len(), size)
		}
		require.Equal(t, c.Cap(), c.Len(), "full, not more")
		// The latest entry is always kept.
		c.Put("last:pw", m)
		require.Same(t, m, c.Get("last:pw"))
	}
	require.Equal(t, basicauth.DefaultCacheSize, basicauth.NewCache(0).Cap())
}

func TestCacheKeys(t *testing.T) {
	c := basicauth.NewCache(10)
	m1, m2 := &credential.Credential{}, &credential.Credential{}
	c.Put("alice:one", m1)
	c.Put("alice:two", m2)
	require.Same(t, m1, c.Get("alice:one"))
	require.Same(t, m2, c.Get("alice:two"))
	require.Nil(t, c.Get("alice:three"))
	require.Nil(t, c.Get("alice:on"))
	c.Put("alice:one", m2) // replaced, not added
	require.Same(t, m2, c.Get("alice:one"))
	require.Equal(t, 2, c.Len())
	// Another cache has another HMAC key: nothing is shared.
	require.Nil(t, basicauth.NewCache(10).Get("alice:one"))
	for _, k := range c.Keys() {
		require.Len(t, k, 32)
		require.NotContains(t, string(k), "alice")
	}
}

func TestCacheConcurrent(t *testing.T) {
	c := basicauth.NewCache(64)
	matches := make([]*credential.Credential, 16)
	for i := range matches {
		matches[i] = &credential.Credential{}
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				k := fmt.Sprintf("u%d:p%d", (g*7+i)%200, i%3)
				if got := c.Get(k); got != nil {
					require.Contains(t, matches, got)
				}
				c.Put(k, matches[i%len(matches)])
				if i%100 == 0 {
					require.LessOrEqual(t, c.Len(), 64)
				}
			}
		})
	}
	wg.Wait()
	require.LessOrEqual(t, c.Len(), 64)
}
