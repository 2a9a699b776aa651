package metrics_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hookd/hookd/internal/metrics"
)

// TestConcurrencyLimits: each destination's adaptive limit is read at
// scrape time, one series per destination.
func TestConcurrencyLimits(t *testing.T) {
	t.Parallel()
	limits := map[string]int{"fast": 16, "busy": 2}
	r := metrics.New(metrics.Options{ConcurrencyLimits: func() map[string]int { return limits }})
	want := `
# HELP hookd_delivery_concurrency_limit Attempts that may be in flight to a destination in this process right now: max_in_flight, halved on 429, 502, 504 and timeouts and raised again on successes (adaptive delivery). A receiver's Retry-After pauses new attempts beside this limit (shown by the API as paused_until).
# TYPE hookd_delivery_concurrency_limit gauge
hookd_delivery_concurrency_limit{destination="busy"} 2
hookd_delivery_concurrency_limit{destination="fast"} 16
`
	if err := testutil.GatherAndCompare(r.Gatherer(), strings.NewReader(want), "hookd_delivery_concurrency_limit"); err != nil {
		t.Fatal(err)
	}
}
