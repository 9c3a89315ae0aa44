// Package apikey is the apikey-auth scheme: Otoroshi-style API keys, a clientId
// and a clientSecret sent in two headers, in Authorization: Basic, or the clientId alone.
package apikey

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"
	"unicode/utf8"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/keyring"
	"github.com/gatehousehq/gatehouse/plugin"
	"github.com/gatehousehq/gatehouse/validation"
)

// Name is the plugin's registered name.
const Name = "apikey-auth"

// LookupPrefix starts the Lookup of every apikey-auth credential: its Lookup
// is LookupPrefix + clientId.
const LookupPrefix = Name + ":"

// sealContext binds sealed secrets to this scheme (keyring.Ring.Seal).
const sealContext = Name

// Limits on credential settings.
const (
	// MaxClientIDLen is the longest clientId accepted; a clientId is also a
	// credential id, so it matches ^[a-zA-Z0-9_-]+$.
	MaxClientIDLen = consumer.MaxUsernameLen
	// MinSecretLen and MaxSecretLen bound the length in bytes of a
	// clientSecret chosen by an admin.
	MinSecretLen = 8
	MaxSecretLen = 512
	// MaxTextLen bounds clientName and description, in characters.
	MaxTextLen = 1024
)

// Messages of API.md, and the read-only refusal (API.md is silent on it).
const (
	MsgMissing  = "no apikey"
	MsgInvalid  = "bad apikey"
	MsgReadOnly = "apikey is read-only: only GET, HEAD and OPTIONS are allowed"
)

// Definition is the apikey-auth plugin definition. Register it in a
// plugin.Registry; it is also the credential.Scheme that seals client
// secrets with Ring and the credential.Compiler that opens them when a
// credential enters the data plane's view.
type Definition struct {
	// Ring encrypts client secrets at rest. It is required: Seal and Compile
	// fail without it.
	Ring *keyring.Ring
	// Now is the clock (rotation grace periods, validUntil); nil means
	// time.Now. Tests set it.
	Now func() time.Time
	// Logger receives the precise reason of every refused request, at debug
	// level; nil means slog.Default().
	Logger *slog.Logger
}

var (
	_ plugin.Definition   = Definition{}
	_ credential.Scheme   = Definition{}
	_ credential.Compiler = Definition{}
)

// ErrNoKeyRing is returned by Seal and Compile of a Definition without a Ring.
var ErrNoKeyRing = errors.New("apikey-auth: no key ring: build the Definition with a keyring.Ring to encrypt client secrets")

// Name returns "apikey-auth".
func (Definition) Name() string { return Name }

// Stage returns plugin.PreRequest: authentication runs first.
func (Definition) Stage() plugin.Stage { return plugin.PreRequest }

// Priority returns the order among authentication plugins.
func (Definition) Priority() int { return 2540 }

func (d Definition) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// Rotation is the secret rotation policy of a key, in Otoroshi's terms.
type Rotation struct {
	// Enabled keeps the previous secret usable for GracePeriod hours when an
	// admin sets a new clientSecret.
	Enabled bool `json:"enabled"`
	// RotationEvery is the rotation period in hours. It is stored and shown;
	// Gatehouse never changes a secret by itself.
	RotationEvery int64 `json:"rotationEvery"`
	// GracePeriod is how long, in hours, the previous secret keeps working
	// after a rotation.
	GracePeriod int64 `json:"gracePeriod"`
}

