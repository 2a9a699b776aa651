package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/app"
	"github.com/hookd/hookd/internal/config"
	"github.com/hookd/hookd/internal/receiver"
	"github.com/hookd/hookd/internal/webhook"
)

// loadReceiver is a loopback receiver that answers 200 after healthyDelay,
// or, while overloaded, 429 with Retry-After after a short delay, and
// measures in time buckets how many requests it held at once and what it
// answered.
type loadReceiver struct {
	overloaded   atomic.Bool
	healthyDelay time.Duration
	retryAfter   string
	start        time.Time
	bucket       time.Duration

	mu       sync.Mutex
	inFlight int
	buckets  []loadBucket
}

type loadBucket struct {
	maxInFlight, ok, tooMany int
}

func (l *loadReceiver) at(now time.Time) *loadBucket {
	i := int(now.Sub(l.start) / l.bucket)
	for len(l.buckets) <= i {
		l.buckets = append(l.buckets, loadBucket{})
	}
	return &l.buckets[i]
}

func (l *loadReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	overloaded := l.overloaded.Load()
	l.mu.Lock()
	l.inFlight++
	b := l.at(time.Now())
	b.maxInFlight = max(b.maxInFlight, l.inFlight)
	l.mu.Unlock()
	delay := l.healthyDelay
	if overloaded {
		delay = 2 * time.Millisecond
	}
	time.Sleep(delay)
	l.mu.Lock()
	l.inFlight--
	b = l.at(time.Now())
	if overloaded {
		b.tooMany++
	} else {
		b.ok++
	}
	l.mu.Unlock()
	if overloaded {
		w.Header().Set("Retry-After", l.retryAfter)
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// maxInFlight is the most requests held at once in the buckets that lie
// wholly within [from, to).
func (l *loadReceiver) maxInFlight(from, to time.Duration) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := 0
	for i, b := range l.buckets {
		if at := time.Duration(i) * l.bucket; at >= from && at+l.bucket <= to {
			m = max(m, b.maxInFlight)
		}
	}
	return m
}

// limitSample is the destination's concurrency limit as /metrics showed it.
type limitSample struct {
	at    time.Duration
	limit int
}

// scrapeLimit reads hookd_delivery_concurrency_limit for destination from
// /metrics; -1 when absent.
func (ta *testApp) scrapeLimit(t *testing.T, destination string) int {
	t.Helper()
	resp, err := ta.client.Get(ta.base + "/metrics")
	if err != nil {
		t.Errorf("GET /metrics: %v", err)
		return -1
	}
	defer resp.Body.Close()
	prefix := `hookd_delivery_concurrency_limit{destination="` + destination + `"} `
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Errorf("metric %q: %v", sc.Text(), err)
				return -1
			}
			return int(n)
		}
	}
	return -1
}

