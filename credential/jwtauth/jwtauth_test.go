package jwtauth_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/credential/jwtauth"
	"github.com/gatehousehq/gatehouse/validation"
)

func TestAlgorithms(t *testing.T) {
	k := getKeys()
	f := newFixture(t, nil, map[string]string{"r": `{}`})
	tests := []struct {
		alg      string
		settings string
		method   jwt.SigningMethod
		key      any
		wrongKey any
	}{
		{"HS256", `{"key":"hs256","secret":"` + secret256 + `"}`, jwt.SigningMethodHS256, []byte(secret256), []byte(secret384)},
		{"HS384", `{"key":"hs384","algorithm":"HS384","secret":"` + secret384 + `"}`, jwt.SigningMethodHS384, []byte(secret384), []byte(secret512)},
		{"HS512", `{"key":"hs512","algorithm":"HS512","secret":"` + secret512 + `"}`, jwt.SigningMethodHS512, []byte(secret512), []byte(secret512 + "x")},
		{"RS256", `{"key":"rs256","algorithm":"RS256","public_key":` + jsonString(publicPEM(t, &k.rsa.PublicKey)) + `}`, jwt.SigningMethodRS256, k.rsa, k.rsa2},
		{"PS256", `{"key":"ps256","algorithm":"PS256","public_key":` + jsonString(publicPEM(t, &k.rsa.PublicKey)) + `}`, jwt.SigningMethodPS256, k.rsa, k.rsa2},
		{"ES256", `{"key":"es256","algorithm":"ES256","public_key":` + jsonString(publicPEM(t, &k.ec256.PublicKey)) + `}`, jwt.SigningMethodES256, k.ec256, mustEC256(t)},
		{"ES384", `{"key":"es384","algorithm":"ES384","public_key":` + jsonString(publicPEM(t, &k.ec384.PublicKey)) + `}`, jwt.SigningMethodES384, k.ec384, mustEC384(t)},
		{"EdDSA", `{"key":"eddsa","algorithm":"EdDSA","public_key":` + jsonString(publicPEM(t, k.ed.Public())) + `}`, jwt.SigningMethodEdDSA, k.ed, mustEd(t)},
	}
	for i, tt := range tests {
		t.Run(tt.alg, func(t *testing.T) {
			user := "user-" + strings.ToLower(tt.alg)
			f.consumer(user)
			f.cred(user, "c"+string(rune('a'+i)), tt.settings)
			key := strings.ToLower(tt.alg)

			res := f.call("r", bearer(sign(t, tt.method, tt.key, claims(key))))
			requireOK(t, res, user)
			require.Equal(t, user, res.idHeaders["X-Consumer-Username"])
			require.Equal(t, "c"+string(rune('a'+i)), res.idHeaders["X-Credential-Identifier"])
			// Repeated: served from the cache, same answer.
			requireOK(t, f.call("r", bearer(sign(t, tt.method, tt.key, claims(key)))), user)

			requireFail(t, f.call("r", bearer(sign(t, tt.method, tt.wrongKey, claims(key)))), jwtauth.MsgVerifyFailure)
		})
	}
}

