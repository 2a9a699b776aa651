package redis_test

import (
	"context"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hookd/hookd/internal/queue"
	"github.com/hookd/hookd/internal/queue/redis"
	"github.com/hookd/hookd/internal/store"
)

// The composition root wires a Redis queue over the store, starts the
// wake-up subscription, and hands the queue to the delivery engine; ingest
// calls Notify after each commit, the recovery sweep calls Rebuild.
func Example() {
	ctx := context.Background()
	var s store.Store // the PostgreSQL store in a scaled deployment
	client := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:6379"})
	defer client.Close()

	q := redis.New(client, s, redis.Config{Prefix: "webhook:"})
	if err := q.Start(ctx); err != nil {
		return
	}
	defer q.Close()

	_ = q.Notify(ctx, []queue.Item{{DeliveryID: "dlv_…", Destination: "billing", DueAt: time.Now()}})
	res, err := q.Claim(ctx, queue.ClaimParams{
		Limit:  10,
		Lease:  time.Minute,
		Quotas: []store.DestinationQuota{{Destination: "billing", Limit: 10}},
	})
	if err != nil {
		return
	}
	_ = res.Jobs // run each, then record its attempt with res.LeaseToken
}
