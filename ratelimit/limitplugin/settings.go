package limitplugin

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse/plugin"
	"github.com/gatehousehq/gatehouse/ratelimit"
	"github.com/gatehousehq/gatehouse/validation"
)

// The key types of limit-count.
const (
	KeyConsumer      = "consumer"
	KeyIP            = "ip"
	KeyRoute         = "route"
	KeyConsumerGroup = "consumer_group"
	KeyConstant      = "constant"
	// KeyHeaderPrefix starts a header key type: "header:X-Api-Key".
	KeyHeaderPrefix = "header:"
)

// The limits of advanced_rate_limiter, in the order they are checked and
// reported: the narrowest first.
const (
	LimitPerUser     = "per_user"
	LimitPerConsumer = "per_consumer"
	LimitPerIP       = "per_ip"
	LimitGlobal      = "global"
)

var advancedOrder = [...]string{LimitPerUser, LimitPerConsumer, LimitPerIP, LimitGlobal}

// Policies of limit-count.
const (
	PolicyLocal = "local"
	PolicyRedis = "redis"
)

// maxLimits is the most limits one instance checks (advanced_rate_limiter
// with all four).
const maxLimits = len(advancedOrder)

// LimitCountSettings are the settings of limit-count, as API.md writes them.
type LimitCountSettings struct {
	// Count is the number of requests allowed per TimeWindow; required, positive.
	Count *int64 `json:"count"`
	// TimeWindow is the window in seconds; required, positive.
	TimeWindow *int64 `json:"time_window"`
	// KeyType is what the count is kept per: consumer, ip (default), route,
	// consumer_group, header:<name> or constant.
	KeyType string `json:"key_type,omitempty"`
	// RejectedCode is the status of a refusal, 200 to 599; default 429.
	RejectedCode int `json:"rejected_code,omitempty"`
	// RejectedMsg is the "message" of a refusal; a default names the limit.
	RejectedMsg string `json:"rejected_msg,omitempty"`
	// Policy is local (default) or redis. It is accepted for APISIX
	// compatibility and does not choose anything: counters live where the
	// Limiter given to New keeps them.
	Policy string `json:"policy,omitempty"`
	// AllowDegradation lets requests through when the limiter fails (true);
	// otherwise (default) they are answered 500.
	AllowDegradation bool `json:"allow_degradation,omitempty"`
}

// AdvancedSettings are the settings of advanced_rate_limiter (consumer groups).
type AdvancedSettings struct {
	// Limits maps global, per_ip, per_user and per_consumer to their limit;
	// at least one is required.
	Limits map[string]WindowLimit `json:"limits"`
	// Actions says what a refusal does; optional.
	Actions *Actions `json:"actions,omitempty"`
}

// WindowLimit is one limit of advanced_rate_limiter: Limit requests per Window.
type WindowLimit struct {
	// Limit is the number of requests per Window; required, positive.
	Limit *int64 `json:"limit"`
	// Window is the period: "30s", "1m", "1h", "1d" or a number of seconds
	// ("60"); required.
	Window string `json:"window"`
}

// Actions are advanced_rate_limiter's refusal settings.
type Actions struct {
	// Type is "reject", the only action (default).
	Type string `json:"type,omitempty"`
	// RetryAfter is the least Retry-After a refusal sends, in the window
	// syntax ("60", "1m"); the time until the request would pass is sent when
	// it is longer. Default: that time alone.
	RetryAfter string `json:"retry_after,omitempty"`
}

// dim is what a limit's key is made of.
type dim uint8

const (
	dimConsumer dim = iota // consumer username; falls back to the address
	dimIP                  // client address
	dimRoute               // route id; falls back to the address
	dimGroup               // consumer group id; falls back to the address
	dimHeader              // a header's value; falls back to the address
	dimConstant            // nothing: one counter
	dimGlobal              // consumer group id, empty included: no fallback
)

// limitSpec is one compiled limit of an instance.
type limitSpec struct {
	name   string // as reported: "limit-count", "per_user", ...
	tag    string // in the key: "consumer", "header", "per_user", ...
	dim    dim
	header string // canonical header name, for dimHeader
	limit  ratelimit.Limit
	// Pre-built response parts.
	countValue []string // X-RateLimit-Limit
	bodyStart  []byte   // the refusal body up to retry_after's value
}

