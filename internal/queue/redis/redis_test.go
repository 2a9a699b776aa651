package redis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/queue"
	"github.com/hookd/hookd/internal/queue/queuetest"
	"github.com/hookd/hookd/internal/queue/redis"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/store/sqlite"
	"github.com/hookd/hookd/internal/webhook"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const startRedis = `redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no`

// newClient connects to the test Redis (HOOKD_TEST_REDIS_URL, default
// redis://127.0.0.1:6379/0) and fails the test when it does not answer.
func newClient(t testing.TB) *goredis.Client {
	t.Helper()
	url := os.Getenv("HOOKD_TEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	opts, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatalf("HOOKD_TEST_REDIS_URL: %v", err)
	}
	c := goredis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("Redis at %s does not answer (%v); start it with: %s", url, err, startRedis)
	}
	return c
}

// newPrefix returns a key prefix of its own for this test and deletes its
// keys when the test ends.
func newPrefix(t testing.TB, c *goredis.Client) string {
	t.Helper()
	var b [8]byte
	_, _ = rand.Read(b[:])
	prefix := "hookdtest:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() { deleteKeys(t, c, prefix) })
	return prefix
}

func deleteKeys(t testing.TB, c *goredis.Client, prefix string) {
	t.Helper()
	ctx := context.Background()
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Errorf("scan %s*: %v", prefix, err)
		return
	}
	if len(keys) > 0 {
		if err := c.Del(ctx, keys...).Err(); err != nil {
			t.Errorf("delete %s*: %v", prefix, err)
		}
	}
}

// fakeStore stands in for the store (not for Redis): it leases a known,
// due delivery to one claimer until the lease runs out, and counts how often
// each id was asked for, so tests can tell what Redis handed out.
type fakeStore struct {
	mu      sync.Mutex
	items   map[string]*fakeItem
	offered map[string]int
	fail    error
}

type fakeItem struct {
	dest       string
	due        time.Time
	leaseUntil time.Time
}

func newFakeStore() *fakeStore {
	return &fakeStore{items: map[string]*fakeItem{}, offered: map[string]int{}}
}

func (f *fakeStore) add(dest string, due time.Time) queue.Item {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := ids.New(ids.Delivery)
	f.items[id] = &fakeItem{dest: dest, due: due}
	return queue.Item{DeliveryID: id, Destination: dest, DueAt: due}
}

func (f *fakeStore) DeliveryLeaseByID(ctx context.Context, p store.DeliveryLeaseByIDParams) ([]webhook.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	var jobs []webhook.Job
	for _, id := range p.IDs {
		f.offered[id]++
		it, ok := f.items[id]
		if !ok || it.due.After(p.Now) || it.leaseUntil.After(p.Now) {
			continue
		}
		it.leaseUntil = p.LeaseUntil
		jobs = append(jobs, webhook.Job{Delivery: webhook.Delivery{ID: id, Destination: it.dest}})
	}
	return jobs, nil
}

func (f *fakeStore) DeliveryLeaseByIDBlocked(ctx context.Context, p store.DeliveryLeaseByIDParams) (store.DeliveryLeaseByIDResult, error) {
	jobs, err := f.DeliveryLeaseByID(ctx, p)
	return store.DeliveryLeaseByIDResult{Jobs: jobs}, err
}

type env struct {
	client *goredis.Client
	prefix string
	store  *fakeStore
}

func setup(t *testing.T) env {
	t.Helper()
	c := newClient(t)
	return env{client: c, prefix: newPrefix(t, c), store: newFakeStore()}
}

// queue returns a queue over e's prefix and store; own, when set, gives it a
// Redis client of its own, as another process would have.
func (e env) queue(t *testing.T, own bool, cfg redis.Config) *redis.Queue {
	t.Helper()
	c := e.client
	if own {
		c = newClient(t)
	}
	cfg.Prefix = e.prefix
	q := redis.New(c, e.store, cfg)
	t.Cleanup(func() { q.Close() })
	return q
}

func notify(t *testing.T, q *redis.Queue, items ...queue.Item) {
	t.Helper()
	if err := q.Notify(context.Background(), items); err != nil {
		t.Fatal(err)
	}
}

