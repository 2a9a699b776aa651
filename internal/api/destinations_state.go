package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hookd/hookd/internal/auth"
	"github.com/hookd/hookd/internal/httpx"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/stream"
	"github.com/hookd/hookd/internal/webhook"
)

// A destination's circuit breaker (see internal/delivery): GET
// /api/destinations and /api/destinations/{name} show it as "circuit",
// and POST /api/destinations/{name}/enable is how an admin brings back a
// destination that was disabled (or cuts an open circuit's cool-down
// short) once its receiver is fixed.

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

// enableDestination closes the circuit and resets the counters of a
// destination, whatever its state. Every process sees it within its state
// refresh (2 s) and claims the waiting deliveries again.
func (s *Server) enableDestination(w http.ResponseWriter, r *http.Request) error {
	name, err := pathName(r)
	if err != nil {
		return err
	}
	d, ok := s.opts.Catalog.Destination(name)
	if !ok {
		return fmt.Errorf("destination %q: %w", name, webhook.ErrNotFound)
	}
	states, ok := s.opts.Store.(DestinationStates)
	if !ok {
		return &httpx.Error{Status: http.StatusNotImplemented, Code: "not_implemented", Message: "this store keeps no destination states"}
	}
	ctx := r.Context()
	var was store.Circuit
	const tries = 5
	for try := 1; ; try++ {
		cur, err := states.DestinationStateGet(ctx, name)
		if errors.Is(err, webhook.ErrNotFound) {
			break // never failed: closed already
		}
		if err != nil {
			return err
		}
		was = cur.Circuit
		_, err = states.DestinationStatePut(ctx, store.DestinationState{
			Destination: name, Circuit: store.CircuitClosed, UpdatedAt: s.opts.Now().UTC(), Version: cur.Version,
		})
		if err == nil {
			break
		}
		if !errors.Is(err, webhook.ErrConflict) || try == tries {
			return err
		}
	}
	who := ""
	if p, ok := auth.PrincipalFrom(ctx); ok {
		who = p.Username
	}
	s.log.Info("destination enabled", "destination", name, "was", string(was), "by", who)
	if was != "" && was != store.CircuitClosed && s.opts.Hub != nil {
		s.opts.Hub.Publish(stream.Change{Kind: stream.KindDestinationCircuit, Destination: name,
			Circuit: string(store.CircuitClosed), At: s.opts.Now().UTC()})
	}
	if s.opts.Queue != nil {
		// Wake this process's dispatcher; the others poll.
		if err := s.opts.Queue.Notify(ctx, nil); err != nil {
			s.log.Warn("queue notify failed after enabling a destination", "destination", name, "err", err)
		}
	}
	httpx.WriteJSON(w, http.StatusOK, s.destinationView(r, d))
	return nil
}
