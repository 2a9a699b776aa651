package redis

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hookd/hookd/internal/queue"
	"github.com/hookd/hookd/internal/store"
)

// Ordered delivery (docs/ordering.md). The store decides whether an
// ordered delivery may be leased; when it may not (an earlier delivery of
// its key is unfinished) it parks it and names the delivery it waits for
// (store.BlockedDelivery). This queue then:
//
//   - puts the blocked id in the retry set, due when the store's parking
//     ends (a safety net: nothing else needs to happen for it to come
//     back), and records it in <prefix>after:<predecessor id>, a set of
//     the members waiting for that delivery;
//   - when the predecessor is finished (Finished with Item.Ordered), makes
//     every member of its after set due at once and wakes claimers
//     everywhere, and leaves a short-lived mark <prefix>done:<id>, so that
//     a blocked id settled just after its predecessor finished (the two
//     raced in different processes) is made due at once instead of
//     waiting for its parking to end.
//
// So a blocked delivery costs one refused lease, not one per poll, and a
// key moves on as soon as its previous delivery is recorded. Unordered
// deliveries never touch these keys.

// How long the keys live. A done mark only has to outlive the gap between
// a refused lease and its settle (milliseconds), and one is written per
// finished ordered delivery, so it lives a minute: a busy ordered
// destination does not pile them up. An after set is refreshed by every
// refusal; should it expire while its predecessor waits for a long retry,
// its members still come back when their parking ends (the predecessor's
// retry time), and are refused and recorded again.
const (
	doneMarkTTL = time.Minute
	afterSetTTL = 10 * time.Minute
)

func (q *Queue) afterPrefix() string { return q.cfg.Prefix + "after:" }
func (q *Queue) donePrefix() string  { return q.cfg.Prefix + "done:" }

// parkBlocked schedules blocked ids (see above).
// KEYS: retry. ARGV: now, after prefix, done prefix, the after set's ttl
// in seconds, then destination, id, predecessor id and due time (Unix
// micros) quadruples.
// It returns how many were due at once.
var parkBlocked = goredis.NewScript(`
local n = 0
for i = 5, #ARGV, 4 do
  local m = ARGV[i] .. '|' .. ARGV[i + 1]
  local after = ARGV[i + 2]
  if redis.call('EXISTS', ARGV[3] .. after) == 1 then
    redis.call('ZADD', KEYS[1], ARGV[1], m)
    n = n + 1
  else
    local k = ARGV[2] .. after
    redis.call('SADD', k, m)
    redis.call('EXPIRE', k, ARGV[4])
    redis.call('ZADD', KEYS[1], ARGV[i + 3], m)
  end
end
return n
`)

// finishOrdered makes the members waiting for the finished ids due now
// and marks the ids done.
// KEYS: retry. ARGV: now, after prefix, done prefix, the done mark's ttl
// in seconds, ids.
// It returns how many members it made due.
var finishOrdered = goredis.NewScript(`
local n = 0
for i = 5, #ARGV do
  local k = ARGV[2] .. ARGV[i]
  for _, m in ipairs(redis.call('SMEMBERS', k)) do
    redis.call('ZADD', KEYS[1], ARGV[1], m)
    n = n + 1
  end
  redis.call('DEL', k)
  redis.call('SET', ARGV[3] .. ARGV[i], '1', 'EX', ARGV[4])
end
return n
`)

// park hands the store's blocked deliveries to parkBlocked. It reports
// whether any is due at once.
func (q *Queue) park(ctx context.Context, now time.Time, blocked []store.BlockedDelivery) (bool, error) {
	if len(blocked) == 0 {
		return false, nil
	}
	args := make([]any, 0, 4+4*len(blocked))
	args = append(args, int64(micros(now)), q.afterPrefix(), q.donePrefix(), int64(afterSetTTL/time.Second))
	for _, b := range blocked {
		args = append(args, b.Destination, b.ID, b.After, int64(micros(b.Until)))
	}
	n, err := parkBlocked.Run(ctx, q.client, []string{q.retryKey()}, args...).Int()
	if err != nil {
		return false, fmt.Errorf("redis queue: park blocked: %w", err)
	}
	return n > 0, nil
}

// finishOrderedItems releases what waits for the ordered items among
// finished ones, and wakes claimers in every process when it did.
func (q *Queue) finishOrderedItems(ctx context.Context, items []queue.Item) error {
	var ids []any
	for _, it := range items {
		if it.Ordered {
			ids = append(ids, it.DeliveryID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	args := append([]any{int64(micros(q.cfg.Now())), q.afterPrefix(), q.donePrefix(), int64(doneMarkTTL / time.Second)}, ids...)
	n, err := finishOrdered.Run(ctx, q.client, []string{q.retryKey()}, args...).Int()
	if err != nil {
		return fmt.Errorf("redis queue: release successors: %w", err)
	}
	if n > 0 {
		q.signal()
		if err := q.client.Publish(ctx, q.channel(), "").Err(); err != nil {
			return fmt.Errorf("redis queue: publish: %w", err)
		}
	}
	return nil
}
