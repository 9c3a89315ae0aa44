// Package keyauth is the key-auth scheme: a consumer presents an API key in a
// header, a query parameter or an Authorization: Bearer header.
package keyauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/textproto"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/internal/unsafestr"
	"github.com/gatehousehq/gatehouse/plugin"
	"github.com/gatehousehq/gatehouse/validation"
)

// Name is the plugin's registered name.
const Name = "key-auth"

// Key length limits for keys chosen by an admin.
const (
	MinKeyLen = 6
	MaxKeyLen = 512
)

// GeneratedKeyPrefix starts every key Gatehouse generates, so that a leaked key
// is recognisable (by secret scanners, for example).
const GeneratedKeyPrefix = "ghk_"

// lookupPrefix starts the Lookup of every key-auth credential.
const lookupPrefix = Name + ":"

// Messages of API.md.
const (
	MsgMissing = "Missing API key in request"
	MsgInvalid = "Invalid API key in request"
)

// Definition is the key-auth plugin definition. Register it in a
// plugin.Registry; it is also the credential.Scheme that seals keys.
type Definition struct{}

var (
	_ plugin.Definition = Definition{}
	_ credential.Scheme = Definition{}
)

// Name returns "key-auth".
func (Definition) Name() string { return Name }

// Stage returns plugin.PreRequest: authentication runs first.
func (Definition) Stage() plugin.Stage { return plugin.PreRequest }

// Priority returns the order among authentication plugins.
func (Definition) Priority() int { return 2500 }

// Settings are the route-level settings of key-auth.
type Settings struct {
	// Header carries the key; default "apikey".
	Header string `json:"header,omitempty"`
	// Query is the query parameter that carries the key; default "apikey".
	Query string `json:"query,omitempty"`
	// HideCredentials removes the key from the request before it goes upstream.
	HideCredentials bool `json:"hide_credentials,omitempty"`
	// AnonymousConsumer lets a request without a valid key through as this
	// consumer.
	AnonymousConsumer string `json:"anonymous_consumer,omitempty"`
	// Realm is sent in WWW-Authenticate; default "key".
	Realm string `json:"realm,omitempty"`
}

// New validates route-level settings and compiles the authenticator.
func (Definition) New(raw json.RawMessage) (plugin.Plugin, error) {
	var s Settings
	if err := plugin.DecodeSettings(raw, &s); err != nil {
		return nil, err
	}
	var e validation.Error
	if s.Header == "" {
		s.Header = "apikey"
	} else if !credential.ValidHeaderName(s.Header) {
		e.Add("header", "must be a valid HTTP header name")
	}
	if s.Query == "" {
		s.Query = "apikey"
	} else if strings.ContainsAny(s.Query, "&=# ") {
		e.Add("query", "must be a plain query parameter name")
	}
	challenge, err := credential.Challenge("Key", s.Realm, "key")
	if err != nil {
		e.Add("realm", err.Error())
	}
	if err := e.Err(); err != nil {
		return nil, err
	}
	return &Authenticator{
		header:    textproto.CanonicalMIMEHeaderKey(s.Header),
		query:     s.Query,
		hide:      s.HideCredentials,
		anonymous: s.AnonymousConsumer,
		missing:   &credential.AuthError{Status: http.StatusUnauthorized, Message: MsgMissing, Challenge: challenge, Missing: true},
		invalid:   &credential.AuthError{Status: http.StatusUnauthorized, Message: MsgInvalid, Challenge: challenge},
		now:       time.Now,
	}, nil
}

// credentialSettings is what an admin writes on a key-auth credential.
type credentialSettings struct {
	Key string `json:"key,omitempty"`
	// KeyPreview is accepted (and ignored) so that a GET result can be sent
	// back unchanged.
	KeyPreview string `json:"key_preview,omitempty"`
}

// stored is what the store keeps: never the key itself.
type stored struct {
	KeyHash    string `json:"key_hash"`
	KeyPreview string `json:"key_preview"`
}

// Seal validates a credential's key, hashes it, and generates one when absent.
// A replacement that sends no key keeps the previous one.
func (Definition) Seal(raw, prev json.RawMessage) (credential.Sealed, error) {
	var in credentialSettings
	if err := plugin.DecodeSettings(raw, &in); err != nil {
		return credential.Sealed{}, err
	}
	if in.Key == "" && prev != nil {
		var old stored
		if err := json.Unmarshal(prev, &old); err == nil && old.KeyHash != "" {
			return credential.Sealed{Stored: prev, Lookup: lookupPrefix + old.KeyHash}, nil
		}
	}
	generated := false
	if in.Key == "" {
		in.Key = GenerateKey()
		generated = true
	} else if err := checkKey(in.Key); err != nil {
		return credential.Sealed{}, validation.Field("key", err.Error())
	}
	sum := sha256.Sum256([]byte(in.Key))
	st := stored{KeyHash: hex.EncodeToString(sum[:]), KeyPreview: Preview(in.Key)}
	out, _ := json.Marshal(st)
	sealed := credential.Sealed{Stored: out, Lookup: lookupPrefix + st.KeyHash}
	if generated {
		sealed.Reveal, _ = json.Marshal(map[string]string{"key": in.Key, "key_preview": st.KeyPreview})
	}
	return sealed, nil
}

