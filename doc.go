// Package gatehouse brings API-gateway consumer management into any net/http
// server: consumers and their credentials, route protection and the admin API.
//
// A Gateway reads its configuration from a store.Store and keeps an in-process
// view of it, refreshed by the store's change notifications, so that no request
// waits on the store. Wrap a handler with Protect (or Middleware) to have the
// route's authentication plugins run before it; mount AdminHandler to manage
// consumers, credentials and routes over HTTP; use Router to serve stored routes
// that proxy to a backend.
//
//	st := memory.New()
//	gw, err := gatehouse.New(ctx, st, gatehouse.WithRoutes(route.Route{
//		ID:      "orders",
//		Plugins: map[string]json.RawMessage{"key-auth": json.RawMessage(`{}`)},
//	}))
//	mux.Handle("/orders/", gw.Protect("orders", ordersHandler))
//
// The handler then finds the caller with consumer.FromContext(r.Context()).
//
// Status and Ready report whether the view is loaded and whether the store
// answers; HealthHandler and ReadyHandler serve them as liveness and readiness
// probes (docs/deploy.md).
// WithObserver (metrics/prometheus) and WithSpans (tracing) report what the
// gateway decides about each request; WithLogger's logger gets one debug line
// per refused request. See docs/observability.md.
package gatehouse
