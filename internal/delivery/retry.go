package delivery

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hookd/hookd/internal/webhook"
)

// maxDuration is the longest time.Duration.
const maxDuration = time.Duration(math.MaxInt64)

// RetryPolicy decides what follows a failed attempt.
type RetryPolicy struct {
	// MaxRetries is the number of retries after the first try, so a
	// delivery gets at most 1+MaxRetries attempts.
	MaxRetries int
	// BaseDelay is the delay before retry 1; retry n waits BaseDelay*2^(n-1).
	BaseDelay time.Duration
	// MaxDelay caps every delay, Retry-After included; 0 means no cap
	// (delays then saturate at the longest time.Duration).
	MaxDelay time.Duration
	// Jitter spreads each computed delay uniformly by ±Jitter of itself so
	// that a burst that failed together does not retry together. 0.2 by
	// default in the engine; Retry-After is honoured as given, without
	// jitter.
	Jitter float64
	// Schedule, when not empty, replaces the exponential backoff: retry n
	// waits Schedule[n-1] (the last entry repeating), without jitter, as
	// the operator wrote it; MaxDelay does not cap it, and Retry-After
	// wins when longer, capped by the larger of MaxDelay and the entry.
	Schedule []time.Duration
	// MaxAge, when positive, ends the retries of a delivery whose event is
	// that old at a failed attempt; a retry that would come due later is
	// moved to the age limit, so the last try happens at it.
	MaxAge time.Duration
}

// For returns p as changed by a destination's own settings: each zero
// field keeps p's value. A schedule that does not parse (validation
// refuses it; this is a stored one from an older version) keeps p's.
func (p RetryPolicy) For(s webhook.RetrySettings) RetryPolicy {
	if s == (webhook.RetrySettings{}) {
		return p
	}
	if schedule, err := webhook.ParseRetrySchedule(s.Schedule); err == nil && schedule != nil {
		p.Schedule = schedule
		p.MaxRetries = len(schedule)
	}
	if s.MaxAttempts > 0 {
		p.MaxRetries = s.MaxAttempts - 1
	}
	if s.MaxAge > 0 {
		p.MaxAge = s.MaxAge
	}
	return p
}

// Delay returns how long to wait before retry n (n = 1, 2, …). random is a
// number in [0, 1); retryAfter is the receiver's Retry-After (0 if none),
// which wins when it asks for longer than the backoff.
func (p RetryPolicy) Delay(n int, retryAfter time.Duration, random float64) time.Duration {
	if n < 1 {
		n = 1
	}
	if len(p.Schedule) > 0 {
		delay := p.Schedule[min(n, len(p.Schedule))-1]
		if retryAfter > delay {
			delay = min(retryAfter, max(delay, p.MaxDelay))
		}
		return delay
	}
	d := float64(p.BaseDelay) * math.Pow(2, float64(n-1))
	d *= 1 + p.Jitter*(2*random-1)
	limit := maxDuration
	if p.MaxDelay > 0 {
		limit = p.MaxDelay
	}
	// Compare in float before converting: a float beyond the int64 range
	// (2^n overflows quickly without a MaxDelay) converts to an arbitrary,
	// often negative, Duration.
	var delay time.Duration
	switch {
	case d >= float64(limit):
		delay = limit
	case d > 0:
		delay = time.Duration(d)
	}
	if retryAfter > delay {
		delay = retryAfter
	}
	if p.MaxDelay > 0 && delay > p.MaxDelay {
		delay = p.MaxDelay
	}
	return delay
}

// Next returns the delivery's status after its attempt number `attempt`
// failed, and when to try again: failed with a time while retries remain,
// else permanent_failure.
func (p RetryPolicy) Next(attempt int, now time.Time, retryAfter time.Duration, random float64) (webhook.Status, time.Time) {
	return p.NextFor(attempt, time.Time{}, now, retryAfter, random)
}

// NextFor is Next for a delivery whose event was received at receivedAt
// (zero: unknown, no age limit applies). With a MaxAge, an attempt that
// fails once the event is MaxAge old is the last, and a retry that would
// come due after that moment comes due at it instead (never earlier than
// the receiver's Retry-After), so the age limit gets one last try rather
// than none.
func (p RetryPolicy) NextFor(attempt int, receivedAt, now time.Time, retryAfter time.Duration, random float64) (webhook.Status, time.Time) {
	if attempt >= 1+p.MaxRetries {
		return webhook.StatusPermanentFailure, time.Time{}
	}
	next := now.Add(p.Delay(attempt, retryAfter, random))
	if p.MaxAge > 0 && !receivedAt.IsZero() {
		deadline := receivedAt.Add(p.MaxAge)
		if !now.Before(deadline) {
			return webhook.StatusPermanentFailure, time.Time{}
		}
		if next.After(deadline) {
			next = deadline
			if honoured := now.Add(retryAfter); honoured.After(next) {
				next = honoured
			}
		}
	}
	return webhook.StatusFailed, next
}

// ParseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
// It returns 0 when the header is absent or malformed.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	// Out of range still means "a very long time": ParseInt then returns
	// the nearest bound, which the checks below saturate or refuse.
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		if secs <= 0 {
			return 0
		}
		if secs > int64(maxDuration/time.Second) {
			return maxDuration
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
