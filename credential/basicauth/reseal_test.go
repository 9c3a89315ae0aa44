package basicauth_test

import (
	"encoding/json"
	"testing"

	"github.com/gatehousehq/gatehouse/credential/basicauth"
	"github.com/stretchr/testify/require"
)

// TestSealKeepsSamePassword: the password the stored hash verifies keeps the
// hash; another password is hashed anew.
func TestSealKeepsSamePassword(t *testing.T) {
	t.Parallel()
	d := basicauth.Definition{Cost: 4}
	in := json.RawMessage(`{"username":"alice","password":"pa55word"}`)
	first, err := d.Seal(in, nil)
	require.NoError(t, err)
	again, err := d.Seal(in, first.Stored)
	require.NoError(t, err)
	require.Equal(t, string(first.Stored), string(again.Stored))
	other, err := d.Seal(json.RawMessage(`{"username":"alice","password":"other-pw"}`), first.Stored)
	require.NoError(t, err)
	require.NotEqual(t, string(first.Stored), string(other.Stored))
	// A different cost hashes again, at the new cost.
	d.Cost = 5
	recost, err := d.Seal(in, first.Stored)
	require.NoError(t, err)
	require.NotEqual(t, string(first.Stored), string(recost.Stored))
}
