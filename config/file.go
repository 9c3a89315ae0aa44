// Package config is Gatehouse's declarative configuration: a YAML or JSON file of
// consumers (with their credentials), service groups, consumer groups, routes and
// gateway plugins, validated as a whole, applied idempotently, and exported back.
//
// Parse reads a file (secrets may come from the environment: ${VAR}); Validate
// checks it against a store with the admin API's own rules; Apply writes only
// the difference (and, with WithPrune, removes what the file no longer names);
// Export reads a store back into a File, secrets left out.
package config

import (
	"encoding/json"
	"time"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/consumergroup"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/servicegroup"
)

// File is a declarative configuration. Each object has the fields of its
// admin API resource (docs/admin-api.md) without the timestamps; consumers
// hold their credentials. Lists are applied in the order groups, consumer
// groups, consumers (then their credentials), routes.
type File struct {
	// Plugins are the gateway-level plugins of the gateway Apply is given
	// (WithGatewayID): the gateway object's plugins. Nil leaves them alone
	// (cleared with WithPrune); an empty object clears them.
	Plugins map[string]json.RawMessage `json:"plugins,omitempty"`
	// Groups are service groups (Otoroshi): /api/groups.
	Groups []Group `json:"groups,omitempty"`
	// ConsumerGroups are the consumer groups of the gateway (TrustGate):
	// /api/v1/gateways/{gateway_id}/consumer-groups.
	ConsumerGroups []ConsumerGroup `json:"consumer_groups,omitempty"`
	// Consumers are /api/consumers, each with its credentials.
	Consumers []Consumer `json:"consumers,omitempty"`
	// Routes are /api/routes.
	Routes []Route `json:"routes,omitempty"`
}

// Group is a service group.
type Group struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	Tags        []string          `json:"tags,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
}

// ConsumerGroup is a consumer group of the gateway.
type ConsumerGroup struct {
	ID              string                       `json:"id"`
	Name            string                       `json:"name"`
	RequiredPlugins []consumergroup.PluginConfig `json:"required_plugins,omitempty"`
}

// Consumer is a consumer and its credentials.
type Consumer struct {
	Username string                     `json:"username"`
	Desc     string                     `json:"desc,omitempty"`
	Labels   map[string]string          `json:"labels,omitempty"`
	Plugins  map[string]json.RawMessage `json:"plugins,omitempty"`
	GroupID  string                     `json:"group_id,omitempty"`
	// Credentials are the consumer's credentials. Keys issued by a consumer
	// group are not listed: they belong to their group.
	Credentials []Credential `json:"credentials,omitempty"`
}

// Credential is one credential of a consumer: key-auth, basic-auth,
// hmac-auth, jwt-auth or apikey-auth (an Otoroshi API key) in Plugins. A
// credential whose settings carry no secret keeps the stored one; a new
// credential must carry its secret (Validate refuses one that does not).
type Credential struct {
	// ID is the credential's id; Name when empty.
	ID                 string                     `json:"id,omitempty"`
	Name               string                     `json:"name"`
	Plugins            map[string]json.RawMessage `json:"plugins"`
	AuthorizedEntities []string                   `json:"authorized_entities,omitempty"`
	// Enabled is true when absent.
	Enabled   *bool      `json:"enabled,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// Route is a route.
type Route struct {
	ID       string                     `json:"id"`
	Name     string                     `json:"name,omitempty"`
	Groups   []string                   `json:"groups,omitempty"`
	API      string                     `json:"api,omitempty"`
	Frontend route.Frontend             `json:"frontend"`
	Backend  *route.Backend             `json:"backend,omitempty"`
	Plugins  map[string]json.RawMessage `json:"plugins,omitempty"`
	AuthMode string                     `json:"auth_mode,omitempty"`
}

func (g *Group) entity() *servicegroup.Group {
	return (&servicegroup.Group{ID: g.ID, Name: g.Name, Description: g.Description, Tags: g.Tags, Metadata: g.Metadata}).Clone()
}

func groupOf(g *servicegroup.Group) Group {
	c := g.Clone()
	return Group{ID: c.ID, Name: c.Name, Description: c.Description, Tags: c.Tags, Metadata: c.Metadata}
}

func (g *ConsumerGroup) entity(gatewayID string) *consumergroup.Group {
	return (&consumergroup.Group{ID: g.ID, GatewayID: gatewayID, Name: g.Name, RequiredPlugins: g.RequiredPlugins}).Clone()
}

func consumerGroupOf(g *consumergroup.Group) ConsumerGroup {
	c := g.Clone()
	return ConsumerGroup{ID: c.ID, Name: c.Name, RequiredPlugins: c.RequiredPlugins}
}

func (c *Consumer) entity() *consumer.Consumer {
	return (&consumer.Consumer{Username: c.Username, Desc: c.Desc, Labels: c.Labels, Plugins: c.Plugins, GroupID: c.GroupID}).Clone()
}

func consumerOf(c *consumer.Consumer) Consumer {
	k := c.Clone()
	return Consumer{Username: k.Username, Desc: k.Desc, Labels: k.Labels, Plugins: k.Plugins, GroupID: k.GroupID}
}

// id is the credential's id: ID, or Name when ID is empty.
func (c *Credential) id() string {
	if c.ID != "" {
		return c.ID
	}
	return c.Name
}

func (c *Credential) entity(username string) *credential.Credential {
	out := (&credential.Credential{
		ID: c.id(), Consumer: username, Name: c.Name, Plugins: c.Plugins,
		AuthorizedEntities: c.AuthorizedEntities, Enabled: c.Enabled == nil || *c.Enabled, ExpiresAt: c.ExpiresAt,
	}).Clone()
	if out.ExpiresAt != nil {
		t := out.ExpiresAt.UTC()
		out.ExpiresAt = &t
	}
	return out
}

func (r *Route) entity() *route.Route {
	return (&route.Route{
		ID: r.ID, Name: r.Name, Groups: r.Groups, API: r.API, Frontend: r.Frontend,
		Backend: r.Backend, Plugins: r.Plugins, AuthMode: r.AuthMode,
	}).Clone()
}

func routeOf(r *route.Route) Route {
	c := r.Clone()
	return Route{ID: c.ID, Name: c.Name, Groups: c.Groups, API: c.API, Frontend: c.Frontend, Backend: c.Backend, Plugins: c.Plugins, AuthMode: c.AuthMode}
}