// TestAdaptiveDeliveryBacksOffAndRecovers: a destination whose receiver
// answers 429 with Retry-After sees its concurrency limit fall (halved per
// round, down to 1, with pauses) while the 429s come, and climb back to
// its cap once the receiver is healthy again; the receiver, on loopback,
// measures the concurrency it actually got. The breaker is off, so what is
// measured is adaptive delivery alone. Run with -v to see the curve
// (docs/delivery.md).
func TestAdaptiveDeliveryBacksOffAndRecovers(t *testing.T) {
	t.Parallel()
	const capacity = 16
	rcv := &loadReceiver{healthyDelay: 20 * time.Millisecond, retryAfter: "1", start: time.Now(), bucket: 250 * time.Millisecond}
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)
	ta := setupWith(t, func(cfg *config.Config) {
		cfg.MaxRetries = 50
		cfg.RetryBaseDelay = 50 * time.Millisecond
		cfg.RetryMaxDelay = time.Second
		cfg.BreakerFailures = 0
		cfg.AdminPassword = "correct horse battery staple"
		cfg.Sources = []webhook.Source{testSource("github")}
		d := testDestination("slow", srv.URL, newSecret(t), "github")
		d.MaxInFlight = capacity
		cfg.Destinations = []webhook.Destination{d}
	}, func(opts *app.Options) { opts.DeferDelivery = true })
	token := ta.login(t)

	var (
		mu      sync.Mutex
		samples []limitSample
	)
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			n := ta.scrapeLimit(t, "slow")
			mu.Lock()
			samples = append(samples, limitSample{time.Since(rcv.start), n})
			mu.Unlock()
		}
	}()
	defer func() { close(stop); <-sampled }()
	waitLimit := func(what string, timeout time.Duration, ok func(int) bool) time.Duration {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for time.Now().Before(deadline) {
			mu.Lock()
			n := len(samples)
			var last limitSample
			if n > 0 {
				last = samples[n-1]
			}
			mu.Unlock()
			if n > 0 && ok(last.limit) {
				return last.at
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("timed out waiting for the limit %s", what)
		return 0
	}
	// Eight senders at once, so that a backlog builds and the limit, not
	// the arrival rate, decides the concurrency.
	send := func(n int) {
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := g; i < n; i += 8 {
					if status, raw, err := ta.tryPost("/webhook/github", fmt.Appendf(nil, `{"n":%d}`, i), jsonHeader()); err != nil || status != http.StatusAccepted {
						t.Errorf("ingest: %d %s %v", status, raw, err)
						return
					}
				}
			})
		}
		wg.Wait()
	}

	// Healthy: a backlog, stored before delivery starts, fills the cap.
	send(300)
	if err := ta.StartDelivery(t.Context()); err != nil {
		t.Fatal(err)
	}
	healthy := waitLimit("at the cap", 10*time.Second, func(n int) bool { return n == capacity })
	ta.records.waitFor(t, 20*time.Second, "the healthy backlog", func(rs []attemptRecord) bool { return len(rs) >= 200 })
	overloadAt := time.Since(rcv.start)
	rcv.overloaded.Store(true)
	send(300)
	low := waitLimit("down to 1", 20*time.Second, func(n int) bool { return n <= 1 })
	// Stay overloaded a while at the floor, then heal.
	time.Sleep(2 * time.Second)
	healAt := time.Since(rcv.start)
	rcv.overloaded.Store(false)
	send(600)
	back := waitLimit("back at the cap", 30*time.Second, func(n int) bool { return n == capacity })
	time.Sleep(500 * time.Millisecond)
	end := time.Since(rcv.start)

	// What the receiver measured.
	before := rcv.maxInFlight(0, overloadAt)
	during := rcv.maxInFlight(low+rcv.bucket, healAt)
	after := rcv.maxInFlight(back-rcv.bucket, end+rcv.bucket)
	if before < capacity/2 {
		t.Errorf("healthy: the receiver held at most %d at once; want near the cap %d", before, capacity)
	}
	if during > 2 {
		t.Errorf("overloaded at the floor: the receiver held up to %d at once; want at most 2", during)
	}
	if after < capacity/2 {
		t.Errorf("recovered: the receiver held at most %d at once; want near the cap %d", after, capacity)
	}

	status, raw := ta.call(t, token, "GET", "/api/destinations/slow", nil)
	var view struct {
		Adaptive *struct{ Limit, Cap int }
	}
	if status != http.StatusOK || json.Unmarshal(raw, &view) != nil || view.Adaptive == nil || view.Adaptive.Cap != capacity {
		t.Errorf("GET /api/destinations/slow: %d %s; want adaptive with cap %d", status, raw, capacity)
	}

	// The curve, for docs/delivery.md.
	mu.Lock()
	defer mu.Unlock()
	t.Logf("healthy until %v (limit %d at %v), 429 + Retry-After: 1 from %v (limit 1 at %v) to %v, limit back at %d at %v",
		overloadAt.Round(time.Millisecond), capacity, healthy.Round(time.Millisecond), overloadAt.Round(time.Millisecond),
		low.Round(time.Millisecond), healAt.Round(time.Millisecond), capacity, back.Round(time.Millisecond))
	t.Logf("%8s %6s %12s %6s %6s", "t", "limit", "receiver_max", "200s", "429s")
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	for i, b := range rcv.buckets {
		at := time.Duration(i) * rcv.bucket
		limit := -1
		for _, s := range samples {
			if s.at < at+rcv.bucket {
				limit = s.limit
			}
		}
		t.Logf("%8s %6d %12d %6d %6d", at, limit, b.maxInFlight, b.ok, b.tooMany)
	}
}

