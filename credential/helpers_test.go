package credential_test

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/credential"
)

func TestUsable(t *testing.T) {
	calls := 0
	now := time.Now()
	clock := func() time.Time { calls++; return now }
	past, future := now.Add(-time.Second), now.Add(time.Second)

	require.True(t, (&credential.Credential{Enabled: true}).Usable(clock))
	require.Equal(t, 0, calls, "no expiry, no clock read")
	require.False(t, (&credential.Credential{}).Usable(clock))
	require.True(t, (&credential.Credential{Enabled: true, ExpiresAt: &future}).Usable(clock))
	require.False(t, (&credential.Credential{Enabled: true, ExpiresAt: &past}).Usable(clock))
	require.False(t, (&credential.Credential{Enabled: true, ExpiresAt: &now}).Usable(clock), "expired at the instant itself")
	require.Equal(t, 3, calls)
}

func TestValidHeaderName(t *testing.T) {
	for _, ok := range []string{"apikey", "X-Api-Key", "x_key.1~"} {
		require.True(t, credential.ValidHeaderName(ok), ok)
	}
	for _, bad := range []string{"", "a b", "a:b", "é", "a\r\n"} {
		require.False(t, credential.ValidHeaderName(bad), bad)
	}
}

func TestChallenge(t *testing.T) {
	c, err := credential.Challenge("Basic", "", "basic")
	require.NoError(t, err)
	require.Equal(t, `Basic realm="basic"`, c)
	c, err = credential.Challenge("Key", "orders", "key")
	require.NoError(t, err)
	require.Equal(t, `Key realm="orders"`, c)
	for _, bad := range []string{`a"b`, `a\b`, "a\rb", "a\nb"} {
		_, err := credential.Challenge("Key", bad, "key")
		require.ErrorIs(t, err, credential.ErrBadRealm, bad)
	}
}

func TestRandomSecret(t *testing.T) {
	a, b := credential.RandomSecret(32), credential.RandomSecret(32)
	require.Len(t, a, 43)
	require.NotEqual(t, a, b)
	raw, err := base64.RawURLEncoding.DecodeString(a)
	require.NoError(t, err)
	require.Len(t, raw, 32)
}
