package apikey

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/textproto"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/internal/unsafestr"
	"github.com/gatehousehq/gatehouse/plugin"
	"github.com/gatehousehq/gatehouse/validation"
)

// Route-setting defaults.
const (
	DefaultClientIDHeader     = "Otoroshi-Client-Id"
	DefaultClientSecretHeader = "Otoroshi-Client-Secret"
	DefaultClientIDOnlyHeader = "x-api-key"
	DefaultRealm              = "apikey"
)

// RouteSettings are the route-level settings of apikey-auth.
type RouteSettings struct {
	// ClientIDHeader carries the clientId; default "Otoroshi-Client-Id".
	ClientIDHeader string `json:"client_id_header,omitempty"`
	// ClientSecretHeader carries the clientSecret; default
	// "Otoroshi-Client-Secret".
	ClientSecretHeader string `json:"client_secret_header,omitempty"`
	// ClientIDOnlyHeader carries the clientId of a key that allows the
	// clientId alone; default "x-api-key".
	ClientIDOnlyHeader string `json:"client_id_only_header,omitempty"`
	// HideCredentials removes the key from the request before it goes upstream.
	HideCredentials bool `json:"hide_credentials,omitempty"`
	// AnonymousConsumer lets a request without a valid key through as this
	// consumer.
	AnonymousConsumer string `json:"anonymous_consumer,omitempty"`
	// Realm is sent in WWW-Authenticate; default "apikey".
	Realm string `json:"realm,omitempty"`
}

// New validates route-level settings and compiles the authenticator.
func (d Definition) New(raw json.RawMessage) (plugin.Plugin, error) {
	var s RouteSettings
	if err := plugin.DecodeSettings(raw, &s); err != nil {
		return nil, err
	}
	var e validation.Error
	header := func(field string, v *string, def string) {
		if *v == "" {
			*v = def
		} else if !credential.ValidHeaderName(*v) {
			e.Add(field, "must be a valid HTTP header name")
		}
		*v = textproto.CanonicalMIMEHeaderKey(*v)
	}
	header("client_id_header", &s.ClientIDHeader, DefaultClientIDHeader)
	header("client_secret_header", &s.ClientSecretHeader, DefaultClientSecretHeader)
	header("client_id_only_header", &s.ClientIDOnlyHeader, DefaultClientIDOnlyHeader)
	if s.ClientIDHeader == s.ClientSecretHeader {
		e.Add("client_secret_header", "must differ from client_id_header")
	}
	if s.ClientIDOnlyHeader == "Authorization" {
		e.Add("client_id_only_header", "must not be Authorization")
	}
	challenge, err := credential.Challenge("Apikey", s.Realm, DefaultRealm)
	if err != nil {
		e.Add("realm", err.Error())
	}
	if err := e.Err(); err != nil {
		return nil, err
	}
	now, log := d.Now, d.Logger
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	return &Authenticator{
		idHeader:     s.ClientIDHeader,
		secretHeader: s.ClientSecretHeader,
		idOnlyHeader: s.ClientIDOnlyHeader,
		hide:         s.HideCredentials,
		anonymous:    s.AnonymousConsumer,
		missing:      &credential.AuthError{Status: http.StatusBadRequest, Message: MsgMissing, Challenge: challenge, Missing: true},
		invalid:      &credential.AuthError{Status: http.StatusUnauthorized, Message: MsgInvalid, Challenge: challenge},
		readOnly:     &credential.AuthError{Status: http.StatusForbidden, Message: MsgReadOnly},
		now:          now,
		log:          log,
	}, nil
}

// Authenticator is the compiled apikey-auth plugin of one route.
type Authenticator struct {
	idHeader, secretHeader, idOnlyHeader string
	hide                                 bool
	anonymous                            string
	missing, invalid, readOnly           *credential.AuthError
	now                                  func() time.Time
	log                                  *slog.Logger
}

// Name returns "apikey-auth".
func (a *Authenticator) Name() string { return Name }

// AnonymousConsumer returns the consumer a failed request runs as, or "".
func (a *Authenticator) AnonymousConsumer() string { return a.anonymous }

// InvalidError is the failure for a consumer that cannot be used.
func (a *Authenticator) InvalidError() *credential.AuthError { return a.invalid }

// source says where a key was found in a request.
type source uint8

// Sources of a key, in the order they are tried.
const (
	// fromNone: the request carries no key at all.
	fromNone source = iota
	// fromHeaders: the client id and client secret headers.
	fromHeaders
	// fromBasic: Authorization: Basic base64(clientId:clientSecret).
	fromBasic
	// fromClientIDOnly: the clientId alone in the client-id-only header.
	fromClientIDOnly
	// fromMalformed: something of the scheme was sent, but it cannot be
	// read (one header of the pair only, a Basic value that does not decode
	// or has no colon).
	fromMalformed
)

// maxBasicLen bounds the decoded Authorization: Basic value read into the
// stack buffer; a longer one cannot hold a valid key. The 2 are for
// base64.DecodedLen, which counts the bytes padding stands for: without them
// a value of the longest clientId and secret would not fit.
const maxBasicLen = MaxClientIDLen + 1 + MaxSecretLen + 2

