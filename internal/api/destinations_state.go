package api

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/hookd/hookd/internal/auth"
	"github.com/hookd/hookd/internal/httpx"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/stream"
	"github.com/hookd/hookd/internal/webhook"
)

// A destination's circuit breaker (see internal/delivery): GET
// /api/destinations and /api/destinations/{name} show it as "circuit",
// POST /api/destinations/{name}/enable is how an admin brings back a
// destination that was disabled (or cuts an open circuit's cool-down
// short) once its receiver is fixed, and POST
// /api/destinations/{name}/disable holds a destination's deliveries by
// hand (a receiver in maintenance, a misbehaving integration) without
// using up their retries.

// DestinationStates is the part of the store that keeps the breakers.
// Every store.Store is one; a Store without it shows no circuit and
// cannot enable.
type DestinationStates interface {
	DestinationStateGet(ctx context.Context, destination string) (store.DestinationState, error)
	DestinationStatePut(ctx context.Context, state store.DestinationState) (store.DestinationState, error)
}

func (s *Server) destinationStateRoutes() []Route {
	return []Route{
		{Method: "POST", Pattern: "/api/destinations/{name}/enable", Write: true,
			Summary: "Enable a destination: close its circuit and reset its failures, so its waiting deliveries go out", handler: s.enableDestination},
		{Method: "POST", Pattern: "/api/destinations/{name}/disable", Write: true,
			Summary: "Disable a destination: no attempts until it is enabled; its deliveries wait, their retries untouched", handler: s.disableDestination},
	}
}

// CircuitView is a destination's circuit breaker as shown, shared by every
// process.
type CircuitView struct {
	// Circuit is closed (delivering), open (deliveries wait until
	// open_until), half_open (one probe attempt decides) or disabled (no
	// attempts until an admin enables it; deliveries stay pending).
	Circuit             store.Circuit `json:"circuit"`
	ConsecutiveFailures int           `json:"consecutive_failures"`
	OpenUntil           *time.Time    `json:"open_until,omitempty"`
	// FailingSince is the first of the consecutive failures.
	FailingSince   *time.Time `json:"failing_since,omitempty"`
	LastError      string     `json:"last_error,omitempty"`
	DisabledAt     *time.Time `json:"disabled_at,omitempty"`
	DisabledReason string     `json:"disabled_reason,omitempty"`
}

// circuitOf returns the view of st at now. An open circuit whose cool-down
// has ended shows as half_open: its probe is due.
func circuitOf(st store.DestinationState, now time.Time) *CircuitView {
	at := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	v := &CircuitView{
		Circuit: st.Circuit, ConsecutiveFailures: st.ConsecutiveFailures, FailingSince: at(st.FailingSince),
		LastError: st.LastError, DisabledAt: at(st.DisabledAt), DisabledReason: st.DisabledReason,
	}
	switch {
	case v.Circuit == "":
		v.Circuit = store.CircuitClosed
	case v.Circuit == store.CircuitOpen && !now.Before(st.OpenUntil):
		v.Circuit = store.CircuitHalfOpen
	case v.Circuit == store.CircuitOpen:
		v.OpenUntil = at(st.OpenUntil)
	}
	return v
}

// circuitView reads name's breaker for a destination view; nil (the field
// left out) when the store keeps none or cannot be read.
func (s *Server) circuitView(r *http.Request, name string) *CircuitView {
	states, ok := s.opts.Store.(DestinationStates)
	if !ok {
		return nil
	}
	st, err := states.DestinationStateGet(r.Context(), name)
	switch {
	case errors.Is(err, webhook.ErrNotFound):
		return &CircuitView{Circuit: store.CircuitClosed}
	case err != nil:
		s.log.Warn("destination state unavailable", "destination", name, "err", err)
		return nil
	}
	return circuitOf(st, s.opts.Now())
}

// stateTries bounds the compare-and-set retries of a state change: each
// conflict means another writer (a worker recording an attempt, another
// process) just changed the state, which is rare and brief.
const stateTries = 5

// changeState applies decide to name's stored state by compare-and-set,
// reading again and deciding again after a conflict. decide gets the
// current state (Version 0 when none is stored) and returns the state to
// store, or false to leave it as it is. changeState returns the state
// before the change and whether it wrote.
func changeState(ctx context.Context, states DestinationStates, name string,
	decide func(cur store.DestinationState) (store.DestinationState, bool)) (store.DestinationState, bool, error) {
	for try := 1; ; try++ {
		cur, err := states.DestinationStateGet(ctx, name)
		if errors.Is(err, webhook.ErrNotFound) {
			cur, err = store.DestinationState{Destination: name, Circuit: store.CircuitClosed}, nil
		}
		if err != nil {
			return cur, false, err
		}
		next, write := decide(cur)
		if !write {
			return cur, false, nil
		}
		next.Destination, next.Version = name, cur.Version
		_, err = states.DestinationStatePut(ctx, next)
		if err == nil {
			return cur, true, nil
		}
		if !errors.Is(err, webhook.ErrConflict) || try == stateTries {
			return cur, false, fmt.Errorf("destination %q: store its state: %w", name, err)
		}
	}
}

