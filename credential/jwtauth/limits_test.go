package jwtauth_test

import (
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/credential/jwtauth"
)

// tokenOfLen returns an HS256 token of claims signed with secret256 that is
// exactly n bytes long, padded with a "pad" claim and a "pad" header.
func tokenOfLen(t testing.TB, n int, c jwt.MapClaims) string {
	t.Helper()
	b64 := base64.RawURLEncoding.EncodedLen
	enc := func(v any) int { b, _ := json.Marshal(v); return len(b) }
	for hpad := range 4 { // the payload's length alone cannot reach every n
		header := map[string]any{"alg": "HS256", "typ": "JWT", "pad": strings.Repeat("h", hpad)}
		cl := maps.Clone(c)
		length := func(pad int) int {
			cl["pad"] = strings.Repeat("p", pad)
			return b64(enc(header)) + 1 + b64(enc(cl)) + 1 + b64(32) // HS256: a 32-byte signature
		}
		start := max(0, (n-length(0))*3/4-4)
		for pad := start; pad < start+12; pad++ {
			if length(pad) == n {
				tok := sign(t, jwt.SigningMethodHS256, []byte(secret256), cl, "pad", strings.Repeat("h", hpad))
				require.Len(t, tok, n)
				return tok
			}
		}
	}
	t.Fatalf("no token of %d bytes", n)
	return ""
}

func TestTokenLengthCap(t *testing.T) {
	for _, tt := range []struct {
		name string
		def  *jwtauth.Definition
		max  int
	}{
		{"default", &jwtauth.Definition{}, jwtauth.DefaultMaxTokenLen},
		{"MaxTokenLen", &jwtauth.Definition{MaxTokenLen: 1000}, 1000},
		{"MaxTokenLen larger than the default", &jwtauth.Definition{MaxTokenLen: 20_000}, 20_000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.def, map[string]string{"r": `{}`})
			f.consumer("alice")
			f.cred("alice", "a1", `{"key":"alice-key","secret":"`+secret256+`"}`)
			at := tokenOfLen(t, tt.max, claims("alice-key"))
			over := tokenOfLen(t, tt.max+1, claims("alice-key"))
			for _, place := range []struct {
				name string
				put  func(tok string) func(*http.Request)
			}{
				{"header", bearer},
				{"query", func(tok string) func(*http.Request) {
					return func(r *http.Request) { r.URL.RawQuery = "jwt=" + tok }
				}},
				{"cookie", func(tok string) func(*http.Request) {
					return func(r *http.Request) { r.Header.Set("Cookie", "jwt="+tok) }
				}},
			} {
				t.Run(place.name, func(t *testing.T) {
					requireOK(t, f.call("r", place.put(at)), "alice")
					requireFail(t, f.call("r", place.put(over)), jwtauth.MsgInvalidToken)
				})
			}
		})
	}
}
