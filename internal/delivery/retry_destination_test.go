package delivery_test

import (
	"testing"
	"time"

	"github.com/hookd/hookd/internal/catalog"
	"github.com/hookd/hookd/internal/delivery"
	"github.com/hookd/hookd/internal/webhook"
)

// TestRetryPolicyFor: a destination's settings replace the global policy
// field by field; an explicit schedule sets the attempts unless
// max_attempts says otherwise, and its delays are kept as written.
func TestRetryPolicyFor(t *testing.T) {
	t.Parallel()
	global := delivery.RetryPolicy{MaxRetries: 5, BaseDelay: time.Second, MaxDelay: time.Minute, Jitter: 0.2}
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	type try struct {
		attempt    int
		retryAfter time.Duration
		random     float64
		wantDelay  time.Duration // 0: permanent_failure
	}
	tests := []struct {
		name     string
		settings webhook.RetrySettings
		tries    []try
	}{
		{"zero follows the global policy", webhook.RetrySettings{}, []try{
			{1, 0, noJitter, time.Second}, {2, 0, 0, 1600 * time.Millisecond}, {5, 0, noJitter, 16 * time.Second}, {6, 0, noJitter, 0},
		}},
		{"max_attempts over exponential", webhook.RetrySettings{MaxAttempts: 3}, []try{
			{1, 0, noJitter, time.Second}, {2, 0, noJitter, 2 * time.Second}, {3, 0, noJitter, 0},
		}},
		{"max_attempts 1: no retry", webhook.RetrySettings{MaxAttempts: 1}, []try{{1, 0, noJitter, 0}}},
		{"a list bounds the attempts", webhook.RetrySettings{Schedule: "5s,5m,30m,2h,5h,10h"}, []try{
			{1, 0, 0, 5 * time.Second}, {2, 0, almostOne, 5 * time.Minute}, {3, 0, noJitter, 30 * time.Minute},
			{6, 0, noJitter, 10 * time.Hour}, {7, 0, noJitter, 0},
		}},
		{"max_attempts beyond the list repeats the last delay", webhook.RetrySettings{Schedule: "1s,10s", MaxAttempts: 5}, []try{
			{1, 0, noJitter, time.Second}, {2, 0, noJitter, 10 * time.Second}, {4, 0, noJitter, 10 * time.Second}, {5, 0, noJitter, 0},
		}},
		{"max_attempts below the list cuts it", webhook.RetrySettings{Schedule: "1s,10s,100s", MaxAttempts: 2}, []try{
			{1, 0, noJitter, time.Second}, {2, 0, noJitter, 0},
		}},
		{"a longer Retry-After wins over a listed delay", webhook.RetrySettings{Schedule: "1s,2h"}, []try{
			{1, 30 * time.Second, noJitter, 30 * time.Second}, // capped by MaxDelay (1m) at most
			{1, 5 * time.Minute, noJitter, time.Minute},
			{2, 3 * time.Hour, noJitter, 2 * time.Hour}, // the entry itself is above MaxDelay: it caps
			{2, time.Minute, noJitter, 2 * time.Hour},
		}},
	}
	for _, tt := range tests {
		p := global.For(tt.settings)
		for _, tr := range tt.tries {
			status, next := p.Next(tr.attempt, now, tr.retryAfter, tr.random)
			switch {
			case tr.wantDelay == 0 && status != webhook.StatusPermanentFailure:
				t.Errorf("%s: attempt %d: %s at %v; want permanent_failure", tt.name, tr.attempt, status, next.Sub(now))
			case tr.wantDelay != 0 && (status != webhook.StatusFailed || next.Sub(now) != tr.wantDelay):
				t.Errorf("%s: attempt %d: %s after %v; want failed, retry after %v", tt.name, tr.attempt, status, next.Sub(now), tr.wantDelay)
			}
		}
	}
}

