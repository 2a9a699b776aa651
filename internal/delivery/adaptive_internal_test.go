package delivery

import (
	"errors"
	"github.com/hookd/hookd/internal/webhook"
	"log/slog"
	"net/http"
	"testing"
	"time"
)

// errConnRefused stands for a transport error other than a timeout.
var errConnRefused = errors.New("connection refused")

// outcome is one attempt fed to the AIMD state: what came back, when it
// started and when it ended (seconds from t0).
type outcome struct {
	res           sendResult
	started, done float64
}

func TestAdaptiveLimits(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	ok := sendResult{status: http.StatusOK}
	tooMany := sendResult{status: http.StatusTooManyRequests}
	tooManyWait := sendResult{status: http.StatusTooManyRequests, retryAfter: 3 * time.Second}
	unavailableWait := sendResult{status: http.StatusServiceUnavailable, retryAfter: 2 * time.Second}
	unavailable := sendResult{status: http.StatusServiceUnavailable}
	badGateway := sendResult{status: http.StatusBadGateway}
	gatewayTimeout := sendResult{status: http.StatusGatewayTimeout}
	timeout := sendResult{err: timeoutError{time.Second}}
	// As send returns it: with its failure reason.
	sentTimeout := sendResult{err: withReason(webhook.ReasonTimeout, timeoutError{time.Second})}
	refused := sendResult{err: errConnRefused}
	serverError := sendResult{status: http.StatusInternalServerError}
	repeat := func(n int, o outcome) []outcome {
		out := make([]outcome, n)
		for i := range out {
			out[i] = o
			out[i].started += float64(i) * 0.001
			out[i].done += float64(i) * 0.001
		}
		return out
	}
	concat := func(parts ...[]outcome) []outcome {
		var out []outcome
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	tests := []struct {
		name      string
		capacity  int
		outcomes  []outcome
		now       float64
		wantLimit int
		wantPause float64 // seconds from t0, 0 when not paused at now
	}{
		{"no signal: the cap", 16, nil, 0, 16, 0},
		{"successes at the cap stay at the cap", 16, repeat(5, outcome{ok, 0, 0.1}), 1, 16, 0},
		{"one 429 halves", 16, []outcome{{tooMany, 0, 0.1}}, 1, 8, 0},
		{"502 halves", 16, []outcome{{badGateway, 0, 0.1}}, 1, 8, 0},
		{"504 halves", 16, []outcome{{gatewayTimeout, 0, 0.1}}, 1, 8, 0},
		{"a timeout halves", 16, []outcome{{timeout, 0, 0.1}}, 1, 8, 0},
		{"a timeout as send reports it halves", 16, []outcome{{sentTimeout, 0, 0.1}}, 1, 8, 0},
		{"500 says nothing of load", 16, []outcome{{serverError, 0, 0.1}}, 1, 16, 0},
		{"503 without Retry-After says nothing of load", 16, []outcome{{unavailable, 0, 0.1}}, 1, 16, 0},
		{"a refused connection says nothing of load", 16, []outcome{{refused, 0, 0.1}}, 1, 16, 0},
		{"a burst in flight together halves once", 16, repeat(10, outcome{tooMany, 0, 0.5}), 1, 8, 0},
		{"signals from attempts started after the decrease halve again", 16,
			[]outcome{{tooMany, 0, 0.5}, {tooMany, 0.1, 0.6}, {tooMany, 0.6, 0.7}, {tooMany, 0.8, 0.9}}, 1, 2, 0},
		{"the floor is 1", 16, []outcome{{tooMany, 0, 0.1}, {tooMany, 0.2, 0.3}, {tooMany, 0.4, 0.5}, {tooMany, 0.6, 0.7}, {tooMany, 0.8, 0.9}, {tooMany, 1, 1.1}}, 2, 1, 0},
		{"one more per limit successes", 16, concat([]outcome{{tooMany, 0, 0.1}}, repeat(8, outcome{ok, 0.2, 0.3})), 1, 9, 0},
		{"short of a round: no increase", 16, concat([]outcome{{tooMany, 0, 0.1}}, repeat(7, outcome{ok, 0.2, 0.3})), 1, 8, 0},
		{"recovers to the cap", 4, concat([]outcome{{tooMany, 0, 0.1}, {tooMany, 0.2, 0.3}}, repeat(1+2+3, outcome{ok, 0.4, 0.5})), 1, 4, 0},
		{"never above the cap", 4, concat([]outcome{{tooMany, 0, 0.1}}, repeat(50, outcome{ok, 0.4, 0.5})), 1, 4, 0},
		{"a signal resets the success count", 16,
			concat([]outcome{{tooMany, 0, 0.1}}, repeat(7, outcome{ok, 0.2, 0.3}), []outcome{{serverError, 0.2, 0.3}, {tooMany, 0.05, 0.35}}, repeat(7, outcome{ok, 0.4, 0.5})), 1, 8, 0},
		{"Retry-After on 429 pauses and halves", 16, []outcome{{tooManyWait, 0, 0.5}}, 1, 0, 3.5},
		{"Retry-After on 503 pauses without halving", 16, []outcome{{unavailableWait, 0, 0.5}}, 1, 0, 2.5},
		{"the pause ends", 16, []outcome{{tooManyWait, 0, 0.5}}, 4, 8, 0},
		{"the later pause wins", 16, []outcome{{tooManyWait, 0, 0.5}, {unavailableWait, 0, 0.6}}, 1, 0, 3.5},
		{"Retry-After on a 500 does not pause", 16, []outcome{{sendResult{status: 500, retryAfter: time.Minute}, 0, 0.5}}, 1, 16, 0},
		{"a huge Retry-After pauses at most maxPause", 16, []outcome{{sendResult{status: 429, retryAfter: 1000 * time.Hour}, 0, 0}}, 1, 0, maxPause.Seconds()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newAdaptive(slog.New(slog.DiscardHandler))
			for _, o := range tt.outcomes {
				a.observe("d", tt.capacity, o.res, at(o.started), at(o.done))
			}
			limit, paused := a.limits("d", tt.capacity, at(tt.now))
			if limit != tt.wantLimit {
				t.Errorf("limit = %d, want %d", limit, tt.wantLimit)
			}
			var wantPause time.Time
			if tt.wantPause > 0 {
				wantPause = at(tt.wantPause)
			}
			if !paused.Equal(wantPause) {
				t.Errorf("paused until %v, want %v", paused, wantPause)
			}
		})
	}
}