// TestGoneDisablesDestination: a 410 Gone ends the delivery at once
// (permanent_failure, no retry) and disables the destination with the
// reason "receiver answered 410 Gone", so the next event waits without an
// attempt; enabling it through the API delivers that event.
func TestGoneDisablesDestination(t *testing.T) {
	t.Parallel()
	var gone atomic.Bool
	gone.Store(true)
	rcv := startReceiver(t, func(_ context.Context, _ receiver.Arrival) int {
		if gone.Load() {
			return http.StatusGone
		}
		return http.StatusOK
	})
	ta := setup(t, func(cfg *config.Config) {
		cfg.MaxRetries = 3
		cfg.AdminPassword = "correct horse battery staple"
		cfg.Sources = []webhook.Source{testSource("github")}
		cfg.Destinations = []webhook.Destination{testDestination("old", rcv.URL(), newSecret(t), "github")}
	})
	token := ta.login(t)
	first := ta.mustAccept(t, "github", []byte(`{"n":1}`), jsonHeader())
	ta.waitTerminal(t, 10*time.Second, 1, webhook.StatusPermanentFailure)
	d := ta.deliveriesByDestination(t, first.ID)["old"]
	if attempts := ta.attempts(t, d.ID); len(attempts) != 1 || attempts[0].StatusCode != http.StatusGone {
		t.Fatalf("attempts = %+v; want one, 410", attempts)
	}

	type view struct {
		Circuit struct {
			Circuit        string `json:"circuit"`
			DisabledReason string `json:"disabled_reason"`
		} `json:"circuit"`
	}
	status, raw := ta.call(t, token, "GET", "/api/destinations/old", nil)
	var v view
	if status != http.StatusOK || json.Unmarshal(raw, &v) != nil {
		t.Fatalf("GET /api/destinations/old: %d %s", status, raw)
	}
	if v.Circuit.Circuit != "disabled" || v.Circuit.DisabledReason != "receiver answered 410 Gone" {
		t.Fatalf("circuit = %+v; want disabled, \"receiver answered 410 Gone\"", v.Circuit)
	}

	// The next event waits: no attempt while disabled.
	second := ta.mustAccept(t, "github", []byte(`{"n":2}`), jsonHeader())
	time.Sleep(300 * time.Millisecond) // several dispatcher rounds; nothing may arrive
	if n := len(rcv.Arrivals()); n != 1 {
		t.Fatalf("%d arrivals while disabled; want only the first", n)
	}
	gone.Store(false)
	if status, raw := ta.call(t, token, "POST", "/api/destinations/old/enable", nil); status != http.StatusOK {
		t.Fatalf("enable: %d %s", status, raw)
	}
	ta.records.waitFor(t, 15*time.Second, "the second event delivered", func(rs []attemptRecord) bool {
		return countFinal(rs, webhook.StatusSuccess) == 1
	})
	if got := ta.deliveriesByDestination(t, second.ID)["old"].Status; got != webhook.StatusSuccess {
		t.Errorf("second delivery %s; want success", got)
	}
}

