package jwtauth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestClaimString(t *testing.T) {
	for _, tt := range []struct {
		payload, name, want string
		found               bool
	}{
		{`{"key":"alice"}`, "key", "alice", true},
		{` { "a" : [1, {"key":"inner"}, "x]"], "key" : "alice" } `, "key", "alice", true},
		{`{"key":"first","key":"last"}`, "key", "last", true},
		{`{"key":"first","key":1}`, "key", "", false},
		{`{"ke\u0079":"escaped name"}`, "key", "escaped name", true},
		{`{"key":"a\"b\\c\u00e9"}`, "key", "a\"b\\c\u00e9", true},
		{`{"key":""}`, "key", "", false},
		{`{"key":null}`, "key", "", false},
		{`{"key":{"key":"nested"}}`, "key", "", false},
		{`{"Key":"case"}`, "key", "", false},
		{`{"sub":"bob","exp":1e10,"ok":true}`, "sub", "bob", true},
		{`{}`, "key", "", false},
		{`[]`, "key", "", false},
	} {
		got, found := ClaimString([]byte(tt.payload), tt.name)
		require.Equal(t, tt.found, found, tt.payload)
		require.Equal(t, tt.want, got, tt.payload)
	}
}

// FuzzClaimString checks the claim scanner against encoding/json on every
// valid JSON object.
func FuzzClaimString(f *testing.F) {
	f.Add([]byte(`{"key":"alice","exp":1}`), "key")
	f.Add([]byte(`{"a":{"key":"x"},"key":"a\u0062"}`), "key")
	f.Add([]byte(`{"k\"ey":"v","key":["}"]}`), "k\"ey")
	f.Add([]byte("{\"key\":\"\xff\"}"), "key")
	f.Fuzz(func(t *testing.T, payload []byte, name string) {
		if !json.Valid(payload) {
			return
		}
		got, found := ClaimString(payload, name)
		var m map[string]json.RawMessage
		if json.Unmarshal(payload, &m) != nil {
			if found {
				t.Fatalf("ClaimString(%q) found %q in a non-object", payload, got)
			}
			return
		}
		var want string
		raw, ok := m[name]
		wantFound := ok && json.Unmarshal(raw, &want) == nil && want != ""
		if found != wantFound || got != want && wantFound {
			t.Fatalf("ClaimString(%q, %q) = %q, %v; encoding/json says %q, %v", payload, name, got, found, want, wantFound)
		}
	})
}

func TestParseKeySet(t *testing.T) {
	b64 := base64.RawURLEncoding.EncodeToString
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	ec, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	ecb, err := ec.PublicKey.Bytes()
	require.NoError(t, err)
	x, y := ecb[1:49], ecb[49:]
	e := b64(big.NewInt(65537).Bytes())
	doc, _ := json.Marshal(map[string]any{"keys": []map[string]string{
		{"kty": "RSA", "kid": "r1", "alg": "RS256", "use": "sig", "n": b64(rk.N.Bytes()), "e": e},
		{"kty": "RSA", "kid": "small", "n": b64(small.N.Bytes()), "e": e},
		{"kty": "RSA", "kid": "enc", "use": "enc", "n": b64(rk.N.Bytes()), "e": e},
		{"kty": "RSA", "kid": "even-e", "n": b64(rk.N.Bytes()), "e": b64([]byte{2})},
		{"kty": "EC", "kid": "e1", "crv": "P-384", "x": b64(x), "y": b64(y)},
		{"kty": "EC", "kid": "off-curve", "crv": "P-384", "x": b64(x), "y": b64(x)},
		{"kty": "EC", "kid": "p521", "crv": "P-521", "x": b64(x), "y": b64(y)},
		{"kty": "EC", "kid": "alg-mismatch", "alg": "ES256", "crv": "P-384", "x": b64(x), "y": b64(y)},
		{"kty": "OKP", "kid": "d1", "crv": "Ed25519", "x": b64(edPub)},
		{"kty": "OKP", "kid": "x25519", "crv": "X25519", "x": b64(edPub)},
		{"kty": "oct", "kid": "sym", "k": b64([]byte("secret"))},
		{"kty": "RSA", "n": b64(rk.N.Bytes()), "e": e},
	}})
	set, skipped, err := parseKeySet(doc)
	require.NoError(t, err)
	require.Len(t, skipped, 8)
	require.Len(t, set.all, 4)
	require.Contains(t, set.byKid, "r1")
	require.Contains(t, set.byKid, "e1")
	require.Contains(t, set.byKid, "d1")
	require.Equal(t, "RS256", set.byKid["r1"].alg)
	require.True(t, fits(set.byKid["r1"], "RS256"))
	require.False(t, fits(set.byKid["r1"], "PS256"), "the JWK's alg pins it")
	require.True(t, fits(set.byKid["e1"], "ES384"))
	require.False(t, fits(set.byKid["e1"], "ES256"))

	for _, bad := range []string{`nope`, `{"keys":{}}`, `[1]`} {
		_, _, err := parseKeySet([]byte(bad))
		require.Error(t, err, bad)
	}
}

// FuzzParseJWKS feeds arbitrary documents to the JWKS parser: it never
// panics, it refuses a document over MaxJWKSSize or with more than
// MaxJWKSKeys keys, and what it keeps is a usable public key whose JWK is at
// most MaxJWKLen bytes.
func FuzzParseJWKS(f *testing.F) {
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"},{"kty":"OKP","crv":"Ed25519","x":"` + base64.RawURLEncoding.EncodeToString(make([]byte, 32)) + `"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`))
	f.Add(edDoc(f, MaxJWKSKeys))
	f.Add(edDoc(f, MaxJWKSKeys+1))
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + base64.RawURLEncoding.EncodeToString(make([]byte, 32)) + `","x5c":["` + strings.Repeat("A", MaxJWKLen) + `"]}]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		set, _, err := parseKeySet(doc)
		if err != nil {
			return
		}
		if len(doc) > MaxJWKSSize {
			t.Fatalf("accepted a document of %d bytes", len(doc))
		}
		var raw struct{ Keys []json.RawMessage }
		if json.Unmarshal(doc, &raw) != nil || len(raw.Keys) > MaxJWKSKeys {
			t.Fatalf("accepted a document of %d keys", len(raw.Keys))
		}
		kept := map[string]bool{}
		for _, r := range raw.Keys {
			var k struct{ Kid string }
			if json.Unmarshal(r, &k) == nil && len(r) <= MaxJWKLen {
				kept[k.Kid] = true
			}
		}
		for kid := range set.byKid {
			if !kept[kid] {
				t.Fatalf("kept kid %q of a key over %d bytes", kid, MaxJWKLen)
			}
		}
		for _, k := range set.all {
			switch k.key.(type) {
			case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
			default:
				t.Fatalf("kept a %T", k.key)
			}
		}
	})
}

func TestTokenCacheBounded(t *testing.T) {
	c := newTokenCache(100)
	for i := range 1000 {
		c.put(&verified{token: "tok-" + string(rune('a'+i%26)) + big.NewInt(int64(i)).String()})
	}
	require.LessOrEqual(t, c.len(), 100+cacheShards)
	v := &verified{token: "mine"}
	c.put(v)
	require.Same(t, v, c.get("mine"))
	c.drop(&verified{token: "mine"}) // another entry for the token: kept
	require.Same(t, v, c.get("mine"))
	c.drop(v)
	require.Nil(t, c.get("mine"))
}