func TestTokenSources(t *testing.T) {
	f := newFixture(t, nil, map[string]string{
		"r":      `{}`,
		"custom": `{"header":"X-Token","query":"token","cookie":"auth","key_claim_name":"user_key"}`,
	})
	f.consumer("alice")
	f.cred("alice", "a1", `{"key":"alice-key","secret":"`+secret256+`"}`)
	tok := sign(t, jwt.SigningMethodHS256, []byte(secret256), claims("alice-key"))
	custom := sign(t, jwt.SigningMethodHS256, []byte(secret256), claims("", "key", nil, "user_key", "alice-key"))

	tests := []struct {
		name    string
		route   string
		prepare func(r *http.Request)
		msg     string // "" when it must pass
		missing bool
	}{
		{"bearer", "r", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }, "", false},
		{"bearer lower case", "r", func(r *http.Request) { r.Header.Set("Authorization", "bearer   "+tok+" ") }, "", false},
		{"BEARER", "r", func(r *http.Request) { r.Header.Set("Authorization", "BEARER "+tok) }, "", false},
		{"no prefix", "r", func(r *http.Request) { r.Header.Set("Authorization", tok) }, "", false},
		{"query", "r", func(r *http.Request) { r.URL.RawQuery = "a=1&jwt=" + tok }, "", false},
		{"cookie", "r", func(r *http.Request) { r.Header.Set("Cookie", "a=b; jwt="+tok+"; c=d") }, "", false},
		{"quoted cookie", "r", func(r *http.Request) { r.Header.Set("Cookie", `jwt="`+tok+`"`) }, "", false},
		{"basic is not a jwt", "r", func(r *http.Request) { r.Header.Set("Authorization", "Basic YTpi") }, jwtauth.MsgMissing, true},
		{"empty bearer", "r", func(r *http.Request) { r.Header.Set("Authorization", "Bearer ") }, jwtauth.MsgMissing, true},
		{"nothing", "r", nil, jwtauth.MsgMissing, true},
		{"header wins over query", "r", func(r *http.Request) {
			r.Header.Set("Authorization", "Bearer junk")
			r.URL.RawQuery = "jwt=" + tok
		}, jwtauth.MsgInvalidToken, false},
		{"custom header", "custom", func(r *http.Request) { r.Header.Set("X-Token", "Bearer "+custom) }, "", false},
		{"custom query", "custom", func(r *http.Request) { r.URL.RawQuery = "token=" + custom }, "", false},
		{"custom cookie", "custom", func(r *http.Request) { r.Header.Set("Cookie", "auth="+custom) }, "", false},
		{"custom ignores defaults", "custom", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+custom) }, jwtauth.MsgMissing, true},
		{"custom claim name", "custom", func(r *http.Request) { r.Header.Set("X-Token", tok) }, jwtauth.MsgMissingKey, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := f.call(tt.route, tt.prepare)
			if tt.msg == "" {
				requireOK(t, res, "alice")
				return
			}
			requireFail(t, res, tt.msg)
		})
	}
}

