package config

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/gatehousehq/gatehouse/check"
	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/store"
	"sigs.k8s.io/yaml"
)

// Export reads the whole configuration of s into a File: every consumer with
// its credentials, service group and route, and the consumer groups and
// plugins of the gateway (WithGatewayID). Secrets are left out: each
// credential shows what GET shows of it (its scheme's Redact), which Apply
// reads as "keep the stored secret". Keys issued by consumer groups are left
// out too (they belong to their group). Applying the export to the store it
// came from changes nothing, even with WithPrune. Lists are in id order.
func Export(ctx context.Context, s store.Store, opts ...Option) (*File, error) {
	cfg := newSettings(opts)
	if cfg.reg == nil {
		return nil, ErrNoRegistry
	}
	snap, err := s.Snapshot(ctx)
	if err != nil {
		return nil, fmt.Errorf("config: read the store: %w", err)
	}
	x := newIndex(snap, cfg.gatewayID)
	f := &File{}
	if x.gateway != nil && len(x.gateway.Plugins) > 0 {
		f.Plugins = consumer.ClonePlugins(x.gateway.Plugins)
	}
	for _, id := range sortedKeys(x.groups) {
		f.Groups = append(f.Groups, groupOf(x.groups[id]))
	}
	for _, id := range sortedKeys(x.cgroups) {
		if g := x.cgroups[id]; g.GatewayID == cfg.gatewayID {
			f.ConsumerGroups = append(f.ConsumerGroups, consumerGroupOf(g))
		}
	}
	for _, name := range sortedKeys(x.consumers) {
		c := consumerOf(x.consumers[name])
		creds := x.credsOf[name]
		sort.Slice(creds, func(i, j int) bool { return creds[i].ID < creds[j].ID })
		for _, cr := range creds {
			if cr.ConsumerGroup != "" {
				continue
			}
			c.Credentials = append(c.Credentials, exportCredential(cfg, cr))
		}
		f.Consumers = append(f.Consumers, c)
	}
	for _, id := range sortedKeys(x.routes) {
		f.Routes = append(f.Routes, routeOf(x.routes[id]))
	}
	return f, nil
}

func exportCredential(cfg settings, cr *credential.Credential) Credential {
	c := cr.Clone()
	plugins := make(map[string]json.RawMessage, len(c.Plugins))
	for name, stored := range c.Plugins {
		if s, ok := check.Scheme(cfg.reg, name); ok {
			plugins[name] = s.Redact(stored)
		} else {
			plugins[name] = json.RawMessage("{}") // nothing to redact with: show nothing
		}
	}
	enabled := c.Enabled
	out := Credential{ID: c.ID, Name: c.Name, Plugins: plugins, AuthorizedEntities: c.AuthorizedEntities, Enabled: &enabled, ExpiresAt: c.ExpiresAt}
	if out.ExpiresAt != nil {
		t := out.ExpiresAt.UTC()
		out.ExpiresAt = &t
	}
	return out
}

// Format is a file format: FormatJSON or FormatYAML.
type Format string

// File formats.
const (
	FormatJSON Format = "json"
	FormatYAML Format = "yaml"
)

// ParseFormat returns the Format named s ("json", "yaml" or "yml").
func ParseFormat(s string) (Format, error) {
	switch s {
	case "json":
		return FormatJSON, nil
	case "yaml", "yml":
		return FormatYAML, nil
	}
	return "", fmt.Errorf("config: unknown format %q: want json or yaml", s)
}

// Marshal encodes f in format: indented JSON, or YAML (keys in name order).
// Every "${" of a string value is written "$${", so that Parse reads the
// same File back.
func Marshal(f *File, format Format) ([]byte, error) {
	tree, ok := jsonValue(f)
	if !ok {
		return nil, fmt.Errorf("config: encode: a plugin's settings are not valid JSON")
	}
	js, err := json.MarshalIndent(escapeTree(tree), "", "  ")
	if err != nil {
		return nil, fmt.Errorf("config: encode: %w", err)
	}
	switch format {
	case FormatJSON, "":
		return append(js, '\n'), nil
	case FormatYAML:
		y, err := yaml.JSONToYAML(js)
		if err != nil {
			return nil, fmt.Errorf("config: encode YAML: %w", err)
		}
		return y, nil
	}
	return nil, fmt.Errorf("config: unknown format %q: want json or yaml", format)
}

// escapeTree writes every "${" of the string values of v as "$${" (the
// reverse of Expand).
func escapeTree(v any) any {
	switch x := v.(type) {
	case string:
		return strings.ReplaceAll(x, "${", "$${")
	case []any:
		for i := range x {
			x[i] = escapeTree(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = escapeTree(x[k])
		}
	}
	return v
}
