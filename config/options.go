package config

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/gatehousehq/gatehouse/plugin"
)

// Option configures Parse, Validate, Apply and Export; each uses the options
// that concern it and ignores the others.
type Option func(*settings)

type settings struct {
	lookup    LookupEnv
	reg       *plugin.Registry
	gatewayID string
	prune     bool
	dryRun    bool
}

func newSettings(opts []Option) settings {
	s := settings{lookup: os.LookupEnv, gatewayID: DefaultGatewayID}
	for _, o := range opts {
		o(&s)
	}
	if s.lookup == nil {
		s.lookup = os.LookupEnv
	}
	if s.gatewayID == "" {
		s.gatewayID = DefaultGatewayID
	}
	return s
}

// DefaultGatewayID is the gateway whose consumer groups and plugins a file
// configures unless WithGatewayID says otherwise (the reference gateway's
// default -gateway-id).
const DefaultGatewayID = "default"

// WithLookupEnv sets how Parse resolves ${NAME} (default os.LookupEnv).
func WithLookupEnv(lookup LookupEnv) Option {
	return func(s *settings) { s.lookup = lookup }
}

// WithRegistry sets the plugin registry that validates plugin settings and
// whose credential schemes seal and redact secrets: the gateway's
// (gatehouse.Gateway.Registry), so that a file is checked exactly as the
// admin API checks a request. Validate, Apply and Export need it.
func WithRegistry(reg *plugin.Registry) Option {
	return func(s *settings) { s.reg = reg }
}

// WithGatewayID names the gateway whose consumer groups and plugins the file
// holds (default DefaultGatewayID). Apply creates it when the file needs it.
func WithGatewayID(id string) Option {
	return func(s *settings) { s.gatewayID = id }
}

// WithPrune makes Apply delete what the file no longer names: consumers,
// their credentials (not the keys a consumer group issued, which belong to
// their group), routes, service groups, and the consumer groups of the
// gateway; and clear the gateway's plugins when the file has none. Gateways
// themselves are never deleted.
func WithPrune(prune bool) Option {
	return func(s *settings) { s.prune = prune }
}

// WithDryRun makes Apply validate the file and report what it would change,
// writing nothing.
func WithDryRun(dryRun bool) Option {
	return func(s *settings) { s.dryRun = dryRun }
}

// Counts are the outcome of Apply for one kind of object.
type Counts struct {
	Created, Updated, Deleted, Unchanged int
}

// Changes is Created + Updated + Deleted.
func (c Counts) Changes() int { return c.Created + c.Updated + c.Deleted }

// Result is what Apply did (or, with WithDryRun, would do), per kind.
// Deleting a consumer deletes its credentials: they are counted with the
// consumer only.
type Result struct {
	Gateway        Counts
	Groups         Counts
	ConsumerGroups Counts
	Consumers      Counts
	Credentials    Counts
	Routes         Counts
}

// Changes counts the writes of every kind.
func (r Result) Changes() int {
	n := 0
	for _, k := range r.kinds() {
		n += k.c.Changes()
	}
	return n
}

type namedCounts struct {
	name string
	c    Counts
}

func (r Result) kinds() []namedCounts {
	return []namedCounts{
		{"gateway", r.Gateway}, {"groups", r.Groups}, {"consumer_groups", r.ConsumerGroups},
		{"consumers", r.Consumers}, {"credentials", r.Credentials}, {"routes", r.Routes},
	}
}

// String summarizes the result for a log line, such as
// "consumers 1 created 2 unchanged; routes 1 updated"; "nothing" when the
// file named nothing.
func (r Result) String() string {
	var parts []string
	for _, k := range r.kinds() {
		var sub []string
		for _, v := range []struct {
			n    int
			what string
		}{{k.c.Created, "created"}, {k.c.Updated, "updated"}, {k.c.Deleted, "deleted"}, {k.c.Unchanged, "unchanged"}} {
			if v.n > 0 {
				sub = append(sub, fmt.Sprintf("%d %s", v.n, v.what))
			}
		}
		if len(sub) > 0 {
			parts = append(parts, k.name+" "+strings.Join(sub, " "))
		}
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, "; ")
}

// LogValue groups the counts by kind for log/slog, leaving out kinds the
// file did not touch.
func (r Result) LogValue() slog.Value {
	var attrs []slog.Attr
	for _, k := range r.kinds() {
		if k.c == (Counts{}) {
			continue
		}
		attrs = append(attrs, slog.Group(k.name, "created", k.c.Created, "updated", k.c.Updated,
			"deleted", k.c.Deleted, "unchanged", k.c.Unchanged))
	}
	return slog.GroupValue(attrs...)
}

func (r *Result) counts(k kind) *Counts {
	switch k {
	case kindGateway:
		return &r.Gateway
	case kindGroup:
		return &r.Groups
	case kindConsumerGroup:
		return &r.ConsumerGroups
	case kindConsumer:
		return &r.Consumers
	case kindCredential:
		return &r.Credentials
	default:
		return &r.Routes
	}
}
