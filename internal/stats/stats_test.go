package stats_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/stats"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/stream"
	"github.com/hookd/hookd/internal/webhook"
)

// clock is a fake clock that moves only when a test says so.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// t0 is aligned to every bucket width used below.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func setup(t *testing.T) (*stats.Collector, *clock) {
	t.Helper()
	c := &clock{now: t0}
	return stats.New(stats.Options{Now: c.Now}), c
}

func attempt(status webhook.Status, d time.Duration) store.AttemptRecordParams {
	return store.AttemptRecordParams{Attempt: webhook.Attempt{DeliveryID: "dlv_1", Duration: d}, Status: status}
}

func TestBucketWidth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		window, want time.Duration
		buckets      int
	}{
		{5 * time.Minute, 10 * time.Second, 30},
		{15 * time.Minute, 20 * time.Second, 45},
		{time.Hour, time.Minute, 60},
		{6 * time.Hour, 6 * time.Minute, 60},
		{24 * time.Hour, 24 * time.Minute, 60},
		{time.Second, 10 * time.Second, 1},
	}
	c, _ := setup(t)
	for _, tt := range tests {
		if got := stats.BucketWidth(tt.window); got != tt.want {
			t.Errorf("BucketWidth(%s) = %s, want %s", tt.window, got, tt.want)
		}
		s := c.Snapshot(tt.window, t0)
		if len(s.Buckets) != tt.buckets || s.Bucket != tt.want {
			t.Errorf("Snapshot(%s): %d buckets of %s, want %d of %s", tt.window, len(s.Buckets), s.Bucket, tt.buckets, tt.want)
		}
	}
}

func TestSnapshotCounts(t *testing.T) {
	t.Parallel()
	c, clk := setup(t)
	// Bucket [t0, t0+10s): 100 attempts, 1ms..100ms; 2 events.
	clk.Set(t0.Add(3 * time.Second))
	for i := 1; i <= 100; i++ {
		st := webhook.StatusSuccess
		switch {
		case i%10 == 0:
			st = webhook.StatusPermanentFailure
		case i%5 == 0:
			st = webhook.StatusFailed
		}
		c.RecordAttempt(attempt(st, time.Duration(i)*time.Millisecond))
	}
	c.Publish(stream.Change{Kind: stream.KindEventCreated})
	c.Publish(stream.Change{Kind: stream.KindEventCreated})
	c.Publish(stream.Change{Kind: stream.KindAttempt}) // not an event
	// Two buckets later: one slow attempt.
	clk.Set(t0.Add(25 * time.Second))
	c.RecordAttempt(attempt(webhook.StatusSuccess, 2*time.Second))

	s := c.Snapshot(5*time.Minute, t0.Add(29*time.Second))
	if len(s.Buckets) != 30 {
		t.Fatalf("%d buckets, want 30", len(s.Buckets))
	}
	last := len(s.Buckets) - 1
	if got := s.Buckets[last].Start; !got.Equal(t0.Add(20 * time.Second)) {
		t.Fatalf("last bucket starts at %s, want %s (the one holding now)", got, t0.Add(20*time.Second))
	}
	b := s.Buckets[last-2]
	if !b.Start.Equal(t0) {
		t.Fatalf("bucket %d starts at %s, want %s", last-2, b.Start, t0)
	}
	if b.Attempts != 100 || b.Successes != 80 || b.Failures != 20 || b.Dead != 10 || b.Events != 2 {
		t.Errorf("bucket at t0 = %+v; want 100 attempts, 80 successes, 20 failures, 10 dead, 2 events", b)
	}
	within := func(name string, got, want time.Duration) {
		t.Helper()
		if lo, hi := want*85/100, want*115/100; got < lo || got > hi {
			t.Errorf("%s = %s, want %s ±15%%", name, got, want)
		}
	}
	within("p50", b.LatencyP50, 50*time.Millisecond)
	within("p99", b.LatencyP99, 99*time.Millisecond)
	if s.Buckets[last-1].Attempts != 0 || s.Buckets[last-1].LatencyP50 != 0 {
		t.Errorf("empty bucket = %+v, want zeros", s.Buckets[last-1])
	}
	within("slow p99", s.Buckets[last].LatencyP99, 2*time.Second)

	// A one-hour window puts all of it in one one-minute bucket.
	h := c.Snapshot(time.Hour, t0.Add(29*time.Second))
	var total int64
	for _, b := range h.Buckets {
		total += b.Attempts
	}
	if total != 101 || h.Buckets[len(h.Buckets)-1].Attempts != 101 {
		t.Errorf("hour window: %d attempts, last bucket %+v; want all 101 in the last bucket", total, h.Buckets[len(h.Buckets)-1])
	}
}

