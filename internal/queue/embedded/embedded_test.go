package embedded_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/hookd/hookd/internal/queue"
	"github.com/hookd/hookd/internal/queue/embedded"
	"github.com/hookd/hookd/internal/queue/queuetest"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/store/sqlite"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	queuetest.Run(t, func(t *testing.T) (queue.Queue, store.Store) {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hookd.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return embedded.New(s, nil), s
	})
}

// countingBroadcaster counts the wake-ups the queue sends to other
// processes.
type countingBroadcaster struct{ n int }

func (b *countingBroadcaster) Broadcast() { b.n++ }

// TestNotifyWakesHereAndElsewhere: Notify wakes this process's claimer and
// asks the Broadcaster to wake the others; NotifyLocal, what a wake-up
// heard from another process calls, wakes this process only (sending it
// on would echo between processes forever).
func TestNotifyWakesHereAndElsewhere(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		notify        func(q *embedded.Queue)
		wantBroadcast int
	}{
		{"Notify", func(q *embedded.Queue) { _ = q.Notify(context.Background(), nil) }, 1},
		{"NotifyLocal", (*embedded.Queue).NotifyLocal, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			q := embedded.New(nil, nil)
			b := &countingBroadcaster{}
			q.SetBroadcaster(b)
			tc.notify(q)
			select {
			case <-q.Wake():
			default:
				t.Fatal("the local claimer was not woken")
			}
			if b.n != tc.wantBroadcast {
				t.Errorf("broadcasts = %d; want %d", b.n, tc.wantBroadcast)
			}
		})
	}
}
