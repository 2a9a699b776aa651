// Package metrics defines hookd's Prometheus metrics in one Registry (never
// the global default one, so that tests and several apps in one process do
// not share counters) and serves them at GET /metrics.
//
// Labels are bounded on purpose: a source or destination name (both come
// from the configuration, never from a request), an outcome, a status class
// or an operation name, each from a short fixed list. Event, delivery and
// attempt ids are never labels: they would make one series per webhook.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hookd/hookd/internal/store"
)

// UnknownSource is the source label of webhooks posted to a name that no
// configured source has: scanners must not be able to add series.
const UnknownSource = "_unknown"

// Ingest results besides the HTTP status codes of refusals.
const (
	ResultAccepted  = "accepted"
	ResultDuplicate = "duplicate"
)

// Attempt outcomes, the outcome label of hookd_delivery_attempts_total.
const (
	OutcomeSuccess      = "success"       // 2xx: the delivery is done
	OutcomeRetry        = "retry"         // failed, a retry is scheduled
	OutcomeDead         = "dead"          // failed for good: a dead letter
	OutcomeHandedBack   = "handed_back"   // cut short by shutdown, not counted
	OutcomeRecordFailed = "record_failed" // the store refused the result
)

// The store operations the scrape itself makes.
const (
	OpQueueStats        = "queue_stats"
	OpDestinationStates = "destination_states"
)

// StatsReader is the part of the store read at scrape time.
type StatsReader interface {
	QueueStats(ctx context.Context, now time.Time) (store.QueueStats, error)
	DestinationStateList(ctx context.Context) ([]store.DestinationState, error)
}

// Options configure a Registry.
type Options struct {
	// Stats, when set, gives the queue gauges and the circuit states.
	Stats StatsReader
	// Destinations names the configured destinations, whose circuit state
	// is reported (closed when the store keeps none).
	Destinations func() []string
	// InFlight, when set, reports the attempts running in this process.
	InFlight func() int64
	// ConcurrencyLimits, when set, reports each destination's adaptive
	// concurrency limit in this process (adaptive.go).
	ConcurrencyLimits func() map[string]int
	// CacheTTL is how long one reading of Stats serves scrapes, so that
	// several Prometheus servers scraping often do not each cost a query.
	// Default 2s.
	CacheTTL time.Duration
	// StoreOps and QueueOps name the operations whose failures are
	// counted; their series start at zero, so that an alert's rate() sees
	// the first failure.
	StoreOps, QueueOps []string
	// Now defaults to time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Registry holds every hookd metric.
type Registry struct {
	reg *prometheus.Registry

	ingests        *prometheus.CounterVec
	ingestDuration *prometheus.HistogramVec
	attempts       *prometheus.CounterVec
	attemptLatency *prometheus.HistogramVec
	endToEnd       *prometheus.HistogramVec
	storeErrors    *prometheus.CounterVec
	queueErrors    *prometheus.CounterVec
	filterErrors   *prometheus.CounterVec
}

// latencyBuckets span a fast receiver (5 ms) to a destination timeout
// (30 s and more).
var latencyBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// endToEndBuckets span an immediate delivery to one after a day of
// retries.
var endToEndBuckets = []float64{.01, .05, .1, .5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600}

// New returns a Registry with every metric registered, Go runtime and
// process metrics included.
func New(opts Options) *Registry {
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = 2 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Registry{reg: prometheus.NewRegistry()}
	r.ingests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hookd_ingest_requests_total",
		Help: "Webhook requests answered, by source and result: accepted, duplicate, or the HTTP status of a refusal (401, 404, 413, 500, ...).",
	}, []string{"source", "result"})
	r.ingestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "hookd_ingest_duration_seconds",
		Help:    "Time to answer a webhook request, durable store included, by source.",
		Buckets: latencyBuckets,
	}, []string{"source"})
	r.attempts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hookd_delivery_attempts_total",
		Help: "Delivery attempts by destination, outcome (success, retry, dead, handed_back, record_failed) and status class (2xx, 3xx, 4xx, 5xx, error).",
	}, []string{"destination", "outcome", "code"})
	r.attemptLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "hookd_delivery_attempt_duration_seconds",
		Help:    "Duration of one delivery attempt (request sent to response read), by destination.",
		Buckets: latencyBuckets,
	}, []string{"destination"})
	r.endToEnd = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "hookd_delivery_end_to_end_seconds",
		Help:    "Time from an event's receipt to its successful delivery, retries included, by destination.",
		Buckets: endToEndBuckets,
	}, []string{"destination"})
	r.storeErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hookd_store_errors_total",
		Help: "Failed store operations, by operation.",
	}, []string{"op"})
	r.queueErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hookd_queue_errors_total",
		Help: "Failed queue operations, by operation.",
	}, []string{"op"})
	r.filterErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hookd_filter_errors_total",
		Help: "Events a destination's filter failed on (a run-time error or its time limit), which therefore did not go to it, by destination.",
	}, []string{"destination"})
	r.reg.MustRegister(r.filterErrors)
	r.reg.MustRegister(r.ingests, r.ingestDuration, r.attempts, r.attemptLatency, r.endToEnd, r.storeErrors, r.queueErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, op := range append([]string{OpQueueStats, OpDestinationStates}, opts.StoreOps...) {
		r.storeErrors.WithLabelValues(op)
	}
	for _, op := range opts.QueueOps {
		r.queueErrors.WithLabelValues(op)
	}
	if opts.InFlight != nil {
		r.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "hookd_delivery_in_flight_local",
			Help: "Delivery attempts running in this process right now.",
		}, func() float64 { return float64(opts.InFlight()) }))
	}
	if opts.ConcurrencyLimits != nil {
		r.reg.MustRegister(newLimitsCollector(opts.ConcurrencyLimits))
	}
	if opts.Stats != nil {
		r.reg.MustRegister(newStoreCollector(opts, r.storeErrors))
	}
	return r
}

