package delivery_test

import (
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/delivery"
	"github.com/hookd/hookd/internal/webhook"
)

// noJitter is the random value at which the jitter factor is exactly 1.
const noJitter = 0.5

// almostOne is the largest random value Delay may be given.
var almostOne = math.Nextafter(1, 0)

func TestRetryPolicyDelay(t *testing.T) {
	t.Parallel()
	standard := delivery.RetryPolicy{MaxRetries: 5, BaseDelay: 5 * time.Second, MaxDelay: time.Hour, Jitter: 0.2}
	tests := []struct {
		name       string
		policy     delivery.RetryPolicy
		n          int
		retryAfter time.Duration
		random     float64
		want       time.Duration
	}{
		// Retry n waits BaseDelay * 2^(n-1).
		{"retry 1 waits the base", standard, 1, 0, noJitter, 5 * time.Second},
		{"retry 2 doubles", standard, 2, 0, noJitter, 10 * time.Second},
		{"retry 3", standard, 3, 0, noJitter, 20 * time.Second},
		{"retry 4", standard, 4, 0, noJitter, 40 * time.Second},
		{"retry 5", standard, 5, 0, noJitter, 80 * time.Second},
		{"retry 10 is still under the cap", standard, 10, 0, noJitter, 2560 * time.Second},
		{"retry 11 is capped", standard, 11, 0, noJitter, time.Hour},
		{"retry 100 is capped", standard, 100, 0, noJitter, time.Hour},
		{"retry 5000 overflows float and is capped", standard, 5000, 0, noJitter, time.Hour},
		{"n below 1 counts as retry 1", standard, 0, 0, noJitter, 5 * time.Second},
		{"negative n counts as retry 1", standard, -3, 0, noJitter, 5 * time.Second},

		// Jitter spreads by ±Jitter.
		{"random 0 is -Jitter", standard, 1, 0, 0, 4 * time.Second},
		{"random 0 on retry 3", standard, 3, 0, 0, 16 * time.Second},
		{"random 0.75 is +Jitter/2", standard, 1, 0, 0.75, 5500 * time.Millisecond},
		{"jitter below the cap", standard, 10, 0, almostOne, 3072 * time.Second},
		{"jitter never exceeds the cap", standard, 11, 0, almostOne, time.Hour},
		{"no jitter configured", delivery.RetryPolicy{BaseDelay: time.Second, MaxDelay: time.Hour}, 2, 0, 0, 2 * time.Second},

		// Retry-After wins when larger, without jitter, capped by MaxDelay.
		{"Retry-After longer wins", standard, 1, 30 * time.Second, noJitter, 30 * time.Second},
		{"Retry-After is not jittered", standard, 1, 30 * time.Second, 0, 30 * time.Second},
		{"Retry-After shorter loses", standard, 3, time.Second, noJitter, 20 * time.Second},
		{"Retry-After equal", standard, 2, 10 * time.Second, noJitter, 10 * time.Second},
		{"Retry-After beats a jittered-down delay", standard, 1, 4500 * time.Millisecond, 0, 4500 * time.Millisecond},
		{"Retry-After above the cap is capped", standard, 1, 3 * time.Hour, noJitter, time.Hour},
		{"huge Retry-After is capped", standard, 1, time.Duration(math.MaxInt64), noJitter, time.Hour},

		// Without MaxDelay nothing caps, but nothing overflows either.
		{"no cap, retry 3", delivery.RetryPolicy{BaseDelay: time.Second}, 3, 0, noJitter, 4 * time.Second},
		{"no cap, Retry-After honoured", delivery.RetryPolicy{BaseDelay: time.Second}, 1, 48 * time.Hour, noJitter, 48 * time.Hour},
		{"no cap, retry 64 saturates", delivery.RetryPolicy{BaseDelay: time.Second}, 64, 0, noJitter, time.Duration(math.MaxInt64)},
		{"no cap, retry 5000 saturates", delivery.RetryPolicy{BaseDelay: time.Second, Jitter: 0.2}, 5000, 0, almostOne, time.Duration(math.MaxInt64)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := tt.policy.Delay(tt.n, tt.retryAfter, tt.random)
			if got != tt.want {
				t.Errorf("%+v.Delay(%d, %s, %v) = %s, want %s", tt.policy, tt.n, tt.retryAfter, tt.random, got, tt.want)
			}
		})
	}
}

