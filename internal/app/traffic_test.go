package app_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hookd/hookd/internal/config"
	"github.com/hookd/hookd/internal/pgtest"
	"github.com/hookd/hookd/internal/receiver"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// checkSpacing fails the test unless arrivals keep to rate per second:
// from the first to the last no faster than the limit allows after its
// burst, and never more than rate + burst (plus arrival jitter) in any
// one-second window.
func checkSpacing(t *testing.T, arrivals []receiver.Arrival, rate float64, burst int) {
	t.Helper()
	at := make([]time.Time, len(arrivals))
	for i, a := range arrivals {
		at[i] = a.At
	}
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	span := at[len(at)-1].Sub(at[0])
	least := time.Duration(float64(len(at)-burst) / rate * float64(time.Second) * 0.95)
	if span < least {
		t.Errorf("%d arrivals in %s; a limit of %g/s (burst %d) needs at least %s", len(at), span, rate, burst, least)
	}
	most := 0
	for i := range at {
		n := 0
		for j := i; j < len(at) && at[j].Sub(at[i]) < time.Second; j++ {
			n++
		}
		most = max(most, n)
	}
	// Arrival times are taken at the receiver: on a loaded host a request
	// sent on time can be held up and arrive beside the next one, so the
	// window allows a little over what the limiter let go (a tenth of the
	// rate, at least 2), far below what no limit would show.
	if limit := int(rate) + burst + max(2, int(rate)/10); most > limit {
		t.Errorf("%d arrivals within one second; the limit allows %d (%g/s, burst %d, jitter)", most, limit, rate, burst)
	}
	t.Logf("%d arrivals over %s, at most %d in a second", len(at), span, most)
}

// TestRateLimitSpacesAttempts: a destination limited to 20/s gets 100
// deliveries no faster than that, each at its first attempt (waiting for
// the limit costs no retry), while an unlimited destination subscribed to
// the same events gets them all at once.
func TestRateLimitSpacesAttempts(t *testing.T) {
	t.Parallel()
	const events, rate = 100, 20.0
	limited := startReceiver(t, receiver.Always(http.StatusOK))
	free := startReceiver(t, receiver.Always(http.StatusOK))
	ta := setup(t, func(cfg *config.Config) {
		cfg.Sources = []webhook.Source{testSource("github")}
		d := testDestination("limited", limited.URL(), newSecret(t), "github")
		d.RateLimit = rate
		cfg.Destinations = []webhook.Destination{d, testDestination("free", free.URL(), newSecret(t), "github")}
	})
	start := time.Now()
	for i := range events {
		ta.mustAccept(t, "github", fmt.Appendf(nil, `{"n":%d}`, i), jsonHeader())
	}
	free.waitFor(t, 10*time.Second, "every event at the unlimited destination", func(as []receiver.Arrival) bool { return len(as) >= events })
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the unlimited destination took %s; want it not held back by its rate-limited neighbour", d)
	}
	arrivals := limited.waitFor(t, 20*time.Second, "every event at the limited destination", func(as []receiver.Arrival) bool { return len(as) >= events })
	checkSpacing(t, arrivals, rate, 2)
	for _, r := range ta.waitTerminal(t, 10*time.Second, 2*events, webhook.StatusSuccess) {
		if r.Attempt.Number != 1 {
			t.Errorf("delivery %s succeeded at attempt %d; want 1", r.Attempt.DeliveryID, r.Attempt.Number)
		}
	}
}

// TestHalfOpenProbeCloses: a failing receiver opens the circuit after
// HOOKD_BREAKER_FAILURES attempts; during the cool-down it sees nothing;
// once it recovers, the half-open probe closes the circuit and the
// waiting deliveries go out, having used no retries while they waited.
func TestHalfOpenProbeCloses(t *testing.T) {
	t.Parallel()
	var failing atomic.Bool
	failing.Store(true)
	rcv := startReceiver(t, func(context.Context, receiver.Arrival) int {
		if failing.Load() {
			return http.StatusBadGateway
		}
		return http.StatusOK
	})
	ta := setup(t, func(cfg *config.Config) {
		cfg.Sources = []webhook.Source{testSource("github")}
		d := testDestination("d", rcv.URL(), newSecret(t), "github")
		d.MaxInFlight = 1
		cfg.Destinations = []webhook.Destination{d}
		cfg.MaxRetries = 3
		cfg.RetryBaseDelay = 20 * time.Millisecond
		cfg.BreakerFailures = 3
		cfg.BreakerCooldown = 700 * time.Millisecond
	})
	const events = 5
	for i := range events {
		ta.mustAccept(t, "github", fmt.Appendf(nil, `{"n":%d}`, i), jsonHeader())
	}
	rcv.waitFor(t, 10*time.Second, "three failed attempts", func(as []receiver.Arrival) bool { return len(as) >= 3 })
	st := waitCircuit(t, ta.Store(), "d", store.CircuitOpen)
	if st.ConsecutiveFailures != 3 || st.Trips != 1 {
		t.Errorf("open state = %+v; want 3 failures, trip 1", st)
	}
	time.Sleep(400 * time.Millisecond) // within the cool-down
	if n := len(rcv.Arrivals()); n != 3 {
		t.Errorf("the receiver got %d requests by mid cool-down; want the 3 that opened the circuit", n)
	}
	failing.Store(false)
	recs := ta.waitTerminal(t, 15*time.Second, events, webhook.StatusSuccess)
	if n := len(rcv.Arrivals()); n != 3+events {
		t.Errorf("the receiver got %d requests; want 3 failures and one success per event (%d)", n, 3+events)
	}
	for _, r := range recs {
		if r.Status == webhook.StatusSuccess && r.Attempt.Number > 2 {
			t.Errorf("delivery %s succeeded at attempt %d: waiting for the circuit used retries", r.Attempt.DeliveryID, r.Attempt.Number)
		}
	}
	if st := waitCircuit(t, ta.Store(), "d", store.CircuitClosed); st.ConsecutiveFailures != 0 || st.Trips != 0 {
		t.Errorf("state after the probe = %+v; want closed and reset", st)
	}
}

