package gatehouse

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"unsafe"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/consumergroup"
	"github.com/gatehousehq/gatehouse/plugin"
	"github.com/gatehousehq/gatehouse/ratelimit/limitplugin"
)

// compiledGroup is a consumer group of the gateway this data plane serves,
// with its required plugins compiled.
type compiledGroup struct {
	group   *consumergroup.Group
	plugins []plugin.Configured
	// err is set when a required plugin cannot be compiled: the requests of
	// the group's members then fail closed with 500.
	err error
}

// compileGroup compiles the required plugins of cg.
func (g *Gateway) compileGroup(cg *consumergroup.Group) *compiledGroup {
	out := &compiledGroup{group: cg}
	scope := "consumer_group:" + cg.ID
	for i := range cg.RequiredPlugins {
		pc := &cg.RequiredPlugins[i]
		def, ok := g.reg.Lookup(pc.Name)
		if !ok {
			out.err = fmt.Errorf("consumer group %q: plugin %q is not registered", cg.ID, pc.Name)
			break
		}
		stage := def.Stage()
		if pc.Stage != "" {
			s, err := plugin.ParseStage(pc.Stage)
			if err != nil {
				out.err = fmt.Errorf("consumer group %q: plugin %q: %w", cg.ID, pc.Name, err)
				break
			}
			stage = s
		}
		priority := def.Priority()
		if pc.Priority != nil {
			priority = *pc.Priority
		}
		c := plugin.Configured{Name: pc.Name, Stage: stage, Priority: priority, Parallel: pc.Parallel, Disabled: !pc.IsEnabled()}
		if !c.Disabled {
			p, err := def.New(pc.Settings)
			if err != nil {
				out.err = fmt.Errorf("consumer group %q: plugin %q: %w", cg.ID, pc.Name, err)
				break
			}
			if c.Plugin = g.runnable(p, scope); c.Plugin == nil {
				continue // an authentication plugin does nothing here
			}
		}
		out.plugins = append(out.plugins, c)
	}
	if out.err != nil {
		g.log.Error("gatehouse: consumer group cannot be applied; its members' requests fail", "group", cg.ID, "err", out.err)
	}
	return out
}

// setConsumerGroup replaces (or with cg == nil removes) one consumer group of
// the view; groups of other gateways are not kept. The caller holds syncMu.
func (g *Gateway) setConsumerGroup(id string, cg *consumergroup.Group) {
	next := maps.Clone(*g.cgroups.Load())
	if cg == nil || cg.GatewayID != g.gatewayID {
		delete(next, id)
	} else {
		next[id] = g.compileGroup(cg)
	}
	g.cgroups.Store(&next)
	g.plans.Invalidate()
}

// loadConsumerGroups replaces every consumer group of the view. The caller
// holds syncMu.
func (g *Gateway) loadConsumerGroups(groups []*consumergroup.Group) {
	next := make(map[string]*compiledGroup)
	for _, cg := range groups {
		if cg.GatewayID == g.gatewayID {
			next[cg.ID] = g.compileGroup(cg)
		}
	}
	g.cgroups.Store(&next)
}

// setGatewayPlugins compiles the plugins of the gateway this data plane
// serves (gw nil: it does not exist) for the Gateway level of every plan. The
// caller holds syncMu.
func (g *Gateway) setGatewayPlugins(gw *consumergroup.Gateway) {
	lv := &gatewayLevel{}
	if gw != nil {
		lv.plugins, lv.err = g.levelPlugins(gw.Plugins, "gateway:"+gw.ID)
		if lv.err != nil {
			lv.err = fmt.Errorf("gateway %q: %w", gw.ID, lv.err)
			g.log.Error("gatehouse: gateway plugins cannot be applied; requests fail", "gateway", gw.ID, "err", lv.err)
		}
	}
	g.gwPlugins.Store(lv)
	g.plans.Invalidate()
}

// gatewayLevel is the compiled plugins of the gateway this data plane serves.
type gatewayLevel struct {
	plugins []plugin.Configured
	// err is set when a plugin cannot be compiled: requests fail closed.
	err error
}

// runnable returns p ready for the staged executor at scope ("route:<id>",
// "consumer_group:<id>", "consumer:<name>"): rate-limit plugins are bound to
// the scope so that each place keeps its own counters. It returns nil for an
// authentication plugin, which has no place there.
func (g *Gateway) runnable(p plugin.Plugin, scope string) plugin.Plugin {
	if _, ok := p.(Authenticator); ok {
		return nil
	}
	if l, ok := p.(*limitplugin.Limiter); ok {
		return l.Scoped(scope)
	}
	return p
}

