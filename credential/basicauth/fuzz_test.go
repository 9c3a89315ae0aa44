package basicauth_test

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/credential/basicauth"
)

// FuzzBasicHeader feeds arbitrary Authorization values to the parser and the
// authenticator: they never panic, the parser decodes what was encoded, and
// whatever it accepts is Basic credentials split on their first colon.
func FuzzBasicHeader(f *testing.F) {
	f.Add("Basic YWxpY2U6czNjcmV0", "alice", "s3cret")
	f.Add("basic YWxpY2U", "a:b", ":c:")
	f.Add("Basic ===", "", "")
	f.Add("BASIC\tYQ==  ", "\x00", "\xff")
	f.Add("Bearer abc", "jöns", "p ä s s")
	// The dummy check of an unknown username is a real bcrypt: keep it cheap.
	p, err := basicauth.Definition{Cost: bcrypt.MinCost, Limiter: basicauth.NewLimiter(0, basicauth.WithRefusalDelay(0))}.New(nil)
	if err != nil {
		f.Fatal(err)
	}
	a := p.(*basicauth.Authenticator)
	idx := credential.NewIndex()
	f.Fuzz(func(t *testing.T, header, user, pass string) {
		u, pw, err := basicauth.ParseHeader(header)
		switch {
		case err == nil:
			tok := strings.Trim(header[len("basic"):], " \t")
			if !strings.EqualFold(header[:len("basic")], "basic") || strings.Contains(u, ":") {
				t.Fatalf("ParseHeader(%q) = %q, %q", header, u, pw)
			}
			if dec, derr := base64.RawStdEncoding.DecodeString(strings.TrimRight(tok, "=")); derr == nil && string(dec) != u+":"+pw {
				t.Fatalf("ParseHeader(%q) = %q, %q; base64 says %q", header, u, pw, dec)
			}
		case !errors.Is(err, basicauth.ErrNotBasic) && !errors.Is(err, basicauth.ErrMalformed):
			t.Fatalf("ParseHeader(%q): unexpected error %v", header, err)
		}

		// Round trip: what is encoded is decoded, split on the first colon.
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding} {
			v := "Basic " + enc.EncodeToString([]byte(user+":"+pass))
			gu, gp, err := basicauth.ParseHeader(v)
			if len(user)+1+len(pass) > 4*basicauth.MaxUsernameLen+1+basicauth.MaxPasswordLen {
				if !errors.Is(err, basicauth.ErrMalformed) {
					t.Fatalf("ParseHeader of %d bytes: %v", len(user)+1+len(pass), err)
				}
				continue
			}
			want := user + ":" + pass
			wu, wp, _ := strings.Cut(want, ":")
			if err != nil || gu != wu || gp != wp {
				t.Fatalf("ParseHeader(%q) = %q, %q, %v; want %q, %q", v, gu, gp, err, wu, wp)
			}
		}

		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header["Authorization"] = []string{header}
		if _, err := a.Authenticate(r, idx); !errors.Is(err, credential.ErrUnauthorized) {
			t.Fatalf("Authenticate(%q) with an empty index: %v", header, err)
		}
	})
}
