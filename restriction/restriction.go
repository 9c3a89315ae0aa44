// Package restriction is the consumer-restriction plugin: once the caller is
// known, it allows or refuses the request by consumer name, consumer group or label.
package restriction

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/plugin"
	"github.com/gatehousehq/gatehouse/validation"
)

// Name is the plugin's registered name.
const Name = "consumer-restriction"

// What a rule looks at.
const (
	TypeConsumerName    = "consumer_name"
	TypeConsumerGroupID = "consumer_group_id"
	TypeLabel           = "label"
)

// MsgNoConsumer answers a request that reached the plugin without an
// identity (a route with no authentication plugin).
const MsgNoConsumer = "Missing authentication or identity verification."

// Definition is the consumer-restriction plugin definition.
type Definition struct{}

var _ plugin.Definition = Definition{}

// Name returns "consumer-restriction".
func (Definition) Name() string { return Name }

// Stage returns plugin.PreRequest: the decision is made before the handler.
func (Definition) Stage() plugin.Stage { return plugin.PreRequest }

// Priority orders the plugin among pre_request plugins; it always runs after
// authentication and group authorization.
func (Definition) Priority() int { return 2400 }

// Settings are the plugin's settings.
type Settings struct {
	// Type is what the lists name: consumer_name (default), consumer_group_id,
	// or label ("key:value" entries).
	Type string `json:"type,omitempty"`
	// Whitelist, when set, admits only the values it lists.
	Whitelist []string `json:"whitelist,omitempty"`
	// Blacklist, when set, refuses the values it lists.
	Blacklist []string `json:"blacklist,omitempty"`
	// AllowedByMethods limits the methods a value may use; a value without an
	// entry is not limited by it.
	AllowedByMethods []MethodRule `json:"allowed_by_methods,omitempty"`
	// RejectedCode is the status of a refusal; default 403.
	RejectedCode int `json:"rejected_code,omitempty"`
	// RejectedMsg is the message of a refusal; default "The <type> is forbidden.".
	RejectedMsg string `json:"rejected_msg,omitempty"`
}

// MethodRule limits one value (a consumer name, group id or label) to methods.
type MethodRule struct {
	User    string   `json:"user"`
	Methods []string `json:"methods"`
}

// New validates settings and compiles the restriction.
func (Definition) New(raw json.RawMessage) (plugin.Plugin, error) {
	var s Settings
	if err := plugin.DecodeSettings(raw, &s); err != nil {
		return nil, err
	}
	var e validation.Error
	switch s.Type {
	case "":
		s.Type = TypeConsumerName
	case TypeConsumerName, TypeConsumerGroupID, TypeLabel:
	default:
		e.Add("type", "must be consumer_name, consumer_group_id or label")
	}
	if len(s.Whitelist) == 0 && len(s.Blacklist) == 0 && len(s.AllowedByMethods) == 0 {
		e.Add("whitelist", "one of whitelist, blacklist or allowed_by_methods is required")
	}
	if len(s.Whitelist) > 0 && len(s.Blacklist) > 0 {
		e.Add("blacklist", "whitelist and blacklist cannot be used together")
	}
	checkValues := func(field string, values []string) {
		for _, v := range values {
			if !validValue(s.Type, v) {
				e.Add(field, valueRule(s.Type))
				return
			}
		}
	}
	checkValues("whitelist", s.Whitelist)
	checkValues("blacklist", s.Blacklist)
	methods := map[string]map[string]bool{}
	for _, rule := range s.AllowedByMethods {
		if !validValue(s.Type, rule.User) {
			e.Add("allowed_by_methods", "user: "+valueRule(s.Type))
			break
		}
		if len(rule.Methods) == 0 {
			e.Add("allowed_by_methods", "every rule needs methods")
			break
		}
		set := methods[rule.User]
		if set == nil {
			set = map[string]bool{}
			methods[rule.User] = set
		}
		for _, m := range rule.Methods {
			if m == "" || strings.ToUpper(m) != m || strings.ContainsAny(m, " \t/") {
				e.Add("allowed_by_methods", "methods must be upper-case HTTP methods such as GET")
				break
			}
			set[m] = true
		}
	}
	switch {
	case s.RejectedCode == 0:
		s.RejectedCode = http.StatusForbidden
	case s.RejectedCode < 400 || s.RejectedCode > 599:
		e.Add("rejected_code", "must be an HTTP error status, 400 to 599")
	}
	if s.RejectedMsg == "" {
		s.RejectedMsg = "The " + s.Type + " is forbidden."
	}
	if err := e.Err(); err != nil {
		return nil, err
	}
	return &Restriction{
		kind:       s.Type,
		whitelist:  toSet(s.Whitelist),
		blacklist:  toSet(s.Blacklist),
		methods:    methods,
		labelWhite: toLabels(s.Whitelist, s.Type),
		labelBlack: toLabels(s.Blacklist, s.Type),
		labelRules: labelRules(methods, s.Type),
		refused:    &credential.AuthError{Status: s.RejectedCode, Message: s.RejectedMsg},
		anonymous:  &credential.AuthError{Status: http.StatusUnauthorized, Message: MsgNoConsumer},
		// Rendered once, as the gateway renders its refusals: a refusal in
		// the staged executor allocates nothing.
		refusedBody:   messageBody(s.RejectedMsg),
		anonymousBody: messageBody(MsgNoConsumer),
	}, nil
}

