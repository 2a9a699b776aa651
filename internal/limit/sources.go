package limit

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/hookd/hookd/internal/webhook"
)

// maxDefaultBurst bounds the burst derived from a huge RateLimit when
// RateBurst is 0, so that the rounding up cannot overflow an int.
const maxDefaultBurst = 1 << 20

// Sources holds one token bucket per rate-limited source. A bucket is built
// the first time its source is asked about and rebuilt, full, whenever the
// source's RateLimit or RateBurst differs from the values it was built
// with: the catalog swaps whole Source values when someone changes a
// source, so comparing values is how a change takes effect without a
// restart, and a reload that changes nothing keeps the bucket (and what the
// sender has spent) as it is.
//
// A Sources is safe for concurrent use. The zero value is not; use
// NewSources.
type Sources struct {
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	limit   rate.Limit
	burst   int
	limiter *rate.Limiter
}

// NewSources returns an empty set of buckets.
func NewSources() *Sources {
	return &Sources{buckets: map[string]*bucket{}}
}

// Bucket returns the token rate and bucket size that apply to src, and
// false when src is not rate limited (RateLimit 0, negative, NaN or
// +Inf: the catalog refuses the nonsensical ones, and a limiter must not
// turn them into a refusal of every request). A RateBurst of 0 means
// max(1, RateLimit rounded up), as webhook.Source documents.
func Bucket(src webhook.Source) (rate.Limit, int, bool) {
	r := src.RateLimit
	if !(r > 0) || math.IsInf(r, 1) {
		return 0, 0, false
	}
	burst := src.RateBurst
	if burst <= 0 {
		burst = int(max(1, min(math.Ceil(r), maxDefaultBurst)))
	}
	return rate.Limit(r), burst, true
}

// Take spends one token of src's bucket at now. When a token is there, it
// returns a nil-safe undo that gives the token back (for a request that is
// then refused for another reason; call it at once, it does nothing once
// other requests have moved the bucket on) and a zero wait. When the bucket
// is empty it spends nothing and returns how long until a token is free.
// Sources without a limit always get a token.
func (s *Sources) Take(src webhook.Source, now time.Time) (undo func(), wait time.Duration) {
	limit, burst, limited := Bucket(src)
	s.mu.Lock()
	b := s.buckets[src.Name]
	switch {
	case !limited:
		if b != nil {
			delete(s.buckets, src.Name)
		}
		s.mu.Unlock()
		return func() {}, 0
	case b == nil || b.limit != limit || b.burst != burst:
		b = &bucket{limit: limit, burst: burst, limiter: rate.NewLimiter(limit, burst)}
		s.buckets[src.Name] = b
	}
	s.mu.Unlock()
	res := b.limiter.ReserveN(now, 1)
	if !res.OK() { // cannot happen: burst >= 1
		return nil, time.Second
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return nil, d
	}
	return func() { res.CancelAt(now) }, 0
}

// Forget drops the bucket of a source that no longer exists, so that a
// source deleted and created again starts full and deleted sources do not
// hold memory.
func (s *Sources) Forget(name string) {
	s.mu.Lock()
	delete(s.buckets, name)
	s.mu.Unlock()
}

// Len is the number of buckets held.
func (s *Sources) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.buckets)
}
