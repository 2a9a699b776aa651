package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/internal/pgtest"
	"github.com/hookd/hookd/internal/queue/embedded"
	"github.com/hookd/hookd/internal/store/postgres"
)

func TestWakeChannel(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("s", 60)
	for _, tc := range []struct {
		schema, want string
	}{
		{"public", "hookd_wake_public"},
		{"hookd_test_0a1b", "hookd_wake_hookd_test_0a1b"},
		{"Mixed Case", "hookd_wake_Mixed Case"},
		{long, "hookd_wake_b577fa8952c9e257e943c1ca1a55a567"},
	} {
		got := postgres.WakeChannel(tc.schema)
		if got != tc.want || len(got) > 63 {
			t.Errorf("WakeChannel(%q) = %q (%d bytes); want %q, at most 63 bytes", tc.schema, got, len(got), tc.want)
		}
	}
	if a, b := postgres.WakeChannel(long+"a"), postgres.WakeChannel(long+"b"); a == b {
		t.Errorf("two long schemas share the channel %q", a)
	}
}

// wakeNode is one process's view: its store, its embedded queue, and the
// wake-ups that connect the queue to the other processes.
type wakeNode struct {
	queue   *embedded.Queue
	wakeups *postgres.Wakeups
}

// startWakeNode opens a store on dbURL with an embedded queue woken over
// LISTEN/NOTIFY, as internal/app wires them, and waits until it listens.
func startWakeNode(t *testing.T, dbURL string) wakeNode {
	t.Helper()
	st := openAt(t, dbURL)
	q := embedded.New(st, nil)
	w, err := st.NewWakeups(context.Background(), postgres.WakeupsOptions{Wake: q.NotifyLocal})
	if err != nil {
		t.Fatalf("NewWakeups: %v", err)
	}
	q.SetBroadcaster(w)
	if err := w.Start(context.Background()); err != nil {
		t.Fatalf("Wakeups.Start: %v", err)
	}
	t.Cleanup(w.Stop) // before the store closes
	n := wakeNode{queue: q, wakeups: w}
	n.waitConnected(t)
	return n
}

func (n wakeNode) waitConnected(t *testing.T) {
	t.Helper()
	select {
	case <-n.wakeups.Connected():
	case <-time.After(10 * time.Second):
		t.Fatalf("the listener on %s did not connect", n.wakeups.Channel())
	}
}

// waitWoken fails unless the queue's claimer is woken. Nothing here polls,
// so only a wake-up can satisfy it; the timeout is a bound for a broken
// test, not a latency assertion.
func (n wakeNode) waitWoken(t *testing.T, what string) {
	t.Helper()
	select {
	case <-n.queue.Wake():
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: the claimer was not woken", what)
	}
}

// drain forgets a pending wake-up (the one each listener gives itself on
// connecting).
func (n wakeNode) drain() {
	select {
	case <-n.queue.Wake():
	default:
	}
}

// TestWakeupsAcrossProcesses: a Notify on one store's queue wakes the
// claimer of another store sharing the schema; the embedded queue alone
// wakes only its own.
func TestWakeupsAcrossProcesses(t *testing.T) {
	t.Parallel()
	dbURL, _ := freshSchema(t)
	a, b := startWakeNode(t, dbURL), startWakeNode(t, dbURL)
	a.drain()
	b.drain()
	if err := a.queue.Notify(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	b.waitWoken(t, "notify on the other store")
	a.waitWoken(t, "notify on the same store")
	// And back the other way, more than once: each Notify gives a wake-up.
	for i := range 3 {
		a.drain()
		if err := b.queue.Notify(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		a.waitWoken(t, fmt.Sprintf("notify %d from b", i+1))
	}
}

// TestWakeupsListenerReconnects: when the server ends the listener's
// connection, the listener reconnects, wakes its claimer once (wake-ups
// sent meanwhile were lost) and hears later ones again.
func TestWakeupsListenerReconnects(t *testing.T) {
	t.Parallel()
	dbURL, _ := freshSchema(t)
	a, b := startWakeNode(t, dbURL), startWakeNode(t, dbURL)
	b.drain()

	ctx := context.Background()
	admin, err := pgx.Connect(ctx, pgtest.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	// Both listeners listen on the schema's channel; end them all.
	var ended int
	if err := admin.QueryRow(ctx, `SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name LIKE '%wake-up listener' AND query = $1) t`,
		"LISTEN "+pgx.Identifier{b.wakeups.Channel()}.Sanitize()).Scan(&ended); err != nil {
		t.Fatal(err)
	}
	if ended != 2 {
		t.Fatalf("terminated %d listener connections; want 2", ended)
	}
	b.waitConnected(t)
	b.waitWoken(t, "reconnect")
	a.waitConnected(t)
	b.drain()
	if err := a.queue.Notify(ctx, nil); err != nil {
		t.Fatal(err)
	}
	b.waitWoken(t, "notify after reconnect")
}
