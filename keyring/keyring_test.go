package keyring_test

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/keyring"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, keyring.KeySize) }

func TestSealOpen(t *testing.T) {
	r, err := keyring.New("k1", map[string][]byte{"k1": key(1)})
	require.NoError(t, err)
	s, err := r.Seal([]byte("my hmac secret"), "hmac-auth")
	require.NoError(t, err)
	require.NotContains(t, s, "my hmac secret")
	require.True(t, strings.HasPrefix(s, "gh1.k1."))
	id, ok := keyring.KeyID(s)
	require.True(t, ok)
	require.Equal(t, "k1", id)

	got, err := r.Open(s, "hmac-auth")
	require.NoError(t, err)
	require.Equal(t, "my hmac secret", string(got))

	s2, err := r.Seal([]byte("my hmac secret"), "hmac-auth")
	require.NoError(t, err)
	require.NotEqual(t, s, s2, "a fresh nonce every time")

	_, err = r.Open(s, "jwt-auth")
	require.ErrorIs(t, err, keyring.ErrCorrupt, "the context is bound to the value")
	tampered := s[:len(s)-2] + "AA"
	_, err = r.Open(tampered, "hmac-auth")
	require.ErrorIs(t, err, keyring.ErrCorrupt)
	for _, bad := range []string{"", "plain", "gh1.", "gh1.k1", "gh1.k1.!!!", "gh1.k1.AAAA"} {
		_, err = r.Open(bad, "hmac-auth")
		require.ErrorIs(t, err, keyring.ErrCorrupt, bad)
	}
}

func TestRotation(t *testing.T) {
	old, err := keyring.New("k1", map[string][]byte{"k1": key(1)})
	require.NoError(t, err)
	sealedOld, err := old.Seal([]byte("s1"), "c")
	require.NoError(t, err)

	// Step 1: every instance learns k2, k1 still primary.
	both, err := keyring.New("k1", map[string][]byte{"k1": key(1), "k2": key(2)})
	require.NoError(t, err)
	// Step 2: k2 becomes primary; old values still open.
	rotated, err := keyring.New("k2", map[string][]byte{"k1": key(1), "k2": key(2)})
	require.NoError(t, err)
	sealedNew, err := rotated.Seal([]byte("s2"), "c")
	require.NoError(t, err)
	for _, r := range []*keyring.Ring{both, rotated} {
		got, err := r.Open(sealedOld, "c")
		require.NoError(t, err)
		require.Equal(t, "s1", string(got))
		got, err = r.Open(sealedNew, "c")
		require.NoError(t, err)
		require.Equal(t, "s2", string(got))
	}
	// A ring without the key cannot open the value, and says why.
	_, err = old.Open(sealedNew, "c")
	require.ErrorIs(t, err, keyring.ErrUnknownKey)
	require.Equal(t, []string{"k1", "k2"}, rotated.IDs())
	require.Equal(t, "k2", rotated.Primary())
}

func TestNewAndParseErrors(t *testing.T) {
	_, err := keyring.New("k1", map[string][]byte{"k2": key(2)})
	require.Error(t, err)
	_, err = keyring.New("k1", map[string][]byte{"k1": []byte("short")})
	require.Error(t, err)
	_, err = keyring.New("bad id", map[string][]byte{"bad id": key(1)})
	require.Error(t, err)

	k := base64.StdEncoding.EncodeToString(key(7))
	r, err := keyring.Parse("a:" + k + ", b:" + base64.RawURLEncoding.EncodeToString(key(8)))
	require.NoError(t, err)
	require.Equal(t, "a", r.Primary())
	require.Equal(t, []string{"a", "b"}, r.IDs())

	secret := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef-too-long"))
	for _, bad := range []string{"", "a", "a:", ":" + k, "a:not base64!", "a:" + k + ",a:" + k, "a:" + secret} {
		_, err := keyring.Parse(bad)
		require.Error(t, err, bad)
		require.NotContains(t, err.Error(), secret, "a key is never echoed")
	}
}

func TestGenerate(t *testing.T) {
	r, spec := keyring.Generate()
	s, err := r.Seal([]byte("x"), "c")
	require.NoError(t, err)
	again, err := keyring.Parse(spec)
	require.NoError(t, err)
	got, err := again.Open(s, "c")
	require.NoError(t, err)
	require.Equal(t, "x", string(got))
	r2, _ := keyring.Generate()
	_, err = r2.Open(s, "c")
	require.Error(t, err, "two generated rings share nothing")
}
