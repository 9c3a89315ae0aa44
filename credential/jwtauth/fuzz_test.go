package jwtauth_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/credential/jwtauth"
	"github.com/gatehousehq/gatehouse/credential/keyauth"
	"github.com/gatehousehq/gatehouse/keyring"
)

// fuzzCred is a credential of the fuzz index with the key that must have
// signed every token it accepts.
type fuzzCred struct {
	alg string
	key any // verification key
}

// fuzzIndex builds an index holding an HS256 and an RS256 credential, as the
// gateway's view would after Seal and Compile.
func fuzzIndex(t testing.TB) (*credential.Index, map[string]fuzzCred) {
	k := getKeys()
	ring, _ := keyring.Generate()
	d := &jwtauth.Definition{Ring: ring}
	idx := credential.NewIndex()
	creds := map[string]fuzzCred{}
	add := func(user, settings string, fc fuzzCred) {
		sealed, err := d.Seal(json.RawMessage(settings), nil)
		if err != nil {
			t.Fatal(err)
		}
		secret, err := d.Compile(sealed.Stored)
		if err != nil {
			t.Fatal(err)
		}
		cr := &credential.Credential{ID: user, Consumer: user, Name: user, Enabled: true, Lookup: sealed.Lookup,
			Plugins: map[string]json.RawMessage{jwtauth.Name: sealed.Stored}}
		c := &consumer.Consumer{Username: user}
		idx.Update(nil, []*credential.Match{{Credential: cr, Secret: secret, Identity: consumer.Identity{Consumer: c, CredentialID: cr.ID}}})
		creds[user] = fc
	}
	add("hs", `{"key":"hs","secret":"`+secret256+`"}`, fuzzCred{"HS256", []byte(secret256)})
	add("rs", `{"key":"rs","algorithm":"RS256","public_key":`+jsonString(publicPEM(t, &k.rsa.PublicKey))+`}`, fuzzCred{"RS256", &k.rsa.PublicKey})
	return idx, creds
}

// FuzzJWT sends arbitrary tokens (in the Authorization header, the query
// and a cookie) through two authenticators, one with the defaults and one
// with exp_required and a MaxTokenLen of 2 KiB: they never panic, every
// failure is a 401 of API.md, and a token they accept is one signed with the
// key of the credential it names, under that credential's algorithm; with
// exp_required it has an exp, and it is no longer than the cap.
func FuzzJWT(f *testing.F) {
	k := getKeys()
	hs := sign(f, jwt.SigningMethodHS256, []byte(secret256), claims("hs"))
	rs := sign(f, jwt.SigningMethodRS256, k.rsa, claims("rs"))
	f.Add("Bearer "+hs, "", "")
	f.Add(hs, "jwt="+rs, "")
	f.Add("", "", "jwt="+rs)
	f.Add("bearer "+sign(f, jwt.SigningMethodHS256, []byte(publicPEM(f, &k.rsa.PublicKey)), claims("rs")), "", "")
	f.Add(sign(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims("hs")), "", "")
	f.Add("a.b.c", "jwt=%zz", "jwt=\"x\"")
	f.Add("eyJhbGciOiJIUzI1NiJ9.eyJrZXkiOiJocyJ9.", "", "")
	f.Add(sign(f, jwt.SigningMethodHS256, []byte(secret256), jwt.MapClaims{"key": "hs"}), "", "")
	f.Add("", "jwt="+sign(f, jwt.SigningMethodRS256, k.rsa, claims("rs", "pad", strings.Repeat("p", 1500))), "")

	idx, creds := fuzzIndex(f)
	msgs := map[string]bool{jwtauth.MsgMissing: true, jwtauth.MsgInvalidToken: true, jwtauth.MsgMissingKey: true,
		jwtauth.MsgInvalidKey: true, jwtauth.MsgVerifyFailure: true}
	p, err := (&jwtauth.Definition{}).New(json.RawMessage(`{"hide_credentials":true}`))
	if err != nil {
		f.Fatal(err)
	}
	a := p.(*jwtauth.Authenticator)
	const strictMax = 2048
	p, err = (&jwtauth.Definition{MaxTokenLen: strictMax}).New(json.RawMessage(`{"exp_required":true}`))
	if err != nil {
		f.Fatal(err)
	}
	strict := p.(*jwtauth.Authenticator)

	f.Fuzz(func(t *testing.T, authz, rawQuery, cookie string) {
		request := func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.URL.RawQuery = rawQuery
			if authz != "" {
				r.Header["Authorization"] = []string{authz}
			}
			if cookie != "" {
				r.Header["Cookie"] = []string{cookie}
			}
			return r
		}
		r := request()
		// Every token the request could be carrying, before hide_credentials
		// strips it.
		var candidates []string
		if tok, ok := jwtauth.HeaderToken(authz); ok {
			candidates = append(candidates, tok)
		}
		if v, ok := keyauth.QueryValue(rawQuery, "jwt"); ok {
			candidates = append(candidates, v)
		}
		if v, ok := jwtauth.CookieValue([]string{cookie}, "jwt"); ok {
			candidates = append(candidates, v)
		}
		if tok, ok := jwtauth.HeaderToken(authz); ok && (tok == "" || strings.TrimSpace(tok) != tok) {
			t.Fatalf("HeaderToken(%q) = %q", authz, tok)
		}

		failed := func(err error) bool {
			if err == nil {
				return false
			}
			ae, ok := err.(*credential.AuthError)
			if !ok || ae.Status != http.StatusUnauthorized || !msgs[ae.Message] {
				t.Fatalf("unexpected failure %#v", err)
			}
			return true
		}

		if m, err := strict.Authenticate(request(), idx); !failed(err) {
			fc := creds[m.Credential.ID]
			signed := func(tok string) bool {
				_, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return fc.key, nil },
					jwt.WithValidMethods([]string{fc.alg}), jwt.WithLeeway(time.Second), jwt.WithExpirationRequired())
				return err == nil && len(tok) <= strictMax
			}
			if !slices.ContainsFunc(candidates, signed) {
				t.Fatalf("exp_required authenticated %q with none of %q signed by its key, with exp, within %d bytes", m.Credential.ID, candidates, strictMax)
			}
		}

		m, err := a.Authenticate(r, idx)
		if failed(err) {
			return
		}
		fc := creds[m.Credential.ID]
		for _, tok := range candidates {
			_, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return fc.key, nil },
				jwt.WithValidMethods([]string{fc.alg}), jwt.WithLeeway(time.Second))
			if err == nil {
				if v, ok := jwtauth.CookieValue(r.Header["Cookie"], "jwt"); ok && v == tok {
					t.Fatalf("hide_credentials left the token in the cookie")
				}
				return
			}
		}
		t.Fatalf("authenticated %q with none of %q signed by its key", m.Credential.ID, candidates)
	})
}
