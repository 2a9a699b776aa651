package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hookd/hookd/internal/metrics"
	"github.com/hookd/hookd/internal/store"
)

func TestStatusClass(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		code int
		want string
	}{
		{0, "error"}, {99, "error"}, {200, "2xx"}, {204, "2xx"}, {301, "3xx"}, {410, "4xx"}, {503, "5xx"}, {600, "error"},
	} {
		if got := metrics.StatusClass(tt.code); got != tt.want {
			t.Errorf("StatusClass(%d) = %q; want %q", tt.code, got, tt.want)
		}
	}
}

// fakeStats counts reads; a unit-test fake of the two store reads.
type fakeStats struct {
	reads  atomic.Int64
	fail   atomic.Bool
	states []store.DestinationState
}

func (f *fakeStats) QueueStats(context.Context, time.Time) (store.QueueStats, error) {
	f.reads.Add(1)
	if f.fail.Load() {
		return store.QueueStats{}, errors.New("database is down")
	}
	return store.QueueStats{Ready: 3, Scheduled: 2, InFlight: 1, Dead: 7}, nil
}

func (f *fakeStats) DestinationStateList(context.Context) ([]store.DestinationState, error) {
	return f.states, nil
}

// TestScrapeReadsTheStoreOncePerCacheTTL: frequent scrapes share one read
// of the store; a failed read is counted and leaves the gauges out.
func TestScrapeReadsTheStoreOncePerCacheTTL(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var clock atomic.Int64
	stats := &fakeStats{states: []store.DestinationState{
		{Destination: "slow", Circuit: store.CircuitOpen, ConsecutiveFailures: 9, FailingSince: now.Add(-time.Hour)},
		{Destination: "removed", Circuit: store.CircuitDisabled},
	}}
	reg := metrics.New(metrics.Options{
		Stats:        stats,
		Destinations: func() []string { return []string{"fast", "slow"} },
		CacheTTL:     time.Second,
		Now:          func() time.Time { return now.Add(time.Duration(clock.Load())) },
	})
	srv := httptest.NewServer(reg.Handler())
	t.Cleanup(srv.Close)
	scrape := func() string {
		t.Helper()
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	body := scrape()
	for _, want := range []string{
		"hookd_queue_ready 3", "hookd_dead_letters 7", "hookd_queue_scheduled_retries 2", "hookd_queue_in_flight 1",
		`hookd_destination_circuit_state{destination="slow",state="open"} 1`,
		`hookd_destination_circuit_state{destination="slow",state="closed"} 0`,
		`hookd_destination_circuit_state{destination="fast",state="closed"} 1`,
		`hookd_destination_failing_seconds{destination="slow"} 3600`,
		`hookd_destination_consecutive_failures{destination="slow"} 9`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	if strings.Contains(body, `destination="removed"`) {
		t.Error("a destination no longer configured is reported")
	}
	for range 5 {
		scrape()
	}
	if n := stats.reads.Load(); n != 1 {
		t.Errorf("6 scrapes within the cache TTL read the store %d times; want 1", n)
	}
	clock.Store(int64(2 * time.Second))
	stats.fail.Store(true)
	body = scrape()
	if n := stats.reads.Load(); n != 2 {
		t.Errorf("a scrape after the TTL: %d reads; want 2", n)
	}
	if strings.Contains(body, "hookd_queue_ready") {
		t.Error("a failed read still reports hookd_queue_ready")
	}
	// The scrape that failed may have gathered the counter before it
	// failed; the next one (served from the cache) shows it.
	if body = scrape(); !strings.Contains(body, `hookd_store_errors_total{op="queue_stats"} 1`) {
		t.Error("a failed read is not counted in hookd_store_errors_total")
	}
}

// TestUnknownSourcesShareOneLabel: made-up source names never become
// series.
func TestUnknownSourcesShareOneLabel(t *testing.T) {
	t.Parallel()
	reg := metrics.New(metrics.Options{})
	reg.Ingested("", http.StatusNotFound, false, time.Millisecond)
	reg.Ingested("", http.StatusNotFound, false, time.Millisecond)
	reg.Ingested("github", http.StatusAccepted, false, time.Millisecond)
	reg.Ingested("github", http.StatusAccepted, true, time.Millisecond)
	reg.Ingested("github", http.StatusUnauthorized, false, time.Millisecond)
	want := `
# HELP hookd_ingest_requests_total Webhook requests answered, by source and result: accepted, duplicate, or the HTTP status of a refusal (401, 404, 413, 500, ...).
# TYPE hookd_ingest_requests_total counter
hookd_ingest_requests_total{result="401",source="github"} 1
hookd_ingest_requests_total{result="404",source="_unknown"} 2
hookd_ingest_requests_total{result="accepted",source="github"} 1
hookd_ingest_requests_total{result="duplicate",source="github"} 1
`
	if err := testutil.GatherAndCompare(reg.Gatherer(), strings.NewReader(want), "hookd_ingest_requests_total"); err != nil {
		t.Error(err)
	}
}
