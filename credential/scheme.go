package credential

import (
	"encoding/json"
	"errors"

	"github.com/gatehousehq/gatehouse/consumer"
)

// Scheme is the credential side of an authentication plugin: it turns the
// settings an admin sends into what the store keeps, and back into what an
// admin may read. Plugin definitions that authenticate implement it.
type Scheme interface {
	// Seal validates settings written by an admin and returns the form to store,
	// with secrets hashed or encrypted. prev is the stored form of the
	// credential being replaced, or nil on create; a scheme uses it to keep a
	// secret the admin did not resend.
	Seal(settings, prev json.RawMessage) (Sealed, error)
	// Redact returns the part of stored settings that GET may show.
	Redact(stored json.RawMessage) json.RawMessage
}

// Compiler is implemented by schemes whose data plane needs more than the
// stored settings: a decrypted secret, a parsed public key, a bcrypt hash. The
// gateway calls Compile when a credential enters its view (never per request)
// and keeps the result in Match.Secret. A credential that does not compile is
// left out of the view and logged.
type Compiler interface {
	Compile(stored json.RawMessage) (any, error)
}

// Sealed is the outcome of Scheme.Seal.
type Sealed struct {
	// Stored is what the store keeps in Credential.Plugins.
	Stored json.RawMessage
	// Lookup is unique across all credentials; it is how the data plane finds
	// the credential (for key-auth, a hash of the key).
	Lookup string
	// Reveal, when not nil, replaces the settings in the response to the write
	// that generated a secret: the only time the secret is shown.
	Reveal json.RawMessage
}

// Match is a live credential as the data plane sees it: the credential, its
// consumer, and what the upstream handler is told about them. Matches are built
// when the data-plane view changes and shared by requests: treat them as
// read-only.
type Match struct {
	// Identity goes into the request context.
	Identity consumer.Identity
	// Credential is the stored credential; nil for a consumer matched without
	// one (the anonymous consumer, or a consumer named by an identity
	// provider's token).
	Credential *Credential
	// Secret is what the scheme's Compiler made of the stored settings, or nil.
	Secret any
	// Entities are the credential's authorized entities as the gateway's
	// interned ids, so that authorizing a request is a few integer probes
	// rather than string comparisons.
	Entities EntitySet
	// Headers are what the upstream handler is told: one entry per identity
	// header the gateway owns (X-Consumer-Username, X-Consumer-Id, ...). An
	// entry with values sets the header; one without removes any client-sent
	// copy, so that a client can never forge it.
	Headers []HeaderField
}

// HeaderField is one request header the gateway sets (or removes, when Values
// is empty) before calling the upstream handler.
type HeaderField struct {
	// Name is the canonical header name.
	Name string
	// Values are shared between requests: never change them in place.
	Values []string
}

// ErrUnauthorized is matched (errors.Is) by every *AuthError.
var ErrUnauthorized = errors.New("unauthorized")

// AuthError is an authentication failure: the status and message the client
// receives, the WWW-Authenticate challenge, and for a refusal under load when
// to come back.
type AuthError struct {
	// Status is the HTTP status, 401 unless stated otherwise.
	Status int
	// Message is the client-facing message.
	Message string
	// Challenge is the WWW-Authenticate value, such as `Key realm="key"`.
	Challenge string
	// Missing is true when the request carried no credential of the scheme at
	// all, as opposed to a wrong one.
	Missing bool
	// RetryAfter, when positive, is sent as the Retry-After header, in
	// seconds: a refusal for load (503) tells the client when to try again.
	RetryAfter int
}

// Error returns the client-facing message.
func (e *AuthError) Error() string { return e.Message }

// Is reports whether target is ErrUnauthorized.
func (e *AuthError) Is(target error) bool { return target == ErrUnauthorized }
