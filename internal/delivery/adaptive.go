package delivery

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/hookd/hookd/internal/webhook"
)

// Adaptive delivery. A receiver that answers 429, 502 or 504, or does not
// answer within the destination's timeout, is saying "slower" (Standard
// Webhooks): more attempts in flight would only earn more of the same and
// spend retries. So each destination's concurrency limit follows AIMD, as
// TCP's congestion window does:
//
//   - it starts at the destination's cap (max_in_flight);
//   - a slow-down signal halves it (floor 1), once per round: a signal from
//     an attempt that started before the last decrease was sent under the
//     old limit and is already counted, so a burst of failures that were in
//     flight together halves the limit once, not once each;
//   - successes raise it by one per `limit` successes (one more attempt in
//     flight per round without a signal), back up to the cap;
//   - a rate-limited destination's rate follows the same ratio:
//     rate_limit × limit / cap.
//
// A Retry-After on a 429 or 503 also pauses the destination: no new attempt
// starts before it ends (at most maxPause), not only that delivery's retry.
//
// The state is per process, in memory: each process learns from its own
// attempts, and a restart starts again at the cap. A destination back at
// its cap with no pause holds no state, so the healthy hot path costs one
// map lookup.

// maxPause bounds how long one Retry-After holds a destination's new
// attempts back, so that a receiver's typo ("Retry-After: 86400000") cannot
// stall a destination for years; the delivery's own retry still honours it
// up to RETRY_MAX_DELAY.
const maxPause = time.Hour

// adaptive holds every destination's AIMD state in this process.
type adaptive struct {
	log *slog.Logger

	mu sync.Mutex
	m  map[string]*aimd
}

// aimd is one destination's state; a destination without one is at its
// cap and not paused.
type aimd struct {
	limit       int // current concurrency limit, 1..cap
	successes   int // since the last change of limit
	decreasedAt time.Time
	pausedUntil time.Time
}

func newAdaptive(log *slog.Logger) *adaptive {
	return &adaptive{log: log, m: map[string]*aimd{}}
}

// limits returns how many attempts to name may be in flight now, given
// its cap, and until when it is paused (zero when not).
func (a *adaptive) limits(name string, capacity int, now time.Time) (int, time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	st, ok := a.m[name]
	if !ok {
		return capacity, time.Time{}
	}
	if now.Before(st.pausedUntil) {
		return 0, st.pausedUntil
	}
	return min(st.limit, capacity), time.Time{}
}

// rate scales a destination's rate limit by its concurrency limit over
// its cap, so both slow down and recover together.
func (a *adaptive) rate(configured float64, limit, capacity int) float64 {
	if configured <= 0 || limit >= capacity || capacity <= 0 {
		return configured
	}
	return configured * float64(max(limit, 1)) / float64(capacity)
}

// signal is what an attempt's outcome says about the receiver's load.
type signal int

const (
	signalNone signal = iota // a failure that says nothing about load
	signalOK                 // a 2xx
	signalSlow               // 429, 502, 504 or a timeout: slow down
)

// classify reads an attempt's outcome. A 503 is a plain failure (a
// receiver down, not overloaded) unless it carries a Retry-After, which
// pauses the destination.
func classify(res sendResult) signal {
	switch {
	case res.err != nil:
		// send wraps its errors with their failure reason: look inside.
		if errors.As(res.err, new(timeoutError)) {
			return signalSlow
		}
		return signalNone
	case res.status == http.StatusTooManyRequests, res.status == http.StatusBadGateway, res.status == http.StatusGatewayTimeout:
		return signalSlow
	case res.status >= 200 && res.status < 300:
		return signalOK
	}
	return signalNone
}

