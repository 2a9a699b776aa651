package delivery

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/store/sqlite"
	"github.com/hookd/hookd/internal/stream"
)

// TestDisableOnGone: a 410 disables the destination in the store, with
// its reason, announces it as the breaker's own disable does (an ERROR
// log line and a destination.disabled change), and a second 410 keeps the
// first reason and announces nothing more.
func TestDisableOnGone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hookd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var (
		logs    bytes.Buffer
		mu      sync.Mutex
		changes []stream.Change
	)
	log := slog.New(slog.NewTextHandler(&logs, nil))
	c := newCircuits(BreakerPolicy{Failures: 5, Cooldown: time.Second}, st, log, func(ch stream.Change) {
		mu.Lock()
		defer mu.Unlock()
		changes = append(changes, ch)
	})
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	// A failure before: the counters stay, for the record.
	c.record(ctx, "old", false, "HTTP 500", now.Add(-time.Minute))

	c.disable(ctx, "old", goneReason, now)
	got, err := st.DestinationStateGet(ctx, "old")
	if err != nil {
		t.Fatal(err)
	}
	if got.Circuit != store.CircuitDisabled || got.DisabledReason != "receiver answered 410 Gone" || !got.DisabledAt.Equal(now) || got.ConsecutiveFailures != 1 {
		t.Fatalf("stored state %+v; want disabled at %v with the 410 reason, the failure kept", got, now)
	}
	if !c.disabled("old") {
		t.Error("this process does not see it disabled")
	}
	if allowed, _ := c.admit("old", now); allowed != 0 {
		t.Errorf("admit = %d; want 0", allowed)
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "destination disabled") || !strings.Contains(logs.String(), "receiver answered 410 Gone") {
		t.Errorf("log %q; want an ERROR line naming the reason", logs.String())
	}
	mu.Lock()
	if len(changes) != 1 || changes[0].Kind != stream.KindDestinationDisabled || changes[0].Error != goneReason || changes[0].Destination != "old" {
		t.Errorf("changes %+v; want one destination.disabled with the reason", changes)
	}
	mu.Unlock()

	c.disable(ctx, "old", "something else", now.Add(time.Minute))
	again, err := st.DestinationStateGet(ctx, "old")
	if err != nil {
		t.Fatal(err)
	}
	if again.DisabledReason != goneReason || again.Version != got.Version {
		t.Errorf("a second disable changed the state: %+v", again)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(changes) != 1 {
		t.Errorf("a second disable was announced: %+v", changes)
	}
}