// Settings are the credential settings of apikey-auth: what an admin writes in
// a credential's plugins["apikey-auth"] (the /api/apikeys resource writes
// them for you), and, without ClientSecret, what GET shows.
type Settings struct {
	// ClientID identifies the key; required, ^[a-zA-Z0-9_-]+$, unique.
	ClientID string `json:"clientId"`
	// ClientSecret is write-only; generated when a new key has none.
	ClientSecret string `json:"clientSecret,omitempty"`
	// ClientName and Description are free text.
	ClientName  string `json:"clientName,omitempty"`
	Description string `json:"description,omitempty"`
	// ReadOnly keys may only send GET, HEAD and OPTIONS requests.
	ReadOnly bool `json:"readOnly"`
	// AllowClientIDOnly lets the key authenticate with its clientId alone
	// (in the x-api-key header).
	AllowClientIDOnly bool `json:"allowClientIdOnly"`
	// Rotation is the secret rotation policy.
	Rotation Rotation `json:"rotation"`
	// RotatedAt is when the secret was last rotated, in epoch milliseconds.
	// It is set by Seal: a value written by an admin is ignored.
	RotatedAt *int64 `json:"rotatedAt,omitempty"`
	// ValidUntil, in epoch milliseconds, is when the key stops working.
	ValidUntil *int64 `json:"validUntil"`
	// ThrottlingQuota (calls per 10 s), DailyQuota and MonthlyQuota (per
	// calendar day and month, UTC) bound the key's calls; null is unlimited,
	// 0 refuses every call. The gateway counts them with its limiter (see
	// Secret.Quotas) and answers 429 MsgQuota when one is spent.
	ThrottlingQuota *int64 `json:"throttlingQuota"`
	DailyQuota      *int64 `json:"dailyQuota"`
	MonthlyQuota    *int64 `json:"monthlyQuota"`
	// Tags and Metadata are free annotations.
	Tags     []string          `json:"tags,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

// stored is what the store keeps: the settings with the secrets sealed.
type stored struct {
	Settings
	SecretSealed   string `json:"secretSealed"`
	PreviousSealed string `json:"previousSecretSealed,omitempty"`
	// PreviousUntil is the end of the previous secret's grace period, in
	// epoch milliseconds.
	PreviousUntil int64 `json:"previousSecretUntil,omitempty"`
}

// Validate checks the settings and returns a *validation.Error naming every
// invalid field, or nil.
func (s *Settings) Validate() error {
	var e validation.Error
	switch {
	case s.ClientID == "":
		e.Add("clientId", "is required")
	case !consumer.ValidName(s.ClientID):
		e.Add("clientId", "must match ^[a-zA-Z0-9_-]+$ and be at most 512 characters")
	}
	if s.ClientSecret != "" {
		if err := checkSecret(s.ClientSecret); err != nil {
			e.Add("clientSecret", err.Error())
		}
	}
	if utf8.RuneCountInString(s.ClientName) > MaxTextLen {
		e.Add("clientName", fmt.Sprintf("must be at most %d characters", MaxTextLen))
	}
	if utf8.RuneCountInString(s.Description) > MaxTextLen {
		e.Add("description", fmt.Sprintf("must be at most %d characters", MaxTextLen))
	}
	if s.Rotation.RotationEvery < 0 {
		e.Add("rotation.rotationEvery", "must be a non-negative number of hours")
	}
	if s.Rotation.GracePeriod < 0 {
		e.Add("rotation.gracePeriod", "must be a non-negative number of hours")
	} else if s.Rotation.GracePeriod > 100*365*24 {
		e.Add("rotation.gracePeriod", "must be at most 876000 hours")
	}
	if s.ValidUntil != nil && *s.ValidUntil < 0 {
		e.Add("validUntil", "must be epoch milliseconds (non-negative) or null")
	}
	for name, q := range map[string]*int64{"throttlingQuota": s.ThrottlingQuota, "dailyQuota": s.DailyQuota, "monthlyQuota": s.MonthlyQuota} {
		if q != nil && *q < 0 {
			e.Add(name, "must be a non-negative integer")
		}
	}
	for _, t := range s.Tags {
		if t == "" {
			e.Add("tags", "must not hold empty strings")
			break
		}
	}
	for k := range s.Metadata {
		if k == "" {
			e.Add("metadata", "keys must not be empty")
			break
		}
	}
	return e.Err()
}

type secretError string

func (e secretError) Error() string { return string(e) }

func checkSecret(s string) error {
	if len(s) < MinSecretLen || len(s) > MaxSecretLen {
		return secretError(fmt.Sprintf("must be %d to %d characters", MinSecretLen, MaxSecretLen))
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return secretError("must be printable ASCII without spaces")
		}
	}
	return nil
}

// GenerateSecret returns a new random client secret: 32 random bytes,
// base64url-encoded without padding (43 characters).
func GenerateSecret() string {
	return credential.RandomSecret(32)
}

// Seal validates a credential's settings and encrypts its secret with the
// ring. Without clientSecret, a replacement keeps the previous secret and a
// new key gets a generated one (GenerateSecret), revealed once in the response
// to that write. A new clientSecret on a key whose rotation is enabled keeps
// the previous secret usable for rotation.gracePeriod hours and records
// rotatedAt; without rotation, the previous secret stops working at once.
func (d Definition) Seal(raw, prev json.RawMessage) (credential.Sealed, error) {
	if d.Ring == nil {
		return credential.Sealed{}, ErrNoKeyRing
	}
	var in Settings
	if err := plugin.DecodeSettings(raw, &in); err != nil {
		return credential.Sealed{}, err
	}
	if err := in.Validate(); err != nil {
		return credential.Sealed{}, err
	}
	secret := in.ClientSecret
	st := stored{Settings: in}
	st.ClientSecret, st.RotatedAt = "", nil
	var old stored
	hasOld := prev != nil && json.Unmarshal(prev, &old) == nil && old.SecretSealed != ""
	generated := false
	switch {
	case secret == "" && hasOld:
		st.SecretSealed, st.PreviousSealed, st.PreviousUntil, st.RotatedAt = old.SecretSealed, old.PreviousSealed, old.PreviousUntil, old.RotatedAt
	case secret != "" && hasOld && d.sameSecret(old.SecretSealed, secret):
		st.SecretSealed, st.PreviousSealed, st.PreviousUntil, st.RotatedAt = old.SecretSealed, old.PreviousSealed, old.PreviousUntil, old.RotatedAt
	default:
		if secret == "" {
			secret, generated = GenerateSecret(), true
		}
		sealed, err := d.Ring.Seal([]byte(secret), sealContext)
		if err != nil {
			return credential.Sealed{}, fmt.Errorf("apikey-auth: seal secret: %w", err)
		}
		st.SecretSealed = sealed
		if hasOld {
			now := d.now()
			ms := now.UnixMilli()
			st.RotatedAt = &ms
			if in.Rotation.Enabled && in.Rotation.GracePeriod > 0 {
				st.PreviousSealed = old.SecretSealed
				st.PreviousUntil = now.Add(time.Duration(in.Rotation.GracePeriod) * time.Hour).UnixMilli()
			}
		}
	}
	out, err := json.Marshal(st)
	if err != nil {
		return credential.Sealed{}, fmt.Errorf("apikey-auth: encode settings: %w", err)
	}
	sealed := credential.Sealed{Stored: out, Lookup: LookupPrefix + st.ClientID}
	if generated {
		shown := st.Settings
		shown.ClientSecret = secret
		sealed.Reveal, _ = json.Marshal(shown)
	}
	return sealed, nil
}

// sameSecret reports whether sealed opens to secret.
func (d Definition) sameSecret(sealed, secret string) bool {
	plain, err := d.Ring.Open(sealed, sealContext)
	return err == nil && subtle.ConstantTimeCompare(plain, []byte(secret)) == 1
}

// Redact returns the settings of stored settings without any secret.
func (Definition) Redact(raw json.RawMessage) json.RawMessage {
	var st stored
	_ = json.Unmarshal(raw, &st)
	s := st.Settings
	s.ClientSecret = ""
	out, _ := json.Marshal(s)
	return out
}

// Secret is what Compile makes of a key's stored settings: the digests of
// its secrets and the flags the data plane checks. It becomes Match.Secret.
type Secret struct {
	current       [sha256.Size]byte
	previous      [sha256.Size]byte
	hasPrevious   bool
	previousUntil time.Time
	validUntil    time.Time // zero: no limit
	readOnly      bool
	clientIDOnly  bool
	quotas        *quotaSet // nil: no quota
}

// Compile opens the sealed secrets of stored settings once, so that requests
// never decrypt: the result, a *Secret, holds their SHA-256 digests.
func (d Definition) Compile(raw json.RawMessage) (any, error) {
	if d.Ring == nil {
		return nil, ErrNoKeyRing
	}
	var st stored
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, fmt.Errorf("apikey-auth: stored settings: %w", err)
	}
	if st.SecretSealed == "" {
		return nil, errors.New("apikey-auth: stored settings hold no secret")
	}
	cur, err := d.Ring.Open(st.SecretSealed, sealContext)
	if err != nil {
		return nil, fmt.Errorf("apikey-auth: open secret of clientId %q: %w", st.ClientID, err)
	}
	s := &Secret{current: sha256.Sum256(cur), readOnly: st.ReadOnly, clientIDOnly: st.AllowClientIDOnly, quotas: compileQuotas(&st.Settings)}
	if st.PreviousSealed != "" && st.PreviousUntil > 0 {
		p, err := d.Ring.Open(st.PreviousSealed, sealContext)
		if err != nil {
			return nil, fmt.Errorf("apikey-auth: open previous secret of clientId %q: %w", st.ClientID, err)
		}
		s.previous, s.hasPrevious, s.previousUntil = sha256.Sum256(p), true, time.UnixMilli(st.PreviousUntil)
	}
	if st.ValidUntil != nil {
		s.validUntil = time.UnixMilli(*st.ValidUntil)
	}
	return s, nil
}
