package jwtauth

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/credential/keyauth"
	"github.com/gatehousehq/gatehouse/internal/unsafestr"
	"github.com/gatehousehq/gatehouse/plugin"
	"github.com/gatehousehq/gatehouse/validation"
)

// Route setting defaults.
const (
	DefaultHeader          = "Authorization"
	DefaultQuery           = "jwt"
	DefaultCookie          = "jwt"
	DefaultKeyClaim        = "key"
	DefaultRealm           = "jwt"
	DefaultConsumerClaim   = "sub"
	DefaultRefreshInterval = 300 // seconds
	// MaxLeeway bounds the leeway setting, in seconds.
	MaxLeeway = 86400
)

// Settings are the route-level settings of jwt-auth.
type Settings struct {
	// Header carries the token, "Bearer <jwt>" or a bare "<jwt>"; default
	// "Authorization".
	Header string `json:"header,omitempty"`
	// Query is the query parameter that carries the token; default "jwt".
	Query string `json:"query,omitempty"`
	// Cookie is the cookie that carries the token; default "jwt".
	Cookie string `json:"cookie,omitempty"`
	// KeyClaimName is the claim naming the credential's key; default "key".
	KeyClaimName string `json:"key_claim_name,omitempty"`
	// Leeway is the clock skew allowed on exp, nbf and iat, in seconds.
	Leeway int `json:"leeway,omitempty"`
	// ExpRequired refuses a token without an exp claim ("failed to
	// verify jwt"). By default such a token never expires.
	ExpRequired bool `json:"exp_required,omitempty"`
	// Issuer, when set, must be the token's iss.
	Issuer string `json:"issuer,omitempty"`
	// Audience, when set, must be one of the token's aud.
	Audience string `json:"audience,omitempty"`
	// HideCredentials removes the token from the request before it goes
	// upstream.
	HideCredentials bool `json:"hide_credentials,omitempty"`
	// AnonymousConsumer lets a request without a valid token through as this
	// consumer.
	AnonymousConsumer string `json:"anonymous_consumer,omitempty"`
	// Realm is sent in WWW-Authenticate; default "jwt".
	Realm string `json:"realm,omitempty"`
	// JWKS, when set, makes the route accept tokens of an identity provider
	// instead of credentials' tokens.
	JWKS *JWKSSettings `json:"jwks,omitempty"`
}

// JWKSSettings configure tokens issued by an identity provider: verified with
// the provider's published keys, naming a consumer by username.
type JWKSSettings struct {
	// URL is the provider's JWKS document (http or https).
	URL string `json:"url"`
	// RefreshInterval is the age, in seconds, after which the key set is
	// fetched again in the background; default 300.
	RefreshInterval int `json:"refresh_interval,omitempty"`
	// ConsumerClaim is the claim holding the consumer's username; default
	// "sub".
	ConsumerClaim string `json:"consumer_claim,omitempty"`
	// Algorithms are the accepted signing algorithms (asymmetric only);
	// default ["RS256"].
	Algorithms []string `json:"algorithms,omitempty"`
}