// TestRetryPolicyMaxAge: an attempt that fails once the event is max_age
// old is the last; a retry that would come later comes at the age limit,
// but never before the receiver's Retry-After.
func TestRetryPolicyMaxAge(t *testing.T) {
	t.Parallel()
	p := delivery.RetryPolicy{MaxRetries: 50, BaseDelay: time.Minute, MaxDelay: time.Hour}.For(webhook.RetrySettings{MaxAge: time.Hour})
	received := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		at         time.Duration // after received
		attempt    int
		retryAfter time.Duration
		want       time.Duration // the retry's time after received; 0: permanent_failure
	}{
		{"young: the backoff", 0, 1, 0, time.Minute},
		{"a retry past the age comes at it", 50 * time.Minute, 5, 0, time.Hour},
		{"Retry-After beyond the age is kept", 50 * time.Minute, 5, 20 * time.Minute, 70 * time.Minute},
		{"at the age: the last", time.Hour, 6, 0, 0},
		{"past the age: the last", 2 * time.Hour, 2, 0, 0},
	}
	for _, tt := range tests {
		status, next := p.NextFor(tt.attempt, received, received.Add(tt.at), tt.retryAfter, noJitter)
		switch {
		case tt.want == 0 && status != webhook.StatusPermanentFailure:
			t.Errorf("%s: %s at %v; want permanent_failure", tt.name, status, next.Sub(received))
		case tt.want != 0 && (status != webhook.StatusFailed || next.Sub(received) != tt.want):
			t.Errorf("%s: %s at %v; want failed, retry at %v", tt.name, status, next.Sub(received), tt.want)
		}
	}
	// Without a received time (unknown) no age applies.
	if status, _ := p.NextFor(1, time.Time{}, received.Add(100*time.Hour), 0, noJitter); status != webhook.StatusFailed {
		t.Errorf("unknown received time: %s; want failed", status)
	}
}

// FuzzRetryPolicyFor: whatever a destination's settings, a failed attempt
// ends the delivery exactly when its attempts are spent, and a retry is
// never scheduled in the past nor, for a listed schedule, sooner than its
// entry.
func FuzzRetryPolicyFor(f *testing.F) {
	f.Add("5s,5m,30m,2h,5h,10h", 0, int64(0), 1, int64(0))
	f.Add("exponential", 3, int64(time.Hour), 7, int64(time.Minute))
	f.Add("1ms", 100, int64(time.Millisecond), 99, int64(-1))
	f.Add("5s,5x", 2, int64(0), 1, int64(0))
	f.Fuzz(func(t *testing.T, schedule string, maxAttempts int, maxAge int64, attempt int, retryAfter int64) {
		settings := webhook.RetrySettings{Schedule: schedule, MaxAttempts: maxAttempts, MaxAge: time.Duration(maxAge)}
		d, err := catalog.ValidateDestination(webhook.Destination{Name: "d", URL: "https://d.example.com", Sources: []string{"s"}, Retry: settings},
			func(string) bool { return true })
		if err != nil {
			return // validation refuses it before the engine sees it
		}
		settings = d.Retry
		p := delivery.RetryPolicy{MaxRetries: 5, BaseDelay: time.Second, MaxDelay: time.Hour, Jitter: 0.2}.For(settings)
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		ra := max(time.Duration(retryAfter), 0)
		status, next := p.NextFor(attempt, now.Add(-time.Minute), now, ra, noJitter)
		if attempt >= 1+p.MaxRetries {
			if status != webhook.StatusPermanentFailure {
				t.Fatalf("attempt %d of %d: %s", attempt, 1+p.MaxRetries, status)
			}
			return
		}
		if status == webhook.StatusPermanentFailure {
			if p.MaxAge <= 0 || p.MaxAge > time.Minute {
				t.Fatalf("attempt %d of %d ended with no age limit reached", attempt, 1+p.MaxRetries)
			}
			return
		}
		if next.Before(now) {
			t.Fatalf("retry at %v, before now %v", next, now)
		}
		if list, _ := webhook.ParseRetrySchedule(schedule); list != nil && attempt >= 1 && p.MaxAge == 0 {
			if entry := list[min(attempt, len(list))-1]; next.Sub(now) < entry {
				t.Fatalf("retry after %v; the schedule says %v", next.Sub(now), entry)
			}
		}
	})
}
