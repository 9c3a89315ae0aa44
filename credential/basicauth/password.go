package basicauth

import (
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/bcrypt"
)

// bcrypt reads at most 72 bytes of a password, and x/crypto refuses longer
// ones. Passwords may be up to MaxPasswordLen bytes, so every password is
// first reduced to the base64 of its SHA-256 (44 bytes, no NUL): the stored
// hash is bcrypt(base64(sha256(password))). Doing it for every password, not
// only long ones, keeps a 44-byte string from standing for a long password.
type prehashed [44]byte

func prehash(password []byte) prehashed {
	sum := sha256.Sum256(password)
	var p prehashed
	base64.StdEncoding.Encode(p[:], sum[:])
	return p
}

// hashPassword returns the bcrypt hash stored for password.
func hashPassword(password []byte, cost int) ([]byte, error) {
	p := prehash(password)
	return bcrypt.GenerateFromPassword(p[:], cost)
}

// compares counts bcrypt comparisons, for tests that check the cache spares
// them.
var compares atomic.Uint64

// checkPassword reports whether password matches hash. It costs a bcrypt
// comparison: call it only when the cache has no answer.
//
//go:noinline
func checkPassword(hash, password []byte) bool {
	compares.Add(1)
	p := prehash(password)
	return bcrypt.CompareHashAndPassword(hash, p[:]) == nil
}

// dummyHashes holds, per cost, a bcrypt hash that no password matches
// knowingly; an unknown username is checked against it so that it costs what
// a wrong password costs and usernames cannot be told apart by timing.
var dummyHashes sync.Map // int → func() []byte

func dummyHash(cost int) []byte {
	f, ok := dummyHashes.Load(cost)
	if !ok {
		f, _ = dummyHashes.LoadOrStore(cost, sync.OnceValue(func() []byte {
			var secret [32]byte
			randRead(secret[:])
			h, err := hashPassword(secret[:], cost)
			if err != nil {
				// Only a cost above bcrypt.MaxCost fails; Seal refuses it too.
				h, _ = hashPassword(secret[:], DefaultCost)
			}
			return h
		}))
	}
	return f.(func() []byte)()
}
