package app_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/config"
	"github.com/hookd/hookd/internal/pgtest"
	"github.com/hookd/hookd/internal/receiver"
	"github.com/hookd/hookd/internal/webhook"
)

// concurrency is a slow receiver's behaviour that records how many
// requests it was answering at once.
type concurrency struct {
	mu      sync.Mutex
	now     int
	most    int
	holdFor time.Duration
}

func (c *concurrency) behavior(ctx context.Context, _ receiver.Arrival) int {
	c.mu.Lock()
	c.now++
	c.most = max(c.most, c.now)
	c.mu.Unlock()
	// Leave before the answer is written: hookd cannot start the next
	// request for this slot before it has the answer, so the count never
	// includes a request that has really ended.
	defer func() {
		c.mu.Lock()
		c.now--
		c.mu.Unlock()
	}()
	select {
	case <-time.After(c.holdFor):
	case <-ctx.Done():
	}
	return http.StatusOK
}

func (c *concurrency) max() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.most
}

// attemptCount is how many attempts this process recorded.
func (ta *testApp) attemptCount() int {
	ta.records.mu.Lock()
	defer ta.records.mu.Unlock()
	return len(ta.records.items)
}

// TestMaxInFlightAcrossProcesses: two processes on one PostgreSQL schema,
// each with 2 workers, deliver to a slow receiver whose destination has
// max_in_flight 3, so that reaching 3 at once takes both processes. With
// Redis the cap holds for both together: the receiver never answers more
// than 3 requests at once, and does answer 3. Without Redis each process
// keeps its own count (documented): together they may reach 4, their
// workers.
func TestMaxInFlightAcrossProcesses(t *testing.T) {
	t.Parallel()
	const events, maxInFlight, processes, workers = 30, 3, 2, 2
	tests := map[string]struct {
		redis bool
		// most is the largest concurrency allowed at the receiver.
		most int
	}{
		"redis":           {redis: true, most: maxInFlight},
		"postgresql only": {redis: false, most: workers * processes},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dbURL, _ := pgtest.Schema(t, "hookd_inflight_test")
			var redisURL, prefix string
			if tt.redis {
				redisURL, prefix = testRedis(t)
			}
			conc := &concurrency{holdFor: 100 * time.Millisecond}
			slow := startReceiver(t, conc.behavior)
			secret := newSecret(t)
			configure := func(cfg *config.Config) {
				cfg.DatabaseURL, cfg.RedisURL, cfg.RedisPrefix = dbURL, redisURL, prefix
				cfg.Workers = workers
				cfg.Sources = []webhook.Source{testSource("github")}
				d := testDestination("slow", slow.URL(), secret, "github")
				d.MaxInFlight = maxInFlight
				cfg.Destinations = []webhook.Destination{d}
			}
			apps := make([]*testApp, processes)
			for i := range apps {
				apps[i] = setup(t, configure)
			}
			for i := range events {
				apps[i%processes].mustAccept(t, "github", fmt.Appendf(nil, `{"n":%d}`, i), jsonHeader())
			}
			slow.waitFor(t, 30*time.Second, "every event at the slow destination", func(as []receiver.Arrival) bool { return len(as) >= events })
			most := conc.max()
			t.Logf("at most %d requests at once (max_in_flight %d, %d processes of %d workers)", most, maxInFlight, processes, workers)
			if most > tt.most {
				t.Errorf("the receiver answered %d requests at once; want at most %d", most, tt.most)
			}
			// More than one process's workers: both delivered at once.
			if most < maxInFlight {
				t.Errorf("the receiver never had more than %d requests at once; the backlog should fill all %d slots, from both processes", most, maxInFlight)
			}
			for i, ta := range apps {
				if n := ta.attemptCount(); n == 0 {
					t.Errorf("process %d made no attempt; both should share the work", i+1)
				}
			}
		})
	}
}
