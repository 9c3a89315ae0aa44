package prometheus_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/consumergroup"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/credential/keyauth"
	ghprom "github.com/gatehousehq/gatehouse/metrics/prometheus"
	"github.com/gatehousehq/gatehouse/ratelimit/limitertest"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/servicegroup"
	"github.com/gatehousehq/gatehouse/store"
	"github.com/gatehousehq/gatehouse/store/memory"
)

// setup fills a memory store: consumer alice of consumer group gold with
// key "alice-key-0001", and service group staff.
func setup(t testing.TB) store.Store {
	t.Helper()
	ctx := context.Background()
	st := memory.New()
	_, _, err := st.PutGateway(ctx, gatehouse.DefaultGatewayID, func(*consumergroup.Gateway) (*consumergroup.Gateway, error) {
		return &consumergroup.Gateway{ID: gatehouse.DefaultGatewayID, Name: "default"}, nil
	})
	require.NoError(t, err)
	_, _, err = st.PutConsumerGroup(ctx, "gold", func(*consumergroup.Group) (*consumergroup.Group, error) {
		return &consumergroup.Group{ID: "gold", GatewayID: gatehouse.DefaultGatewayID, Name: "gold"}, nil
	})
	require.NoError(t, err)
	_, _, err = st.PutGroup(ctx, "staff", func(*servicegroup.Group) (*servicegroup.Group, error) {
		return &servicegroup.Group{ID: "staff", Name: "staff"}, nil
	})
	require.NoError(t, err)
	_, _, err = st.PutConsumer(ctx, "alice", func(*consumer.Consumer) (*consumer.Consumer, error) {
		return &consumer.Consumer{Username: "alice", GroupID: "gold"}, nil
	})
	require.NoError(t, err)
	sealed, err := keyauth.Definition{}.Seal(json.RawMessage(`{"key":"alice-key-0001"}`), nil)
	require.NoError(t, err)
	_, _, err = st.PutCredential(ctx, "alice", "k", func(*credential.Credential) (*credential.Credential, error) {
		return &credential.Credential{ID: "k", Name: "k", Enabled: true, Lookup: sealed.Lookup,
			Plugins: map[string]json.RawMessage{keyauth.Name: sealed.Stored}}, nil
	})
	require.NoError(t, err)
	return st
}

func keyRoute(id string, extra map[string]string) route.Route {
	r := route.Route{ID: id, Plugins: map[string]json.RawMessage{keyauth.Name: json.RawMessage(`{}`)}}
	for k, v := range extra {
		r.Plugins[k] = json.RawMessage(v)
	}
	return r
}

func newGateway(t testing.TB, st store.Store, opts ...gatehouse.Option) *gatehouse.Gateway {
	t.Helper()
	gw, err := gatehouse.New(context.Background(), st, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = gw.Close() })
	return gw
}

func get(t testing.TB, h http.Handler, key string, want int) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if key != "" {
		r.Header.Set("apikey", key)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	require.Equal(t, want, w.Code, w.Body.String())
}