// consumerPlugins compiles the plugins set on consumer c.
func (g *Gateway) consumerPlugins(c *consumer.Consumer) ([]plugin.Configured, error) {
	out, err := g.levelPlugins(c.Plugins, "consumer:"+c.Username)
	if err != nil {
		return nil, fmt.Errorf("consumer %q: %w", c.Username, err)
	}
	return out, nil
}

// levelPlugins compiles a level's plugin settings (a consumer's, the
// gateway's) at their plugins' own stage and priority, bound to scope.
// Authentication plugins, which have no place there, are left out.
func (g *Gateway) levelPlugins(settings map[string]json.RawMessage, scope string) ([]plugin.Configured, error) {
	var out []plugin.Configured
	for _, name := range slices.Sorted(maps.Keys(settings)) {
		def, ok := g.reg.Lookup(name)
		if !ok {
			return nil, fmt.Errorf("plugin %q is not registered", name)
		}
		p, err := def.New(settings[name])
		if err != nil {
			return nil, fmt.Errorf("plugin %q: %w", name, err)
		}
		if c, ok := g.instance(def, name, p, scope); ok {
			out = append(out, c)
		}
	}
	return out, nil
}

// instance makes p, compiled from def under name, an entry of a plan level
// bound to scope, at def's stage and priority. It is false when p has no place
// in a plan: an authentication plugin, or one without its stage's interface.
func (g *Gateway) instance(def plugin.Definition, name string, p plugin.Plugin, scope string) (plugin.Configured, bool) {
	if p = g.runnable(p, scope); p == nil || !plugin.CanRun(p, def.Stage()) {
		return plugin.Configured{}, false
	}
	return plugin.Configured{Plugin: p, Name: name, Stage: def.Stage(), Priority: def.Priority()}, true
}

// plan returns the plugin plan of a request on cr by id (nil on a route
// without authentication): the gateway's plugins, the route's, the consumer
// group's and the consumer's, merged (consumer > group > route > gateway),
// built once per (route, consumer) and cached until one of them changes: the
// plan is kept with the consumer's value (a new one for each change), so that
// a consumer change rebuilds that consumer's plans only. A nil plan runs
// nothing.
func (g *Gateway) plan(gen uint64, cr *compiledRoute, id *consumer.Identity) (*plugin.Plan, error) {
	var c *consumer.Consumer
	if id != nil {
		c = id.Consumer
	}
	var grp *compiledGroup
	if c != nil && c.GroupID != "" {
		grp = (*g.cgroups.Load())[c.GroupID]
	}
	gw := g.gwPlugins.Load()
	if len(cr.plugins) == 0 && grp == nil && (c == nil || len(c.Plugins) == 0) && len(gw.plugins) == 0 && gw.err == nil {
		return nil, nil
	}
	slot := &cr.plans[planSlot(c)]
	if m := slot.Load(); m != nil && m.c == c && m.gen == gen {
		return m.plan, nil
	}
	username := ""
	var version any
	if c != nil {
		username, version = c.Username, c
	}
	p, err := g.plans.GetVersion(gen, cr.route.ID, username, version, func() (*plugin.Plan, error) {
		if gw.err != nil {
			return nil, gw.err
		}
		lv := plugin.Levels{Gateway: gw.plugins, Route: cr.plugins}
		if grp != nil {
			if grp.err != nil {
				return nil, grp.err
			}
			lv.Group = grp.plugins
		}
		if c != nil && len(c.Plugins) > 0 {
			var err error
			if lv.Consumer, err = g.consumerPlugins(c); err != nil {
				return nil, err
			}
		}
		return plugin.NewPlan(lv, plugin.WithLogger(g.log), plugin.WithMaxBufferedBody(g.maxBufferedBody),
			plugin.WithCaller(cr.route.ID, c))
	})
	if err == nil {
		slot.Store(&planMemo{gen: gen, c: c, plan: p})
	}
	return p, err
}

// planSlots is how many consumers' plans a route remembers (planMemo).
const (
	planSlotBits = 6
	planSlots    = 1 << planSlotBits
)

// planMemo is a plan a route remembers for one consumer value: valid while
// the plan cache's generation is gen (a route, group or gateway change
// moves it) and the consumer's value is c (a consumer change makes a new
// one).
type planMemo struct {
	gen  uint64
	c    *consumer.Consumer
	plan *plugin.Plan
}

// planSlot is the slot of c's plan among a route's planSlots.
func planSlot(c *consumer.Consumer) int {
	return int((uint64(uintptr(unsafe.Pointer(c))) * 0x9e3779b97f4a7c15) >> (64 - planSlotBits))
}