func TestFailures(t *testing.T) {
	k := getKeys()
	f := newFixture(t, nil, map[string]string{
		"r":      `{}`,
		"iss":    `{"issuer":"https://idp.example","audience":"orders"}`,
		"leeway": `{"leeway":30}`,
		"realm":  `{"realm":"orders"}`,
	})
	f.consumer("alice")
	f.cred("alice", "hs", `{"key":"alice-key","secret":"`+secret256+`"}`)
	f.consumer("bob")
	f.cred("bob", "rs", `{"key":"bob-key","algorithm":"RS256","public_key":`+jsonString(publicPEM(t, &k.rsa.PublicKey))+`}`)
	hs := func(c jwt.MapClaims) string { return sign(t, jwt.SigningMethodHS256, []byte(secret256), c) }
	now := time.Now()
	b64 := base64.RawURLEncoding.EncodeToString

	// alg none: the library refuses to sign it unless asked explicitly.
	none := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims("alice-key"))
	// Algorithm confusion: an HS256 token whose HMAC key is the RSA public
	// key's PEM, as an attacker who knows the public key would forge it.
	confused := sign(t, jwt.SigningMethodHS256, []byte(publicPEM(t, &k.rsa.PublicKey)), claims("bob-key"))
	confusedDER := func() string {
		der, _ := jwtauthPKIX(&k.rsa.PublicKey)
		return sign(t, jwt.SigningMethodHS256, der, claims("bob-key"))
	}()
	// An RS256 token for an HS credential.
	rsForHS := sign(t, jwt.SigningMethodRS256, k.rsa, claims("alice-key"))
	// An HS384 token for the HS256 credential, with its own secret.
	hs384 := sign(t, jwt.SigningMethodHS384, []byte(secret256), claims("alice-key"))
	valid := hs(claims("alice-key"))
	parts := strings.Split(valid, ".")

	tests := []struct {
		name  string
		route string
		tok   string
		msg   string
	}{
		{"valid", "r", valid, ""},
		{"garbage", "r", "not-a-jwt", jwtauth.MsgInvalidToken},
		{"two segments", "r", parts[0] + "." + parts[1], jwtauth.MsgInvalidToken},
		{"four segments", "r", valid + ".x", jwtauth.MsgInvalidToken},
		{"payload not base64", "r", parts[0] + ".!!!." + parts[2], jwtauth.MsgInvalidToken},
		{"payload not json", "r", parts[0] + "." + b64([]byte("nope")) + "." + parts[2], jwtauth.MsgInvalidToken},
		{"payload not an object", "r", parts[0] + "." + b64([]byte(`["key"]`)) + "." + parts[2], jwtauth.MsgInvalidToken},
		{"header not base64", "r", "!!!." + parts[1] + "." + parts[2], jwtauth.MsgInvalidToken},
		{"too long", "r", strings.Repeat("a", jwtauth.DefaultMaxTokenLen+1), jwtauth.MsgInvalidToken},
		{"no key claim", "r", hs(jwt.MapClaims{"sub": "alice"}), jwtauth.MsgMissingKey},
		{"key claim not a string", "r", hs(jwt.MapClaims{"key": 42}), jwtauth.MsgMissingKey},
		{"unknown key", "r", hs(claims("nobody")), jwtauth.MsgInvalidKey},
		{"bad signature", "r", parts[0] + "." + parts[1] + "." + b64([]byte("forged-signature-forged-signature")), jwtauth.MsgVerifyFailure},
		{"alg none", "r", none, jwtauth.MsgVerifyFailure},
		{"alg none without signature", "r", strings.TrimSuffix(none, "."), jwtauth.MsgInvalidToken},
		{"alg confusion (PEM as HMAC key)", "r", confused, jwtauth.MsgVerifyFailure},
		{"alg confusion (DER as HMAC key)", "r", confusedDER, jwtauth.MsgVerifyFailure},
		{"RS256 token for an HS256 credential", "r", rsForHS, jwtauth.MsgVerifyFailure},
		{"HS384 token for an HS256 credential", "r", hs384, jwtauth.MsgVerifyFailure},
		{"expired", "r", hs(claims("alice-key", "exp", now.Add(-5*time.Second).Unix())), jwtauth.MsgVerifyFailure},
		{"expired within leeway", "leeway", hs(claims("alice-key", "exp", now.Add(-5*time.Second).Unix())), ""},
		{"expired beyond leeway", "leeway", hs(claims("alice-key", "exp", now.Add(-time.Minute).Unix())), jwtauth.MsgVerifyFailure},
		{"not yet valid", "r", hs(claims("alice-key", "nbf", now.Add(10*time.Second).Unix())), jwtauth.MsgVerifyFailure},
		{"not yet valid within leeway", "leeway", hs(claims("alice-key", "nbf", now.Add(10*time.Second).Unix())), ""},
		{"nbf past", "r", hs(claims("alice-key", "nbf", now.Add(-time.Second).Unix())), ""},
		{"issued in the future", "r", hs(claims("alice-key", "iat", now.Add(time.Minute).Unix())), jwtauth.MsgVerifyFailure},
		{"issued in the future within leeway", "leeway", hs(claims("alice-key", "iat", now.Add(10*time.Second).Unix())), ""},
		{"no exp", "r", hs(jwt.MapClaims{"key": "alice-key"}), ""},
		{"exp not a number", "r", hs(claims("alice-key", "exp", "tomorrow")), jwtauth.MsgInvalidToken},
		{"issuer and audience", "iss", hs(claims("alice-key", "iss", "https://idp.example", "aud", []string{"orders", "other"})), ""},
		{"wrong issuer", "iss", hs(claims("alice-key", "iss", "https://evil.example", "aud", "orders")), jwtauth.MsgVerifyFailure},
		{"no issuer", "iss", hs(claims("alice-key", "aud", "orders")), jwtauth.MsgVerifyFailure},
		{"wrong audience", "iss", hs(claims("alice-key", "iss", "https://idp.example", "aud", "billing")), jwtauth.MsgVerifyFailure},
		{"no audience", "iss", hs(claims("alice-key", "iss", "https://idp.example")), jwtauth.MsgVerifyFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 2 { // the second time through the cache
				res := f.call(tt.route, bearer(tt.tok))
				if tt.msg == "" {
					requireOK(t, res, "alice")
					continue
				}
				requireFail(t, res, tt.msg)
				require.False(t, res.code == http.StatusOK)
			}
		})
	}

	t.Run("realm", func(t *testing.T) {
		res := f.call("realm", nil)
		require.Equal(t, `Bearer realm="orders"`, res.challenge)
		require.Equal(t, jwtauth.MsgMissing, res.msg)
	})
}

