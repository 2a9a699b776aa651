package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/stream"
	"github.com/hookd/hookd/internal/webhook"
)

// The circuit breaker. A destination whose attempts keep failing costs
// every delivery to it a retry per attempt and holds workers for its
// timeouts; after Failures consecutive failed attempts its circuit opens
// and its deliveries are not claimed at all (they wait, their retries
// untouched) until a cool-down ends. Then one process makes one probe
// attempt (half-open): success closes the circuit, failure opens it again
// for twice as long, up to MaxCooldown. A destination failing without a
// single success for DisableAfter is disabled: nothing is tried until an
// admin enables it again; its deliveries stay pending.
//
// The state lives in the store (store.DestinationState), written by
// compare-and-set, so processes count failures together, one process's
// open circuit holds back every process's claims within StateRefresh, and a
// disabled destination stays disabled across restarts. A success while
// the circuit is closed with no failures writes nothing: a healthy
// destination costs no store write.

// BreakerPolicy decides when a destination's circuit opens and when the
// destination is disabled.
type BreakerPolicy struct {
	// Failures is how many consecutive failed attempts open the circuit;
	// 0 never opens it.
	Failures int
	// Cooldown is how long an open circuit holds deliveries back the first
	// time; it doubles with each failed probe.
	Cooldown time.Duration
	// MaxCooldown caps the doubling. Default 10 minutes (or Cooldown, if
	// longer).
	MaxCooldown time.Duration
	// DisableAfter disables a destination whose attempts failed without a
	// success for this long; 0 never disables.
	DisableAfter time.Duration
}

