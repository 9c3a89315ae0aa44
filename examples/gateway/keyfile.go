package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/gatehousehq/gatehouse/keyring"
)

// keyFileMode is the permission of a generated key file: its owner only.
const keyFileMode = 0o600

// loadOrCreateKeyFile returns the key ring kept in path (keyring.Parse's
// text form), creating the file with a new random key when it does not
// exist, so that secrets a store keeps encrypted still open after a restart.
// created reports whether the file was made now. A file that others may
// read is refused: it holds the keys to every encrypted secret.
func loadOrCreateKeyFile(path string) (ring *keyring.Ring, created bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		r, spec := keyring.Generate()
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, keyFileMode)
		if errors.Is(err, fs.ErrExist) { // another process made it first
			return loadOrCreateKeyFile(path)
		}
		if err != nil {
			return nil, false, fmt.Errorf("create key file: %w", err)
		}
		if _, err := f.WriteString(spec + "\n"); err != nil {
			f.Close()
			os.Remove(path)
			return nil, false, fmt.Errorf("write key file %s: %w", path, err)
		}
		if err := f.Close(); err != nil {
			os.Remove(path)
			return nil, false, fmt.Errorf("write key file %s: %w", path, err)
		}
		return r, true, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read key file: %w", err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, false, fmt.Errorf("key file %s is readable by others (mode %v): chmod 600 it", path, fi.Mode().Perm())
	}
	r, err := keyring.Parse(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, false, fmt.Errorf("key file %s: %w", path, err)
	}
	return r, false, nil
}
