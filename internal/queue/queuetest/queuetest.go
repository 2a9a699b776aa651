// Package queuetest is the conformance suite every queue implementation
// must pass, run against a real store.
package queuetest

import (
	"context"
	"sync"
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
		// Added with the Redis queue.
		"ScheduledBecomesClaimable": testScheduledBecomesClaimable,
		"ClaimOthers":               testClaimOthers,
		"ConcurrentClaimsDisjoint":  testConcurrentClaims,
		// Added with ordered delivery.
		"OrderedSuccessorFollows": testOrderedSuccessorFollows,
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

func testScheduledBecomesClaimable(t *testing.T, q queue.Queue, s store.Store) {
	due := time.Now().Add(50 * time.Millisecond)
	d := enqueue(t, q, s, "a", due)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		res := claim(t, q, store.DestinationQuota{Destination: "a", Limit: 10})
		if len(res.Jobs) == 0 {
			time.Sleep(2 * time.Millisecond)
			continue
		}
		if len(res.Jobs) != 1 || res.Jobs[0].Delivery.ID != d.ID {
			t.Fatalf("claim = %+v", res)
		}
		if time.Now().Before(due) {
			t.Fatal("claimed before the due time")
		}
		return
	}
	t.Fatal("scheduled delivery not claimable within 5s of its due time")
}

func testClaimOthers(t *testing.T, q queue.Queue, s store.Store) {
	for range 2 {
		enqueue(t, q, s, "a", time.Now())
		enqueue(t, q, s, "gone", time.Now())
	}
	res, err := q.Claim(context.Background(), queue.ClaimParams{
		Limit: 100, Lease: time.Minute,
		Quotas: []store.DestinationQuota{{Destination: "a", Limit: 0}},
		Others: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Jobs) != 1 || res.Jobs[0].Delivery.Destination != "gone" {
		t.Fatalf("claim with Others 1 = %+v, want one job of gone", res.Jobs)
	}
}

func testConcurrentClaims(t *testing.T, q queue.Queue, s store.Store) {
	const n = 60
	for i := range n {
		enqueue(t, q, s, []string{"a", "b", "c"}[i%3], time.Now())
	}
	quotas := []store.DestinationQuota{{Destination: "a", Limit: 2}, {Destination: "b", Limit: 2}, {Destination: "c", Limit: 2}}
	var mu sync.Mutex
	got := map[string]int{}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			for {
				res, err := q.Claim(context.Background(), queue.ClaimParams{Limit: 5, Lease: time.Minute, Quotas: quotas})
				if err != nil {
					errs <- err
					return
				}
				if len(res.Jobs) == 0 {
					return
				}
				mu.Lock()
				for _, j := range res.Jobs {
					got[j.Delivery.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("claimed %d distinct deliveries, want %d", len(got), n)
	}
	for id, c := range got {
		if c != 1 {
			t.Errorf("%s claimed %d times", id, c)
		}
	}
}
