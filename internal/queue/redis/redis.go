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
//   - <prefix>queued:<destination> — a set of the destination's delivery
//     ids that are in its list or in the processing set. It is what makes
//     enqueueing idempotent (see below).
//   - <prefix>inflight:<destination> — a sorted set of the destination's
//     delivery ids being claimed or attempted, each scored by the end of
//     its lease: the count behind a max_in_flight that holds across
//     processes (see below).
//   - <prefix>destinations — a set of destination names that ever had a
//     list, so that Claim can serve ClaimParams.Others and Stats can count.
//   - <prefix>new — the Pub/Sub channel that wakes claimers in every process.
//   - <prefix>intact — a marker that Lost sets and watches: when it is
//     gone, Redis lost its data (FLUSHALL, a restart without persistence)
//     and the queue must be rebuilt from the store at once.
//
// # Claiming, and why it is crash-safe
//
// Claim first moves due members of the retry set to their lists and pops
// each quota's ids from its list into the processing set (one Lua script),
// then asks the store to lease them (Leaser), then replaces each id's
// processing member by a lease guard: a retry-set member due when the store
// lease runs out (a second script). Scripts run atomically, so concurrent
// claimers in many processes never move the same member twice, and a claim
// costs two Redis round trips whatever the number of destinations.
//
//   - A claimer that dies after popping and before leasing leaves its ids
//     in the processing set; the reaper (run at the start of Claim, at most
//     once per ReapInterval per process) pushes members whose deadline has
//     passed back to their lists.
//   - A claimer that dies after leasing holds store leases that run out;
//     the lease guard then comes due and the delivery is claimed again. A
//     finished delivery's guard is dropped by Finished (should that fail,
//     it costs one refused lease); a failed one's Notify replaces the
//     guard's score with the retry time (same member).
//
// # Each id queued once
//
// An id is in at most one place among its destination's list and the
// processing set: every move into a list (Notify, Rebuild, a retry or
// lease guard coming due) goes through SADD on the destination's queued
// set, in the same script, and pushes only when SADD added the id; popping
// keeps the id in the set (it moves to the processing set), the reaper
// moves it back without a second copy, and settle removes it once the
// store has answered. So the recovery sweep can tell Redis about a backlog
// every 30 s, however long it takes to drain, without the lists growing:
// each list holds at most one entry per waiting delivery. The retry set is
// keyed by member and so idempotent by itself; an id may be there too (a
// scheduled retry, a lease guard), and it joins its list through the same
// SADD when it comes due.
//
// Redis may still name a delivery the store would not lease now (its lease
// guard came due while a slow attempt was still running, a Notify raced a
// claim, a claimer was so slow that the reaper handed its ids back): that
// is harmless, because the store leases a delivery only when it is due and
// not leased, and Claim drops every id the store refuses. Redis never
// decides that a delivery is done; it can only make the store be asked
// again. Where the two kinds of mistake compete, the queue picks the
// harmless one: settle removes an id from the queued set even if the
// reaper has meanwhile put it back in the list (a later Notify may then
// push a second copy, which the store refuses), and Rebuild checks that
// each destination's queued set holds no more ids than its list and the
// processing set together, and rebuilds the set from them when it does (a
// list deleted by hand, or keys evicted: run Redis with maxmemory-policy
// noeviction, the default), so that a stale mark never keeps a delivery
// out of its list for longer than one sweep.
//
// # max_in_flight across processes
//
// A quota's Max (store.DestinationQuota) caps the destination's attempts
// in flight in every process sharing the prefix, where the quota's Limit
// counts only the claiming process's free slots. claimPop first drops the
// destination's in-flight entries whose lease has run out, pops no more
// than Max minus those left, and records each popped id scored by the end
// of the lease it is about to take, all in the same script, so two
// processes claiming at once cannot both take the last slot. settle drops
// the ids the store refused; Finished (success, permanent failure) and
// Notify (a retry scheduled, a lease handed back) drop the ids they name,
// and the reaper those it hands back (their claimer died before leasing
// them). Rebuild leaves them: the sweep names leased deliveries too. A
// process that dies holding attempts frees their slots when their leases
// run out, as the store frees the deliveries themselves. A claim held back by Max while ids
// wait says so in NextDueAt (CapRecheck later), since the slot may be
// freed by a process that does not publish it.
//
// The count is as good as the leases: an attempt still running when its
// lease ran out (it should not: the lease is the destination's timeout
// plus a margin) no longer counts, and a Redis that lost its data counts
// from zero while the attempts already in flight finish, so the cap can be
// exceeded for one lease after a loss. Ids popped for ClaimParams.Others
// (destinations no longer configured) are not counted.
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
	"strconv"
	"strings"
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
	DeliveryLeaseByIDBlocked(ctx context.Context, params store.DeliveryLeaseByIDParams) (store.DeliveryLeaseByIDResult, error)
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
	// CapRecheck is how soon a claim held back by a destination's Max
	// (ids waiting, every slot taken by some process) asks to be retried,
	// through ClaimResult.NextDueAt. Default 50ms.
	CapRecheck time.Duration
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

