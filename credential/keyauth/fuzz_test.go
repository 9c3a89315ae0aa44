package keyauth_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/credential/keyauth"
)

// FuzzExtract feeds arbitrary headers and query strings to the key extraction
// and checks that it never panics and that what it finds is what was sent.
func FuzzExtract(f *testing.F) {
	f.Add("alice-key", "Bearer alice-key", "apikey=alice-key")
	f.Add("", "bearer   ", "apikey=%zz&apikey=2")
	f.Add("", "Basic abc", "a=1&&apikey&apikey=")
	f.Add("", "", "api%6Bey=x+y")
	a := newAuthF(f)
	fd := credential.NewIndex()
	f.Fuzz(func(t *testing.T, header, authz, rawQuery string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.URL.RawQuery = rawQuery
		if header != "" {
			r.Header["Apikey"] = []string{header}
		}
		if authz != "" {
			r.Header["Authorization"] = []string{authz}
		}
		_, _ = a.Authenticate(r, fd)
		if tok, ok := keyauth.Bearer(authz); ok && (tok == "" || strings.TrimSpace(tok) != tok) {
			t.Fatalf("Bearer(%q) = %q", authz, tok)
		}
		if v, ok := keyauth.QueryValue(rawQuery, "apikey"); ok {
			q, err := url.ParseQuery(rawQuery)
			if err == nil && q.Get("apikey") != v {
				t.Fatalf("QueryValue(%q) = %q, url.ParseQuery says %q", rawQuery, v, q.Get("apikey"))
			}
		}
		stripped := keyauth.RemoveQuery(rawQuery, "apikey")
		if _, ok := keyauth.QueryValue(stripped, "apikey"); ok {
			t.Fatalf("RemoveQuery(%q) left the key: %q", rawQuery, stripped)
		}
	})
}

func newAuthF(f *testing.F) *keyauth.Authenticator {
	p, err := keyauth.Definition{}.New([]byte(`{}`))
	if err != nil {
		f.Fatal(err)
	}
	return p.(*keyauth.Authenticator)
}
