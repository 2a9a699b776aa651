package stats_test

import (
	"fmt"
	"time"

	"github.com/hookd/hookd/internal/stats"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

func ExampleCollector() {
	now := time.Date(2026, 3, 1, 12, 0, 5, 0, time.UTC)
	c := stats.New(stats.Options{Now: func() time.Time { return now }})
	// Wired as the delivery engine's AfterRecord hook:
	c.RecordAttempt(store.AttemptRecordParams{Attempt: webhook.Attempt{Duration: 40 * time.Millisecond}, Status: webhook.StatusSuccess})
	c.RecordAttempt(store.AttemptRecordParams{Attempt: webhook.Attempt{Duration: 90 * time.Millisecond}, Status: webhook.StatusFailed})

	s := c.Snapshot(5*time.Minute, now)
	last := s.Buckets[len(s.Buckets)-1]
	fmt.Println(len(s.Buckets), s.Bucket, last.Start.Format(time.TimeOnly), last.Attempts, last.Successes, last.Failures)
	// Output: 30 10s 12:00:00 2 1 1
}

func ExampleCollector_RecordQueue() {
	now := time.Date(2026, 3, 1, 12, 0, 5, 0, time.UTC)
	c := stats.New(stats.Options{Now: func() time.Time { return now }})
	// A QueueSampler records what the store's QueueStats counts, every 5 s:
	c.RecordQueue(store.QueueStats{Ready: 40, Scheduled: 12, InFlight: 16})
	c.RecordQueue(store.QueueStats{Ready: 3, Scheduled: 12, InFlight: 16}) // shallower: the peak stays

	s := c.Snapshot(5*time.Minute, now)
	q := s.Buckets[len(s.Buckets)-1].Queue
	fmt.Println(q.Ready, q.Scheduled, q.InFlight, q.Total(), s.Buckets[0].Queue == nil)
	// Output: 40 12 16 68 true
}