var (
	_ queue.Queue    = (*Queue)(nil)
	_ queue.Finisher = (*Queue)(nil)
)

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
	if cfg.CapRecheck <= 0 {
		cfg.CapRecheck = 50 * time.Millisecond
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
func (q *Queue) queuedPrefix() string    { return q.cfg.Prefix + "queued:" }
func (q *Queue) inflightPrefix() string  { return q.cfg.Prefix + "inflight:" }
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
// already be committed to the store. A notified delivery is not in flight
// (it is new, its retry is scheduled, or its lease was handed back), so it
// stops counting against its destination's Max.
func (q *Queue) Notify(ctx context.Context, items []queue.Item) error {
	return q.notify(ctx, items, false)
}

// Rebuild enqueues everything the store says is pending, for the recovery
// sweep after Redis lost data or a Notify was lost. An id already in its
// list or being claimed is not pushed again (see the package comment), so
// rebuilding a backlog any number of times leaves one entry per delivery.
// Unlike Notify it first checks each named destination's queued set
// against its list and repairs it, and it leaves the in-flight counts
// alone: the sweep names leased deliveries too.
func (q *Queue) Rebuild(ctx context.Context, items []queue.Item) error {
	return q.notify(ctx, items, true)
}

func (q *Queue) notify(ctx context.Context, items []queue.Item, check bool) error {
	if len(items) == 0 {
		q.signal()
		return nil
	}
	err := q.enqueue(ctx, items, q.cfg.Now(), check)
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

// enqueueBatch bounds the items of one enqueue script, so that no single
// script holds Redis for long.
const enqueueBatch = 1000

// enqueue runs enqueueScript over items in batches. rebuild asks it to
// verify (and repair) the queued sets first and to leave the in-flight
// counts alone; otherwise the items stop counting as in flight.
func (q *Queue) enqueue(ctx context.Context, items []queue.Item, now time.Time, rebuild bool) error {
	keys := []string{q.retryKey(), q.destinationsKey(), q.processingKey()}
	mode := "notify"
	if rebuild {
		mode = "rebuild"
	}
	nowMicros := int64(micros(now))
	for start := 0; start < len(items); start += enqueueBatch {
		chunk := items[start:min(start+enqueueBatch, len(items))]
		args := make([]any, 0, 5+3*len(chunk))
		args = append(args, nowMicros, q.listPrefix(), q.queuedPrefix(), mode, q.inflightPrefix())
		for _, it := range chunk {
			args = append(args, it.Destination, it.DeliveryID, int64(micros(it.DueAt)))
		}
		if err := enqueueScript.Run(ctx, q.client, keys, args...).Err(); err != nil {
			return fmt.Errorf("redis queue: enqueue: %w", err)
		}
	}
	return nil
}

// enqueueScript puts items due later in the retry set (ZADD: one member per
// delivery, the newest due time wins) and items due now at the back of
// their destination's list, unless the destination's queued set says the
// id is in that list or being claimed already. In "notify" mode the items
// also leave their destination's in-flight set (looked for only where the
// set exists, as most notified deliveries are new).
//
// In "rebuild" mode it first compares, for each destination named,
// the queued set's size with the list's length plus the destination's ids
// in the processing set. The scripts keep these equal (a duplicate left
// by a very slow claimer only makes the set smaller); a larger set holds
// marks that no list or claim backs (a list deleted by hand, or keys
// evicted), and would keep those ids out of their list for good, so the
// set is rebuilt from the list and the processing set before enqueueing.
// KEYS: retry, destinations, processing.
// ARGV: now, list key prefix, queued key prefix, mode ("notify" or
// "rebuild"), in-flight key prefix, then destination, id and due time
// triples.
var enqueueScript = goredis.NewScript(`
local now = tonumber(ARGV[1])
local lists, marks = ARGV[2], ARGV[3]
local check = ARGV[4] == 'rebuild'
local inflight = ARGV[5]
local seen, counted = {}, {}
local claiming
local function repair(dest)
  if not claiming then
    claiming = {}
    for _, m in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
      local d, id = string.match(m, '^(.*)|([^|]*)$')
      if d then
        claiming[d] = claiming[d] or {}
        table.insert(claiming[d], id)
      end
    end
  end
  local mine = claiming[dest] or {}
  local list, set = lists .. dest, marks .. dest
  local n = redis.call('LLEN', list)
  if redis.call('SCARD', set) <= n + #mine then return end
  redis.call('DEL', set)
  for _, id in ipairs(mine) do redis.call('SADD', set, id) end
  for from = 0, n - 1, 1000 do
    for _, id in ipairs(redis.call('LRANGE', list, from, from + 999)) do
      redis.call('SADD', set, id)
    end
  end
end
for i = 6, #ARGV, 3 do
  local dest, id, due = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  if not seen[dest] then
    seen[dest] = true
    redis.call('SADD', KEYS[2], dest)
    if check then repair(dest) end
    counted[dest] = not check and redis.call('EXISTS', inflight .. dest) == 1
  end
  if counted[dest] then redis.call('ZREM', inflight .. dest, id) end
  if due > now then
    redis.call('ZADD', KEYS[1], due, dest .. '|' .. id)
  elseif redis.call('SADD', marks .. dest, id) == 1 then
    redis.call('RPUSH', lists .. dest, id)
  end
end
return 0
`)

// reapScript hands members of the processing set whose deadline is at or
// before ARGV[1] back to the front of their destination's list. Their ids
// stay in the queued sets (SADD again only repairs a set that lost them),
// so a reaped id is in its list once, never also still being claimed.
// Their ids leave the in-flight sets: nobody leased them.
// KEYS: processing, destinations. ARGV: max score, list key prefix, limit,
// queued key prefix, in-flight key prefix. A member is
// "<destination>|<id>"; ids hold no "|", so the last one splits.
var reapScript = goredis.NewScript(`
local due = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[3]))
for _, m in ipairs(due) do
  local dest, id = string.match(m, '^(.*)|([^|]*)$')
  redis.call('ZREM', KEYS[1], m)
  if dest then
    redis.call('SADD', ARGV[4] .. dest, id)
    redis.call('LPUSH', ARGV[2] .. dest, id)
    redis.call('ZREM', ARGV[5] .. dest, id)
    redis.call('SADD', KEYS[2], dest)
  end
end
return #due
`)

// claimPop is the first half of a claim, in one round trip: it promotes
// due members of the retry set to the back of their lists (through the
// queued set, as enqueueScript: an id already queued is not pushed again),
// pops each quota's share of ids into the processing set (they stay in the
// queued set), then, when asked, other destinations' ids. A quota with a
// Max pops no more than Max minus the destination's ids in flight whose
// lease has not run out, and its popped ids join the in-flight set, scored
// by the end of the lease the claim is about to take; a popped id already
// in that set is a stale copy of a delivery in flight, and is dropped. It returns the
// popped members, the retry set's earliest score (false when empty), and
// 1 when some quota was cut short by its Max while its list still held
// ids, else 0.
// KEYS: retry, destinations, processing.
// ARGV: now, list key prefix, promote limit, pending deadline, claim limit,
// others, queued key prefix, in-flight key prefix, in-flight score (the
// lease end), then destination, quota and Max triples.
var claimPop = goredis.NewScript(`
local prefix = ARGV[2]
local due = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[3]))
for _, m in ipairs(due) do
  local dest, id = string.match(m, '^(.*)|([^|]*)$')
  redis.call('ZREM', KEYS[1], m)
  if dest then
    if redis.call('SADD', ARGV[7] .. dest, id) == 1 then
      redis.call('RPUSH', prefix .. dest, id)
    end
    redis.call('SADD', KEYS[2], dest)
  end
end
local left = tonumber(ARGV[5])
local popped = {}
local held = 0
local function pop(dest, n, inflight)
  n = math.min(n, left)
  if n <= 0 then return 0 end
  local ids = redis.call('LPOP', prefix .. dest, n)
  if not ids then return 0 end
  local taken = 0
  for _, id in ipairs(ids) do
    local m = dest .. '|' .. id
    if inflight and redis.call('ZADD', inflight, 'NX', ARGV[9], id) == 0 then
      -- A copy of an id in flight under a live lease (a sweep may push
      -- one): the store would refuse it, and settle would then free the
      -- slot of the attempt still running. Dropped instead; that lease's
      -- guard brings the id back should its claimer die.
      redis.call('SREM', ARGV[7] .. dest, id)
    else
      redis.call('ZADD', KEYS[3], ARGV[4], m)
      popped[#popped + 1] = m
      taken = taken + 1
    end
  end
  left = left - taken
  return taken
end
local asked = {}
for i = 10, #ARGV, 3 do
  local dest, n, cap = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  asked[dest] = true
  if cap > 0 and n > 0 and left > 0 then
    local inflight = ARGV[8] .. dest
    redis.call('ZREMRANGEBYSCORE', inflight, '-inf', ARGV[1])
    local free = cap - redis.call('ZCARD', inflight)
    pop(dest, math.min(n, free), inflight)
    if free < n and left > 0 and redis.call('LLEN', prefix .. dest) > 0 then held = 1 end
  else
    pop(dest, n)
  end
end
local others = tonumber(ARGV[6])
if others > 0 and left > 0 then
  for _, dest in ipairs(redis.call('SMEMBERS', KEYS[2])) do
    if others <= 0 or left <= 0 then break end
    if not asked[dest] then others = others - pop(dest, others) end
  end
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {popped, first[2] or false, held}
`)

// settle removes claimed members from the processing set and the queued
// set, and guards the leased ones in the retry set until their lease runs
// out. A member the reaper has put back in its list meanwhile (its claimer
// was that slow) leaves the queued set too: a later enqueue may then push a
// second copy, which the store refuses, whereas keeping it could leave it
// marked queued with no list holding it. Refused ids stop counting in
// flight (leased ones were counted until their lease end by claimPop).
// KEYS: processing, retry.
// ARGV: guard score (the lease end), queued key prefix, in-flight key
// prefix, then destination, id and leased ("1" or "0") triples.
var settle = goredis.NewScript(`
for i = 4, #ARGV, 3 do
  local dest, id = ARGV[i], ARGV[i + 1]
  local m = dest .. '|' .. id
  redis.call('ZREM', KEYS[1], m)
  redis.call('SREM', ARGV[2] .. dest, id)
  if ARGV[i + 2] == '1' then
    redis.call('ZADD', KEYS[2], ARGV[1], m)
  else
    redis.call('ZREM', ARGV[3] .. dest, id)
  end
end
return 0
`)

// Claim implements queue.Queue. See the package comment for the steps:
// two Redis round trips (claimPop, settle) around the store's lease.
func (q *Queue) Claim(ctx context.Context, p queue.ClaimParams) (queue.ClaimResult, error) {
	now := q.cfg.Now()
	if err := q.reap(ctx, now); err != nil {
		return queue.ClaimResult{}, err
	}
	// In-flight entries end with the lease (a few milliseconds before the
	// store's, which starts after this script): if the claimer dies before
	// leasing, the reaper drops them at the pending deadline.
	args := make([]any, 0, 9+3*len(p.Quotas))
	args = append(args, int64(micros(now)), q.listPrefix(), q.cfg.PromoteBatch,
		int64(micros(now.Add(q.cfg.PendingTimeout))), max(p.Limit, 0), max(p.Others, 0),
		q.queuedPrefix(), q.inflightPrefix(), int64(micros(now.Add(p.Lease))))
	for _, qt := range p.Quotas {
		args = append(args, qt.Destination, qt.Limit, max(qt.Max, 0))
	}
	reply, err := claimPop.Run(ctx, q.client, []string{q.retryKey(), q.destinationsKey(), q.processingKey()}, args...).Slice()
	if err != nil {
		return queue.ClaimResult{}, fmt.Errorf("redis queue: claim: %w", err)
	}
	popped, next, held, err := parseClaimPop(reply)
	if err != nil {
		return queue.ClaimResult{}, err
	}
	if held {
		// Slots are freed by other processes' Finished, which wakes no
		// one: look again soon rather than at the next poll.
		next = earliest(next, now.Add(q.cfg.CapRecheck))
	}

	token := newToken()
	var jobs []webhook.Job
	if len(popped) > 0 {
		ids := make([]string, len(popped))
		for i, m := range popped {
			ids[i] = m[strings.LastIndexByte(m, '|')+1:]
		}
		// Read the clock again: an id pushed after now was taken (its event
		// committed a moment ago) is due by now, and an earlier time would
		// make the store refuse it as not yet due.
		leaseNow := q.cfg.Now()
		leaseUntil := leaseNow.Add(p.Lease)
		lease, err := q.store.DeliveryLeaseByIDBlocked(ctx, store.DeliveryLeaseByIDParams{
			IDs: ids, Now: leaseNow, LeaseUntil: leaseUntil, LeaseToken: token,
		})
		jobs = lease.Jobs
		if err != nil {
			// The ids stay in the processing set; the reaper returns them.
			return queue.ClaimResult{}, fmt.Errorf("redis queue: lease: %w", err)
		}
		leased := make(map[string]bool, len(jobs))
		for _, j := range jobs {
			leased[j.Delivery.ID] = true
		}
		args := make([]any, 0, 3+3*len(popped))
		args = append(args, int64(micros(leaseUntil)), q.queuedPrefix(), q.inflightPrefix())
		for i, m := range popped {
			args = append(args, m[:len(m)-len(ids[i])-1], ids[i], flag(leased[ids[i]]))
		}
		if err := settle.Run(ctx, q.client, []string{q.processingKey(), q.retryKey()}, args...).Err(); err != nil {
			// The jobs are leased in the store, so hand them out anyway: the
			// reaper will push the ids back and the store will refuse them.
			// (The reaper also drops their in-flight entries: the cap may
			// be exceeded until these attempts end.)
			return queue.ClaimResult{Jobs: jobs, LeaseToken: token, NextDueAt: now}, nil
		}
		// Ordered deliveries the store parked wait for their predecessor
		// (ordering.go). Should this fail, the recovery sweep finds them,
		// due when their parking ends.
		if _, err := q.park(ctx, leaseNow, lease.Blocked); err != nil {
			return queue.ClaimResult{Jobs: jobs, LeaseToken: token, NextDueAt: now}, nil
		}
		if len(jobs) > 0 && (next.IsZero() || leaseUntil.Before(next)) {
			next = leaseUntil // the guards just added
		}
	}
	if len(jobs) < len(popped) && (next.IsZero() || next.After(now)) {
		// The store refused stale or duplicate ids, which took the place of
		// jobs the lists may still hold: tell the caller to look again now.
		next = now
	}
	return queue.ClaimResult{Jobs: jobs, LeaseToken: token, NextDueAt: next}, nil
}

// parseClaimPop reads claimPop's reply: the popped members, the retry
// set's earliest due time (zero when empty), and whether a Max held back
// ids that wait.
func parseClaimPop(reply []any) (popped []string, next time.Time, held bool, err error) {
	if len(reply) != 3 {
		return nil, time.Time{}, false, fmt.Errorf("redis queue: claim: unexpected reply %v", reply)
	}
	members, _ := reply[0].([]any)
	popped = make([]string, 0, len(members))
	for _, m := range members {
		s, ok := m.(string)
		if !ok {
			return nil, time.Time{}, false, fmt.Errorf("redis queue: claim: unexpected member %v", m)
		}
		popped = append(popped, s)
	}
	if score, ok := reply[1].(string); ok {
		f, err := strconv.ParseFloat(score, 64)
		if err != nil {
			return nil, time.Time{}, false, fmt.Errorf("redis queue: claim: next due %q: %w", score, err)
		}
		next = time.UnixMicro(int64(f))
	}
	h, _ := reply[2].(int64)
	return popped, next, h == 1, nil
}

// flag is a script argument for a boolean.
func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// earliest returns the earlier of two times, a zero time meaning none.
func earliest(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero() || a.Before(b):
		return a
	}
	return b
}

// Finished implements queue.Finisher: in one round trip it drops the lease
// guards of finished deliveries, so they are not offered to the store
// again when their lease would have run out, and their in-flight entries,
// so their destinations' slots are free at once. A guard left behind (this
// failed, or the process died first) costs one refused lease, no more; an
// entry left behind holds a slot until the lease ends.
func (q *Queue) Finished(ctx context.Context, items []queue.Item) error {
	if len(items) == 0 {
		return nil
	}
	members := make([]any, len(items))
	byDest := map[string][]any{}
	for i, it := range items {
		members[i] = member(it.Destination, it.DeliveryID)
		byDest[it.Destination] = append(byDest[it.Destination], it.DeliveryID)
	}
	pipe := q.client.Pipeline()
	pipe.ZRem(ctx, q.retryKey(), members...)
	for d, ids := range byDest {
		pipe.ZRem(ctx, q.inflightPrefix()+d, ids...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("redis queue: drop lease guards: %w", err)
	}
	return q.finishOrderedItems(ctx, items)
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
	err := reapScript.Run(ctx, q.client, []string{q.processingKey(), q.destinationsKey()},
		int64(micros(now)), q.listPrefix(), q.cfg.PromoteBatch, q.queuedPrefix(), q.inflightPrefix()).Err()
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
	// InFlight counts, per destination that has any, the ids claimed under
	// a Max whose lease has not run out: what its max_in_flight is held
	// against, across all processes.
	InFlight map[string]int64
}

// Stats returns the current counts.
func (q *Queue) Stats(ctx context.Context) (Stats, error) {
	dests, err := q.client.SMembers(ctx, q.destinationsKey()).Result()
	if err != nil {
		return Stats{}, fmt.Errorf("redis queue: stats: %w", err)
	}
	pipe := q.client.Pipeline()
	lens := make([]*goredis.IntCmd, len(dests))
	inflight := make([]*goredis.IntCmd, len(dests))
	now := strconv.FormatInt(q.cfg.Now().UnixMicro(), 10)
	for i, d := range dests {
		lens[i] = pipe.LLen(ctx, q.listKey(d))
		inflight[i] = pipe.ZCount(ctx, q.inflightPrefix()+d, "("+now, "+inf")
	}
	retry := pipe.ZCard(ctx, q.retryKey())
	processing := pipe.ZCard(ctx, q.processingKey())
	if _, err := pipe.Exec(ctx); err != nil {
		return Stats{}, fmt.Errorf("redis queue: stats: %w", err)
	}
	st := Stats{Ready: make(map[string]int64, len(dests)), Scheduled: retry.Val(), Processing: processing.Val(), InFlight: map[string]int64{}}
	for i, d := range dests {
		st.Ready[d] = lens[i].Val()
		st.ReadyTotal += lens[i].Val()
		if n := inflight[i].Val(); n > 0 {
			st.InFlight[d] = n
		}
	}
	return st, nil
}

func newToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}
