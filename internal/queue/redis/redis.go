// Package redis is the queue for many hookd processes on many machines: Redis
// orders work and wakes claimers everywhere, while the store stays the
// source of truth and the only thing that leases a delivery.
//
// # Keys
//
// Every key starts with a configurable prefix (default "webhook:"):
//
//   - <prefix>queue:<destination> — a list of ready delivery ids per
//     destination. One list per destination, not one list for all, because
//     the dispatcher claims per destination quota: a slow destination's
//     backlog then never stands in front of another destination's work.
//   - <prefix>retry — a sorted set of "<destination>|<deliveryID>" scored by
//     due time (Unix microseconds): scheduled retries, and lease guards (see
//     below).
//   - <prefix>processing — a sorted set of "<destination>|<deliveryID>"
//     scored by a deadline: ids popped from a list whose store lease has not
//     been taken yet.
//   - <prefix>destinations — a set of destination names that ever had a
//     list, so that Claim can serve ClaimParams.Others and Stats can count.
//   - <prefix>new — the Pub/Sub channel that wakes claimers in every process.
//   - <prefix>intact — a marker that Lost sets and watches: when it is
//     gone, Redis lost its data (FLUSHALL, a restart without persistence)
//     and the queue must be rebuilt from the store at once.
//
// # Claiming, and why it is crash-safe
//
// Claim first moves due members of the retry set to their lists, then pops
// each quota's ids from its list into the processing set, then asks the
// store to lease them (Leaser), then replaces each id's processing member by
// a lease guard: a retry-set member due when the store lease runs out. Each
// of these Redis steps is one Lua script, so concurrent claimers in many
// processes never move the same member twice.
//
//   - A claimer that dies after popping and before leasing leaves its ids
//     in the processing set; the reaper (run at the start of Claim, at most
//     once per ReapInterval per process) pushes members whose deadline has
//     passed back to their lists.
//   - A claimer that dies after leasing holds store leases that run out;
//     the lease guard then comes due and the delivery is claimed again. A
//     finished delivery's guard costs one refused lease; a failed one's
//     Notify replaces the guard's score with the retry time (same member).
//
// Redis may hold an id twice (a reaped id whose first claimer was only
// slow, a lease guard, Rebuild after a partial loss): that is harmless,
// because the store leases a delivery only when it is due and not leased,
// and Claim drops every id the store refuses. Redis never decides that a
// delivery is done; it can only make the store be asked again.
//
// # Consistency with the store
//
// Writers commit to the store first and Notify after, so Redis never names
// work the store does not have. If the process dies between commit and
// Notify, or Redis loses its data (a restart without persistence, a
// FLUSHALL), the delivery is still pending in the store and the recovery
// sweep finds it and calls Rebuild. So at worst work is late, never lost,
// and duplicated only as far as in-flight work already is (a lease that ran
// out while its attempt was still being made). A claimer whose clock runs
// behind the notifier's may find an id not yet due in the store and drop it;
// the sweep covers that too, so keep hosts' clocks synchronised.
//
// The scripts compute key names from members, so the keys must live on one
// Redis server (a primary with replicas or Sentinel is fine; Cluster is not).
package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hookd/hookd/internal/queue"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// Leaser is the part of the store this queue needs; every store.Store
// satisfies it. DeliveryLeaseByID leases the named deliveries that are due
// and not leased and skips the rest, so Redis can hold stale or duplicate
// ids safely.
type Leaser interface {
	DeliveryLeaseByID(ctx context.Context, params store.DeliveryLeaseByIDParams) ([]webhook.Job, error)
}

