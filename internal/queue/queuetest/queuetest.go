// Package queuetest is the conformance suite every queue implementation
// must pass, run against a real store.
package queuetest

import (
	"context"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/queue"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// Opener returns a fresh queue over a fresh store.
type Opener func(t *testing.T) (queue.Queue, store.Store)

// Run runs the suite.
func Run(t *testing.T, open Opener) {
	tests := map[string]func(t *testing.T, q queue.Queue, s store.Store){
		"NotifyWakes":           testNotifyWakes,
		"ClaimLeasesCommitted":  testClaimLeases,
		"ClaimRespectsQuotas":   testClaimQuotas,
		"ScheduledNotClaimable": testScheduled,
	}
	for name, fn := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			q, s := open(t)
			fn(t, q, s)
		})
	}
}

func enqueue(t *testing.T, q queue.Queue, s store.Store, dest string, due time.Time) webhook.Delivery {
	t.Helper()
	now := time.Now()
	ev := webhook.Event{ID: ids.New(ids.Event), Source: "s", Body: []byte("x"), ReceivedAt: now, Status: webhook.StatusPending}
	d := webhook.Delivery{ID: ids.New(ids.Delivery), EventID: ev.ID, Destination: dest, Status: webhook.StatusPending, NextAttemptAt: due, CreatedAt: now}
	if _, err := s.EventInsertMany(context.Background(), []store.EventInsertParams{{Event: ev, Deliveries: []webhook.Delivery{d}}}); err != nil {
		t.Fatal(err)
	}
	if err := q.Notify(context.Background(), []queue.Item{{DeliveryID: d.ID, Destination: dest, DueAt: due}}); err != nil {
		t.Fatal(err)
	}
	return d
}

func claim(t *testing.T, q queue.Queue, quotas ...store.DestinationQuota) queue.ClaimResult {
	t.Helper()
	res, err := q.Claim(context.Background(), queue.ClaimParams{Limit: 100, Lease: time.Minute, Quotas: quotas})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func testNotifyWakes(t *testing.T, q queue.Queue, s store.Store) {
	enqueue(t, q, s, "a", time.Now())
	enqueue(t, q, s, "a", time.Now()) // coalesces: Notify never blocks
	select {
	case <-q.Wake():
	case <-time.After(5 * time.Second):
		t.Fatal("Notify did not wake the claimer")
	}
}

func testClaimLeases(t *testing.T, q queue.Queue, s store.Store) {
	d := enqueue(t, q, s, "a", time.Now())
	res := claim(t, q, store.DestinationQuota{Destination: "a", Limit: 10})
	if len(res.Jobs) != 1 || res.Jobs[0].Delivery.ID != d.ID || res.LeaseToken == "" {
		t.Fatalf("claim = %+v", res)
	}
	if again := claim(t, q, store.DestinationQuota{Destination: "a", Limit: 10}); len(again.Jobs) != 0 {
		t.Fatalf("leased job claimed twice")
	}
}

func testClaimQuotas(t *testing.T, q queue.Queue, s store.Store) {
	for range 3 {
		enqueue(t, q, s, "a", time.Now())
		enqueue(t, q, s, "b", time.Now())
	}
	res := claim(t, q, store.DestinationQuota{Destination: "a", Limit: 1}, store.DestinationQuota{Destination: "b", Limit: 2})
	n := map[string]int{}
	for _, j := range res.Jobs {
		n[j.Delivery.Destination]++
	}
	if n["a"] != 1 || n["b"] != 2 {
		t.Fatalf("claimed %v, want a:1 b:2", n)
	}
}

func testScheduled(t *testing.T, q queue.Queue, s store.Store) {
	due := time.Now().Add(time.Hour)
	enqueue(t, q, s, "a", due)
	res := claim(t, q, store.DestinationQuota{Destination: "a", Limit: 10})
	if len(res.Jobs) != 0 {
		t.Fatalf("claimed a job scheduled an hour ahead")
	}
	if d := res.NextDueAt.Sub(due); d < -time.Millisecond || d > time.Millisecond {
		t.Fatalf("NextDueAt = %v, want %v", res.NextDueAt, due)
	}
}
