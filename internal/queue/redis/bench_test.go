package redis_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/queue"
	"github.com/hookd/hookd/internal/queue/redis"
	"github.com/hookd/hookd/internal/store"
)

// BenchmarkNotifyClaim measures Redis's share of the delivery path: notify
// deliveries to four destinations, claim them in claims of up to `claim`
// jobs, and mark them finished. The store is the in-memory fake, so ns/op
// (per delivery) is Redis round trips and scripts, not PostgreSQL. The
// ",max" runs give every quota a Max (as the engine does for each
// destination's max_in_flight), high enough never to hold a claim back:
// they measure the cost of counting attempts in flight across processes.
func BenchmarkNotifyClaim(b *testing.B) {
	for _, bc := range []struct {
		size   int
		capped bool
	}{{1, false}, {64, false}, {1, true}, {64, true}} {
		size := bc.size
		name := fmt.Sprintf("claim=%d", size)
		if bc.capped {
			name += ",max"
		}
		b.Run(name, func(b *testing.B) {
			c := newClient(b)
			st := newFakeStore()
			q := redis.New(c, st, redis.Config{Prefix: newPrefix(b, c)})
			ctx := context.Background()
			dests := []string{"a", "b", "c", "d"}
			var quotas []store.DestinationQuota
			for _, d := range dests {
				qt := store.DestinationQuota{Destination: d, Limit: max(size/len(dests), 1)}
				if bc.capped {
					qt.Max = 1000
				}
				quotas = append(quotas, qt)
			}
			const round = 256
			b.ResetTimer()
			for done := 0; done < b.N; {
				items := make([]queue.Item, 0, round)
				for i := range min(round, b.N-done) {
					items = append(items, st.add(dests[i%len(dests)], time.Now().Add(-time.Second)))
				}
				if err := q.Notify(ctx, items); err != nil {
					b.Fatal(err)
				}
				for got := 0; got < len(items); {
					res, err := q.Claim(ctx, queue.ClaimParams{Limit: size, Lease: time.Minute, Quotas: quotas})
					if err != nil {
						b.Fatal(err)
					}
					if len(res.Jobs) == 0 {
						b.Fatalf("claimed nothing with %d of %d left", len(items)-got, len(items))
					}
					got += len(res.Jobs)
					if f, ok := any(q).(queue.Finisher); ok {
						done := make([]queue.Item, len(res.Jobs))
						for i, j := range res.Jobs {
							done[i] = queue.Item{DeliveryID: j.Delivery.ID, Destination: j.Delivery.Destination}
						}
						if err := f.Finished(ctx, done); err != nil {
							b.Fatal(err)
						}
					}
				}
				done += len(items)
			}
		})
	}
}