func TestCachedTokenExpires(t *testing.T) {
	f := newFixture(t, nil, map[string]string{"r": `{}`})
	f.consumer("alice")
	f.cred("alice", "a1", `{"key":"alice-key","secret":"`+secret256+`"}`)
	exp := time.Now().Add(1100 * time.Millisecond)
	tok := sign(t, jwt.SigningMethodHS256, []byte(secret256), jwt.MapClaims{"key": "alice-key", "exp": jwt.NewNumericDate(exp)})
	requireOK(t, f.call("r", bearer(tok)), "alice")
	requireOK(t, f.call("r", bearer(tok)), "alice")
	time.Sleep(time.Until(exp) + 50*time.Millisecond)
	requireFail(t, f.call("r", bearer(tok)), jwtauth.MsgVerifyFailure)
}

func TestCredentialChanges(t *testing.T) {
	f := newFixture(t, nil, map[string]string{"r": `{}`})
	f.consumer("alice")
	f.cred("alice", "a1", `{"key":"alice-key","secret":"`+secret256+`"}`)
	tok := sign(t, jwt.SigningMethodHS256, []byte(secret256), claims("alice-key"))
	requireOK(t, f.call("r", bearer(tok)), "alice")

	// Disabled after a cached success: refused at once.
	code, body := f.admin(http.MethodPatch, "/api/consumers/alice/credentials/a1", `{"enabled":false}`)
	require.Equal(t, http.StatusOK, code, body)
	requireFail(t, f.call("r", bearer(tok)), jwtauth.MsgInvalidKey)
	code, body = f.admin(http.MethodPatch, "/api/consumers/alice/credentials/a1", `{"enabled":true}`)
	require.Equal(t, http.StatusOK, code, body)
	requireOK(t, f.call("r", bearer(tok)), "alice")

	// Expired.
	code, body = f.admin(http.MethodPatch, "/api/consumers/alice/credentials/a1", `{"expires_at":"2001-01-01T00:00:00Z"}`)
	require.Equal(t, http.StatusOK, code, body)
	requireFail(t, f.call("r", bearer(tok)), jwtauth.MsgInvalidKey)
	code, body = f.admin(http.MethodPatch, "/api/consumers/alice/credentials/a1", `{"expires_at":null}`)
	require.Equal(t, http.StatusOK, code, body)
	requireOK(t, f.call("r", bearer(tok)), "alice")

	// Expiring while cached: refused as soon as expires_at passes.
	soon := time.Now().Add(time.Second).UTC()
	code, body = f.admin(http.MethodPatch, "/api/consumers/alice/credentials/a1", `{"expires_at":"`+soon.Format(time.RFC3339Nano)+`"}`)
	require.Equal(t, http.StatusOK, code, body)
	requireOK(t, f.call("r", bearer(tok)), "alice")
	time.Sleep(time.Until(soon) + 50*time.Millisecond)
	requireFail(t, f.call("r", bearer(tok)), jwtauth.MsgInvalidKey)
	code, body = f.admin(http.MethodPatch, "/api/consumers/alice/credentials/a1", `{"expires_at":null}`)
	require.Equal(t, http.StatusOK, code, body)
	requireOK(t, f.call("r", bearer(tok)), "alice")

	// Secret rotated through the admin API: the old token stops working,
	// a token signed with the new secret works.
	newSecret := strings.Repeat("n", 40)
	code, body = f.admin(http.MethodPut, "/api/consumers/alice/credentials/a1",
		`{"name":"a1","plugins":{"jwt-auth":{"key":"alice-key","secret":"`+newSecret+`"}}}`)
	require.Equal(t, http.StatusOK, code, body)
	require.NotContains(t, body, newSecret)
	requireFail(t, f.call("r", bearer(tok)), jwtauth.MsgVerifyFailure)
	tok2 := sign(t, jwt.SigningMethodHS256, []byte(newSecret), claims("alice-key"))
	requireOK(t, f.call("r", bearer(tok2)), "alice")

	// A PATCH that does not resend the secret keeps it.
	code, body = f.admin(http.MethodPatch, "/api/consumers/alice/credentials/a1", `{"authorized_entities":["g1"]}`)
	require.Equal(t, http.StatusOK, code, body)
	requireOK(t, f.call("r", bearer(tok2)), "alice")

	// Key renamed: the old key names nothing.
	code, body = f.admin(http.MethodPatch, "/api/consumers/alice/credentials/a1", `{"plugins":{"jwt-auth":{"key":"alice-key-2"}}}`)
	require.Equal(t, http.StatusOK, code, body)
	requireFail(t, f.call("r", bearer(tok2)), jwtauth.MsgInvalidKey)
	tok3 := sign(t, jwt.SigningMethodHS256, []byte(newSecret), claims("alice-key-2"))
	requireOK(t, f.call("r", bearer(tok3)), "alice")

	// Deleted.
	code, _ = f.admin(http.MethodDelete, "/api/consumers/alice/credentials/a1", "")
	require.Equal(t, http.StatusNoContent, code)
	requireFail(t, f.call("r", bearer(tok3)), jwtauth.MsgInvalidKey)

	// A deleted consumer takes its credentials along.
	f.cred("alice", "a2", `{"key":"alice-key-3","secret":"`+secret256+`"}`)
	tok4 := sign(t, jwt.SigningMethodHS256, []byte(secret256), claims("alice-key-3"))
	requireOK(t, f.call("r", bearer(tok4)), "alice")
	code, _ = f.admin(http.MethodDelete, "/api/consumers/alice", "")
	require.Equal(t, http.StatusNoContent, code)
	requireFail(t, f.call("r", bearer(tok4)), jwtauth.MsgInvalidKey)
}