// cooldown is the cool-down after the trips-th opening (1, 2, …).
func (p BreakerPolicy) cooldown(trips int) time.Duration {
	limit := p.MaxCooldown
	if limit <= 0 {
		limit = 10 * time.Minute
	}
	limit = max(limit, p.Cooldown)
	d := p.Cooldown
	for i := 1; i < trips && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// next returns the state after an attempt that succeeded (ok) or failed
// with errText at now, and whether it differs from cur (a write is due).
func (p BreakerPolicy) next(cur store.DestinationState, ok bool, errText string, now time.Time) (store.DestinationState, bool) {
	if cur.Circuit == "" {
		cur.Circuit = store.CircuitClosed
	}
	if ok {
		if cur.Circuit == store.CircuitDisabled {
			return cur, false // only an admin enables it again
		}
		if cur.Circuit == store.CircuitClosed && cur.ConsecutiveFailures == 0 && cur.Trips == 0 && cur.FailingSince.IsZero() {
			return cur, false // the hot path: nothing to write
		}
		return store.DestinationState{Destination: cur.Destination, Circuit: store.CircuitClosed, UpdatedAt: now, Version: cur.Version}, true
	}
	next := cur
	next.ConsecutiveFailures++
	if next.FailingSince.IsZero() {
		next.FailingSince = now
	}
	next.LastError, next.UpdatedAt = errText, now
	switch {
	case cur.Circuit == store.CircuitDisabled:
	case p.DisableAfter > 0 && now.Sub(next.FailingSince) >= p.DisableAfter:
		next.Circuit, next.OpenUntil, next.DisabledAt = store.CircuitDisabled, time.Time{}, now
		next.DisabledReason = fmt.Sprintf("every attempt failed since %s (%d in a row); the last: %s",
			next.FailingSince.UTC().Format(time.RFC3339), next.ConsecutiveFailures, errText)
	case cur.Circuit == store.CircuitHalfOpen,
		cur.Circuit == store.CircuitClosed && p.Failures > 0 && next.ConsecutiveFailures >= p.Failures:
		next.Trips++
		next.Circuit, next.OpenUntil = store.CircuitOpen, now.Add(p.cooldown(next.Trips))
	}
	return next, true
}

// StateStore keeps destination states; every store.Store is one.
type StateStore interface {
	DestinationStateList(ctx context.Context) ([]store.DestinationState, error)
	DestinationStateGet(ctx context.Context, destination string) (store.DestinationState, error)
	DestinationStatePut(ctx context.Context, state store.DestinationState) (store.DestinationState, error)
}

// circuits is the engine's view of every destination's breaker: the last
// state read from or written to the store, and which half-open probes this
// process holds.
type circuits struct {
	policy  BreakerPolicy
	store   StateStore
	log     *slog.Logger
	publish func(stream.Change)

	mu sync.Mutex
	m  map[string]*circuit
}

type circuit struct {
	// write serializes this process's writes of the destination's state,
	// so that its own workers do not conflict with each other; it is held
	// across the store write, mu never is.
	write sync.Mutex
	// Guarded by circuits.mu:
	st store.DestinationState
	// probing: this process moved the circuit to half-open and may make
	// its probe; probeInFlight: the probe is claimed and not yet recorded.
	probing, probeInFlight bool
}

func newCircuits(policy BreakerPolicy, st StateStore, log *slog.Logger, publish func(stream.Change)) *circuits {
	return &circuits{policy: policy, store: st, log: log, publish: publish, m: map[string]*circuit{}}
}

// get returns name's circuit; c.mu must be held.
func (c *circuits) get(name string) *circuit {
	ci, ok := c.m[name]
	if !ok {
		ci = &circuit{st: store.DestinationState{Destination: name, Circuit: store.CircuitClosed}}
		c.m[name] = ci
	}
	return ci
}

func circuitOf(st store.DestinationState) store.Circuit {
	if st.Circuit == "" {
		return store.CircuitClosed
	}
	return st.Circuit
}

// admit says how many deliveries of name may be claimed now: -1 (no
// limit), 0 or 1 (the half-open probe), and when its state may let more
// through (zero: not before something else changes).
func (c *circuits) admit(name string, now time.Time) (int, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ci := c.get(name)
	switch circuitOf(ci.st) {
	case store.CircuitDisabled:
		return 0, time.Time{}
	case store.CircuitOpen:
		return 0, ci.st.OpenUntil
	case store.CircuitHalfOpen:
		switch {
		case ci.probing && !ci.probeInFlight:
			return 1, time.Time{}
		case ci.probing:
			return 0, time.Time{} // the probe's outcome wakes the dispatcher
		}
		return 0, ci.st.OpenUntil // another process probes until then
	}
	return -1, time.Time{}
}

// prepare takes the half-open probe of each destination whose cool-down
// has ended, or whose probe another process let lapse, so that this
// process may make it. Of several processes, the compare-and-set lets one
// win; the others see half-open and wait.
func (c *circuits) prepare(ctx context.Context, names []string, now time.Time, probeLease time.Duration) {
	for _, name := range names {
		c.mu.Lock()
		ci := c.get(name)
		st := ci.st
		due := !now.Before(st.OpenUntil) &&
			(st.Circuit == store.CircuitOpen || st.Circuit == store.CircuitHalfOpen && !ci.probeInFlight)
		c.mu.Unlock()
		if !due {
			continue
		}
		ci.write.Lock()
		next := st
		next.Circuit, next.OpenUntil, next.UpdatedAt = store.CircuitHalfOpen, now.Add(probeLease), now
		saved, err := c.store.DestinationStatePut(ctx, next)
		switch {
		case err == nil:
			c.apply(name, saved, true)
			c.mu.Lock()
			ci.probing, ci.probeInFlight = true, false
			c.mu.Unlock()
		case errors.Is(err, webhook.ErrConflict):
			c.reload(ctx, name)
		default:
			c.log.Warn("circuit breaker: could not take the probe; trying again later", "destination", name, "err", err)
		}
		ci.write.Unlock()
	}
}

// started notes that a delivery of name was claimed: while half-open, it
// is the probe.
func (c *circuits) started(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ci := c.get(name); ci.probing && circuitOf(ci.st) == store.CircuitHalfOpen {
		ci.probeInFlight = true
	}
}

// handedBack notes that a claimed delivery of name went back to the queue
// without an attempt, so the probe, if it was one, is still to be made.
func (c *circuits) handedBack(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.get(name).probeInFlight = false
}

// record applies an attempt's outcome to name's circuit and stores the
// result when it changed. A store that fails is logged: the breaker is a
// protection, never a reason to lose an outcome.
func (c *circuits) record(ctx context.Context, name string, ok bool, errText string, now time.Time) {
	c.mu.Lock()
	ci := c.get(name)
	if _, changed := c.policy.next(ci.st, ok, errText, now); !changed && !ci.probeInFlight {
		c.mu.Unlock()
		return // a success while closed: no write, no wait
	}
	c.mu.Unlock()

	ci.write.Lock()
	defer ci.write.Unlock()
	if err := c.put(ctx, name, ci, func(cur store.DestinationState) (store.DestinationState, bool) {
		return c.policy.next(cur, ok, errText, now)
	}); err != nil {
		c.log.Warn("circuit breaker: could not store the outcome", "destination", name, "err", err)
	}
	c.mu.Lock()
	ci.probeInFlight = false
	if circuitOf(ci.st) != store.CircuitHalfOpen {
		ci.probing = false
	}
	c.mu.Unlock()
}

// put stores what decide makes of name's current state, by compare-and-set:
// when another process wrote first, it reads that state and decides again,
// up to 5 times. decide returns false when there is nothing to write. The
// caller holds ci.write, so that this process's writes to one destination
// do not race each other.
func (c *circuits) put(ctx context.Context, name string, ci *circuit, decide func(cur store.DestinationState) (store.DestinationState, bool)) error {
	const tries = 5
	for try := 1; ; try++ {
		c.mu.Lock()
		cur := ci.st
		c.mu.Unlock()
		next, write := decide(cur)
		if !write {
			return nil
		}
		next.Destination = name
		saved, err := c.store.DestinationStatePut(ctx, next)
		if err == nil {
			c.apply(name, saved, true)
			return nil
		}
		if !errors.Is(err, webhook.ErrConflict) || try == tries {
			return err
		}
		c.reload(ctx, name) // another process wrote first: decide again on its state
	}
}

// reload reads name's state from the store.
func (c *circuits) reload(ctx context.Context, name string) {
	st, err := c.store.DestinationStateGet(ctx, name)
	if errors.Is(err, webhook.ErrNotFound) {
		st, err = store.DestinationState{Destination: name, Circuit: store.CircuitClosed}, nil
	}
	if err != nil {
		c.log.Warn("circuit breaker: could not read the state", "destination", name, "err", err)
		return
	}
	c.apply(name, st, false)
}

// refresh reads every state from the store, to see what other processes
// and admins changed.
func (c *circuits) refresh(ctx context.Context) error {
	list, err := c.store.DestinationStateList(ctx)
	if err != nil {
		return err
	}
	for _, st := range list {
		c.apply(st.Destination, st, false)
	}
	return nil
}

// apply makes st name's known state. wrote says this process just stored
// it (and so announces it in the log); a state read from the store that
// another writer changed ends this process's claim on the probe. Either
// way a change of circuit is published, so that every process's live
// stream shows it.
func (c *circuits) apply(name string, st store.DestinationState, wrote bool) {
	c.mu.Lock()
	ci := c.get(name)
	old := ci.st
	if !wrote && st.Version == old.Version {
		c.mu.Unlock()
		return
	}
	ci.st = st
	if !wrote {
		ci.probing = false
	}
	c.mu.Unlock()
	from, to := circuitOf(old), circuitOf(st)
	if from == to {
		return
	}
	if wrote {
		log := c.log.With("destination", name, "circuit", string(to), "consecutive_failures", st.ConsecutiveFailures)
		switch to {
		case store.CircuitOpen:
			log.Warn("circuit opened: deliveries to this destination wait until the cool-down ends",
				"open_until", st.OpenUntil, "last_error", st.LastError)
		case store.CircuitHalfOpen:
			log.Info("circuit half-open: one probe attempt decides")
		case store.CircuitClosed:
			log.Info("circuit closed: delivering again")
		case store.CircuitDisabled:
			log.Error("destination disabled: no more attempts until an admin enables it (POST /api/destinations/{name}/enable); its deliveries stay pending",
				"failing_since", st.FailingSince, "reason", st.DisabledReason)
		}
	}
	if c.publish != nil {
		kind, errText := stream.KindDestinationCircuit, st.LastError
		if to == store.CircuitDisabled {
			kind, errText = stream.KindDestinationDisabled, st.DisabledReason
		}
		c.publish(stream.Change{Kind: kind, Destination: name, Circuit: string(to), Error: errText, At: st.UpdatedAt})
	}
}

// disabled reports whether name is disabled.
func (c *circuits) disabled(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	ci, ok := c.m[name]
	return ok && ci.st.Circuit == store.CircuitDisabled
}

// goneReason is the recorded reason of a destination disabled because its
// receiver answered 410 Gone.
const goneReason = "receiver answered 410 Gone"

// disable disables name at once, as DisableAfter does, with reason: a
// receiver that answers 410 Gone says that the endpoint is gone for good
// (Standard Webhooks), so no more attempts are made until an admin
// enables it again. The change is stored by compare-and-set, so every
// process stops within StateRefresh, and announced like the breaker's own
// disable: an error log line and a live stream change. A destination
// disabled already keeps its first reason.
func (c *circuits) disable(ctx context.Context, name, reason string, now time.Time) {
	c.mu.Lock()
	ci := c.get(name)
	c.mu.Unlock()
	ci.write.Lock()
	defer ci.write.Unlock()
	if err := c.put(ctx, name, ci, func(cur store.DestinationState) (store.DestinationState, bool) {
		if circuitOf(cur) == store.CircuitDisabled {
			return cur, false // disabled already: keep its first reason
		}
		next := cur
		next.Circuit, next.OpenUntil = store.CircuitDisabled, time.Time{}
		next.DisabledAt, next.DisabledReason, next.LastError, next.UpdatedAt = now, reason, reason, now
		return next, true
	}); err != nil {
		c.log.Error("could not disable the destination; its deliveries go on", "destination", name, "reason", reason, "err", err)
	}
	c.mu.Lock()
	ci.probing, ci.probeInFlight = false, false
	c.mu.Unlock()
}
