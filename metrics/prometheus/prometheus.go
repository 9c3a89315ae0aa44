// Package prometheus records a Gatehouse gateway's requests, authentication
// latency and limiter failures as Prometheus metrics: a gatehouse.Observer.
//
//	m, err := prometheus.New(registry)
//	gw, err := gatehouse.New(ctx, st, gatehouse.WithObserver(m))
//
// Metrics (docs/observability.md says more):
//
//	gatehouse_requests_total{route,consumer_group,outcome}   counter
//	gatehouse_auth_duration_seconds{route}                    histogram
//	gatehouse_limiter_errors_total{route}                     counter
//
// outcome is "allowed" or the status the gateway answered with itself
// ("401", "403", "429", "404", "502", ...). WithConsumerLabel adds the
// consumer's username as a label of gatehouse_requests_total: one series per
// consumer, so only where consumers are few.
package prometheus

import (
	"context"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehousehq/gatehouse"
)

// Metric names.
const (
	RequestsTotal      = "gatehouse_requests_total"
	AuthDuration       = "gatehouse_auth_duration_seconds"
	LimiterErrorsTotal = "gatehouse_limiter_errors_total"
)

// OutcomeAllowed is the outcome label of a request the gateway let through.
const OutcomeAllowed = "allowed"

// DefaultAuthBuckets are the buckets of gatehouse_auth_duration_seconds, in
// seconds: from a key lookup (microseconds) to bcrypt and JWKS-backed checks
// (tens of milliseconds).
var DefaultAuthBuckets = []float64{.00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}

// Option configures Metrics.
type Option func(*config)

type config struct {
	consumers bool
	buckets   []float64
	constant  prometheus.Labels
}

// WithConsumerLabel adds a consumer label (the consumer's username, "" when
// none is known) to gatehouse_requests_total.
//
// Cardinality: every consumer then makes series of its own (one per route
// and outcome it meets), kept for as long as the process lives. With
// thousands of consumers that is tens of thousands of series in the
// gateway's memory and in the Prometheus server: use it only when consumers
// are few (a handful of partner applications), and count per consumer from
// logs or the upstream otherwise.
func WithConsumerLabel() Option { return func(c *config) { c.consumers = true } }

// WithAuthBuckets sets the buckets of gatehouse_auth_duration_seconds, in
// seconds (default DefaultAuthBuckets).
func WithAuthBuckets(b []float64) Option { return func(c *config) { c.buckets = b } }

// WithConstLabels adds labels with fixed values to every metric, such as
// the instance's gateway id when several gateways share a registry.
func WithConstLabels(l prometheus.Labels) Option { return func(c *config) { c.constant = l } }

// Metrics is a gatehouse.Observer that records Prometheus metrics. Create it
// with New; it is safe for concurrent use.
type Metrics struct {
	requests      *prometheus.CounterVec
	auth          *prometheus.HistogramVec
	limiterErrors *prometheus.CounterVec
	consumers     bool

	// The series met so far, by their label values: a lookup in these maps
	// allocates nothing, where the vectors' WithLabelValues allocates its
	// label slice on every call.
	mu       sync.RWMutex
	counters map[requestKey]prometheus.Counter
	hists    map[string]prometheus.Observer
}

type requestKey struct {
	route, group, outcome, consumer string
}

var _ gatehouse.Observer = (*Metrics)(nil)

// New creates the metrics and registers them on reg (a *prometheus.Registry
// of the host, or prometheus.DefaultRegisterer). It fails when reg already
// holds metrics with these names.
func New(reg prometheus.Registerer, opts ...Option) (*Metrics, error) {
	c := config{buckets: DefaultAuthBuckets}
	for _, o := range opts {
		o(&c)
	}
	labels := []string{"route", "consumer_group", "outcome"}
	if c.consumers {
		labels = append(labels, "consumer")
	}
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        RequestsTotal,
			Help:        `Requests served by the gateway, by route, consumer group and outcome ("allowed", or the status the gateway answered with itself).`,
			ConstLabels: c.constant,
		}, labels),
		auth: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:        AuthDuration,
			Help:        "Time spent authenticating and authorizing a request (authentication plugins, service-group authorization, consumer-restriction), by route.",
			Buckets:     c.buckets,
			ConstLabels: c.constant,
		}, []string{"route"}),
		limiterErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        LimiterErrorsTotal,
			Help:        "Limiter calls that failed (the rate-limit or quota back-end is down or too slow), by route.",
			ConstLabels: c.constant,
		}, []string{"route"}),
		consumers: c.consumers,
		counters:  map[requestKey]prometheus.Counter{},
		hists:     map[string]prometheus.Observer{},
	}
	for _, col := range []prometheus.Collector{m.requests, m.auth, m.limiterErrors} {
		if err := reg.Register(col); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// ObserveRequest counts the request and, when it was authenticated, its
// authentication time (gatehouse.Observer).
func (m *Metrics) ObserveRequest(_ context.Context, info gatehouse.RequestInfo) {
	k := requestKey{route: info.Route, group: info.ConsumerGroup, outcome: Outcome(info.Status)}
	if m.consumers {
		k.consumer = info.Consumer
	}
	m.mu.RLock()
	c, ok := m.counters[k]
	var h prometheus.Observer
	if info.Authenticated {
		h = m.hists[info.Route]
	}
	m.mu.RUnlock()
	if !ok {
		c = m.counter(k)
	}
	c.Inc()
	if info.Authenticated {
		if h == nil {
			h = m.histogram(info.Route)
		}
		h.Observe(info.AuthDuration.Seconds())
	}
}

func (m *Metrics) counter(k requestKey) prometheus.Counter {
	values := []string{k.route, k.group, k.outcome}
	if m.consumers {
		values = append(values, k.consumer)
	}
	c := m.requests.WithLabelValues(values...)
	m.mu.Lock()
	m.counters[k] = c
	m.mu.Unlock()
	return c
}

func (m *Metrics) histogram(route string) prometheus.Observer {
	h := m.auth.WithLabelValues(route)
	m.mu.Lock()
	m.hists[route] = h
	m.mu.Unlock()
	return h
}

// ObserveLimiterError counts a failed limiter call (gatehouse.Observer).
func (m *Metrics) ObserveLimiterError(_ context.Context, route string, _ error) {
	m.limiterErrors.WithLabelValues(route).Inc()
}

// statuses holds the outcome labels of the statuses from 100 to 599, made
// once: strconv.Itoa allocates for numbers of three digits.
var statuses = func() (s [600]string) {
	for i := 100; i < len(s); i++ {
		s[i] = strconv.Itoa(i)
	}
	return s
}()

// Outcome returns the outcome label of a gatehouse.RequestInfo's Status:
// OutcomeAllowed for 0, the status code otherwise.
func Outcome(status int) string {
	if status == 0 {
		return OutcomeAllowed
	}
	if status >= 100 && status < len(statuses) {
		return statuses[status]
	}
	return strconv.Itoa(status)
}