func claim(t *testing.T, q *redis.Queue, p queue.ClaimParams) queue.ClaimResult {
	t.Helper()
	if p.Limit == 0 {
		p.Limit = 100
	}
	if p.Lease == 0 {
		p.Lease = time.Minute
	}
	res, err := q.Claim(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func quota(dest string, n int) []store.DestinationQuota {
	return []store.DestinationQuota{{Destination: dest, Limit: n}}
}

// claimUntil claims until want jobs arrived or five seconds passed.
func claimUntil(t *testing.T, q *redis.Queue, p queue.ClaimParams, want int) []webhook.Job {
	t.Helper()
	var jobs []webhook.Job
	deadline := time.Now().Add(5 * time.Second)
	for len(jobs) < want && time.Now().Before(deadline) {
		jobs = append(jobs, claim(t, q, p).Jobs...)
		if len(jobs) < want {
			time.Sleep(2 * time.Millisecond)
		}
	}
	if len(jobs) != want {
		t.Fatalf("claimed %d jobs within 5s, want %d", len(jobs), want)
	}
	return jobs
}

func TestConformance(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	queuetest.Run(t, func(t *testing.T) (queue.Queue, store.Store) {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hookd.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		q := redis.New(c, s, redis.Config{Prefix: newPrefix(t, c)})
		t.Cleanup(func() { q.Close() })
		return q, s
	})
}

func TestNotifyThenClaim(t *testing.T) {
	t.Parallel()
	e := setup(t)
	q := e.queue(t, false, redis.Config{})
	it := e.store.add("a", time.Now())
	notify(t, q, it)

	res := claim(t, q, queue.ClaimParams{Quotas: quota("a", 10)})
	if len(res.Jobs) != 1 || res.Jobs[0].Delivery.ID != it.DeliveryID || res.LeaseToken == "" {
		t.Fatalf("claim = %+v", res)
	}
	if again := claim(t, q, queue.ClaimParams{Quotas: quota("a", 10)}); len(again.Jobs) != 0 {
		t.Fatalf("claimed a leased job again: %+v", again.Jobs)
	}
	st, err := q.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// The lease guard waits in the retry set; nothing else is left.
	if st.ReadyTotal != 0 || st.Processing != 0 || st.Scheduled != 1 {
		t.Fatalf("stats = %+v, want only the lease guard", st)
	}
}

func TestQuotasAndOthers(t *testing.T) {
	t.Parallel()
	e := setup(t)
	q := e.queue(t, false, redis.Config{})
	now := time.Now()
	for range 3 {
		notify(t, q, e.store.add("a", now), e.store.add("b", now), e.store.add("c", now))
	}
	count := func(jobs []webhook.Job) map[string]int {
		n := map[string]int{}
		for _, j := range jobs {
			n[j.Delivery.Destination]++
		}
		return n
	}

	res := claim(t, q, queue.ClaimParams{Quotas: []store.DestinationQuota{{Destination: "a", Limit: 1}, {Destination: "b", Limit: 2}}})
	if n := count(res.Jobs); len(n) != 2 || n["a"] != 1 || n["b"] != 2 {
		t.Fatalf("claimed %v, want a:1 b:2", n)
	}
	// Others takes destinations outside the quotas only.
	res = claim(t, q, queue.ClaimParams{Quotas: quota("a", 0), Others: 2})
	if n := count(res.Jobs); n["a"] != 0 || n["b"]+n["c"] != 2 {
		t.Fatalf("claimed %v with Others 2, want 2 of b and c", n)
	}
	// Limit caps the whole claim.
	res = claim(t, q, queue.ClaimParams{Limit: 1, Quotas: []store.DestinationQuota{{Destination: "a", Limit: 5}, {Destination: "c", Limit: 5}}})
	if len(res.Jobs) != 1 {
		t.Fatalf("claimed %d jobs with Limit 1", len(res.Jobs))
	}
	st, err := q.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.ReadyTotal != 9-6 || st.Processing != 0 {
		t.Fatalf("stats = %+v, want 3 ready", st)
	}
}

func TestScheduledBecomesDue(t *testing.T) {
	t.Parallel()
	e := setup(t)
	q := e.queue(t, false, redis.Config{})
	due := time.Now().Add(50 * time.Millisecond)
	it := e.store.add("a", due)
	notify(t, q, it)

	res := claim(t, q, queue.ClaimParams{Quotas: quota("a", 10)})
	if len(res.Jobs) != 0 {
		t.Fatalf("claimed a job before it was due")
	}
	if d := res.NextDueAt.Sub(due); d < -time.Microsecond || d > time.Microsecond {
		t.Fatalf("NextDueAt = %v, want %v", res.NextDueAt, due)
	}
	jobs := claimUntil(t, q, queue.ClaimParams{Quotas: quota("a", 10)}, 1)
	if jobs[0].Delivery.ID != it.DeliveryID {
		t.Fatalf("claimed %s, want %s", jobs[0].Delivery.ID, it.DeliveryID)
	}
	if time.Now().Before(due) {
		t.Fatalf("claimed before the due time")
	}
}

func TestConcurrentClaimersDisjoint(t *testing.T) {
	t.Parallel()
	e := setup(t)
	queues := []*redis.Queue{e.queue(t, true, redis.Config{}), e.queue(t, true, redis.Config{})}
	const perDest = 200
	dests := []string{"a", "b", "c"}
	var items []queue.Item
	for range perDest {
		for _, d := range dests {
			items = append(items, e.store.add(d, time.Now()))
		}
	}
	notify(t, queues[0], items...)

	var mu sync.Mutex
	got := map[string]int{}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for _, q := range queues {
		for range 4 { // several claimers per process
			wg.Go(func() {
				for {
					res, err := q.Claim(context.Background(), queue.ClaimParams{
						Limit: 7, Lease: time.Minute,
						Quotas: []store.DestinationQuota{{Destination: "a", Limit: 3}, {Destination: "b", Limit: 3}, {Destination: "c", Limit: 3}},
					})
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
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(got) != len(items) {
		t.Fatalf("claimed %d distinct deliveries, want %d", len(got), len(items))
	}
	for id, n := range got {
		if n != 1 {
			t.Errorf("%s claimed %d times", id, n)
		}
	}
	// Redis itself handed each id out once: the store never had to refuse.
	e.store.mu.Lock()
	defer e.store.mu.Unlock()
	for id, n := range e.store.offered {
		if n != 1 {
			t.Errorf("%s offered to the store %d times", id, n)
		}
	}
}

func TestReaperReturnsAbandoned(t *testing.T) {
	t.Parallel()
	e := setup(t)
	// The dead claimer pops and never leases: its store call fails.
	deadStore := newFakeStore()
	deadStore.fail = errors.New("claimer died")
	dead := redis.New(newClient(t), deadStore, redis.Config{Prefix: e.prefix, PendingTimeout: 20 * time.Millisecond})
	alive := e.queue(t, true, redis.Config{ReapInterval: -1})

	var items []queue.Item
	for range 5 {
		items = append(items, e.store.add("a", time.Now()))
	}
	notify(t, alive, items...)
	if _, err := dead.Claim(context.Background(), queue.ClaimParams{Limit: 10, Lease: time.Minute, Quotas: quota("a", 10)}); err == nil {
		t.Fatal("dead claimer's Claim succeeded")
	}
	st, err := alive.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Processing != 5 || st.ReadyTotal != 0 {
		t.Fatalf("after the dead claim, stats = %+v, want 5 processing", st)
	}
	jobs := claimUntil(t, alive, queue.ClaimParams{Quotas: quota("a", 10)}, 5)
	want := map[string]bool{}
	for _, it := range items {
		want[it.DeliveryID] = true
	}
	for _, j := range jobs {
		if !want[j.Delivery.ID] {
			t.Errorf("claimed unknown %s", j.Delivery.ID)
		}
		delete(want, j.Delivery.ID)
	}
	if len(want) != 0 {
		t.Fatalf("not returned by the reaper: %v", want)
	}
}

func TestLeaseGuardAfterClaimerDies(t *testing.T) {
	t.Parallel()
	e := setup(t)
	q := e.queue(t, false, redis.Config{})
	it := e.store.add("a", time.Now())
	notify(t, q, it)
	// The first claimer leases and dies: its short store lease runs out.
	first := claim(t, q, queue.ClaimParams{Lease: 30 * time.Millisecond, Quotas: quota("a", 10)})
	if len(first.Jobs) != 1 {
		t.Fatalf("first claim = %+v", first)
	}
	jobs := claimUntil(t, q, queue.ClaimParams{Quotas: quota("a", 10)}, 1)
	if jobs[0].Delivery.ID != it.DeliveryID {
		t.Fatalf("claimed %s, want %s", jobs[0].Delivery.ID, it.DeliveryID)
	}
}

// TestFinishedDropsGuard: a finished delivery's lease guard is dropped, so
// the store is not asked about it again when the lease would have run out.
func TestFinishedDropsGuard(t *testing.T) {
	t.Parallel()
	e := setup(t)
	q := e.queue(t, false, redis.Config{})
	it := e.store.add("a", time.Now())
	notify(t, q, it)
	res := claim(t, q, queue.ClaimParams{Lease: 30 * time.Millisecond, Quotas: quota("a", 10)})
	if len(res.Jobs) != 1 {
		t.Fatalf("claim = %+v", res)
	}
	if err := q.Finished(context.Background(), []queue.Item{it}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(60 * time.Millisecond) // the lease would have run out
	if again := claim(t, q, queue.ClaimParams{Quotas: quota("a", 10)}); len(again.Jobs) != 0 || !again.NextDueAt.IsZero() {
		t.Fatalf("claim after Finished = %+v; want nothing and nothing scheduled", again)
	}
	e.store.mu.Lock()
	defer e.store.mu.Unlock()
	if n := e.store.offered[it.DeliveryID]; n != 1 {
		t.Fatalf("the store was asked %d times for the finished delivery; want 1", n)
	}
}

func TestWakeFromOtherProcess(t *testing.T) {
	t.Parallel()
	e := setup(t)
	listener := e.queue(t, true, redis.Config{})
	sender := e.queue(t, true, redis.Config{})
	if err := listener.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-listener.Wake():
		t.Fatal("woken before any Notify")
	default:
	}
	notify(t, sender, e.store.add("a", time.Now()))
	select {
	case <-listener.Wake():
	case <-time.After(5 * time.Second):
		t.Fatal("Notify in another process did not wake the listener")
	}
	if err := listener.Close(); err != nil {
		t.Fatal(err)
	}
	if err := listener.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
}

func TestRebuildAfterLoss(t *testing.T) {
	t.Parallel()
	e := setup(t)
	q := e.queue(t, false, redis.Config{})
	var items []queue.Item
	for i := range 20 {
		items = append(items, e.store.add(fmt.Sprint("d", i%3), time.Now()))
	}
	items = append(items, e.store.add("d0", time.Now().Add(20*time.Millisecond)))
	notify(t, q, items...)

	deleteKeys(t, e.client, e.prefix) // what a FLUSHALL does to this queue
	p := queue.ClaimParams{Quotas: []store.DestinationQuota{{Destination: "d0", Limit: 100}, {Destination: "d1", Limit: 100}, {Destination: "d2", Limit: 100}}}
	if res := claim(t, q, p); len(res.Jobs) != 0 {
		t.Fatalf("claimed %d jobs from an empty Redis", len(res.Jobs))
	}

	// Rebuild twice, as two sweeps would: the second pushes nothing.
	for range 2 {
		if err := q.Rebuild(context.Background(), items); err != nil {
			t.Fatal(err)
		}
	}
	jobs := claimUntil(t, q, p, len(items))
	seen := map[string]bool{}
	for _, j := range jobs {
		if seen[j.Delivery.ID] {
			t.Fatalf("%s claimed twice", j.Delivery.ID)
		}
		seen[j.Delivery.ID] = true
	}
}

func TestStartTwice(t *testing.T) {
	t.Parallel()
	e := setup(t)
	q := e.queue(t, false, redis.Config{})
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := q.Start(context.Background()); err == nil {
		t.Fatal("second Start succeeded")
	}
}

func TestRefusedIDsAskForAnotherLook(t *testing.T) {
	t.Parallel()
	e := setup(t)
	q := e.queue(t, false, redis.Config{})
	it := e.store.add("a", time.Now())
	notify(t, q, it)
	if res := claim(t, q, queue.ClaimParams{Quotas: quota("a", 1)}); len(res.Jobs) != 1 {
		t.Fatalf("first claim = %+v", res)
	}
	// A sweep that read the store just before that claim tells the queue
	// again: the id is pushed (it is no longer queued) and is now stale.
	notify(t, q, it)
	before := time.Now()
	res := claim(t, q, queue.ClaimParams{Quotas: quota("a", 1)})
	if len(res.Jobs) != 0 {
		t.Fatalf("claimed a duplicate: %+v", res.Jobs)
	}
	if res.NextDueAt.IsZero() || res.NextDueAt.After(time.Now()) || res.NextDueAt.Before(before) {
		t.Fatalf("NextDueAt = %v after a refused id, want now", res.NextDueAt)
	}
	st, err := q.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.ReadyTotal != 0 || st.Processing != 0 {
		t.Fatalf("stats = %+v, want the duplicate gone", st)
	}
}

// ready returns the length of each destination's list.
func ready(t *testing.T, q *redis.Queue) map[string]int64 {
	t.Helper()
	st, err := q.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.Ready
}

// TestRebuildIsIdempotent: the recovery sweep tells the queue about the
// same backlog again and again while it drains; the lists keep one entry
// per delivery, and the store is asked about each delivery once.
func TestRebuildIsIdempotent(t *testing.T) {
	t.Parallel()
	e := setup(t)
	q := e.queue(t, false, redis.Config{})
	const perDest = 1000
	dests := []string{"a", "b"}
	var items []queue.Item
	for i := range perDest * len(dests) {
		items = append(items, e.store.add(dests[i%len(dests)], time.Now()))
	}
	for range 5 {
		if err := q.Rebuild(context.Background(), items); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range dests {
		if n := ready(t, q)[d]; n != perDest {
			t.Fatalf("list %s holds %d ids after 5 rebuilds of %d; want %d", d, n, perDest, perDest)
		}
	}
	// Part of the backlog is claimed, then the sweep comes round again:
	// the claimed ids are leased (guarded in the retry set), the rest is
	// still queued; neither is pushed again.
	p := queue.ClaimParams{Limit: 500, Quotas: []store.DestinationQuota{{Destination: "a", Limit: 250}, {Destination: "b", Limit: 250}}}
	first := claim(t, q, p)
	if len(first.Jobs) != 500 {
		t.Fatalf("claimed %d, want 500", len(first.Jobs))
	}
	leased := map[string]bool{}
	for _, j := range first.Jobs {
		leased[j.Delivery.ID] = true
	}
	var waiting []queue.Item
	for _, it := range items {
		if !leased[it.DeliveryID] {
			waiting = append(waiting, it)
		}
	}
	if err := q.Rebuild(context.Background(), waiting); err != nil {
		t.Fatal(err)
	}
	for _, d := range dests {
		if n := ready(t, q)[d]; n != perDest-250 {
			t.Fatalf("list %s holds %d ids after a claim of 250 and a rebuild; want %d", d, n, perDest-250)
		}
	}
	p.Limit = 2000
	p.Quotas = []store.DestinationQuota{{Destination: "a", Limit: 1000}, {Destination: "b", Limit: 1000}}
	rest := claim(t, q, p)
	if len(rest.Jobs) != len(waiting) {
		t.Fatalf("claimed %d of the %d waiting", len(rest.Jobs), len(waiting))
	}
	e.store.mu.Lock()
	defer e.store.mu.Unlock()
	for id, n := range e.store.offered {
		if n != 1 {
			t.Errorf("%s offered to the store %d times; want once", id, n)
		}
	}
}

// TestReapedComesBackOnce: an id popped by a claimer that died before
// leasing it is neither pushed again by a sweep meanwhile nor doubled by
// the reaper: it comes back once.
func TestReapedComesBackOnce(t *testing.T) {
	t.Parallel()
	e := setup(t)
	deadStore := newFakeStore()
	deadStore.fail = errors.New("claimer died")
	dead := redis.New(newClient(t), deadStore, redis.Config{Prefix: e.prefix, PendingTimeout: 20 * time.Millisecond})
	alive := e.queue(t, true, redis.Config{ReapInterval: -1})

	it := e.store.add("a", time.Now())
	notify(t, alive, it)
	if _, err := dead.Claim(context.Background(), queue.ClaimParams{Limit: 10, Lease: time.Minute, Quotas: quota("a", 10)}); err == nil {
		t.Fatal("dead claimer's Claim succeeded")
	}
	rebuild(t, alive, it) // a sweep while the id waits in the processing set
	if n := ready(t, alive)["a"]; n != 0 {
		t.Fatalf("list holds %d ids while the only one is being claimed", n)
	}
	time.Sleep(30 * time.Millisecond) // past the dead claimer's deadline
	// This claim reaps first, then finds the id at the front of its list.
	res := claim(t, alive, queue.ClaimParams{Quotas: quota("a", 0)})
	if len(res.Jobs) != 0 {
		t.Fatalf("claimed %+v with a quota of 0", res.Jobs)
	}
	rebuild(t, alive, it) // and another sweep after the reaper
	if n := ready(t, alive)["a"]; n != 1 {
		t.Fatalf("list holds %d ids after the reaper and a sweep; want 1", n)
	}
	jobs := claimUntil(t, alive, queue.ClaimParams{Quotas: quota("a", 10)}, 1)
	if jobs[0].Delivery.ID != it.DeliveryID {
		t.Fatalf("claimed %s, want %s", jobs[0].Delivery.ID, it.DeliveryID)
	}
	st, err := alive.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.ReadyTotal != 0 || st.Processing != 0 {
		t.Fatalf("stats = %+v; want nothing left but the lease guard", st)
	}
}

// TestRetryDueJoinsListOnce: a retry (or lease guard) coming due for an id
// still waiting in its list does not push it a second time.
func TestRetryDueJoinsListOnce(t *testing.T) {
	t.Parallel()
	e := setup(t)
	q := e.queue(t, false, redis.Config{})
	it := e.store.add("a", time.Now())
	notify(t, q, it)
	later := it
	later.DueAt = time.Now().Add(10 * time.Millisecond)
	notify(t, q, later) // the retry set holds it too
	time.Sleep(20 * time.Millisecond)
	// The claim promotes the due member, finds the id queued, and pops the
	// one copy; a quota of 0 leaves it in the list to count.
	if res := claim(t, q, queue.ClaimParams{Quotas: quota("a", 0)}); len(res.Jobs) != 0 {
		t.Fatalf("claimed %+v with a quota of 0", res.Jobs)
	}
	st, err := q.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Ready["a"] != 1 || st.Scheduled != 0 {
		t.Fatalf("stats = %+v; want the id in its list once and nothing scheduled", st)
	}
}

func rebuild(t *testing.T, q *redis.Queue, items ...queue.Item) {
	t.Helper()
	if err := q.Rebuild(context.Background(), items); err != nil {
		t.Fatal(err)
	}
}

// TestRebuildRepairsStaleMarks: ids marked queued that no list or claim
// holds any more (a list deleted by hand, an evicted processing set) are
// pushed again by the next sweep instead of waiting forever behind their
// stale marks.
func TestRebuildRepairsStaleMarks(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		// lose deletes a key after the items were notified.
		lose func(t *testing.T, e env)
	}{
		"list deleted": {lose: func(t *testing.T, e env) {
			if err := e.client.Del(context.Background(), e.prefix+"queue:a").Err(); err != nil {
				t.Fatal(err)
			}
		}},
		"processing set deleted": {lose: func(t *testing.T, e env) {
			deadStore := newFakeStore()
			deadStore.fail = errors.New("claimer died")
			dead := redis.New(e.client, deadStore, redis.Config{Prefix: e.prefix})
			if _, err := dead.Claim(context.Background(), queue.ClaimParams{Limit: 1, Lease: time.Minute, Quotas: quota("a", 1)}); err == nil {
				t.Fatal("dead claimer's Claim succeeded")
			}
			if err := e.client.Del(context.Background(), e.prefix+"processing").Err(); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			q := e.queue(t, false, redis.Config{})
			items := []queue.Item{e.store.add("a", time.Now()), e.store.add("a", time.Now()), e.store.add("a", time.Now())}
			notify(t, q, items...)
			tt.lose(t, e)
			rebuild(t, q, items...)
			if n := ready(t, q)["a"]; n != int64(len(items)) {
				t.Fatalf("list holds %d ids after the rebuild; want %d", n, len(items))
			}
			rebuild(t, q, items...) // repaired: the next sweep pushes nothing
			if n := ready(t, q)["a"]; n != int64(len(items)) {
				t.Fatalf("list holds %d ids after a second rebuild; want %d", n, len(items))
			}
			claimUntil(t, q, queue.ClaimParams{Quotas: quota("a", 10)}, len(items))
		})
	}
}

func capped(dest string, limit, maxInFlight int) []store.DestinationQuota {
	return []store.DestinationQuota{{Destination: dest, Limit: limit, Max: maxInFlight}}
}

func items(jobs []webhook.Job) []queue.Item {
	out := make([]queue.Item, len(jobs))
	for i, j := range jobs {
		out[i] = queue.Item{DeliveryID: j.Delivery.ID, Destination: j.Delivery.Destination}
	}
	return out
}

// TestMaxAcrossQueues: two queues on one prefix, as two processes, share a
// destination's Max: what one holds the other cannot take, and finishing,
// scheduling a retry or handing a delivery back frees its slot, while a
// sweep naming the leased deliveries does not.
func TestMaxAcrossQueues(t *testing.T) {
	t.Parallel()
	e := setup(t)
	first, second := e.queue(t, true, redis.Config{}), e.queue(t, true, redis.Config{})
	var all []queue.Item
	for range 10 {
		all = append(all, e.store.add("a", time.Now()))
	}
	notify(t, first, all...)
	p := queue.ClaimParams{Quotas: capped("a", 10, 3)}

	held := claim(t, first, p).Jobs
	if len(held) != 3 {
		t.Fatalf("first process claimed %d with Max 3", len(held))
	}
	before := time.Now()
	res := claim(t, second, p)
	if len(res.Jobs) != 0 {
		t.Fatalf("second process claimed %d while the first holds all 3 slots", len(res.Jobs))
	}
	if res.NextDueAt.IsZero() || res.NextDueAt.Before(before) || res.NextDueAt.After(time.Now().Add(50*time.Millisecond)) {
		t.Fatalf("NextDueAt = %v when held back by Max; want within CapRecheck", res.NextDueAt)
	}
	st, err := second.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.InFlight["a"] != 3 {
		t.Fatalf("stats = %+v; want 3 in flight for a", st)
	}

	// The recovery sweep names the leased deliveries (due when their lease
	// ends): they still count.
	leased := items(held)
	for i := range leased {
		leased[i].DueAt = time.Now().Add(time.Minute)
	}
	rebuild(t, second, leased...)
	if got := claim(t, second, p).Jobs; len(got) != 0 {
		t.Fatalf("claimed %d after a sweep; want the slots still held", len(got))
	}

	steps := []struct {
		name string
		free func(t *testing.T, it queue.Item)
	}{
		{"finished", func(t *testing.T, it queue.Item) {
			if err := first.Finished(context.Background(), []queue.Item{it}); err != nil {
				t.Fatal(err)
			}
		}},
		{"retry scheduled", func(t *testing.T, it queue.Item) {
			it.DueAt = time.Now().Add(time.Hour)
			notify(t, first, it)
		}},
	}
	for i, step := range steps {
		step.free(t, leased[i])
		got := claim(t, second, p).Jobs
		if len(got) != 1 {
			t.Fatalf("after %s, the second process claimed %d; want the 1 freed slot", step.name, len(got))
		}
	}
}

// TestMaxSlotsComeBack: slots held by a claimer that died come back by
// themselves, and ids the store refuses do not keep theirs.
func TestMaxSlotsComeBack(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		// hold takes the 3 slots of "a" in some way that should end
		// without anyone freeing them; after is how long it takes.
		hold  func(t *testing.T, e env)
		after time.Duration
	}{
		"lease runs out": {after: 40 * time.Millisecond, hold: func(t *testing.T, e env) {
			dead := redis.New(e.client, e.store, redis.Config{Prefix: e.prefix})
			res, err := dead.Claim(context.Background(), queue.ClaimParams{Limit: 10, Lease: 30 * time.Millisecond, Quotas: capped("a", 10, 3)})
			if err != nil || len(res.Jobs) != 3 {
				t.Fatalf("dying claim = %d jobs, %v", len(res.Jobs), err)
			}
		}},
		"claimer dies before leasing": {after: 30 * time.Millisecond, hold: func(t *testing.T, e env) {
			deadStore := newFakeStore()
			deadStore.fail = errors.New("claimer died")
			dead := redis.New(e.client, deadStore, redis.Config{Prefix: e.prefix, PendingTimeout: 20 * time.Millisecond})
			if _, err := dead.Claim(context.Background(), queue.ClaimParams{Limit: 10, Lease: time.Minute, Quotas: capped("a", 10, 3)}); err == nil {
				t.Fatal("dead claimer's Claim succeeded")
			}
		}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			q := e.queue(t, true, redis.Config{ReapInterval: -1})
			for range 10 {
				notify(t, q, e.store.add("a", time.Now()))
			}
			tt.hold(t, e)
			p := queue.ClaimParams{Quotas: capped("a", 10, 3)}
			if got := claim(t, q, p).Jobs; len(got) != 0 {
				t.Fatalf("claimed %d while another claimer holds every slot", len(got))
			}
			time.Sleep(tt.after)
			claimUntil(t, q, p, 3)
		})
	}

	t.Run("refused ids", func(t *testing.T) {
		t.Parallel()
		e := setup(t)
		q := e.queue(t, false, redis.Config{})
		// Three ids the store does not know (stale) stand in front.
		for range 3 {
			notify(t, q, queue.Item{DeliveryID: ids.New(ids.Delivery), Destination: "a", DueAt: time.Now()})
		}
		for range 3 {
			notify(t, q, e.store.add("a", time.Now()))
		}
		p := queue.ClaimParams{Quotas: capped("a", 10, 3)}
		if got := claim(t, q, p).Jobs; len(got) != 0 {
			t.Fatalf("claimed %d stale ids", len(got))
		}
		if got := claim(t, q, p).Jobs; len(got) != 3 {
			t.Fatalf("claimed %d after the stale ids were refused; want 3", len(got))
		}
	})
}

// TestMaxCopyOfInFlightKeepsItsSlot: a second copy of a delivery that is in
// flight (the recovery sweep pushes one when it lists a delivery just
// before another process leases it) must not free that delivery's slot
// when the store refuses the copy, or a third claimer would exceed Max.
func TestMaxCopyOfInFlightKeepsItsSlot(t *testing.T) {
	t.Parallel()
	e := setup(t)
	q := e.queue(t, false, redis.Config{ReapInterval: -1})
	it := e.store.add("a", time.Now())
	notify(t, q, it)
	p := queue.ClaimParams{Quotas: capped("a", 10, 2)}
	if got := claim(t, q, p).Jobs; len(got) != 1 {
		t.Fatalf("first claim: %d jobs, want 1", len(got))
	}
	// The sweep's copy, due now, while the first lease runs; then more
	// work behind it.
	if err := q.Rebuild(context.Background(), []queue.Item{it}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		notify(t, q, e.store.add("a", time.Now()))
	}
	taken := 1
	for range 4 {
		taken += len(claim(t, q, p).Jobs)
	}
	if taken != 2 {
		t.Fatalf("%d leased in all with Max 2 and nothing finished; want 2", taken)
	}
	st, err := q.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.InFlight["a"] != 2 {
		t.Fatalf("in flight = %d, want 2", st.InFlight["a"])
	}
}

// TestMaxConcurrentClaimers: claimers in two processes racing for one
// destination never hold more than its Max between them.
func TestMaxConcurrentClaimers(t *testing.T) {
	t.Parallel()
	e := setup(t)
	queues := []*redis.Queue{e.queue(t, true, redis.Config{}), e.queue(t, true, redis.Config{})}
	const total, maxInFlight = 300, 4
	var all []queue.Item
	for range total {
		all = append(all, e.store.add("a", time.Now()))
	}
	notify(t, queues[0], all...)

	var mu sync.Mutex
	holding, most, done := 0, 0, 0
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	deadline := time.Now().Add(20 * time.Second)
	for _, q := range queues {
		for range 4 {
			wg.Go(func() {
				for time.Now().Before(deadline) {
					mu.Lock()
					finished := done == total
					mu.Unlock()
					if finished {
						return
					}
					res, err := q.Claim(context.Background(), queue.ClaimParams{Limit: 3, Lease: time.Minute, Quotas: capped("a", 3, maxInFlight)})
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					holding += len(res.Jobs)
					most = max(most, holding)
					mu.Unlock()
					time.Sleep(time.Millisecond) // the attempts
					mu.Lock()
					holding -= len(res.Jobs)
					done += len(res.Jobs)
					mu.Unlock()
					if err := q.Finished(context.Background(), items(res.Jobs)); err != nil {
						errs <- err
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if done != total {
		t.Fatalf("finished %d of %d", done, total)
	}
	if most > maxInFlight {
		t.Fatalf("claimers held %d at once; Max is %d", most, maxInFlight)
	}
	t.Logf("at most %d held at once (Max %d)", most, maxInFlight)
}
