package delivery

import (
	"context"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/queue"
	"github.com/hookd/hookd/internal/store"
)

func TestBreakerCooldownDoubles(t *testing.T) {
	t.Parallel()
	p := BreakerPolicy{Cooldown: 30 * time.Second}
	for _, tc := range []struct {
		trips int
		want  time.Duration
	}{
		{1, 30 * time.Second}, {2, time.Minute}, {3, 2 * time.Minute}, {5, 8 * time.Minute},
		{6, 10 * time.Minute}, {60, 10 * time.Minute}, // capped, never overflowing
	} {
		if got := p.cooldown(tc.trips); got != tc.want {
			t.Errorf("cooldown after trip %d = %s; want %s", tc.trips, got, tc.want)
		}
	}
	if got := (BreakerPolicy{Cooldown: time.Hour}).cooldown(3); got != time.Hour {
		t.Errorf("a cool-down above the cap = %s; want it kept (1h)", got)
	}
}

func TestBreakerTransitions(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p := BreakerPolicy{Failures: 3, Cooldown: 30 * time.Second, DisableAfter: time.Hour}
	closed := store.DestinationState{Destination: "d", Version: 4}
	failing := store.DestinationState{Destination: "d", Circuit: store.CircuitClosed, ConsecutiveFailures: 2, FailingSince: t0, Version: 4}
	open := store.DestinationState{Destination: "d", Circuit: store.CircuitOpen, ConsecutiveFailures: 3, Trips: 1, FailingSince: t0, OpenUntil: t0.Add(30 * time.Second), Version: 4}
	halfOpen := open
	halfOpen.Circuit = store.CircuitHalfOpen
	disabled := store.DestinationState{Destination: "d", Circuit: store.CircuitDisabled, ConsecutiveFailures: 9, FailingSince: t0, DisabledAt: t0.Add(time.Hour), Version: 4}
	tests := []struct {
		name    string
		cur     store.DestinationState
		ok      bool
		at      time.Time
		changed bool
		want    store.Circuit
		check   func(t *testing.T, st store.DestinationState)
	}{
		{name: "success while closed writes nothing", cur: closed, ok: true, at: t0, changed: false, want: store.CircuitClosed},
		{name: "a failure is counted", cur: closed, at: t0, changed: true, want: store.CircuitClosed,
			check: func(t *testing.T, st store.DestinationState) {
				if st.ConsecutiveFailures != 1 || !st.FailingSince.Equal(t0) || st.LastError != "boom" || st.Version != 4 {
					t.Errorf("state = %+v; want 1 failure since t0, the error, version kept for the compare-and-set", st)
				}
			}},
		{name: "a success resets the count", cur: failing, ok: true, at: t0.Add(time.Second), changed: true, want: store.CircuitClosed,
			check: func(t *testing.T, st store.DestinationState) {
				if st.ConsecutiveFailures != 0 || !st.FailingSince.IsZero() || st.LastError != "" {
					t.Errorf("state = %+v; want no failures left", st)
				}
			}},
		{name: "the Nth failure opens", cur: failing, at: t0.Add(time.Second), changed: true, want: store.CircuitOpen,
			check: func(t *testing.T, st store.DestinationState) {
				if st.Trips != 1 || !st.OpenUntil.Equal(t0.Add(31*time.Second)) || !st.FailingSince.Equal(t0) {
					t.Errorf("state = %+v; want trip 1, open for 30s, failing since t0", st)
				}
			}},
		{name: "a failed probe opens for twice as long", cur: halfOpen, at: t0.Add(time.Minute), changed: true, want: store.CircuitOpen,
			check: func(t *testing.T, st store.DestinationState) {
				if st.Trips != 2 || !st.OpenUntil.Equal(t0.Add(2*time.Minute)) {
					t.Errorf("state = %+v; want trip 2, open for 60s", st)
				}
			}},
		{name: "a successful probe closes", cur: halfOpen, ok: true, at: t0.Add(time.Minute), changed: true, want: store.CircuitClosed,
			check: func(t *testing.T, st store.DestinationState) {
				if st.Trips != 0 || st.ConsecutiveFailures != 0 || !st.OpenUntil.IsZero() {
					t.Errorf("state = %+v; want everything reset", st)
				}
			}},
		{name: "a late failure while open only counts", cur: open, at: t0.Add(time.Second), changed: true, want: store.CircuitOpen,
			check: func(t *testing.T, st store.DestinationState) {
				if st.ConsecutiveFailures != 4 || st.Trips != 1 || !st.OpenUntil.Equal(open.OpenUntil) {
					t.Errorf("state = %+v; want 4 failures, the same cool-down", st)
				}
			}},
		{name: "failing for DisableAfter disables", cur: halfOpen, at: t0.Add(time.Hour), changed: true, want: store.CircuitDisabled,
			check: func(t *testing.T, st store.DestinationState) {
				if !st.DisabledAt.Equal(t0.Add(time.Hour)) || st.DisabledReason == "" || !st.OpenUntil.IsZero() {
					t.Errorf("state = %+v; want disabled now, with a reason", st)
				}
			}},
		{name: "a success does not enable a disabled destination", cur: disabled, ok: true, at: t0.Add(2 * time.Hour), changed: false, want: store.CircuitDisabled},
		{name: "a failure while disabled only counts", cur: disabled, at: t0.Add(2 * time.Hour), changed: true, want: store.CircuitDisabled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, changed := p.next(tc.cur, tc.ok, "boom", tc.at)
			if changed != tc.changed || got.Circuit != tc.want {
				t.Fatalf("next = %s (changed %v); want %s (changed %v)", got.Circuit, changed, tc.want, tc.changed)
			}
			if tc.check != nil {
				tc.check(t, got)
			}
		})
	}
	if got, _ := (BreakerPolicy{}).next(failing, false, "x", t0.Add(48*time.Hour)); got.Circuit != store.CircuitClosed {
		t.Errorf("with the breaker off (0 failures, 0 disable-after), circuit = %s; want closed", got.Circuit)
	}
}

