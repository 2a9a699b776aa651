package catalog

import (
	"errors"
	"strings"
	"time"

	"github.com/hookd/hookd/internal/webhook"
)

// Bounds of a destination's retry policy.
const (
	// maxRetryAttempts bounds retry.max_attempts: with the default
	// exponential schedule capped at RETRY_MAX_DELAY (1h), 100 attempts
	// already span four days.
	maxRetryAttempts = 100
	// maxRetryAge bounds retry.max_age; keep events (HOOKD_RETENTION)
	// longer than this.
	maxRetryAge = 90 * 24 * time.Hour
)

// validateRetry checks a destination's retry policy and writes its
// schedule the one way ParseRetrySchedule reads it ("" for exponential,
// "5s,5m,30m" for a list), so that what is stored and shown is canonical.
func validateRetry(r *webhook.RetrySettings, p *problems) {
	if r.MaxAttempts < 0 || r.MaxAttempts > maxRetryAttempts {
		p.add("retry.max_attempts", "must be between 1 and %d (0: the schedule's length plus one, or MAX_RETRIES plus one)", maxRetryAttempts)
	}
	if r.MaxAge < 0 || r.MaxAge > maxRetryAge {
		p.add("retry.max_age", "must be between 1ms and %s (0: no age limit)", maxRetryAge)
	}
	schedule, err := webhook.ParseRetrySchedule(r.Schedule)
	var fe *webhook.FieldError
	switch {
	case errors.As(err, &fe):
		p.add("retry."+fe.Field, "%s", fe.Msg)
	case err != nil:
		p.add("retry.schedule", "%v", err)
	case schedule == nil:
		r.Schedule = ""
	default:
		r.Schedule = webhook.FormatRetrySchedule(schedule)
	}
	r.Schedule = strings.TrimSpace(r.Schedule)
}
