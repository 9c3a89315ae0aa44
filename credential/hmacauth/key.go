package hmacauth

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"sync"
)

// secretKey is a credential's compiled secret: crypto/hmac instances keyed
// with it, one pool per algorithm, so that verifying a request reuses a keyed
// HMAC (Reset keeps the key) instead of allocating one.
type secretKey struct {
	pools [3]sync.Pool // of *keyedMAC: algSHA1, algSHA256, algSHA512
}

// keyedMAC is a keyed HMAC with its own input and output buffers: the
// message is copied into in so that the caller's stack buffer never escapes
// through the hash.Hash interface.
type keyedMAC struct {
	h   hash.Hash
	in  []byte
	out [sha512.Size]byte
}

func newSecretKey(key []byte) *secretKey {
	k := &secretKey{}
	for i, h := range [3]func() hash.Hash{sha1.New, sha256.New, sha512.New} {
		k.pools[i].New = func() any { return &keyedMAC{h: hmac.New(h, key), in: make([]byte, 0, 1024)} }
	}
	return k
}

func poolIndex(alg algSet) int {
	switch alg {
	case algSHA1:
		return 0
	case algSHA512:
		return 2
	}
	return 1
}

// mac appends the HMAC of msg under the key with alg to dst[:0].
func (k *secretKey) mac(alg algSet, msg, dst []byte) []byte {
	p := &k.pools[poolIndex(alg)]
	m := p.Get().(*keyedMAC)
	m.in = append(m.in[:0], msg...)
	m.h.Reset()
	m.h.Write(m.in)
	dst = append(dst[:0], m.h.Sum(m.out[:0])...)
	if cap(m.in) > 64<<10 {
		m.in = make([]byte, 0, 1024) // do not keep a huge buffer alive
	}
	p.Put(m)
	return dst
}