// Handler serves the metrics in the Prometheus text format (or
// OpenMetrics when the scraper asks for it).
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
}

// Gatherer exposes the registry to tests and to other exporters.
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// Ingested counts one answered webhook request. source is empty when no
// configured source matched; status is the HTTP status answered.
func (r *Registry) Ingested(source string, status int, duplicate bool, took time.Duration) {
	if source == "" {
		source = UnknownSource
	}
	result := strconv.Itoa(status)
	switch {
	case duplicate:
		result = ResultDuplicate
	case status >= 200 && status < 300:
		result = ResultAccepted
	}
	r.ingests.WithLabelValues(source, result).Inc()
	r.ingestDuration.WithLabelValues(source).Observe(took.Seconds())
}

// Refused counts one webhook request the traffic guard answered before
// ingest saw it (413 over the server's body cap, 429 over the source's
// rate, 503 over the ingests in progress), in the same series as Ingested
// so that one query sees every answer. No duration is observed: a refusal
// says nothing of ingest's speed.
func (r *Registry) Refused(source string, status int) {
	if source == "" {
		source = UnknownSource
	}
	r.ingests.WithLabelValues(source, strconv.Itoa(status)).Inc()
}

// Attempted counts one delivery attempt. statusCode is 0 when no response
// came (timeout, refused connection); endToEnd is the time since the
// event was received, observed for successes only.
func (r *Registry) Attempted(destination, outcome string, statusCode int, took, endToEnd time.Duration) {
	r.attempts.WithLabelValues(destination, outcome, StatusClass(statusCode)).Inc()
	if outcome == OutcomeHandedBack {
		return // cut short: its duration says nothing of the receiver
	}
	r.attemptLatency.WithLabelValues(destination).Observe(took.Seconds())
	if outcome == OutcomeSuccess {
		r.endToEnd.WithLabelValues(destination).Observe(max(endToEnd, 0).Seconds())
	}
}

// StoreFailed counts a failed store operation.
func (r *Registry) StoreFailed(op string) { r.storeErrors.WithLabelValues(op).Inc() }

// FilterFailed counts an event that destination's filter failed on.
func (r *Registry) FilterFailed(destination string) {
	r.filterErrors.WithLabelValues(destination).Inc()
}

// QueueFailed counts a failed queue operation.
func (r *Registry) QueueFailed(op string) { r.queueErrors.WithLabelValues(op).Inc() }

// StatusClass is the code label: "2xx" … "5xx", or "error" when no
// response came.
func StatusClass(code int) string {
	if code < 100 || code > 599 {
		return "error"
	}
	return strconv.Itoa(code/100) + "xx"
}

// storeCollector reads the queue counts and the circuit states at scrape
// time, from a cache no older than CacheTTL.
type storeCollector struct {
	opts        Options
	storeErrors *prometheus.CounterVec

	ready, scheduled, inFlight, dead *prometheus.Desc
	circuit, failures, failingFor    *prometheus.Desc

	mu      sync.Mutex
	readAt  time.Time
	stats   store.QueueStats
	states  map[string]store.DestinationState
	statsOK bool
}