// authCounts returns the number of observations of
// gatehouse_auth_duration_seconds per route.
func authCounts(t testing.TB, reg prometheus.Gatherer) map[string]uint64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]uint64{}
	for _, f := range families {
		if f.GetName() != ghprom.AuthDuration {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "route" {
					out[l.GetValue()] = m.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	return out
}

func TestRequestsAfterRealRequests(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := ghprom.New(reg)
	require.NoError(t, err)
	staff := keyRoute("staff", nil)
	staff.Groups = []string{"staff"}
	gw := newGateway(t, setup(t), gatehouse.WithObserver(m), gatehouse.WithRoutes(
		keyRoute("orders", map[string]string{"limit-count": `{"count":2,"time_window":60,"key_type":"consumer"}`}), staff))
	orders := gw.Protect("orders", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	get(t, orders, "alice-key-0001", http.StatusOK)
	get(t, orders, "alice-key-0001", http.StatusOK)
	get(t, orders, "alice-key-0001", http.StatusTooManyRequests)
	get(t, orders, "", http.StatusUnauthorized)
	get(t, orders, "wrong-key-0001", http.StatusUnauthorized)
	get(t, gw.Protect("staff", orders), "alice-key-0001", http.StatusForbidden)
	get(t, gw.Protect("missing", orders), "alice-key-0001", http.StatusNotFound)

	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP gatehouse_requests_total Requests served by the gateway, by route, consumer group and outcome ("allowed", or the status the gateway answered with itself).
# TYPE gatehouse_requests_total counter
gatehouse_requests_total{consumer_group="",outcome="401",route="orders"} 2
gatehouse_requests_total{consumer_group="",outcome="404",route="missing"} 1
gatehouse_requests_total{consumer_group="gold",outcome="403",route="staff"} 1
gatehouse_requests_total{consumer_group="gold",outcome="429",route="orders"} 1
gatehouse_requests_total{consumer_group="gold",outcome="allowed",route="orders"} 2
`), ghprom.RequestsTotal))
	require.Equal(t, map[string]uint64{"orders": 5, "staff": 1}, authCounts(t, reg),
		"every authenticated request is timed; the missing route's is not")
	n, err := testutil.GatherAndCount(reg, ghprom.LimiterErrorsTotal)
	require.NoError(t, err)
	require.Zero(t, n, "no limiter failed")
}

func TestLimiterDown(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := ghprom.New(reg)
	require.NoError(t, err)
	gw := newGateway(t, setup(t), gatehouse.WithObserver(m), gatehouse.WithLimiter(limitertest.Down(errors.New("dial tcp 127.0.0.1:6379: connect: connection refused"))), gatehouse.WithRoutes(
		keyRoute("open", map[string]string{"limit-count": `{"count":2,"time_window":60,"key_type":"consumer","allow_degradation":true}`}),
		keyRoute("closed", map[string]string{"limit-count": `{"count":2,"time_window":60,"key_type":"consumer"}`})))
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	for range 3 {
		get(t, gw.Protect("open", ok), "alice-key-0001", http.StatusOK)
	}
	get(t, gw.Protect("closed", ok), "alice-key-0001", http.StatusInternalServerError)

	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP gatehouse_limiter_errors_total Limiter calls that failed (the rate-limit or quota back-end is down or too slow), by route.
# TYPE gatehouse_limiter_errors_total counter
gatehouse_limiter_errors_total{route="closed"} 1
gatehouse_limiter_errors_total{route="open"} 3
# HELP gatehouse_requests_total Requests served by the gateway, by route, consumer group and outcome ("allowed", or the status the gateway answered with itself).
# TYPE gatehouse_requests_total counter
gatehouse_requests_total{consumer_group="gold",outcome="500",route="closed"} 1
gatehouse_requests_total{consumer_group="gold",outcome="allowed",route="open"} 3
`), ghprom.LimiterErrorsTotal, ghprom.RequestsTotal))
}

func TestConsumerLabel(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := ghprom.New(reg, ghprom.WithConsumerLabel(), ghprom.WithConstLabels(prometheus.Labels{"gateway": "eu"}))
	require.NoError(t, err)
	gw := newGateway(t, setup(t), gatehouse.WithObserver(m), gatehouse.WithRoutes(keyRoute("orders", nil)))
	orders := gw.Protect("orders", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	get(t, orders, "alice-key-0001", http.StatusOK)
	get(t, orders, "wrong-key-0001", http.StatusUnauthorized)
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP gatehouse_requests_total Requests served by the gateway, by route, consumer group and outcome ("allowed", or the status the gateway answered with itself).
# TYPE gatehouse_requests_total counter
gatehouse_requests_total{consumer="",consumer_group="",gateway="eu",outcome="401",route="orders"} 1
gatehouse_requests_total{consumer="alice",consumer_group="gold",gateway="eu",outcome="allowed",route="orders"} 1
`), ghprom.RequestsTotal))
}

func TestNewRefusesDuplicateRegistration(t *testing.T) {
	reg := prometheus.NewRegistry()
	_, err := ghprom.New(reg)
	require.NoError(t, err)
	_, err = ghprom.New(reg)
	var are prometheus.AlreadyRegisteredError
	require.ErrorAs(t, err, &are)
}

func TestOutcome(t *testing.T) {
	require.Equal(t, ghprom.OutcomeAllowed, ghprom.Outcome(0))
	require.Equal(t, "429", ghprom.Outcome(429))
	require.Equal(t, "999", ghprom.Outcome(999))
	require.Zero(t, testing.AllocsPerRun(10, func() { _ = ghprom.Outcome(503) }))
}
