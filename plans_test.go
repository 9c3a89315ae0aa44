package gatehouse_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/consumergroup"
	"github.com/gatehousehq/gatehouse/route"
)

// consumerGroup stores consumer group id in gateway gw (created when missing)
// with the given required plugins.
func (f *fixture) consumerGroup(gw, id string, plugins ...consumergroup.PluginConfig) {
	f.t.Helper()
	ctx := context.Background()
	_, _, err := f.st.PutGateway(ctx, gw, func(cur *consumergroup.Gateway) (*consumergroup.Gateway, error) {
		if cur != nil {
			return cur, nil
		}
		return &consumergroup.Gateway{Name: gw}, nil
	})
	require.NoError(f.t, err)
	_, _, err = f.st.PutConsumerGroup(ctx, id, func(*consumergroup.Group) (*consumergroup.Group, error) {
		return &consumergroup.Group{ID: id, GatewayID: gw, Name: id, RequiredPlugins: plugins}, nil
	})
	require.NoError(f.t, err)
}

func limitCount(count int) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"count":%d,"time_window":60,"key_type":"consumer"}`, count))
}

// spend sends requests with key until one is refused, and returns how many
// passed (at most max+1 are sent) and the limit the first response reported.
func spend(t *testing.T, h http.Handler, key string, max int) (passed int, limit string) {
	t.Helper()
	hdr := map[string]string{"apikey": key}
	first := eventually(t, h, "/", hdr, http.StatusOK)
	limit = first.Header().Get("X-RateLimit-Limit")
	passed = 1
	for passed <= max {
		w := do(h, http.MethodGet, "/", hdr)
		if w.Code != http.StatusOK {
			require.Equal(t, http.StatusTooManyRequests, w.Code, w.Body.String())
			return passed, limit
		}
		passed++
	}
	return passed, limit
}

// One plugin set at several levels runs once, the most specific level's:
// consumer > consumer group > route.
func TestPluginPrecedence(t *testing.T) {
	r := keyRoute("r", `{}`)
	r.Plugins["limit-count"] = limitCount(10)
	f := newFixture(t, r)
	f.consumerGroup("default", "gold", consumergroup.PluginConfig{Name: "limit-count", Settings: limitCount(5)})
	f.consumerGroup("default", "free", consumergroup.PluginConfig{Name: "limit-count", Enabled: new(bool)})
	f.consumerGroup("elsewhere", "silver", consumergroup.PluginConfig{Name: "limit-count", Settings: limitCount(3)})
	f.consumer(consumer.Consumer{Username: "alice", GroupID: "gold", Plugins: map[string]json.RawMessage{"limit-count": limitCount(2)}})
	f.consumer(consumer.Consumer{Username: "bob", GroupID: "gold"})
	f.consumer(consumer.Consumer{Username: "carol"})
	f.consumer(consumer.Consumer{Username: "dave", GroupID: "silver"})
	f.consumer(consumer.Consumer{Username: "erin", GroupID: "free"})
	for _, u := range []string{"alice", "bob", "carol", "dave", "erin"} {
		f.key(u, "k", "key-"+u)
	}
	h := f.gw.Protect("r", echo)
	for _, tc := range []struct {
		user   string
		passed int
		limit  string
	}{
		{"alice", 2, "2"},   // the consumer's own limit
		{"bob", 5, "5"},     // the group's
		{"carol", 10, "10"}, // no group: the route's
		{"dave", 10, "10"},  // a group of another gateway applies nothing here
		{"erin", 21, ""},    // the group switches the route's limit off
	} {
		t.Run(tc.user, func(t *testing.T) {
			passed, limit := spend(t, h, "key-"+tc.user, 20)
			require.Equal(t, tc.passed, passed)
			require.Equal(t, tc.limit, limit)
		})
	}
}

// Changing a group's plugins applies on the next request, without a restart.
func TestConsumerGroupChangesApply(t *testing.T) {
	f := newFixture(t, keyRoute("r", `{}`))
	f.consumerGroup("default", "g", consumergroup.PluginConfig{Name: "limit-count", Settings: limitCount(3)})
	f.consumer(consumer.Consumer{Username: "alice", GroupID: "g"})
	f.key("alice", "k", "key-alice")
	h := f.gw.Protect("r", echo)
	passed, _ := spend(t, h, "key-alice", 10)
	require.Equal(t, 3, passed)

	f.consumerGroup("default", "g", consumergroup.PluginConfig{Name: "limit-count", Settings: limitCount(6)})
	w := eventually(t, h, "/", map[string]string{"apikey": "key-alice"}, http.StatusOK)
	require.Equal(t, "6", w.Header().Get("X-RateLimit-Limit"), "new settings, new counters")

	require.NoError(t, f.st.DeleteConsumerGroup(context.Background(), "g"))
	require.Eventually(t, func() bool {
		w := do(h, http.MethodGet, "/", map[string]string{"apikey": "key-alice"})
		return w.Code == http.StatusOK && w.Header().Get("X-RateLimit-Limit") == ""
	}, 2*time.Second, 2*time.Millisecond, "a deleted group applies nothing")
}

// consumer-restriction required by a group refuses the members it names.
func TestGroupRequiresConsumerRestriction(t *testing.T) {
	f := newFixture(t, keyRoute("r", `{}`))
	f.consumerGroup("default", "g", consumergroup.PluginConfig{Name: "consumer-restriction",
		Settings: json.RawMessage(`{"blacklist":["mallory"],"rejected_msg":"not you"}`)})
	f.consumer(consumer.Consumer{Username: "mallory", GroupID: "g"})
	f.consumer(consumer.Consumer{Username: "alice", GroupID: "g"})
	f.key("mallory", "k", "key-mallory")
	f.key("alice", "k", "key-alice")
	h := f.gw.Protect("r", echo)
	w := eventually(t, h, "/", map[string]string{"apikey": "key-mallory"}, http.StatusForbidden)
	require.JSONEq(t, `{"message":"not you"}`, w.Body.String())
	eventually(t, h, "/", map[string]string{"apikey": "key-alice"}, http.StatusOK)
}

// A group whose plugins cannot be compiled fails its members closed.
func TestBrokenGroupFailsClosed(t *testing.T) {
	f := newFixture(t, keyRoute("r", `{}`), route.Route{ID: "open"})
	f.consumerGroup("default", "g", consumergroup.PluginConfig{Name: "no-such-plugin"})
	f.consumer(consumer.Consumer{Username: "alice", GroupID: "g"})
	f.consumer(consumer.Consumer{Username: "bob"})
	f.key("alice", "k", "key-alice")
	f.key("bob", "k", "key-bob")
	h := f.gw.Protect("r", echo)
	w := eventually(t, h, "/", map[string]string{"apikey": "key-alice"}, http.StatusInternalServerError)
	require.JSONEq(t, `{"message":"`+gatehouse.MsgRouteMisconfig+`"}`, w.Body.String())
	eventually(t, h, "/", map[string]string{"apikey": "key-bob"}, http.StatusOK)
}

// Plugins set on the gateway a data plane serves run for all its routes,
// below every other level; changing them applies without a restart.
func TestGatewayLevelPlugins(t *testing.T) {
	ctx := context.Background()
	r2 := keyRoute("r2", `{}`)
	r2.Plugins["limit-count"] = limitCount(10)
	f := newFixture(t, keyRoute("r", `{}`), r2)
	f.consumer(consumer.Consumer{Username: "alice"})
	f.key("alice", "k", "key-alice")
	f.consumer(consumer.Consumer{Username: "bob"})
	f.key("bob", "k", "key-bob")
	_, _, err := f.st.PutGateway(ctx, gatehouse.DefaultGatewayID, func(cur *consumergroup.Gateway) (*consumergroup.Gateway, error) {
		cur.Plugins = map[string]json.RawMessage{"limit-count": limitCount(4)}
		return cur, nil
	})
	require.NoError(t, err)

	h, h2 := f.gw.Protect("r", echo), f.gw.Protect("r2", echo)
	require.Eventually(t, func() bool {
		return do(h, http.MethodGet, "/", map[string]string{"apikey": "key-bob"}).Header().Get("X-RateLimit-Limit") == "4"
	}, 2*time.Second, 2*time.Millisecond, "the gateway's limit applies")
	passed, limit := spend(t, h, "key-alice", 20)
	require.Equal(t, 4, passed, "the gateway's limit")
	require.Equal(t, "4", limit)
	passed, limit = spend(t, h2, "key-alice", 20)
	require.Equal(t, 10, passed, "a route's own limit-count wins over the gateway's")
	require.Equal(t, "10", limit)

	_, _, err = f.st.PutGateway(ctx, gatehouse.DefaultGatewayID, func(cur *consumergroup.Gateway) (*consumergroup.Gateway, error) {
		cur.Plugins = nil
		return cur, nil
	})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		w := do(h, http.MethodGet, "/", map[string]string{"apikey": "key-alice"})
		return w.Code == http.StatusOK && w.Header().Get("X-RateLimit-Limit") == ""
	}, 2*time.Second, 2*time.Millisecond, "removing the gateway's plugins applies")
}

// A limit keyed by consumer on a route without authentication counts by the
// client address instead (the key falls back to it, as in APISIX).
func TestConsumerKeyFallsBackToClientAddress(t *testing.T) {
	open := route.Route{ID: "open", Plugins: map[string]json.RawMessage{"limit-count": limitCount(1)}}
	f := newFixture(t, open)
	h := f.gw.Protect("open", echo)
	from := func(addr string) int {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = addr
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	require.Equal(t, http.StatusOK, from("198.51.100.1:1000"))
	require.Equal(t, http.StatusTooManyRequests, from("198.51.100.1:2000"), "the same client address")
	require.Equal(t, http.StatusOK, from("198.51.100.2:1000"), "another client address")
}

// A consumer's own changes (its plugins, its group) apply on its next
// requests, and leave other consumers' limits and counters alone.
func TestConsumerChangesApply(t *testing.T) {
	f := newFixture(t, keyRoute("r", `{}`))
	f.consumerGroup("default", "gold", consumergroup.PluginConfig{Name: "limit-count", Settings: limitCount(4)})
	f.consumer(consumer.Consumer{Username: "alice", Plugins: map[string]json.RawMessage{"limit-count": limitCount(2)}})
	f.consumer(consumer.Consumer{Username: "bob", Plugins: map[string]json.RawMessage{"limit-count": limitCount(3)}})
	f.key("alice", "k", "key-alice")
	f.key("bob", "k", "key-bob")
	h := f.gw.Protect("r", echo)
	eventually(t, h, "/", map[string]string{"apikey": "key-bob"}, http.StatusOK) // bob: 1 of 3
	passed, limit := spend(t, h, "key-alice", 5)
	require.Equal(t, 2, passed)
	require.Equal(t, "2", limit)

	f.consumer(consumer.Consumer{Username: "alice", Plugins: map[string]json.RawMessage{"limit-count": limitCount(7)}})
	w := eventually(t, h, "/", map[string]string{"apikey": "key-alice"}, http.StatusOK)
	require.Equal(t, "7", w.Header().Get("X-RateLimit-Limit"), "the consumer's new plugins")
	f.consumer(consumer.Consumer{Username: "alice", GroupID: "gold"})
	require.Eventually(t, func() bool {
		return do(h, http.MethodGet, "/", map[string]string{"apikey": "key-alice"}).Header().Get("X-RateLimit-Limit") == "4"
	}, 2*time.Second, 2*time.Millisecond, "moved to a group without plugins of its own: the group's")

	// bob's plan and counter went through all this untouched.
	passed, limit = spend(t, h, "key-bob", 5)
	require.Equal(t, 2, passed, "bob had 2 of his 3 requests left")
	require.Equal(t, "3", limit)
}
