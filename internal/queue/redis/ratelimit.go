package redis

import (
	"context"
	"fmt"
	"math"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hookd/hookd/internal/queue"
)

// RateLimiter is queue.RateLimiter over Redis: one GCRA bucket per
// destination (<prefix>rate:<destination>, holding the theoretical arrival
// time in Unix microseconds), shared by every process that uses the
// prefix, so that a destination's limit holds across all of them.
//
// It is a short Lua script rather than github.com/go-redis/redis_rate
// (also GCRA), because the dispatcher takes starts before it claims and
// must give back those the claim did not use: redis_rate has no way to give
// back (a negative cost is dropped whenever it would bring the bucket back
// to full, which is the common case of an idle destination), and it costs
// one round trip per destination where this script serves all of them in
// one. The clock is Redis's (TIME), so processes whose clocks differ still
// share one budget.
type RateLimiter struct {
	client *goredis.Client
	prefix string
}

var _ queue.RateLimiter = (*RateLimiter)(nil)

// NewRateLimiter returns a limiter whose keys start with prefix (the
// queue's, default "webhook:").
func NewRateLimiter(client *goredis.Client, prefix string) *RateLimiter {
	if prefix == "" {
		prefix = "webhook:"
	}
	return &RateLimiter{client: client, prefix: prefix}
}

// gcra takes (ARGV[1] = "take") or gives back ("give") starts. KEYS: one
// bucket per destination. ARGV, per key: emission interval (µs), burst,
// count. A bucket's value is its theoretical arrival time (TAT): a start
// is available while TAT <= now + (burst-1)·interval. Taking k starts adds
// k intervals; giving back n removes n, never below now (a full bucket).
// Every TAT is a whole number of microseconds, formatted with %d: Lua's
// default number format would round it. Replies, per key: {granted, µs
// until the next start when fewer than asked were granted}.
var gcra = goredis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local out = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[3 * i - 1])
  local burst = tonumber(ARGV[3 * i])
  local n = tonumber(ARGV[3 * i + 1])
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  local granted, wait = n, 0
  if ARGV[1] == 'take' then
    local avail = math.floor((now + burst * interval - tat) / interval)
    granted = math.max(0, math.min(n, avail))
    tat = tat + granted * interval
    if granted < n then wait = math.max(0, tat - (burst - 1) * interval - now) end
  else
    tat = math.max(now, tat - n * interval)
  end
  if tat > now then
    redis.call('SET', key, string.format('%d', tat), 'PX', math.ceil((tat - now) / 1000) + 1)
  else
    redis.call('DEL', key)
  end
  out[i] = {granted, wait}
end
return out
`)

// Take implements queue.RateLimiter.
func (l *RateLimiter) Take(ctx context.Context, reqs []queue.RateRequest) ([]queue.RateGrant, error) {
	replies, err := l.run(ctx, "take", reqs)
	if err != nil {
		return nil, err
	}
	grants := make([]queue.RateGrant, len(reqs))
	for i, r := range replies {
		grants[i] = queue.RateGrant{N: int(r[0]), Next: time.Duration(r[1]) * time.Microsecond}
	}
	return grants, nil
}

// Give implements queue.RateLimiter.
func (l *RateLimiter) Give(ctx context.Context, reqs []queue.RateRequest) error {
	_, err := l.run(ctx, "give", reqs)
	return err
}

// RateLimiter returns a limiter over the queue's client and prefix.
func (q *Queue) RateLimiter() *RateLimiter { return NewRateLimiter(q.client, q.cfg.Prefix) }

// Reset forgets a destination's bucket (tests, and an admin's change of a
// limit that should start afresh).
func (l *RateLimiter) Reset(ctx context.Context, destination string) error {
	return l.client.Del(ctx, l.key(destination)).Err()
}

func (l *RateLimiter) key(destination string) string { return l.prefix + "rate:" + destination }

func (l *RateLimiter) run(ctx context.Context, op string, reqs []queue.RateRequest) ([][2]int64, error) {
	keys := make([]string, 0, len(reqs))
	args := make([]any, 0, 1+3*len(reqs))
	args = append(args, op)
	for _, r := range reqs {
		keys = append(keys, l.key(r.Destination))
		args = append(args, interval(r.Rate), max(r.Burst, 1), max(r.N, 0))
	}
	if len(keys) == 0 {
		return nil, nil
	}
	reply, err := gcra.Run(ctx, l.client, keys, args...).Slice()
	if err != nil {
		return nil, fmt.Errorf("redis rate limit: %s: %w", op, err)
	}
	if len(reply) != len(reqs) {
		return nil, fmt.Errorf("redis rate limit: %s: %d replies for %d destinations", op, len(reply), len(reqs))
	}
	out := make([][2]int64, len(reply))
	for i, r := range reply {
		pair, ok := r.([]any)
		if !ok || len(pair) != 2 {
			return nil, fmt.Errorf("redis rate limit: %s: unexpected reply %v", op, r)
		}
		for j := range pair {
			if out[i][j], ok = pair[j].(int64); !ok {
				return nil, fmt.Errorf("redis rate limit: %s: unexpected reply %v", op, r)
			}
		}
	}
	return out, nil
}

// interval is the time between two starts at rate per second, in whole
// microseconds (at least one).
func interval(rate float64) int64 {
	if rate <= 0 || math.IsNaN(rate) || math.IsInf(rate, 0) {
		return 1
	}
	return max(int64(math.Round(1e6/rate)), 1)
}
