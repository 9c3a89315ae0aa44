package prometheus_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/consumergroup"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/credential/keyauth"
	ghprom "github.com/gatehousehq/gatehouse/metrics/prometheus"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store"
	"github.com/gatehousehq/gatehouse/store/memory"
)

// The benchmarks of this file are the root package's BenchmarkProtect* (same
// names, same scenarios) with these metrics as the gateway's Observer, so
// that benchstat compares the two runs line by line (docs/benchmarks.md).

// nopWriter is a ResponseWriter that keeps nothing.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}

func benchKey(i int) string { return fmt.Sprintf("ghk_%043d", i) }

// benchGateway is a gateway with the metrics on a registry of its own.
func benchGateway(b *testing.B, st store.Store, routes ...route.Route) *gatehouse.Gateway {
	b.Helper()
	m, err := ghprom.New(prometheus.NewRegistry())
	require.NoError(b, err)
	return newGateway(b, st, gatehouse.WithObserver(m), gatehouse.WithRoutes(routes...))
}

func putKey(b *testing.B, st store.Store, username, key string, c consumer.Consumer) {
	b.Helper()
	ctx := context.Background()
	c.Username = username
	_, _, err := st.PutConsumer(ctx, username, func(*consumer.Consumer) (*consumer.Consumer, error) { return &c, nil })
	require.NoError(b, err)
	sealed, err := keyauth.Definition{}.Seal(json.RawMessage(`{"key":"`+key+`"}`), nil)
	require.NoError(b, err)
	_, _, err = st.PutCredential(ctx, username, "k", func(*credential.Credential) (*credential.Credential, error) {
		return &credential.Credential{ID: "k", Name: "k", Enabled: true, Lookup: sealed.Lookup,
			Plugins: map[string]json.RawMessage{keyauth.Name: sealed.Stored}}, nil
	})
	require.NoError(b, err)
}

// seen is what the benchmarks' handler reads, as the root package's does.
var seen string

var handler = http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
	if c, ok := consumer.FromContext(r.Context()); ok {
		seen = c.Username
	}
})

func loop(b *testing.B, h http.Handler, header, value string, clearHeaders bool) {
	r := httptest.NewRequest(http.MethodGet, "/orders", nil)
	r.Header[header] = []string{value}
	w := &nopWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		if clearHeaders {
			clear(w.h)
		}
		h.ServeHTTP(w, r)
	}
}

func BenchmarkProtectKeyAuth(b *testing.B) {
	const consumers = 10_000
	st := memory.New()
	for i := range consumers {
		putKey(b, st, fmt.Sprintf("user-%05d", i), benchKey(i), consumer.Consumer{})
	}
	gw := benchGateway(b, st, keyRoute("r", nil))
	require.NoError(b, gw.Refresh(context.Background()))
	h := gw.Protect("r", handler)
	get(b, h, benchKey(consumers-1), http.StatusOK)
	b.Run("header", func(b *testing.B) { loop(b, h, "Apikey", benchKey(4242), false) })
	b.Run("bearer", func(b *testing.B) { loop(b, h, "Authorization", "Bearer "+benchKey(4242), false) })
	b.Run("invalid", func(b *testing.B) { loop(b, h, "Apikey", benchKey(consumers+1), false) })
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			r := httptest.NewRequest(http.MethodGet, "/orders", nil)
			r.Header["Apikey"] = []string{benchKey(42)}
			w := &nopWriter{h: http.Header{}}
			for pb.Next() {
				h.ServeHTTP(w, r)
			}
		})
	})
}

func BenchmarkProtectConsumerGroup(b *testing.B) {
	ctx := context.Background()
	st := setup(b)
	_, _, err := st.PutConsumerGroup(ctx, "premium", func(*consumergroup.Group) (*consumergroup.Group, error) {
		return &consumergroup.Group{ID: "premium", GatewayID: gatehouse.DefaultGatewayID, Name: "premium", RequiredPlugins: []consumergroup.PluginConfig{{
			Name: "advanced_rate_limiter", Settings: json.RawMessage(
				`{"limits":{"global":{"limit":1000000000,"window":"1m"},"per_ip":{"limit":1000000000,"window":"1m"},"per_user":{"limit":1000000000,"window":"1m"}}}`)}}}, nil
	})
	require.NoError(b, err)
	putKey(b, st, "user123", benchKey(1), consumer.Consumer{GroupID: "premium"})
	gw := benchGateway(b, st, keyRoute("r", nil))
	require.NoError(b, gw.Refresh(ctx))
	h := gw.Protect("r", handler)
	get(b, h, benchKey(1), http.StatusOK)
	loop(b, h, "Apikey", benchKey(1), true)
}

func BenchmarkProtectLimitCount(b *testing.B) {
	st := memory.New()
	putKey(b, st, "alice", benchKey(1), consumer.Consumer{})
	gw := benchGateway(b, st, keyRoute("r", map[string]string{"limit-count": `{"count":1000000000,"time_window":60,"key_type":"consumer"}`}))
	require.NoError(b, gw.Refresh(context.Background()))
	h := gw.Protect("r", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	get(b, h, benchKey(1), http.StatusOK)
	loop(b, h, "Apikey", benchKey(1), true)
}

// BenchmarkObserveRequest measures the metrics' own cost for one request: a
// counter found and incremented, an authentication time observed.
func BenchmarkObserveRequest(b *testing.B) {
	m, err := ghprom.New(prometheus.NewRegistry())
	require.NoError(b, err)
	info := gatehouse.RequestInfo{Route: "orders", Consumer: "alice", ConsumerGroup: "gold", Authenticated: true, AuthDuration: 3 * time.Microsecond}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		m.ObserveRequest(ctx, info)
	}
}
