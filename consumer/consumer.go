// Package consumer holds the Consumer type (a caller's identity), its validation,
// and the request-context helpers that carry the authenticated consumer to handlers.
package consumer

import (
	"encoding/json"
	"time"

	"github.com/gatehousehq/gatehouse/validation"
)

// MaxUsernameLen is the longest username accepted.
const MaxUsernameLen = 512

// Consumer is a caller of the API: a person, a team or a service. Credentials
// attached to it prove who is calling; its plugins apply to every request it makes.
type Consumer struct {
	// Username identifies the consumer: 1 to 512 characters of [a-zA-Z0-9_-].
	Username string `json:"username"`
	// Desc is free text for operators.
	Desc string `json:"desc,omitempty"`
	// Labels are key/value pairs that lists can filter on.
	Labels map[string]string `json:"labels,omitempty"`
	// Plugins are consumer-level plugin settings, by plugin name.
	Plugins map[string]json.RawMessage `json:"plugins,omitempty"`
	// GroupID names the consumer group the consumer belongs to, if any.
	GroupID string `json:"group_id,omitempty"`
	// CreatedAt and UpdatedAt are set by the store.
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ValidName reports whether s is a valid username or identifier:
// 1 to 512 characters of ASCII letters, digits, '_' and '-'.
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > MaxUsernameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Validate checks the consumer's own fields and returns a *validation.Error naming
// every invalid one. Plugin settings are checked by the plugin registry, not here.
func (c *Consumer) Validate() error {
	var e validation.Error
	switch {
	case c.Username == "":
		e.Add("username", "is required")
	case len(c.Username) > MaxUsernameLen:
		e.Add("username", "must be at most 512 characters")
	case !ValidName(c.Username):
		e.Add("username", "must match ^[a-zA-Z0-9_-]+$")
	}
	for k := range c.Labels {
		if k == "" {
			e.Add("labels", "keys must not be empty")
			break
		}
	}
	if c.GroupID != "" && !ValidName(c.GroupID) {
		e.Add("group_id", "must match ^[a-zA-Z0-9_-]+$")
	}
	return e.Err()
}

// Clone returns a deep copy of c, so that a stored consumer is never shared with
// a caller that might change it.
func (c *Consumer) Clone() *Consumer {
	if c == nil {
		return nil
	}
	out := *c
	if c.Labels != nil {
		out.Labels = make(map[string]string, len(c.Labels))
		for k, v := range c.Labels {
			out.Labels[k] = v
		}
	}
	out.Plugins = ClonePlugins(c.Plugins)
	return &out
}

// ClonePlugins copies a plugin settings map and its raw values.
func ClonePlugins(p map[string]json.RawMessage) map[string]json.RawMessage {
	if p == nil {
		return nil
	}
	out := make(map[string]json.RawMessage, len(p))
	for k, v := range p {
		out[k] = append(json.RawMessage(nil), v...)
	}
	return out
}
