package redis_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/queue"
	"github.com/hookd/hookd/internal/queue/redis"
)

func take(t *testing.T, l *redis.RateLimiter, reqs ...queue.RateRequest) []queue.RateGrant {
	t.Helper()
	g, err := l.Take(context.Background(), reqs)
	if err != nil {
		t.Fatalf("Take: %v", err)
	}
	if len(g) != len(reqs) {
		t.Fatalf("Take: %d grants for %d requests", len(g), len(reqs))
	}
	return g
}

// TestRateLimiterTakeAndGive: a bucket grants at most its burst at once,
// says when the next start comes, takes back what was not used, and never
// holds more than its burst however much is given back.
func TestRateLimiterTakeAndGive(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	l := redis.NewRateLimiter(c, newPrefix(t, c))
	ctx := context.Background()
	slow := queue.RateRequest{Destination: "slow", Rate: 2, Burst: 3, N: 5} // one start every 500ms
	other := queue.RateRequest{Destination: "other", Rate: 1000, Burst: 100, N: 10}

	g := take(t, l, slow, other)
	if g[0].N != 3 || g[0].Next <= 0 || g[0].Next > 500*time.Millisecond {
		t.Errorf("first take of slow = %+v; want its burst of 3 and the next start within 500ms", g[0])
	}
	if g[1].N != 10 || g[1].Next != 0 {
		t.Errorf("first take of other = %+v; want all 10 (another bucket)", g[1])
	}
	if g := take(t, l, slow); g[0].N != 0 || g[0].Next <= 400*time.Millisecond {
		t.Errorf("take right after the burst = %+v; want nothing, next start in about 500ms", g[0])
	}
	give := slow
	give.N = 2
	if err := l.Give(ctx, []queue.RateRequest{give}); err != nil {
		t.Fatal(err)
	}
	if g := take(t, l, slow); g[0].N != 2 {
		t.Errorf("take after giving 2 back = %+v; want 2", g[0])
	}
	give.N = 50 // more than was ever taken: the bucket is full, no fuller
	if err := l.Give(ctx, []queue.RateRequest{give}); err != nil {
		t.Fatal(err)
	}
	if g := take(t, l, slow); g[0].N != 3 {
		t.Errorf("take after giving back too much = %+v; want the burst of 3, not more", g[0])
	}
}

// TestRateLimiterSharedAcrossProcesses: limiters on separate connections
// (as in separate processes) sharing a prefix share each destination's
// budget: together they start no more than rate·elapsed + burst, and
// waste little of it.
func TestRateLimiterSharedAcrossProcesses(t *testing.T) {
	t.Parallel()
	prefix := newPrefix(t, newClient(t))
	const rate, burst, run = 100.0, 5, 1500 * time.Millisecond
	var granted atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range 3 {
		l := redis.NewRateLimiter(newClient(t), prefix)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(start) < run {
				g, err := l.Take(context.Background(), []queue.RateRequest{{Destination: "d", Rate: rate, Burst: burst, N: 8}})
				if err != nil {
					t.Error(err)
					return
				}
				granted.Add(int64(g[0].N))
				if g[0].N < 8 {
					time.Sleep(max(g[0].Next, time.Millisecond))
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	limit := int64(rate*elapsed.Seconds()) + burst
	if n := granted.Load(); n > limit || n < limit*8/10 {
		t.Errorf("three limiters granted %d starts in %s; want at most %d (rate·elapsed + burst) and not much fewer", n, elapsed, limit)
	}
}
