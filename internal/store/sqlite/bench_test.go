package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/store/sqlite"
	"github.com/hookd/hookd/internal/store/storetest"
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

// BenchmarkEventInsertMany measures durable (fsynced) event inserts per
// batch size; ns/op is per event.
func BenchmarkEventInsertMany(b *testing.B) {
	storetest.BenchEventInsertMany(b, func(b *testing.B) store.Store { return benchStore(b) })
}

// BenchmarkClaimAndRecord measures the delivery path's store work; ns/op is
// per delivery.
func BenchmarkClaimAndRecord(b *testing.B) {
	storetest.BenchClaimAndRecord(b, func(b *testing.B) store.Store { return benchStore(b) })
}

// BenchmarkClaimAndRecordOrdered is BenchmarkClaimAndRecord on deliveries
// unordered, ordered over 64 keys, and ordered as one sequence.
func BenchmarkClaimAndRecordOrdered(b *testing.B) {
	storetest.BenchClaimAndRecordOrdered(b, func(b *testing.B) store.Store { return benchStore(b) })
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
		p := storetest.BenchEvent(now.Add(time.Duration(i) * time.Millisecond))
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