// observe applies an attempt to name's state: started is when the attempt
// began, now when it ended; capacity is the destination's cap.
func (a *adaptive) observe(name string, capacity int, res sendResult, started, now time.Time) {
	sig := classify(res)
	pause := time.Duration(0)
	if res.retryAfter > 0 && (res.status == http.StatusTooManyRequests || res.status == http.StatusServiceUnavailable) {
		pause = min(res.retryAfter, maxPause)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	st, ok := a.m[name]
	if !ok && sig != signalSlow && pause == 0 {
		return // at the cap, nothing to slow: the hot path
	}
	if !ok {
		st = &aimd{limit: capacity}
		a.m[name] = st
	}
	st.limit = max(min(st.limit, capacity), 1)
	if until := now.Add(pause); pause > 0 && until.After(st.pausedUntil) {
		if !now.Before(st.pausedUntil) { // a new pause, not one extended
			a.log.Info("adaptive delivery: receiver asked to wait; no new attempts until then",
				"destination", name, "status_code", res.status, "paused_until", until)
		}
		st.pausedUntil = until
	}
	switch sig {
	case signalSlow:
		if !started.Before(st.decreasedAt) && st.limit > 1 {
			was := st.limit
			st.limit = max(st.limit/2, 1)
			a.log.Info("adaptive delivery: slowing down", "destination", name, "limit", st.limit, "was", was,
				"cap", capacity, "signal", describeSignal(res))
		}
		if !started.Before(st.decreasedAt) {
			st.decreasedAt = now
		}
		st.successes = 0
	case signalOK:
		if st.limit < capacity {
			st.successes++
			if st.successes >= st.limit {
				st.limit++
				st.successes = 0
			}
		}
		if st.limit >= capacity && !now.Before(st.pausedUntil) {
			delete(a.m, name) // recovered: back to the hot path
			a.log.Info("adaptive delivery: back at the cap", "destination", name, "limit", capacity)
		}
	}
}

// describeSignal names a slow-down signal for the log.
func describeSignal(res sendResult) string {
	if res.err != nil {
		return "timeout"
	}
	return fmt.Sprintf("HTTP %d", res.status)
}

// timeoutError is an attempt that ran out of the destination's timeout:
// a slow-down signal.
type timeoutError struct{ after time.Duration }

func (e timeoutError) Error() string { return fmt.Sprintf("timeout after %s", e.after) }

// Timeout marks it as a timeout for os.IsTimeout and net.Error users.
func (e timeoutError) Timeout() bool { return true }

// AdaptiveState is a destination's adaptive delivery state in this
// process.
type AdaptiveState struct {
	// Limit is how many attempts may be in flight now; Cap is the most it
	// goes back up to (max_in_flight, or the worker count).
	Limit, Cap int
	// Rate is the rate limit in force (attempts per second), 0 when the
	// destination has none.
	Rate float64
	// PausedUntil, when not zero, is when a receiver's Retry-After lets new
	// attempts start again.
	PausedUntil time.Time
}

// Adaptive returns d's adaptive delivery state in this process.
func (e *Engine) Adaptive(d webhook.Destination) AdaptiveState {
	capacity := e.capOf(d)
	now := e.opts.Now()
	e.adaptive.mu.Lock()
	st, ok := e.adaptive.m[d.Name]
	s := AdaptiveState{Limit: capacity, Cap: capacity, Rate: d.RateLimit}
	if ok {
		s.Limit = max(min(st.limit, capacity), 1)
		if now.Before(st.pausedUntil) {
			s.PausedUntil = st.pausedUntil
		}
	}
	e.adaptive.mu.Unlock()
	s.Rate = e.adaptive.rate(d.RateLimit, s.Limit, capacity)
	return s
}

// ConcurrencyLimits returns every configured destination's concurrency
// limit in this process, for metrics. A pause is not shown here (the
// limit is what attempts resume at); the API shows it as paused_until.
func (e *Engine) ConcurrencyLimits() map[string]int {
	out := map[string]int{}
	for _, d := range e.opts.Catalog.Destinations() {
		out[d.Name] = e.Adaptive(d).Limit
	}
	return out
}
