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

// BenchClaimAndRecordOrdered is BenchClaimAndRecord (claims of up to 64,
// each job recorded as a success) on one destination whose deliveries are
// unordered, ordered over 64 keys (events spread round-robin), or ordered
// as one sequence (keys=1: each claim can take one delivery, the head).
// ns/op is per delivery: the store's cost of ordering.
func BenchClaimAndRecordOrdered(b *testing.B, open func(b *testing.B) store.Store) {
	const size = 64
	for _, keys := range []int{0, 64, 1} {
		name := fmt.Sprintf("keys=%d", keys)
		if keys == 0 {
			name = "unordered"
		}
		b.Run(name, func(b *testing.B) {
			s := open(b)
			ctx := context.Background()
			now := time.Now()
			pending := make([]store.EventInsertParams, 0, 256)
			for i := 0; i < b.N; i++ {
				p := BenchEvent(now)
				if keys > 0 {
					p.Deliveries[0].Ordered, p.Deliveries[0].OrderingKey = true, fmt.Sprintf("k%d", i%keys)
				}
				pending = append(pending, p)
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
					if !res.NextDueAt.IsZero() && !res.NextDueAt.After(now) {
						continue // parked rows made room: claim again
					}
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
