// Package stats keeps the recent history of this process's traffic in
// memory for the dashboard's charts: events received, delivery attempts and
// their outcomes, attempt latency and the queue's depth, in 10-second slots
// for the last 24 hours, plus per-destination health counters since start.
//
// It is fed by two hooks that already exist on the hot path: the delivery
// engine's AfterRecord (RecordAttempt, which carries the attempt's
// duration) and the live stream's publisher (Publish, for new events and
// delivery outcomes). Both take one mutex for a few additions and allocate
// only the first time a slot or a destination is seen, so they cost the hot
// path next to nothing; the longest they can wait is one Snapshot, which
// sums at most 8,640 slots.
//
// The queue's depth is not an event anyone publishes: a QueueSampler reads
// it from the store (QueueStats) every few seconds and records it with
// RecordQueue. It is the store's count, the same in every process sharing
// the store; what the series adds is its history.
//
// Nothing here is durable or shared: every process counts what it did
// itself, from its start. The store stays the source of truth for totals.
package stats

import (
	"math"
	"sync"
	"time"

	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/stream"
	"github.com/hookd/hookd/internal/webhook"
)

// Resolution is the width of the slots the collector counts in; every
// bucket a Snapshot returns is a whole number of slots.
const Resolution = 10 * time.Second

// Retention is how much history is kept; older slots are reused.
const Retention = 24 * time.Hour

// slots is the number of slots in the ring.
const slots = int(Retention / Resolution)

// MaxBuckets bounds the buckets of a Snapshot: the bucket width grows with
// the window so that a chart never gets more points than this.
const MaxBuckets = 60

// Latency histogram: bucket i > 0 holds durations in
// [histMin·2^((i-1)/3), histMin·2^(i/3)), bucket 0 those below histMin, and
// the last one everything from about 11 minutes up (beyond any attempt
// timeout). Steps of 2^(1/3) (26%) keep a reported percentile, the
// geometric middle of its bucket, within about 13% of the truth, in 72
// counters per slot.
const (
	histMin     = 50 * time.Microsecond
	histPerOct  = 3
	histBuckets = 72
)

// Options configure a Collector.
type Options struct {
	// Now reads the clock. Default time.Now.
	Now func() time.Time
}

// Collector counts recent traffic. Its methods are safe for concurrent use.
// The zero value is not usable; call New.
type Collector struct {
	now   func() time.Time
	start time.Time

	mu    sync.Mutex
	ring  [slots]*slot
	dests map[string]*DestinationHealth
}

// slot holds the counts of one Resolution-wide interval.
type slot struct {
	index                       int64 // unix time / Resolution
	events, attempts, successes int64
	failures, dead              int64
	hist                        [histBuckets]uint32
	// queue is the deepest queue sample taken in the slot, when sampled.
	queue   QueueDepth
	sampled bool
}

func (s *slot) reset(index int64) {
	*s = slot{index: index}
}

// New returns a Collector that starts counting now.
func New(opts Options) *Collector {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Collector{now: opts.Now, start: opts.Now(), dests: map[string]*DestinationHealth{}}
}

// Since is when the collector started counting (the process start).
func (c *Collector) Since() time.Time { return c.start }

// slotAt returns the slot for t, cleared if it held an older interval.
// c.mu must be held.
func (c *Collector) slotAt(t time.Time) *slot {
	index := t.UnixNano() / int64(Resolution)
	i := int(index % int64(slots))
	if i < 0 {
		i += slots
	}
	s := c.ring[i]
	if s == nil {
		s = &slot{index: index}
		c.ring[i] = s
	} else if s.index != index {
		s.reset(index)
	}
	return s
}

// Publish counts a live change: it implements the Publisher of ingest and
// delivery. New events are counted in the series; a delivery's outcome
// (success, failure, dead) updates its destination's health. The attempts
// in the series are counted by RecordAttempt instead, which also knows how
// long they took. It never blocks.
func (c *Collector) Publish(ch stream.Change) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	switch ch.Kind {
	case stream.KindEventCreated:
		c.slotAt(now).events++
	case stream.KindDeliverySucceeded, stream.KindDeliveryFailed, stream.KindDeliveryDead:
		if ch.Destination == "" {
			return
		}
		h := c.dests[ch.Destination]
		if h == nil {
			h = &DestinationHealth{}
			c.dests[ch.Destination] = h
		}
		if ch.Kind == stream.KindDeliverySucceeded {
			h.Successes++
		} else {
			h.Failures++
		}
		h.LastAttemptAt = now.UTC()
		h.LastStatusCode = ch.StatusCode
		h.LastError = ch.Error
	}
}

// RecordAttempt counts one recorded attempt, its outcome and its duration.
// Its signature is the delivery engine's AfterRecord hook.
func (c *Collector) RecordAttempt(p store.AttemptRecordParams) {
	now := c.now()
	b := histBucket(p.Attempt.Duration)
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.slotAt(now)
	s.attempts++
	s.hist[b]++
	switch p.Status {
	case webhook.StatusSuccess:
		s.successes++
	case webhook.StatusPermanentFailure:
		s.failures++
		s.dead++
	default:
		s.failures++
	}
}

// QueueDepth is one sample of the queue, as the store counts it for
// GET /debug/status (store.QueueStats, without the dead).
type QueueDepth struct {
	// Ready counts deliveries due now and not leased.
	Ready int64
	// Scheduled counts deliveries waiting for a later try.
	Scheduled int64
	// InFlight counts leased deliveries.
	InFlight int64
}

