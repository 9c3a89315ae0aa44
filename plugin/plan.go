package plugin

import (
	"errors"
	"fmt"
	"log/slog"
	"math"

	"github.com/gatehousehq/gatehouse/consumer"
)

// Errors NewPlan wraps; match them with errors.Is.
var (
	// ErrStage is wrapped when a plugin does not implement the interface of
	// the stage it is configured at, or the stage is unknown.
	ErrStage = errors.New("plugin cannot run at this stage")
	// ErrDuplicate is wrapped when one level names a plugin twice.
	ErrDuplicate = errors.New("plugin configured twice at one level")
)

// Levels are the plugins configured for one request, by level. When a plugin
// name appears at several levels, the most specific level's entry wins:
// Consumer, then Group, then Route, then Gateway; exactly one instance runs.
// If the winning entry is Disabled, the plugin does not run at all: a
// consumer (or group) can switch off a plugin its route or gateway sets.
type Levels struct {
	Gateway  []Configured
	Route    []Configured
	Group    []Configured // the consumer's consumer group
	Consumer []Configured
}

// PlanOption configures NewPlan.
type PlanOption func(*Plan)

// WithLogger sets the logger a plan reports plugin panics to; the default is
// slog.Default().
func WithLogger(l *slog.Logger) PlanOption {
	return func(p *Plan) {
		if l != nil {
			p.log = l
		}
	}
}

// WithCaller tells NewPlan whom the plan is for: the route and the consumer
// (nil on a route without authentication) of every request it will serve.
// Entries whose Plugin is a Binder are then bound to them.
func WithCaller(routeID string, c *consumer.Consumer) PlanOption {
	return func(p *Plan) { p.caller, p.route, p.consumer = true, routeID, c }
}

// Binder is implemented by plugins that can prepare, once per plan, what they
// would otherwise work out on every request from the route and the consumer:
// a rate limiter forms its counter keys. A gateway builds one plan per
// (route, consumer) pair and builds it again when either changes, so a bound
// plugin may keep anything derived from them. Bind returns the plugin to run
// in the plan, which must run at the same stages as the Binder itself.
type Binder interface {
	Plugin
	// Bind returns the plugin for the requests of consumer c (nil on a route
	// without authentication) on route routeID.
	Bind(routeID string, c *consumer.Consumer) Plugin
}

// DefaultMaxBufferedBody is the cap, in bytes, on the response body a plan
// holds for its PreResponse plugins that need it, unless WithMaxBufferedBody
// says otherwise: 8 MiB.
const DefaultMaxBufferedBody = 8 << 20

// WithMaxBufferedBody sets the cap, in bytes, on the response body a plan
// holds for its PreResponse plugins that need it (NeedsBody). The buffer
// never grows past it; what happens to a larger body is told by Overflow.
// Values below 1 keep DefaultMaxBufferedBody.
func WithMaxBufferedBody(n int64) PlanOption {
	return func(p *Plan) {
		if n >= 1 {
			p.maxBody = int(min(n, math.MaxInt))
		}
	}
}

// Overflow is what Serve does with a response whose body outgrows the cap on
// buffered bodies (WithMaxBufferedBody), or declares a Content-Length over
// it.
type Overflow uint8

const (
	// OverflowFail replaces the response with 502 Bad Gateway
	// {"error":"bad_gateway","message":"upstream response too large"} and
	// logs the route and the plugin that needed the body; the handler's
	// further writes fail with ErrResponseTooLarge. It is the default, for a
	// plugin that must not be skipped (one that redacts a response, say).
	OverflowFail Overflow = iota
	// OverflowStream sends the response unmodified: PreResponse plugins run
	// at that moment with Response.Overflowed true and no body (they may
	// still change the status and headers), then the held bytes are sent and
	// the rest streams.
	OverflowStream
)

// OverflowPolicy is implemented by a PreResponsePlugin that needs the body and
// chooses what happens to a response too large to buffer. A plugin without it
// gets OverflowFail. The response streams only when every plugin of the plan
// that needs the body chose OverflowStream.
type OverflowPolicy interface {
	// BodyOverflow is asked once, when the plan is built.
	BodyOverflow() Overflow
}

// Plan is the merged, ordered plugin chain of one (route, consumer) pair,
// built once (see Cache) and then run for every request with Serve. It is
// immutable and safe for concurrent use. A nil *Plan is the empty plan.
type Plan struct {
	list []Configured
	// steps per stage; a step of several members runs them concurrently.
	pre, post, resp, after []step
	maxGroup               int
	// hold: the response head (and up to holdSize body bytes) is held until
	// the handler returns, flushes or writes more (PostRequest or
	// PreResponse plugins exist). buffer: the whole body is held (a
	// PreResponse plugin needs it). wrap: the writer must be wrapped.
	hold, buffer, wrap bool
	log                *slog.Logger
	// caller, route and consumer are WithCaller's: what Binders are bound to.
	caller   bool
	route    string
	consumer *consumer.Consumer
	// maxBody caps a buffered body. failOn names the first plugin that
	// needs the body and did not choose OverflowStream: a body over maxBody
	// is then answered 502; "" when every such plugin streams.
	maxBody int
	failOn  string
}

type step struct {
	members []member
}

type member struct {
	name   string
	stage  Stage
	pre    PreRequestPlugin
	post   PostRequestPlugin
	resp   PreResponsePlugin
	after  PostResponsePlugin
	plugin Plugin
}

