package jwtauth

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeClock is a settable clock, safe for the fetch goroutines to read.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// edDoc returns a JWKS document of n Ed25519 keys, kids k0, k1, ...
func edDoc(t testing.TB, n int) []byte {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	keys := make([]map[string]string, n)
	for i := range keys {
		keys[i] = map[string]string{"kty": "OKP", "crv": "Ed25519", "kid": "k" + strconv.Itoa(i),
			"x": base64.RawURLEncoding.EncodeToString(pub)}
	}
	doc, err := json.Marshal(map[string]any{"keys": keys})
	require.NoError(t, err)
	return doc
}

// padTo returns doc followed by spaces up to n bytes: still the same JSON.
func padTo(t testing.TB, doc []byte, n int) []byte {
	t.Helper()
	require.LessOrEqual(t, len(doc), n)
	return append(bytes.Clone(doc), bytes.Repeat([]byte{' '}, n-len(doc))...)
}

func TestParseKeySetCaps(t *testing.T) {
	t.Run("number of keys", func(t *testing.T) {
		set, skipped, err := parseKeySet(edDoc(t, MaxJWKSKeys))
		require.NoError(t, err)
		require.Empty(t, skipped)
		require.Len(t, set.all, MaxJWKSKeys)
		_, _, err = parseKeySet(edDoc(t, MaxJWKSKeys+1))
		require.ErrorContains(t, err, "more than 64")
	})
	t.Run("size of one key", func(t *testing.T) {
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		require.NoError(t, err)
		// A key of exactly n bytes: its JSON padded by an x5c member.
		key := func(kid string, n int) string {
			k := `{"kty":"OKP","crv":"Ed25519","kid":"` + kid + `","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `","x5c":[""]}`
			return strings.Replace(k, `[""]`, `["`+strings.Repeat("A", n-len(k))+`"]`, 1)
		}
		at, over := key("at", MaxJWKLen), key("over", MaxJWKLen+1)
		require.Len(t, at, MaxJWKLen)
		require.Len(t, over, MaxJWKLen+1)
		set, skipped, err := parseKeySet([]byte(`{"keys":[` + at + `,` + over + `]}`))
		require.NoError(t, err)
		require.Contains(t, set.byKid, "at")
		require.NotContains(t, set.byKid, "over")
		require.Len(t, skipped, 1)
		require.ErrorContains(t, skipped[0], "over 16384")
	})
	t.Run("document size", func(t *testing.T) {
		set, _, err := parseKeySet(padTo(t, edDoc(t, 1), MaxJWKSSize))
		require.NoError(t, err)
		require.Len(t, set.all, 1)
		_, _, err = parseKeySet(padTo(t, edDoc(t, 1), MaxJWKSSize+1))
		require.ErrorContains(t, err, "over 1048576")
	})
}

// TestJWKSDocumentCap serves documents at and one byte over MaxJWKSSize: the
// first is used, the second is refused while the last good set keeps
// serving, and the failure is logged once however often it repeats.
func TestJWKSDocumentCap(t *testing.T) {
	var (
		mu  sync.Mutex
		doc []byte
	)
	serve := func(d []byte) { mu.Lock(); doc = d; mu.Unlock() }
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		_, _ = w.Write(doc)
	}))
	defer srv.Close()
	logs := &LogRecorder{}
	clock := newFakeClock()
	reg := newJWKSRegistry(srv.Client(), 5*time.Second, 5*time.Second, 0, slog.New(logs), clock.now)
	s := reg.source(srv.URL)
	fetch := func() {
		t.Helper()
		clock.advance(6 * time.Second) // past the minimum interval
		done := s.refresh()
		require.NotNil(t, done)
		<-done
	}

	small := edDoc(t, 2)
	serve(small)
	fetch()
	first := s.set.Load()
	require.NotNil(t, first)

	serve(padTo(t, small, MaxJWKSSize))
	fetch()
	atCap := s.set.Load()
	require.NotSame(t, first, atCap, "a document of exactly MaxJWKSSize bytes is used")
	require.Len(t, atCap.all, 2)

	serve(padTo(t, edDoc(t, 3), MaxJWKSSize+1))
	for range 3 {
		fetch()
		require.Same(t, atCap, s.set.Load(), "an oversized document keeps the last good set")
		require.ErrorContains(t, s.error(), "more than 1048576 bytes")
	}
	require.Equal(t, 1, logs.Count("WARN", "JWKS fetch failed", "more than 1048576 bytes"))

	serve(edDoc(t, 3))
	fetch()
	require.Len(t, s.set.Load().all, 3)
	require.Equal(t, 1, logs.Count("INFO", "JWKS fetched again"))
}

// TestJWKSTableBounded compiles routes with many distinct URLs over time,
// one of them used by requests throughout: the table never holds more than
// its bound, the URL in use keeps its source and key set, and a URL no route
// uses any more is dropped.
func TestJWKSTableBounded(t *testing.T) {
	const maxURLs = 3
	logs := &LogRecorder{}
	reg := newJWKSRegistry(http.DefaultClient, time.Second, time.Second, maxURLs, slog.New(logs), time.Now)
	inUse := reg.source("https://idp.example/certs")
	set, _, err := parseKeySet(edDoc(t, 1))
	require.NoError(t, err)
	inUse.set.Store(set)
	inUse.fetchedAt.Store(time.Now().UnixNano())

	first := reg.source("https://gone.example/0")
	for i := 1; i <= 50; i++ {
		s := reg.source("https://gone.example/" + strconv.Itoa(i))
		require.NotNil(t, s, "a new URL is never refused")
		require.LessOrEqual(t, reg.len(), maxURLs)
		// A request on the route in use.
		require.Same(t, set, inUse.current(time.Now().UnixNano(), time.Hour))
	}
	require.Equal(t, maxURLs, reg.len())
	require.Same(t, inUse, reg.source("https://idp.example/certs"), "the URL in use keeps its source")
	require.Same(t, set, inUse.set.Load())
	require.NotSame(t, first, reg.source("https://gone.example/0"), "an unused URL was dropped")
	require.Positive(t, logs.Count("INFO", "JWKS table full", "url=https://gone.example/0"))
	require.Zero(t, logs.Count("url=https://idp.example/certs"))
}
