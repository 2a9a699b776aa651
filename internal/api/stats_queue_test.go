package api_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/api"
	"github.com/hookd/hookd/internal/app"
	"github.com/hookd/hookd/internal/config"
	"github.com/hookd/hookd/internal/receiver"
	"github.com/hookd/hookd/internal/webhook"
)

// TestStatsQueueDepth: GET /api/stats carries the queue's depth in each
// bucket, sampled from the store every 5 s: a backlog that builds while
// delivery is held back shows in the current bucket; buckets from before
// the process started have none (null, not 0).
func TestStatsQueueDepth(t *testing.T) {
	t.Parallel()
	rcv := startReceiver(t, receiver.Always(http.StatusOK))
	ta := setup(t, func(cfg *config.Config) {
		cfg.Sources = []webhook.Source{source("github")}
		cfg.Destinations = []webhook.Destination{destination("ci", rcv.URL(), "github")}
	}, func(opts *app.Options) { opts.DeferDelivery = true })
	viewer := ta.viewer(t)
	const backlog = 7
	for range backlog {
		ta.ingest(t, "github", []byte(`{}`), nil)
	}

	var s api.StatsResponse
	deadline := time.Now().Add(waitTimeout)
	for {
		s = get[api.StatsResponse](t, ta, "/api/stats?window=5m", viewer)
		last := s.Buckets[len(s.Buckets)-1]
		if last.QueueLength != nil && *last.QueueLength == backlog {
			if *last.ScheduledRetries != 0 || *last.InFlight != 0 {
				t.Errorf("last bucket's queue: %d scheduled, %d in flight; want 0 and 0 (nothing claimed)", *last.ScheduledRetries, *last.InFlight)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no bucket shows the backlog of %d within %s: last bucket %+v, queue now %+v", backlog, waitTimeout, last, s.Queue)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if s.Queue.Ready != backlog {
		t.Errorf("queue now = %+v; want %d ready", s.Queue, backlog)
	}

	// The first bucket is from before the process started: null, present.
	r := ta.call(t, request{method: "GET", path: "/api/stats?window=5m", token: viewer})
	var raw struct{ Buckets []map[string]json.RawMessage }
	if err := json.Unmarshal(r.body, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"queue_length", "scheduled_retries", "in_flight"} {
		if v, ok := raw.Buckets[0][k]; !ok || string(v) != "null" {
			t.Errorf("first bucket's %s = %s (present %v); want null", k, v, ok)
		}
	}

	// Once delivery runs, the backlog drains.
	if err := ta.StartDelivery(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the backlog to drain", func() bool { return len(rcv.Arrivals()) == backlog })
}
