package keyauth_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/credential/keyauth"
)

// escapeAll percent-encodes every byte of s, the longest form a query value
// of s can take.
func escapeAll(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteString("%" + strings.ToUpper(string("0123456789abcdef"[s[i]>>4])+string("0123456789abcdef"[s[i]&15])))
	}
	return b.String()
}

// TestKeyLengthCap: a key of MaxKeyLen bytes authenticates from every
// source, in the query even fully escaped; one byte more is refused as an
// invalid key (401, not "missing"), from every source.
func TestKeyLengthCap(t *testing.T) {
	atCap := strings.Repeat("k", keyauth.MaxKeyLen)
	over := atCap + "k"
	f := finder{}
	f.add(t, "alice", atCap, nil)
	a := newAuth(t, `{}`)
	for _, tc := range []struct {
		name string
		key  string
		set  func(r *http.Request, key string)
	}{
		{"header", atCap, func(r *http.Request, k string) { r.Header.Set("apikey", k) }},
		{"bearer", atCap, func(r *http.Request, k string) { r.Header.Set("Authorization", "Bearer "+k) }},
		{"query", atCap, func(r *http.Request, k string) { r.URL.RawQuery = "apikey=" + k }},
		{"query fully escaped", atCap, func(r *http.Request, k string) { r.URL.RawQuery = "apikey=" + escapeAll(k) }},
		{"header", over, func(r *http.Request, k string) { r.Header.Set("apikey", k) }},
		{"bearer", over, func(r *http.Request, k string) { r.Header.Set("Authorization", "Bearer "+k) }},
		{"query", over, func(r *http.Request, k string) { r.URL.RawQuery = "apikey=" + k }},
		{"query fully escaped", over, func(r *http.Request, k string) { r.URL.RawQuery = "apikey=" + escapeAll(k) }},
		{"query escaped, then a valid key", over, func(r *http.Request, k string) {
			r.URL.RawQuery = "apikey=" + url.QueryEscape(k) + "&apikey=" + atCap
		}},
	} {
		size := "at the cap"
		if tc.key == over {
			size = "one over"
		}
		t.Run(tc.name+"/"+size, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/x", nil)
			tc.set(r, tc.key)
			m, err := a.Authenticate(r, f.index())
			if tc.key == atCap {
				require.NoError(t, err)
				require.Equal(t, "alice", m.Identity.Consumer.Username)
				return
			}
			var ae *credential.AuthError
			require.True(t, errors.As(err, &ae), "%v", err)
			require.Equal(t, http.StatusUnauthorized, ae.Status)
			require.Equal(t, keyauth.MsgInvalid, ae.Message)
			require.False(t, ae.Missing)
		})
	}
}

// TestLongQueryAllocatesNothing: a query value too long to be a key, and a
// query of many escaped parameter names, are refused without copying them.
func TestLongQueryAllocatesNothing(t *testing.T) {
	a := newAuth(t, `{}`)
	idx := finder{}.index()
	for name, q := range map[string]string{
		"long escaped value": "apikey=" + strings.Repeat("%41", 64<<10),
		"many escaped names": strings.Repeat("%61=1&", 10<<10) + "apikey=unknown-key",
	} {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/x", nil)
			r.URL.RawQuery = q
			allocs := testing.AllocsPerRun(20, func() { _, _ = a.Authenticate(r, idx) })
			require.Zero(t, allocs)
		})
	}
}
