// Package basicauth is the basic-auth scheme: a consumer presents a username and
// a password in an Authorization: Basic header, checked against a bcrypt hash.
package basicauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/plugin"
	"github.com/gatehousehq/gatehouse/validation"
)

// Name is the plugin's registered name.
const Name = "basic-auth"

// Limits of the credential settings an admin writes.
const (
	// MaxUsernameLen is the longest username, in characters.
	MaxUsernameLen = 512
	// MaxPasswordLen is the longest password, in bytes.
	MaxPasswordLen = 1024
)

// DefaultCost is the bcrypt cost of password hashes when Definition.Cost is 0.
const DefaultCost = 10

// lookupPrefix starts the Lookup of every basic-auth credential.
const lookupPrefix = Name + ":"

// Messages of API.md.
const (
	// MsgMissing answers a request without an Authorization header.
	MsgMissing = "Missing authorization in request"
	// MsgInvalid answers an Authorization header that is not well-formed Basic
	// credentials: another scheme, bad base64, no colon.
	MsgInvalid = "Invalid authorization in request"
	// MsgInvalidUser answers well-formed credentials that authenticate nobody:
	// unknown username, wrong password, disabled or expired credential.
	MsgInvalidUser = "Invalid user authorization"
	// MsgBusy answers, with 503 and Retry-After, a request whose password
	// would need bcrypt while the Limiter is full.
	MsgBusy = "Too many password checks in progress, retry later"
)

// Definition is the basic-auth plugin definition. Register it in a
// plugin.Registry; it is also the credential.Scheme that hashes passwords and
// the credential.Compiler that hands their hashes to the data plane. The zero
// value is ready to use.
type Definition struct {
	// Cost is the bcrypt cost of the hashes Seal makes; 0 means DefaultCost.
	// Hashes already stored keep the cost they were made with. A cost below
	// bcrypt.MinCost is raised to DefaultCost, one above bcrypt.MaxCost makes
	// Seal fail.
	Cost int
	// Cache remembers recent checks, successes and failures, so that a
	// repeated request does not pay bcrypt again. Nil means NewCache(0)
	// shared by every Definition of the process that has none of its own.
	Cache *Cache
	// Limiter bounds the bcrypt comparisons running at once; a request that
	// finds it full is answered 503. Nil means NewLimiter(0) (DefaultLimit()
	// slots) shared by every Definition of the process that has none of its
	// own: the cores it protects are the process's.
	Limiter *Limiter
}

var (
	_ plugin.Definition   = Definition{}
	_ credential.Scheme   = Definition{}
	_ credential.Compiler = Definition{}
)

// Name returns "basic-auth".
func (Definition) Name() string { return Name }

// Stage returns plugin.PreRequest: authentication runs first.
func (Definition) Stage() plugin.Stage { return plugin.PreRequest }

// Priority returns the order among authentication plugins.
func (Definition) Priority() int { return 2520 }

// Settings are the route-level settings of basic-auth.
type Settings struct {
	// HideCredentials removes the Authorization header from the request
	// before it goes upstream.
	HideCredentials bool `json:"hide_credentials,omitempty"`
	// AnonymousConsumer lets a request without valid credentials through as
	// this consumer.
	AnonymousConsumer string `json:"anonymous_consumer,omitempty"`
	// Realm is sent in WWW-Authenticate; default "basic".
	Realm string `json:"realm,omitempty"`
}

// New validates route-level settings and compiles the authenticator.
func (d Definition) New(raw json.RawMessage) (plugin.Plugin, error) {
	var s Settings
	if err := plugin.DecodeSettings(raw, &s); err != nil {
		return nil, err
	}
	var e validation.Error
	challenge, err := credential.Challenge("Basic", s.Realm, "basic")
	if err != nil {
		e.Add("realm", err.Error())
	}
	if s.AnonymousConsumer != "" && !consumer.ValidName(s.AnonymousConsumer) {
		e.Add("anonymous_consumer", "must be a consumer username (^[a-zA-Z0-9_-]+$, at most 512 characters)")
	}
	if err := e.Err(); err != nil {
		return nil, err
	}
	cache := d.Cache
	if cache == nil {
		cache = defaultCache()
	}
	limiter := d.Limiter
	if limiter == nil {
		limiter = defaultLimiter()
	}
	return &Authenticator{
		hide:        s.HideCredentials,
		anonymous:   s.AnonymousConsumer,
		cache:       cache,
		limiter:     limiter,
		cost:        d.cost(),
		missing:     &credential.AuthError{Status: http.StatusUnauthorized, Message: MsgMissing, Challenge: challenge, Missing: true},
		otherScheme: &credential.AuthError{Status: http.StatusUnauthorized, Message: MsgInvalid, Challenge: challenge, Missing: true},
		malformed:   &credential.AuthError{Status: http.StatusUnauthorized, Message: MsgInvalid, Challenge: challenge},
		invalidUser: &credential.AuthError{Status: http.StatusUnauthorized, Message: MsgInvalidUser, Challenge: challenge},
		busy:        &credential.AuthError{Status: http.StatusServiceUnavailable, Message: MsgBusy, RetryAfter: RetryAfter},
		now:         time.Now,
	}, nil
}