func compileLimitCount(raw json.RawMessage) (*Limiter, error) {
	var s LimitCountSettings
	if err := plugin.DecodeSettings(raw, &s); err != nil {
		return nil, err
	}
	var e validation.Error
	count := positive(&e, "count", s.Count)
	window := positive(&e, "time_window", s.TimeWindow)
	if window > int64(math.MaxInt64/time.Second) {
		e.Add("time_window", "is too long")
	}
	spec := limitSpec{name: NameLimitCount}
	if s.KeyType == "" {
		s.KeyType = KeyIP
	}
	switch s.KeyType {
	case KeyConsumer:
		spec.dim = dimConsumer
	case KeyIP:
		spec.dim = dimIP
	case KeyRoute:
		spec.dim = dimRoute
	case KeyConsumerGroup:
		spec.dim = dimGroup
	case KeyConstant:
		spec.dim = dimConstant
	default:
		name, ok := strings.CutPrefix(s.KeyType, KeyHeaderPrefix)
		switch {
		case !ok:
			e.Add("key_type", "must be consumer, ip, route, consumer_group, constant or header:<name>")
		case !validHeaderName(name):
			e.Add("key_type", "header:<name> needs a header name of letters, digits and !#$%&'*+-.^_`|~")
		default:
			spec.dim = dimHeader
			spec.header = textproto.CanonicalMIMEHeaderKey(name)
			s.KeyType = KeyHeaderPrefix + spec.header
		}
	}
	if spec.dim == dimHeader {
		spec.tag = "header"
	} else {
		spec.tag = s.KeyType
	}
	checkCode(&e, &s.RejectedCode)
	switch s.Policy {
	case "":
		s.Policy = PolicyLocal
	case PolicyLocal, PolicyRedis:
	default:
		e.Add("policy", "must be local or redis")
	}
	if e.Err() == nil {
		spec.limit = ratelimit.Limit{Count: count, Window: time.Duration(window) * time.Second}
		if err := spec.limit.Validate(); err != nil {
			e.Add("count", "is too large for time_window")
		}
	}
	if err := e.Err(); err != nil {
		return nil, err
	}
	if s.RejectedMsg == "" {
		s.RejectedMsg = fmt.Sprintf("rate limit exceeded: %d requests per %s", count, formatWindow(spec.limit.Window))
	}
	p := &Limiter{
		name:    NameLimitCount,
		status:  s.RejectedCode,
		degrade: s.AllowDegradation,
	}
	p.add(spec, s.RejectedMsg)
	fp := sha256.New()
	fmt.Fprintf(fp, "limit-count\x00%d\x00%d\x00%s", count, window, s.KeyType)
	p.finish("gh:lc:", fp.Sum(nil), s)
	return p, nil
}

// advancedWire is AdvancedSettings as decoded: each limit and the actions
// are decoded on their own, so that errors name them in full
// ("limits.per_ip.window").
type advancedWire struct {
	Limits  map[string]json.RawMessage `json:"limits"`
	Actions json.RawMessage            `json:"actions,omitempty"`
}

func compileAdvanced(raw json.RawMessage) (*Limiter, error) {
	var w advancedWire
	if err := plugin.DecodeSettings(raw, &w); err != nil {
		return nil, err
	}
	var e validation.Error
	s := AdvancedSettings{Limits: make(map[string]WindowLimit, len(w.Limits))}
	if len(w.Limits) == 0 {
		e.Add("limits", "at least one of global, per_ip, per_user or per_consumer is required")
	}
	for name, rawLimit := range w.Limits {
		if !validLimitName(name) {
			e.Add("limits."+name, "unknown limit: want global, per_ip, per_user or per_consumer")
			continue
		}
		var wl WindowLimit
		if err := decodeObject(rawLimit, &wl); err != nil {
			e.Merge("limits."+name, err)
			continue
		}
		s.Limits[name] = wl
	}
	if len(w.Actions) > 0 && string(w.Actions) != "null" {
		s.Actions = &Actions{}
		if err := decodeObject(w.Actions, s.Actions); err != nil {
			e.Merge("actions", err)
			s.Actions = nil
		}
	}
	p := &Limiter{name: NameAdvancedRateLimiter, status: http.StatusTooManyRequests}
	fp := sha256.New()
	fp.Write([]byte("advanced_rate_limiter"))
	type compiled struct {
		spec limitSpec
		msg  string
	}
	var specs []compiled
	for _, name := range advancedOrder {
		wl, ok := s.Limits[name]
		if !ok {
			continue
		}
		field := "limits." + name
		count := positive(&e, field+".limit", wl.Limit)
		var window time.Duration
		if wl.Window == "" {
			e.Add(field+".window", "is required")
		} else if d, err := ratelimit.ParseWindow(wl.Window); err != nil {
			e.Add(field+".window", `must be a whole number of seconds, minutes, hours or days, such as "30s", "1m", "1h", "1d"`)
		} else {
			window = d
		}
		if count <= 0 || window <= 0 {
			continue
		}
		l := ratelimit.Limit{Count: count, Window: window}
		if err := l.Validate(); err != nil {
			e.Add(field+".limit", "is too large for its window")
			continue
		}
		spec := limitSpec{name: name, tag: name, limit: l}
		switch name {
		case LimitPerUser, LimitPerConsumer:
			spec.dim = dimConsumer
		case LimitPerIP:
			spec.dim = dimIP
		case LimitGlobal:
			spec.dim = dimGlobal
		}
		wl.Window = formatWindow(window)
		s.Limits[name] = wl
		fmt.Fprintf(fp, "\x00%s\x00%d\x00%d", name, count, int64(window))
		specs = append(specs, compiled{spec, fmt.Sprintf("rate limit exceeded: %d requests per %s (%s)", count, wl.Window, name)})
	}
	if s.Actions != nil {
		switch s.Actions.Type {
		case "":
			s.Actions.Type = "reject"
		case "reject":
		default:
			e.Add("actions.type", "must be reject")
		}
		if s.Actions.RetryAfter != "" {
			d, err := ratelimit.ParseWindow(s.Actions.RetryAfter)
			if err != nil {
				e.Add("actions.retry_after", `must be a whole number of seconds ("60") or a window such as "1m"`)
			} else {
				p.retryAfter = d
				s.Actions.RetryAfter = strconv.FormatInt(int64(d/time.Second), 10)
			}
		}
	}
	if err := e.Err(); err != nil {
		return nil, err
	}
	for _, c := range specs {
		p.add(c.spec, c.msg)
	}
	p.tagged = p.n > 1 // its keys go to one script: one Redis Cluster slot
	p.finish("gh:arl:", fp.Sum(nil), s)
	return p, nil
}

