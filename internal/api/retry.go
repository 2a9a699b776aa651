package api

import (
	"time"

	"github.com/hookd/hookd/internal/webhook"
)

// RetryView is a destination's retry policy, in requests and answers.
// Every field left out follows the global policy (MAX_RETRIES,
// RETRY_BASE_DELAY, RETRY_MAX_DELAY); see docs/delivery.md.
type RetryView struct {
	// MaxAttempts bounds attempts, the first included, 1-100; 0 or absent:
	// the schedule's length plus one, or MAX_RETRIES plus one.
	MaxAttempts int `json:"max_attempts,omitempty"`
	// MaxAge is a Go duration ("24h"): an attempt that fails when the
	// event is that old is the last.
	MaxAge string `json:"max_age,omitempty"`
	// Schedule is "exponential" (the default) or delays such as
	// "5s,5m,30m,2h,5h,10h".
	Schedule string `json:"schedule,omitempty"`
}

// retryView shows r; the schedule is always named.
func retryView(r webhook.RetrySettings) RetryView {
	v := RetryView{MaxAttempts: r.MaxAttempts, Schedule: r.Schedule}
	if r.MaxAge > 0 {
		v.MaxAge = r.MaxAge.String()
	}
	if v.Schedule == "" {
		v.Schedule = webhook.RetryExponential
	}
	return v
}

// retrySettings reads a request's retry policy; the catalog validates the
// rest.
func retrySettings(v *RetryView) (webhook.RetrySettings, error) {
	if v == nil {
		return webhook.RetrySettings{}, nil
	}
	r := webhook.RetrySettings{MaxAttempts: v.MaxAttempts, Schedule: v.Schedule}
	if v.MaxAge != "" {
		d, err := time.ParseDuration(v.MaxAge)
		if err != nil || d <= 0 {
			return r, invalid("retry.max_age", "%q is not a positive duration such as 24h", v.MaxAge)
		}
		r.MaxAge = d
	}
	return r, nil
}

// AdaptiveView is a destination's adaptive delivery state in the process
// that answers (each process adapts on its own; docs/delivery.md).
type AdaptiveView struct {
	// Limit is how many attempts may be in flight now; it halves on 429,
	// 502, 504 and timeouts and climbs back to Cap on successes.
	Limit int `json:"limit"`
	Cap   int `json:"cap"`
	// RateLimit is the rate in force, rate_limit scaled by limit/cap;
	// absent when the destination has none.
	RateLimit float64 `json:"rate_limit,omitempty"`
	// PausedUntil is when a receiver's Retry-After lets new attempts start.
	PausedUntil *time.Time `json:"paused_until,omitempty"`
}