// NewPlan merges the levels into one plan: per plugin name the most specific
// level's entry (see Levels), disabled winners dropped, then ordered by
// stage, priority (lower first) and name. Within one stage and priority, the
// Parallel entries form one group, run concurrently where its first member
// stands; PreResponse ignores Parallel (its plugins change one response, each
// seeing the changes before it).
//
// With WithCaller, each winning entry whose Plugin is a Binder runs as what
// its Bind returns.
//
// It fails, wrapping ErrDuplicate, when one level names a plugin twice, and,
// wrapping ErrStage, when an enabled entry has no Plugin, an unknown stage, or
// a Plugin that does not implement its stage's interface. To check one level
// when it is written, build a plan of it alone.
func NewPlan(l Levels, opts ...PlanOption) (*Plan, error) {
	p := &Plan{log: slog.Default(), maxBody: DefaultMaxBufferedBody}
	for _, o := range opts {
		o(p)
	}
	levels := [...]struct {
		name string
		ps   []Configured
	}{{"gateway", l.Gateway}, {"route", l.Route}, {"consumer group", l.Group}, {"consumer", l.Consumer}}
	winners := make(map[string]Configured)
	for _, lv := range levels {
		seen := make(map[string]bool, len(lv.ps))
		for _, c := range lv.ps {
			name := c.key()
			if name == "" {
				return nil, fmt.Errorf("%s level: an entry has neither Name nor Plugin: %w", lv.name, ErrStage)
			}
			if seen[name] {
				return nil, fmt.Errorf("%s level: plugin %q: %w", lv.name, name, ErrDuplicate)
			}
			seen[name] = true
			c.Name = name
			winners[name] = c
		}
	}
	for _, c := range winners {
		if c.Disabled {
			continue
		}
		if b, ok := c.Plugin.(Binder); ok && p.caller {
			c.Plugin = b.Bind(p.route, p.consumer)
		}
		if err := checkStage(c); err != nil {
			return nil, err
		}
		p.list = append(p.list, c)
	}
	Sort(p.list)
	for _, stage := range [...]Stage{PreRequest, PostRequest, PreResponse, PostResponse} {
		steps := p.steps(stage)
		switch stage {
		case PreRequest:
			p.pre = steps
		case PostRequest:
			p.post = steps
		case PreResponse:
			p.resp = steps
		case PostResponse:
			p.after = steps
		}
	}
	for _, st := range p.resp {
		m := &st.members[0]
		if !m.resp.NeedsBody() {
			continue
		}
		p.buffer = true
		if op, ok := m.resp.(OverflowPolicy); (!ok || op.BodyOverflow() != OverflowStream) && p.failOn == "" {
			p.failOn = m.name
		}
	}
	p.hold = len(p.post) > 0 || len(p.resp) > 0
	p.wrap = p.hold || len(p.after) > 0
	return p, nil
}

// checkStage reports whether c's plugin can run at c's stage.
func checkStage(c Configured) error {
	if c.Plugin == nil {
		return fmt.Errorf("plugin %q: enabled without a compiled Plugin: %w", c.Name, ErrStage)
	}
	var ok bool
	switch c.Stage {
	case PreRequest:
		_, ok = c.Plugin.(PreRequestPlugin)
	case PostRequest:
		_, ok = c.Plugin.(PostRequestPlugin)
	case PreResponse:
		_, ok = c.Plugin.(PreResponsePlugin)
	case PostResponse:
		_, ok = c.Plugin.(PostResponsePlugin)
	}
	if !ok {
		return fmt.Errorf("plugin %q at %s: %w", c.Name, c.Stage, ErrStage)
	}
	return nil
}

// steps groups the plan's entries of one stage into steps.
func (p *Plan) steps(stage Stage) []step {
	var steps []step
	group := -1 // index of the parallel group of the current priority
	for i, c := range p.list {
		if c.Stage != stage {
			continue
		}
		if i == 0 || p.list[i-1].Stage != stage || p.list[i-1].Priority != c.Priority {
			group = -1
		}
		m := member{name: c.Name, stage: stage, plugin: c.Plugin}
		m.pre, _ = c.Plugin.(PreRequestPlugin)
		m.post, _ = c.Plugin.(PostRequestPlugin)
		m.resp, _ = c.Plugin.(PreResponsePlugin)
		m.after, _ = c.Plugin.(PostResponsePlugin)
		if !c.Parallel || stage == PreResponse {
			steps = append(steps, step{members: []member{m}})
			continue
		}
		if group < 0 {
			steps = append(steps, step{})
			group = len(steps) - 1
		}
		steps[group].members = append(steps[group].members, m)
		p.maxGroup = max(p.maxGroup, len(steps[group].members))
	}
	return steps
}

// Plugins returns the plan's entries in the order they run (stage, priority,
// name), each with its Name set; disabled and overridden entries are not
// there. The slice is a copy.
func (p *Plan) Plugins() []Configured {
	if p == nil {
		return nil
	}
	return append([]Configured(nil), p.list...)
}

// Empty reports whether the plan runs no plugin: Serve then only calls next.
func (p *Plan) Empty() bool { return p == nil || len(p.list) == 0 }

// CanRun reports whether p implements the interface of stage s
// (PreRequestPlugin for PreRequest, ...), so that it may be configured to run
// there.
func CanRun(p Plugin, s Stage) bool {
	return p != nil && checkStage(Configured{Plugin: p, Stage: s}) == nil
}
