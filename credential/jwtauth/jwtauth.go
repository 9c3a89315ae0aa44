// Package jwtauth is the jwt-auth scheme: a consumer presents a JSON Web Token
// signed with its credential's key, or issued by an identity provider (JWKS).
package jwtauth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/keyring"
	"github.com/gatehousehq/gatehouse/plugin"
	"github.com/gatehousehq/gatehouse/validation"
)

// Name is the plugin's registered name.
const Name = "jwt-auth"

// lookupPrefix starts the Lookup of every jwt-auth credential.
const lookupPrefix = Name + ":"

// ringContext binds HS secrets sealed with the key ring to this scheme.
const ringContext = Name

// MaxKeyLen bounds a credential's key.
const MaxKeyLen = 512

// Messages of API.md.
const (
	MsgMissing       = "Missing JWT token in request"
	MsgInvalidToken  = "JWT token invalid"
	MsgMissingKey    = "missing user key in JWT token"
	MsgInvalidKey    = "Invalid user key in JWT token"
	MsgVerifyFailure = "failed to verify jwt"
)

// Defaults of the Definition.
const (
	// DefaultCacheSize is the number of verified tokens each route keeps.
	DefaultCacheSize = 10_000
	// DefaultMaxTokenLen bounds a presented token, in bytes: what an
	// nginx-based gateway (Kong, APISIX) lets through in one header line
	// with its default large_client_header_buffers, and twice what a browser
	// keeps in a cookie.
	DefaultMaxTokenLen = 8 << 10
	// MaxTokenLen was the fixed bound on a presented token (16 KiB).
	//
	// Deprecated: the bound is Definition.MaxTokenLen, DefaultMaxTokenLen
	// (8 KiB) unless set; set it to MaxTokenLen to keep accepting tokens of
	// up to 16 KiB.
	MaxTokenLen = 16 << 10
	// DefaultJWKSMinInterval is the shortest time between two fetches of
	// one JWKS URL (an unknown kid or a failing identity provider cannot
	// make the gateway fetch more often).
	DefaultJWKSMinInterval = 5 * time.Second
	// DefaultJWKSWait bounds how long a request waits for a key set that was
	// never loaded, or for the refetch an unknown kid triggered.
	DefaultJWKSWait = 5 * time.Second
	// DefaultJWKSMaxURLs is the number of JWKS URLs whose key sets the
	// Definition keeps.
	DefaultJWKSMaxURLs = 100
	// DefaultHTTPTimeout is the timeout of the default JWKS HTTP client.
	DefaultHTTPTimeout = 10 * time.Second
)

// Definition is the jwt-auth plugin definition and the credential.Scheme
// that seals its credentials. Use it as a pointer (&Definition{...}): it
// holds the JWKS key sets shared by every route that names the same URL, so
// that they survive routes being compiled again. Its fields must not change
// once it is registered.
type Definition struct {
	// Ring encrypts HS secrets at rest; required for HS credentials.
	Ring *keyring.Ring
	// HTTPClient fetches JWKS documents; nil means a client with a
	// DefaultHTTPTimeout timeout.
	HTTPClient *http.Client
	// CacheSize is the number of verified tokens each route remembers, so
	// that a repeated token costs no signature check: 0 means
	// DefaultCacheSize, a negative value turns the cache off.
	CacheSize int
	// MaxTokenLen bounds a presented token, in bytes; a longer one is
	// refused with "JWT token invalid" before it is parsed. 0 or less
	// means DefaultMaxTokenLen.
	MaxTokenLen int
	// JWKSMinInterval is the shortest time between two fetches of one JWKS
	// URL; 0 means DefaultJWKSMinInterval.
	JWKSMinInterval time.Duration
	// JWKSWait bounds how long a request waits for a JWKS fetch; 0 means
	// DefaultJWKSWait.
	JWKSWait time.Duration
	// JWKSMaxURLs bounds the number of JWKS URLs whose key sets are kept;
	// 0 or less means DefaultJWKSMaxURLs. When a route is compiled with a
	// new URL and the table is full, the URL used least recently (by a
	// request or a route compiled with it) is dropped from the table:
	// routes compiled with it keep their key set, a route compiled with it
	// later fetches it again. Set it above the number of distinct URLs
	// your routes name.
	JWKSMaxURLs int
	// Logger receives the precise reason of each failure at debug level
	// (never a secret or a token); nil means slog.Default().
	Logger *slog.Logger

	once sync.Once
	jwks *jwksRegistry
}

var (
	_ plugin.Definition   = (*Definition)(nil)
	_ credential.Scheme   = (*Definition)(nil)
	_ credential.Compiler = (*Definition)(nil)
)

// Name returns "jwt-auth".
func (*Definition) Name() string { return Name }

