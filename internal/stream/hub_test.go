package stream

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hookd/hookd/internal/webhook"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitTimeout bounds waits that only fail when the code under test is wrong.
const waitTimeout = 10 * time.Second

// setup returns an open hub that is closed when the test ends.
func setup(t *testing.T, opts Options) *Hub {
	t.Helper()
	h := NewHub(opts)
	t.Cleanup(h.Close)
	return h
}

// change returns a change numbered n (in Attempt) for source and status.
func change(n int, source string, status webhook.Status) Change {
	return Change{
		Kind:      KindAttempt,
		EventID:   "evt_1",
		Source:    source,
		EventType: "push",
		Status:    status,
		Attempt:   n,
		At:        time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

// drain reads sub until its channel closes and returns what it read.
func drain(t *testing.T, sub *Subscription) []Change {
	t.Helper()
	var got []Change
	timeout := time.After(waitTimeout)
	for {
		select {
		case c, ok := <-sub.C():
			if !ok {
				return got
			}
			got = append(got, c)
		case <-timeout:
			t.Fatalf("channel not closed after %d changes", len(got))
		}
	}
}

func TestFilterMatch(t *testing.T) {
	t.Parallel()
	c := change(1, "github", webhook.StatusFailed)
	tests := []struct {
		name   string
		filter Filter
		want   bool
	}{
		{"empty matches all", Filter{}, true},
		{"status hit", Filter{Statuses: []webhook.Status{webhook.StatusPending, webhook.StatusFailed}}, true},
		{"status miss", Filter{Statuses: []webhook.Status{webhook.StatusSuccess}}, false},
		{"source hit", Filter{Sources: []string{"stripe", "github"}}, true},
		{"source miss", Filter{Sources: []string{"stripe"}}, false},
		{"both hit", Filter{Statuses: []webhook.Status{webhook.StatusFailed}, Sources: []string{"github"}}, true},
		{"status hit source miss", Filter{Statuses: []webhook.Status{webhook.StatusFailed}, Sources: []string{"stripe"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.filter.Match(c); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFilterMatchesEventStatusNotDeliveryStatus(t *testing.T) {
	t.Parallel()
	c := change(1, "github", webhook.StatusFailed)
	c.DeliveryStatus = webhook.StatusSuccess
	if (Filter{Statuses: []webhook.Status{webhook.StatusSuccess}}).Match(c) {
		t.Error("filter on success matched an event whose status is failed")
	}
}

func TestFanOutWithFilters(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Buffer: 16})
	all := h.Subscribe(Filter{})
	github := h.Subscribe(Filter{Sources: []string{"github"}})
	dead := h.Subscribe(Filter{Statuses: []webhook.Status{webhook.StatusPermanentFailure}})
	if got := h.Len(); got != 3 {
		t.Fatalf("Len = %d, want 3", got)
	}

	published := []Change{
		change(1, "github", webhook.StatusPending),
		change(2, "stripe", webhook.StatusPermanentFailure),
		change(3, "github", webhook.StatusPermanentFailure),
		change(4, "stripe", webhook.StatusSuccess),
	}
	for _, c := range published {
		h.Publish(c)
	}
	h.Close()

	wantAttempts := map[*Subscription][]int{all: {1, 2, 3, 4}, github: {1, 3}, dead: {2, 3}}
	names := map[*Subscription]string{all: "all", github: "github", dead: "dead"}
	for sub, want := range wantAttempts {
		got := drain(t, sub)
		var attempts []int
		for _, c := range got {
			attempts = append(attempts, c.Attempt)
		}
		if !slices.Equal(attempts, want) {
			t.Errorf("%s received attempts %v, want %v", names[sub], attempts, want)
		}
		if sub.Dropped() {
			t.Errorf("%s: Dropped after hub Close, want false", names[sub])
		}
	}
	if got := h.Len(); got != 0 {
		t.Errorf("Len after Close = %d, want 0", got)
	}
}

// TestSlowSubscriberDropped publishes 10,000 changes from a goroutine while
// one subscriber never reads. The publisher must finish (Publish never
// waits), the slow subscriber must be dropped holding exactly the first
// Buffer changes, and a subscriber that keeps up must get every change.
//
// The fast reader runs in lockstep with the publisher (publish one, read
// one) so that "keeps up" is deterministic rather than a race between two
// goroutines; the slow subscriber is what Publish must not wait for.
func TestSlowSubscriberDropped(t *testing.T) {
	t.Parallel()
	const buffer, total = 64, 10_000
	h := setup(t, Options{Buffer: buffer})
	slow := h.Subscribe(Filter{})
	defer slow.Close()
	fast := h.Subscribe(Filter{})
	defer fast.Close()

	done := make(chan error, 1)
	go func() {
		for i := 1; i <= total; i++ {
			h.Publish(change(i, "github", webhook.StatusPending))
			c, ok := <-fast.C()
			if !ok {
				done <- fmt.Errorf("fast subscriber closed at change %d (dropped=%v)", i, fast.Dropped())
				return
			}
			if c.Attempt != i {
				done <- fmt.Errorf("fast subscriber got change %d, want %d", c.Attempt, i)
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("publisher did not finish: Publish blocked on the slow subscriber")
	}

	if !slow.Dropped() {
		t.Fatal("slow subscriber not dropped")
	}
	if fast.Dropped() {
		t.Error("fast subscriber dropped")
	}
	if got := h.Len(); got != 1 {
		t.Errorf("Len = %d, want 1 (the fast subscriber)", got)
	}
	got := drain(t, slow)
	if len(got) != buffer {
		t.Fatalf("slow subscriber kept %d changes, want %d (its buffer)", len(got), buffer)
	}
	for i, c := range got {
		if c.Attempt != i+1 {
			t.Fatalf("slow subscriber change %d is attempt %d, want %d", i, c.Attempt, i+1)
		}
	}
}

// TestPublishConcurrentNeverBlocks has many publishers and no reader at
// all; every publisher must finish and every subscriber ends up dropped.
func TestPublishConcurrentNeverBlocks(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Buffer: 8})
	subs := make([]*Subscription, 5)
	for i := range subs {
		subs[i] = h.Subscribe(Filter{})
		defer subs[i].Close()
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range 1_000 {
				h.Publish(change(i, "github", webhook.StatusPending))
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(waitTimeout):
		t.Fatal("publishers did not finish")
	}
	for i, s := range subs {
		if !s.Dropped() {
			t.Errorf("subscriber %d not dropped", i)
		}
	}
	if got := h.Len(); got != 0 {
		t.Errorf("Len = %d, want 0", got)
	}
}

func TestCloseIdempotent(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{})
	sub := h.Subscribe(Filter{})
	other := h.Subscribe(Filter{})

	sub.Close()
	sub.Close()
	if got := h.Len(); got != 1 {
		t.Errorf("Len after closing one of two = %d, want 1", got)
	}
	if _, ok := <-sub.C(); ok {
		t.Error("closed subscription's channel still open")
	}
	h.Publish(change(1, "github", webhook.StatusPending)) // must not panic on the closed one

	h.Close()
	h.Close()
	other.Close() // after the hub closed it
	if got := drain(t, other); len(got) != 1 {
		t.Errorf("other received %d changes, want 1", len(got))
	}
	if sub.Dropped() || other.Dropped() {
		t.Error("Dropped true for subscriptions that were closed, not dropped")
	}

	h.Publish(change(2, "github", webhook.StatusPending)) // no-op after Close
	late := h.Subscribe(Filter{})
	if _, ok := <-late.C(); ok {
		t.Error("Subscribe on a closed hub returned an open channel")
	}
	late.Close()
	if got := h.Len(); got != 0 {
		t.Errorf("Len = %d, want 0", got)
	}
}

// TestCloseRacesPublish closes subscriptions and the hub while publishers
// run; with -race this checks there is no send on a closed channel.
func TestCloseRacesPublish(t *testing.T) {
	t.Parallel()
	h := NewHub(Options{Buffer: 4})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range 2_000 {
				h.Publish(change(i, "github", webhook.StatusPending))
			}
		})
	}
	for range 4 {
		wg.Go(func() {
			for range 200 {
				s := h.Subscribe(Filter{})
				s.Close()
			}
		})
	}
	h.Close()
	wg.Wait()
	if got := h.Len(); got != 0 {
		t.Errorf("Len = %d, want 0", got)
	}
}
