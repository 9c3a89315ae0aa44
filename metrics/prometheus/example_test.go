package prometheus_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gatehousehq/gatehouse"
	ghprom "github.com/gatehousehq/gatehouse/metrics/prometheus"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store/memory"
)

// Record a gateway's metrics on the host's registry and serve them at
// /metrics.
func ExampleNew() {
	reg := prometheus.NewRegistry()
	metrics, err := ghprom.New(reg)
	if err != nil {
		panic(err)
	}
	gw, err := gatehouse.New(context.Background(), memory.New(),
		gatehouse.WithObserver(metrics),
		gatehouse.WithRoutes(route.Route{ID: "orders", Plugins: map[string]json.RawMessage{"key-auth": json.RawMessage(`{}`)}}))
	if err != nil {
		panic(err)
	}
	defer gw.Close()

	orders := gw.Protect("orders", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for _, key := range []string{"", "guess", "guess-again"} {
		r := httptest.NewRequest(http.MethodGet, "/orders", nil)
		if key != "" {
			r.Header.Set("apikey", key)
		}
		orders.ServeHTTP(httptest.NewRecorder(), r)
	}

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	sc := bufio.NewScanner(w.Body)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, ghprom.RequestsTotal) || strings.HasPrefix(line, ghprom.AuthDuration+"_count") {
			fmt.Println(line)
		}
	}
	// Output:
	// gatehouse_auth_duration_seconds_count{route="orders"} 3
	// gatehouse_requests_total{consumer_group="",outcome="401",route="orders"} 3
}