func TestRetention(t *testing.T) {
	t.Parallel()
	c, clk := setup(t)
	c.RecordAttempt(attempt(webhook.StatusSuccess, time.Millisecond))
	// A day later the same ring slot comes round again: the old count must
	// not leak into it.
	later := t0.Add(stats.Retention)
	clk.Set(later)
	c.RecordAttempt(attempt(webhook.StatusFailed, time.Millisecond))
	var total, failures int64
	for _, b := range c.Snapshot(stats.Retention, later).Buckets {
		total += b.Attempts
		failures += b.Failures
	}
	if total != 1 || failures != 1 {
		t.Errorf("after a day: %d attempts (%d failures), want only the new one", total, failures)
	}
	// Longer windows are capped at the retention.
	if s := c.Snapshot(48*time.Hour, later); s.Window != stats.Retention {
		t.Errorf("Window = %s, want %s", s.Window, stats.Retention)
	}
}

func TestDestinationHealth(t *testing.T) {
	t.Parallel()
	c, clk := setup(t)
	if _, ok := c.Destination("ci"); ok {
		t.Fatal("health of a destination never attempted")
	}
	c.Publish(stream.Change{Kind: stream.KindDeliverySucceeded, Destination: "ci", StatusCode: 200})
	clk.Set(t0.Add(time.Minute))
	c.Publish(stream.Change{Kind: stream.KindDeliveryDead, Destination: "ci", StatusCode: 500, Error: "HTTP 500"})
	h, ok := c.Destination("ci")
	want := stats.DestinationHealth{Successes: 1, Failures: 1, LastAttemptAt: t0.Add(time.Minute), LastStatusCode: 500, LastError: "HTTP 500"}
	if !ok || h != want {
		t.Errorf("Destination(ci) = %+v, %v; want %+v", h, ok, want)
	}
}

// TestConcurrent is for the race detector.
func TestConcurrent(t *testing.T) {
	t.Parallel()
	c := stats.New(stats.Options{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range 1000 {
				c.RecordAttempt(attempt(webhook.StatusSuccess, time.Duration(i)*time.Microsecond))
				c.Publish(stream.Change{Kind: stream.KindDeliverySucceeded, Destination: "ci"})
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			c.Snapshot(time.Hour, time.Now())
		}
	})
	wg.Wait()
	var total int64
	for _, b := range c.Snapshot(time.Hour, time.Now()).Buckets {
		total += b.Attempts
	}
	if h, _ := c.Destination("ci"); total != 8000 || h.Successes != 8000 {
		t.Errorf("%d attempts, %d successes; want 8000 each", total, h.Successes)
	}
}

