package delivery

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/hookd/hookd/internal/queue"
)

// rateBurst is how many starts a destination limited to perSecond may make
// at once: a tenth of a second's worth, at least one. A burst lets one
// claim take several deliveries of a fast destination instead of one claim
// per start; keeping it small keeps any window of length T at or below
// perSecond·T + burst starts.
func rateBurst(perSecond float64) int {
	return max(1, int(perSecond/10))
}

// LocalRateLimiter is queue.RateLimiter for one process, a
// golang.org/x/time/rate bucket per destination. It is meant for the
// engine's dispatcher alone: Give undoes the last Take of a destination,
// which is exact only when nobody else took from it in between.
type LocalRateLimiter struct {
	now func() time.Time

	mu      sync.Mutex
	buckets map[string]*localBucket
}

type localBucket struct {
	lim *rate.Limiter
	// The last Take's reservation, its time and size, for Give.
	last   *rate.Reservation
	lastAt time.Time
	lastN  int
}

var _ queue.RateLimiter = (*LocalRateLimiter)(nil)

// NewLocalRateLimiter returns an in-process limiter; now defaults to
// time.Now.
func NewLocalRateLimiter(now func() time.Time) *LocalRateLimiter {
	if now == nil {
		now = time.Now
	}
	return &LocalRateLimiter{now: now, buckets: map[string]*localBucket{}}
}

func (l *LocalRateLimiter) bucket(r queue.RateRequest, now time.Time) *localBucket {
	b, ok := l.buckets[r.Destination]
	if !ok {
		b = &localBucket{lim: rate.NewLimiter(rate.Limit(r.Rate), max(r.Burst, 1))}
		l.buckets[r.Destination] = b
	}
	if b.lim.Limit() != rate.Limit(r.Rate) { // the destination was changed
		b.lim.SetLimitAt(now, rate.Limit(r.Rate))
	}
	if b.lim.Burst() != max(r.Burst, 1) {
		b.lim.SetBurstAt(now, max(r.Burst, 1))
	}
	return b
}

// Take implements queue.RateLimiter.
func (l *LocalRateLimiter) Take(_ context.Context, reqs []queue.RateRequest) ([]queue.RateGrant, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	out := make([]queue.RateGrant, len(reqs))
	for i, r := range reqs {
		b := l.bucket(r, now)
		n := min(r.N, int(b.lim.TokensAt(now)))
		b.last, b.lastAt, b.lastN = nil, now, max(n, 0)
		if n > 0 {
			b.last = b.lim.ReserveN(now, n)
		}
		out[i].N = max(n, 0)
		if out[i].N < r.N && r.Rate > 0 {
			missing := 1 - b.lim.TokensAt(now)
			out[i].Next = time.Duration(missing / r.Rate * float64(time.Second))
		}
	}
	return out, nil
}

// Give implements queue.RateLimiter: it cancels the last reservation of
// each destination and reserves again the part that was used.
func (l *LocalRateLimiter) Give(_ context.Context, reqs []queue.RateRequest) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range reqs {
		b, ok := l.buckets[r.Destination]
		if !ok || b.last == nil || r.N <= 0 {
			continue
		}
		used := b.lastN - min(r.N, b.lastN)
		b.last.CancelAt(b.lastAt)
		b.last = nil
		if used > 0 {
			b.last = b.lim.ReserveN(b.lastAt, used)
		}
		b.lastN = used
	}
	return nil
}