// New validates route-level settings and compiles the authenticator.
func (d *Definition) New(raw json.RawMessage) (plugin.Plugin, error) {
	var s Settings
	if err := plugin.DecodeSettings(raw, &s); err != nil {
		return nil, err
	}
	var e validation.Error
	if s.Header == "" {
		s.Header = DefaultHeader
	} else if !credential.ValidHeaderName(s.Header) {
		e.Add("header", "must be a valid HTTP header name")
	}
	if s.Query == "" {
		s.Query = DefaultQuery
	} else if strings.ContainsAny(s.Query, "&=#;+% ") {
		e.Add("query", "must be a plain query parameter name")
	}
	if s.Cookie == "" {
		s.Cookie = DefaultCookie
	} else if !credential.ValidHeaderName(s.Cookie) {
		e.Add("cookie", "must be a valid cookie name")
	}
	if s.KeyClaimName == "" {
		s.KeyClaimName = DefaultKeyClaim
	}
	if s.Leeway < 0 || s.Leeway > MaxLeeway {
		e.Add("leeway", "must be 0 to 86400 seconds")
	}
	challenge, err := credential.Challenge("Bearer", s.Realm, DefaultRealm)
	if err != nil {
		e.Add("realm", err.Error())
	}
	if s.JWKS != nil {
		e.Merge("jwks", checkJWKS(s.JWKS))
	}
	if err := e.Err(); err != nil {
		return nil, err
	}

	leeway := time.Duration(s.Leeway) * time.Second
	opts := []jwt.ParserOption{jwt.WithLeeway(leeway), jwt.WithIssuedAt()}
	if s.ExpRequired {
		opts = append(opts, jwt.WithExpirationRequired())
	}
	if s.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(s.Issuer))
	}
	if s.Audience != "" {
		opts = append(opts, jwt.WithAudience(s.Audience))
	}
	fail := func(msg string, missing bool) *credential.AuthError {
		return &credential.AuthError{Status: http.StatusUnauthorized, Message: msg, Challenge: challenge, Missing: missing}
	}
	a := &Authenticator{
		header:       textproto.CanonicalMIMEHeaderKey(s.Header),
		query:        s.Query,
		cookie:       s.Cookie,
		keyClaim:     s.KeyClaimName,
		leeway:       int64(leeway),
		maxToken:     d.maxTokenLen(),
		hide:         s.HideCredentials,
		anonymous:    s.AnonymousConsumer,
		log:          d.logger(),
		missing:      fail(MsgMissing, true),
		invalidToken: fail(MsgInvalidToken, false),
		missingKey:   fail(MsgMissingKey, false),
		invalidKey:   fail(MsgInvalidKey, false),
		failed:       fail(MsgVerifyFailure, false),
		now:          time.Now,
	}
	if d.CacheSize >= 0 {
		size := d.CacheSize
		if size == 0 {
			size = DefaultCacheSize
		}
		a.cache = newTokenCache(size)
	}
	if j := s.JWKS; j != nil {
		a.src = d.registry().source(j.URL)
		a.refresh = time.Duration(j.RefreshInterval) * time.Second
		a.consumerClaim = j.ConsumerClaim
		a.jwksParser = jwt.NewParser(append([]jwt.ParserOption{jwt.WithValidMethods(j.Algorithms)}, opts...)...)
	} else {
		a.parsers = make(map[string]*jwt.Parser, len(Algorithms))
		for _, alg := range Algorithms {
			// The algorithm is the credential's: a token naming another one
			// (none included) is refused before any key is used.
			a.parsers[alg] = jwt.NewParser(append([]jwt.ParserOption{jwt.WithValidMethods([]string{alg})}, opts...)...)
		}
	}
	return a, nil
}

func checkJWKS(j *JWKSSettings) error {
	var e validation.Error
	if u, err := url.Parse(j.URL); j.URL == "" {
		e.Add("url", "is required")
	} else if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		e.Add("url", "must be an absolute http or https URL")
	}
	if j.RefreshInterval == 0 {
		j.RefreshInterval = DefaultRefreshInterval
	} else if j.RefreshInterval < 1 || j.RefreshInterval > 86400 {
		e.Add("refresh_interval", "must be 1 to 86400 seconds")
	}
	if j.ConsumerClaim == "" {
		j.ConsumerClaim = DefaultConsumerClaim
	}
	if len(j.Algorithms) == 0 {
		j.Algorithms = []string{"RS256"}
	}
	for _, alg := range j.Algorithms {
		if !isAsymmetric(alg) {
			e.Add("algorithms", "each must be one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA")
		}
	}
	return e.Err()
}

// Authenticator is the compiled jwt-auth plugin of one route.
type Authenticator struct {
	header, query, cookie string
	keyClaim              string
	leeway                int64 // nanoseconds
	maxToken              int
	hide                  bool
	anonymous             string
	log                   *slog.Logger
	now                   func() time.Time

	// parsers verify credentials' tokens, one per pinned algorithm.
	parsers map[string]*jwt.Parser
	// JWKS mode (src != nil).
	src           *jwksSource
	refresh       time.Duration
	consumerClaim string
	jwksParser    *jwt.Parser

	// cache holds the tokens this authenticator verified, with its parsers:
	// a route compiled with other settings (exp_required, issuer, ...) has
	// its own, empty one.
	cache *tokenCache // nil when off

	missing, invalidToken, missingKey, invalidKey, failed *credential.AuthError
}

// Name returns "jwt-auth".
func (a *Authenticator) Name() string { return Name }

// AnonymousConsumer returns the consumer a failed request runs as, or "".
func (a *Authenticator) AnonymousConsumer() string { return a.anonymous }

// InvalidError is the failure for a consumer that cannot be used.
func (a *Authenticator) InvalidError() *credential.AuthError { return a.invalidKey }

