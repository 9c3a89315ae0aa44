package jwtauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Bounds of a JWKS document, which comes from the network.
const (
	// MaxJWKSSize bounds a JWKS document, in bytes. A larger one is refused
	// as a whole: the last good key set keeps serving.
	MaxJWKSSize = 1 << 20
	// MaxJWKSKeys bounds the number of keys of a JWKS document. A document
	// with more is refused as a whole, as a larger one is: a token without
	// a kid is tried against every key that fits its algorithm, so the
	// number of keys bounds the signature checks one request can cost.
	MaxJWKSKeys = 64
	// MaxJWKLen bounds one key of a JWKS document (its JSON, x5c and all),
	// in bytes. A larger key is skipped; the others are used.
	MaxJWKLen = 16 << 10
)

// jwk is one usable key of a key set.
type jwk struct {
	kid string
	alg string // "" when the JWK names none
	key any
}

// keySet is one fetched JWKS document. It is immutable once published.
type keySet struct {
	byKid map[string]*jwk
	all   []*jwk
}

// rawJWK is a JWK as RFC 7517/7518/8037 write it.
type rawJWK struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	Crv string `json:"crv"`
	N   string `json:"n"`
	E   string `json:"e"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// parseKeySet parses a JWKS document ({"keys": [...]}) into its public keys:
// RSA (at least MinRSABits), EC P-256 and P-384, and Ed25519 (OKP) keys whose
// "use", when present, is "sig". Other keys, symmetric ones included, and
// keys over MaxJWKLen are skipped and reported in skipped; a document that
// does not parse, is over MaxJWKSSize or has more than MaxJWKSKeys keys is
// an error.
func parseKeySet(doc []byte) (*keySet, []error, error) {
	if len(doc) > MaxJWKSSize {
		return nil, nil, fmt.Errorf("jwks: document of %d bytes is over %d", len(doc), MaxJWKSSize)
	}
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(doc, &raw); err != nil {
		return nil, nil, fmt.Errorf("jwks: not a JWKS document: %w", err)
	}
	if len(raw.Keys) > MaxJWKSKeys {
		return nil, nil, fmt.Errorf("jwks: %d keys, more than %d", len(raw.Keys), MaxJWKSKeys)
	}
	set := &keySet{byKid: map[string]*jwk{}}
	var skipped []error
	for i, r := range raw.Keys {
		if len(r) > MaxJWKLen {
			skipped = append(skipped, fmt.Errorf("jwks: key %d: %d bytes, over %d", i, len(r), MaxJWKLen))
			continue
		}
		var k rawJWK
		if err := json.Unmarshal(r, &k); err != nil {
			skipped = append(skipped, fmt.Errorf("jwks: key %d: %w", i, err))
			continue
		}
		pub, err := k.publicKey()
		if err != nil {
			skipped = append(skipped, fmt.Errorf("jwks: key %d (kid %q): %w", i, k.Kid, err))
			continue
		}
		if k.Alg != "" {
			if err := checkKeyFor(pub, k.Alg); err != nil {
				skipped = append(skipped, fmt.Errorf("jwks: key %d (kid %q): alg %q: %w", i, k.Kid, k.Alg, err))
				continue
			}
		}
		e := &jwk{kid: k.Kid, alg: k.Alg, key: pub}
		set.all = append(set.all, e)
		if k.Kid != "" {
			set.byKid[k.Kid] = e
		}
	}
	return set, skipped, nil
}

func (k *rawJWK) publicKey() (any, error) {
	if k.Use != "" && k.Use != "sig" {
		return nil, fmt.Errorf("use %q is not sig", k.Use)
	}
	switch k.Kty {
	case "RSA":
		n, err := b64Int(k.N)
		if err != nil {
			return nil, fmt.Errorf("n: %w", err)
		}
		e, err := b64Int(k.E)
		if err != nil {
			return nil, fmt.Errorf("e: %w", err)
		}
		if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 || e.Bit(0) == 0 {
			return nil, errors.New("e is not a usable RSA exponent")
		}
		if n.BitLen() < MinRSABits {
			return nil, fmt.Errorf("RSA key of %d bits is too short", n.BitLen())
		}
		return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
	case "EC":
		var curve elliptic.Curve
		switch k.Crv {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		default:
			return nil, fmt.Errorf("curve %q is not supported", k.Crv)
		}
		size := (curve.Params().BitSize + 7) / 8
		x, err1 := base64.RawURLEncoding.DecodeString(k.X)
		y, err2 := base64.RawURLEncoding.DecodeString(k.Y)
		if err1 != nil || err2 != nil || len(x) != size || len(y) != size {
			return nil, errors.New("x and y must be base64url coordinates of the curve's size")
		}
		point := make([]byte, 0, 1+2*size)
		point = append(append(append(point, 4), x...), y...)
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
		if err != nil {
			return nil, fmt.Errorf("EC point: %w", err)
		}
		return pub, nil
	case "OKP":
		if k.Crv != "Ed25519" {
			return nil, fmt.Errorf("curve %q is not supported", k.Crv)
		}
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, errors.New("x must be a base64url Ed25519 public key")
		}
		return ed25519.PublicKey(x), nil
	case "oct":
		return nil, errors.New("symmetric keys are never taken from a JWKS")
	default:
		return nil, fmt.Errorf("kty %q is not supported", k.Kty)
	}
}

func b64Int(s string) (*big.Int, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) == 0 {
		return nil, errors.New("not base64url")
	}
	return new(big.Int).SetBytes(b), nil
}

// jwksRegistry holds one source per JWKS URL, shared by every route of a
// Definition so that recompiling routes keeps the fetched key sets.
//
// The table is bounded by max URLs, least recently used out. Use is ordered
// by a counter, epoch, that each route compiled with a JWKS URL advances: a
// source records the epoch of its last use (a route compiled with it, or a
// request checked against it), and a route compiled with a new URL when the
// table is full drops the source whose last use is the oldest. So a URL that
// requests still use outlives one no route used since. A dropped source
// keeps working for the authenticators compiled with it (they hold it, not
// its URL); it is only no longer shared with routes compiled later. No
// request can add a URL: only compiling a route does.
type jwksRegistry struct {
	client *http.Client
	minGap time.Duration
	wait   time.Duration
	max    int
	log    *slog.Logger
	now    func() time.Time

	// epoch orders uses: a compile takes two values, the first for the
	// source it returns, the second for the requests that follow it.
	epoch atomic.Uint64

	mu      sync.Mutex
	sources map[string]*jwksSource
}

func newJWKSRegistry(client *http.Client, minGap, wait time.Duration, maxURLs int, log *slog.Logger, now func() time.Time) *jwksRegistry {
	if maxURLs <= 0 {
		maxURLs = DefaultJWKSMaxURLs
	}
	return &jwksRegistry{client: client, minGap: minGap, wait: wait, max: maxURLs, log: log, now: now,
		sources: map[string]*jwksSource{}}
}

// source returns the source of url, adding it (and dropping the least
// recently used one when the table is full) when there is none.
func (g *jwksRegistry) source(url string) *jwksSource {
	g.mu.Lock()
	defer g.mu.Unlock()
	used := g.epoch.Add(2) - 1
	if s, ok := g.sources[url]; ok {
		s.lastUsed.Store(used)
		return s
	}
	if len(g.sources) >= g.max {
		var oldest *jwksSource
		for _, s := range g.sources {
			if oldest == nil || s.lastUsed.Load() < oldest.lastUsed.Load() {
				oldest = s
			}
		}
		delete(g.sources, oldest.url)
		g.log.Info("jwt-auth: JWKS table full; dropped the URL used least recently", "url", oldest.url, "max", g.max)
	}
	s := &jwksSource{url: url, reg: g}
	s.lastUsed.Store(used)
	g.sources[url] = s
	return s
}

// len returns the number of URLs in the table.
func (g *jwksRegistry) len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.sources)
}

// jwksSource is the key set of one URL: served from memory, refreshed in the
// background when stale (requests never wait once a set is loaded), fetched
// at most once per minGap, by one goroutine per fetch that ends with it.
type jwksSource struct {
	url string
	reg *jwksRegistry

	set       atomic.Pointer[keySet]
	fetchedAt atomic.Int64  // Unix nanoseconds of the last successful fetch
	lastUsed  atomic.Uint64 // the registry's epoch at its last use

	mu          sync.Mutex
	inflight    chan struct{} // closed when the running fetch ends; nil when none runs
	lastAttempt time.Time
	lastSum     [sha256.Size]byte // of the document the set was parsed from
	lastErr     error
	failing     bool
}

// current returns the loaded key set (nil before the first load) and starts
// a background refresh when it is older than maxAge. It records the use.
func (s *jwksSource) current(now int64, maxAge time.Duration) *keySet {
	// Written at most once per epoch, so that requests mostly read shared
	// words; never moved back.
	if e, cur := s.reg.epoch.Load(), s.lastUsed.Load(); cur < e {
		s.lastUsed.CompareAndSwap(cur, e)
	}
	ks := s.set.Load()
	if ks != nil && now-s.fetchedAt.Load() > int64(maxAge) {
		s.refresh()
	}
	return ks
}

// load returns the key set, waiting (bounded) for the first fetch when none
// was ever loaded.
func (s *jwksSource) load(ctx context.Context, now int64, maxAge time.Duration) (*keySet, error) {
	if ks := s.current(now, maxAge); ks != nil {
		return ks, nil
	}
	if err := s.await(ctx, s.refresh()); err != nil {
		return nil, err
	}
	if ks := s.set.Load(); ks != nil {
		return ks, nil
	}
	return nil, s.error()
}

// refetch fetches the key set again for a kid it does not hold, unless a
// fetch ran less than minGap ago, and returns the set then current.
func (s *jwksSource) refetch(ctx context.Context) *keySet {
	_ = s.await(ctx, s.refresh())
	return s.set.Load()
}

func (s *jwksSource) error() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lastErr != nil {
		return s.lastErr
	}
	return errors.New("jwks: no key set loaded yet")
}

// await waits for done (nil: nothing to wait for), the request's end or the
// registry's wait bound.
func (s *jwksSource) await(ctx context.Context, done <-chan struct{}) error {
	if done == nil {
		return nil
	}
	t := time.NewTimer(s.reg.wait)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("jwks: waiting for %s: %w", s.url, ctx.Err())
	case <-t.C:
		return fmt.Errorf("jwks: %s did not answer within %s", s.url, s.reg.wait)
	}
}

// refresh starts a fetch unless one is running or the last one started less
// than minGap ago. It returns the channel closed when the running fetch ends,
// or nil when none runs.
func (s *jwksSource) refresh() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight != nil {
		return s.inflight
	}
	now := s.reg.now()
	if !s.lastAttempt.IsZero() && now.Sub(s.lastAttempt) < s.reg.minGap {
		return nil
	}
	s.lastAttempt = now
	done := make(chan struct{})
	s.inflight = done
	go s.fetch(done)
	return done
}

// fetch reads the JWKS document once and publishes it; on failure the
// previous set keeps serving. The failure is logged once per outage.
func (s *jwksSource) fetch(done chan struct{}) {
	body, err := s.get()
	var set *keySet
	var skipped []error
	if err == nil {
		set, skipped, err = parseKeySet(body)
	}
	s.mu.Lock()
	defer func() {
		s.inflight = nil
		s.mu.Unlock()
		close(done)
	}()
	if err != nil {
		s.lastErr = err
		if !s.failing {
			s.reg.log.Warn("jwt-auth: JWKS fetch failed; serving the last key set", "url", s.url, "err", err)
			s.failing = true
		}
		return
	}
	if s.failing {
		s.reg.log.Info("jwt-auth: JWKS fetched again", "url", s.url)
		s.failing = false
	}
	s.lastErr = nil
	for _, e := range skipped {
		s.reg.log.Debug("jwt-auth: JWKS key skipped", "url", s.url, "err", e)
	}
	if sum := sha256.Sum256(body); s.set.Load() == nil || sum != s.lastSum {
		// A new document: tokens verified with the old set are checked again.
		s.set.Store(set)
		s.lastSum = sum
	}
	s.fetchedAt.Store(s.reg.now().UnixNano())
}

func (s *jwksSource) get() ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), DefaultHTTPTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.reg.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, MaxJWKSSize))
		return nil, fmt.Errorf("jwks: %s answered %s", s.url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxJWKSSize+1))
	if err != nil {
		return nil, fmt.Errorf("jwks: read %s: %w", s.url, err)
	}
	if len(body) > MaxJWKSSize {
		return nil, fmt.Errorf("jwks: %s sent more than %d bytes", s.url, MaxJWKSSize)
	}
	return body, nil
}