// Stage returns plugin.PreRequest: authentication runs first.
func (*Definition) Stage() plugin.Stage { return plugin.PreRequest }

// Priority returns the order among authentication plugins (after key-auth).
func (*Definition) Priority() int { return 2510 }

func (d *Definition) logger() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.Default()
}

func (d *Definition) registry() *jwksRegistry {
	d.once.Do(func() {
		client := d.HTTPClient
		if client == nil {
			client = &http.Client{Timeout: DefaultHTTPTimeout}
		}
		gap, wait := d.JWKSMinInterval, d.JWKSWait
		if gap <= 0 {
			gap = DefaultJWKSMinInterval
		}
		if wait <= 0 {
			wait = DefaultJWKSWait
		}
		d.jwks = newJWKSRegistry(client, gap, wait, d.JWKSMaxURLs, d.logger(), time.Now)
	})
	return d.jwks
}

func (d *Definition) maxTokenLen() int {
	if d.MaxTokenLen > 0 {
		return d.MaxTokenLen
	}
	return DefaultMaxTokenLen
}

// credentialSettings is what an admin writes on a jwt-auth credential.
type credentialSettings struct {
	Key       string `json:"key"`
	Secret    string `json:"secret,omitempty"`
	PublicKey string `json:"public_key,omitempty"`
	Algorithm string `json:"algorithm,omitempty"`
}

// stored is what the store keeps: the HS secret only sealed with the ring.
type stored struct {
	Key          string `json:"key"`
	Algorithm    string `json:"algorithm"`
	SealedSecret string `json:"sealed_secret,omitempty"`
	PublicKey    string `json:"public_key,omitempty"`
}

// redacted is what GET shows.
type redacted struct {
	Key       string `json:"key"`
	Algorithm string `json:"algorithm"`
	PublicKey string `json:"public_key,omitempty"`
}

// Seal validates a credential's settings: the key (unique across consumers),
// the algorithm, and the HS secret (sealed with the ring; generated and
// revealed once when absent, kept from prev on a replacement that sends none)
// or the public key (parsed and checked against the algorithm; kept from prev
// when absent and still fit).
func (d *Definition) Seal(raw, prev json.RawMessage) (credential.Sealed, error) {
	var in credentialSettings
	if err := plugin.DecodeSettings(raw, &in); err != nil {
		return credential.Sealed{}, err
	}
	var old stored
	if prev != nil {
		_ = json.Unmarshal(prev, &old)
	}
	var e validation.Error
	if err := checkKey(in.Key); err != "" {
		e.Add("key", err)
	}
	if in.Algorithm == "" {
		in.Algorithm = DefaultAlgorithm
	}
	fam := algFamily(in.Algorithm)
	if fam == famUnknown {
		e.Add("algorithm", "must be one of "+strings.Join(Algorithms, ", "))
		return credential.Sealed{}, e.Err()
	}
	out := stored{Key: in.Key, Algorithm: in.Algorithm}
	var reveal json.RawMessage
	if fam == famHMAC {
		if in.PublicKey != "" {
			e.Add("public_key", "is for RS*, PS*, ES* and EdDSA only: "+in.Algorithm+" verifies with secret")
		}
		if d.Ring == nil {
			return credential.Sealed{}, errNoRing
		}
		secret, generated, kept, why, err := d.hmacSecret(in, old)
		if err != nil {
			return credential.Sealed{}, err
		}
		if why != "" {
			e.Add("secret", why)
		}
		if e.Err() != nil {
			return credential.Sealed{}, e.Err()
		}
		if id, ok := keyring.KeyID(old.SealedSecret); kept && ok && id == d.Ring.Primary() {
			// The secret the credential already has, sealed with the primary
			// key: keep its sealed form, so that rewriting an unchanged
			// credential stores the same bytes (and one sealed with an older
			// key is sealed again: a key rotation completes by rewriting).
			out.SealedSecret = old.SealedSecret
		} else if out.SealedSecret, err = d.Ring.Seal([]byte(secret), ringContext); err != nil {
			return credential.Sealed{}, fmt.Errorf("jwt-auth: seal secret: %w", err)
		}
		if generated {
			reveal, _ = json.Marshal(credentialSettings{Key: in.Key, Algorithm: in.Algorithm, Secret: secret})
		}
	} else {
		if in.Secret != "" {
			e.Add("secret", "is for HS256, HS384 and HS512 only: "+in.Algorithm+" verifies with public_key")
		}
		pemText := in.PublicKey
		if pemText == "" && old.PublicKey != "" {
			if _, err := ParsePublicKey(old.PublicKey, in.Algorithm); err == nil {
				pemText = old.PublicKey
			}
		}
		if pemText == "" {
			e.Add("public_key", "is required for "+in.Algorithm+": a PEM public key")
		} else if pub, err := ParsePublicKey(pemText, in.Algorithm); err != nil {
			e.Add("public_key", err.Error())
		} else if out.PublicKey, err = encodePublicKey(pub); err != nil {
			return credential.Sealed{}, err
		}
		if e.Err() != nil {
			return credential.Sealed{}, e.Err()
		}
	}
	st, err := json.Marshal(out)
	if err != nil {
		return credential.Sealed{}, fmt.Errorf("jwt-auth: encode settings: %w", err)
	}
	return credential.Sealed{Stored: st, Lookup: lookupPrefix + in.Key, Reveal: reveal}, nil
}

