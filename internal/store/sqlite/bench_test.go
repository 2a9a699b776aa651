package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/store/sqlite"
	"github.com/hookd/hookd/internal/webhook"
)

func benchStore(b *testing.B) *sqlite.Store {
	b.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "hookd.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func benchEvent(now time.Time) store.EventInsertParams {
	ev := webhook.Event{
		ID: ids.New(ids.Event), Source: "bench", Type: "bench.event",
		Body:        []byte(`{"type":"bench.event","n":1,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`),
		ContentType: "application/json", Headers: map[string]string{"Content-Type": "application/json", "User-Agent": "bench"},
		ReceivedAt: now, Status: webhook.StatusPending,
	}
	return store.EventInsertParams{Event: ev, Deliveries: []webhook.Delivery{{
		ID: ids.New(ids.Delivery), EventID: ev.ID, Destination: "receiver",
		Status: webhook.StatusPending, NextAttemptAt: now, CreatedAt: now,
	}}}
}

// BenchmarkEventInsertMany measures durable (fsynced) event inserts per
// batch size; ns/op is per event.
func BenchmarkEventInsertMany(b *testing.B) {
	for _, size := range []int{1, 16, 64, 256} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			s := benchStore(b)
			ctx := context.Background()
			now := time.Now()
			batch := make([]store.EventInsertParams, size)
			b.ResetTimer()
			for i := 0; i < b.N; i += size {
				for j := range batch {
					batch[j] = benchEvent(now)
				}
				if _, err := s.EventInsertMany(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkClaimAndRecord measures the delivery path's store work: claim a
// batch of due deliveries, then record a successful attempt for each.
// ns/op is per delivery.
func BenchmarkClaimAndRecord(b *testing.B) {
	for _, size := range []int{1, 64} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			s := benchStore(b)
			ctx := context.Background()
			now := time.Now()
			pending := make([]store.EventInsertParams, 0, 256)
			for i := 0; i < b.N; i++ {
				pending = append(pending, benchEvent(now))
				if len(pending) == cap(pending) || i == b.N-1 {
					if _, err := s.EventInsertMany(ctx, pending); err != nil {
						b.Fatal(err)
					}
					pending = pending[:0]
				}
			}
			b.ResetTimer()
			for done := 0; done < b.N; {
				token := ids.New("lease_")
				res, err := s.DeliveryClaimDue(ctx, store.DeliveryClaimParams{
					Now: now, LeaseUntil: now.Add(time.Minute), LeaseToken: token, Limit: size,
					Quotas: []store.DestinationQuota{{Destination: "receiver", Limit: size}},
				})
				if err != nil {
					b.Fatal(err)
				}
				if len(res.Jobs) == 0 {
					b.Fatalf("nothing to claim after %d of %d", done, b.N)
				}
				params := make([]store.AttemptRecordParams, len(res.Jobs))
				for i, j := range res.Jobs {
					params[i] = store.AttemptRecordParams{
						Attempt: webhook.Attempt{ID: ids.New(ids.Attempt), DeliveryID: j.Delivery.ID, Number: 1, StartedAt: now, StatusCode: 200},
						EventID: j.Event.ID, LeaseToken: token, Status: webhook.StatusSuccess, UpdatedAt: now,
					}
				}
				if _, err := s.DeliveryRecordAttempts(ctx, params); err != nil {
					b.Fatal(err)
				}
				done += len(res.Jobs)
			}
		})
	}
}

// deepStore is a store holding a million events from 4 sources, built once
// per test binary for the listing benchmarks (about half a minute).
var deepStore = sync.OnceValues(func() (*sqlite.Store, error) {
	dir, err := os.MkdirTemp("", "hookd-deep-")
	if err != nil {
		return nil, err
	}
	deepDir = dir
	s, err := sqlite.Open(context.Background(), filepath.Join(dir, "hookd.db"))
	if err != nil {
		return nil, err
	}
	now := time.Now().Add(-time.Hour)
	batch := make([]store.EventInsertParams, 0, 256)
	for i := range deepEvents {
		p := benchEvent(now.Add(time.Duration(i) * time.Millisecond))
		p.Event.Source = []string{"github", "stripe", "shopify", "internal"}[i%4]
		if i%10 == 0 {
			p.Event.Status = webhook.StatusPermanentFailure
		}
		batch = append(batch, p)
		if len(batch) == cap(batch) || i == deepEvents-1 {
			if _, err := s.EventInsertMany(context.Background(), batch); err != nil {
				return nil, err
			}
			batch = batch[:0]
		}
	}
	return s, nil
})

const deepEvents = 1_000_000

// deepDir holds deepStore's file; TestMain removes it.
var deepDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if deepDir != "" {
		if s, err := deepStore(); err == nil {
			s.Close()
		}
		os.RemoveAll(deepDir)
	}
	os.Exit(code)
}

// BenchmarkEventListDeep measures the management API's listing over a
// million events: one page of 20 at several depths by offset and by keyset
// cursor, with and without the total count, and the per-source counts.
func BenchmarkEventListDeep(b *testing.B) {
	s, err := deepStore()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	// The keyset cursor for a depth is the id of the event just above it.
	cursorAt := func(depth int) string {
		res, err := s.EventList(ctx, store.EventListParams{Limit: 1, Offset: depth - 1, NoTotal: true})
		if err != nil || len(res.Items) == 0 {
			b.Fatalf("cursor at %d: %v", depth, err)
		}
		return res.Items[0].ID
	}
	for _, depth := range []int{0, 100_000, 900_000} {
		b.Run(fmt.Sprintf("offset=%d", depth), func(b *testing.B) {
			for b.Loop() {
				if _, err := s.EventList(ctx, store.EventListParams{Limit: 20, Offset: depth, NoTotal: true}); err != nil {
					b.Fatal(err)
				}
			}
		})
		if depth > 0 {
			cursor := cursorAt(depth)
			b.Run(fmt.Sprintf("cursor=%d", depth), func(b *testing.B) {
				for b.Loop() {
					if _, err := s.EventList(ctx, store.EventListParams{Limit: 20, Before: cursor, NoTotal: true}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
	b.Run("offset=100000/status=permanent_failure", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.EventList(ctx, store.EventListParams{Limit: 20, Offset: 90_000, Status: webhook.StatusPermanentFailure, NoTotal: true}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("first-page-with-total", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.EventList(ctx, store.EventListParams{Limit: 20}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("first-page-with-total/source=github", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.EventList(ctx, store.EventListParams{Limit: 20, Source: "github"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("count-by-source", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.EventCountBySource(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}
