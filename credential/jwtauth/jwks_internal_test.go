package jwtauth

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

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
