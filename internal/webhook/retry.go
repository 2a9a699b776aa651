package webhook

import (
	"fmt"
	"strings"
	"time"
)

// RetrySettings is a destination's own retry policy. The zero value means
// "as configured globally" (MAX_RETRIES, RETRY_BASE_DELAY, RETRY_MAX_DELAY):
// each field left zero falls back on its own.
type RetrySettings struct {
	// MaxAttempts bounds the attempts of one delivery, the first included.
	// 0: the length of an explicit Schedule plus one, or else 1+MAX_RETRIES.
	MaxAttempts int `json:",omitempty"`
	// MaxAge ends the retries of a delivery whose event is older than this
	// when an attempt fails; 0: no age limit.
	MaxAge time.Duration `json:",omitempty"`
	// Schedule is RetryExponential (also spelled "") or a comma-separated
	// list of delays, "5s,5m,30m,2h,5h,10h": the delay before retry n is
	// the n-th entry, and the last one repeats when MaxAttempts asks for
	// more retries than the list holds.
	Schedule string `json:",omitempty"`
}

// RetryExponential names the default schedule: RETRY_BASE_DELAY doubled
// at each retry, with jitter, capped by RETRY_MAX_DELAY.
const RetryExponential = "exponential"

// Bounds of a retry schedule.
const (
	// MaxRetryScheduleEntries bounds the delays of an explicit schedule.
	MaxRetryScheduleEntries = 50
	// MaxRetryScheduleDelay bounds one delay of an explicit schedule.
	MaxRetryScheduleDelay = 7 * 24 * time.Hour
)

// ParseRetrySchedule reads a Schedule. It returns nil for the exponential
// schedule ("" or "exponential", any case), else the delays in order, each
// between 1ms and MaxRetryScheduleDelay. A bad entry is reported as a
// *FieldError named "schedule[i]" (i from 0), so that a caller can prefix
// the field it sits in ("retry.schedule[2]").
func ParseRetrySchedule(s string) ([]time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, RetryExponential) {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	if len(parts) > MaxRetryScheduleEntries {
		return nil, &FieldError{Field: "schedule", Msg: fmt.Sprintf("at most %d delays", MaxRetryScheduleEntries)}
	}
	out := make([]time.Duration, len(parts))
	for i, p := range parts {
		p = strings.TrimSpace(p)
		field := fmt.Sprintf("schedule[%d]", i)
		d, err := time.ParseDuration(p)
		switch {
		case p == "":
			return nil, &FieldError{Field: field, Msg: "is empty; write delays such as 5s,5m,30m or \"exponential\""}
		case err != nil:
			return nil, &FieldError{Field: field, Msg: fmt.Sprintf("%q is not a duration such as 5s, 30m or 2h", p)}
		case d < time.Millisecond || d > MaxRetryScheduleDelay:
			return nil, &FieldError{Field: field, Msg: fmt.Sprintf("%q must be between 1ms and %s", p, MaxRetryScheduleDelay)}
		}
		out[i] = d
	}
	return out, nil
}

// FormatRetrySchedule writes delays the way ParseRetrySchedule reads them;
// nil is RetryExponential.
func FormatRetrySchedule(delays []time.Duration) string {
	if len(delays) == 0 {
		return RetryExponential
	}
	parts := make([]string, len(delays))
	for i, d := range delays {
		parts[i] = formatDelay(d)
	}
	return strings.Join(parts, ",")
}

// formatDelay writes d shortly: "5m" rather than time.Duration's "5m0s".
func formatDelay(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