func TestQueueDepthSeries(t *testing.T) {
	t.Parallel()
	c, clk := setup(t)
	sample := func(at time.Duration, ready, scheduled, inFlight int64) {
		clk.Set(t0.Add(at))
		c.RecordQueue(store.QueueStats{Ready: ready, Scheduled: scheduled, InFlight: inFlight, Dead: 99})
	}
	sample(1*time.Second, 1, 2, 3)  // slot t0: total 6
	sample(6*time.Second, 5, 0, 0)  // shallower: the slot keeps 1/2/3
	sample(12*time.Second, 0, 0, 9) // slot t0+10s: total 9
	sample(17*time.Second, 4, 4, 4) // deeper: replaces it whole
	sample(31*time.Second, 0, 0, 0) // slot t0+30s: an empty queue is a sample too

	d := func(ready, scheduled, inFlight int64) *stats.QueueDepth {
		return &stats.QueueDepth{Ready: ready, Scheduled: scheduled, InFlight: inFlight}
	}
	tests := []struct {
		window time.Duration
		// want are the last buckets' samples, oldest first.
		want []*stats.QueueDepth
	}{
		{5 * time.Minute, []*stats.QueueDepth{nil, d(1, 2, 3), d(4, 4, 4), nil, d(0, 0, 0)}},
		// 20 s buckets: [t0-20s, t0) [t0, t0+20s) [t0+20s, t0+40s)
		{15 * time.Minute, []*stats.QueueDepth{nil, d(4, 4, 4), d(0, 0, 0)}},
	}
	now := t0.Add(35 * time.Second)
	for _, tt := range tests {
		s := c.Snapshot(tt.window, now)
		last := s.Buckets[len(s.Buckets)-len(tt.want):]
		for i, b := range last {
			if got, want := b.Queue, tt.want[i]; (got == nil) != (want == nil) || got != nil && *got != *want {
				t.Errorf("window %s, bucket at %s: queue %+v, want %+v", tt.window, b.Start.Format(time.TimeOnly), got, want)
			}
		}
		for _, b := range s.Buckets[:len(s.Buckets)-len(tt.want)] {
			if b.Queue != nil {
				t.Errorf("window %s: bucket at %s before any sample has queue %+v, want none", tt.window, b.Start.Format(time.TimeOnly), *b.Queue)
			}
		}
	}
	if got := d(1, 2, 3).Total(); got != 6 {
		t.Errorf("Total = %d, want 6", got)
	}
}

// queueReader is a fake store whose queue depth grows by one with every
// read, and fails when told to.
type queueReader struct {
	mu    sync.Mutex
	reads int64
	fail  bool
	read  chan struct{}
}

func (r *queueReader) QueueStats(ctx context.Context, now time.Time) (store.QueueStats, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reads++
	select {
	case r.read <- struct{}{}:
	default:
	}
	if r.fail {
		return store.QueueStats{}, errors.New("store unavailable")
	}
	return store.QueueStats{Ready: r.reads}, nil
}

func TestQueueSampler(t *testing.T) {
	t.Parallel()
	c, _ := setup(t)
	r := &queueReader{read: make(chan struct{}, 1)}
	s := stats.NewQueueSampler(c, r, stats.SamplerOptions{Interval: time.Millisecond})
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err == nil {
		t.Error("a second Start succeeded")
	}
	for range 5 {
		select {
		case <-r.read:
		case <-time.After(10 * time.Second):
			t.Fatal("the sampler stopped reading")
		}
	}
	r.mu.Lock()
	r.fail = true // a failing read records nothing and does not stop the sampler
	r.mu.Unlock()
	for range 3 {
		<-r.read
	}
	s.Stop()
	s.Stop() // idempotent
	r.mu.Lock()
	reads := r.reads
	r.mu.Unlock()
	time.Sleep(20 * time.Millisecond)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reads != reads {
		t.Errorf("%d reads after Stop returned", r.reads-reads)
	}
	// The clock stands still: every sample went to one slot, which kept
	// the deepest successful one.
	b := c.Snapshot(5*time.Minute, t0).Buckets
	q := b[len(b)-1].Queue
	if q == nil || q.Ready < 5 || q.Ready >= reads {
		t.Errorf("last bucket's queue = %+v; want the deepest successful sample (5 or more, fewer than %d reads)", q, reads)
	}
}