// Config tunes a Queue. The zero value is usable.
type Config struct {
	// Prefix starts every key. Default "webhook:".
	Prefix string
	// PendingTimeout is how long an id popped from a list may wait for its
	// store lease before the reaper hands it back. Default 30s.
	PendingTimeout time.Duration
	// ReapInterval is the least time between two reaper runs in this
	// process. Default 1s; negative runs the reaper on every Claim.
	ReapInterval time.Duration
	// PromoteBatch caps the retry members moved per Claim. Default 1000.
	PromoteBatch int
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Queue implements queue.Queue over Redis and a store. It is safe for
// concurrent use, by many goroutines and many processes sharing a prefix.
type Queue struct {
	client *goredis.Client
	store  Leaser
	cfg    Config
	wake   chan struct{}

	lastReap atomic.Int64 // Unix micros of the last reaper run

	mu      sync.Mutex
	started bool
	cancel  context.CancelFunc
	done    chan struct{}
}

var _ queue.Queue = (*Queue)(nil)

// New returns a queue over client and s. Call Start to hear other
// processes' Notify; without it only this process's Notify wakes.
func New(client *goredis.Client, s Leaser, cfg Config) *Queue {
	if cfg.Prefix == "" {
		cfg.Prefix = "webhook:"
	}
	if cfg.PendingTimeout <= 0 {
		cfg.PendingTimeout = 30 * time.Second
	}
	if cfg.ReapInterval == 0 {
		cfg.ReapInterval = time.Second
	}
	if cfg.PromoteBatch <= 0 {
		cfg.PromoteBatch = 1000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Queue{client: client, store: s, cfg: cfg, wake: make(chan struct{}, 1)}
}

func (q *Queue) listPrefix() string      { return q.cfg.Prefix + "queue:" }
func (q *Queue) listKey(d string) string { return q.listPrefix() + d }
func (q *Queue) retryKey() string        { return q.cfg.Prefix + "retry" }
func (q *Queue) processingKey() string   { return q.cfg.Prefix + "processing" }
func (q *Queue) destinationsKey() string { return q.cfg.Prefix + "destinations" }
func (q *Queue) channel() string         { return q.cfg.Prefix + "new" }
func (q *Queue) intactKey() string       { return q.cfg.Prefix + "intact" }

func member(destination, id string) string { return destination + "|" + id }

func micros(t time.Time) float64 { return float64(t.UnixMicro()) }

// Start subscribes to the wake-up channel, so that Notify in any process
// signals Wake here. It returns once the subscription is confirmed. The
// subscription ends with Close or when ctx ends. A Queue starts at most
// once; a second Start returns an error.
func (q *Queue) Start(ctx context.Context) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.started {
		return errors.New("redis queue: already started")
	}
	sub := q.client.Subscribe(ctx, q.channel())
	if _, err := sub.Receive(ctx); err != nil {
		sub.Close()
		return fmt.Errorf("redis queue: subscribe: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	q.started, q.cancel, q.done = true, cancel, done
	go func() {
		defer close(done)
		defer sub.Close()
		// Channel reconnects by itself after a dropped connection; a message
		// lost meanwhile costs one poll interval of the dispatcher.
		msgs := sub.Channel()
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-msgs:
				if !ok {
					return
				}
				q.signal()
			}
		}
	}()
	return nil
}

// Close stops the subscription started by Start and waits for it. It is
// idempotent and does not close the Redis client, which the caller owns.
func (q *Queue) Close() error {
	q.mu.Lock()
	cancel, done := q.cancel, q.done
	q.cancel = nil
	q.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	return nil
}

func (q *Queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Wake implements queue.Queue.
func (q *Queue) Wake() <-chan struct{} { return q.wake }

// Notify implements queue.Queue: due items go to their destination's list,
// later ones to the retry set, and every process is woken. The items must
// already be committed to the store.
func (q *Queue) Notify(ctx context.Context, items []queue.Item) error {
	if len(items) == 0 {
		q.signal()
		return nil
	}
	err := q.enqueue(ctx, items, q.cfg.Now())
	// Signal after the push, so a claimer woken here finds the ids; signal
	// even after an error, as some batches may have been pushed.
	q.signal()
	if err != nil {
		return err
	}
	if err := q.client.Publish(ctx, q.channel(), "").Err(); err != nil {
		return fmt.Errorf("redis queue: publish: %w", err)
	}
	return nil
}

// Rebuild enqueues everything the store says is pending, for the recovery
// sweep after Redis lost data or a Notify was lost. Items already in Redis
// end up there twice, which is harmless: the store leases each delivery to
// one claimer only and Claim drops ids the store refuses.
func (q *Queue) Rebuild(ctx context.Context, items []queue.Item) error {
	return q.Notify(ctx, items)
}

// Lost reports whether Redis lost this prefix's keys since the last call,
// in any process, and marks them present again. It is one SET NX: the
// first caller after a loss (or ever) sees true and should rebuild; the
// others see false, since one rebuild restores the queue for all.
func (q *Queue) Lost(ctx context.Context) (bool, error) {
	created, err := q.client.SetNX(ctx, q.intactKey(), "1", 0).Result()
	if err != nil {
		return false, fmt.Errorf("redis queue: check marker: %w", err)
	}
	return created, nil
}

func (q *Queue) enqueue(ctx context.Context, items []queue.Item, now time.Time) error {
	const batch = 1000
	for start := 0; start < len(items); start += batch {
		pipe := q.client.Pipeline()
		dests := map[string]bool{}
		for _, it := range items[start:min(start+batch, len(items))] {
			if it.DueAt.After(now) {
				pipe.ZAdd(ctx, q.retryKey(), goredis.Z{Score: micros(it.DueAt), Member: member(it.Destination, it.DeliveryID)})
			} else {
				pipe.RPush(ctx, q.listKey(it.Destination), it.DeliveryID)
			}
			dests[it.Destination] = true
		}
		for d := range dests {
			pipe.SAdd(ctx, q.destinationsKey(), d)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("redis queue: enqueue: %w", err)
		}
	}
	return nil
}

// moveDue moves members of a sorted set scored at or before ARGV[1] to the
// front (ARGV[4] = "LPUSH") or back ("RPUSH") of their destination's list.
// KEYS: zset, destinations. ARGV: max score, list key prefix, limit, push.
// A member is "<destination>|<id>"; ids hold no "|", so the last one splits.
var moveDue = goredis.NewScript(`
local due = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[3]))
for _, m in ipairs(due) do
  local dest, id = string.match(m, '^(.*)|([^|]*)$')
  redis.call('ZREM', KEYS[1], m)
  if dest then
    redis.call(ARGV[4], ARGV[2] .. dest, id)
    redis.call('SADD', KEYS[2], dest)
  end
end
return #due
`)

// popPending pops up to ARGV[1] ids from a list into the processing set.
// KEYS: list, processing. ARGV: count, deadline, destination.
var popPending = goredis.NewScript(`
local ids = redis.call('LPOP', KEYS[1], tonumber(ARGV[1]))
if not ids then return {} end
for _, id in ipairs(ids) do
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3] .. '|' .. id)
end
return ids
`)

// settle removes claimed members from the processing set and guards the
// leased ones in the retry set until their lease runs out. KEYS: processing,
// retry. ARGV: guard score, then members, each followed by "1" if leased.
var settle = goredis.NewScript(`
for i = 2, #ARGV, 2 do
  redis.call('ZREM', KEYS[1], ARGV[i])
  if ARGV[i+1] == '1' then
    redis.call('ZADD', KEYS[2], ARGV[1], ARGV[i])
  end
end
return 0
`)

// Claim implements queue.Queue. See the package comment for the steps.
func (q *Queue) Claim(ctx context.Context, p queue.ClaimParams) (queue.ClaimResult, error) {
	now := q.cfg.Now()
	if err := q.reap(ctx, now); err != nil {
		return queue.ClaimResult{}, err
	}
	err := moveDue.Run(ctx, q.client, []string{q.retryKey(), q.destinationsKey()},
		int64(micros(now)), q.listPrefix(), q.cfg.PromoteBatch, "RPUSH").Err()
	if err != nil {
		return queue.ClaimResult{}, fmt.Errorf("redis queue: promote: %w", err)
	}

	deadline := int64(micros(now.Add(q.cfg.PendingTimeout)))
	var popped []string // members "<destination>|<id>"
	var ids []string
	left := p.Limit
	pop := func(dest string, n int) error {
		n = min(n, left)
		if n <= 0 {
			return nil
		}
		got, err := popPending.Run(ctx, q.client, []string{q.listKey(dest), q.processingKey()}, n, deadline, dest).StringSlice()
		if err != nil && !errors.Is(err, goredis.Nil) {
			return fmt.Errorf("redis queue: pop %q: %w", dest, err)
		}
		for _, id := range got {
			popped = append(popped, member(dest, id))
			ids = append(ids, id)
		}
		left -= len(got)
		return nil
	}
	inQuotas := map[string]bool{}
	for _, qt := range p.Quotas {
		inQuotas[qt.Destination] = true
		if err := pop(qt.Destination, qt.Limit); err != nil {
			return queue.ClaimResult{}, err
		}
	}
	if p.Others > 0 && left > 0 {
		dests, err := q.client.SMembers(ctx, q.destinationsKey()).Result()
		if err != nil {
			return queue.ClaimResult{}, fmt.Errorf("redis queue: destinations: %w", err)
		}
		others := p.Others
		for _, d := range dests {
			if inQuotas[d] || others <= 0 {
				continue
			}
			before := len(ids)
			if err := pop(d, others); err != nil {
				return queue.ClaimResult{}, err
			}
			others -= len(ids) - before
		}
	}

	token := newToken()
	var jobs []webhook.Job
	if len(ids) > 0 {
		// Read the clock again: an id pushed after now was taken (its event
		// committed a moment ago) is due by now, and an earlier time would
		// make the store refuse it as not yet due.
		leaseNow := q.cfg.Now()
		leaseUntil := leaseNow.Add(p.Lease)
		var err error
		jobs, err = q.store.DeliveryLeaseByID(ctx, store.DeliveryLeaseByIDParams{
			IDs: ids, Now: leaseNow, LeaseUntil: leaseUntil, LeaseToken: token,
		})
		if err != nil {
			// The ids stay in the processing set; the reaper returns them.
			return queue.ClaimResult{}, fmt.Errorf("redis queue: lease: %w", err)
		}
		leased := make(map[string]bool, len(jobs))
		for _, j := range jobs {
			leased[j.Delivery.ID] = true
		}
		args := make([]any, 0, 1+2*len(popped))
		args = append(args, int64(micros(leaseUntil)))
		for i, m := range popped {
			flag := "0"
			if leased[ids[i]] {
				flag = "1"
			}
			args = append(args, m, flag)
		}
		if err := settle.Run(ctx, q.client, []string{q.processingKey(), q.retryKey()}, args...).Err(); err != nil {
			// The jobs are leased in the store, so hand them out anyway: the
			// reaper will push the ids back and the store will refuse them.
			return queue.ClaimResult{Jobs: jobs, LeaseToken: token, NextDueAt: now}, nil
		}
	}

	next, err := q.nextDueAt(ctx)
	if err != nil {
		return queue.ClaimResult{}, err
	}
	if len(jobs) < len(ids) && (next.IsZero() || next.After(now)) {
		// The store refused stale or duplicate ids, which took the place of
		// jobs the lists may still hold: tell the caller to look again now.
		next = now
	}
	return queue.ClaimResult{Jobs: jobs, LeaseToken: token, NextDueAt: next}, nil
}

func (q *Queue) nextDueAt(ctx context.Context) (time.Time, error) {
	zs, err := q.client.ZRangeWithScores(ctx, q.retryKey(), 0, 0).Result()
	if err != nil {
		return time.Time{}, fmt.Errorf("redis queue: next due: %w", err)
	}
	if len(zs) == 0 {
		return time.Time{}, nil
	}
	return time.UnixMicro(int64(zs[0].Score)), nil
}

// reap hands ids whose claimer never leased them back to the front of their
// lists, at most once per ReapInterval in this process.
func (q *Queue) reap(ctx context.Context, now time.Time) error {
	last := q.lastReap.Load()
	if q.cfg.ReapInterval > 0 && now.UnixMicro()-last < q.cfg.ReapInterval.Microseconds() {
		return nil
	}
	if !q.lastReap.CompareAndSwap(last, now.UnixMicro()) {
		return nil // another goroutine is reaping
	}
	err := moveDue.Run(ctx, q.client, []string{q.processingKey(), q.destinationsKey()},
		int64(micros(now)), q.listPrefix(), q.cfg.PromoteBatch, "LPUSH").Err()
	if err != nil {
		return fmt.Errorf("redis queue: reap: %w", err)
	}
	return nil
}

// Stats counts what Redis holds. Scheduled includes lease guards, so it is
// not the store's count of scheduled retries; the store's QueueStats is the
// truth, these numbers show how Redis follows it.
type Stats struct {
	// Ready counts ids per destination list.
	Ready map[string]int64
	// ReadyTotal sums Ready.
	ReadyTotal int64
	// Scheduled counts members of the retry set.
	Scheduled int64
	// Processing counts ids popped and not yet leased or reaped.
	Processing int64
}

// Stats returns the current counts.
func (q *Queue) Stats(ctx context.Context) (Stats, error) {
	dests, err := q.client.SMembers(ctx, q.destinationsKey()).Result()
	if err != nil {
		return Stats{}, fmt.Errorf("redis queue: stats: %w", err)
	}
	pipe := q.client.Pipeline()
	lens := make([]*goredis.IntCmd, len(dests))
	for i, d := range dests {
		lens[i] = pipe.LLen(ctx, q.listKey(d))
	}
	retry := pipe.ZCard(ctx, q.retryKey())
	processing := pipe.ZCard(ctx, q.processingKey())
	if _, err := pipe.Exec(ctx); err != nil {
		return Stats{}, fmt.Errorf("redis queue: stats: %w", err)
	}
	st := Stats{Ready: make(map[string]int64, len(dests)), Scheduled: retry.Val(), Processing: processing.Val()}
	for i, d := range dests {
		st.Ready[d] = lens[i].Val()
		st.ReadyTotal += lens[i].Val()
	}
	return st, nil
}

func newToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}