// extract returns the clientId and clientSecret a request presents and where
// it found them: the client id and secret headers; else Authorization: Basic;
// else the client-id-only header (secret empty). scratch receives a decoded
// Basic value; id and secret may point into it.
func (a *Authenticator) extract(h http.Header, scratch *[maxBasicLen]byte) (id, secret []byte, src source) {
	idv, secv := first(h, a.idHeader), first(h, a.secretHeader)
	if idv != "" && secv != "" {
		return unsafestr.Bytes(idv), unsafestr.Bytes(secv), fromHeaders
	}
	if v := first(h, "Authorization"); v != "" {
		const prefix = "basic "
		if len(v) > len(prefix) && strings.EqualFold(v[:len(prefix)], prefix) {
			enc := strings.TrimSpace(v[len(prefix):])
			if base64.StdEncoding.DecodedLen(len(enc)) > len(scratch) {
				return nil, nil, fromMalformed
			}
			n, err := base64.StdEncoding.Decode(scratch[:], unsafestr.Bytes(enc))
			if err != nil {
				return nil, nil, fromMalformed
			}
			dec := scratch[:n]
			for i, c := range dec {
				if c == ':' {
					return dec[:i], dec[i+1:], fromBasic
				}
			}
			return nil, nil, fromMalformed
		}
	}
	if v := first(h, a.idOnlyHeader); v != "" {
		return unsafestr.Bytes(v), nil, fromClientIDOnly
	}
	if idv != "" || secv != "" {
		return nil, nil, fromMalformed
	}
	return nil, nil, fromNone
}

func first(h http.Header, name string) string {
	if v := h[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Authenticate finds the key the request presents in idx and checks its
// secret, state and read-only flag. It returns a *credential.AuthError: 400
// "no apikey" without any key, 401 "bad apikey" for a key that cannot be
// used, 403 for a read-only key on a method other than GET, HEAD or OPTIONS.
func (a *Authenticator) Authenticate(r *http.Request, idx *credential.Index) (*credential.Match, error) {
	var scratch [maxBasicLen]byte
	id, secret, src := a.extract(r.Header, &scratch)
	switch src {
	case fromNone:
		return nil, a.missing
	case fromMalformed:
		a.debug(r, "malformed apikey")
		return nil, a.invalid
	}
	if len(id) == 0 || len(id) > MaxClientIDLen {
		a.debug(r, "clientId empty or too long")
		return nil, a.invalid
	}
	if len(secret) > MaxSecretLen {
		a.debug(r, "clientSecret too long") // no stored secret is: refused before hashing
		return nil, a.invalid
	}
	var buf [len(LookupPrefix) + MaxClientIDLen]byte
	n := copy(buf[:], LookupPrefix)
	n += copy(buf[n:], id)
	m, ok := idx.Find(buf[:n])
	if !ok {
		a.debug(r, "unknown clientId")
		return nil, a.invalid
	}
	sec, ok := m.Secret.(*Secret)
	if !ok || m.Credential == nil {
		a.debug(r, "credential has no compiled apikey")
		return nil, a.invalid
	}
	c := m.Credential
	var now time.Time
	if c.ExpiresAt != nil || !sec.validUntil.IsZero() {
		now = a.now()
	}
	switch {
	case !c.Enabled:
		a.debug(r, "apikey disabled")
		return nil, a.invalid
	case c.ExpiresAt != nil && !now.Before(*c.ExpiresAt), !sec.validUntil.IsZero() && !now.Before(sec.validUntil):
		a.debug(r, "apikey expired")
		return nil, a.invalid
	}
	if src == fromClientIDOnly {
		if !sec.clientIDOnly {
			a.debug(r, "apikey does not allow the clientId alone")
			return nil, a.invalid
		}
	} else if !a.secretOK(sec, secret) {
		a.debug(r, "wrong clientSecret")
		return nil, a.invalid
	}
	if sec.readOnly {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			a.debug(r, "read-only apikey")
			return nil, a.readOnly
		}
	}
	if a.hide {
		switch src {
		case fromHeaders:
			delete(r.Header, a.idHeader)
			delete(r.Header, a.secretHeader)
		case fromBasic:
			delete(r.Header, "Authorization")
		case fromClientIDOnly:
			delete(r.Header, a.idOnlyHeader)
		}
	}
	return m, nil
}

// secretOK compares digests in constant time: the current secret, then the
// previous one while its grace period lasts.
func (a *Authenticator) secretOK(sec *Secret, secret []byte) bool {
	sum := sha256.Sum256(secret)
	if subtle.ConstantTimeCompare(sum[:], sec.current[:]) == 1 {
		return true
	}
	return sec.hasPrevious && subtle.ConstantTimeCompare(sum[:], sec.previous[:]) == 1 && a.now().Before(sec.previousUntil)
}

func (a *Authenticator) debug(r *http.Request, reason string) {
	if a.log.Enabled(r.Context(), slog.LevelDebug) {
		a.log.DebugContext(r.Context(), "apikey-auth: request refused", slog.String("reason", reason),
			slog.String("method", r.Method), slog.String("path", r.URL.Path))
	}
}
