package delivery_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hookd/hookd/internal/delivery"
	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/pgtest"
	"github.com/hookd/hookd/internal/queue"
	redisqueue "github.com/hookd/hookd/internal/queue/redis"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/store/postgres"
	"github.com/hookd/hookd/internal/webhook"
)

// clock is a settable time for the queue, so a lease can run out without
// waiting for it.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// sweepSetup is a PostgreSQL store in a schema of its own, a Redis queue
// under a prefix of its own over it, and one committed delivery to "d",
// announced to the queue.
func sweepSetup(t *testing.T) (*redisqueue.Queue, *postgres.Store, *goredis.Client, *clock, string, string) {
	t.Helper()
	ctx := context.Background()
	dbURL, _ := pgtest.Schema(t, "hookd_sweep_test")
	st, err := postgres.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	url := os.Getenv("HOOKD_TEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	opts, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	client := goredis.NewClient(opts)
	t.Cleanup(func() { client.Close() })
	var b [8]byte
	_, _ = rand.Read(b[:])
	prefix := "hookdtest:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() { deleteKeys(t, client, prefix) })

	clk := &clock{t: time.Now()}
	q := redisqueue.New(client, st, redisqueue.Config{Prefix: prefix, Now: clk.now})
	now := clk.now()
	ev := webhook.Event{ID: ids.New(ids.Event), Source: "s", Body: []byte("{}"), ReceivedAt: now, Status: webhook.StatusPending}
	d := webhook.Delivery{ID: ids.New(ids.Delivery), EventID: ev.ID, Destination: "d", Status: webhook.StatusPending, NextAttemptAt: now, CreatedAt: now}
	if _, err := st.EventInsertMany(ctx, []store.EventInsertParams{{Event: ev, Deliveries: []webhook.Delivery{d}}}); err != nil {
		t.Fatal(err)
	}
	if err := q.Notify(ctx, []queue.Item{{DeliveryID: d.ID, Destination: "d", DueAt: now}}); err != nil {
		t.Fatal(err)
	}
	return q, st, client, clk, prefix, d.ID
}

func deleteKeys(t *testing.T, c *goredis.Client, prefix string) {
	t.Helper()
	ctx := context.Background()
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		if err := c.Del(ctx, iter.Val()).Err(); err != nil {
			t.Errorf("delete %s: %v", iter.Val(), err)
		}
	}
	if err := iter.Err(); err != nil {
		t.Errorf("scan %s*: %v", prefix, err)
	}
}

func claimD(t *testing.T, q *redisqueue.Queue) []webhook.Job {
	t.Helper()
	res, err := q.Claim(context.Background(), queue.ClaimParams{Limit: 10, Lease: time.Minute,
		Quotas: []store.DestinationQuota{{Destination: "d", Limit: 10}}})
	if err != nil {
		t.Fatal(err)
	}
	return res.Jobs
}

// TestSweepRestoresLeasedAfterLoss: a worker leases a delivery, Redis loses
// everything (the lease guard with it), and the worker dies without
// recording. The sweep must put the delivery back, due when its lease runs
// out, or it would never be tried again.
func TestSweepRestoresLeasedAfterLoss(t *testing.T) {
	t.Parallel()
	q, st, client, clk, prefix, id := sweepSetup(t)
	if jobs := claimD(t, q); len(jobs) != 1 || jobs[0].Delivery.ID != id {
		t.Fatalf("first claim = %+v", jobs)
	}
	deleteKeys(t, client, prefix) // Redis loses its data; the holder dies

	n, err := delivery.NewSweeper(st, q, delivery.SweeperOptions{}).SweepOnce(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("SweepOnce = %d, %v; want the leased delivery", n, err)
	}
	if jobs := claimD(t, q); len(jobs) != 0 {
		t.Fatalf("claimed %+v while its lease still holds", jobs)
	}
	clk.advance(time.Minute + time.Second)
	if jobs := claimD(t, q); len(jobs) != 1 || jobs[0].Delivery.ID != id {
		t.Fatalf("claim after the lease ran out = %+v; want the delivery back", jobs)
	}
}

// TestSweeperRebuildsAtOnceAfterLoss: with the full sweep far away, a queue
// that lost its data is rebuilt within a loss check.
func TestSweeperRebuildsAtOnceAfterLoss(t *testing.T) {
	t.Parallel()
	q, st, client, _, prefix, id := sweepSetup(t)
	sw := delivery.NewSweeper(st, q, delivery.SweeperOptions{Interval: time.Hour, CheckInterval: 20 * time.Millisecond})
	if err := sw.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer sw.Stop()
	time.Sleep(100 * time.Millisecond) // the start sweep is done
	deleteKeys(t, client, prefix)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if jobs := claimD(t, q); len(jobs) == 1 && jobs[0].Delivery.ID == id {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the queue was not rebuilt within 5 s of losing its data")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
