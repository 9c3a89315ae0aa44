// Package consumergroup holds TrustGate-style gateways and the consumer groups each one
// holds: the plugins a group requires of its members and the API keys it issues them.
package consumergroup

import (
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/plugin"
	"github.com/gatehousehq/gatehouse/validation"
)

// MaxNameLen bounds the name of a gateway or a group, in characters.
const MaxNameLen = 1024

// Gateway is a namespace for consumer groups: one data plane serves one
// gateway (the reference gateway's -gateway-id), and only the groups of that
// gateway apply to its requests.
type Gateway struct {
	// ID identifies the gateway; generated when empty.
	ID string `json:"id"`
	// Name is required free text.
	Name string `json:"name"`
	// Plugins are gateway-level plugin settings (name → settings): they run
	// for every request of the data plane that serves the gateway, unless the
	// route, the consumer group or the consumer sets the same plugin (the most
	// specific level wins). Validated by the plugin registry.
	Plugins map[string]json.RawMessage `json:"plugins,omitempty"`
	// CreatedAt and UpdatedAt are set by the store.
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Validate returns a *validation.Error naming every invalid field, or nil.
// Plugin settings are validated by the plugin registry, not here.
func (g *Gateway) Validate() error {
	var e validation.Error
	if g.ID != "" && !consumer.ValidName(g.ID) {
		e.Add("id", "must match ^[a-zA-Z0-9_-]+$ and be at most 512 characters")
	}
	checkName(&e, g.Name)
	return e.Err()
}

// Clone returns a deep copy of g.
func (g *Gateway) Clone() *Gateway {
	if g == nil {
		return nil
	}
	out := *g
	if g.Plugins != nil {
		out.Plugins = make(map[string]json.RawMessage, len(g.Plugins))
		for k, v := range g.Plugins {
			out.Plugins[k] = append(json.RawMessage(nil), v...)
		}
	}
	return &out
}

// Group is a consumer group: the consumers whose group_id names it run its
// required plugins (a rate limit shared by the group, say) and can hold keys
// the group issued.
type Group struct {
	// ID identifies the group across all gateways; generated when empty.
	ID string `json:"id"`
	// GatewayID is the gateway that holds the group. It comes from the URL.
	GatewayID string `json:"gateway_id"`
	// Name is required and unique within the gateway.
	Name string `json:"name"`
	// RequiredPlugins run for every request of the group's members.
	RequiredPlugins []PluginConfig `json:"required_plugins"`
	// CreatedAt and UpdatedAt are set by the store.
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// PluginConfig is one entry of a group's required_plugins.
type PluginConfig struct {
	// Name is the registered plugin name, such as "advanced_rate_limiter".
	Name string `json:"name"`
	// Enabled is true unless the entry is switched off; nil means true.
	Enabled *bool `json:"enabled,omitempty"`
	// Stage overrides the plugin's own stage (pre_request, post_request,
	// pre_response, post_response); empty keeps it.
	Stage string `json:"stage,omitempty"`
	// Priority overrides the plugin's own priority (lower runs first); nil
	// keeps it.
	Priority *int `json:"priority,omitempty"`
	// Parallel lets the plugin run concurrently with others of its priority.
	Parallel bool `json:"parallel,omitempty"`
	// Settings are the plugin's settings, validated by the plugin.
	Settings json.RawMessage `json:"settings,omitempty"`
}

// IsEnabled reports whether the entry is switched on (Enabled nil or true).
func (p *PluginConfig) IsEnabled() bool { return p.Enabled == nil || *p.Enabled }

// Validate returns a *validation.Error naming every invalid field, or nil.
// Plugin settings are validated by the plugin registry, not here.
func (g *Group) Validate() error {
	var e validation.Error
	if g.ID != "" && !consumer.ValidName(g.ID) {
		e.Add("id", "must match ^[a-zA-Z0-9_-]+$ and be at most 512 characters")
	}
	checkName(&e, g.Name)
	seen := make(map[string]bool, len(g.RequiredPlugins))
	for i, p := range g.RequiredPlugins {
		field := fmt.Sprintf("required_plugins[%d]", i)
		switch {
		case p.Name == "":
			e.Add(field+".name", "is required")
		case seen[p.Name]:
			e.Add(field+".name", fmt.Sprintf("%q is already configured: a plugin appears once per group", p.Name))
		}
		seen[p.Name] = true
		if p.Stage != "" {
			if _, err := plugin.ParseStage(p.Stage); err != nil {
				e.Add(field+".stage", "must be pre_request, post_request, pre_response or post_response")
			}
		}
	}
	return e.Err()
}

// Clone returns a deep copy of g.
func (g *Group) Clone() *Group {
	if g == nil {
		return nil
	}
	out := *g
	if g.RequiredPlugins != nil {
		out.RequiredPlugins = make([]PluginConfig, len(g.RequiredPlugins))
		for i, p := range g.RequiredPlugins {
			if p.Enabled != nil {
				v := *p.Enabled
				p.Enabled = &v
			}
			if p.Priority != nil {
				v := *p.Priority
				p.Priority = &v
			}
			p.Settings = append(json.RawMessage(nil), p.Settings...)
			out.RequiredPlugins[i] = p
		}
	}
	return &out
}

func checkName(e *validation.Error, name string) {
	switch {
	case name == "":
		e.Add("name", "is required")
	case utf8.RuneCountInString(name) > MaxNameLen:
		e.Add("name", fmt.Sprintf("must be at most %d characters", MaxNameLen))
	}
}