// messageBody is the JSON body of a refusal, {"message": msg}.
func messageBody(msg string) []byte {
	b, _ := json.Marshal(struct {
		Message string `json:"message"`
	}{msg})
	return append(b, '\n')
}

func validValue(kind, v string) bool {
	if kind == TypeLabel {
		k, _, ok := strings.Cut(v, ":")
		return ok && k != ""
	}
	return consumer.ValidName(v)
}

func valueRule(kind string) string {
	if kind == TypeLabel {
		return `entries must be "key:value" labels`
	}
	return "entries must match ^[a-zA-Z0-9_-]+$"
}

func toSet(values []string) map[string]bool {
	if len(values) == 0 {
		return nil
	}
	m := make(map[string]bool, len(values))
	for _, v := range values {
		m[v] = true
	}
	return m
}

// labels holds "key:value" entries as key → value → true, so that a
// consumer's labels are looked up without building strings per request.
type labels map[string]map[string]bool

func (l labels) has(k, v string) bool { return l[k][v] }

func toLabels(values []string, kind string) labels {
	if kind != TypeLabel || len(values) == 0 {
		return nil
	}
	out := labels{}
	for _, e := range values {
		k, v, _ := strings.Cut(e, ":")
		if out[k] == nil {
			out[k] = map[string]bool{}
		}
		out[k][v] = true
	}
	return out
}

// labelRules re-keys method rules by label key and value.
func labelRules(methods map[string]map[string]bool, kind string) map[string]map[string]map[string]bool {
	if kind != TypeLabel || len(methods) == 0 {
		return nil
	}
	out := map[string]map[string]map[string]bool{}
	for e, set := range methods {
		k, v, _ := strings.Cut(e, ":")
		if out[k] == nil {
			out[k] = map[string]map[string]bool{}
		}
		out[k][v] = set
	}
	return out
}

// Restriction is one compiled consumer-restriction.
type Restriction struct {
	kind       string
	whitelist  map[string]bool
	blacklist  map[string]bool
	methods    map[string]map[string]bool
	labelWhite labels
	labelBlack labels
	labelRules map[string]map[string]map[string]bool
	refused    *credential.AuthError
	anonymous  *credential.AuthError

	refusedBody, anonymousBody []byte
}

// Name returns "consumer-restriction".
func (*Restriction) Name() string { return Name }

// Authorize decides whether the caller id may make request r: nil allows,
// an *credential.AuthError is the refusal to send.
func (p *Restriction) Authorize(r *http.Request, id *consumer.Identity) *credential.AuthError {
	if id == nil || id.Consumer == nil {
		return p.anonymous
	}
	c := id.Consumer
	if p.kind == TypeLabel {
		return p.decideLabels(r.Method, c.Labels)
	}
	v := c.Username
	if p.kind == TypeConsumerGroupID {
		v = c.GroupID
	}
	if p.whitelist != nil && !p.whitelist[v] {
		return p.refused
	}
	if p.blacklist[v] {
		return p.refused
	}
	if set, ok := p.methods[v]; ok && !set[r.Method] {
		return p.refused
	}
	return nil
}

// PreRequest refuses the request as Authorize decides (plugin.PreRequestPlugin):
// a consumer-restriction set on a gateway, a consumer group or a consumer runs
// in the staged executor. On a route it runs earlier, as an authorizer, right
// after authentication.
func (p *Restriction) PreRequest(c *plugin.Call) {
	switch p.Authorize(c.Request(), c.Identity()) {
	case nil:
	case p.anonymous:
		c.Stop(p.anonymous.Status, "application/json", p.anonymousBody)
	default:
		c.Stop(p.refused.Status, "application/json", p.refusedBody)
	}
}

// decideLabels applies the lists to a consumer's labels: a whitelist admits a
// consumer with any listed label, a blacklist refuses one with any, and the
// method rules of every label the consumer has must all allow the method.
func (p *Restriction) decideLabels(method string, have map[string]string) *credential.AuthError {
	matches := func(set labels) bool {
		for k, v := range have {
			if set.has(k, v) {
				return true
			}
		}
		return false
	}
	if p.labelWhite != nil && !matches(p.labelWhite) {
		return p.refused
	}
	if p.labelBlack != nil && matches(p.labelBlack) {
		return p.refused
	}
	for k, v := range have {
		if set, ok := p.labelRules[k][v]; ok && !set[method] {
			return p.refused
		}
	}
	return nil
}
