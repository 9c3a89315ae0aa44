package jwtauth_test

import (
	"encoding/json"
	"testing"

	"github.com/gatehousehq/gatehouse/credential/jwtauth"
	"github.com/gatehousehq/gatehouse/keyring"
	"github.com/stretchr/testify/require"
)

// TestSealKeepsSameSecret: an HS secret sent again, or not sent, keeps its
// ciphertext; another secret seals anew.
func TestSealKeepsSameSecret(t *testing.T) {
	t.Parallel()
	ring, _ := keyring.Generate()
	d := &jwtauth.Definition{Ring: ring}
	in := json.RawMessage(`{"key":"alice","secret":"alice-hs256-secret-0123456789abcdef"}`)
	first, err := d.Seal(in, nil)
	require.NoError(t, err)
	for _, body := range []string{string(in), `{"key":"alice"}`, `{"key":"alice","algorithm":"HS256"}`} {
		again, err := d.Seal(json.RawMessage(body), first.Stored)
		require.NoError(t, err)
		require.Equal(t, string(first.Stored), string(again.Stored), body)
	}
	other, err := d.Seal(json.RawMessage(`{"key":"alice","secret":"another-hs256-secret-0123456789abcdef"}`), first.Stored)
	require.NoError(t, err)
	require.NotEqual(t, string(first.Stored), string(other.Stored))
}
