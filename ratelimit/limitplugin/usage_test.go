package limitplugin_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/ratelimit"
	"github.com/gatehousehq/gatehouse/ratelimit/limitplugin"
)

// usage reads p's usage for c, requiring no error.
func usage(t *testing.T, p *limitplugin.Limiter, c limitplugin.Caller) []limitplugin.Usage {
	t.Helper()
	u, err := p.Usage(context.Background(), c)
	require.NoError(t, err)
	return u
}

// check charges one request of c to p, requiring it to pass.
func check(t *testing.T, p *limitplugin.Limiter, c limitplugin.Caller) {
	t.Helper()
	o := p.Check(context.Background(), c)
	require.Equal(t, limitplugin.Allowed, o.Verdict())
}

// used is what each read limit of u has used, by name; -1 for a limit not read.
func used(u []limitplugin.Usage) map[string]int64 {
	out := map[string]int64{}
	for _, l := range u {
		if l.Read {
			out[l.Name] = l.Limit.Count - l.Decision.Remaining
		} else {
			out[l.Name] = -1
		}
	}
	return out
}

// Usage reads the very counters Check charges, per limit, and charges
// nothing itself.
func TestUsageReadsWhatCheckCharges(t *testing.T) {
	e := newEnv(t)
	p := e.advanced(t, `{"limits":{"global":{"limit":100,"window":"1m"},"per_ip":{"limit":20,"window":"1m"},"per_user":{"limit":5,"window":"1m"}}}`)
	scope := "consumer_group:premium"
	alice := caller("alice", "premium", "203.0.113.7")
	alice.Scope = scope
	bob := caller("bob", "premium", "203.0.113.8")
	bob.Scope = scope

	u := usage(t, p, alice)
	require.Equal(t, []string{"per_user", "per_ip", "global"}, []string{u[0].Name, u[1].Name, u[2].Name})
	require.Equal(t, []string{"consumer", "ip", "consumer_group"}, []string{u[0].Per, u[1].Per, u[2].Per})
	require.Equal(t, ratelimit.Limit{Count: 5, Window: time.Minute}, u[0].Limit)
	require.Equal(t, map[string]int64{"per_user": 0, "per_ip": 0, "global": 0}, used(u))

	for range 3 {
		check(t, p, alice)
	}
	check(t, p, bob)
	for range 2 { // reading twice: the read charged nothing
		require.Equal(t, map[string]int64{"per_user": 3, "per_ip": 3, "global": 4}, used(usage(t, p, alice)))
	}
	require.Equal(t, map[string]int64{"per_user": 1, "per_ip": 1, "global": 4}, used(usage(t, p, bob)))
	require.Positive(t, usage(t, p, alice)[0].Decision.Reset, "a used limit says when it is whole again")

	// The group alone (no consumer, no address): the global limit is read,
	// the others cannot be formed and are not guessed.
	group := limitplugin.Caller{Group: "premium", Scope: scope}
	require.Equal(t, map[string]int64{"per_user": -1, "per_ip": -1, "global": 4}, used(usage(t, p, group)))

	// Another scope (the same settings on another group) keeps other counters.
	other := group
	other.Scope, other.Group = "consumer_group:basic", "basic"
	require.Equal(t, int64(0), used(usage(t, p, other))["global"])
}

// The capacity a limit gives back over time shows in its usage.
func TestUsageFollowsTheClock(t *testing.T) {
	e := newEnv(t)
	p := e.limitCount(t, `{"count":2,"time_window":60,"key_type":"consumer"}`)
	c := caller("alice", "", "203.0.113.7")
	for range 2 {
		check(t, p, c)
	}
	u := usage(t, p, c)
	require.Len(t, u, 1)
	require.Equal(t, "limit-count", u[0].Name)
	require.Equal(t, "consumer", u[0].Per)
	require.Zero(t, u[0].Decision.Remaining)
	e.clock.advance(time.Minute)
	require.Equal(t, int64(2), usage(t, p, c)[0].Decision.Remaining)
}

// Each key type says what it counts per, and is read only when the caller
// has it.
func TestUsageNeeds(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		keyType, per string
		has, lacks   limitplugin.Caller
	}{
		{"consumer", "consumer", limitplugin.Caller{Consumer: "alice"}, limitplugin.Caller{}},
		{"ip", "ip", caller("", "", "2001:db8::1"), limitplugin.Caller{Consumer: "alice"}},
		{"route", "route", limitplugin.Caller{Route: "orders"}, limitplugin.Caller{Consumer: "alice"}},
		{"consumer_group", "consumer_group", limitplugin.Caller{Group: "g"}, limitplugin.Caller{Consumer: "alice"}},
		{"header:x-tenant", "header:X-Tenant", limitplugin.Caller{Header: map[string][]string{"X-Tenant": {"acme"}}}, limitplugin.Caller{}},
		{"constant", "constant", limitplugin.Caller{}, limitplugin.Caller{}},
	} {
		p := e.limitCount(t, `{"count":10,"time_window":60,"key_type":"`+tc.keyType+`"}`)
		u := usage(t, p, tc.has)
		require.Equal(t, tc.per, u[0].Per, tc.keyType)
		require.True(t, u[0].Read, tc.keyType)
		require.Equal(t, int64(10), u[0].Decision.Remaining, tc.keyType)
		if tc.keyType != "constant" {
			require.False(t, usage(t, p, tc.lacks)[0].Read, tc.keyType)
		}
	}
}

// A limiter that fails makes Usage fail, with its error.
func TestUsageLimiterDown(t *testing.T) {
	e := newEnv(t)
	p := e.limitCount(t, `{"count":10,"time_window":60,"key_type":"constant"}`)
	e.limiter.SetDown(true)
	_, err := p.Usage(context.Background(), limitplugin.Caller{})
	require.ErrorIs(t, err, errDown)
}