func TestAdminAPI(t *testing.T) {
	k := getKeys()
	f := newFixture(t, nil, map[string]string{"r": `{}`})
	f.consumer("alice")
	f.consumer("bob")

	body := f.cred("alice", "a1", `{"key":"alice-key","secret":"`+secret256+`"}`)
	require.NotContains(t, body, secret256, "a chosen secret is never echoed")
	require.NotContains(t, body, "sealed")

	// GET never shows an HS secret, sealed or not.
	for _, path := range []string{"/api/consumers/alice/credentials/a1", "/api/consumers/alice/credentials"} {
		code, got := f.admin(http.MethodGet, path, "")
		require.Equal(t, http.StatusOK, code)
		require.NotContains(t, got, secret256)
		require.NotContains(t, got, "secret")
		require.NotContains(t, got, "gh1.")
		require.Contains(t, got, `"key":"alice-key"`)
		require.Contains(t, got, `"algorithm":"HS256"`)
	}

	// The key is unique across consumers.
	code, got := f.admin(http.MethodPost, "/api/consumers/bob/credentials",
		`{"name":"b1","plugins":{"jwt-auth":{"key":"alice-key","secret":"`+secret256+`"}}}`)
	require.Equal(t, http.StatusConflict, code, got)
	require.NotContains(t, got, secret256)

	// A generated secret is revealed once, and works.
	code, got = f.admin(http.MethodPost, "/api/consumers/bob/credentials",
		`{"id":"b1","name":"b1","plugins":{"jwt-auth":{"key":"bob-key","algorithm":"HS512"}}}`)
	require.Equal(t, http.StatusCreated, code, got)
	var created struct {
		Plugins map[string]struct{ Key, Secret, Algorithm string }
	}
	require.NoError(t, json.Unmarshal([]byte(got), &created))
	gen := created.Plugins["jwt-auth"].Secret
	require.GreaterOrEqual(t, len(gen), 64)
	requireOK(t, f.call("r", bearer(sign(t, jwt.SigningMethodHS512, []byte(gen), claims("bob-key")))), "bob")
	_, got = f.admin(http.MethodGet, "/api/consumers/bob/credentials/b1", "")
	require.NotContains(t, got, gen)

	// A public key is not secret: GET shows it.
	pemText := publicPEM(t, &k.ec256.PublicKey)
	f.cred("bob", "b2", `{"key":"bob-es","algorithm":"ES256","public_key":`+jsonString(pemText)+`}`)
	_, got = f.admin(http.MethodGet, "/api/consumers/bob/credentials/b2", "")
	require.Contains(t, got, "BEGIN PUBLIC KEY")
	// A PATCH resends what GET showed: still valid.
	code, got = f.admin(http.MethodPatch, "/api/consumers/bob/credentials/b2", `{"name":"b2-renamed"}`)
	require.Equal(t, http.StatusOK, code, got)
	requireOK(t, f.call("r", bearer(sign(t, jwt.SigningMethodES256, k.ec256, claims("bob-es")))), "bob")

	rsaPEM := jsonString(publicPEM(t, &k.rsa.PublicKey))
	privDER, err := x509MarshalPKCS8(k.rsa)
	require.NoError(t, err)
	privPEM := jsonString("-----BEGIN PRIVATE KEY-----\n" + base64.StdEncoding.EncodeToString(privDER) + "\n-----END PRIVATE KEY-----\n")
	bad := []struct {
		name, settings, field, why string
	}{
		{"unknown algorithm", `{"key":"x1","algorithm":"HS999","secret":"` + secret256 + `"}`, "algorithm", "must be one of"},
		{"alg none", `{"key":"x1","algorithm":"none"}`, "algorithm", "must be one of"},
		{"ES512 unsupported", `{"key":"x1","algorithm":"ES512","public_key":` + rsaPEM + `}`, "algorithm", "must be one of"},
		{"no key", `{"secret":"` + secret256 + `"}`, "key", "required"},
		{"short secret", `{"key":"x1","secret":"short"}`, "secret", "32 to 1024 bytes"},
		{"short HS512 secret", `{"key":"x1","algorithm":"HS512","secret":"` + secret256 + `"}`, "secret", "64 to 1024 bytes"},
		{"public key with HS256", `{"key":"x1","public_key":` + rsaPEM + `}`, "public_key", "HS256 verifies with secret"},
		{"secret with RS256", `{"key":"x1","algorithm":"RS256","secret":"` + secret256 + `","public_key":` + rsaPEM + `}`, "secret", "RS256 verifies with public_key"},
		{"no public key", `{"key":"x1","algorithm":"RS256"}`, "public_key", "required"},
		{"bad PEM", `{"key":"x1","algorithm":"RS256","public_key":"not a pem"}`, "public_key", "is not PEM"},
		{"corrupt PEM", `{"key":"x1","algorithm":"RS256","public_key":"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}`, "public_key", "does not parse"},
		{"private key", `{"key":"x1","algorithm":"RS256","public_key":` + privPEM + `}`, "public_key", "private key"},
		{"EC key for RS256", `{"key":"x1","algorithm":"RS256","public_key":` + jsonString(pemText) + `}`, "public_key", "is an EC P-256 key, but RS256 needs an RSA key"},
		{"P-256 key for ES384", `{"key":"x1","algorithm":"ES384","public_key":` + jsonString(pemText) + `}`, "public_key", "ES384 needs an EC P-384 key"},
		{"RSA key for EdDSA", `{"key":"x1","algorithm":"EdDSA","public_key":` + rsaPEM + `}`, "public_key", "EdDSA needs an Ed25519 key"},
		{"Ed25519 key for ES256", `{"key":"x1","algorithm":"ES256","public_key":` + jsonString(publicPEM(t, k.ed.Public())) + `}`, "public_key", "is an Ed25519 key"},
		{"unknown setting", `{"key":"x1","secret":"` + secret256 + `","exp":3600}`, "exp", "unknown setting"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			code, got := f.admin(http.MethodPost, "/api/consumers/bob/credentials", `{"name":"bad","plugins":{"jwt-auth":`+tt.settings+`}}`)
			require.Equal(t, http.StatusBadRequest, code, got)
			var e struct{ Fields map[string]string }
			require.NoError(t, json.Unmarshal([]byte(got), &e))
			why, ok := e.Fields["plugins.jwt-auth."+tt.field]
			require.True(t, ok, "fields: %v", e.Fields)
			require.Contains(t, why, tt.why)
			require.NotContains(t, got, secret256)
			require.NotContains(t, got, "PRIVATE", "a private key is never echoed")
		})
	}

	// Switching an HS512 credential to HS256 keeps its (long enough) secret;
	// a kept secret too short for a larger hash is refused.
	code, got = f.admin(http.MethodPatch, "/api/consumers/bob/credentials/b1", `{"plugins":{"jwt-auth":{"key":"bob-key","algorithm":"HS256"}}}`)
	require.Equal(t, http.StatusOK, code, got)
	requireOK(t, f.call("r", bearer(sign(t, jwt.SigningMethodHS256, []byte(gen), claims("bob-key")))), "bob")
	code, got = f.admin(http.MethodPatch, "/api/consumers/alice/credentials/a1", `{"plugins":{"jwt-auth":{"key":"alice-key","algorithm":"HS512"}}}`)
	require.Equal(t, http.StatusBadRequest, code, got)
	require.Contains(t, got, "the stored secret is 32 bytes")
}