// stateTarget resolves the path's destination and the store's states for
// enable and disable.
func (s *Server) stateTarget(r *http.Request) (webhook.Destination, DestinationStates, error) {
	name, err := pathName(r)
	if err != nil {
		return webhook.Destination{}, nil, err
	}
	d, ok := s.opts.Catalog.Destination(name)
	if !ok {
		return d, nil, fmt.Errorf("destination %q: %w", name, webhook.ErrNotFound)
	}
	states, ok := s.opts.Store.(DestinationStates)
	if !ok {
		return d, nil, &httpx.Error{Status: http.StatusNotImplemented, Code: "not_implemented", Message: "this store keeps no destination states"}
	}
	return d, states, nil
}

// enableDestination closes the circuit and resets the counters of a
// destination, whatever its state. Every process sees it within its state
// refresh (2 s) and claims the waiting deliveries again.
func (s *Server) enableDestination(w http.ResponseWriter, r *http.Request) error {
	d, states, err := s.stateTarget(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	now := s.opts.Now().UTC()
	was, _, err := changeState(ctx, states, d.Name, func(cur store.DestinationState) (store.DestinationState, bool) {
		if cur.Version == 0 {
			return cur, false // never failed: closed already
		}
		return store.DestinationState{Circuit: store.CircuitClosed, UpdatedAt: now}, true
	})
	if err != nil {
		return err
	}
	s.log.Info("destination enabled", "destination", d.Name, "was", string(was.Circuit), "by", principalName(r))
	if c := was.Circuit; c != "" && c != store.CircuitClosed && s.opts.Hub != nil {
		s.opts.Hub.Publish(stream.Change{Kind: stream.KindDestinationCircuit, Destination: d.Name,
			Circuit: string(store.CircuitClosed), At: now})
	}
	if s.opts.Queue != nil {
		// Wake this process's dispatcher; the others poll.
		if err := s.opts.Queue.Notify(ctx, nil); err != nil {
			s.log.Warn("queue notify failed after enabling a destination", "destination", d.Name, "err", err)
		}
	}
	httpx.WriteJSON(w, http.StatusOK, s.destinationView(r, d))
	return nil
}

// DisableRequest is the optional body of POST
// /api/destinations/{name}/disable.
type DisableRequest struct {
	// Reason is appended to the recorded reason, "disabled by <user>".
	Reason string `json:"reason"`
}

// maxDisableReason bounds DisableRequest.Reason, in bytes.
const maxDisableReason = 500

// disableDestination disables a destination by hand: its circuit becomes
// disabled with the reason "disabled by <user>" (": <reason>" when the
// body gives one), so that no process attempts it until an admin enables
// it. Deliveries already in flight finish; the waiting ones stay pending
// with their retries untouched. A destination disabled already is left as
// it is (its first reason stands) and answered the same way, so a repeated
// click changes nothing.
func (s *Server) disableDestination(w http.ResponseWriter, r *http.Request) error {
	d, states, err := s.stateTarget(r)
	if err != nil {
		return err
	}
	var req DisableRequest
	if err := decodeOptionalJSON(w, r, &req); err != nil {
		return err
	}
	req.Reason = strings.TrimSpace(req.Reason)
	switch {
	case len(req.Reason) > maxDisableReason:
		return invalid("reason", "at most %d bytes", maxDisableReason)
	case strings.ContainsFunc(req.Reason, unicode.IsControl):
		return invalid("reason", "must be one line of text")
	}
	reason := "disabled by " + cmp.Or(principalName(r), "an admin")
	if req.Reason != "" {
		reason += ": " + req.Reason
	}
	ctx := r.Context()
	now := s.opts.Now().UTC()
	was, wrote, err := changeState(ctx, states, d.Name, func(cur store.DestinationState) (store.DestinationState, bool) {
		if cur.Circuit == store.CircuitDisabled {
			return cur, false
		}
		// The failure counters stay, for the record; enabling clears them.
		next := cur
		next.Circuit, next.OpenUntil = store.CircuitDisabled, time.Time{}
		next.DisabledAt, next.DisabledReason, next.UpdatedAt = now, reason, now
		return next, true
	})
	if err != nil {
		return err
	}
	if wrote {
		s.log.Info("destination disabled", "destination", d.Name, "was", string(was.Circuit), "reason", reason)
		if s.opts.Hub != nil {
			s.opts.Hub.Publish(stream.Change{Kind: stream.KindDestinationDisabled, Destination: d.Name,
				Circuit: string(store.CircuitDisabled), Error: reason, At: now})
		}
	}
	httpx.WriteJSON(w, http.StatusOK, s.destinationView(r, d))
	return nil
}

// decodeOptionalJSON is decodeJSON for a body that may be left out: an
// empty body leaves v as it is.
func decodeOptionalJSON(w http.ResponseWriter, r *http.Request, v any) error {
	br := bufio.NewReader(r.Body)
	switch _, err := br.Peek(1); {
	case errors.Is(err, io.EOF):
		return nil // no body
	case err != nil:
		return fmt.Errorf("%w: body: %v", webhook.ErrInvalid, err)
	}
	r.Body = struct {
		io.Reader
		io.Closer
	}{br, r.Body}
	return decodeJSON(w, r, v)
}

// principalName is the signed-in user's name, empty when unknown.
func principalName(r *http.Request) string {
	if p, ok := auth.PrincipalFrom(r.Context()); ok {
		return p.Username
	}
	return ""
}