func TestRetryPolicyDelayJitterBounds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		jitter float64
		base   time.Duration
	}{
		{"default 20%", 0.2, 10 * time.Second},
		{"10%", 0.1, 7 * time.Second},
		{"50%", 0.5, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := delivery.RetryPolicy{BaseDelay: tt.base, MaxDelay: 24 * time.Hour, Jitter: tt.jitter}
			for n := 1; n <= 6; n++ {
				mid := tt.base << (n - 1)
				lo := time.Duration(float64(mid) * (1 - tt.jitter))
				hi := time.Duration(float64(mid) * (1 + tt.jitter))
				const slack = time.Microsecond // float rounding

				if got := p.Delay(n, 0, 0); absDiff(got, lo) > slack {
					t.Errorf("Delay(%d, 0, 0) = %s, want %s (-%v)", n, got, lo, tt.jitter)
				}
				if got := p.Delay(n, 0, almostOne); absDiff(got, hi) > slack || got > hi {
					t.Errorf("Delay(%d, 0, ~1) = %s, want just under %s (+%v)", n, got, hi, tt.jitter)
				}
				for i := range 100 {
					random := float64(i) / 100
					if got := p.Delay(n, 0, random); got < lo-slack || got > hi {
						t.Errorf("Delay(%d, 0, %v) = %s, outside [%s, %s]", n, random, got, lo, hi)
					}
				}
			}
		})
	}
}

func absDiff(a, b time.Duration) time.Duration {
	if a > b {
		return a - b
	}
	return b - a
}

func TestRetryPolicyNext(t *testing.T) {
	t.Parallel()
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		maxRetries int
		attempt    int
		retryAfter time.Duration
		wantStatus webhook.Status
		wantAt     time.Time
	}{
		{"attempt 1 of 1+5", 5, 1, 0, webhook.StatusFailed, now.Add(5 * time.Second)},
		{"attempt 2 of 1+5", 5, 2, 0, webhook.StatusFailed, now.Add(10 * time.Second)},
		{"attempt 3 of 1+5", 5, 3, 0, webhook.StatusFailed, now.Add(20 * time.Second)},
		{"attempt 4 of 1+5", 5, 4, 0, webhook.StatusFailed, now.Add(40 * time.Second)},
		{"attempt 5 of 1+5, the last retry is scheduled", 5, 5, 0, webhook.StatusFailed, now.Add(80 * time.Second)},
		{"attempt 6 of 1+5 is the last", 5, 6, 0, webhook.StatusPermanentFailure, time.Time{}},
		{"beyond the last (after a replay race)", 5, 9, 0, webhook.StatusPermanentFailure, time.Time{}},
		{"Retry-After is used for the schedule", 5, 1, 2 * time.Minute, webhook.StatusFailed, now.Add(2 * time.Minute)},
		{"Retry-After does not add attempts", 5, 6, 2 * time.Minute, webhook.StatusPermanentFailure, time.Time{}},
		{"MaxRetries 0: the first try is the only one", 0, 1, 0, webhook.StatusPermanentFailure, time.Time{}},
		{"MaxRetries 1: one retry", 1, 1, 0, webhook.StatusFailed, now.Add(5 * time.Second)},
		{"MaxRetries 1: then dead", 1, 2, 0, webhook.StatusPermanentFailure, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := delivery.RetryPolicy{MaxRetries: tt.maxRetries, BaseDelay: 5 * time.Second, MaxDelay: time.Hour, Jitter: 0.2}
			status, at := p.Next(tt.attempt, now, tt.retryAfter, noJitter)
			if status != tt.wantStatus || !at.Equal(tt.wantAt) {
				t.Errorf("Next(%d) with MaxRetries %d = (%s, %v), want (%s, %v)",
					tt.attempt, tt.maxRetries, status, at, tt.wantStatus, tt.wantAt)
			}
		})
	}
}

