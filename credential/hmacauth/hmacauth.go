// Package hmacauth is the hmac-auth scheme: a consumer signs each request with a
// shared secret, as APISIX's Authorization: Signature header or as RFC 9421.
package hmacauth

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/keyring"
	"github.com/gatehousehq/gatehouse/plugin"
	"github.com/gatehousehq/gatehouse/validation"
)

// Name is the plugin's registered name.
const Name = "hmac-auth"

// lookupPrefix starts the Lookup of every hmac-auth credential.
const lookupPrefix = Name + ":"

// sealContext binds sealed secrets to this scheme (keyring.Ring.Seal).
const sealContext = Name

// Limits on credential settings.
const (
	// MaxKeyIDLen is the longest key_id accepted.
	MaxKeyIDLen = 256
	// MinSecretLen and MaxSecretLen bound the length in bytes of a secret_key
	// chosen by an admin.
	MinSecretLen = 16
	MaxSecretLen = 1024
)

// Route-setting defaults and limits.
const (
	// DefaultClockSkew is the default clock_skew, in seconds.
	DefaultClockSkew = 300
	// MaxClockSkew is the largest clock_skew accepted, in seconds (one day).
	MaxClockSkew = 86400
	// DefaultMaxReqBody is the default max_req_body, in bytes (1 MiB).
	DefaultMaxReqBody = 1 << 20
	// MaxMaxReqBody is the largest max_req_body accepted, in bytes (1 GiB).
	MaxMaxReqBody = 1 << 30
	// DefaultRealm is the default realm of the WWW-Authenticate challenge.
	DefaultRealm = "hmac"
	// MaxSignedComponents is the most entries one signature may cover: the
	// headers= list of Authorization: Signature (where an entry may not
	// appear twice) and the components of an RFC 9421 Signature-Input. A
	// signature over more is refused (401) before its signing string is
	// built, so that a short header cannot make the gateway build a long
	// one; signed_headers may name at most as many.
	MaxSignedComponents = 32
)

// Algorithm names of allowed_algorithms, in the Authorization: Signature
// algorithm parameter and in the RFC 9421 alg parameter (hmac-sha256 only).
const (
	AlgHMACSHA1   = "hmac-sha1"
	AlgHMACSHA256 = "hmac-sha256"
	AlgHMACSHA512 = "hmac-sha512"
)

// Messages of API.md. Every validation failure answers MsgInvalid; the precise
// reason is logged at debug level.
const (
	MsgInvalid      = "client request can't be validated"
	MsgBodyTooLarge = "request body is too large"
)

// Definition is the hmac-auth plugin definition. Register it in a
// plugin.Registry; it is also the credential.Scheme that seals secrets with
// Ring and the credential.Compiler that opens them when a credential enters
// the data plane's view.
type Definition struct {
	// Ring encrypts secret keys at rest. It is required: Seal and Compile fail
	// without it.
	Ring *keyring.Ring
	// Now is the clock; nil means time.Now. Tests set it.
	Now func() time.Time
	// Logger receives the precise reason of every refused request, at debug
	// level, and the replay store's outages; nil means slog.Default().
	Logger *slog.Logger
	// Replay, when not nil, remembers signatures and nonces for every
	// instance sharing it (replay_protection): see ReplayStore. Nil keeps
	// them in the process. While it fails, the process's cache stands in,
	// and the outage is logged once at error level, its end at info level.
	Replay ReplayStore
}

var (
	_ plugin.Definition   = Definition{}
	_ credential.Scheme   = Definition{}
	_ credential.Compiler = Definition{}
)

// ErrNoKeyRing is returned by Seal and Compile of a Definition without a Ring.
var ErrNoKeyRing = errors.New("hmac-auth: no key ring: build the Definition with a keyring.Ring to encrypt secret keys")

// Name returns "hmac-auth".
func (Definition) Name() string { return Name }

// Stage returns plugin.PreRequest: authentication runs first.
func (Definition) Stage() plugin.Stage { return plugin.PreRequest }

// Priority returns the order among authentication plugins.
func (Definition) Priority() int { return 2530 }

// credentialSettings is what an admin writes on an hmac-auth credential.
type credentialSettings struct {
	KeyID     string `json:"key_id"`
	SecretKey string `json:"secret_key,omitempty"`
}

// stored is what the store keeps: the secret only sealed.
type stored struct {
	KeyID        string `json:"key_id"`
	SecretSealed string `json:"secret_key_sealed"`
}