// decodeObject decodes one JSON object of the settings strictly, as
// plugin.DecodeSettings does, except that null is not an object.
func decodeObject(raw json.RawMessage, v any) error {
	if string(raw) == "null" {
		return validation.Field("", "must be an object")
	}
	return plugin.DecodeSettings(raw, v)
}

// positive reads a required positive integer setting.
func positive(e *validation.Error, field string, v *int64) int64 {
	switch {
	case v == nil:
		e.Add(field, "is required")
	case *v <= 0:
		e.Add(field, "must be a positive integer")
	default:
		return *v
	}
	return 0
}

// checkCode validates rejected_code and applies its default.
func checkCode(e *validation.Error, code *int) {
	switch {
	case *code == 0:
		*code = http.StatusTooManyRequests
	case *code < 200 || *code > 599:
		e.Add("rejected_code", "must be an HTTP status, 200 to 599")
	}
}

func validLimitName(name string) bool {
	for _, n := range advancedOrder {
		if n == name {
			return true
		}
	}
	return false
}

// validHeaderName reports whether s is an HTTP field name (an RFC 9110 token).
func validHeaderName(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// formatWindow writes d, a whole number of seconds, in the largest unit that
// divides it exactly: "1d", "2h", "1m", "90s". ratelimit.ParseWindow reads it
// back.
func formatWindow(d time.Duration) string {
	secs := int64(d / time.Second)
	for _, u := range []struct {
		n   int64
		sfx string
	}{{86400, "d"}, {3600, "h"}, {60, "m"}} {
		if secs%u.n == 0 {
			return strconv.FormatInt(secs/u.n, 10) + u.sfx
		}
	}
	return strconv.FormatInt(secs, 10) + "s"
}

// add appends a compiled limit and pre-builds its response parts.
func (p *Limiter) add(spec limitSpec, msg string) {
	spec.countValue = []string{strconv.FormatInt(spec.limit.Count, 10)}
	m, _ := json.Marshal(msg)
	n, _ := json.Marshal(spec.name)
	spec.bodyStart = fmt.Appendf(nil, `{"error":"rate limit exceeded","message":%s,"limit":%s,"retry_after":`, m, n)
	p.limits[p.n] = spec
	p.n++
}

// finish sets the instance's key prefix (from the fingerprint of its counting
// settings, and the opening brace of the hash tag when p.tagged), its
// RateLimit-Policy value and its normalized settings.
func (p *Limiter) finish(prefix string, fingerprint []byte, settings any) {
	if p.tagged {
		prefix += "{"
	}
	p.prefix = prefix + hex.EncodeToString(fingerprint[:6]) + ":"
	var b []byte
	for i, l := range p.limits[:p.n] {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = fmt.Appendf(b, "%q;q=%d;w=%d", l.name, l.limit.Count, int64(l.limit.Window/time.Second))
	}
	p.policy = []string{string(b)}
	p.settings, _ = json.Marshal(settings)
}