// Total is every delivery waiting or in flight.
func (q QueueDepth) Total() int64 { return q.Ready + q.Scheduled + q.InFlight }

// RecordQueue records a sample of the queue's depth taken now. Of several
// samples in one interval the deepest (by Total) is kept whole, so that a
// chart shows the peak, with numbers that were true together.
func (c *Collector) RecordQueue(q store.QueueStats) {
	d := QueueDepth{Ready: q.Ready, Scheduled: q.Scheduled, InFlight: q.InFlight}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.slotAt(now)
	if !s.sampled || d.Total() > s.queue.Total() {
		s.queue, s.sampled = d, true
	}
}

// histBucket returns the histogram bucket of d.
func histBucket(d time.Duration) int {
	if d < histMin {
		return 0
	}
	b := 1 + int(math.Floor(math.Log2(float64(d)/float64(histMin))*histPerOct))
	return min(b, histBuckets-1)
}

// histValue is the duration a bucket stands for: the geometric middle of
// its bounds (histMin/2 for bucket 0).
func histValue(b int) time.Duration {
	if b == 0 {
		return histMin / 2
	}
	lo := float64(histMin) * math.Exp2(float64(b-1)/histPerOct)
	return time.Duration(lo * math.Exp2(0.5/histPerOct))
}

// DestinationHealth counts the attempts this process made to one
// destination since it started, as the live stream reported them.
type DestinationHealth struct {
	Successes      int64
	Failures       int64
	LastAttemptAt  time.Time
	LastStatusCode int
	LastError      string
}

// Destination returns a destination's health, and false when this process
// has made no attempt to it.
func (c *Collector) Destination(name string) (DestinationHealth, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.dests[name]
	if !ok {
		return DestinationHealth{}, false
	}
	return *h, true
}

// Series is the history over one window, oldest bucket first.
type Series struct {
	Window time.Duration
	// Bucket is the width of each bucket: a multiple of Resolution chosen
	// so that there are at most MaxBuckets.
	Bucket  time.Duration
	Since   time.Time
	Buckets []Bucket
}

// Bucket counts one interval of a Series.
type Bucket struct {
	Start time.Time
	// Events counts events received.
	Events int64
	// Attempts counts delivery attempts that finished; Successes got a 2xx,
	// Failures did not (Dead of them exhausted their retries).
	Attempts, Successes, Failures, Dead int64
	// LatencyP50 and LatencyP99 are attempt durations; zero when Attempts
	// is zero.
	LatencyP50, LatencyP99 time.Duration
	// Queue is the deepest queue sample taken in the interval (see
	// RecordQueue); nil when none was (before the process started, or
	// while the store could not be read).
	Queue *QueueDepth
}

// BucketWidth returns the bucket width Snapshot uses for window.
func BucketWidth(window time.Duration) time.Duration {
	per := (window + MaxBuckets - 1) / MaxBuckets
	n := (per + Resolution - 1) / Resolution
	return max(n, 1) * Resolution
}

// Snapshot returns the last window (at most Retention) up to now, in
// buckets aligned to multiples of the bucket width since the Unix epoch;
// the last bucket holds now and is still filling. Intervals with no
// traffic are present with zero counts, so a chart's x axis is regular.
func (c *Collector) Snapshot(window time.Duration, now time.Time) Series {
	window = min(max(window, Resolution), Retention)
	width := BucketWidth(window)
	n := int((window + width - 1) / width)
	end := now.Truncate(width).Add(width)
	first := end.Add(-time.Duration(n) * width)
	out := Series{Window: window, Bucket: width, Since: c.start, Buckets: make([]Bucket, n)}
	hists := make([][histBuckets]uint32, n)
	queues := make([]QueueDepth, n)
	sampled := make([]bool, n)
	for i := range out.Buckets {
		out.Buckets[i].Start = first.Add(time.Duration(i) * width).UTC()
	}
	lo, hi := first.UnixNano()/int64(Resolution), end.UnixNano()/int64(Resolution)
	perBucket := int64(width / Resolution)
	c.mu.Lock()
	for _, s := range c.ring {
		if s == nil || s.index < lo || s.index >= hi {
			continue
		}
		i := (s.index - lo) / perBucket
		b := &out.Buckets[i]
		b.Events += s.events
		b.Attempts += s.attempts
		b.Successes += s.successes
		b.Failures += s.failures
		b.Dead += s.dead
		for k, v := range s.hist {
			hists[i][k] += v
		}
		if s.sampled && (!sampled[i] || s.queue.Total() > queues[i].Total()) {
			queues[i], sampled[i] = s.queue, true
		}
	}
	c.mu.Unlock()
	for i := range out.Buckets {
		if sampled[i] {
			out.Buckets[i].Queue = &queues[i]
		}
		out.Buckets[i].LatencyP50 = percentile(&hists[i], 0.50)
		out.Buckets[i].LatencyP99 = percentile(&hists[i], 0.99)
	}
	return out
}

// percentile returns the q-quantile of a histogram, zero when it is empty.
func percentile(h *[histBuckets]uint32, q float64) time.Duration {
	var total uint64
	for _, v := range h {
		total += uint64(v)
	}
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for b, v := range h {
		seen += uint64(v)
		if seen >= rank {
			return histValue(b)
		}
	}
	return histValue(histBuckets - 1)
}
