package metrics

import "github.com/prometheus/client_golang/prometheus"

// limitsCollector reports each destination's adaptive concurrency limit,
// read at scrape time from the delivery engine of this process.
type limitsCollector struct {
	limits func() map[string]int
	desc   *prometheus.Desc
}

func newLimitsCollector(limits func() map[string]int) *limitsCollector {
	return &limitsCollector{limits: limits, desc: prometheus.NewDesc(
		"hookd_delivery_concurrency_limit",
		"Attempts that may be in flight to a destination in this process right now: max_in_flight, halved on 429, 502, 504 and timeouts and raised again on successes (adaptive delivery). A receiver's Retry-After pauses new attempts beside this limit (shown by the API as paused_until).",
		[]string{"destination"}, nil)}
}

func (c *limitsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *limitsCollector) Collect(ch chan<- prometheus.Metric) {
	for name, limit := range c.limits() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(limit), name)
	}
}