// TestAdaptiveRecoveredHoldsNoState: a destination back at its cap costs
// nothing on the hot path.
func TestAdaptiveRecoveredHoldsNoState(t *testing.T) {
	t.Parallel()
	a := newAdaptive(slog.New(slog.DiscardHandler))
	now := time.Now()
	a.observe("d", 2, sendResult{status: 429}, now, now)
	if len(a.m) != 1 {
		t.Fatalf("after a 429: %d states, want 1", len(a.m))
	}
	a.observe("d", 2, sendResult{status: 200}, now, now)
	if len(a.m) != 0 {
		t.Fatalf("back at the cap: %d states, want 0", len(a.m))
	}
	a.observe("d", 2, sendResult{status: 200}, now, now)
	if len(a.m) != 0 {
		t.Fatalf("a success at the cap made a state")
	}
}

func TestAdaptiveRate(t *testing.T) {
	t.Parallel()
	a := newAdaptive(slog.New(slog.DiscardHandler))
	tests := []struct {
		configured      float64
		limit, capacity int
		want            float64
	}{
		{0, 1, 16, 0},
		{100, 16, 16, 100},
		{100, 8, 16, 50},
		{100, 1, 16, 6.25},
		{100, 0, 16, 6.25}, // paused: the floor's rate
		{100, 20, 16, 100},
	}
	for _, tt := range tests {
		if got := a.rate(tt.configured, tt.limit, tt.capacity); got != tt.want {
			t.Errorf("rate(%v, %d, %d) = %v, want %v", tt.configured, tt.limit, tt.capacity, got, tt.want)
		}
	}
}

func BenchmarkAdaptiveHealthy(b *testing.B) {
	a := newAdaptive(slog.New(slog.DiscardHandler))
	now := time.Now()
	res := sendResult{status: http.StatusOK}
	for b.Loop() {
		a.observe("d", 16, res, now, now)
		a.limits("d", 16, now)
	}
}
