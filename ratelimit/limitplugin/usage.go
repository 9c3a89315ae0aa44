package limitplugin

import (
	"context"
	"fmt"

	"github.com/gatehousehq/gatehouse/ratelimit"
)

// Usage is one limit of an instance and what a caller has used of it, read
// from the limiter without charging (Limiter.Usage).
type Usage struct {
	// Name is the limit's name as a refusal reports it: "limit-count", or
	// advanced_rate_limiter's "per_user", "per_consumer", "per_ip", "global".
	Name string
	// Per says what the limit is counted per: "consumer", "ip", "route",
	// "consumer_group", "header:<Name>" or "constant" (advanced_rate_limiter:
	// per_user and per_consumer count per consumer, per_ip per ip, global per
	// consumer_group).
	Per string
	// Limit is the limit: Count requests per Window.
	Limit ratelimit.Limit
	// Read reports whether the usage was read. It is false when the caller
	// lacks what Per names (no consumer for a per-consumer limit, no address
	// for a per-ip one, ...): a request without it counts under the client
	// address instead, which Usage does not guess.
	Read bool
	// Decision is the limiter's answer to the read (a charge of 0): Remaining
	// is what the caller may still send now, Reset when the full capacity is
	// back; Limit - Remaining is what is used. Zero unless Read.
	Decision ratelimit.Decision
}

// Usage reads, without charging, how much of each limit of the instance c
// has used: the counters c's requests are charged to, under c.Scope (the
// gateway binds a consumer group's instances to "consumer_group:<id>"). The
// limits come in the instance's order (advanced_rate_limiter: per_user,
// per_consumer, per_ip, global). A limit whose key c cannot form is returned
// with Read false and costs no limiter call; the others cost one each. An
// error of the limiter is returned wrapped.
func (p *Limiter) Usage(ctx context.Context, c Caller) ([]Usage, error) {
	out := make([]Usage, p.n)
	for i := range p.n {
		spec := &p.limits[i]
		u := Usage{Name: spec.name, Per: spec.per(), Limit: spec.limit}
		k := p.keyParts(i, &c)
		if !k.fallback && (spec.dim != dimIP || k.addr.IsValid()) {
			d, err := p.set.limiter.Allow(ctx, p.buildKey(spec, &k), spec.limit, 0)
			if err != nil {
				return nil, fmt.Errorf("limitplugin: read the usage of %s: %w", spec.name, err)
			}
			u.Read, u.Decision = true, d
		}
		out[i] = u
	}
	return out, nil
}

// per is what spec counts per, as Usage.Per names it.
func (spec *limitSpec) per() string {
	switch spec.dim {
	case dimConsumer:
		return KeyConsumer
	case dimIP:
		return KeyIP
	case dimRoute:
		return KeyRoute
	case dimGroup, dimGlobal:
		return KeyConsumerGroup
	case dimHeader:
		return KeyHeaderPrefix + spec.header
	}
	return KeyConstant
}
