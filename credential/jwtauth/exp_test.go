package jwtauth_test

import (
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/credential/jwtauth"
)

func TestExpRequired(t *testing.T) {
	k := getKeys()
	p := newIdP(t, rsaJWK("k1", &k.rsa.PublicKey))
	logs := &jwtauth.LogRecorder{}
	f := newFixture(t, &jwtauth.Definition{Logger: slog.New(logs)}, map[string]string{
		"r":        `{}`,
		"exp":      `{"exp_required":true}`,
		"idp":      `{"jwks":{"url":"` + p.srv.URL + `"}}`,
		"idp-exp":  `{"exp_required":true,"jwks":{"url":"` + p.srv.URL + `"}}`,
		"explicit": `{"exp_required":false}`,
	})
	f.consumer("alice")
	f.cred("alice", "a1", `{"key":"alice-key","secret":"`+secret256+`"}`)
	hs := func(c jwt.MapClaims) string { return sign(t, jwt.SigningMethodHS256, []byte(secret256), c) }
	rs := func(c jwt.MapClaims) string { return sign(t, jwt.SigningMethodRS256, k.rsa, c, "kid", "k1") }
	noExp := hs(jwt.MapClaims{"key": "alice-key"})
	idpNoExp := rs(jwt.MapClaims{"sub": "alice"})

	for _, tt := range []struct {
		name, route, tok, msg string
	}{
		{"no exp, default", "r", noExp, ""},
		{"no exp, exp_required false", "explicit", noExp, ""},
		{"no exp, exp_required", "exp", noExp, jwtauth.MsgVerifyFailure},
		{"exp, exp_required", "exp", hs(claims("alice-key")), ""},
		{"expired, exp_required", "exp", hs(claims("alice-key", "exp", time.Now().Add(-time.Minute).Unix())), jwtauth.MsgVerifyFailure},
		{"JWKS, no exp, default", "idp", idpNoExp, ""},
		{"JWKS, no exp, exp_required", "idp-exp", idpNoExp, jwtauth.MsgVerifyFailure},
		{"JWKS, exp, exp_required", "idp-exp", rs(idpClaims("alice")), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for range 2 { // the second time through the cache
				res := f.call(tt.route, bearer(tt.tok))
				if tt.msg == "" {
					requireOK(t, res, "alice")
					continue
				}
				requireFail(t, res, tt.msg)
			}
		})
	}
	require.Equal(t, 4, logs.Count("DEBUG", "token refused", "token is missing required claim: exp claim is required"),
		"the reason is logged at debug level, once per refusal")

	// A token accepted (and cached) on a route without exp_required is not
	// accepted on that route once it requires exp.
	fresh := hs(jwt.MapClaims{"key": "alice-key", "jti": "cached"})
	requireOK(t, f.call("r", bearer(fresh)), "alice")
	requireOK(t, f.call("r", bearer(fresh)), "alice")
	code, body := f.admin(http.MethodPut, "/api/routes/r", `{"plugins":{"jwt-auth":{"exp_required":true}}}`)
	require.Equal(t, http.StatusOK, code, body)
	requireFail(t, f.call("r", bearer(fresh)), jwtauth.MsgVerifyFailure)
}
