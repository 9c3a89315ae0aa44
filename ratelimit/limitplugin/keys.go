package limitplugin

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash/maphash"
	"math/bits"
	"net/netip"
	"runtime"
	"strings"
	"sync"
)

// maxRawValue is the longest header value used as it is in a key; longer
// ones are replaced by a hash, so that a client cannot make the limiter keep
// huge keys.
const maxRawValue = 128

// key returns the key of limit i for c, from the cache when it can.
func (p *Limiter) key(i int, c *Caller) string {
	spec := &p.limits[i]
	k := p.keyParts(i, c)
	kc := p.set.keys
	if kc == nil || len(k.s) > maxRawValue {
		return p.buildKey(spec, &k)
	}
	return kc.get(&k, p, spec)
}

// keyParts returns what the key of limit i for c is built from.
func (p *Limiter) keyParts(i int, c *Caller) cacheKey {
	spec := &p.limits[i]
	k := cacheKey{inst: p.id, idx: uint8(i), scope: c.Scope}
	switch spec.dim {
	case dimConsumer:
		k.s = c.Consumer
	case dimRoute:
		k.s = c.Route
	case dimGroup, dimGlobal:
		k.s = c.Group
	case dimHeader:
		if v := c.Header[spec.header]; len(v) > 0 {
			k.s = v[0]
		}
	}
	switch spec.dim {
	case dimIP:
		k.addr = normalAddr(c.Addr)
	case dimConsumer, dimRoute, dimGroup, dimHeader:
		if k.s == "" {
			k.fallback = true
			k.addr = normalAddr(c.Addr)
		}
	}
	return k
}

// requestKey reports whether limit i's key for c depends on more than c's
// consumer, group, route and scope: the client address, a header.
func (p *Limiter) requestKey(i int, k *cacheKey) bool {
	d := p.limits[i].dim
	return d == dimIP || d == dimHeader || k.fallback
}

func normalAddr(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Zone() != "" {
		a = a.WithZone("")
	}
	return a
}

// buildKey builds the key of spec for k (see Keys).
func (p *Limiter) buildKey(spec *limitSpec, k *cacheKey) string {
	b := make([]byte, 0, len(p.prefix)+len(k.scope)+len(spec.tag)+len(k.s)+48)
	b = append(b, p.prefix...)
	for i := 0; i < len(k.scope); i++ {
		switch c := k.scope[i]; c {
		case '%':
			b = append(b, "%25"...)
		case ':':
			b = append(b, "%3A"...)
		default:
			b = append(b, c)
		}
	}
	if p.tagged {
		b = append(b, '}')
	}
	b = append(b, ':')
	b = append(b, spec.tag...)
	switch {
	case k.fallback:
		b = append(b, "~ip:"...)
		b = appendAddr(b, k.addr)
	case spec.dim == dimIP:
		b = append(b, ':')
		b = appendAddr(b, k.addr)
	case len(k.s) > maxRawValue:
		sum := sha256.Sum256([]byte(k.s))
		b = append(b, "#:"...)
		b = hex.AppendEncode(b, sum[:])
	default:
		b = append(b, ':')
		b = append(b, k.s...)
	}
	return string(b)
}

func appendAddr(b []byte, a netip.Addr) []byte {
	if !a.IsValid() {
		return append(b, '-')
	}
	return a.AppendTo(b)
}

// cacheKey is what a key is built from.
type cacheKey struct {
	inst     uint64
	idx      uint8
	fallback bool
	scope    string
	s        string
	addr     netip.Addr
}

// keyCache keeps built keys, in shards each behind its own mutex. A full
// shard drops an entry taken at random (Go's map iteration starts at a random
// place) to make room: the cost of a miss is one key built again.
type keyCache struct {
	seed     maphash.Seed
	mask     uint64
	perShard int
	shards   []keyShard
}

type keyShard struct {
	mu sync.Mutex
	m  map[cacheKey]string
	_  [48]byte // keep shards on separate cache lines
}

func newKeyCache(size int) *keyCache {
	if size <= 0 {
		return nil
	}
	n := 1 << bits.Len(uint(4*runtime.GOMAXPROCS(0)-1))
	for n > 1 && size/n < 64 {
		n /= 2
	}
	kc := &keyCache{
		seed:     maphash.MakeSeed(),
		mask:     uint64(n - 1),
		perShard: max(size/n, 1),
		shards:   make([]keyShard, n),
	}
	for i := range kc.shards {
		kc.shards[i].m = make(map[cacheKey]string)
	}
	return kc
}

func (kc *keyCache) shard(k *cacheKey) *keyShard {
	h := maphash.String(kc.seed, k.s) ^ k.inst*0x9e3779b97f4a7c15 ^ uint64(k.idx)<<56
	if k.addr.IsValid() {
		a := k.addr.As16()
		h ^= binary.LittleEndian.Uint64(a[:8])*0xff51afd7ed558ccd ^ binary.LittleEndian.Uint64(a[8:])*0xc4ceb9fe1a85ec53
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	return &kc.shards[h&kc.mask]
}

// get returns the key of k, building and keeping it on a miss.
func (kc *keyCache) get(k *cacheKey, p *Limiter, spec *limitSpec) string {
	s := kc.shard(k)
	s.mu.Lock()
	key, ok := s.m[*k]
	s.mu.Unlock()
	if ok {
		return key
	}
	key = p.buildKey(spec, k)
	// Copy the caller's strings: they may be slices of a request's buffers.
	stored := *k
	stored.scope = strings.Clone(k.scope)
	stored.s = strings.Clone(k.s)
	s.mu.Lock()
	if len(s.m) >= kc.perShard {
		for old := range s.m {
			delete(s.m, old)
			break
		}
	}
	s.m[stored] = key
	s.mu.Unlock()
	return key
}