// Seal validates a credential's key_id and secret_key and encrypts the secret
// with the ring. Without secret_key, a replacement keeps the previous secret
// and a new credential gets a generated one (GenerateSecret), revealed once in
// the response to that write. A replacement that sends the secret it already
// has keeps its sealed form, so that rewriting an unchanged credential stores
// the same bytes.
func (d Definition) Seal(raw, prev json.RawMessage) (credential.Sealed, error) {
	if d.Ring == nil {
		return credential.Sealed{}, ErrNoKeyRing
	}
	var in credentialSettings
	if err := plugin.DecodeSettings(raw, &in); err != nil {
		return credential.Sealed{}, err
	}
	var e validation.Error
	if in.KeyID == "" {
		e.Add("key_id", "is required")
	} else if !ValidKeyID(in.KeyID) {
		e.Add("key_id", "must be 1 to 256 characters of [A-Za-z0-9._~@:+=/-]")
	}
	if in.SecretKey != "" && (len(in.SecretKey) < MinSecretLen || len(in.SecretKey) > MaxSecretLen) {
		e.Add("secret_key", fmt.Sprintf("must be %d to %d bytes", MinSecretLen, MaxSecretLen))
	}
	if err := e.Err(); err != nil {
		return credential.Sealed{}, err
	}
	st := stored{KeyID: in.KeyID}
	var old stored
	hasOld := prev != nil && json.Unmarshal(prev, &old) == nil && old.SecretSealed != ""
	generated := false
	switch {
	case in.SecretKey != "" && hasOld && d.sameSecret(old.SecretSealed, in.SecretKey):
		st.SecretSealed = old.SecretSealed
	case in.SecretKey != "":
		s, err := d.Ring.Seal([]byte(in.SecretKey), sealContext)
		if err != nil {
			return credential.Sealed{}, fmt.Errorf("hmac-auth: seal secret: %w", err)
		}
		st.SecretSealed = s
	case hasOld && d.current(old.SecretSealed):
		st.SecretSealed = old.SecretSealed
	case hasOld:
		// Sealed with a key that is no longer primary: seal it again, so
		// that rewriting the credential completes a key rotation.
		plain, err := d.Ring.Open(old.SecretSealed, sealContext)
		if err != nil {
			return credential.Sealed{}, fmt.Errorf("hmac-auth: open the stored secret: %w", err)
		}
		if st.SecretSealed, err = d.Ring.Seal(plain, sealContext); err != nil {
			return credential.Sealed{}, fmt.Errorf("hmac-auth: seal secret: %w", err)
		}
	default:
		in.SecretKey = GenerateSecret()
		generated = true
		s, err := d.Ring.Seal([]byte(in.SecretKey), sealContext)
		if err != nil {
			return credential.Sealed{}, fmt.Errorf("hmac-auth: seal secret: %w", err)
		}
		st.SecretSealed = s
	}
	out, err := json.Marshal(st)
	if err != nil {
		return credential.Sealed{}, fmt.Errorf("hmac-auth: encode settings: %w", err)
	}
	sealed := credential.Sealed{Stored: out, Lookup: lookupPrefix + st.KeyID}
	if generated {
		sealed.Reveal, _ = json.Marshal(credentialSettings{KeyID: st.KeyID, SecretKey: in.SecretKey})
	}
	return sealed, nil
}

// sameSecret reports whether sealed, sealed with the ring's primary key,
// opens to secret (compared in constant time).
func (d Definition) sameSecret(sealed, secret string) bool {
	if !d.current(sealed) {
		return false
	}
	plain, err := d.Ring.Open(sealed, sealContext)
	return err == nil && subtle.ConstantTimeCompare(plain, []byte(secret)) == 1
}

// current reports whether sealed was sealed with the ring's primary key.
func (d Definition) current(sealed string) bool {
	id, ok := keyring.KeyID(sealed)
	return ok && id == d.Ring.Primary()
}

// Redact returns the key_id of stored settings: never the secret.
func (Definition) Redact(raw json.RawMessage) json.RawMessage {
	var st stored
	_ = json.Unmarshal(raw, &st)
	out, _ := json.Marshal(map[string]string{"key_id": st.KeyID})
	return out
}

// Compile opens the sealed secret of stored settings; the result, a []byte,
// becomes Match.Secret, so that requests never decrypt.
func (d Definition) Compile(raw json.RawMessage) (any, error) {
	if d.Ring == nil {
		return nil, ErrNoKeyRing
	}
	var st stored
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, fmt.Errorf("hmac-auth: stored settings: %w", err)
	}
	if st.SecretSealed == "" {
		return nil, errors.New("hmac-auth: stored settings hold no secret")
	}
	secret, err := d.Ring.Open(st.SecretSealed, sealContext)
	if err != nil {
		return nil, fmt.Errorf("hmac-auth: open secret of key_id %q: %w", st.KeyID, err)
	}
	return newSecretKey(secret), nil
}

// GenerateSecret returns a new random secret key: 32 random bytes,
// base64url-encoded without padding (43 characters). The HMAC key is the
// text itself, as for a secret an admin chooses.
func GenerateSecret() string {
	return credential.RandomSecret(32)
}

// ValidKeyID reports whether s is a usable key_id: 1 to MaxKeyIDLen
// characters of [A-Za-z0-9._~@:+=/-], so that it needs no escaping in a quoted
// header parameter or a structured-field string.
func ValidKeyID(s string) bool {
	if len(s) == 0 || len(s) > MaxKeyIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !keyIDChar(s[i]) {
			return false
		}
	}
	return true
}

func keyIDChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._~@:+=/-", c) >= 0
}

