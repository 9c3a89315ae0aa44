package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestKeyFileIsCreatedOnceAndReused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.db.keys")
	ring, created, err := loadOrCreateKeyFile(path)
	require.NoError(t, err)
	require.True(t, created)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(keyFileMode), fi.Mode().Perm(), "only its owner may read the keys")

	sealed, err := ring.Seal([]byte("hmac secret"), "ctx")
	require.NoError(t, err)
	again, created, err := loadOrCreateKeyFile(path)
	require.NoError(t, err)
	require.False(t, created, "an existing key file is reused, never replaced")
	plain, err := again.Open(sealed, "ctx")
	require.NoError(t, err, "a secret sealed before a restart opens after it")
	require.Equal(t, "hmac secret", string(plain))
}

func TestKeyFileRefusals(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "open.keys")
	_, _, err := loadOrCreateKeyFile(open)
	require.NoError(t, err)
	require.NoError(t, os.Chmod(open, 0o644))
	_, _, err = loadOrCreateKeyFile(open)
	require.ErrorContains(t, err, "readable by others")

	bad := filepath.Join(dir, "bad.keys")
	require.NoError(t, os.WriteFile(bad, []byte("not a key ring"), 0o600))
	_, _, err = loadOrCreateKeyFile(bad)
	require.Error(t, err)
	require.NotContains(t, err.Error(), "not a key ring", "the file's content is not repeated")

	_, _, err = loadOrCreateKeyFile(filepath.Join(dir, "missing-dir", "x.keys"))
	require.Error(t, err)
}
