package hmacauth_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/credential/hmacauth"
	"github.com/gatehousehq/gatehouse/validation"
)

// TestBodyCapBothFormats checks max_req_body (64 on route "body") for the
// APISIX Digest and the RFC 9421 Content-Digest checks: a body of exactly
// the cap passes and reaches the handler whole, one byte more is 413, with
// the length announced or not (chunked).
func TestBodyCapBothFormats(t *testing.T) {
	e := newTestEnv(t)
	created := `;created=` + strconv.FormatInt(t0.Unix(), 10) + `;keyid="alice-key"`
	formats := map[string]func(r *http.Request, body string){
		"Digest": func(r *http.Request, body string) {
			r.Header.Set("Digest", hmacauth.Digest([]byte(body)))
			sign(r, "alice-key", aliceSecret, "hmac-sha256", "@request-target", "date")
		},
		"Content-Digest": func(r *http.Request, body string) {
			r.Header.Set("Content-Digest", hmacauth.ContentDigest([]byte(body)))
			sign9421(r, aliceSecret, []string{"@method", "@path", "content-digest"}, created)
		},
	}
	for name, signed := range formats {
		for _, chunked := range []bool{false, true} {
			for _, tc := range []struct {
				size   int
				status int
			}{{64, http.StatusOK}, {65, http.StatusRequestEntityTooLarge}} {
				t.Run(name+"/"+strconv.Itoa(tc.size)+"/chunked="+strconv.FormatBool(chunked), func(t *testing.T) {
					body := strings.Repeat("b", tc.size)
					r := request(http.MethodPost, "/orders", body)
					if chunked {
						r.ContentLength = -1
					}
					signed(r, body)
					w := e.serve("body", r)
					require.Equal(t, tc.status, w.Code, w.Body.String())
					if tc.status == http.StatusOK {
						require.Equal(t, body, decode(t, w).Body)
						return
					}
					require.JSONEq(t, `{"message":"request body is too large"}`, w.Body.String())
				})
			}
		}
	}
}

// TestSignedComponentsCap checks that a signature may cover at most
// MaxSignedComponents entries, in both formats, and that the APISIX headers=
// list may not name one entry twice.
func TestSignedComponentsCap(t *testing.T) {
	e := newTestEnv(t)
	// n entries: the two the route needs, then x-h-<i> headers.
	entries := func(r *http.Request, first []string, n int) []string {
		out := append([]string(nil), first...)
		for i := 0; len(out) < n; i++ {
			name := "x-h-" + strconv.Itoa(i)
			r.Header.Set(name, "v"+strconv.Itoa(i))
			out = append(out, name)
		}
		return out
	}
	created := `;created=` + strconv.FormatInt(t0.Unix(), 10) + `;keyid="alice-key"`
	for _, n := range []int{hmacauth.MaxSignedComponents, hmacauth.MaxSignedComponents + 1} {
		want := http.StatusOK
		if n > hmacauth.MaxSignedComponents {
			want = http.StatusUnauthorized
		}
		t.Run("Signature/"+strconv.Itoa(n), func(t *testing.T) {
			r := request(http.MethodGet, "/orders", "")
			sign(r, "alice-key", aliceSecret, "hmac-sha256", entries(r, []string{"@request-target", "date"}, n)...)
			w := e.serve("r", r)
			require.Equal(t, want, w.Code, w.Body.String())
		})
		t.Run("Signature-Input/"+strconv.Itoa(n), func(t *testing.T) {
			r := request(http.MethodGet, "/orders", "")
			sign9421(r, aliceSecret, entries(r, []string{"@method", "@path"}, n), created)
			w := e.serve("r", r)
			require.Equal(t, want, w.Code, w.Body.String())
		})
	}
	for name, headers := range map[string][]string{
		"same entry twice":         {"@request-target", "date", "x-big", "x-big"},
		"same entry in other case": {"@request-target", "date", "x-big", "X-Big"},
	} {
		t.Run(name, func(t *testing.T) {
			r := request(http.MethodGet, "/orders", "")
			r.Header.Set("X-Big", strings.Repeat("v", 1000))
			sign(r, "alice-key", aliceSecret, "hmac-sha256", headers...)
			w := e.serve("r", r)
			require.Equal(t, http.StatusUnauthorized, w.Code, w.Body.String())
			require.JSONEq(t, `{"message":"client request can't be validated"}`, w.Body.String())
		})
	}
}

// TestSignedHeadersSettingCap: a route may require at most
// MaxSignedComponents signed headers, since no signature can cover more.
func TestSignedHeadersSettingCap(t *testing.T) {
	for _, n := range []int{hmacauth.MaxSignedComponents, hmacauth.MaxSignedComponents + 1} {
		names := make([]string, n)
		for i := range names {
			names[i] = `"x-h-` + strconv.Itoa(i) + `"`
		}
		_, err := hmacauth.Definition{}.New(json.RawMessage(`{"signed_headers":[` + strings.Join(names, ",") + `]}`))
		if n <= hmacauth.MaxSignedComponents {
			require.NoError(t, err)
			continue
		}
		var ve *validation.Error
		require.True(t, errors.As(err, &ve), "%v", err)
		require.Contains(t, ve.Fields, "signed_headers")
	}
}
