// Package keyring encrypts secrets at rest (HMAC secrets, JWT HS secrets) with
// AES-256-GCM under a ring of named keys, so that keys can be rotated without downtime.
package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// KeySize is the length of every key: AES-256.
const KeySize = 32

// prefix starts every sealed value, with a version for later formats.
const prefix = "gh1."

// Errors matched with errors.Is.
var (
	// ErrUnknownKey: the value was sealed with a key the ring does not hold.
	ErrUnknownKey = errors.New("keyring: unknown key id")
	// ErrCorrupt: the value is not one Seal produced, or was altered.
	ErrCorrupt = errors.New("keyring: sealed value is corrupt")
)

// Ring holds named AES-256-GCM keys. The primary key seals new values; every
// key opens the values it sealed. To rotate: add the new key to every
// instance, then make it primary, then (once stored secrets have been
// rewritten) drop the old one. A Ring is safe for concurrent use.
type Ring struct {
	primary string
	keys    map[string]cipher.AEAD
}

// New returns a ring whose keys are given by id; primary names the one that
// seals. Each key must be KeySize bytes; ids are 1 to 32 characters of
// [a-zA-Z0-9_-].
func New(primary string, keys map[string][]byte) (*Ring, error) {
	if _, ok := keys[primary]; !ok {
		return nil, fmt.Errorf("keyring: primary key %q is not in the ring", primary)
	}
	r := &Ring{primary: primary, keys: make(map[string]cipher.AEAD, len(keys))}
	for id, k := range keys {
		if !validID(id) {
			return nil, fmt.Errorf("keyring: key id %q: want 1 to 32 characters of [a-zA-Z0-9_-]", id)
		}
		if len(k) != KeySize {
			return nil, fmt.Errorf("keyring: key %q is %d bytes, want %d", id, len(k), KeySize)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("keyring: key %q: %w", id, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("keyring: key %q: %w", id, err)
		}
		r.keys[id] = aead
	}
	return r, nil
}

// Parse reads a ring from text: comma-separated "id:base64key" entries (standard
// or URL base64, padded or not), the first being primary. Keys are never
// included in its errors.
func Parse(spec string) (*Ring, error) {
	keys := map[string][]byte{}
	primary := ""
	for i, entry := range strings.Split(spec, ",") {
		entry = strings.TrimSpace(entry)
		id, enc, ok := strings.Cut(entry, ":")
		if !ok || id == "" || enc == "" {
			return nil, fmt.Errorf("keyring: entry %d: want id:base64key", i+1)
		}
		k, err := decodeKey(enc)
		if err != nil {
			return nil, fmt.Errorf("keyring: key %q is not base64", id)
		}
		if _, dup := keys[id]; dup {
			return nil, fmt.Errorf("keyring: key id %q given twice", id)
		}
		keys[id] = k
		if primary == "" {
			primary = id
		}
	}
	return New(primary, keys)
}

func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			return k, nil
		}
	}
	return nil, errors.New("not base64")
}

// Generate returns a ring with one random key, for processes whose secrets
// do not outlive them (the memory store), and the ring's text form for Parse.
func Generate() (*Ring, string) {
	k := make([]byte, KeySize)
	_, _ = rand.Read(k) // crypto/rand.Read never fails on supported platforms
	spec := "generated:" + base64.RawURLEncoding.EncodeToString(k)
	r, err := Parse(spec)
	if err != nil {
		panic(err) // unreachable: the spec is well formed
	}
	return r, spec
}

// Primary returns the id of the key that seals.
func (r *Ring) Primary() string { return r.primary }

// IDs returns the ids of every key, sorted.
func (r *Ring) IDs() []string {
	out := make([]string, 0, len(r.keys))
	for id := range r.keys {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// Seal encrypts plaintext with the primary key. context binds the value to its
// use (for example "hmac-auth"): Open must be given the same context. The
// result is text: "gh1.<key id>.<base64url(nonce|ciphertext)>".
func (r *Ring) Seal(plaintext []byte, context string) (string, error) {
	aead := r.keys[r.primary]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("keyring: %w", err)
	}
	out := aead.Seal(nonce, nonce, plaintext, []byte(context))
	return prefix + r.primary + "." + base64.RawURLEncoding.EncodeToString(out), nil
}

// Open decrypts a value made by Seal with the same context.
func (r *Ring) Open(sealed, context string) ([]byte, error) {
	rest, ok := strings.CutPrefix(sealed, prefix)
	if !ok {
		return nil, ErrCorrupt
	}
	id, enc, ok := strings.Cut(rest, ".")
	if !ok {
		return nil, ErrCorrupt
	}
	aead, ok := r.keys[id]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownKey, id)
	}
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || len(raw) < aead.NonceSize()+aead.Overhead() {
		return nil, ErrCorrupt
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(context))
	if err != nil {
		return nil, ErrCorrupt
	}
	return plain, nil
}

// KeyID returns the id of the key a sealed value needs, without opening it.
func KeyID(sealed string) (string, bool) {
	rest, ok := strings.CutPrefix(sealed, prefix)
	if !ok {
		return "", false
	}
	id, _, ok := strings.Cut(rest, ".")
	return id, ok
}

func validID(id string) bool {
	if len(id) == 0 || len(id) > 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