// waitCircuit polls the store until dest's circuit is want.
func waitCircuit(t *testing.T, s store.Store, dest string, want store.Circuit) store.DestinationState {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, err := s.DestinationStateGet(context.Background(), dest)
		if err != nil && !errors.Is(err, webhook.ErrNotFound) {
			t.Fatalf("DestinationStateGet(%s): %v", dest, err)
		}
		if st.Circuit == want || want == store.CircuitClosed && errors.Is(err, webhook.ErrNotFound) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("circuit of %s is %q (%+v); want %s", dest, st.Circuit, st, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// testRedis returns the test Redis URL and a key prefix of this test's own,
// whose keys are deleted when it ends.
func testRedis(t *testing.T) (url, prefix string) {
	t.Helper()
	url = os.Getenv("HOOKD_TEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	opts, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	prefix = "hookdtest:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		c := goredis.NewClient(opts)
		defer c.Close()
		ctx := context.Background()
		keys, err := c.Keys(ctx, prefix+"*").Result()
		if err == nil && len(keys) > 0 {
			err = c.Del(ctx, keys...).Err()
		}
		if err != nil {
			t.Errorf("delete %s*: %v", prefix, err)
		}
	})
	return url, prefix
}

// TestTrafficControlAcrossProcesses: two processes sharing PostgreSQL and
// Redis keep a destination's rate limit together (their combined
// arrivals stay within it), and count a broken destination's failures
// together: once its circuit opens, neither process calls it again, and
// its deliveries wait with their retries unused.
func TestTrafficControlAcrossProcesses(t *testing.T) {
	t.Parallel()
	const events, rate = 60, 20.0
	dbURL, _ := pgtest.Schema(t, "hookd_traffic_test")
	redisURL, prefix := testRedis(t)
	limited := startReceiver(t, receiver.Always(http.StatusOK))
	broken := startReceiver(t, receiver.Always(http.StatusServiceUnavailable))
	limitedSecret, brokenSecret := newSecret(t), newSecret(t)
	configure := func(cfg *config.Config) {
		cfg.DatabaseURL, cfg.RedisURL, cfg.RedisPrefix = dbURL, redisURL, prefix
		cfg.MaxRetries = 50
		cfg.RetryBaseDelay = 20 * time.Millisecond
		cfg.RetryMaxDelay = 100 * time.Millisecond
		cfg.BreakerFailures = 3
		cfg.BreakerCooldown = time.Hour
		cfg.Sources = []webhook.Source{testSource("github")}
		l := testDestination("limited", limited.URL(), limitedSecret, "github")
		l.RateLimit = rate
		b := testDestination("broken", broken.URL(), brokenSecret, "github")
		b.MaxInFlight = 1
		cfg.Destinations = []webhook.Destination{l, b}
	}
	first := setup(t, configure)
	second := setup(t, configure)
	for i := range events {
		ta := first
		if i%2 == 1 {
			ta = second
		}
		ta.mustAccept(t, "github", fmt.Appendf(nil, `{"n":%d}`, i), jsonHeader())
	}
	arrivals := limited.waitFor(t, 20*time.Second, "every event at the limited destination", func(as []receiver.Arrival) bool { return len(as) >= events })
	checkSpacing(t, arrivals, rate, 2)

	waitCircuit(t, first.Store(), "broken", store.CircuitOpen)
	time.Sleep(500 * time.Millisecond) // let attempts already in flight end
	calls := len(broken.Arrivals())
	// One attempt per process may have been in flight when the third failure opened it.
	if calls < 3 || calls > 5 {
		t.Errorf("the broken receiver got %d requests; want 3, plus at most one in flight per process", calls)
	}
	time.Sleep(2500 * time.Millisecond) // beyond the processes' state refresh
	if n := len(broken.Arrivals()); n != calls {
		t.Errorf("the broken receiver got %d more requests while its circuit was open; want none", n-calls)
	}
	st, err := second.Store().QueueStats(context.Background(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if st.Dead != 0 || st.Ready+st.Scheduled+st.InFlight != events {
		t.Errorf("queue = %+v; want the %d broken deliveries waiting, none dead", st, events)
	}
}
