// Package credential holds the Credential type that proves a consumer's identity,
// the Scheme interface each authentication method implements, and the data-plane
// Match an authenticator returns. Each scheme lives in a sub-package (keyauth, ...).
package credential

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/validation"
)

// Credential attaches one authentication method to a consumer. A consumer may
// hold several credentials, of the same scheme or of different ones.
type Credential struct {
	// ID identifies the credential; generated when empty.
	ID string `json:"id"`
	// Consumer is the username of the owning consumer. It comes from the URL,
	// never from a request body.
	Consumer string `json:"-"`
	// Name is unique among the consumer's credentials.
	Name string `json:"name"`
	// Plugins holds exactly one authentication plugin (key-auth, ...) and its
	// settings. Once stored, secrets in it are sealed (hashed or encrypted) by
	// the scheme; see Scheme.
	Plugins map[string]json.RawMessage `json:"plugins"`
	// AuthorizedEntities lists the service groups, routes and APIs the
	// credential may call. An entry names group g when it is "group_<g>", or
	// exactly g unless g starts with "route_" or "api_"; route r when it is
	// "route_<r>", or exactly r when r itself starts with "route_"; likewise
	// API a with "api_" (see EntityNames).
	AuthorizedEntities []string `json:"authorized_entities,omitempty"`
	// Enabled is true unless the credential was switched off.
	Enabled bool `json:"enabled"`
	// ExpiresAt, when set, is the instant from which the credential
	// authenticates nothing.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// ConsumerGroup is set on the keys a consumer group issued (POST
	// /api/v1/gateways/{gw}/consumer-groups/{id}/keys): the group's id. Such a
	// key is deleted with its group. It is read-only through the credential
	// endpoints.
	ConsumerGroup string `json:"consumer_group,omitempty"`
	// Lookup is the scheme's unique index value (for key-auth, the hash of the
	// key). The store refuses two credentials with the same Lookup.
	Lookup string `json:"-"`
	// CreatedAt and UpdatedAt are set by the store.
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Active reports whether the credential may authenticate a request at now.
func (c *Credential) Active(now time.Time) bool {
	return c.Enabled && (c.ExpiresAt == nil || now.Before(*c.ExpiresAt))
}

// Scheme returns the name of the credential's authentication plugin, or "" when
// it does not hold exactly one plugin.
func (c *Credential) Scheme() string {
	if len(c.Plugins) != 1 {
		return ""
	}
	for name := range c.Plugins {
		return name
	}
	return ""
}

// Validate checks the credential's own fields and that it names exactly one
// plugin for which isScheme returns true. It returns a *validation.Error naming
// every invalid field. The plugin's settings are checked by its Scheme.
func (c *Credential) Validate(isScheme func(name string) bool) error {
	var e validation.Error
	if c.ID != "" && !consumer.ValidName(c.ID) {
		e.Add("id", "must match ^[a-zA-Z0-9_-]+$ and be at most 512 characters")
	}
	if strings.TrimSpace(c.Name) == "" {
		e.Add("name", "is required")
	} else if utf8.RuneCountInString(c.Name) > consumer.MaxUsernameLen {
		e.Add("name", "must be at most 512 characters")
	}
	switch len(c.Plugins) {
	case 0:
		e.Add("plugins", "must hold exactly one authentication plugin")
	case 1:
		for name := range c.Plugins {
			if !isScheme(name) {
				e.Add("plugins."+name, "is not an authentication plugin")
			}
		}
	default:
		e.Add("plugins", "must hold exactly one authentication plugin, not several")
	}
	if n := len(c.AuthorizedEntities); n > MaxAuthorizedEntities {
		e.Add("authorized_entities", "must have at most "+strconv.Itoa(MaxAuthorizedEntities)+" entries, not "+strconv.Itoa(n))
	}
	for i, ent := range c.AuthorizedEntities {
		if err := ValidateEntity(ent); err != nil {
			e.Add("authorized_entities", "entry "+strconv.Itoa(i)+": "+err.Error())
			break
		}
	}
	return e.Err()
}

// Clone returns a deep copy of c.
func (c *Credential) Clone() *Credential {
	if c == nil {
		return nil
	}
	out := *c
	out.Plugins = consumer.ClonePlugins(c.Plugins)
	if c.AuthorizedEntities != nil {
		out.AuthorizedEntities = append([]string(nil), c.AuthorizedEntities...)
	}
	if c.ExpiresAt != nil {
		t := *c.ExpiresAt
		out.ExpiresAt = &t
	}
	return &out
}

// Equal reports whether c and o hold the same credential: every field equal,
// instants compared with time.Time.Equal, settings byte for byte. The
// gateway's view uses it to keep what it compiled from a credential that a
// full reload read again unchanged.
func (c *Credential) Equal(o *Credential) bool {
	if c == nil || o == nil {
		return c == o
	}
	if c.ID != o.ID || c.Consumer != o.Consumer || c.Name != o.Name || c.Enabled != o.Enabled ||
		c.ConsumerGroup != o.ConsumerGroup || c.Lookup != o.Lookup ||
		!c.CreatedAt.Equal(o.CreatedAt) || !c.UpdatedAt.Equal(o.UpdatedAt) ||
		(c.ExpiresAt == nil) != (o.ExpiresAt == nil) || c.ExpiresAt != nil && !c.ExpiresAt.Equal(*o.ExpiresAt) ||
		!slices.Equal(c.AuthorizedEntities, o.AuthorizedEntities) || len(c.Plugins) != len(o.Plugins) {
		return false
	}
	for name, v := range c.Plugins {
		w, ok := o.Plugins[name]
		if !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}
