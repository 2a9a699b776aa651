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

// testOrderedSuccessorFollows: a queue hands out only the first delivery
// of each ordering key; once that one is recorded as finished (and the
// queue told, as the engine does), the next one of its key is claimable
// at once, not when its parking in the store ends (a minute here).
func testOrderedSuccessorFollows(t *testing.T, q queue.Queue, s store.Store) {
	ctx := context.Background()
	now := time.Now()
	var params []store.EventInsertParams
	var items []queue.Item
	for _, key := range []string{"A", "A", "B"} {
		ev := webhook.Event{ID: ids.New(ids.Event), Source: "s", Body: []byte("x"), ReceivedAt: now, Status: webhook.StatusPending}
		d := webhook.Delivery{ID: ids.New(ids.Delivery), EventID: ev.ID, Destination: "o", Status: webhook.StatusPending,
			NextAttemptAt: now, CreatedAt: now, Ordered: true, OrderingKey: key}
		params = append(params, store.EventInsertParams{Event: ev, Deliveries: []webhook.Delivery{d}})
		items = append(items, queue.Item{DeliveryID: d.ID, Destination: "o", DueAt: now})
	}
	if _, err := s.EventInsertMany(ctx, params); err != nil {
		t.Fatal(err)
	}
	if err := q.Notify(ctx, items); err != nil {
		t.Fatal(err)
	}
	quota := store.DestinationQuota{Destination: "o", Limit: 10}
	first := claim(t, q, quota)
	got := map[string]webhook.Job{}
	for _, j := range first.Jobs {
		got[j.Delivery.ID] = j
	}
	a1, a2, b1 := items[0].DeliveryID, items[1].DeliveryID, items[2].DeliveryID
	if len(got) != 2 || got[a1].Delivery.ID == "" || got[b1].Delivery.ID == "" {
		t.Fatalf("first claim = %v; want %s and %s", first.Jobs, a1, b1)
	}
	if again := claim(t, q, quota); len(again.Jobs) != 0 {
		t.Fatalf("claimed %v while key A's first delivery is leased", again.Jobs)
	}
	finished := time.Now() // the claimer's clock: a later time would make the store refuse it as not yet due
	_, err := s.DeliveryRecordAttempts(ctx, []store.AttemptRecordParams{{
		Attempt: webhook.Attempt{ID: ids.New(ids.Attempt), DeliveryID: a1, Number: 1, StartedAt: now, StatusCode: 200},
		EventID: got[a1].Event.ID, LeaseToken: first.LeaseToken, Status: webhook.StatusSuccess, UpdatedAt: finished,
	}})
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := q.(queue.Finisher); ok {
		if err := f.Finished(ctx, []queue.Item{{DeliveryID: a1, Destination: "o", Ordered: true}}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		res := claim(t, q, quota)
		if len(res.Jobs) == 1 && res.Jobs[0].Delivery.ID == a2 {
			return
		}
		if len(res.Jobs) > 0 {
			t.Fatalf("claimed %v; want only %s", res.Jobs, a2)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("key A's second delivery was not claimable after the first finished")
}
