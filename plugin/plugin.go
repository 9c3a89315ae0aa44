package plugin

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Stage is the point of a request's life at which a plugin runs.
type Stage uint8

// The stages, in the order they run. Authentication plugins run at PreRequest,
// before every other plugin of the stage.
const (
	// PreRequest runs before the route's handler; a plugin may answer the
	// request itself (reject it, for example).
	PreRequest Stage = iota
	// PostRequest runs when the handler has returned, before anything is sent.
	PostRequest
	// PreResponse may change the response before it reaches the client.
	PreResponse
	// PostResponse runs after the response is sent and cannot change it.
	PostResponse
)

var stageNames = [...]string{"pre_request", "post_request", "pre_response", "post_response"}

// String returns the stage's wire name, such as "pre_request".
func (s Stage) String() string {
	if int(s) < len(stageNames) {
		return stageNames[s]
	}
	return fmt.Sprintf("stage(%d)", s)
}

// ParseStage returns the stage named s ("pre_request", ...).
func ParseStage(s string) (Stage, error) {
	for i, n := range stageNames {
		if strings.EqualFold(s, n) {
			return Stage(i), nil
		}
	}
	return 0, fmt.Errorf("unknown stage %q: want one of %s", s, strings.Join(stageNames[:], ", "))
}

// MarshalText encodes the stage as its wire name; a stage out of range is an
// error rather than a name no decoder accepts.
func (s Stage) MarshalText() ([]byte, error) {
	if int(s) >= len(stageNames) {
		return nil, fmt.Errorf("unknown stage %d", s)
	}
	return []byte(stageNames[s]), nil
}

// UnmarshalText decodes a wire name.
func (s *Stage) UnmarshalText(b []byte) error {
	v, err := ParseStage(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Plugin is one configured plugin, compiled from validated settings. What it
// does is told by the interfaces it also implements (an authenticator, a
// request handler, ...), which are defined where they are consumed.
type Plugin interface {
	// Name is the plugin's registered name, such as "key-auth".
	Name() string
}

// Definition is a kind of plugin that can be configured by name.
type Definition interface {
	// Name is the name settings are given under, such as "key-auth".
	Name() string
	// Stage is the stage the plugin runs at unless configured otherwise.
	Stage() Stage
	// Priority orders plugins of one stage: lower runs first.
	Priority() int
	// New validates settings and compiles them. It is called when settings are
	// written and when the data plane's view is built, never per request. An
	// invalid setting is reported as a *validation.Error naming the field, or as
	// a plain error.
	New(settings json.RawMessage) (Plugin, error)
}

// Configured is a plugin placed at one level (gateway, route, consumer group
// or consumer): its compiled instance with the stage and priority it runs at.
// It mirrors a consumer group's required_plugins entry of API.md: name,
// enabled, stage, priority, parallel (settings are compiled into Plugin).
type Configured struct {
	// Plugin is the compiled instance. It may be nil only when Disabled is set.
	Plugin Plugin
	// Name is the name the plugin is configured under; when empty it is
	// Plugin.Name(). Set it for a Disabled entry that has no Plugin.
	Name string
	// Stage is the stage the instance runs at; the plugin must implement the
	// interface of that stage (PreRequestPlugin, ...).
	Stage Stage
	// Priority orders plugins of one stage: lower runs first.
	Priority int
	// Parallel lets the instance run concurrently with the other parallel
	// plugins of its stage and priority (see Plan).
	Parallel bool
	// Disabled is API.md's "enabled": false. The zero value is enabled, as
	// API.md's default is. A disabled entry at the most specific level that
	// names a plugin removes that plugin from the plan (see NewPlan).
	Disabled bool
}

// key is the name the entry is known by in a plan.
func (c Configured) key() string {
	if c.Name != "" || c.Plugin == nil {
		return c.Name
	}
	return c.Plugin.Name()
}

// Sort orders plugins by stage, then priority (lower first), then name, so that
// a plan is the same every time it is built.
func Sort(ps []Configured) {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.Stage != b.Stage {
			return a.Stage < b.Stage
		}
		if a.Priority != b.Priority {
			return a.Priority < b.Priority
		}
		return a.key() < b.key()
	})
}