// Authenticate verifies the token the request presents and returns the
// credential it names (or, with jwks, the consumer its claim names), found
// in idx. It returns a *credential.AuthError when there is none or it is not
// usable. With hide_credentials, the token is removed from the request once
// it is accepted.
func (a *Authenticator) Authenticate(r *http.Request, idx *credential.Index) (*credential.Match, error) {
	tok, src := a.extract(r)
	if tok == "" {
		return nil, a.missing
	}
	if len(tok) > a.maxToken {
		a.debug(r.Context(), "token longer than the maximum token length", nil)
		return nil, a.invalidToken
	}
	m := a.cached(tok, idx)
	if m == nil {
		var err error
		if m, err = a.verify(r.Context(), tok, idx); err != nil {
			return nil, err
		}
	}
	if a.hide {
		a.strip(r, src)
	}
	return m, nil
}

// cached returns the current match of tok's cache entry when the entry
// still holds, or nil. A credential's token holds while the index's match
// for its lookup is still the very credential it was verified with (a
// change to the consumer alone keeps it; any change to the credential
// makes a new one), that credential is active and the token's time window
// holds. A JWKS token holds while the consumer it names exists, its time
// window holds and the key set it was verified with is still the current
// one. The match returned is the index's current one, so that a changed
// consumer identity (labels, groups) is the one the request carries.
func (a *Authenticator) cached(tok string, idx *credential.Index) *credential.Match {
	if a.cache == nil {
		return nil
	}
	v := a.cache.get(tok)
	if v == nil {
		return nil
	}
	if m := a.holds(v, idx); m != nil {
		return m
	}
	a.cache.drop(v)
	return nil
}

func (a *Authenticator) holds(v *verified, idx *credential.Index) *credential.Match {
	var now int64
	if v.notAfter != 0 || v.notBefore != 0 || v.set != nil {
		now = a.now().UnixNano()
		if v.notAfter != 0 && now >= v.notAfter || v.notBefore != 0 && now < v.notBefore {
			return nil
		}
	}
	if v.set != nil {
		if a.src.current(now, a.refresh) != v.set {
			return nil
		}
		if m, ok := idx.FindConsumer(v.consumer); ok {
			return m
		}
		return nil
	}
	m, ok := idx.Find(unsafestr.Bytes(v.cred.Lookup))
	if !ok || m.Credential != v.cred || !m.Credential.Usable(a.now) {
		return nil
	}
	return m
}

// verify is the cold path: decode the payload, find the credential (or
// consumer) its claim names, then parse and verify the token with the
// credential's pinned algorithm and key.
func (a *Authenticator) verify(ctx context.Context, tok string, idx *credential.Index) (*credential.Match, error) {
	var buf [1024]byte
	payload, ok := decodePayload(tok, buf[:0])
	if !ok {
		a.debug(ctx, "token is not three base64url segments with a JSON object payload", nil)
		return nil, a.invalidToken
	}
	if a.src != nil {
		return a.verifyJWKS(ctx, tok, payload, idx)
	}
	key, found := ClaimString(payload, a.keyClaim)
	if !found {
		return nil, a.missingKey
	}
	var lb [len(lookupPrefix) + 128]byte
	lookup := append(append(lb[:0], lookupPrefix...), key...)
	m, ok := idx.Find(lookup)
	if !ok || !m.Credential.Usable(a.now) {
		a.debug(ctx, "no active credential has the token's key", nil)
		return nil, a.invalidKey
	}
	ver, ok := m.Secret.(*verifier)
	if !ok {
		return nil, a.invalidKey
	}
	var claims jwt.RegisteredClaims
	if _, err := a.parsers[ver.alg].ParseWithClaims(tok, &claims, ver.keyfunc); err != nil {
		return nil, a.parseFailure(ctx, err)
	}
	a.remember(&verified{token: tok, cred: m.Credential}, &claims)
	return m, nil
}

func (v *verifier) keyfunc(*jwt.Token) (any, error) { return v.key, nil }

var (
	errUnknownKid = errors.New("jwks: no key has the token's kid")
	errNoKey      = errors.New("jwks: no key fits the token's algorithm")
)