// TestRetryPolicyPerDestination: each destination follows its own retry
// policy: an explicit schedule (its length bounds the attempts, its delays
// are kept without jitter), max_attempts over the global exponential
// backoff, and max_age, which ends retries once the event is that old.
func TestRetryPolicyPerDestination(t *testing.T) {
	t.Parallel()
	rcv := startReceiver(t, receiver.Always(http.StatusInternalServerError))
	dest := func(name string, r webhook.RetrySettings) webhook.Destination {
		d := testDestination(name, rcv.URL(), newSecret(t), "github")
		d.Retry = r
		return d
	}
	ta := setup(t, func(cfg *config.Config) {
		cfg.MaxRetries = 3
		cfg.RetryBaseDelay = 20 * time.Millisecond
		cfg.BreakerFailures = 0
		cfg.Sources = []webhook.Source{testSource("github")}
		cfg.Destinations = []webhook.Destination{
			dest("listed", webhook.RetrySettings{Schedule: "50ms,300ms"}),
			dest("listed-longer", webhook.RetrySettings{Schedule: "30ms", MaxAttempts: 4}),
			dest("two", webhook.RetrySettings{MaxAttempts: 2}),
			dest("global", webhook.RetrySettings{}),
			dest("aged", webhook.RetrySettings{Schedule: "100ms", MaxAttempts: 100, MaxAge: 350 * time.Millisecond}),
		}
	})
	acc := ta.mustAccept(t, "github", []byte(`{"n":1}`), jsonHeader())
	ta.waitTerminal(t, 20*time.Second, 5, webhook.StatusPermanentFailure)
	byDest := ta.deliveriesByDestination(t, acc.ID)
	gaps := func(name string) []time.Duration {
		attempts := ta.attempts(t, byDest[name].ID)
		var out []time.Duration
		for i := 1; i < len(attempts); i++ {
			prev := attempts[i-1]
			out = append(out, attempts[i].StartedAt.Sub(prev.StartedAt.Add(prev.Duration)))
		}
		return out
	}
	tests := []struct {
		dest     string
		attempts int
		minGaps  []time.Duration // each gap at least this (the schedule is not jittered)
	}{
		{"listed", 3, []time.Duration{50 * time.Millisecond, 300 * time.Millisecond}},
		{"listed-longer", 4, []time.Duration{30 * time.Millisecond, 30 * time.Millisecond, 30 * time.Millisecond}},
		{"two", 2, nil},
		{"global", 4, nil},
	}
	for _, tt := range tests {
		g := gaps(tt.dest)
		if len(g)+1 != tt.attempts {
			t.Errorf("%s: %d attempts; want %d", tt.dest, len(g)+1, tt.attempts)
			continue
		}
		for i, want := range tt.minGaps {
			if g[i] < want-time.Millisecond {
				t.Errorf("%s: retry %d came %v after the previous try; the schedule says %v", tt.dest, i+1, g[i], want)
			}
		}
	}
	// max_age 350ms with retries every 100ms: a few attempts, the last at
	// the latest at the age limit (plus the dispatcher's slack).
	attempts := ta.attempts(t, byDest["aged"].ID)
	if len(attempts) < 2 || len(attempts) > 5 {
		t.Errorf("aged: %d attempts; want 2-5 within 350ms", len(attempts))
	}
	ev := byDest["aged"]
	last := attempts[len(attempts)-1]
	if ev.Status != webhook.StatusPermanentFailure {
		t.Errorf("aged: %s; want permanent_failure", ev.Status)
	}
	if len(attempts) > 0 && last.StartedAt.Sub(attempts[0].StartedAt) > time.Second {
		t.Errorf("aged: last attempt %v after the first; max_age is 350ms", last.StartedAt.Sub(attempts[0].StartedAt))
	}
}

// TestAdaptiveRateFollowsLimit: a rate-limited destination whose receiver
// keeps answering 429 (without Retry-After) is slowed in rate too: at the
// floor its rate in force is rate_limit / max_in_flight, as the API shows.
func TestAdaptiveRateFollowsLimit(t *testing.T) {
	t.Parallel()
	rcv := startReceiver(t, receiver.Always(http.StatusTooManyRequests))
	ta := setup(t, func(cfg *config.Config) {
		cfg.MaxRetries = 50
		cfg.RetryBaseDelay = 20 * time.Millisecond
		cfg.RetryMaxDelay = 200 * time.Millisecond
		cfg.BreakerFailures = 0
		cfg.AdminPassword = "correct horse battery staple"
		cfg.Sources = []webhook.Source{testSource("github")}
		d := testDestination("limited", rcv.URL(), newSecret(t), "github")
		d.MaxInFlight, d.RateLimit = 4, 40
		cfg.Destinations = []webhook.Destination{d}
	})
	token := ta.login(t)
	for i := range 8 {
		ta.mustAccept(t, "github", fmt.Appendf(nil, `{"n":%d}`, i), jsonHeader())
	}
	type view struct {
		Adaptive struct {
			Limit     int     `json:"limit"`
			Cap       int     `json:"cap"`
			RateLimit float64 `json:"rate_limit"`
		} `json:"adaptive"`
	}
	deadline := time.Now().Add(15 * time.Second)
	var v view
	for {
		status, raw := ta.call(t, token, "GET", "/api/destinations/limited", nil)
		if status != http.StatusOK || json.Unmarshal(raw, &v) != nil {
			t.Fatalf("GET /api/destinations/limited: %d %s", status, raw)
		}
		if v.Adaptive.Limit == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("adaptive = %+v after 15s of 429s; want limit 1", v.Adaptive)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if v.Adaptive.Cap != 4 || v.Adaptive.RateLimit != 10 {
		t.Errorf("adaptive = %+v; want cap 4 and rate 40 × 1/4 = 10", v.Adaptive)
	}
}
