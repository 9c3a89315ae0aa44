package admin

import (
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/ratelimit/limitplugin"
)

// GroupUsage is the body of GET
// /api/v1/gateways/{gateway_id}/consumer-groups/{group_id}/usage: each
// rate limit of the group's required plugins and what has been used of it,
// read from the limiter without charging.
type GroupUsage struct {
	// GatewayID and GroupID name the group.
	GatewayID string `json:"gateway_id"`
	GroupID   string `json:"group_id"`
	// User, IP and Route echo the query: whose per-consumer, per-ip and
	// per-route counters were read ("" when not asked for).
	User  string `json:"user,omitempty"`
	IP    string `json:"ip,omitempty"`
	Route string `json:"route,omitempty"`
	// Limits lists the limits of every enabled rate-limit plugin of the
	// group, in the order of required_plugins and, within a plugin, the
	// order it checks them (per_user, per_consumer, per_ip, global); never
	// null.
	Limits []LimitUsage `json:"limits"`
}

// LimitUsage is one limit of a GroupUsage.
type LimitUsage struct {
	// Plugin is the plugin's name: advanced_rate_limiter or limit-count.
	Plugin string `json:"plugin"`
	// Limit is the limit's name as a refusal reports it ("per_user",
	// "global", "limit-count").
	Limit string `json:"limit"`
	// Per says what the limit is counted per: consumer, ip, route,
	// consumer_group, constant or header:<Name>.
	Per string `json:"per"`
	// Count requests are allowed per WindowSeconds.
	Count         int64 `json:"count"`
	WindowSeconds int64 `json:"window_seconds"`
	// Used is what is spent now (Count - Remaining), Remaining what may still
	// be sent now, Reset the seconds until the whole Count is back (capacity
	// comes back continuously over the window). All three are null when the
	// limit was not read: see Needs.
	Used      *int64 `json:"used"`
	Remaining *int64 `json:"remaining"`
	Reset     *int64 `json:"reset"`
	// Needs names the query parameter that reads a limit not read: user
	// (per consumer), ip or route. A limit per header is never read here.
	Needs string `json:"needs,omitempty"`
}

// groupUsage answers GET …/consumer-groups/{group_id}/usage[?user=&ip=&route=].
func (h *Handler) groupUsage(w http.ResponseWriter, r *http.Request) {
	g, ok := h.consumerGroupIn(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	out := GroupUsage{GatewayID: g.GatewayID, GroupID: g.ID, User: q.Get("user"), IP: q.Get("ip"), Route: q.Get("route"), Limits: []LimitUsage{}}
	c := limitplugin.Caller{Consumer: out.User, Group: g.ID, Route: out.Route, Scope: "consumer_group:" + g.ID}
	fields := map[string]string{}
	if out.User != "" && !consumer.ValidName(out.User) {
		fields["user"] = "must be a username: " + usernameRule
	}
	if out.Route != "" && !consumer.ValidName(out.Route) {
		fields["route"] = "must be a route id: " + usernameRule
	}
	if out.IP != "" {
		a, err := netip.ParseAddr(out.IP)
		if err != nil {
			fields["ip"] = "must be an IPv4 or IPv6 address"
		}
		c.Addr = a
	}
	if len(fields) > 0 {
		writeError(w, badRequest("the query has invalid parameters; see fields", fields))
		return
	}
	for i := range g.RequiredPlugins {
		pc := &g.RequiredPlugins[i]
		if !pc.IsEnabled() {
			continue
		}
		def, ok := h.reg.Lookup(pc.Name)
		if !ok {
			continue // not registered here: the data plane refuses the group's requests
		}
		p, err := def.New(pc.Settings)
		if err != nil {
			h.log.ErrorContext(r.Context(), "admin: a consumer group's plugin no longer compiles",
				slog.String("group", g.ID), slog.String("plugin", pc.Name), slog.Any("error", err))
			writeError(w, newError(http.StatusInternalServerError, codeInternal,
				"the group's plugin "+pc.Name+" cannot be compiled; the error was logged"))
			return
		}
		lim, ok := p.(*limitplugin.Limiter)
		if !ok {
			continue
		}
		usage, err := lim.Usage(r.Context(), c)
		if err != nil {
			h.log.WarnContext(r.Context(), "admin: the rate limiter cannot be read",
				slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("error", err))
			w.Header().Set("Retry-After", "1")
			writeError(w, newError(http.StatusServiceUnavailable, codeUnavailable,
				"the rate limiter cannot be reached; retry later"))
			return
		}
		for _, u := range usage {
			out.Limits = append(out.Limits, limitUsage(pc.Name, u))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// usernameRule is what consumer.ValidName checks.
const usernameRule = "1 to 512 characters of a-z, A-Z, 0-9, _ and -"

func limitUsage(plugin string, u limitplugin.Usage) LimitUsage {
	l := LimitUsage{Plugin: plugin, Limit: u.Name, Per: u.Per, Count: u.Limit.Count, WindowSeconds: int64(u.Limit.Window / time.Second)}
	if !u.Read {
		switch u.Per {
		case limitplugin.KeyConsumer:
			l.Needs = "user"
		case limitplugin.KeyIP:
			l.Needs = "ip"
		case limitplugin.KeyRoute:
			l.Needs = "route"
		default:
			l.Needs = u.Per
		}
		return l
	}
	used := u.Limit.Count - u.Decision.Remaining
	remaining := u.Decision.Remaining
	reset := int64((u.Decision.Reset + time.Second - 1) / time.Second)
	l.Used, l.Remaining, l.Reset = &used, &remaining, &reset
	return l
}