// circuits are the values of the state label, each one series per
// destination (1 for the current state, 0 for the others) so that a
// dashboard can stack them and an alert can test one.
var circuits = []store.Circuit{store.CircuitClosed, store.CircuitOpen, store.CircuitHalfOpen, store.CircuitDisabled}

func newStoreCollector(opts Options, storeErrors *prometheus.CounterVec) *storeCollector {
	return &storeCollector{
		opts:        opts,
		storeErrors: storeErrors,
		ready:       prometheus.NewDesc("hookd_queue_ready", "Deliveries due now and not leased (queue depth), in the shared store.", nil, nil),
		scheduled:   prometheus.NewDesc("hookd_queue_scheduled_retries", "Deliveries waiting for a later retry.", nil, nil),
		inFlight:    prometheus.NewDesc("hookd_queue_in_flight", "Leased deliveries, across every process.", nil, nil),
		dead:        prometheus.NewDesc("hookd_dead_letters", "Deliveries in permanent failure (dead letters).", nil, nil),
		circuit:     prometheus.NewDesc("hookd_destination_circuit_state", "Circuit-breaker state of each destination: 1 for the current state.", []string{"destination", "state"}, nil),
		failures:    prometheus.NewDesc("hookd_destination_consecutive_failures", "Failed attempts since the destination's last success.", []string{"destination"}, nil),
		failingFor:  prometheus.NewDesc("hookd_destination_failing_seconds", "How long every attempt to the destination has failed; 0 when its last attempt succeeded.", []string{"destination"}, nil),
	}
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.ready, c.scheduled, c.inFlight, c.dead, c.circuit, c.failures, c.failingFor} {
		ch <- d
	}
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.opts.Now()
	stats, statsOK, states := c.read(now)
	if statsOK {
		ch <- prometheus.MustNewConstMetric(c.ready, prometheus.GaugeValue, float64(stats.Ready))
		ch <- prometheus.MustNewConstMetric(c.scheduled, prometheus.GaugeValue, float64(stats.Scheduled))
		ch <- prometheus.MustNewConstMetric(c.inFlight, prometheus.GaugeValue, float64(stats.InFlight))
		ch <- prometheus.MustNewConstMetric(c.dead, prometheus.GaugeValue, float64(stats.Dead))
	}
	if states == nil || c.opts.Destinations == nil {
		return
	}
	for _, name := range c.opts.Destinations() {
		st := states[name] // zero: never failed, closed
		current := st.Circuit
		if current == "" {
			current = store.CircuitClosed
		}
		for _, s := range circuits {
			v := 0.0
			if s == current {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(c.circuit, prometheus.GaugeValue, v, name, string(s))
		}
		ch <- prometheus.MustNewConstMetric(c.failures, prometheus.GaugeValue, float64(st.ConsecutiveFailures), name)
		failing := 0.0
		if st.ConsecutiveFailures > 0 && !st.FailingSince.IsZero() {
			failing = max(now.Sub(st.FailingSince).Seconds(), 0)
		}
		ch <- prometheus.MustNewConstMetric(c.failingFor, prometheus.GaugeValue, failing, name)
	}
}

// read returns the cached readings, reading the store again when they are
// older than CacheTTL. A failed read is counted and leaves those series
// out of the scrape (absent, not a stale or made-up zero).
func (c *storeCollector) read(now time.Time) (store.QueueStats, bool, map[string]store.DestinationState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.readAt.IsZero() && now.Sub(c.readAt) < c.opts.CacheTTL {
		return c.stats, c.statsOK, c.states
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.readAt = now
	var err error
	c.stats, err = c.opts.Stats.QueueStats(ctx, now)
	c.statsOK = err == nil
	if err != nil {
		c.storeErrors.WithLabelValues(OpQueueStats).Inc()
		c.opts.Logger.Warn("metrics: could not read queue stats", "err", err)
	}
	list, err := c.opts.Stats.DestinationStateList(ctx)
	if err != nil {
		c.storeErrors.WithLabelValues(OpDestinationStates).Inc()
		c.opts.Logger.Warn("metrics: could not read destination states", "err", err)
		c.states = nil
	} else {
		c.states = make(map[string]store.DestinationState, len(list))
		for _, s := range list {
			c.states[s.Destination] = s
		}
	}
	return c.stats, c.statsOK, c.states
}
