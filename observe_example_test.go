package gatehouse_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store/memory"
)

// Start a span around authentication and around the rest of each request.
// A tracer (OpenTelemetry's, say: docs/observability.md) goes where this
// example prints.
func ExampleWithSpans() {
	spans := func(ctx context.Context, name string, a gatehouse.SpanAttributes) (context.Context, func(error)) {
		return ctx, func(err error) {
			var re *gatehouse.RefusedError
			if errors.As(err, &re) {
				fmt.Printf("%s route=%s: answered %d (%s)\n", name, a.Route, re.Status, re.Reason)
				return
			}
			fmt.Printf("%s route=%s consumer=%q: ok\n", name, a.Route, a.Consumer)
		}
	}
	gw, err := gatehouse.New(context.Background(), memory.New(), gatehouse.WithSpans(spans),
		gatehouse.WithRoutes(route.Route{ID: "orders", Plugins: map[string]json.RawMessage{"key-auth": json.RawMessage(`{}`)}}),
		gatehouse.WithRoutes(route.Route{ID: "public"}))
	if err != nil {
		panic(err)
	}
	defer gw.Close()
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	gw.Protect("orders", ok).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/orders", nil))
	gw.Protect("public", ok).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	// Output:
	// gatehouse.auth route=orders: answered 401 (Missing API key in request)
	// gatehouse.upstream route=public consumer="": ok
}
