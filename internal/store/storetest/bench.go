package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// The benchmarks every driver runs, so that their figures can be set side
// by side: each driver's bench_test.go only says how to open a store.

// BenchEvent returns a 300-byte JSON event with one pending delivery to
// "receiver", as the benchmarks insert.
func BenchEvent(now time.Time) store.EventInsertParams {
	ev := webhook.Event{
		ID: ids.New(ids.Event), Source: "bench", Type: "bench.event",
		Body:        []byte(`{"type":"bench.event","n":1,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`),
		ContentType: "application/json", Headers: map[string]string{"Content-Type": "application/json", "User-Agent": "bench"},
		ReceivedAt: now, Status: webhook.StatusPending,
	}
	return store.EventInsertParams{Event: ev, Deliveries: []webhook.Delivery{{
		ID: ids.New(ids.Delivery), EventID: ev.ID, Destination: "receiver",
		Status: webhook.StatusPending, NextAttemptAt: now, CreatedAt: now,
	}}}
}

// BenchmarkEventInsertMany measures durable (fsynced) event inserts per
// batch size; ns/op is per event.
func BenchEventInsertMany(b *testing.B, open func(b *testing.B) store.Store) {
	for _, size := range []int{1, 16, 64, 256} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			s := open(b)
			ctx := context.Background()
			now := time.Now()
			batch := make([]store.EventInsertParams, size)
			b.ResetTimer()
			for i := 0; i < b.N; i += size {
				for j := range batch {
					batch[j] = BenchEvent(now)
				}
				if _, err := s.EventInsertMany(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkClaimAndRecord measures the delivery path's store work: claim a
// batch of due deliveries, then record a successful attempt for each.
// ns/op is per delivery.
func BenchClaimAndRecord(b *testing.B, open func(b *testing.B) store.Store) {
	for _, size := range []int{1, 64} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			s := open(b)
			ctx := context.Background()
			now := time.Now()
			pending := make([]store.EventInsertParams, 0, 256)
			for i := 0; i < b.N; i++ {
				pending = append(pending, BenchEvent(now))
				if len(pending) == cap(pending) || i == b.N-1 {
					if _, err := s.EventInsertMany(ctx, pending); err != nil {
						b.Fatal(err)
					}
					pending = pending[:0]
				}
			}
			b.ResetTimer()
			for done := 0; done < b.N; {
				token := ids.New("lease_")
				res, err := s.DeliveryClaimDue(ctx, store.DeliveryClaimParams{
					Now: now, LeaseUntil: now.Add(time.Minute), LeaseToken: token, Limit: size,
					Quotas: []store.DestinationQuota{{Destination: "receiver", Limit: size}},
				})
				if err != nil {
					b.Fatal(err)
				}
				if len(res.Jobs) == 0 {
					b.Fatalf("nothing to claim after %d of %d", done, b.N)
				}
				params := make([]store.AttemptRecordParams, len(res.Jobs))
				for i, j := range res.Jobs {
					params[i] = store.AttemptRecordParams{
						Attempt: webhook.Attempt{ID: ids.New(ids.Attempt), DeliveryID: j.Delivery.ID, Number: 1, StartedAt: now, StatusCode: 200},
						EventID: j.Event.ID, LeaseToken: token, Status: webhook.StatusSuccess, UpdatedAt: now,
					}
				}
				if _, err := s.DeliveryRecordAttempts(ctx, params); err != nil {
					b.Fatal(err)
				}
				done += len(res.Jobs)
			}
		})
	}
}