// Redact returns the key preview of stored settings.
func (Definition) Redact(raw json.RawMessage) json.RawMessage {
	var st stored
	_ = json.Unmarshal(raw, &st)
	out, _ := json.Marshal(map[string]string{"key_preview": st.KeyPreview})
	return out
}

// GenerateKey returns a new random key: GeneratedKeyPrefix and 256 bits of
// randomness, base64url-encoded.
func GenerateKey() string {
	return GeneratedKeyPrefix + credential.RandomSecret(32)
}

// Preview is what GET shows of a key: its first 6 and last 4 characters for a
// key of 20 characters or more, less for shorter keys so that a preview never
// gives away most of a key.
func Preview(key string) string {
	switch {
	case len(key) >= 20:
		return key[:6] + "..." + key[len(key)-4:]
	case len(key) >= 10:
		return key[:2] + "..." + key[len(key)-2:]
	default:
		return "..."
	}
}

type keyError string

func (e keyError) Error() string { return string(e) }

func checkKey(k string) error {
	if len(k) < MinKeyLen || len(k) > MaxKeyLen {
		return keyError("must be 6 to 512 characters")
	}
	for i := 0; i < len(k); i++ {
		if k[i] <= ' ' || k[i] >= 0x7f {
			return keyError("must be printable ASCII without spaces")
		}
	}
	return nil
}

// Authenticator is the compiled key-auth plugin of one route.
type Authenticator struct {
	header    string
	query     string
	hide      bool
	anonymous string
	missing   *credential.AuthError
	invalid   *credential.AuthError
	now       func() time.Time
}

// Name returns "key-auth".
func (a *Authenticator) Name() string { return Name }

// AnonymousConsumer returns the consumer a failed request runs as, or "".
func (a *Authenticator) AnonymousConsumer() string { return a.anonymous }

// InvalidError is the failure for a consumer that cannot be used (the
// anonymous consumer missing, for example).
func (a *Authenticator) InvalidError() *credential.AuthError { return a.invalid }

// Authenticate finds the credential whose key the request presents in idx. It returns
// a *credential.AuthError when there is none or it is not usable. With
// hide_credentials, the key is removed from the request once it is accepted.
func (a *Authenticator) Authenticate(r *http.Request, idx *credential.Index) (*credential.Match, error) {
	key, src, over := a.extract(r)
	if over || len(key) > MaxKeyLen {
		return nil, a.invalid // no stored key is that long: refused before hashing
	}
	if key == "" {
		return nil, a.missing
	}
	var buf [len(lookupPrefix) + 2*sha256.Size]byte
	n := copy(buf[:], lookupPrefix)
	sum := sha256.Sum256(unsafestr.Bytes(key))
	hex.Encode(buf[n:], sum[:])
	m, ok := idx.Find(buf[:])
	if !ok || subtle.ConstantTimeCompare(unsafestr.Bytes(m.Credential.Lookup), buf[:]) != 1 || !m.Credential.Usable(a.now) {
		return nil, a.invalid
	}
	if a.hide {
		a.strip(r, src)
	}
	return m, nil
}

// source says where a key came from.
type source uint8

const (
	fromHeader source = iota + 1
	fromBearer
	fromQuery
)

// extract returns the presented key: the configured header first, then
// Authorization: Bearer, then the query parameter. over reports a query value
// longer than MaxKeyLen, which is not unescaped.
func (a *Authenticator) extract(r *http.Request) (key string, src source, over bool) {
	if v := r.Header[a.header]; len(v) > 0 && v[0] != "" {
		return v[0], fromHeader, false
	}
	if v := r.Header["Authorization"]; len(v) > 0 {
		if tok, ok := Bearer(v[0]); ok {
			return tok, fromBearer, false
		}
	}
	v, ok, over := queryValue(r.URL.RawQuery, a.query, MaxKeyLen)
	if over {
		return "", fromQuery, true
	}
	if ok && v != "" {
		return v, fromQuery, false
	}
	return "", 0, false
}

func (a *Authenticator) strip(r *http.Request, src source) {
	switch src {
	case fromHeader:
		delete(r.Header, a.header)
	case fromBearer:
		delete(r.Header, "Authorization")
	case fromQuery:
		r.URL.RawQuery = RemoveQuery(r.URL.RawQuery, a.query)
		r.RequestURI = r.URL.RequestURI()
	}
}