// Settings are the route-level settings of hmac-auth.
type Settings struct {
	// AllowedAlgorithms lists the accepted algorithms; default all three of
	// hmac-sha1, hmac-sha256, hmac-sha512. RFC 9421 signatures need hmac-sha256.
	AllowedAlgorithms []string `json:"allowed_algorithms,omitempty"`
	// ClockSkew is how far, in seconds, the Date header (or the RFC 9421
	// created parameter) may be from the gateway's clock; default 300, 0
	// disables the check.
	ClockSkew *int64 `json:"clock_skew,omitempty"`
	// SignedHeaders lists headers (and "@request-target") every signature
	// must cover.
	SignedHeaders []string `json:"signed_headers,omitempty"`
	// ValidateRequestBody checks the body against the Digest (or
	// Content-Digest) header.
	ValidateRequestBody bool `json:"validate_request_body,omitempty"`
	// MaxReqBody caps, in bytes, the body read to check a digest; default 1 MiB.
	// A larger body is refused with 413.
	MaxReqBody *int64 `json:"max_req_body,omitempty"`
	// ReplayProtection refuses a signature (or RFC 9421 nonce) seen before
	// while it could still pass the clock check. Needs clock_skew > 0.
	ReplayProtection bool `json:"replay_protection,omitempty"`
	// HideCredentials removes the signature headers before the request goes
	// upstream.
	HideCredentials bool `json:"hide_credentials,omitempty"`
	// AnonymousConsumer lets a request without a valid signature through as
	// this consumer.
	AnonymousConsumer string `json:"anonymous_consumer,omitempty"`
	// Realm is sent in WWW-Authenticate; default "hmac".
	Realm string `json:"realm,omitempty"`
}

// algorithm bit set.
type algSet uint8

const (
	algSHA1 algSet = 1 << iota
	algSHA256
	algSHA512
)

func parseAlg(s string) algSet {
	switch s {
	case AlgHMACSHA1:
		return algSHA1
	case AlgHMACSHA256:
		return algSHA256
	case AlgHMACSHA512:
		return algSHA512
	}
	return 0
}

// New validates route-level settings and compiles the authenticator.
func (d Definition) New(raw json.RawMessage) (plugin.Plugin, error) {
	var s Settings
	if err := plugin.DecodeSettings(raw, &s); err != nil {
		return nil, err
	}
	var e validation.Error
	a := &Authenticator{
		skew:      DefaultClockSkew,
		maxBody:   DefaultMaxReqBody,
		body:      s.ValidateRequestBody,
		replay:    s.ReplayProtection,
		hide:      s.HideCredentials,
		anonymous: s.AnonymousConsumer,
		now:       d.Now,
		log:       d.Logger,
		cache:     defaultReplay,
		store:     d.Replay,
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	if s.AllowedAlgorithms == nil {
		a.algs = algSHA1 | algSHA256 | algSHA512
	} else if len(s.AllowedAlgorithms) == 0 {
		e.Add("allowed_algorithms", "must name at least one algorithm")
	}
	for _, name := range s.AllowedAlgorithms {
		bit := parseAlg(name)
		if bit == 0 {
			e.Add("allowed_algorithms", "must hold only hmac-sha1, hmac-sha256 and hmac-sha512")
			break
		}
		a.algs |= bit
	}
	if s.ClockSkew != nil {
		if *s.ClockSkew < 0 || *s.ClockSkew > MaxClockSkew {
			e.Add("clock_skew", fmt.Sprintf("must be 0 to %d seconds", MaxClockSkew))
		}
		a.skew = *s.ClockSkew
	}
	if s.MaxReqBody != nil {
		if *s.MaxReqBody < 1 || *s.MaxReqBody > MaxMaxReqBody {
			e.Add("max_req_body", fmt.Sprintf("must be 1 to %d bytes", MaxMaxReqBody))
		}
		a.maxBody = *s.MaxReqBody
	}
	if len(s.SignedHeaders) > MaxSignedComponents {
		e.Add("signed_headers", fmt.Sprintf("must name at most %d headers", MaxSignedComponents))
	}
	for _, h := range s.SignedHeaders {
		lh := strings.ToLower(h)
		if lh != requestTarget && !credential.ValidHeaderName(lh) {
			e.Add("signed_headers", "must hold header names or @request-target")
			break
		}
		a.signed = append(a.signed, lh)
	}
	if s.ReplayProtection && a.skew == 0 {
		e.Add("replay_protection", "needs clock_skew greater than 0, which bounds how long a signature is remembered")
	}
	challenge, err := credential.Challenge("Signature", s.Realm, DefaultRealm)
	if err != nil {
		e.Add("realm", err.Error())
	}
	if err := e.Err(); err != nil {
		return nil, err
	}
	a.missing = &credential.AuthError{Status: http.StatusUnauthorized, Message: MsgInvalid, Challenge: challenge, Missing: true}
	a.invalid = &credential.AuthError{Status: http.StatusUnauthorized, Message: MsgInvalid, Challenge: challenge}
	a.tooLarge = &credential.AuthError{Status: http.StatusRequestEntityTooLarge, Message: MsgBodyTooLarge}
	return a, nil
}