// hmacSecret returns the HS secret to seal: the one sent, the previous one,
// or a generated one. kept is true when it is the previous one (sent again or
// not sent), whose sealed form can then be kept. why is a client-facing reason
// to refuse it.
func (d *Definition) hmacSecret(in credentialSettings, old stored) (secret string, generated, kept bool, why string, err error) {
	minLen := MinSecretLen(in.Algorithm)
	var plain []byte
	if old.SealedSecret != "" {
		if plain, err = d.Ring.Open(old.SealedSecret, ringContext); err != nil && in.Secret == "" {
			return "", false, false, "", fmt.Errorf("jwt-auth: open the stored secret: %w", err)
		}
	}
	switch {
	case in.Secret != "":
		if len(in.Secret) < minLen || len(in.Secret) > MaxSecretLen {
			return "", false, false, fmt.Sprintf("must be %d to %d bytes for %s", minLen, MaxSecretLen, in.Algorithm), nil
		}
		same := err == nil && plain != nil && subtle.ConstantTimeCompare(plain, []byte(in.Secret)) == 1
		return in.Secret, false, same, "", nil
	case old.SealedSecret != "":
		if len(plain) < minLen {
			return "", false, false, fmt.Sprintf("the stored secret is %d bytes, %s needs at least %d: send a new secret", len(plain), in.Algorithm, minLen), nil
		}
		return string(plain), false, true, "", nil
	default:
		return GenerateSecret(in.Algorithm), true, false, "", nil
	}
}

// GenerateSecret returns a new random HS secret for alg: MinSecretLen(alg)
// random bytes (32 when alg is not an HS algorithm), base64url-encoded. The
// HMAC key is the text itself, as with a secret an admin chooses.
func GenerateSecret(alg string) string {
	n := MinSecretLen(alg)
	if n == 0 {
		n = 32
	}
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}

func checkKey(k string) string {
	if k == "" {
		return "is required"
	}
	if len(k) > MaxKeyLen {
		return "must be at most 512 bytes"
	}
	for i := 0; i < len(k); i++ {
		if k[i] < ' ' || k[i] == 0x7f {
			return "must not contain control characters"
		}
	}
	return ""
}

// Redact returns the key, the algorithm and, for asymmetric algorithms, the
// public key: never the HS secret.
func (*Definition) Redact(raw json.RawMessage) json.RawMessage {
	var st stored
	_ = json.Unmarshal(raw, &st)
	out, _ := json.Marshal(redacted{Key: st.Key, Algorithm: st.Algorithm, PublicKey: st.PublicKey})
	return out
}

// verifier is what Compile makes of a credential: its pinned algorithm and
// verification key. It is kept in credential.Match.Secret.
type verifier struct {
	alg string
	key any // []byte for HS*, a public key otherwise
}

// Compile decrypts the HS secret or parses the public key of stored
// settings, once, when the credential enters the gateway's view.
func (d *Definition) Compile(raw json.RawMessage) (any, error) {
	var st stored
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, fmt.Errorf("jwt-auth: stored settings: %w", err)
	}
	switch algFamily(st.Algorithm) {
	case famUnknown:
		return nil, fmt.Errorf("jwt-auth: stored algorithm %q is not supported", st.Algorithm)
	case famHMAC:
		if d.Ring == nil {
			return nil, errNoRing
		}
		secret, err := d.Ring.Open(st.SealedSecret, ringContext)
		if err != nil {
			return nil, fmt.Errorf("jwt-auth: open secret: %w", err)
		}
		return &verifier{alg: st.Algorithm, key: secret}, nil
	default:
		pub, err := ParsePublicKey(st.PublicKey, st.Algorithm)
		if err != nil {
			return nil, fmt.Errorf("jwt-auth: stored public key: %w", err)
		}
		return &verifier{alg: st.Algorithm, key: pub}, nil
	}
}

// isAsymmetric reports whether alg is one of Algorithms that verifies with a
// public key.
func isAsymmetric(alg string) bool {
	return slices.Contains(Algorithms, alg) && algFamily(alg) != famHMAC
}
