package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// stateTests specify the destination states (circuit breakers).
func stateTests() map[string]func(t *testing.T, s store.Store) {
	return map[string]func(t *testing.T, s store.Store){
		"DestinationStatePutAndGet":       testStatePutAndGet,
		"DestinationStateCompareAndSet":   testStateCompareAndSet,
		"DestinationStateConcurrentCount": testStateConcurrentCount,
	}
}

func testStatePutAndGet(t *testing.T, s store.Store) {
	ctx := context.Background()
	if _, err := s.DestinationStateGet(ctx, "a"); !errors.Is(err, webhook.ErrNotFound) {
		t.Fatalf("DestinationStateGet(never stored) = %v, want ErrNotFound", err)
	}
	if list, err := s.DestinationStateList(ctx); err != nil || len(list) != 0 {
		t.Fatalf("DestinationStateList of an empty store = %v, %v; want none", list, err)
	}
	open := store.DestinationState{
		Destination: "a", Circuit: store.CircuitOpen, ConsecutiveFailures: 5, Trips: 2,
		FailingSince: base, OpenUntil: base.Add(time.Minute), LastError: "HTTP 503",
		UpdatedAt: base.Add(time.Second),
	}
	got, err := s.DestinationStatePut(ctx, open)
	if err != nil {
		t.Fatalf("DestinationStatePut(new): %v", err)
	}
	if got.Version != 1 {
		t.Fatalf("version after the first put = %d, want 1", got.Version)
	}
	want := open
	want.Version = 1
	if read, err := s.DestinationStateGet(ctx, "a"); err != nil || read != want {
		t.Fatalf("DestinationStateGet = %+v, %v; want %+v", read, err, want)
	}

	// Disabled, then closed again with every time cleared.
	disabled := want
	disabled.Circuit, disabled.OpenUntil = store.CircuitDisabled, time.Time{}
	disabled.DisabledAt, disabled.DisabledReason = base.Add(time.Hour), "failing since 2026-01-02"
	if got, err = s.DestinationStatePut(ctx, disabled); err != nil || got.Version != 2 {
		t.Fatalf("DestinationStatePut(disabled) = %+v, %v; want version 2", got, err)
	}
	closed := store.DestinationState{Destination: "a", Circuit: store.CircuitClosed, UpdatedAt: base.Add(2 * time.Hour), Version: 2}
	if got, err = s.DestinationStatePut(ctx, closed); err != nil || got.Version != 3 {
		t.Fatalf("DestinationStatePut(closed) = %+v, %v; want version 3", got, err)
	}
	want = closed
	want.Version = 3
	if read, err := s.DestinationStateGet(ctx, "a"); err != nil || read != want {
		t.Fatalf("DestinationStateGet after closing = %+v, %v; want %+v", read, err, want)
	}

	other := store.DestinationState{Destination: "b", Circuit: store.CircuitHalfOpen, OpenUntil: base, UpdatedAt: base}
	if _, err := s.DestinationStatePut(ctx, other); err != nil {
		t.Fatal(err)
	}
	list, err := s.DestinationStateList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Destination != "a" || list[1].Destination != "b" || list[1].Circuit != store.CircuitHalfOpen {
		t.Fatalf("DestinationStateList = %+v; want a (closed) and b (half_open), by name", list)
	}
}

func testStateCompareAndSet(t *testing.T, s store.Store) {
	ctx := context.Background()
	first := store.DestinationState{Destination: "a", Circuit: store.CircuitClosed, ConsecutiveFailures: 1, UpdatedAt: base}
	if _, err := s.DestinationStatePut(ctx, first); err != nil {
		t.Fatal(err)
	}
	// A second writer that also read "nothing stored" loses.
	if _, err := s.DestinationStatePut(ctx, first); !errors.Is(err, webhook.ErrConflict) {
		t.Fatalf("second insert = %v, want ErrConflict", err)
	}
	next := first
	next.Version, next.ConsecutiveFailures = 1, 2
	if _, err := s.DestinationStatePut(ctx, next); err != nil {
		t.Fatal(err)
	}
	// A writer still holding version 1 loses, and changes nothing.
	stale := first
	stale.Version, stale.Circuit = 1, store.CircuitDisabled
	if _, err := s.DestinationStatePut(ctx, stale); !errors.Is(err, webhook.ErrConflict) {
		t.Fatalf("put at a stale version = %v, want ErrConflict", err)
	}
	if _, err := s.DestinationStatePut(ctx, store.DestinationState{Destination: "a", Version: 7, UpdatedAt: base}); !errors.Is(err, webhook.ErrConflict) {
		t.Fatalf("put at a version never stored = %v, want ErrConflict", err)
	}
	read, err := s.DestinationStateGet(ctx, "a")
	if err != nil || read.Version != 2 || read.ConsecutiveFailures != 2 || read.Circuit != store.CircuitClosed {
		t.Fatalf("state after refused puts = %+v, %v; want version 2 with 2 failures, closed", read, err)
	}
}

// testStateConcurrentCount: writers that read, add one and put again,
// reading anew on every conflict, lose no increment: the compare-and-set
// is what lets processes count consecutive failures together.
func testStateConcurrentCount(t *testing.T, s store.Store) {
	ctx := context.Background()
	const writers, each = 4, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				for {
					cur, err := s.DestinationStateGet(ctx, "a")
					if err != nil && !errors.Is(err, webhook.ErrNotFound) {
						errs <- err
						return
					}
					cur.Destination, cur.Circuit, cur.UpdatedAt = "a", store.CircuitClosed, base
					cur.ConsecutiveFailures++
					_, err = s.DestinationStatePut(ctx, cur)
					if err == nil {
						break
					}
					if !errors.Is(err, webhook.ErrConflict) {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	read, err := s.DestinationStateGet(ctx, "a")
	if err != nil || read.ConsecutiveFailures != writers*each || read.Version != writers*each {
		t.Fatalf("state = %+v, %v; want %d failures at version %d", read, err, writers*each, writers*each)
	}
}
