package api

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/store"
)

// queueBacklog is a Store whose only answer is QueueStats: the backlog
// (Ready) given by a function of the number of reads so far. The replay's
// backlog guard reads nothing else.
type queueBacklog struct {
	Store
	mu    sync.Mutex
	reads int
	ready func(read int) int64
}

func (q *queueBacklog) QueueStats(context.Context, time.Time) (store.QueueStats, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.reads++
	return store.QueueStats{Ready: q.ready(q.reads)}, nil
}

// TestBacklogGuard holds a replay while the backlog is over its baseline
// plus slack and lets it go once delivery catches up, and takes a backlog
// that never shrinks as the new normal instead of holding for ever.
func TestBacklogGuard(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// ready answers each read; the first read sets the baseline.
		ready    func(read int) int64
		wantHeld bool
		// wantBaseline is the guard's baseline afterwards.
		wantBaseline int64
	}{
		{"at the baseline", func(int) int64 { return 5 }, false, 5},
		{"within the slack", func(read int) int64 { return map[bool]int64{true: 5, false: 100}[read == 1] }, false, 5},
		{"behind, then caught up", func(read int) int64 {
			switch {
			case read == 1:
				return 5
			case read < 6:
				return 500 - int64(read)*10 // draining
			}
			return 10
		}, true, 5},
		{"stuck backlog", func(read int) int64 {
			if read == 1 {
				return 5
			}
			return 400 // an open circuit's due deliveries: never shrinks
		}, true, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := &queueBacklog{ready: tt.ready}
			s := New(Options{Store: q})
			g := backlogGuard{slack: 100, poll: 10 * time.Millisecond, stuckAfter: 200 * time.Millisecond}
			// The first call sets the baseline from the first read.
			if _, err := s.holdForBacklog(t.Context(), &g); err != nil {
				t.Fatal(err)
			}
			time.Sleep(g.poll) // the next call reads the queue again
			held, err := s.holdForBacklog(t.Context(), &g)
			if err != nil {
				t.Fatal(err)
			}
			if got := held >= g.poll; got != tt.wantHeld {
				t.Errorf("held %s, want held: %v", held, tt.wantHeld)
			}
			if g.baseline != tt.wantBaseline {
				t.Errorf("baseline %d, want %d", g.baseline, tt.wantBaseline)
			}
		})
	}
}

// TestBacklogGuardCancel ends a hold when the job is cancelled.
func TestBacklogGuardCancel(t *testing.T) {
	t.Parallel()
	q := &queueBacklog{ready: func(read int) int64 { return map[bool]int64{true: 0, false: 1000}[read == 1] }}
	s := New(Options{Store: q})
	g := backlogGuard{slack: 10, poll: 10 * time.Millisecond, stuckAfter: time.Hour}
	if _, err := s.holdForBacklog(t.Context(), &g); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	time.Sleep(g.poll)
	if _, err := s.holdForBacklog(ctx, &g); err == nil {
		t.Fatal("a cancelled hold returned no error")
	}
}