func TestHideCredentials(t *testing.T) {
	f := newFixture(t, nil, map[string]string{"hide": `{"hide_credentials":true}`, "keep": `{}`})
	f.consumer("alice")
	f.cred("alice", "a1", `{"key":"alice-key","secret":"`+secret256+`"}`)
	tok := sign(t, jwt.SigningMethodHS256, []byte(secret256), claims("alice-key"))

	for range 2 { // cold, then cached
		res := f.call("hide", bearer(tok))
		requireOK(t, res, "alice")
		require.Empty(t, res.headers.Get("Authorization"))

		res = f.call("hide", func(r *http.Request) { r.URL.RawQuery = "a=1&jwt=" + tok + "&b=2" })
		requireOK(t, res, "alice")
		require.Equal(t, "a=1&b=2", res.query)

		res = f.call("hide", func(r *http.Request) { r.Header.Set("Cookie", "a=1; jwt="+tok+"; b=2") })
		requireOK(t, res, "alice")
		require.Equal(t, "a=1; b=2", res.headers.Get("Cookie"))

		res = f.call("hide", func(r *http.Request) { r.Header.Set("Cookie", "jwt="+tok) })
		requireOK(t, res, "alice")
		require.Empty(t, res.headers.Values("Cookie"))
	}
	res := f.call("keep", bearer(tok))
	requireOK(t, res, "alice")
	require.Equal(t, "Bearer "+tok, res.headers.Get("Authorization"))
}