func (d Definition) cost() int {
	if d.Cost < bcrypt.MinCost {
		return DefaultCost
	}
	return d.Cost
}

// credentialSettings is what an admin writes on a basic-auth credential.
type credentialSettings struct {
	Username string `json:"username"`
	// Password is nil when not sent: a replacement then keeps the stored hash.
	Password *string `json:"password,omitempty"`
}

// stored is what the store keeps: the username and the bcrypt hash, never the
// password.
type stored struct {
	Username     string `json:"username"`
	PasswordHash string `json:"password_hash"`
}

// Seal validates a credential's username and password and hashes the
// password with bcrypt. A replacement (prev != nil) that sends no password
// keeps the stored hash, even when the username changes, so that a GET result
// sent back unchanged is accepted; one that sends the password the stored
// hash already verifies (at the Definition's cost) keeps that hash too, so
// that rewriting an unchanged credential stores the same bytes.
func (d Definition) Seal(raw, prev json.RawMessage) (credential.Sealed, error) {
	var in credentialSettings
	if err := plugin.DecodeSettings(raw, &in); err != nil {
		return credential.Sealed{}, err
	}
	var e validation.Error
	if why := checkUsername(in.Username); why != "" {
		e.Add("username", why)
	}
	var keep string
	switch {
	case in.Password != nil:
		if n := len(*in.Password); n == 0 || n > MaxPasswordLen {
			e.Add("password", fmt.Sprintf("must be 1 to %d bytes", MaxPasswordLen))
			break
		}
		// The password the credential already has keeps its hash (hashed
		// at the current cost), so that writing the same credential again
		// stores the same bytes.
		var old stored
		if prev != nil && json.Unmarshal(prev, &old) == nil && old.PasswordHash != "" {
			if cost, err := bcrypt.Cost([]byte(old.PasswordHash)); err == nil && cost == d.cost() &&
				compare([]byte(old.PasswordHash), prehash([]byte(*in.Password))) {
				keep = old.PasswordHash
			}
		}
	case prev != nil:
		var old stored
		if err := json.Unmarshal(prev, &old); err == nil && old.PasswordHash != "" {
			keep = old.PasswordHash
			break
		}
		e.Add("password", "is required")
	default:
		e.Add("password", "is required")
	}
	if err := e.Err(); err != nil {
		return credential.Sealed{}, err
	}
	st := stored{Username: in.Username, PasswordHash: keep}
	if keep == "" {
		hash, err := hashPassword([]byte(*in.Password), d.cost())
		if err != nil {
			return credential.Sealed{}, fmt.Errorf("basicauth: hash password: %w", err)
		}
		st.PasswordHash = string(hash)
	}
	out, err := json.Marshal(st)
	if err != nil {
		return credential.Sealed{}, fmt.Errorf("basicauth: encode settings: %w", err)
	}
	return credential.Sealed{Stored: out, Lookup: lookupPrefix + st.Username}, nil
}

// Redact returns the username of stored settings: never the hash.
func (Definition) Redact(raw json.RawMessage) json.RawMessage {
	var st stored
	_ = json.Unmarshal(raw, &st)
	out, _ := json.Marshal(map[string]string{"username": st.Username})
	return out
}

// errNoHash is returned by Compile for stored settings without a usable hash.
var errNoHash = errors.New("basicauth: stored settings hold no bcrypt hash")

// Compile returns the bcrypt hash of stored settings as a []byte, so that the
// data plane parses no JSON per request.
func (Definition) Compile(raw json.RawMessage) (any, error) {
	hash, err := storedHash(raw)
	if err != nil {
		return nil, err
	}
	return hash, nil
}

func storedHash(raw json.RawMessage) ([]byte, error) {
	var st stored
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, fmt.Errorf("basicauth: decode stored settings: %w", err)
	}
	hash := []byte(st.PasswordHash)
	if _, err := bcrypt.Cost(hash); err != nil {
		return nil, fmt.Errorf("%w: %w", errNoHash, err)
	}
	return hash, nil
}

// checkUsername returns why u is not a valid username, or "".
func checkUsername(u string) string {
	if u == "" {
		return "is required"
	}
	if !utf8.ValidString(u) || utf8.RuneCountInString(u) > MaxUsernameLen {
		return fmt.Sprintf("must be 1 to %d characters of valid UTF-8", MaxUsernameLen)
	}
	for _, r := range u {
		if r == ':' {
			return "must not contain ':'"
		}
		if unicode.IsControl(r) {
			return "must not contain control characters"
		}
	}
	return ""
}
