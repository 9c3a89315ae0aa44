package keyring_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"

	"github.com/gatehousehq/gatehouse/keyring"
)

// A secret sealed under one key keeps opening after a rotation: the new key
// is added and made primary, the old one stays in the ring until every stored
// value has been sealed again.
func Example() {
	k1, k2 := make([]byte, keyring.KeySize), make([]byte, keyring.KeySize)
	_, _ = rand.Read(k1)
	_, _ = rand.Read(k2)
	b64 := base64.StdEncoding.EncodeToString

	before, err := keyring.Parse("k1:" + b64(k1)) // -secret-keys / GATEHOUSE_SECRET_KEYS
	if err != nil {
		panic(err)
	}
	sealed, err := before.Seal([]byte("hmac-secret"), "hmac-auth")
	if err != nil {
		panic(err)
	}
	id, _ := keyring.KeyID(sealed)
	fmt.Println("sealed with", id)

	after, err := keyring.Parse("k2:" + b64(k2) + ",k1:" + b64(k1)) // k2 first: it seals
	if err != nil {
		panic(err)
	}
	plain, err := after.Open(sealed, "hmac-auth")
	fmt.Println(string(plain), err)
	resealed, _ := after.Seal(plain, "hmac-auth")
	id, _ = keyring.KeyID(resealed)
	fmt.Println("sealed again with", id, "of", after.IDs())

	// The context binds a value to its use: an HMAC secret does not open as
	// a JWT secret, and a tampered value does not open at all.
	_, err = after.Open(sealed, "jwt-auth")
	fmt.Println(err != nil)
	tampered := []byte(sealed)
	tampered[len(tampered)-2] ^= 1
	_, err = after.Open(string(tampered), "hmac-auth")
	fmt.Println(err != nil, bytes.Contains([]byte(sealed), []byte("hmac-secret")))
	// Output:
	// sealed with k1
	// hmac-secret <nil>
	// sealed again with k2 of [k1 k2]
	// true
	// true false
}