func TestAnonymousConsumer(t *testing.T) {
	f := newFixture(t, nil, map[string]string{"r": `{"anonymous_consumer":"guest"}`})
	f.consumer("guest")
	f.consumer("alice")
	f.cred("alice", "a1", `{"key":"alice-key","secret":"`+secret256+`"}`)
	res := f.call("r", nil)
	requireOK(t, res, "guest")
	require.Equal(t, "true", res.idHeaders["X-Anonymous-Consumer"])
	res = f.call("r", bearer("junk"))
	requireOK(t, res, "guest")
	requireOK(t, f.call("r", bearer(sign(t, jwt.SigningMethodHS256, []byte(secret256), claims("alice-key")))), "alice")
}

func TestForgedIdentityHeaders(t *testing.T) {
	f := newFixture(t, nil, map[string]string{"r": `{}`})
	f.consumer("alice")
	f.cred("alice", "a1", `{"key":"alice-key","secret":"`+secret256+`"}`)
	tok := sign(t, jwt.SigningMethodHS256, []byte(secret256), claims("alice-key"))
	res := f.call("r", func(r *http.Request) {
		bearer(tok)(r)
		r.Header.Set("X-Consumer-Username", "admin")
	})
	requireOK(t, res, "alice")
	require.Equal(t, "alice", res.idHeaders["X-Consumer-Username"])
}