// verifyJWKS verifies an identity provider's token: the consumer is named
// by the consumer claim; the key is the JWKS key of the token's kid.
func (a *Authenticator) verifyJWKS(ctx context.Context, tok string, payload []byte, idx *credential.Index) (*credential.Match, error) {
	name, found := ClaimString(payload, a.consumerClaim)
	if !found {
		return nil, a.missingKey
	}
	m, ok := idx.FindConsumer(name)
	if !ok {
		a.debug(ctx, "the token names no consumer", nil)
		return nil, a.invalidKey
	}
	set, err := a.src.load(ctx, a.now().UnixNano(), a.refresh)
	if err != nil {
		a.debug(ctx, "no JWKS key set", err)
		return nil, a.failed
	}
	used := set
	keyfunc := func(t *jwt.Token) (any, error) {
		alg := t.Method.Alg()
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			var ks jwt.VerificationKeySet
			for _, k := range used.all {
				if fits(k, alg) {
					ks.Keys = append(ks.Keys, k.key)
				}
			}
			if len(ks.Keys) == 0 {
				return nil, errNoKey
			}
			return ks, nil
		}
		k, ok := used.byKid[kid]
		if !ok {
			// Perhaps the provider rotated its keys: fetch again (at most
			// once per minimum interval) and look once more.
			if fresh := a.src.refetch(ctx); fresh != nil {
				used = fresh
				k, ok = used.byKid[kid]
			}
			if !ok {
				return nil, errUnknownKid
			}
		}
		if !fits(k, alg) {
			return nil, errNoKey
		}
		return k.key, nil
	}
	var claims jwt.RegisteredClaims
	if _, err := a.jwksParser.ParseWithClaims(tok, &claims, keyfunc); err != nil {
		return nil, a.parseFailure(ctx, err)
	}
	a.remember(&verified{token: tok, consumer: name, set: used}, &claims)
	return m, nil
}

// fits reports whether JWKS key k may verify a token signed with alg.
func fits(k *jwk, alg string) bool {
	return (k.alg == "" || k.alg == alg) && checkKeyFor(k.key, alg) == nil
}

// parseFailure maps a jwt parse error to the client's message: malformed
// tokens are "JWT token invalid", every other failure (signature, algorithm,
// time window, issuer, audience) "failed to verify jwt".
func (a *Authenticator) parseFailure(ctx context.Context, err error) error {
	a.debug(ctx, "token refused", err)
	if errors.Is(err, jwt.ErrTokenMalformed) {
		return a.invalidToken
	}
	return a.failed
}

// remember caches a verified token with its time window.
func (a *Authenticator) remember(v *verified, c *jwt.RegisteredClaims) {
	if a.cache == nil {
		return
	}
	if c.ExpiresAt != nil {
		v.notAfter = c.ExpiresAt.UnixNano() + a.leeway
	}
	if c.NotBefore != nil {
		v.notBefore = c.NotBefore.UnixNano() - a.leeway
	}
	a.cache.put(v)
}

func (a *Authenticator) debug(ctx context.Context, msg string, err error) {
	if !a.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	if err != nil {
		a.log.DebugContext(ctx, "jwt-auth: "+msg, "err", err)
		return
	}
	a.log.DebugContext(ctx, "jwt-auth: "+msg)
}

// source says where a token came from.
type source uint8

const (
	fromHeader source = iota + 1
	fromQuery
	fromCookie
)

// extract returns the presented token: the header first, then the query
// parameter, then the cookie.
func (a *Authenticator) extract(r *http.Request) (string, source) {
	if v := r.Header[a.header]; len(v) > 0 {
		if tok, ok := HeaderToken(v[0]); ok {
			return tok, fromHeader
		}
	}
	if v, ok := keyauth.QueryValue(r.URL.RawQuery, a.query); ok && v != "" {
		return v, fromQuery
	}
	if c := r.Header["Cookie"]; len(c) > 0 {
		if v, ok := CookieValue(c, a.cookie); ok && v != "" {
			return v, fromCookie
		}
	}
	return "", 0
}

func (a *Authenticator) strip(r *http.Request, src source) {
	switch src {
	case fromHeader:
		delete(r.Header, a.header)
	case fromQuery:
		r.URL.RawQuery = keyauth.RemoveQuery(r.URL.RawQuery, a.query)
		r.RequestURI = r.URL.RequestURI()
	case fromCookie:
		if kept := RemoveCookie(r.Header["Cookie"], a.cookie); len(kept) > 0 {
			r.Header["Cookie"] = kept
		} else {
			delete(r.Header, "Cookie")
		}
	}
}
