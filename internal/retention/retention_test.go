package retention_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/pgtest"
	"github.com/hookd/hookd/internal/retention"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/store/postgres"
	"github.com/hookd/hookd/internal/store/sqlite"
	"github.com/hookd/hookd/internal/webhook"
)

var now = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

// opener opens a second handle on the same store when called again, as a
// second hookd process would.
type opener func(t *testing.T) store.Store

func drivers(t *testing.T) map[string]opener {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hookd.db")
	dbURL, _ := pgtest.Schema(t, "hookd_retention")
	var sqliteStore store.Store
	return map[string]opener{
		// One process holds the SQLite file: both "processes" share it.
		"sqlite": func(t *testing.T) store.Store {
			if sqliteStore == nil {
				s, err := sqlite.Open(context.Background(), path)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				sqliteStore = s
			}
			return sqliteStore
		},
		"postgres": func(t *testing.T) store.Store {
			s, err := postgres.Open(context.Background(), dbURL)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
	}
}

// finished returns n events delivered long ago, each with one successful
// delivery and its attempt.
func finished(n int, received time.Time) []store.EventRecord {
	var out []store.EventRecord
	for range n {
		ev := webhook.Event{ID: ids.New(ids.Event), Source: "old", Body: []byte("{}"), ReceivedAt: received, Status: webhook.StatusSuccess}
		d := webhook.Delivery{ID: ids.New(ids.Delivery), EventID: ev.ID, Destination: "a", Status: webhook.StatusSuccess, Attempts: 1,
			NextAttemptAt: received, CreatedAt: received, UpdatedAt: received}
		a := webhook.Attempt{ID: ids.New(ids.Attempt), DeliveryID: d.ID, Number: 1, StartedAt: received, StatusCode: 200}
		out = append(out, store.EventRecord{Event: ev, Deliveries: []store.DeliveryRecord{{Delivery: d, Attempts: []webhook.Attempt{a}}}})
	}
	return out
}

// TestPassWhileIngest runs retention in two processes at once beside a
// burst of ingest: the old finished events all go, exactly once, and every
// event ingested meanwhile (pending, and just as old) stays.
func TestPassWhileIngest(t *testing.T) {
	t.Parallel()
	for name, open := range drivers(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := open(t)
			const oldCount = 1200
			if n, err := st.EventImportMany(ctx, finished(oldCount, now.Add(-48*time.Hour))); err != nil || n != oldCount {
				t.Fatalf("EventImportMany = %d, %v", n, err)
			}
			var (
				wg       sync.WaitGroup
				ingested = make(chan string, 200)
				errs     = make(chan error, 10)
			)
			for w := range 4 {
				wg.Go(func() {
					for i := range 50 {
						ev := webhook.Event{ID: ids.New(ids.Event), Source: "new", Body: []byte("{}"),
							IdempotencyKey: fmt.Sprintf("%d-%d", w, i), ReceivedAt: now.Add(-48 * time.Hour), Status: webhook.StatusPending}
						d := webhook.Delivery{ID: ids.New(ids.Delivery), EventID: ev.ID, Destination: "a", Status: webhook.StatusPending, NextAttemptAt: now, CreatedAt: now}
						if _, err := st.EventInsertMany(ctx, []store.EventInsertParams{{Event: ev, Deliveries: []webhook.Delivery{d}}}); err != nil {
							errs <- err
							return
						}
						ingested <- ev.ID
					}
				})
			}
			var deleted [2]int
			for p := range 2 {
				job := retention.New(open(t), retention.Options{MaxAge: 24 * time.Hour, BatchSize: 100, Pause: time.Millisecond, Now: func() time.Time { return now }})
				wg.Go(func() {
					n, err := job.Pass(ctx)
					if err != nil {
						errs <- err
					}
					deleted[p] = n
				})
			}
			wg.Wait()
			close(errs)
			close(ingested)
			for err := range errs {
				t.Fatal(err)
			}
			if got := deleted[0] + deleted[1]; got != oldCount {
				t.Errorf("two passes deleted %d + %d, want %d in all", deleted[0], deleted[1], oldCount)
			}
			count := 0
			for id := range ingested {
				count++
				if _, err := st.EventGet(ctx, id); err != nil {
					t.Fatalf("event %s ingested during retention: %v", id, err)
				}
			}
			u, err := st.UsageGet(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if count != 200 || u.Events[webhook.StatusPending] != 200 || u.Events[webhook.StatusSuccess] != 0 || u.Attempts != 0 {
				t.Errorf("after retention: ingested %d, usage %+v; want 200 pending and nothing else", count, u)
			}
		})
	}
}

// TestStartStop: the first pass runs at Start; Stop waits and may repeat.
func TestStartStop(t *testing.T) {
	t.Parallel()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hookd.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.EventImportMany(context.Background(), finished(3, now.Add(-time.Hour))); err != nil {
		t.Fatal(err)
	}
	job := retention.New(st, retention.Options{MaxAge: time.Minute, Interval: time.Hour, Now: func() time.Time { return now }})
	job.Stop() // before Start: nothing to stop
	if err := job.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		u, err := st.UsageGet(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(u.Events) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("first pass did not run: %+v", u)
		}
		time.Sleep(10 * time.Millisecond)
	}
	job.Stop()
	job.Stop()
}