func TestRouteSettings(t *testing.T) {
	d := &jwtauth.Definition{}
	for _, tt := range []struct{ settings, field string }{
		{`{"header":"bad header"}`, "header"},
		{`{"query":"a&b"}`, "query"},
		{`{"cookie":"a b"}`, "cookie"},
		{`{"leeway":-1}`, "leeway"},
		{`{"leeway":100000}`, "leeway"},
		{`{"leeway":"5"}`, "leeway"},
		{`{"realm":"a\"b"}`, "realm"},
		{`{"hide_credentials":"yes"}`, "hide_credentials"},
		{`{"exp_required":"yes"}`, "exp_required"},
		{`{"exp_required":1}`, "exp_required"},
		{`{"nope":1}`, "nope"},
		{`{"jwks":{}}`, "jwks.url"},
		{`{"jwks":{"url":"ftp://idp/jwks"}}`, "jwks.url"},
		{`{"jwks":{"url":"/relative"}}`, "jwks.url"},
		{`{"jwks":{"url":"https://idp/jwks","refresh_interval":-5}}`, "jwks.refresh_interval"},
		{`{"jwks":{"url":"https://idp/jwks","algorithms":["HS256"]}}`, "jwks.algorithms"},
		{`{"jwks":{"url":"https://idp/jwks","algorithms":["none"]}}`, "jwks.algorithms"},
	} {
		_, err := d.New(json.RawMessage(tt.settings))
		require.ErrorIs(t, err, validation.ErrInvalid, tt.settings)
		var ve *validation.Error
		require.True(t, errors.As(err, &ve))
		require.Contains(t, ve.Fields, tt.field, tt.settings)
	}
	for _, ok := range []string{`{}`, `null`, `{"header":"X-JWT","leeway":60,"issuer":"a","audience":"b","realm":"r","exp_required":true}`,
		`{"jwks":{"url":"https://idp.example/certs","refresh_interval":60,"consumer_claim":"preferred_username","algorithms":["RS256","ES256","EdDSA"]}}`} {
		_, err := d.New(json.RawMessage(ok))
		require.NoError(t, err, ok)
	}
}

func mustEC256(t testing.TB) any { t.Helper(); return genEC(t, 256) }
func mustEC384(t testing.TB) any { t.Helper(); return genEC(t, 384) }
