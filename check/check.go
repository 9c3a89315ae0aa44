// Package check validates configuration objects the way every writer must (the
// admin API, the declarative config package): the entity's own rules, plugin
// settings through the plugin registry, and credential secrets sealed by their
// scheme. Each function returns a *validation.Error naming every invalid field.
package check

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/consumergroup"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/plugin"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/servicegroup"
	"github.com/gatehousehq/gatehouse/validation"
)

// Consumer checks the consumer's fields and its plugins' settings.
func Consumer(reg *plugin.Registry, c *consumer.Consumer) error {
	return withPlugins(reg, c.Validate(), c.Plugins)
}

// Route checks the route's fields and its plugins' settings.
func Route(reg *plugin.Registry, r *route.Route) error {
	return withPlugins(reg, r.Validate(), r.Plugins)
}

// Group checks a service group's fields.
func Group(g *servicegroup.Group) error { return g.Validate() }

// Gateway checks a gateway's fields and its plugins' settings.
func Gateway(reg *plugin.Registry, g *consumergroup.Gateway) error {
	return withPlugins(reg, g.Validate(), g.Plugins)
}

// withPlugins joins the problems of an object's own fields (fields, what its
// Validate returned) with those of its plugins' settings, under "plugins".
func withPlugins(reg *plugin.Registry, fields error, plugins map[string]json.RawMessage) error {
	var e validation.Error
	e.Merge("", fields)
	e.Merge("", reg.Validate("plugins", plugins))
	return e.Err()
}

// ConsumerGroup checks a consumer group's fields and each required plugin
// (registered, settings valid, able to run at its stage), and fills every
// required plugin's defaults (enabled, the plugin's stage and priority) so
// that what is stored says what runs.
func ConsumerGroup(reg *plugin.Registry, g *consumergroup.Group) error {
	var e validation.Error
	e.Merge("", g.Validate())
	for i := range g.RequiredPlugins {
		p := &g.RequiredPlugins[i]
		field := fmt.Sprintf("required_plugins[%d]", i)
		if p.Name == "" {
			continue // reported by Validate
		}
		def, ok := reg.Lookup(p.Name)
		if !ok {
			e.Add(field+".name", fmt.Sprintf("plugin %q is not registered on this server", p.Name))
			continue
		}
		compiled, err := reg.New(p.Name, p.Settings)
		if err != nil {
			e.Merge(field+".settings", err)
		}
		if p.Enabled == nil {
			on := true
			p.Enabled = &on
		}
		if p.Stage == "" {
			p.Stage = def.Stage().String()
		} else if st, err := plugin.ParseStage(p.Stage); err == nil && compiled != nil && !plugin.CanRun(compiled, st) {
			// Accepted, such an entry would fail its members' requests with 500.
			e.Add(field+".stage", fmt.Sprintf("plugin %q cannot run at %s (its stage is %s)", p.Name, st, def.Stage()))
		}
		if p.Priority == nil {
			pr := def.Priority()
			p.Priority = &pr
		}
	}
	return e.Err()
}

// Scheme returns the credential.Scheme registered in reg under name.
func Scheme(reg *plugin.Registry, name string) (credential.Scheme, bool) {
	d, ok := reg.Lookup(name)
	if !ok {
		return nil, false
	}
	s, ok := d.(credential.Scheme)
	return s, ok
}

// Credential validates next (whose Consumer and ID are already set) and seals
// its secrets with its scheme, in place: next.Plugins then holds the stored
// form and next.Lookup the scheme's lookup. prev is the stored credential
// being replaced, or nil; its timestamps and consumer group are kept, and its
// scheme settings passed to Seal (which keeps a secret not resent). It returns
// the Reveal of the seal: not nil when the scheme generated a secret.
func Credential(reg *plugin.Registry, next, prev *credential.Credential) (json.RawMessage, error) {
	next.Lookup = ""
	if prev != nil {
		next.CreatedAt, next.UpdatedAt = prev.CreatedAt, prev.UpdatedAt
	} else {
		next.CreatedAt, next.UpdatedAt = time.Time{}, time.Time{}
	}
	isScheme := func(name string) bool { _, ok := Scheme(reg, name); return ok }
	var e validation.Error
	e.Merge("", next.Validate(isScheme))
	if next.ConsumerGroup != "" && (prev == nil || prev.ConsumerGroup != next.ConsumerGroup) {
		e.Add("consumer_group", "is set by POST /api/v1/gateways/{gateway_id}/consumer-groups/{group_id}/keys, not here")
	}
	if prev != nil {
		next.ConsumerGroup = prev.ConsumerGroup // a group key stays the group's
	}
	name := next.Scheme()
	s, ok := Scheme(reg, name)
	if !ok {
		return nil, e.Err() // Validate named the plugins field
	}
	var prevSettings json.RawMessage
	if prev != nil && prev.Scheme() == name {
		prevSettings = prev.Plugins[name]
	}
	sealed, err := s.Seal(next.Plugins[name], prevSettings)
	if err != nil {
		e.Merge("plugins."+name, err)
	}
	if err := e.Err(); err != nil {
		return nil, err
	}
	next.Plugins = map[string]json.RawMessage{name: sealed.Stored}
	next.Lookup = sealed.Lookup
	return sealed.Reveal, nil
}