// TestLocalRateLimiterGive: starts given back are taken again at once;
// a bucket never holds more than its burst.
func TestLocalRateLimiterGive(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l := NewLocalRateLimiter(func() time.Time { return now })
	ctx := context.Background()
	req := queue.RateRequest{Destination: "d", Rate: 10, Burst: 3, N: 5}
	take := func() queue.RateGrant {
		t.Helper()
		g, err := l.Take(ctx, []queue.RateRequest{req})
		if err != nil {
			t.Fatal(err)
		}
		return g[0]
	}
	if g := take(); g.N != 3 || g.Next != 100*time.Millisecond {
		t.Fatalf("first take = %+v; want the burst of 3, the next in 100ms", g)
	}
	if g := take(); g.N != 0 {
		t.Fatalf("second take = %+v; want nothing left", g)
	}
	back := req
	back.N = 2
	if err := l.Give(ctx, []queue.RateRequest{back}); err != nil { // gives back nothing: the last take got 0
		t.Fatal(err)
	}
	if g := take(); g.N != 0 {
		t.Fatalf("take after giving back an empty take = %+v; want 0", g)
	}
	now = now.Add(200 * time.Millisecond)
	if g := take(); g.N != 2 {
		t.Fatalf("take 200ms later = %+v; want 2", g)
	}
	back.N = 1
	if err := l.Give(ctx, []queue.RateRequest{back}); err != nil {
		t.Fatal(err)
	}
	if g := take(); g.N != 1 {
		t.Fatalf("take after giving 1 back = %+v; want 1", g)
	}
	now = now.Add(time.Hour)
	if g := take(); g.N != 3 {
		t.Fatalf("take after an hour = %+v; want the burst, no more", g)
	}
}

// countingStates is a StateStore in memory that counts writes.
type countingStates struct {
	puts  int
	state store.DestinationState
}

func (c *countingStates) DestinationStateList(context.Context) ([]store.DestinationState, error) {
	return []store.DestinationState{c.state}, nil
}

func (c *countingStates) DestinationStateGet(context.Context, string) (store.DestinationState, error) {
	return c.state, nil
}

func (c *countingStates) DestinationStatePut(_ context.Context, st store.DestinationState) (store.DestinationState, error) {
	c.puts++
	st.Version++
	c.state = st
	return st, nil
}

// BenchmarkBreakerRecordSuccess measures what the breaker adds to every
// successful attempt of a healthy destination: no store write.
func BenchmarkBreakerRecordSuccess(b *testing.B) {
	states := &countingStates{}
	c := newCircuits(BreakerPolicy{Failures: 5, Cooldown: time.Second}, states, nil, nil)
	ctx, now := context.Background(), time.Now()
	for b.Loop() {
		c.record(ctx, "d", true, "", now)
	}
	if states.puts != 0 {
		b.Fatalf("%d store writes for successes while closed; want none", states.puts)
	}
}
