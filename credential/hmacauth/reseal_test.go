package hmacauth_test

import (
	"encoding/json"
	"testing"

	"github.com/gatehousehq/gatehouse/credential/hmacauth"
	"github.com/gatehousehq/gatehouse/keyring"
	"github.com/stretchr/testify/require"
)

// TestSealKeepsSameSecret: writing the secret a credential already has keeps
// its ciphertext (so an unchanged rewrite stores the same bytes); another
// secret, or a ring whose primary key changed, seals anew.
func TestSealKeepsSameSecret(t *testing.T) {
	t.Parallel()
	k1 := make([]byte, keyring.KeySize)
	k2 := make([]byte, keyring.KeySize)
	k2[0] = 1
	ring, err := keyring.New("k1", map[string][]byte{"k1": k1, "k2": k2})
	require.NoError(t, err)
	d := hmacauth.Definition{Ring: ring}
	in := json.RawMessage(`{"key_id":"alice","secret_key":"alice-secret-0123456789"}`)
	first, err := d.Seal(in, nil)
	require.NoError(t, err)

	again, err := d.Seal(in, first.Stored)
	require.NoError(t, err)
	require.JSONEq(t, string(first.Stored), string(again.Stored))
	kept, err := d.Seal(json.RawMessage(`{"key_id":"alice"}`), first.Stored)
	require.NoError(t, err)
	require.JSONEq(t, string(first.Stored), string(kept.Stored))

	other, err := d.Seal(json.RawMessage(`{"key_id":"alice","secret_key":"another-secret-0123456789"}`), first.Stored)
	require.NoError(t, err)
	require.NotEqual(t, string(first.Stored), string(other.Stored))

	rotated, err := keyring.New("k2", map[string][]byte{"k1": k1, "k2": k2})
	require.NoError(t, err)
	d.Ring = rotated
	for _, body := range []json.RawMessage{in, json.RawMessage(`{"key_id":"alice"}`)} {
		resealed, err := d.Seal(body, first.Stored)
		require.NoError(t, err)
		var st struct {
			Sealed string `json:"secret_key_sealed"`
		}
		require.NoError(t, json.Unmarshal(resealed.Stored, &st))
		id, _ := keyring.KeyID(st.Sealed)
		require.Equal(t, "k2", id, "a rewrite after rotation seals with the new primary key")
		plain, err := rotated.Open(st.Sealed, "hmac-auth")
		require.NoError(t, err)
		require.Equal(t, "alice-secret-0123456789", string(plain))
	}
}