// TestRetryPolicyAttemptBudget walks a delivery through its failures and
// counts the attempts: exactly 1+MaxRetries, as DESIGN.md promises.
func TestRetryPolicyAttemptBudget(t *testing.T) {
	t.Parallel()
	for _, maxRetries := range []int{0, 1, 2, 5, 10, 100} {
		p := delivery.RetryPolicy{MaxRetries: maxRetries, BaseDelay: time.Second, MaxDelay: time.Hour, Jitter: 0.2}
		now := time.Unix(1_700_000_000, 0)
		attempts := 0
		for {
			attempts++
			status, at := p.Next(attempts, now, 0, 0.3)
			if status == webhook.StatusPermanentFailure {
				if !at.IsZero() {
					t.Errorf("MaxRetries %d: permanent failure scheduled at %v, want zero time", maxRetries, at)
				}
				break
			}
			if status != webhook.StatusFailed {
				t.Fatalf("MaxRetries %d: attempt %d gave status %q", maxRetries, attempts, status)
			}
			if !at.After(now) {
				t.Fatalf("MaxRetries %d: attempt %d scheduled at %v, not after %v", maxRetries, attempts, at, now)
			}
			now = at
			if attempts > 1000 {
				t.Fatalf("MaxRetries %d: never gave up", maxRetries)
			}
		}
		if attempts != 1+maxRetries {
			t.Errorf("MaxRetries %d: %d attempts, want %d", maxRetries, attempts, 1+maxRetries)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		header string
		want   time.Duration
	}{
		{"absent", "", 0},
		{"blank", "   ", 0},
		{"seconds", "120", 2 * time.Minute},
		{"one second", "1", time.Second},
		{"surrounding space", "  30 ", 30 * time.Second},
		{"zero", "0", 0},
		{"negative", "-5", 0},
		{"fraction", "1.5", 0},
		{"garbage", "soon", 0},
		{"trailing garbage", "10s", 0},
		{"hex", "0x10", 0},
		{"huge seconds saturate", "9223372036854775807", time.Duration(math.MaxInt64)},
		{"seconds beyond Duration saturate", "9223372037", time.Duration(math.MaxInt64)},
		{"largest seconds that fit", "9223372036", 9223372036 * time.Second},
		{"seconds beyond int64 saturate", "99999999999999999999999", time.Duration(math.MaxInt64)},
		{"hugely negative", "-99999999999999999999999", 0},
		{"HTTP-date (IMF-fixdate)", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{"HTTP-date (RFC 850)", "Wednesday, 01-May-24 12:05:00 GMT", 5 * time.Minute},
		{"HTTP-date (asctime)", "Wed May  1 13:00:00 2024", time.Hour},
		{"HTTP-date now", now.Format(http.TimeFormat), 0},
		{"HTTP-date in the past", now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"HTTP-date far in the past", "Thu, 01 Jan 1970 00:00:00 GMT", 0},
		{"HTTP-date far in the future", "Fri, 31 Dec 9999 23:59:59 GMT", time.Duration(math.MaxInt64)},
		{"malformed date", "Wed, 32 May 2024 12:00:00 GMT", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := delivery.ParseRetryAfter(tt.header, now); got != tt.want {
				t.Errorf("ParseRetryAfter(%q) = %s, want %s", tt.header, got, tt.want)
			}
		})
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, seed := range []string{
		"", "0", "1", "120", "-1", " 30 ", "1.5", "soon",
		"9223372036854775807", "9223372037", "99999999999999999999999", "-99999999999999999999999",
		"+5", "Wed, 01 May 2024 12:01:30 GMT", "Wednesday, 01-May-24 12:05:00 GMT", "Wed May  1 13:00:00 2024",
		"Thu, 01 Jan 1970 00:00:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT", "Mon, 01 Jan 0001 00:00:00 GMT",
	} {
		f.Add(seed, int64(0))
	}
	f.Add("Wed, 01 May 2024 12:01:30 GMT", int64(-1<<62))
	f.Add("Wed, 01 May 2024 12:01:30 GMT", int64(1<<62))
	f.Fuzz(func(t *testing.T, header string, shift int64) {
		at := now.Add(time.Duration(shift))
		d := delivery.ParseRetryAfter(header, at)
		if d < 0 {
			t.Fatalf("ParseRetryAfter(%q, %v) = %s, negative", header, at, d)
		}
	})
}

func FuzzRetryPolicyDelay(f *testing.F) {
	f.Add(1, int64(0), 0.5, 0.2, int64(5*time.Second), int64(time.Hour))
	f.Add(11, int64(0), 0.999, 0.2, int64(5*time.Second), int64(time.Hour))
	f.Add(5000, int64(0), 0.0, 1.0, int64(5*time.Second), int64(time.Hour))
	f.Add(64, int64(math.MaxInt64), 0.0, 0.2, int64(time.Second), int64(0))
	f.Add(3, int64(time.Minute), 0.25, 0.0, int64(time.Millisecond), int64(time.Second))
	f.Fuzz(func(t *testing.T, n int, retryAfter int64, random, jitter float64, base, maxDelay int64) {
		// Delay's contract covers random in [0, 1), a jitter in [0, 1], and
		// non-negative durations, which is what the engine and config give it.
		if !(random >= 0 && random < 1) || !(jitter >= 0 && jitter <= 1) || retryAfter < 0 || base < 0 || maxDelay < 0 {
			t.Skip()
		}
		p := delivery.RetryPolicy{BaseDelay: time.Duration(base), MaxDelay: time.Duration(maxDelay), Jitter: jitter}
		d := p.Delay(n, time.Duration(retryAfter), random)
		if d < 0 {
			t.Fatalf("%+v.Delay(%d, %d, %v) = %s, negative", p, n, retryAfter, random, d)
		}
		if p.MaxDelay > 0 && d > p.MaxDelay {
			t.Fatalf("%+v.Delay(%d, %d, %v) = %s, above MaxDelay", p, n, retryAfter, random, d)
		}
		if d < time.Duration(retryAfter) && (p.MaxDelay == 0 || d < p.MaxDelay) {
			t.Fatalf("%+v.Delay(%d, %d, %v) = %s, shorter than Retry-After", p, n, retryAfter, random, d)
		}
	})
}
